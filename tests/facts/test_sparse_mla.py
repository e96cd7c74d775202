"""A DSA model's latent cache is stored in the format vLLM picks for its sparse MLA backend, and
costs that format's bytes: 656 per token and layer for DeepSeek's fp8_ds_mla, 576 for plain fp8,
1,152 for a 16-bit cache (facts/sparse_mla.py, read in the 0.11.0-0.34.0 wheels)."""

import dataclasses

import pytest

from facts import sparse_mla
from facts.vllm_features import parse

V32 = "DeepseekV32ForCausalLM"
GLM = "GlmMoeDsaForCausalLM"
V32_ATTENTION = {"kind": "mla", "heads": 128, "kv_lora_rank": 512, "qk_rope_head_dim": 64,
                 "qk_nope_head_dim": 128, "v_head_dim": 128, "index_head_dim": 128}
GLM_ATTENTION = {**V32_ATTENTION, "heads": 64, "qk_nope_head_dim": 192, "v_head_dim": 256}
HOPPER, BLACKWELL, RTX_BLACKWELL = 9.0, 10.0, 12.0


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    version: str
    gpu: float
    architecture: str
    configured: str
    tensor_parallel: int
    expected: str


CASES = [
    Case("0.11-v32-auto-becomes-ds-mla", "0.11.0", HOPPER, V32, "auto", 8, "fp8_ds_mla"),
    Case("0.12-v32-auto-stays-16-bit", "0.12.0", HOPPER, V32, "auto", 8, "auto"),
    Case("0.14-v32-fp8-ds-mla-on-blackwell-too", "0.14.0", BLACKWELL, V32, "fp8", 8,
         "fp8_ds_mla"),
    Case("0.17-v32-fp8-ds-mla-at-16-heads-on-blackwell", "0.17.0", BLACKWELL, V32, "fp8", 8,
         "fp8_ds_mla"),
    Case("0.17-glm-fp8-has-no-converting-hook", "0.17.0", HOPPER, GLM, "fp8", 8, "fp8"),
    Case("0.18-glm-fp8-hopper-flashmla", "0.18.0", HOPPER, GLM, "fp8", 8, "fp8_ds_mla"),
    Case("0.18-v32-fp8-blackwell-16-heads-flashinfer", "0.18.0", BLACKWELL, V32, "fp8", 8,
         "fp8"),
    Case("0.18-v32-fp8-blackwell-32-heads-flashmla", "0.18.0", BLACKWELL, V32, "fp8", 4,
         "fp8_ds_mla"),
    Case("0.18-glm-fp8-blackwell-nope-192-flashmla", "0.18.0", BLACKWELL, GLM, "fp8", 8,
         "fp8_ds_mla"),
    Case("0.19-glm-fp8-hopper-batch-189", "0.19.0", HOPPER, GLM, "fp8", 8, "fp8_ds_mla"),
    Case("0.19-v32-fp8-blackwell-128-heads-flashinfer", "0.19.0", BLACKWELL, V32, "fp8", 1,
         "fp8"),
    Case("0.19-glm-fp8-blackwell-flashinfer", "0.19.0", BLACKWELL, GLM, "fp8", 8, "fp8"),
    Case("0.19-glm-auto-hopper-16-bit", "0.19.0", HOPPER, GLM, "auto", 8, "auto"),
    Case("0.23-rtx-blackwell-no-sparse-backend", "0.23.0", RTX_BLACKWELL, V32, "auto", 8,
         "auto"),
    Case("0.26-rtx-blackwell-auto-becomes-ds-mla", "0.26.0", RTX_BLACKWELL, V32, "auto", 8,
         "fp8_ds_mla"),
    Case("0.31-glm-auto-blackwell-16-bit", "0.31.0", BLACKWELL, GLM, "auto", 8, "auto"),
    Case("0.32-glm-auto-blackwell-becomes-fp8", "0.32.0", BLACKWELL, GLM, "auto", 8, "fp8"),
    Case("0.33-glm-auto-blackwell-becomes-fp8", "0.33.0", BLACKWELL, GLM, "auto", 8, "fp8"),
    Case("0.33-glm-auto-hopper-16-bit", "0.33.0", HOPPER, GLM, "auto", 8, "auto"),
    Case("0.34-v32-fp8-hopper-flashmla", "0.34.0", HOPPER, V32, "fp8", 8, "fp8_ds_mla"),
    Case("0.34-v32-auto-blackwell-16-bit", "0.34.0", BLACKWELL, V32, "auto", 8, "auto"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_dsa_cache_format_follows_vllms_version_gpu_and_heads_per_gpu(case):
    attention = GLM_ATTENTION if case.architecture == GLM else V32_ATTENTION
    assert sparse_mla.cache_format(case.architecture, attention, case.configured, case.gpu,
                                   parse(case.version), case.tensor_parallel) == case.expected


@pytest.mark.parametrize("fmt, expected", [("fp8_ds_mla", 656), ("fp8", 576), ("auto", 1152)])
def test_each_format_costs_its_bytes_per_token_and_layer(fmt, expected):
    """fp8_ds_mla: 512 fp8 latent values + 4 fp32 scales + 64 BF16 rope values = 656 B
    (MLAAttentionSpec.real_page_size_bytes: block_size × 656)."""
    assert sparse_mla.format_bytes_per_token(V32_ATTENTION, fmt) == expected


def test_the_ds_mla_row_is_its_three_parts():
    assert sparse_mla.FP8_DS_MLA_BYTES_PER_TOKEN == 512 * 1 + 4 * 4 + 64 * 2


def test_a_model_without_dsa_keeps_the_plans_own_count():
    dense_mla = {key: value for key, value in V32_ATTENTION.items() if key != "index_head_dim"}
    assert sparse_mla.latent_bytes_per_token("DeepseekV3ForCausalLM", dense_mla, "fp8",
                                             HOPPER, parse("0.19.0"), 8) is None


def test_heads_per_gpu_are_whole_heads_as_vllms_num_local_heads():
    """33 heads over TP 2 are 16 per GPU (num_heads // tp_size), so 0.18 picks FlashInfer."""
    odd = {**V32_ATTENTION, "heads": 33}
    assert sparse_mla.cache_format(V32, odd, "fp8", BLACKWELL, parse("0.18.0"), 2) == "fp8"


def test_the_architecture_decides_before_0_18():
    assert sparse_mla.latent_bytes_per_token(V32, V32_ATTENTION, "fp8", HOPPER,
                                             parse("0.17.0"), 8) == 656


def test_the_batch_189_multi_node_layer_costs_656_latent_bytes():
    """GLM-5.1 on H100 at TP 8 with --kv-cache-dtype fp8, vLLM 0.19.0: FLASHMLA_SPARSE."""
    assert sparse_mla.latent_bytes_per_token(GLM, GLM_ATTENTION, "fp8", HOPPER,
                                             parse("0.19.0"), 8) == 656


def test_the_sparse_backend_for_an_fp8_cache():
    assert sparse_mla.fp8_backend(HOPPER, parse("0.19.0"), 8, 192) == "FLASHMLA_SPARSE"
    assert sparse_mla.fp8_backend(BLACKWELL, parse("0.19.0"), 8, 192) == "FLASHINFER_MLA_SPARSE"
    assert sparse_mla.fp8_backend(BLACKWELL, parse("0.19.0"), 8, 96) == "FLASHMLA_SPARSE"
    assert sparse_mla.fp8_backend(BLACKWELL, parse("0.18.0"), 16, 128) == "FLASHINFER_MLA_SPARSE"
    assert sparse_mla.fp8_backend(BLACKWELL, parse("0.18.0"), 17, 128) == "FLASHMLA_SPARSE"
    assert sparse_mla.fp8_backend(BLACKWELL, parse("0.17.0"), 8, 128) == "FLASHMLA_SPARSE"
    assert sparse_mla.fp8_backend(RTX_BLACKWELL, parse("0.24.0"), 8, 128) == \
        "FLASHINFER_MLA_SPARSE_SM120"
    assert sparse_mla.fp8_backend(8.0, parse("0.34.0"), 8, 128) is None


@pytest.mark.parametrize("version, gpu, architecture, configured, refused", [
    ("0.23.0", RTX_BLACKWELL, V32, "auto", "compute capability 12.0"),
    ("0.24.0", RTX_BLACKWELL, V32, "auto", None),
    ("0.34.0", 8.9, V32, "auto", "compute capability 8.9"),
    ("0.17.0", HOPPER, GLM, "fp8", "fp8_ds_mla"),
    ("0.16.0", BLACKWELL, GLM, "fp8", "fp8_ds_mla"),
    ("0.17.0", HOPPER, GLM, "auto", None),
    ("0.17.0", HOPPER, V32, "fp8", None),
    ("0.18.0", HOPPER, GLM, "fp8", None),
], ids=["sm120-before-0.24", "sm120-from-0.24", "ada", "glm-fp8-0.17", "glm-fp8-0.16",
        "glm-auto-0.17", "v32-fp8-0.17", "glm-fp8-0.18"])
def test_a_dsa_cache_no_sparse_backend_takes_is_named(version, gpu, architecture, configured,
                                                      refused):
    reason = (sparse_mla.gpu_without_sparse_backend(gpu, parse(version))
              or sparse_mla.fp8_without_sparse_backend(architecture, configured,
                                                       parse(version)))
    if refused is None:
        assert reason is None
    else:
        assert refused in reason
