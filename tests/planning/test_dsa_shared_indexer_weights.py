"""From vLLM 0.24 a DSA layer that shares an earlier layer's top-k builds no Indexer
(models/deepseek_v2.py DeepseekV2MLAAttention.__init__: `if self.is_v32 and (not _skip_topk
or is_mtp_layer)`), so it holds none of the indexer's weights (0.34 DeepseekV2ForCausalLM
load_weights drops them: "this layer has no indexer"); before 0.24 every DSA layer holds them."""

import json

from planning import config
from planning.plan import make_plan
from tests.harness import ROOT
from tools import model_facts

FIXTURE = ROOT / "tests" / "fixtures" / "glm-5.2-dummy.config.json"
SHARED = 6
"""GLM-5.2-dummy's indexer_types: 6 of its 11 layers are "shared"."""
WQ_B = 2048 * 128 * 32
"""The indexer's wq_b per layer: q_lora_rank × index_head_dim × index_n_heads (quantized)."""
WK_WEIGHTS_PROJ_AND_NORM = 6144 * (128 + 32) + 2 * 128
"""wk_weights_proj hidden × (index_head_dim + index_n_heads) and k_norm's weight and bias."""
STACK = {
    "model": {"revision": "main", "servedName": "glm", "maxModelLen": 32768,
              "kvCacheDtype": "auto"},
    "gpu": {"type": "h200", "tensorParallel": 8},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                "readMibPerSecond": 1000},
    "network": {"gatewayNamespaces": ["gateway"]},
}


def _facts() -> dict:
    return model_facts.model_facts(json.loads(FIXTURE.read_text()), hf_id="pocketInfer/glm")


def _weights(version: str):
    return make_plan(config.parse({**STACK, "vllmVersion": version,
                                   "model": {**STACK["model"], "facts": _facts()}})).weights


def test_the_facts_carry_one_layer_s_indexer_parameters_by_role():
    assert _facts()["indexer_parameters"] == {"replicated_linear": WQ_B,
                                              "norms_and_gates": WK_WEIGHTS_PROJ_AND_NORM}


def test_shared_indexer_layers_hold_no_indexer_weights_from_vllm_0_24():
    before, after = _weights("0.23.0"), _weights("0.24.0")
    left_out = SHARED * (WQ_B + WK_WEIGHTS_PROJ_AND_NORM) * 2 / 2**30   # a bf16 checkpoint
    assert abs((before.total_gib - after.total_gib) - left_out) < 1e-6
    assert "shared indexer" in after.reason and "shared indexer" not in before.reason


def test_the_checkpoint_still_holds_every_layer_s_indexer():
    """config.json's checkpoint ships indexer weights for all layers (0.34 load_weights' comment)."""
    assert _weights("0.23.0").checkpoint_gib == _weights("0.24.0").checkpoint_gib


def test_a_dsa_model_without_shared_layers_keeps_every_indexer_s_weights():
    facts = {key: value for key, value in _facts().items()
             if key not in ("shared_indexer_layers", "indexer_parameters")}
    plans = [make_plan(config.parse({**STACK, "vllmVersion": version,
                                     "model": {**STACK["model"], "facts": facts}}))
             for version in ("0.23.0", "0.24.0")]
    assert plans[0].weights.total_gib == plans[1].weights.total_gib


def test_the_weights_reason_says_how_many_parameters_the_shared_layers_leave_out():
    left_out = SHARED * (WQ_B + WK_WEIGHTS_PROJ_AND_NORM)
    assert (f"; {SHARED} shared indexer layers build no indexer on vLLM 0.24.0: "
            f"{left_out / 1e9:.3f} G parameters left out of the roles") in _weights("0.24.0").reason


def test_shared_layers_without_the_indexers_parameters_in_the_facts_leave_the_roles_alone():
    """Facts written before indexer_parameters existed name the shared layers only: the roles
    keep every indexer (nothing to subtract), and the plan says nothing about it."""
    facts = {key: value for key, value in _facts().items() if key != "indexer_parameters"}
    plan = make_plan(config.parse({**STACK, "vllmVersion": "0.24.0",
                                   "model": {**STACK["model"], "facts": facts}}))
    assert plan.weights.reason == _weights("0.23.0").reason
    assert plan.weights.reason.endswith("; checkpoint 15.3 GiB")   # nothing said after it
    assert plan.weights.total_gib == _weights("0.23.0").total_gib
