"""Multi-node layouts: a replica spans nodes only when no single node fits, tensor parallelism
stays inside a node, and every refusal names the key and the fix."""

import pytest

from planning.config import ConfigError
from planning.plan import make_plan
from facts.vllm_features import parse as V
from tests.planning.conftest import configured

BASE = {
    "vllmVersion": "0.20.0",
    "model": {"preset": "deepseek-r1", "revision": "main", "servedName": "r1",
              "maxModelLen": 32768},
    "gpu": {"type": "h100-80gb"},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"}},
    "network": {"gatewayNamespaces": ["gateway"]},
}


def _plan(**changes):
    return make_plan(configured(BASE, **changes))


def _refusal(**changes) -> str:
    with pytest.raises(ConfigError) as error:
        _plan(**changes)
    return str(error.value)


def test_r1_on_h100_spans_two_nodes_with_tp_inside_each():
    plan = _plan()
    assert (plan.layout.nodes, plan.layout.tensor_parallel, plan.layout.pipeline_parallel) == (
        2, 8, 2)
    assert plan.layout.gpus_per_node == 8
    # 61 layers in stages of [31, 30]; layers 0–2 are dense, so the fullest GPU holds stage
    # 1: 30 of the 58 MoE layers' experts (39.38 GiB) plus the head (planning/memory.py
    # weight_gib_per_stage; the uniform split said stage 0 at 40.41).
    assert plan.weights.per_gpu_gib == pytest.approx(40.99, abs=0.05)
    assert plan.host.shm_gib == 15          # one pod per node, 8 local GPUs


def test_r1_on_h200_stays_on_one_node():
    plan = _plan(gpu={"type": "h200"})
    assert plan.layout.nodes == 1 and plan.layout.gpus == 8


def test_seed_004_deepseek_v3_bf16_on_four_a100_nodes_plans():
    # Seed 004: DeepSeek-V3 in BF16 on 4 nodes × 8 A100 80GB, TP 8 × PP 4.
    import facts
    v3 = dict(facts.models()["deepseek-v3"])
    v3.update(weights_dtype="bf16", weights_gib=None, block_quantized=False)
    plan = _plan(model={"preset": None, "facts": v3, "maxModelLen": 16384},
                 gpu={"type": "a100-80gb", "tensorParallel": 8, "pipelineParallel": 4})
    assert (plan.layout.nodes, plan.layout.gpus) == (4, 32)
    assert plan.weights.checkpoint_gib == pytest.approx(1250, rel=0.01)   # ~1.34 TB
    assert plan.storage.capacity_gi >= 1250 * 1.2
    assert plan.weights.per_gpu_gib < 79.15 * 0.92


def test_the_fewest_nodes_win_and_gpu_nodes_can_ask_for_more():
    assert _plan().layout.nodes == 2
    forced = _plan(gpu={"nodes": 3})
    assert forced.layout.nodes == 3 and forced.layout.pipeline_parallel == 3


def test_tensor_parallel_across_nodes_is_refused_with_the_reason():
    message = _refusal(gpu={"tensorParallel": 16})
    assert "gpu.tensorParallel: 16 spans nodes" in message and "gpu.layout: pipeline" in message


GATHERED_BATCH = {"maxNumBatchedTokens": 2048}
"""Each data-parallel rank's batch is gathered from all 16 before the experts
(planning/memory.py tokens_at_experts): 2,048 tokens per rank keep the workspace at 5.25 GiB."""


def test_expert_parallel_across_nodes_needs_rdma_or_an_acknowledgement():
    message = _refusal(gpu={"layout": "data-expert"})
    assert "multiNode.rdma" in message and "acknowledgeTcpExpertParallel" in message
    plan = _plan(gpu={"layout": "data-expert"}, engine=GATHERED_BATCH,
                 multiNode={"rdma": {"resourceName": "rdma/ib", "count": 8}})
    assert plan.layout.expert_parallel and plan.layout.data_parallel == 16
    assert plan.layout.nodes == 2 and plan.layout.tensor_parallel == 1


def test_with_rdma_an_moe_model_prefers_data_expert_parallelism():
    plan = _plan(multiNode={"rdma": {"resourceName": "rdma/ib"}}, engine=GATHERED_BATCH)
    assert plan.layout.expert_parallel and plan.layout.nodes == 2


def test_a_data_expert_layout_whose_gathered_batch_does_not_fit_gives_way_to_one_that_does():
    # 16 ranks × 8,192 tokens reach the experts: a 21 GiB fused-MoE workspace per GPU.
    plan = _plan(multiNode={"rdma": {"resourceName": "rdma/ib"}})
    assert not plan.layout.expert_parallel


FAST_STORAGE = {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                "readMibPerSecond": 5000}


def test_a_version_without_native_multi_node_launches_with_the_ray_its_image_ships():
    plan = _plan(vllmVersion="0.11.0", storage=FAST_STORAGE)
    assert plan.layout.nodes == 2


def test_from_0_18_a_ray_launch_needs_ray_built_into_the_image():
    message = _refusal(vllmVersion="0.18.0", multiNode={"launcher": "ray"})
    assert "Ray is not in the vllm/vllm-openai image of 0.18.0" in message
    assert "image.extraPipPackages" in message
    plan = _plan(vllmVersion="0.18.0", multiNode={"launcher": "ray"},
                 image={"build": True, "registry": "r.example",
                        "extraPipPackages": ["ray==2.49.0"]})
    assert plan.layout.nodes == 2


def test_before_0_14_a_group_starting_beyond_600_s_is_planned_on_every_launch():
    # Each pod's one API server launches its engines and waits for them without a deadline
    # (facts/vllm_features.py engine_ready_deadline_binds): Ray, mp --nnodes, hybrid DP.
    for launch in ({"vllmVersion": "0.11.0"}, {"vllmVersion": "0.13.0"},
                   {"vllmVersion": "0.13.0", "gpu": {"layout": "data-expert"},
                    "engine": GATHERED_BATCH,
                    "multiNode": {"rdma": {"resourceName": "rdma/ib", "count": 8}}}):
        plan = _plan(**launch)
        assert plan.layout.nodes == 2 and plan.startup.estimated_seconds > 600, launch


def test_native_launcher_refused_before_0_11_1():
    message = _refusal(vllmVersion="0.11.0", multiNode={"launcher": "native"})
    assert "multiNode.launcher" in message and "0.11.1" in message


def test_read_write_once_weights_cannot_serve_a_group_on_several_nodes():
    message = _refusal(storage={"mode": "pvc", "nfs": None,
                                "pvc": {"storageClass": "gp3", "accessMode": "ReadWriteOnce"}})
    assert "storage.pvc.accessMode" in message and "Multi-Attach" in message


def test_pods_count_every_pod_of_every_group():
    plan = _plan(replicas=2)
    assert plan.rollout.max_pods == 2 * 2       # two groups of two pods: a shared cache is RWX


def test_a_measured_engine_start_replaces_every_phase_of_a_group():
    plan = _plan(probes={"engineStartSeconds": 900})
    assert plan.layout.nodes == 2 and plan.startup.engine_phases == {"measured": 900}


def test_a_compile_cache_of_one_gib_already_makes_a_restarts_compilation_warm():
    # R1's 61 layers: 61 s cold, 0.25 × 61 = 15.25 → 16 s warm; DeepGEMM 180 → 30 s.
    cold = _plan().startup
    warm = _plan(engine={"compileCacheGib": 1, "compileCacheStorageClass": "rwx"}).startup
    assert cold.engine_phases["compile"] == warm.engine_phases["compile"] == 61
    assert warm.estimated_seconds - warm.warm_restart_seconds == (61 - 16) + (180 - 30)


def test_holding_to_one_node_names_the_alternative():
    message = _refusal(gpu={"layout": "single-node"})
    assert "gpu.layout: auto" in message


def test_startup_budget_covers_the_whole_checkpoint_and_deepgemm():
    plan = _plan()
    assert plan.startup.engine_phases["deepgemm"] == 180
    # Two nodes: the leader's engine waits for its peer's image pull.
    assert plan.layout.nodes == 2 and plan.startup.engine_phases["peer image pull"] == 600
    assert plan.startup.budget_seconds >= plan.startup.estimated_seconds * 1.5 - 1


# --- the layout step on its own --------------------------------------------------------------

from planning import layout as layout_step  # noqa: E402


def _cfg(**changes):
    return configured(BASE, **changes)


def _candidates(**changes):
    cfg = _cfg(**changes)
    return layout_step.candidate_layouts(cfg, cfg.model.shape, cfg.gpu.resolved())


def test_candidates_run_from_one_node_to_eight_smallest_first():
    found = _candidates()
    single = [c for c in found if c.nodes == 1]
    assert [c.tensor_parallel for c in single] == [1, 2, 4, 8]
    spanning = [c for c in found if c.nodes > 1]
    assert [c.nodes for c in spanning][0] == 2 and max(c.nodes for c in spanning) == 8
    pipeline = [c for c in spanning if not c.expert_parallel]
    assert [(c.tensor_parallel, c.pipeline_parallel) for c in pipeline] == [
        (8, n) for n in range(2, 9)]
    expert = [c for c in spanning if c.expert_parallel]
    assert [(c.tensor_parallel, c.data_parallel) for c in expert] == [(1, 8 * n) for n in range(2, 9)]
    # Without RDMA pipeline comes first at each node count; with it, data × expert.
    assert not spanning[0].expert_parallel
    assert _candidates(multiNode={"rdma": {"resourceName": "rdma/ib"}})[4].expert_parallel


def test_a_dense_model_has_no_data_expert_candidates():
    found = _candidates(model={"preset": "deepseek-r1-distill-llama-70b"})
    assert found and not any(c.expert_parallel for c in found)


def test_single_node_candidates_keep_the_configured_split_flags():
    found = _candidates(model={"preset": "deepseek-v2-lite", "trustRemoteCode": True},
                        gpu={"dataParallel": 2, "expertParallel": True})
    single = [c for c in found if c.nodes == 1]
    assert all(c.data_parallel == 2 and c.expert_parallel for c in single)


def test_an_explicit_split_is_the_only_candidate_on_as_many_nodes_as_it_needs():
    [only] = _candidates(gpu={"tensorParallel": 8, "pipelineParallel": 2, "expertParallel": True})
    assert (only.nodes, only.pipeline_parallel, only.expert_parallel) == (2, 2, True)
    assert only.reason == f"{only.describe()} set under gpu"


def test_an_explicit_split_rounds_its_nodes_up_and_counts_data_parallel_ranks():
    # TP 4 × PP 3 = 12 GPUs on nodes of 8: 2 nodes (the check then says it does not fill them).
    [uneven] = _candidates(gpu={"tensorParallel": 4, "pipelineParallel": 3})
    assert uneven.nodes == 2
    # TP 8 × DP 2 = 16 GPUs: 2 nodes.
    [wide] = _candidates(gpu={"tensorParallel": 8, "dataParallel": 2, "expertParallel": True})
    assert wide.nodes == 2


def test_candidates_say_why_in_whole_numbers():
    found = _candidates()
    assert found[0].reason == ("the smallest TP in [1, 2, 4, 8] dividing 128 heads that fits "
                               "on one node")
    pipeline = next(c for c in found if c.nodes == 2 and not c.expert_parallel)
    assert pipeline.reason.startswith("TP 8 inside each node × PP 2 across 2 nodes")
    expert = next(c for c in found if c.nodes == 2 and c.expert_parallel)
    assert expert.reason.startswith("DP 16 attention × expert parallelism across 2 nodes")
    assert (expert.data_parallel, pipeline.pipeline_parallel) == (16, 2)
    assert isinstance(expert.data_parallel, int) and isinstance(pipeline.pipeline_parallel, int)


def test_a_smaller_tensor_parallel_puts_several_pipeline_stages_on_each_node():
    # TP 4 on nodes of 8: two stages per node, PP 4 on 2 nodes.
    first = _candidates(gpu={"tensorParallel": 4, "layout": "pipeline"})[0]
    assert (first.tensor_parallel, first.pipeline_parallel, first.nodes) == (4, 4, 2)
    assert first.reason.startswith("TP 4 inside each node × PP 4 across 2 nodes")


def test_with_no_candidate_of_the_asked_kind_the_largest_single_node_split_stands_in():
    # A dense model has no data × expert layout: the configured split on TP 8 is reported
    # (and refused by the checks).
    [only] = _candidates(model={"preset": "deepseek-r1-distill-llama-70b"},
                         gpu={"layout": "data-expert", "pipelineParallel": 2,
                              "dataParallel": 3, "expertParallel": True})
    assert only == layout_step.Layout(8, 2, 3, True)


def test_gpu_nodes_keeps_only_that_node_count():
    found = _candidates(gpu={"nodes": 3})
    assert found and {c.nodes for c in found} == {3}
    assert all("gpu.nodes" in c.reason for c in found)
    assert [c for c in _candidates(gpu={"nodes": 1}) if c.nodes == 1]


def test_pipeline_and_expert_layouts_only_when_asked_for():
    assert all(not c.expert_parallel for c in _candidates(gpu={"layout": "pipeline"}))
    assert all(c.nodes > 1 for c in _candidates(gpu={"layout": "pipeline"}))
    assert all(c.expert_parallel for c in _candidates(gpu={"layout": "data-expert"}))
    assert all(c.nodes == 1 for c in _candidates(gpu={"layout": "single-node"}))


def test_when_nothing_fits_the_largest_single_node_layout_is_reported():
    cfg = _cfg()
    chosen = layout_step.choose_layout(cfg, cfg.model.shape, cfg.gpu.resolved(), lambda l: False)
    assert (chosen.nodes, chosen.tensor_parallel) == (1, 8)
    only_spanning = _cfg(gpu={"layout": "pipeline"})
    chosen = layout_step.choose_layout(only_spanning, only_spanning.model.shape,
                                       only_spanning.gpu.resolved(), lambda l: False)
    assert chosen.nodes == 8


@pytest.mark.parametrize("version, choice, nodes, expected", [
    (V("0.20.0"), "auto", 1, "single"), (V("0.20.0"), "auto", 2, "native"),
    (V("0.11.0"), "auto", 2, "ray"), (V("0.20.0"), "ray", 2, "ray"),
    (V("0.11.0"), "native", 2, "native"), (V("0.11.1"), "auto", 2, "native"),
])
def test_the_launcher_follows_the_version_and_the_config(version, choice, nodes, expected):
    cfg = _cfg(multiNode={"launcher": choice})
    assert layout_step.launcher(cfg, version, layout_step.Layout(8, nodes, nodes=nodes)) == expected


def test_layout_description_names_every_axis():
    assert layout_step.Layout(8, 2, 1, nodes=2).describe() == "TP 8 × PP 2 × DP 1 on 2 nodes"
    assert layout_step.Layout(1, 1, 16, True, nodes=2).describe() == (
        "TP 1 × PP 1 × DP 16 with expert parallelism on 2 nodes")
    assert layout_step.Layout(2).describe() == "TP 2 × PP 1 × DP 1"


def test_ray_cannot_launch_data_and_expert_parallelism_across_nodes():
    message = _refusal(gpu={"layout": "data-expert"}, multiNode={
        "launcher": "ray", "rdma": {"resourceName": "rdma/ib"}})
    assert "ray launches TP × PP groups only" in message
    old = _refusal(vllmVersion="0.11.0", storage=FAST_STORAGE, gpu={"layout": "data-expert"},
                   multiNode={"rdma": {"resourceName": "rdma/ib"}})
    assert "no native multi-node launch" in old and "use multiNode.launcher: ray" not in old
