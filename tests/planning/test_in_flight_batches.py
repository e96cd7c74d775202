"""How many batches a sliding window reserves beyond itself from vLLM 0.26:
VllmConfig.max_in_flight_tokens = max_concurrent_batches × max_num_batched_tokens
(vllm/config/vllm.py, read in the 0.26.0–0.34.0 wheels). max_concurrent_batches is PP + 1
with async scheduling on the V2 model runner, 2 with async scheduling at PP 1 on the V1
runner, else PP; the V2 runner is the default for dense and a few MoE architectures in
0.26–0.28 (`_is_default_v2_model_runner_model`) and for every model from 0.29, and 0.34
keeps only the PP + 1 rule (no V1 runner)."""

import pytest

from facts import vllm_features
from facts.vllm_features import parse as V
from planning import kv_layout, memory
from planning.plan import make_plan
from tests.planning.conftest import configured


@pytest.mark.parametrize("pp, async_scheduling, v2_runner, batches", [
    (1, True, True, 2),       # pp_size + 1
    (2, True, True, 3),
    (4, True, True, 5),
    (1, True, False, 2),      # V1 runner, async at PP 1: 2
    (2, True, False, 2),      # V1 runner with PP: falls through to pp_size
    (4, True, False, 4),
    (1, False, True, 1),      # no async scheduling: pp_size
    (4, False, True, 4),
])
def test_concurrent_batches_follow_vllms_max_concurrent_batches(pp, async_scheduling,
                                                                v2_runner, batches):
    assert kv_layout.max_concurrent_batches(pp, async_scheduling, v2_runner) == batches


@pytest.mark.parametrize("version, architecture, moe, hybrid, v2", [
    ("0.26.0", "LlamaForCausalLM", False, False, True),         # dense: V2
    ("0.26.0", "GptOssForCausalLM", True, False, False),        # MoE not listed: V1
    ("0.26.0", "DeepseekV2ForCausalLM", True, False, True),     # listed MoE
    ("0.26.0", "KimiK3ForConditionalGeneration", True, False, False),
    ("0.27.0", "KimiK3ForConditionalGeneration", True, False, True),   # added in 0.27
    ("0.27.0", "DeepseekV4ForCausalLM", True, False, False),
    ("0.28.0", "DeepseekV4ForCausalLM", True, False, True),            # added in 0.28
    ("0.28.0", "Qwen3NextForCausalLM", True, True, False),     # hybrid: V1
    ("0.29.0", "GptOssForCausalLM", True, False, True),        # every model from 0.29
    ("0.29.0", "Qwen3NextForCausalLM", True, True, True),
    ("0.34.0", "GptOssForCausalLM", True, False, True),
])
def test_the_v2_model_runner_is_the_default_where_vllm_makes_it(version, architecture, moe,
                                                                hybrid, v2):
    assert vllm_features.runs_v2_model_runner(V(version), architecture, moe, hybrid) is v2


BASE = {
    "vllmVersion": "0.33.0",
    "model": {"preset": "gpt-oss-120b", "revision": "main", "servedName": "oss",
              "maxModelLen": 131072},
    "gpu": {"type": "h100-80gb", "tensorParallel": 1, "pipelineParallel": 2},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                "readMibPerSecond": 1000},
    "network": {"gatewayNamespaces": ["gateway"]},
}


def _batches(**changes):
    cfg = configured(BASE, **changes)
    plan = make_plan(cfg)
    return memory.in_flight_batches(cfg, plan.model, plan.layout, plan.version), plan


@pytest.mark.parametrize("version, batches", [
    ("0.25.0", 1),      # one max_num_batched_tokens before 0.26
    ("0.26.0", 2),      # gpt-oss is MoE and not listed: V1 runner, PP 2
    ("0.28.0", 2),
    ("0.29.0", 3),      # V2 runner for every model: PP + 1
    ("0.33.0", 3),
    ("0.34.0", 3),
])
def test_gpt_oss_on_two_pipeline_stages_reserves_the_batches_vllm_keeps_in_flight(version,
                                                                                  batches):
    assert _batches(vllmVersion=version)[0] == batches


@pytest.mark.parametrize("pp", [1, 4])
def test_before_0_26_a_window_keeps_one_batch_whatever_the_pipeline(pp):
    from types import SimpleNamespace
    from planning.layout import Layout
    cfg = configured(BASE, vllmVersion="0.25.0")
    model = SimpleNamespace(architecture="GptOssForCausalLM", experts=128, layer_types=None)
    assert memory.in_flight_batches(cfg, model, Layout(1, pp), V("0.25.0")) == 1


def test_no_async_scheduling_keeps_one_batch_per_stage():
    assert _batches(engine={"extraArgs": ["--no-async-scheduling"]})[0] == 2
    assert _batches(engine={"extraArgs": ["--no-async-scheduling",
                                          "--async-scheduling"]})[0] == 3   # the last wins


def test_the_window_reserves_pp_plus_one_batches_in_the_plan():
    # gpt-oss-120b's sliding layers (128-token window) take, per maxModelLen request,
    # ceil((128 − 1 + batches × max_num_batched_tokens) / 16) + 1 blocks beside the full
    # layers' 131072 / 16 (SlidingWindowSpec max_admission_blocks_per_request).
    batches, plan = _batches()
    two, plain = _batches(engine={"extraArgs": ["--no-async-scheduling"]})
    tokens = plan.engine.max_num_batched_tokens

    def per_request(n):
        return 131072 // 16 + -(-(128 - 1 + n * tokens) // 16) + 1

    assert (batches, two) == (3, 2)
    assert plan.kv.request_gib / plain.kv.request_gib == pytest.approx(
        per_request(3) / per_request(2))
    assert f"{batches} batches of {tokens} tokens in flight" in plan.kv.reason


@pytest.mark.parametrize("layer_types, batches", [
    (["sliding_attention", "full_attention"], 3),     # windows: not hybrid to vLLM, V2
    (["linear_attention", "full_attention"], 2),      # state layers: is_hybrid, V1 in 0.26
])
def test_only_state_layers_make_a_model_hybrid_to_vllms_runner_choice(layer_types, batches):
    # ModelConfig.is_hybrid is the IsHybrid interface (Mamba / linear-attention layers).
    from types import SimpleNamespace
    from planning.layout import Layout
    cfg = configured(BASE, vllmVersion="0.26.0")
    dense = SimpleNamespace(architecture="Gemma3ForCausalLM", experts=None,
                            layer_types=layer_types)
    assert memory.in_flight_batches(cfg, dense, Layout(1, 2), V("0.26.0")) == batches


@pytest.mark.parametrize("architecture, batches", [
    ("DeepseekV2ForCausalLM", 3),     # in DEFAULT_V2_MODEL_RUNNER_ARCHITECTURES: PP + 1
    ("MixtralForCausalLM", 2),        # an MoE model outside it: V1, PP
])
def test_in_0_26_an_moe_models_architecture_picks_its_runner(architecture, batches):
    from types import SimpleNamespace
    from planning.layout import Layout
    cfg = configured(BASE, vllmVersion="0.26.0")
    model = SimpleNamespace(architecture=architecture, experts=64, layer_types=None)
    assert memory.in_flight_batches(cfg, model, Layout(1, 2), V("0.26.0")) == batches
