"""The plan sizes Kimi-Linear's KDA state as vLLM does (planning/kv_layout.py
linear_state_bytes): the hybrid block holds one KDA layer's state with its float32 recurrent
part, so the block is twice what Gated DeltaNet's formula over the same shapes would give."""

import json
import pathlib

from planning import config, kv_layout
from planning.plan import make_plan
from tools import model_facts

FIXTURE = (pathlib.Path(__file__).resolve().parents[1] / "fixtures"
           / "kimi-linear-48b-a3b.config.json")


def _plan():
    facts = model_facts.model_facts(json.loads(FIXTURE.read_text(encoding="utf-8")))
    facts.update(hf_id="moonshotai/Kimi-Linear-48B-A3B-Instruct", max_context=131072,
                 min_vllm="0.12.0", min_compute_capability=8.0)
    return make_plan(config.parse({
        "vllmVersion": "0.32.0",
        "model": {"facts": facts, "revision": "main", "servedName": "kl", "maxModelLen": 32768,
                  "trustRemoteCode": True},
        "gpu": {"type": "h100-80gb", "tensorParallel": 2},
        "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                    "readMibPerSecond": 1000},
        "network": {"gatewayNamespaces": ["gateway"]}}))


def test_kimi_linears_hybrid_block_holds_one_kda_state_with_its_float32_recurrent_part():
    # TP 2: state 3 × 2048 × 3 × 2 + 16 × 128 × 128 × 4 = 1,085,440 B; MLA 576 × 2 B a token;
    # alignment 128 (MLA): 128 × cdiv(1,085,440, 128 × 1152) = 1024.
    state = kv_layout.kda_state_bytes({"num_value_heads": 32, "value_head_dim": 128,
                                       "key_head_dim": 128, "conv_kernel_dim": 4}, 2, 2)
    assert state == 1_085_440
    assert _plan().kv.block_size == kv_layout.hybrid_block_size(state, 1152, 16, mla=True) == 1024
