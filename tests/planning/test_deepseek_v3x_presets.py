"""DeepSeek-V3.1, V3.2 and R1-0528 presets (facts/models.yaml), each count from config.json
shapes (tools/model_facts on tests/fixtures) or the stored hub figures it cites; V3.2's DSA
indexer keeps its own fp8 key cache beside the MLA latent (vLLM's Indexer k_cache)."""

import json
import pathlib

import pytest

import facts
from planning import config, memory
from planning.plan import make_plan
from tools import model_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def _shape_facts(fixture: str) -> dict:
    raw = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
    return model_facts.model_facts(raw)


def test_the_dsa_indexer_cache_adds_its_fp8_keys_to_every_mla_layer():
    # vllm/model_executor/models/deepseek_v2.py Indexer: k_cache of index_head_dim bytes of fp8
    # plus a 4-byte fp32 scale per 128 (uint8), an MLAAttentionSpec with one head and the
    # main cache's block size: 128 + 4 = 132 B per token and layer, whatever the KV dtype.
    v3 = {"kind": "mla", "heads": 128, "kv_lora_rank": 512, "qk_rope_head_dim": 64}
    v32 = {**v3, "index_head_dim": 128}
    assert memory.kv_bytes_per_token_per_layer(v32, 61, 8, 2) == 576 * 2 + 132
    assert memory.kv_bytes_per_token_per_layer(v32, 61, 8, 1) == 576 + 132
    assert memory.kv_bytes_per_token_per_layer(v3, 61, 8, 2) == 576 * 2


@pytest.mark.parametrize("preset, fixture", [
    ("deepseek-v3.1", "deepseek-v3.1.config.json"),
    ("deepseek-v3.2", "deepseek-v3.2.config.json"),
])
def test_presets_carry_the_counts_derived_from_their_config_json(preset, fixture):
    entry, derived = facts.models()[preset], _shape_facts(fixture)
    for key in ("architecture", "weights_dtype", "parameters", "layers", "hidden_size",
                "intermediate_size", "vocab_size", "attention", "max_context", "experts"):
        assert entry[key] == derived[key], key
    assert entry["params_b"] == pytest.approx(derived["params_b"])


def test_r1_0528_carries_the_v3_shape_counts_derived_from_config_json():
    entry, derived = facts.models()["deepseek-r1"], _shape_facts("deepseek-v3.1.config.json")
    assert entry["hf_id"] == "deepseek-ai/DeepSeek-R1-0528"
    assert entry["parameters"] == derived["parameters"]
    assert entry["params_b"] == pytest.approx(derived["params_b"])


def test_v3_1_shares_v3s_shape_and_v3_2_adds_the_indexer():
    models = facts.models()
    assert models["deepseek-v3.1"]["parameters"] == models["deepseek-v3"]["parameters"]
    v32 = models["deepseek-v3.2"]
    assert v32["attention"]["index_head_dim"] == 128
    assert v32["min_compute_capability"] == 9.0     # sparse MLA kernels: sm90, sm100, sm120
    assert v32["min_vllm"] == "0.11.0"                # DeepseekV32ForCausalLM registered


BASE = {
    "vllmVersion": "0.34.0",
    "model": {"preset": "deepseek-v3.2", "revision": "main", "servedName": "v32",
              "maxModelLen": 32768},
    "gpu": {"type": "h200"},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                "readMibPerSecond": 1000},
    "network": {"gatewayNamespaces": ["gateway"]},
}


def test_v3_2_plans_on_one_h200_node_with_the_indexer_in_its_cache():
    plan = make_plan(config.parse(BASE))
    assert plan.layout.gpus == 8 and plan.layout.nodes == 1
    assert plan.kv.bytes_per_token == (576 * 2 + 132) * 61
    v3 = make_plan(config.parse({**BASE, "model": {**BASE["model"], "preset": "deepseek-v3.1"}}))
    assert v3.kv.tokens_per_rank > plan.kv.tokens_per_rank


def test_v3_2_is_refused_on_a100_whose_sparse_kernels_vllm_lacks():
    with pytest.raises(config.ConfigError) as error:
        make_plan(config.parse({**BASE, "gpu": {"type": "a100-80gb"}}))
    assert "compute capability 9.0" in str(error.value)
