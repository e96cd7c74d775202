"""A DSA model whose config shares the indexer (GLM-5.2's indexer_types, IndexCache's
index_topk_freq / index_topk_pattern) has an indexer cache on its "full" layers only, from the
release that stops building an indexer on the shared ones (facts/sparse_mla.py
SHARED_INDEXER_SINCE); every other DSA model keeps one on every layer."""

import json

import pytest
import yaml

import facts
from planning import config, kv_layout
from planning.layout import Layout
from planning.memory import kv_layer_specs
from planning.plan import make_plan
from facts import model_families as mf
from facts import sparse_mla
from tests.harness import ROOT
from tools import model_facts

GLM = yaml.safe_load((ROOT / "benchmark" / "stack_facts.yaml").read_text())["models"]["glm-5.1-fp8"]
FULL = [0, 1, 2, 6, 10]
"""GLM-5.2's indexer layers of 11 (index_topk_freq 4 from offset 3: vLLM 0.26's comment in
deepseek_v32/nvidia/attention.py, "layers [0,1,2,6,10,...]")."""
SHARED = [3, 4, 5, 7, 8, 9]
GLM52 = {**GLM, "hf_id": "zai-org/GLM-5.2", "layers": 11, "shared_indexer_layers": SHARED}
STACK = {
    "vllmVersion": "0.26.0",
    "model": {"revision": "main", "servedName": "glm", "maxModelLen": 32768,
              "facts": GLM52, "kvCacheDtype": "auto"},
    "gpu": {"type": "h200", "tensorParallel": 8},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                "readMibPerSecond": 1000},
    "network": {"gatewayNamespaces": ["gateway"]},
}


def _plan(version: str, facts: dict = GLM52):
    return make_plan(config.parse({**STACK, "vllmVersion": version,
                                   "model": {**STACK["model"], "facts": facts}}))


def test_a_shared_indexer_layer_has_its_latent_cache_but_no_indexer_cache():
    model = config.ModelFacts.model_validate(GLM52)
    specs, _ = kv_layer_specs(model, Layout(tensor_parallel=1), 2, 64,
                              shared_indexers=frozenset(SHARED))
    roles = [spec.role for spec in specs]
    assert roles.count("indexer") == len(FULL)
    assert sum(1 for spec in specs if spec.kind == mf.MLA and not spec.role) == 11
    assert roles == ["", "indexer"] * 3 + [""] * 3 + ["", "indexer"] + [""] * 3 + \
        ["", "indexer"]


def test_glm_5_2_s_tokens_count_an_indexer_on_its_full_layers_only():
    """benchmark/README.md: 13,327 B per token logged on 0.26.0 = 11 × 1,152 + 5 × 132."""
    plan = _plan("0.26.0")
    assert plan.kv.groups == 1      # all MLAAttentionSpecs of one block size: one group
    assert plan.kv.bytes_per_token == 11 * 1152 + len(FULL) * 132


def test_before_vllm_builds_no_indexer_on_a_shared_layer_every_layer_has_one():
    """0.21.0-0.23.0 compute the skip but still build the Indexer (and its cache) on every
    layer (deepseek_v2.py DeepseekV2MLAAttention.__init__)."""
    assert _plan("0.23.0").kv.bytes_per_token == 11 * (1152 + 132)


def test_a_dsa_model_without_shared_layers_keeps_an_indexer_on_every_layer():
    facts = {key: value for key, value in GLM52.items() if key != "shared_indexer_layers"}
    assert _plan("0.26.0", facts).kv.bytes_per_token == 11 * (1152 + 132)


@pytest.mark.parametrize("version, shared", [("0.23.0", frozenset()),
                                             ("0.24.0", frozenset(SHARED)),
                                             ("0.26.0", frozenset(SHARED))])
def test_the_version_decides_whether_shared_layers_drop_their_indexer(version, shared):
    assert sparse_mla.shared_indexer_layers(SHARED, facts.parse_version(version)) == shared


def test_shared_indexer_layers_outside_the_model_are_refused_naming_the_key():
    with pytest.raises(ValueError) as error:
        config.ModelFacts.model_validate({**GLM52, "shared_indexer_layers": [3, 11]})
    assert "sharedIndexerLayers" in str(error.value) and "11" in str(error.value)


def test_shared_indexer_layers_on_a_model_without_dsa_are_refused():
    attention = {key: value for key, value in GLM52["attention"].items()
                 if key != "index_head_dim"}
    with pytest.raises(ValueError) as error:
        config.ModelFacts.model_validate({**GLM52, "attention": attention})
    assert "index_head_dim" in str(error.value)


@pytest.mark.parametrize("keys, shared", [
    ({"indexer_types": ["full"] * 3 + ["shared"] * 3 + ["full"] + ["shared"] * 3 + ["full"]},
     SHARED),
    ({"index_topk_freq": 4, "index_skip_topk_offset": 3}, SHARED),
    ({"index_topk_freq": 4}, [2, 3, 4, 6, 7, 8, 10]),        # the default offset 2
    ({"index_topk_pattern": "FFFSSSFSSSF"}, SHARED),
    ({"index_topk_pattern": "FS"}, [1]),                     # past the pattern: full
    ({"index_topk_pattern": "FFFSSSFSSSFS"}, SHARED),        # past the layers: ignored
    ({"indexer_types": ["full"] * 11, "index_topk_freq": 4}, None),  # indexer_types first
    ({}, None),
    ({"index_topk_freq": 4, "index_topk": None}, None),      # without DSA nothing is shared
], ids=["indexer_types", "freq-offset", "freq", "pattern", "short-pattern", "long-pattern",
        "types-first", "none", "no-dsa"])
def test_model_facts_read_the_shared_indexer_layers_as_vllm_does(keys, shared):
    """vllm/model_executor/models/utils.py compute_skip_topk_layers (0.34.0)."""
    cfg = {"num_hidden_layers": 11, "index_topk": 2048, **keys}
    if keys.get("index_topk", 1) is None:
        del cfg["index_topk"]
    assert kv_layout.shared_indexer_layers_from_config(cfg) == shared


def test_indexer_types_of_the_wrong_length_or_kind_are_refused():
    with pytest.raises(ValueError, match="indexer_types"):
        kv_layout.shared_indexer_layers_from_config(
            {"num_hidden_layers": 11, "index_topk": 2048, "indexer_types": ["full"] * 10})
    with pytest.raises(ValueError, match="indexer_types"):
        kv_layout.shared_indexer_layers_from_config(
            {"num_hidden_layers": 2, "index_topk": 2048, "indexer_types": ["full", "dense"]})


@pytest.mark.parametrize("freq", [0, -4, 2.0])
def test_an_index_topk_freq_that_is_not_a_positive_integer_is_refused(freq):
    with pytest.raises(ValueError, match="index_topk_freq"):
        kv_layout.shared_indexer_layers_from_config(
            {"num_hidden_layers": 11, "index_topk": 2048, "index_topk_freq": freq})


def test_the_first_layer_may_share_but_no_negative_index_may():
    assert config.ModelFacts.model_validate(
        {**GLM52, "shared_indexer_layers": [0]}).shared_indexer_layers == [0]
    with pytest.raises(ValueError, match="sharedIndexerLayers"):
        config.ModelFacts.model_validate({**GLM52, "shared_indexer_layers": [-1]})


def test_the_pocketinfer_glm_5_2_log_s_bytes_per_token_are_what_the_plan_counts():
    """pocketInfer/pocketInfer README (benchmark/cases_raw_batch189.yaml
    pocketinfer-glm52-dummy): vLLM 0.26.0 logs 12.29 GiB for 990,144 tokens, 13,322-13,333 B
    per token within the GiB's rounding; the facts tools/model_facts writes from the stored
    config.json plan 11 × 1,152 + 5 × 132 = 13,332 (an indexer on every layer: 14,124)."""
    fixture = ROOT / "tests" / "fixtures" / "glm-5.2-dummy.config.json"
    facts = model_facts.model_facts(json.loads(fixture.read_text()), hf_id="pocketInfer/glm")
    per_token = _plan("0.26.0", facts).kv.bytes_per_token
    low, high = (12.285 * 2**30 / 990_144, 12.295 * 2**30 / 990_144)
    assert low <= per_token <= high
    assert per_token == 13_332
