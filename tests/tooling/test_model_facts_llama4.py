"""tools.model_facts reads Llama 4 (model_type llama4, a multimodal config.json whose text model
is its text_config): the RoPE layers are chunked local attention and every fourth (NoPE) layer
full attention (planning/kv_layout.py), the MoE layers' routed experts, shared expert and router
and the vision tower are counted where vLLM's llama4.py and mllama4.py keep them.

The fixture (tests/fixtures/llama-4-scout-17b-16e.config.json) says in `_mirrors` where its
values were transcribed from."""

import json
import pathlib

import yaml

from planning import config
from tools import model_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
SCOUT = FIXTURES / "llama-4-scout-17b-16e.config.json"
HIDDEN, VOCAB, EXPERTS, EXPERT_WIDTH = 5120, 202048, 16, 8192


def _config():
    return json.loads(SCOUT.read_text(encoding="utf-8"))


def test_llama4_scout_is_written_as_chunked_and_full_layers_the_config_accepts(capsys):
    status = model_facts.main([str(SCOUT)])
    out, _ = capsys.readouterr()
    assert status == 0
    [facts] = yaml.safe_load("models:\n" + out)["models"].values()
    kinds = facts["layer_types"]
    assert [i for i, kind in enumerate(kinds) if kind == "full_attention"] == list(
        range(3, 48, 4))
    assert kinds.count("chunked_attention") == 36
    assert facts["attention_chunk_size"] == 8192
    assert facts["attention"] == {"kind": "gqa", "heads": 40, "kv_heads": 8, "head_dim": 128}
    assert (facts["experts"], facts["experts_per_token"], facts["moe_intermediate_size"]) == (
        16, 1, 8192)
    assert facts["layers"] == 48 and facts["vocab_size"] == VOCAB
    facts.update(hf_id="meta-llama/Llama-4-Scout-17B-16E-Instruct")
    model = config.ModelFacts.model_validate(facts)
    assert model.attention_chunk_size == 8192


def test_llama4_counts_experts_shared_expert_router_and_vision_where_vllm_keeps_them():
    """llama4.py: QKVParallelLinear/RowParallelLinear attention without biases (its q/k norm
    has no weight), Llama4MoE = routed experts E × 3 × H × I, one TP-sharded shared expert
    3 × H × I and a ReplicatedLinear router E × H; mllama4.py: the vision tower's linears
    TP-sharded (mm_encoder_tp_mode "weights", the default), its embeddings, LayerNorms and
    row-parallel biases whole on every rank."""
    groups = model_facts.parameter_groups(_config())
    attention = HIDDEN * (40 + 2 * 8) * 128 + 40 * 128 * HIDDEN
    shared = 3 * HIDDEN * EXPERT_WIDTH
    vision_layer_sharded = 4 * 1408 * 1408 + 3 * 1408 + 2 * 1408 * 5632 + 5632
    vision_sharded = (34 * vision_layer_sharded + 588 * 1408 + 5632 * 4096 + 4096 * 4096
                      + 4096 * HIDDEN)
    vision_whole = 34 * (2 * 1408 + 4 * 1408) + 1408 + 577 * 1408 + 4 * 1408
    assert groups["embedding"] == groups["head"] == VOCAB * HIDDEN
    assert groups["experts"] == 48 * EXPERTS * 3 * HIDDEN * EXPERT_WIDTH
    assert groups["sharded_linear"] == 48 * (attention + shared) + vision_sharded
    assert groups["norms_and_gates"] == 48 * (2 * HIDDEN + EXPERTS * HIDDEN) + HIDDEN + \
        vision_whole
    assert groups["replicated_linear"] == 0
    assert sum(groups.values()) == 108_641_793_536


def test_llama4_interleaved_moe_layers_keep_dense_mlps_of_intermediate_size_mlp():
    """Llama4DecoderLayer: a layer is MoE when (index + 1) % interleave_moe_layer_step == 0,
    else a dense LlamaMLP of intermediate_size_mlp (Maverick's step 2)."""
    cfg = _config()
    cfg["text_config"]["interleave_moe_layer_step"] = 2
    groups = model_facts.parameter_groups(cfg)
    assert groups["experts"] == 24 * EXPERTS * 3 * HIDDEN * EXPERT_WIDTH
    facts = model_facts.model_facts(cfg)
    assert facts["intermediate_size"] == 16384
    assert facts["moe_intermediate_size"] == EXPERT_WIDTH
