"""Each feasibility check refuses exactly past its boundary, and the fixes it suggests are the
ones that would work.

A check reads a drafted plan. To put a figure exactly on a boundary (a KV budget of 0 GiB, a
start of exactly vLLM's 600 s engine wait) the tests take a valid plan of a small stack and
replace one of its typed sections, then call the check itself; the stack-level refusals are in
tests/planning/test_plan_steps.py and tests/planning/test_multinode_plan.py.
"""

import dataclasses
import json
import pathlib

import pytest

from planning import checks, config, host
from planning.layout import Layout, candidate_layouts, launcher
from planning.plan import make_plan
from tools import model_facts
from facts.vllm_features import parse as V
from planning.stack_files import stack_values
from tests.planning.conftest import configured

BASE = {
    "vllmVersion": "0.20.0",
    "model": {"preset": "deepseek-r1-distill-qwen-7b", "revision": "main", "servedName": "m",
              "maxModelLen": 16384},
    "gpu": {"type": "l4"},                                  # 21.96 GiB, 8 per node
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"}, "readMibPerSecond": 250},
    "network": {"gatewayNamespaces": ["gateway"]},
}
RWO = {"mode": "pvc", "nfs": None, "pvc": {"storageClass": "disk",
                                           "accessMode": "ReadWriteOnce"}}


def stack(**changes) -> config.StackConfig:
    return configured(BASE, **changes)


def drafted(cfg=None, **sections):
    """A valid plan of `cfg` (the base stack by default) with some sections replaced: each
    keyword is a section name and a dict of the fields to change in it."""
    cfg = cfg or stack()
    plan = make_plan(cfg)
    replaced = {name: dataclasses.replace(getattr(plan, name), **fields)
                for name, fields in sections.items()}
    return dataclasses.replace(plan, **replaced)


def with_layout(cfg, plan, layout):
    """The drafted plan on another layout, with the launcher the plan derives for it."""
    return dataclasses.replace(plan, layout=layout, launcher=launcher(cfg, plan.version, layout))


def on_layout(cfg, tp, pp=1, dp=1, nodes=1, ep=False):
    return with_layout(cfg, drafted(cfg), Layout(tp, pp, dp, ep, nodes))


# --- memory -----------------------------------------------------------------------------------

def test_weights_fit_only_with_some_kv_budget_left():
    cfg = stack()
    assert checks.weights_fit(cfg, drafted(kv={"budget_gib": 0.5})) is None
    refused = checks.weights_fit(cfg, drafted(kv={"budget_gib": 0.0}))
    assert refused.startswith("model: the weights do not fit")


def test_one_request_must_fit_the_cache_when_there_is_one():
    # The longest request that fits decides (vLLM's per-group check; planning/kv_layout.py);
    # for one group of full attention it is the token count.
    cfg = stack()          # maxModelLen 16384
    assert checks.one_request_fits(cfg, drafted(kv={"tokens_per_rank": 16384,
                                                    "longest_request": 16384})) is None
    short = drafted(kv={"budget_gib": 0.5, "tokens_per_rank": 16368,
                        "longest_request": 16368})
    assert checks.one_request_fits(cfg, short).startswith(
        "model.maxModelLen: one 16384-token request needs")
    # No budget at all is weights_fit's problem, reported once.
    assert checks.one_request_fits(cfg, drafted(kv={"budget_gib": 0.0,
                                                    "tokens_per_rank": 0,
                                                    "longest_request": 0})) is None


# MiniMax-M2.1 on A100 40GB at TP 2 × PP 4: stage 1 has the fewest KV blocks (it holds as much
# as stage 2 and more than stages 0 and 3), while the sampler's activation peak is the last
# stage's: a refusal must quote stage 1's own figures, not the fullest of every stage.
STAGED = {"model": {"preset": "minimax-m2.1", "revision": "main", "servedName": "m",
                    "maxModelLen": 4096},
          "gpu": {"type": "a100-40gb", "tensorParallel": 2, "pipelineParallel": 4}}


def _staged_plan(**sections):
    cfg = stack(**STAGED)
    plan = drafted(cfg, **sections)
    weights, peaks = plan.weights.per_stage_gib, plan.activations.stage_peaks_gib
    # The case needs a binding stage whose peak is not the largest.
    assert plan.kv.binding_stage == 1 and peaks[1] < max(peaks) and len(weights) == 4
    return cfg, plan, weights[1], peaks[1], plan.activations.non_torch_gib


def test_a_weights_refusal_quotes_the_binding_pipeline_stages_own_weights_and_activations():
    cfg, plan, weights, peak, non_torch = _staged_plan(kv={"budget_gib": -0.5},
                                                        activations={"moe_workspace_gib": 0.0})
    refused = checks.weights_fit(cfg, plan)
    assert (f"{weights:.1f} GiB per GPU at TP 2 × PP 4 × DP 1 on pipeline stage 2 of 4, the "
            "stage with the least room, but" in refused)
    assert (f"before activations {peak:.2f} GiB and non-torch {non_torch:.2f} GiB on that "
            f"stage" in refused)
    assert f"activations {plan.activations.peak_gib:.2f}" not in refused
    memory, utilization = plan.gpu.memory_gib, plan.engine.gpu_memory_utilization
    assert f"offers {memory:.1f} GiB × {utilization} = {memory * utilization:.1f} GiB" in refused


def test_a_workspace_refusal_quotes_the_binding_pipeline_stages_own_weights():
    cfg, plan, weights, _, _ = _staged_plan(kv={"budget_gib": -0.5},
                                            weights={"per_gpu_gib": 30.0})
    refused = checks.weights_fit(cfg, plan)
    assert refused.startswith("engine.maxNumBatchedTokens: the weights fit but")
    assert (f"− weights {weights:.1f} GiB on pipeline stage 2 of 4, the stage with the least "
            "room; lower" in refused)


def test_a_request_refusal_quotes_the_binding_pipeline_stages_own_budget_and_its_terms():
    cfg, plan, weights, peak, non_torch = _staged_plan(
        kv={"budget_gib": 0.4, "tokens_per_rank": 2048, "longest_request": 2048})
    refused = checks.one_request_fits(cfg, plan)
    assert refused.startswith("model.maxModelLen: one 4096-token request needs")
    assert f"({plan.kv.bytes_per_token / 1024:.1f} KiB per token)" in refused
    assert (f"only 0.4 GiB is left per GPU on pipeline stage 2 of 4, the stage with the least "
            f"room ({plan.gpu.memory_gib} GiB × {plan.engine.gpu_memory_utilization} − "
            f"weights {weights:.2f} − activations {peak:.2f} − non-torch {non_torch:.2f})"
            in refused)


def test_a_refusal_with_one_pipeline_stage_names_no_stage():
    plan = drafted(kv={"budget_gib": 0.0})
    refused = checks.weights_fit(stack(), plan)
    assert "stage" not in refused
    assert f"non-torch {plan.activations.non_torch_gib:.2f} GiB, leaving " in refused


def test_a_refusal_names_the_binding_stage_of_two_counting_from_one():
    # r1-h100 (TP 8 × PP 2): the second stage (index 1) holds the head and the sampler, and
    # binds; people count stages from 1, so the message says "stage 2 of 2", never "0 of 2".
    plan = drafted(config.parse(stack_values("r1-h100")), kv={"budget_gib": 0.0})
    assert plan.kv.binding_stage == 1
    assert "on pipeline stage 2 of 2, the stage with the least room" in checks.weights_fit(
        config.parse(stack_values("r1-h100")), plan)


def test_a_stack_whose_second_stage_is_short_is_refused_naming_stage_2():
    values = {**STAGED, "engine": {"gpuMemoryUtilization": 0.6}}
    with pytest.raises(config.ConfigError) as refused:
        make_plan(stack(**values))
    assert "on pipeline stage 2 of 4, the stage with the least room, but" in str(refused.value)


def test_a_stage_whose_weights_fit_beside_its_own_peak_blames_the_workspace_not_the_weights():
    # Stage 1 binds: 27.4 GiB of weights + its 1.95 GiB peak (0.45 forward + 1.50 workspace at
    # 16384 tokens) + 3.05 non-torch = 32.4 > 39.38 × 0.79 = 31.1 GiB, but without the workspace
    # 30.9 GiB fits, and 2048 batched tokens plan. Deciding with the last stage's sampler peak
    # (2.17 GiB) beside stage 1's weights said "the weights do not fit".
    values = {**STAGED, "engine": {"gpuMemoryUtilization": 0.79, "maxNumBatchedTokens": 16384}}
    with pytest.raises(config.ConfigError) as refused:
        make_plan(stack(**values))
    assert "engine.maxNumBatchedTokens: the weights fit but the fused-MoE workspace does not" in (
        str(refused.value))
    assert "the weights do not fit" not in str(refused.value)
    smaller = {**STAGED, "engine": {"gpuMemoryUtilization": 0.79, "maxNumBatchedTokens": 2048}}
    assert make_plan(stack(**smaller)).kv.budget_gib > 0


def test_from_vllm_0_34_the_workspace_is_blamed_only_if_the_measured_budget_fits_without_it():
    # vLLM 0.34 keeps the CUDA-graph estimate and a margin out of the KV budget too: stage 1's
    # 27.41 + 0.24 + 3.05 GiB and 1 GiB of graphs exceed 39.38 × 0.8 = 31.5 GiB even without
    # the 0.19 GiB workspace of 2048 tokens, so fewer batched tokens cannot help.
    values = {**STAGED, "vllmVersion": "0.34.0",
              "engine": {"gpuMemoryUtilization": 0.8, "maxNumBatchedTokens": 2048}}
    with pytest.raises(config.ConfigError) as refused:
        make_plan(stack(**values))
    assert "model: the weights do not fit" in str(refused.value)
    assert "fused-MoE workspace does not" not in str(refused.value)
    # 27.41 + 0.24 + 3.05 GiB is under 31.5: the refusal says what else vLLM 0.34 keeps out.
    assert "CUDA-graph estimate 1.00" in str(refused.value)


def test_a_request_refusal_from_vllm_0_34_quotes_the_measured_budgets_own_arithmetic():
    # 39.38 × 0.9 − 27.41 − 0.24 − 3.05 is 4.74 GiB, not the 3.7 left: vLLM 0.34 also keeps
    # the CUDA-graph estimate and a margin out (memory._kv_budget's measured rule).
    values = {**STAGED, "vllmVersion": "0.34.0", "engine": {"gpuMemoryUtilization": 0.9},
              "model": {**STAGED["model"], "maxModelLen": 196608}}
    with pytest.raises(config.ConfigError) as refused:
        make_plan(stack(**values))
    message = str(refused.value)
    assert "but only 3.7 GiB is left per GPU on pipeline stage 2 of 4" in message
    assert "measured after CUDA-graph capture" in message
    assert "CUDA-graph estimate 1.00" in message


# --- start-up ---------------------------------------------------------------------------------

def test_a_budget_equal_to_the_estimate_is_enough():
    plan = drafted()
    at = drafted(startup={"budget_seconds": plan.startup.estimated_seconds})
    assert checks.budget_not_below_estimate(stack(), at) is None
    below = drafted(startup={"budget_seconds": plan.startup.estimated_seconds - 1})
    assert "below the estimated start" in checks.budget_not_below_estimate(stack(), below)


OLD = {"vllmVersion": "0.10.0", "multiNode": {"launcher": "ray"},
       "image": {"build": True, "registry": "registry.example.com/ml",
                 "extraPipPackages": ["ray[default]==2.49.0"]}}


def on_two_ray_nodes(estimated, phases):
    """An R1-distill replica on 2 nodes started by Ray on vLLM 0.10 (no engine-wait setting)."""
    cfg = stack(**OLD)
    plan = drafted(cfg, startup={"estimated_seconds": estimated, "engine_phases": phases})
    return cfg, with_layout(cfg, plan, Layout(8, 2, 1, False, 2))


def test_before_0_14_one_api_server_waits_for_its_engine_however_long_it_loads():
    # The API server launches the engine and waits for its READY without a deadline
    # (facts/vllm_features.py engine_ready_deadline_binds): 900 s on Ray is accepted.
    cfg, plan = on_two_ray_nodes(900, {"process": 700, "peer image pull": 200})
    assert checks.engine_start_within_vllms_deadline(cfg, plan) is None
    single = stack(vllmVersion="0.11.0")
    assert checks.engine_start_within_vllms_deadline(
        single, drafted(single, startup={"estimated_seconds": 900})) is None


def test_a_vllm_0_11_single_node_stack_starting_in_900_s_is_planned():
    cfg = stack(vllmVersion="0.11.0", storage={**BASE["storage"], "readMibPerSecond": 17})
    assert make_plan(cfg).startup.estimated_seconds > 900


def test_before_0_14_several_api_servers_count_the_start_after_the_ray_cluster_forms(
        monkeypatch):
    # Were a pod to run two API servers (run_multi_api_server), each would poll 600 s.
    monkeypatch.setattr(host, "API_SERVERS_PER_POD", 2)
    # 900 s estimated, of which 200 s is peers pulling the image before Ray starts vLLM:
    # 700 s > 600 s.
    cfg, plan = on_two_ray_nodes(900, {"process": 700, "peer image pull": 200})
    assert "the estimated start of 700 s exceeds" in checks.engine_start_within_vllms_deadline(
        cfg, plan)
    # 800 − 200 = exactly 600 s: allowed.
    assert checks.engine_start_within_vllms_deadline(
        cfg, on_two_ray_nodes(800, {"process": 600, "peer image pull": 200})[1]) is None
    # A measured engine start has no pull phase: all of it counts, 601 s is over.
    assert "601 s exceeds" in checks.engine_start_within_vllms_deadline(
        cfg, on_two_ray_nodes(601, {"measured": 601})[1])


def test_the_engine_wait_is_not_a_limit_where_the_version_can_raise_it():
    cfg = stack()
    assert checks.engine_start_within_vllms_deadline(
        cfg, drafted(startup={"estimated_seconds": 5000})) is None


# --- layout -----------------------------------------------------------------------------------

def test_a_single_node_replica_uses_at_most_the_nodes_gpus():
    cfg = stack()                                             # L4: 8 per node
    assert checks.replica_fits_its_nodes(cfg, on_layout(cfg, 8)) is None
    assert "gpu.layout is single-node" in checks.replica_fits_its_nodes(
        cfg, on_layout(cfg, 8, pp=2))
    assert checks.replica_fits_its_nodes(cfg, on_layout(cfg, 2, pp=2, dp=2)) is None


def test_a_replica_across_nodes_fills_whole_nodes_with_pipeline_or_data_parallelism():
    cfg = stack()
    assert checks.replica_fits_its_nodes(cfg, on_layout(cfg, 8, pp=2, nodes=2)) is None
    assert checks.replica_fits_its_nodes(cfg, on_layout(cfg, 4, dp=4, nodes=2, ep=True)) is None
    assert "does not fill 2 nodes" in checks.replica_fits_its_nodes(
        cfg, on_layout(cfg, 4, pp=2, nodes=2))
    assert "mixes pipeline and data parallelism" in checks.replica_fits_its_nodes(
        cfg, on_layout(cfg, 4, pp=2, dp=2, nodes=2))
    # Beyond a node, tensor_parallel_stays_in_a_node says why; this check stays quiet.
    assert checks.replica_fits_its_nodes(cfg, on_layout(cfg, 16)) is None


def test_from_0_18_ray_needs_ray_in_a_built_image():
    # vLLM's wheels require ray[cgraph] up to 0.17.x, not from 0.18.0.
    plan_of = lambda cfg: dataclasses.replace(on_layout(cfg, 8, pp=2, nodes=2),  # noqa: E731
                                              version=V("0.18.0"))
    new = {**OLD, "vllmVersion": "0.18.0"}
    with_ray = stack(**new)
    assert checks.multi_node_launcher_exists(with_ray, plan_of(with_ray)) is None
    numpy_only = stack(**{**new, "image": {**OLD["image"], "extraPipPackages": ["numpy==2.0.0"]}})
    assert checks.multi_node_launcher_exists(numpy_only, plan_of(numpy_only)) == (
        "multiNode.launcher: Ray is not in the vllm/vllm-openai image of 0.18.0 (vLLM no longer "
        "depends on it from 0.18.0); build the image with Ray: image.build: true and "
        "image.extraPipPackages: [ray==<version>], or use multiNode.launcher: native")
    # Listing Ray without building the image installs nothing.
    not_built = stack(**{**new, "image": {"build": False, "extraPipPackages": ["ray==2.49.0"]}})
    assert "Ray is not in" in checks.multi_node_launcher_exists(not_built, plan_of(not_built))


def test_before_0_18_the_stock_image_ships_ray():
    stock = stack(vllmVersion="0.17.1", multiNode={"launcher": "ray"})
    plan = dataclasses.replace(on_layout(stock, 8, pp=2, nodes=2), version=V("0.17.1"))
    assert checks.multi_node_launcher_exists(stock, plan) is None


def test_the_native_launch_needs_0_11_1_and_auto_falls_back_to_ray_only_for_tp_and_pp():
    native_old = stack(vllmVersion="0.10.0", multiNode={"launcher": "native"})
    message = checks.multi_node_launcher_exists(native_old, on_layout(native_old, 8, pp=2,
                                                                      nodes=2))
    assert message.endswith("from 0.11.1); raise vllmVersion, or use multiNode.launcher: ray")
    auto_old = stack(vllmVersion="0.10.0")
    message = checks.multi_node_launcher_exists(auto_old, on_layout(auto_old, 4, dp=4, nodes=2,
                                                                    ep=True))
    assert message.endswith("from 0.11.1); raise vllmVersion")
    # auto on 0.10 with TP × PP is Ray, which 0.10's image ships.
    assert checks.multi_node_launcher_exists(auto_old, on_layout(auto_old, 8, pp=2,
                                                                 nodes=2)) is None
    # From 0.11.1 auto is the native launch for both.
    auto_new = stack(vllmVersion="0.11.1")
    assert checks.multi_node_launcher_exists(auto_new, on_layout(auto_new, 4, dp=4, nodes=2,
                                                                 ep=True)) is None
    assert checks.multi_node_launcher_exists(auto_new, on_layout(auto_new, 8, pp=2,
                                                                 nodes=2)) is None
    ray_dp = stack(**{**OLD, "vllmVersion": "0.11.1"})
    assert "ray launches TP × PP groups only" in checks.multi_node_launcher_exists(
        ray_dp, on_layout(ray_dp, 4, dp=4, nodes=2, ep=True))


def test_two_data_parallel_ranks_already_need_the_native_launch():
    auto_old = stack(vllmVersion="0.10.0")
    message = checks.multi_node_launcher_exists(auto_old, on_layout(auto_old, 8, dp=2, nodes=2,
                                                                    ep=True))
    assert message.endswith("from 0.11.1); raise vllmVersion")
    ray_dp = stack(**{**OLD, "vllmVersion": "0.11.1"})
    assert "ray launches TP × PP groups only" in checks.multi_node_launcher_exists(
        ray_dp, on_layout(ray_dp, 8, dp=2, nodes=2, ep=True))


# --- storage ----------------------------------------------------------------------------------

def test_read_write_once_weights_serve_one_pod_at_a_time():
    cfg = stack(storage=RWO)
    one = drafted(cfg)
    assert one.rollout.max_replicas == 1 and one.rollout.surge == 0
    assert checks.single_attach_single_replica(cfg, one) is None
    assert checks.single_attach_without_surge(cfg, one) is None
    two = dataclasses.replace(one, rollout=dataclasses.replace(one.rollout, max_replicas=2))
    assert "ReadWriteOnce with 2 replicas" in checks.single_attach_single_replica(cfg, two)
    surge = dataclasses.replace(one, rollout=dataclasses.replace(one.rollout, surge=1))
    assert "Multi-Attach" in checks.single_attach_without_surge(cfg, surge)
    group = dataclasses.replace(one, layout=Layout(8, 2, 1, False, 2))
    assert "a replica spanning 2 nodes" in checks.single_attach_single_replica(cfg, group)
    # ReadWriteMany serves them all.
    shared = stack(storage={**RWO, "pvc": {"storageClass": "nfs", "accessMode": "ReadWriteMany"}})
    assert checks.single_attach_single_replica(shared, two) is None
    assert checks.single_attach_without_surge(shared, surge) is None


# --- autoscaling ------------------------------------------------------------------------------

SCALING = {"enabled": True, "minReplicas": 1, "maxReplicas": 3}


def test_the_expected_request_may_be_as_long_as_the_context():
    at = stack(autoscaling={**SCALING, "expectedRequestTokens": 16384})
    assert checks.expected_request_fits_the_context(at, drafted(at)) is None
    over = stack(autoscaling={**SCALING, "expectedRequestTokens": 16385})
    assert "16385 is longer than model.maxModelLen" in (
        checks.expected_request_fits_the_context(over, drafted(at)))


def test_the_autoscaler_target_stays_below_the_kv_alert():
    def problem(target, alert, monitoring=True):
        cfg = stack(autoscaling={**SCALING, "targetUtilization": target},
                    monitoring={"enabled": monitoring, "thresholds": {"kvCacheUsage": alert}})
        return checks.target_below_the_kv_alert(cfg, drafted(stack()))
    assert problem(0.7, 0.9) is None
    assert "would hold every replica's KV cache" in problem(0.9, 0.9)
    assert problem(0.9, 0.9, monitoring=False) is None


# --- parsers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("key, check", [
    ("reasoningParser", checks.reasoning_parser_in_the_pinned_version),
    ("toolCallParser", checks.tool_call_parser_in_the_pinned_version),
])
def test_each_parser_must_be_in_the_pinned_version(key, check):
    plan = drafted()
    old = stack(vllmVersion="0.8.0", model={key: "deepseek_v3"})     # deepseek_v3: 0.8.3
    assert check(old, dataclasses.replace(plan, version=V("0.8.0"))) == (
        f"model.{key}: deepseek_v3 is not in vLLM 0.8.0; raise vllmVersion, use auto (the "
        "model's parser when the pinned version has it) or null")
    assert check(stack(vllmVersion="0.8.0", model={key: "auto"}),
                 dataclasses.replace(plan, version=V("0.8.0"))) is None
    assert check(stack(vllmVersion="0.8.3", model={key: "deepseek_v3"}),
                 dataclasses.replace(plan, version=V("0.8.3"))) is None


# --- what would make it fit -------------------------------------------------------------------

def test_the_fix_offers_the_smallest_larger_tensor_parallel_that_fits():
    # The 14B distill (29.5 GiB in BF16) does not fit one 21.96 GiB L4; TP 2 fits 16k tokens.
    cfg = stack(model={"preset": "deepseek-r1-distill-qwen-14b"}, gpu={"type": "l4",
                                                                       "tensorParallel": 1})
    with pytest.raises(config.ConfigError) as error:
        make_plan(cfg)
    assert "to fix, set gpu.tensorParallel: 2, or model.quantization: fp8" in str(error.value)


def test_the_fix_may_be_a_tensor_parallel_of_the_whole_node():
    # The 70B distill (131 GiB) at TP 4 on L4 is 33 GiB per GPU; at TP 8 (all 8 GPUs of a node)
    # 16.4 GiB, which fits.
    cfg = stack(model={"preset": "deepseek-r1-distill-llama-70b", "maxModelLen": 8192},
                gpu={"type": "l4", "tensorParallel": 4})
    with pytest.raises(config.ConfigError) as error:
        make_plan(cfg)
    assert "to fix, set gpu.tensorParallel: 8" in str(error.value)


def test_a_larger_tensor_parallel_keeps_expert_parallelism_when_it_is_tried():
    # V2-Lite at TP 1 × DP 2 with EP leaves too little KV for 131072 tokens; at TP 2 × DP 2 the
    # experts spread over 4 GPUs and it fits. Without EP they would spread over 2 and not fit.
    cfg = stack(model={"preset": "deepseek-v2-lite", "maxModelLen": 131072,
                       "trustRemoteCode": True},
                gpu={"type": "l4", "tensorParallel": 1, "dataParallel": 2,
                     "expertParallel": True})
    with pytest.raises(config.ConfigError) as error:
        make_plan(cfg)
    assert "to fix, set gpu.tensorParallel: 2" in str(error.value)


def test_the_fix_offers_the_longest_context_the_cache_holds_in_whole_kibi_tokens():
    cfg = stack()
    assert "model.maxModelLen: 9216 or less" in checks.suggest(
        cfg, drafted(kv={"budget_gib": 0.5, "tokens_per_rank": 9362,
                         "longest_request": 9362}))
    assert "model.maxModelLen: 1024 or less" in checks.suggest(
        cfg, drafted(kv={"budget_gib": 0.5, "tokens_per_rank": 1024,
                         "longest_request": 1024}))
    assert "maxModelLen" not in checks.suggest(
        cfg, drafted(kv={"budget_gib": 0.5, "tokens_per_rank": 1023,
                         "longest_request": 1023}))


def test_the_fix_offers_a_higher_memory_utilization_when_that_is_enough():
    one = {"type": "l4", "tensorParallel": 1}
    roomy = make_plan(stack(engine={"gpuMemoryUtilization": 0.95}, model={"maxModelLen": 4096},
                            gpu=one))
    tight = make_plan(stack(model={"maxModelLen": 4096}, gpu=one))  # 0.20's default, 0.92
    assert roomy.kv.tokens_per_rank > tight.kv.tokens_per_rank + 16
    length = tight.kv.tokens_per_rank + 16          # fits at 0.95, not at 0.92
    with pytest.raises(config.ConfigError) as error:
        make_plan(stack(model={"maxModelLen": length}, gpu=one))
    assert "or engine.gpuMemoryUtilization: 0.95" in str(error.value)
    # 0.19's default is 0.9: 0.92 comes first.
    length = make_plan(stack(vllmVersion="0.19.0", model={"maxModelLen": 4096}, gpu=one)
                       ).kv.tokens_per_rank + 16
    with pytest.raises(config.ConfigError) as error:
        make_plan(stack(vllmVersion="0.19.0", model={"maxModelLen": length}, gpu=one))
    assert "or engine.gpuMemoryUtilization: 0.92" in str(error.value)


def test_without_a_single_node_fix_the_advice_is_to_span_nodes_or_change_the_model():
    r1 = {"preset": "deepseek-r1", "maxModelLen": 8192, "trustRemoteCode": True}
    held = stack(model=r1, gpu={"type": "l4", "layout": "single-node"})
    # 700 GiB of weights against a node of 8 × 21.96 GiB L4 (176 GiB; 0.9 × 176 = 158).
    nothing_left = drafted(kv={"budget_gib": 0.0, "tokens_per_rank": 0},
                           weights={"total_gib": 700.0})
    assert "let the replica span nodes (gpu.layout: auto)" in checks.suggest(
        held, dataclasses.replace(nothing_left, model=held.model.shape))
    free = stack(model=r1, gpu={"type": "l4"})
    assert "no layout of up to 8 nodes fits" in checks.suggest(
        free, dataclasses.replace(nothing_left, model=free.model.shape))
    # 170 GiB is more than 0.9 of the node (158 GiB) though less than the node itself.
    over = dataclasses.replace(nothing_left, weights=dataclasses.replace(
        nothing_left.weights, total_gib=170.0))
    assert "no layout of up to 8 nodes fits" in checks.suggest(
        free, dataclasses.replace(over, model=free.model.shape))
    # Exactly 0.9 of the node is not more than a node can take: a 20 GiB GPU, 8 per node,
    # 160 GiB × 0.9 = 144 GiB (exact in binary floating point).
    custom = {"productLabels": ["X"], "memoryGib": 20.0, "computeCapability": 9.0, "perNode": 8}
    edge = dataclasses.replace(nothing_left, weights=dataclasses.replace(
        nothing_left.weights, total_gib=144.0))
    for layout in ("single-node", "auto"):
        cfg = stack(model=r1, gpu={**custom, "layout": layout})
        on_custom = dataclasses.replace(edge, model=cfg.model.shape, gpu=cfg.gpu.resolved())
        assert checks.suggest(cfg, on_custom).startswith("no single-node change makes it fit")
        over = dataclasses.replace(on_custom, weights=dataclasses.replace(
            on_custom.weights, total_gib=144.5))
        assert checks.suggest(cfg, over).startswith("the weights (144 GiB) need more than")
    # Weights within a node that still fit no single-node change: no node-level advice.
    within = dataclasses.replace(nothing_left, weights=dataclasses.replace(
        nothing_left.weights, total_gib=150.0))
    assert checks.suggest(held, dataclasses.replace(within, model=held.model.shape)) == (
        "no single-node change makes it fit; choose a smaller or quantized model or larger GPUs")


# --- linear attention shards its heads over the TP ranks ----------------------------------------

KIMI_LINEAR = (pathlib.Path(__file__).resolve().parents[1] / "fixtures"
               / "kimi-linear-48b-a3b.config.json")


def _linear_stack(tensor_parallel: int, **linear_changes) -> config.StackConfig:
    """Kimi-Linear-48B (32 MLA heads, 32 KDA heads) with its linear-attention shape changed."""
    facts = model_facts.model_facts(json.loads(KIMI_LINEAR.read_text(encoding="utf-8")))
    facts.update(hf_id="moonshotai/Kimi-Linear-48B-A3B-Instruct", max_context=131072,
                 min_vllm="0.12.0", min_compute_capability=8.0)
    facts["linear_attention"] = {**facts["linear_attention"], **linear_changes}
    return configured(BASE, vllmVersion="0.32.0",
                      model={"preset": None, "facts": facts, "trustRemoteCode": True},
                      gpu={"type": "h100-80gb", "tensorParallel": tensor_parallel})


@pytest.mark.parametrize("heads_key", ["num_value_heads", "num_key_heads"])
def test_tensor_parallel_must_divide_the_linear_attention_heads(heads_key):
    # vLLM shards linear attention per head and asserts it with divide() (distributed/utils.py
    # ensure_divisibility): kimi_gdn_linear_attn.py divide(num_heads, tp_size), qwen_gdn_linear
    # _attn.py divide(num_v_heads, tp_size) and num_k_heads // tp_size groups. 32 MLA heads
    # split over TP 8; 20 linear heads do not.
    with pytest.raises(config.ConfigError) as error:
        make_plan(_linear_stack(8, **{heads_key: 20}))
    assert ("gpu.tensorParallel: 8 does not divide the model's 20 linear-attention "
            "heads") in str(error.value)
    assert "use one of [1, 2, 4]" in str(error.value)     # the divisors of gcd(32, 20) = 4


def test_the_automatic_layout_tries_only_sizes_dividing_the_linear_attention_heads():
    cfg = _linear_stack(8, num_value_heads=20)
    auto = cfg.model_copy(update={"gpu": cfg.gpu.model_copy(update={"tensor_parallel": None})})
    plan = make_plan(_linear_stack(4, num_value_heads=20))
    sizes = {layout.tensor_parallel for layout in candidate_layouts(auto, plan.model, plan.gpu)}
    assert sizes == {1, 2, 4}


def test_tensor_parallel_dividing_the_linear_attention_heads_is_accepted():
    # 20 linear heads over TP 4 (5 a rank), 32 MLA heads over TP 4 (8 a rank).
    plan = make_plan(_linear_stack(4, num_key_heads=20, num_value_heads=20))
    assert plan.layout.tensor_parallel == 4


@pytest.mark.parametrize("tokens, seqs, refused", [(512, 513, True), (512, 512, False)])
def test_a_batch_smaller_than_max_num_seqs_is_refused_as_vllm_refuses_it(tokens, seqs, refused):
    # SchedulerConfig.verify_args (vllm/config/scheduler.py, 0.20.0-0.34.0): "max_num_batched_
    # tokens (…) must be greater than or equal to max_num_seqs (…)", a ValueError at start.
    cfg = stack(engine={"maxNumBatchedTokens": tokens, "maxNumSeqs": seqs})
    plan = drafted(engine={"max_num_batched_tokens": tokens, "max_num_seqs": seqs})
    problem = checks.batch_holds_max_num_seqs(cfg, plan)
    assert (problem is not None) is refused
    if refused:
        assert problem.startswith(f"engine.maxNumBatchedTokens: {tokens} is below "
                                  f"engine.maxNumSeqs {seqs}")
        assert f"set engine.maxNumSeqs to at most {tokens} or engine.maxNumBatchedTokens to " \
               f"at least {seqs}" in problem
