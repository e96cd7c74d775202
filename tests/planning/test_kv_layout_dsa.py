"""A DSA model's MLA pages are sized in the cache format vLLM stores them in
(facts/sparse_mla.py): DeepSeek's 656-byte fp8_ds_mla row where FlashMLA's sparse backend keeps
an fp8 cache, the plain 576 fp8 values where FlashInfer's does; the indexer's 132 B beside it."""

import pytest
import yaml

from planning import config, kv_layout
from planning.plan import make_plan
from facts import model_families as mf
from tests.harness import ROOT

BASE = {
    "vllmVersion": "0.34.0",
    "model": {"preset": "deepseek-v3.2", "revision": "main", "servedName": "v32",
              "maxModelLen": 32768},
    "gpu": {"type": "h200"},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                "readMibPerSecond": 1000},
    "network": {"gatewayNamespaces": ["gateway"]},
}
LAYERS = 61


def _plan(version: str, gpu: str, kv_cache_dtype: str):
    return make_plan(config.parse({
        **BASE, "vllmVersion": version, "gpu": {"type": gpu},
        "model": {**BASE["model"], "kvCacheDtype": kv_cache_dtype}}))


@pytest.mark.parametrize("version, gpu, dtype, latent", [
    ("0.34.0", "h200", "fp8", 656),     # Hopper: FLASHMLA_SPARSE -> fp8_ds_mla
    ("0.19.0", "h200", "fp8", 656),
    ("0.19.0", "b200", "fp8", 576),     # Blackwell: FLASHINFER_MLA_SPARSE keeps plain fp8
    ("0.34.0", "h200", "auto", 1152),   # a 16-bit cache is not converted
], ids=["0.34-hopper-fp8", "0.19-hopper-fp8", "0.19-blackwell-fp8", "0.34-hopper-auto"])
def test_the_plan_counts_the_dsa_latent_in_the_format_vllm_stores_it(version, gpu, dtype,
                                                                     latent):
    plan = _plan(version, gpu, dtype)
    assert plan.kv.groups == 1
    assert plan.kv.bytes_per_token == (latent + 132) * LAYERS


def test_only_the_mla_layers_own_page_takes_the_format_not_the_indexers():
    specs = [kv_layout.CacheSpec(mf.MLA, 64, 64 * 576),
             kv_layout.CacheSpec(mf.MLA, 64, 64 * 132, role="indexer"),
             kv_layout.CacheSpec(mf.FULL_ATTENTION, 16, 16 * 512)]
    pages = [spec.page_bytes for spec in kv_layout.with_latent_pages(specs, 656)]
    assert pages == [64 * 656, 64 * 132, 16 * 512]
    assert kv_layout.with_latent_pages(specs, None) == specs



def test_glm5_with_an_fp8_cache_before_vllm_0_18_is_refused_at_preview():
    """0.16-0.17 convert fp8 to fp8_ds_mla for DeepseekV32ForCausalLM only; GLM-5's "fp8"
    reaches backend selection, where FLASHMLA_SPARSE takes auto, bfloat16 and fp8_ds_mla only
    ("No valid attention backend found")."""
    glm = yaml.safe_load((ROOT / "benchmark" / "stack_facts.yaml").read_text())["models"]
    facts = {**glm["glm-5.1-fp8"], "min_vllm": "0.16.0"}
    stack = {**BASE, "vllmVersion": "0.17.0",
             "model": {"revision": "main", "servedName": "glm", "maxModelLen": 32768,
                       "facts": facts, "kvCacheDtype": "fp8"}}
    with pytest.raises(config.ConfigError) as error:
        make_plan(config.parse(stack))
    assert "model.kvCacheDtype: fp8" in str(error.value)
    assert "0.18.0" in str(error.value)
    make_plan(config.parse({**stack, "vllmVersion": "0.18.0"}))
    make_plan(config.parse({**stack, "model": {**stack["model"], "kvCacheDtype": "auto"}}))


def test_a_dsa_model_on_a_gpu_no_sparse_backend_runs_on_is_refused_naming_the_gpu():
    """No sparse MLA backend runs on capability 12 before vLLM 0.24 (FLASHINFER_MLA_SPARSE_SM120;
    an H200-sized GPU of capability 12 stands in, as no catalog GPU of it holds V3.2)."""
    stack = {**BASE, "vllmVersion": "0.20.0", "gpu": {"type": "h200", "computeCapability": 12.0}}
    with pytest.raises(config.ConfigError) as error:
        make_plan(config.parse(stack))
    assert "gpu.type" in str(error.value) and "capability 12.0" in str(error.value)
    assert "0.24.0" in str(error.value)
    assert make_plan(config.parse({**stack, "vllmVersion": "0.24.0"})).kv.bytes_per_token == \
        (656 + 132) * LAYERS     # the SM120 backend stores even a 16-bit cache as fp8_ds_mla


def test_v3_2_with_an_fp8_cache_before_0_18_is_converted_not_refused():
    plan = _plan("0.17.0", "h200", "fp8")
    assert plan.kv.bytes_per_token == (656 + 132) * LAYERS


@pytest.mark.parametrize("chosen, latent", [
    ("FLASHMLA_SPARSE", 656),          # FlashMLA's sparse backend converts fp8 to fp8_ds_mla
    ("flashmla_sparse", 656),          # vLLM upper-cases the name (config/attention.py)
    ("FLASHINFER_MLA_SPARSE", 576),    # the default on Blackwell: plain fp8
    ("auto", 576),                     # auto: vLLM's own choice
], ids=["flashmla", "lower-case", "flashinfer", "auto"])
def test_an_attention_backend_chosen_in_extra_args_sizes_the_dsa_latent(chosen, latent):
    """vLLM 0.19's log itself advises `--attention-backend FLASHMLA_SPARSE` for the fp8_ds_mla
    format on Blackwell (mla_attention.py MLAAttention.__init__): the chosen backend, not the
    default priority list, decides the format (cuda.py get_attn_backend_cls: a selected backend
    is used as it is)."""
    plan = make_plan(config.parse({
        **BASE, "vllmVersion": "0.19.0", "gpu": {"type": "b200"},
        "model": {**BASE["model"], "kvCacheDtype": "fp8"},
        "engine": {"extraArgs": [f"--attention-backend={chosen}"]}}))
    assert plan.kv.bytes_per_token == (latent + 132) * LAYERS
