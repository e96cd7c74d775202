"""tools.model_facts reads Kimi-Linear (model_type kimi_linear): its KDA linear-attention
layers and MLA layers (linear_attn_config) are written as layer_types and a KDA
linear_attention the plan sizes (planning/kv_layout.py kda_state_bytes), its parameters by
role counted where vLLM's kimi_linear.py and kda.py keep them.

The fixture (tests/fixtures/kimi-linear-48b-a3b.config.json) says in `_mirrors` where its
values were transcribed from."""

import json
import pathlib

import pytest
import yaml

from planning import config
from tools import model_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
KIMI_LINEAR = FIXTURES / "kimi-linear-48b-a3b.config.json"


def _config():
    return json.loads(KIMI_LINEAR.read_text(encoding="utf-8"))


def test_kimi_linear_is_written_as_kda_and_mla_layers_the_config_accepts(capsys):
    status = model_facts.main([str(KIMI_LINEAR)])
    out, _ = capsys.readouterr()
    assert status == 0
    [facts] = yaml.safe_load("models:\n" + out)["models"].values()
    kinds = facts["layer_types"]
    # linear_attn_config.full_attn_layers [4, 8, ..., 24, 27] (1-based) are MLA.
    assert [i + 1 for i, kind in enumerate(kinds) if kind == "full_attention"] == [
        4, 8, 12, 16, 20, 24, 27]
    assert kinds.count("linear_attention") == 20
    assert facts["linear_attention"] == {"kind": "kda", "num_key_heads": 32,
                                         "num_value_heads": 32, "key_head_dim": 128,
                                         "value_head_dim": 128, "conv_kernel_dim": 4}
    assert facts["attention"] == {"kind": "mla", "heads": 32, "kv_lora_rank": 512,
                                  "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
                                  "v_head_dim": 128}
    facts.update(hf_id="moonshotai/Kimi-Linear-48B-A3B-Instruct", max_context=131072,
                 min_vllm="0.12.0", min_compute_capability=8.0)
    model = config.ModelFacts.model_validate(facts)
    assert model.linear_attention.kind == "kda" and model.experts == 256


def test_kimi_linear_counts_kda_mla_and_moe_where_vllm_keeps_them():
    groups = model_facts.parameter_groups(_config())
    hidden, proj = 2304, 32 * 128
    kda_sharded = (3 * hidden * proj + 2 * 128 * proj + hidden * 32 + proj * hidden
                   + 3 * proj * 4 + proj + 32)
    mla_sharded = hidden * 32 * 192 + 512 * 32 * 256 + 32 * 128 * hidden
    assert groups["experts"] == 26 * 256 * 3 * hidden * 1024          # layer 0 is dense
    assert groups["replicated_linear"] == 20 * 2 * hidden * 128 + 7 * hidden * (512 + 64)
    assert groups["sharded_linear"] == (20 * kda_sharded + 7 * mla_sharded
                                        + 3 * hidden * 9216 + 26 * 3 * hidden * 1024)
    assert groups["norms_and_gates"] == (20 * 128 + 7 * 512 + 26 * (256 * hidden + 256)
                                         + 27 * 2 * hidden + hidden)
    assert groups["head"] == groups["embedding"] == 163840 * hidden
    assert sum(groups.values()) / 1e9 == pytest.approx(49.1, abs=0.05)


def test_a_kimi_linear_config_without_kda_layers_is_refused_with_what_was_read():
    broken = _config()
    del broken["linear_attn_config"]
    with pytest.raises(model_facts.UnsupportedModel) as error:
        model_facts.model_facts(broken)
    assert "kimi_linear" in str(error.value) and "kda_layers" in str(error.value)
