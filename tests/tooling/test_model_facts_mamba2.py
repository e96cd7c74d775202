"""tools.model_facts reads the Mamba2 hybrids vLLM serves: Nemotron-H (model_type nemotron_h,
hybrid_override_pattern) and Granite-4.0-H (granitemoehybrid, layer_types), their layers
written as layer_types with a mamba2 linear_attention the plan sizes (planning/kv_layout.py
mamba2_state_bytes), their parameters by role counted where vLLM keeps them
(vllm/model_executor/layers/mamba/mamba_mixer2.py MambaMixer2, models/nemotron_h.py,
granitemoehybrid.py, 0.34.0 wheel). What they cannot count (Nemotron-H's MoE layers) is refused
with what was read.

The Nemotron fixture (tests/fixtures/nemotron-nano-9b-v2.config.json) says in `_mirrors` where
its values were transcribed from."""

import json
import pathlib

import pytest
import yaml

from planning import config
from tools import model_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
NANO = FIXTURES / "nemotron-nano-9b-v2.config.json"


def _nano() -> dict:
    return json.loads(NANO.read_text(encoding="utf-8"))


def test_nemotron_nano_9b_v2_is_written_as_mamba2_attention_and_cacheless_layers(capsys):
    status = model_facts.main([str(NANO), "--hf-id", "nvidia/NVIDIA-Nemotron-Nano-9B-v2"])
    out, _ = capsys.readouterr()
    assert status == 0
    [facts] = yaml.safe_load("models:\n" + out)["models"].values()
    kinds = facts["layer_types"]
    assert [kinds.count(kind) for kind in ("linear_attention", "full_attention", "no_cache")
            ] == [27, 4, 25]
    assert facts["linear_attention"] == {"kind": "mamba2", "num_value_heads": 128,
                                         "value_head_dim": 80, "num_key_heads": 8,
                                         "key_head_dim": 128, "conv_kernel_dim": 4}
    assert facts["attention"] == {"kind": "gqa", "heads": 40, "kv_heads": 8, "head_dim": 128}
    # What the tool writes is what a stack's model.facts accepts.
    shape = config.ModelFacts.model_validate({**facts, "max_context": 131072})
    assert shape.architecture == "NemotronHForCausalLM"


def test_nemotron_nano_9b_v2s_parameters_by_role_add_up_to_its_published_9b():
    groups = model_facts.parameter_groups(_nano())
    # embedding and head V × H (untied): 131,072 × 4,480 each.
    assert groups["embedding"] == groups["head"] == 587_202_560
    # 27 Mamba2 layers: in_proj H × (2 × 10,240 + 2 × 8 × 128 + 128), conv1d 12,288 × 4 and
    # its bias (on unless the config turns it off), A, D, dt_bias 3 × 128, gated norm 10,240,
    # out_proj 10,240 × H; 4 attention layers H × (40 + 16) × 128 + 5,120 × H; 25 MLPs (up,
    # down) 2 × H × 15,680.
    mamba = 4480 * 22656 + 12288 * 5 + 3 * 128 + 10240 + 10240 * 4480
    attention = 4480 * 56 * 128 + 5120 * 4480
    mlp = 2 * 4480 * 15680
    assert groups["sharded_linear"] == 27 * mamba + 4 * attention + 25 * mlp
    assert groups["norms_and_gates"] == 56 * 4480 + 4480
    assert groups["experts"] == groups["replicated_linear"] == 0
    assert sum(groups.values()) / 1e9 == pytest.approx(8.888, abs=0.001)


def test_nemotron_h_moe_layers_are_refused_with_what_was_read():
    moe = {**_nano(), "hybrid_override_pattern": "M*E" + "M" * 53, "n_routed_experts": 128}
    with pytest.raises(model_facts.UnsupportedModel,
                       match="nemotron_h's MoE layers \\(E\\) are not counted"):
        model_facts.parameter_groups(moe)


GRANITE_H = {"architectures": ["GraniteMoeHybridForCausalLM"], "model_type": "granitemoehybrid",
             "vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 3,
             "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 32,
             "shared_intermediate_size": 96, "num_local_experts": 8, "num_experts_per_tok": 2,
             "layer_types": ["mamba", "attention", "mamba"], "mamba_n_heads": 8,
             "mamba_d_head": 16, "mamba_n_groups": 1, "mamba_d_state": 16, "mamba_d_conv": 4,
             "mamba_expand": 2, "mamba_conv_bias": True, "mamba_proj_bias": False,
             "attention_bias": False, "tie_word_embeddings": True,
             "max_position_embeddings": 4096}


def test_a_granite_4_h_config_gives_mamba2_layers_moe_and_shared_mlps():
    """A small config in Granite-4.0-H's keys (granitemoehybrid.py reads mamba_n_heads,
    mamba_d_head, mamba_n_groups, mamba_d_state, mamba_d_conv, mamba_expand; every layer has
    a GraniteMoeMoE with its router and a shared MLP)."""
    facts = model_facts.model_facts(GRANITE_H)
    assert facts["layer_types"] == ["linear_attention", "full_attention", "linear_attention"]
    assert facts["linear_attention"]["kind"] == "mamba2"
    assert facts["attention"] == {"kind": "gqa", "heads": 4, "kv_heads": 2, "head_dim": 16}
    groups = facts["parameters"]
    mamba = (64 * (2 * 128 + 2 * 16 + 8) + (128 + 32) * 4 + (128 + 32) + 3 * 8 + 128
             + 128 * 64)
    attention = 64 * (4 + 4) * 16 + 64 * 64
    shared = 2 * 64 * 96 + 96 * 64
    assert groups["sharded_linear"] == 2 * mamba + attention + 3 * shared
    assert groups["experts"] == 3 * 8 * 3 * 64 * 32
    assert groups["norms_and_gates"] == 3 * (2 * 64 + 8 * 64) + 64
    assert groups["head"] == 0 and groups["embedding"] == 64_000
    assert (facts["experts"], facts["experts_per_token"], facts["moe_intermediate_size"]) == (
        8, 2, 32)


def test_a_missing_ssd_chunk_is_said_not_guessed():
    notes = model_facts.could_not_determine(_nano(), "bf16")
    assert any("chunk_size" in note and "2048" in note for note in notes)
    assert not any("chunk_size" in note for note in model_facts.could_not_determine(
        {**_nano(), "chunk_size": 128}, "bf16"))
