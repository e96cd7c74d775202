"""A Nemotron-H-style Mamba2 hybrid plans and renders (planning/memory.py kv_cache with
planning/kv_layout.py): its MLP layers cache nothing, each Mamba2 layer keeps one state per
request padded to the attention page, the SSM state's dtype follows the vLLM version's
Nemotron-H pin and --mamba-ssm-cache-dtype, and the plan says the state's bytes and source."""

from __future__ import annotations

import pytest

from facts import model_families as mf
from planning import config, kv_layout
from planning.plan import make_plan
from tests.harness import deep_merge, stack_config

# NVIDIA-Nemotron-Nano-9B-v2 (config.json values as NEMOTRON_H in the stored test fixture
# quoted in tests/planning/test_kv_layout_mamba.py; the pattern is 56 layers).
PATTERN = "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-"
CONFIG = {"model_type": "nemotron_h", "num_hidden_layers": 56, "hybrid_override_pattern": PATTERN,
          "mamba_num_heads": 128, "mamba_head_dim": 80, "n_groups": 8, "ssm_state_size": 128,
          "conv_kernel": 4, "chunk_size": 128}


def _facts() -> dict:
    return {"hf_id": "nvidia/NVIDIA-Nemotron-Nano-9B-v2", "architecture": "NemotronHForCausalLM",
            "params_b": 8.89, "weights_dtype": "bf16", "layers": 56, "hidden_size": 4480,
            "intermediate_size": 15680, "vocab_size": 131072, "max_context": 131072,
            "attention": {"kind": "gqa", "heads": 40, "kv_heads": 8, "head_dim": 128},
            "min_vllm": "0.13.0", "min_compute_capability": 8.0, "trust_remote_code": True,
            **kv_layout.layout_facts_from_config(CONFIG)}


def _plan(version: str, extra_args: tuple[str, ...] = ()):
    """Staging's stack file with the model, the version and engine.extraArgs replaced."""
    overrides = {"vllmVersion": version,
                 "model": {"preset": None, "facts": _facts(), "servedName": "nano",
                           "maxModelLen": 32768, "trustRemoteCode": True},
                 "engine": {"extraArgs": list(extra_args)},
                 "gpu": {"type": "h100-80gb", "tensorParallel": 1},
                 # a small model admits many streams at a short per-token time (its Mamba2 layers
                 # read one state page each): the router keeps up with 12 replicas
                 "traffic": {"router": {"replicas": 12}}}
    return make_plan(config.parse(deep_merge(stack_config("staging"), overrides)))


def test_the_pattern_gives_27_mamba2_4_attention_and_25_cacheless_layers():
    kinds = _facts()["layer_types"]
    assert [kinds.count(kind) for kind in (mf.LINEAR_ATTENTION, mf.FULL_ATTENTION,
                                           mf.NO_CACHE)] == [27, 4, 25]


def test_groups_hold_the_mamba2_and_attention_layers_only():
    # 4 attention layers set the group size: 27 Mamba2 layers in 7 groups, attention in 1.
    assert _plan("0.32.0").kv.groups == 8


@pytest.mark.parametrize("version,extra_args,block", [
    ("0.32.0", (), 1312),                      # float32 SSM state (vLLM >= 0.20's pin)
    ("0.19.0", (), 672),                       # float16 SSM state (0.13-0.19): vllm#24280
    ("0.32.0", ("--mamba-ssm-cache-dtype", "bfloat16"), 672)],
    ids=["0.32-float32", "0.19-float16", "flag-bfloat16"])
def test_the_attention_block_holds_one_mamba2_state_in_the_versions_ssm_dtype(
        version, extra_args, block):
    assert _plan(version, extra_args).kv.block_size == block


def test_the_plan_prints_the_state_bytes_per_request_and_its_source():
    reason = _plan("0.32.0").kv.reason
    assert "one mamba2 layer's state 5,316,608 B at TP 1 (conv 2 B, SSM 4 B a value" in reason
    assert "mamba_utils.py mamba2_state_shape" in reason


GIB = 2**30


@pytest.mark.parametrize("version", ["0.28.0", "0.31.0"])
def test_from_vllm_0_28_a_hybrid_caches_prefixes_by_default_with_two_state_blocks(version):
    """From 0.28.0 default_prefix_caching is is_prefix_caching_supported, True for a hybrid
    (engine/arg_utils.py, config/model.py), and MambaModelConfig sets mamba cache mode
    'align' (models/config.py): cdiv(32,768, 1,312) = 25 attention blocks and two state
    blocks in each of 7 groups, as 0.32 plans it."""
    kv = _plan(version).kv
    assert kv.block_size == 1312
    assert kv.request_gib == pytest.approx((25 + 7 * 2) * 4 * 1312 * 4096 / GIB)


def test_before_vllm_0_28_prefix_caching_keeps_a_mamba2_state_per_block_of_tokens():
    """vLLM 0.15-0.27 ran a Mamba2 model that supports prefix caching in mamba cache mode
    'all' (models/config.py MambaModelConfig; MambaSpec.max_memory_usage_bytes: cdiv(max_model_len,
    block) states a request) with the block a multiple of the SSD chunk (platforms/interface.py
    _align_hybrid_block_size): 128 × cdiv(cdiv(5,316,608, 4,096), 128) = 1,408 tokens."""
    kv = _plan("0.26.0", ("--enable-prefix-caching",)).kv
    assert kv.block_size == 1408
    # 8 groups of 4 layers, each group cdiv(32,768, 1,408) = 24 blocks a request.
    assert kv.request_gib == pytest.approx(8 * 24 * 4 * 1408 * 4096 / GIB)


@pytest.mark.parametrize("extra_args", [(), ("--no-enable-prefix-caching",)],
                         ids=["default-off-before-0.28", "flag"])
def test_without_prefix_caching_a_mamba2_request_keeps_one_state(extra_args):
    """Before 0.28 a hybrid model's prefix caching is opt-in (vllm/config/model.py
    is_prefix_caching_supported is False for hybrids in 0.19.0/0.20.0; engine/arg_utils.py
    default_prefix_caching excludes is_hybrid in 0.26.0/0.27.0)."""
    kv = _plan("0.26.0", extra_args).kv
    assert kv.block_size == 1312
    # cdiv(32,768, 1,312) = 25 attention blocks and one state block in each of 7 groups.
    assert kv.request_gib == pytest.approx((25 + 7) * 4 * 1312 * 4096 / GIB)
