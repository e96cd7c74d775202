"""Non-torch memory follows the replica's topology, as vLLM's communicators allocate it
(vLLM 0.33.0): custom all-reduce only where its own rule turns it on
(vllm/distributed/device_communicators/custom_all_reduce.py CustomAllreduce.__init__), and
the expert-parallel all-to-all buffers of the backend the engine runs
(vllm/distributed/device_communicators/all2all.py)."""

import pytest

from facts.vllm_features import parse as V
from planning import memory
from planning.layout import Layout
from planning.plan import make_plan
from tests.planning.conftest import configured

MIB, GIB = 2**20, 2**30


@pytest.mark.parametrize("tp, spans, interconnect, off", [
    (1, False, "nvlink", "TP 1"),                      # world_size == 1: no group
    (2, False, "nvlink", ""),
    (8, False, "nvlink", ""),
    (16, True, "nvlink", "spans nodes"),               # not same_node, no MNNVL GPUs
    (12, False, "nvlink", "world size 12"),            # not in _SUPPORTED_WORLD_SIZES
    (2, False, "pcie", ""),                            # two PCIe GPUs: allowed
    (4, False, "pcie", "more than two PCIe"),          # same_node, > 2, not fully connected
])
def test_custom_all_reduce_is_on_only_where_vllm_turns_it_on(tp, spans, interconnect, off):
    reason = memory.custom_all_reduce_off(tp, spans, interconnect)
    assert (off in reason and reason != "") if off else reason == ""


def test_custom_all_reduce_keeps_its_three_buffers():
    # max_size 8 MiB (meta + max_size, uncached), the IPC buffer max(8, 2, 16) MiB and
    # rank_data 8 MiB: 32 MiB per GPU (the metadata's few KiB ignored).
    assert memory.CUSTOM_ALL_REDUCE_GIB == pytest.approx(32 * MIB / GIB)


def test_a_tensor_parallel_group_spanning_nodes_keeps_nccl_but_not_custom_all_reduce():
    within = memory.non_torch_gib(8, V("0.20.0"), "nvlink")
    spanning = memory.non_torch_gib(16, V("0.20.0"), "nvlink", custom_all_reduce=False)
    assert within == pytest.approx(0.25 + 1.8 + 1.0)
    assert within - spanning == pytest.approx(memory.CUSTOM_ALL_REDUCE_GIB)


@pytest.mark.parametrize("backend, spans, gib", [
    ("allgather_reducescatter", True, 0.0),     # all-gather / reduce-scatter: no buffer kept
    ("deepep_high_throughput", False, 1.0),     # num_nvl_bytes 1024 MiB, num_rdma_bytes 0
    ("deepep_high_throughput", True, 2.0),      # + num_rdma_bytes 1024 MiB across nodes
    ("deepep_low_latency", True, 1.0),          # num_nvl_bytes; the RDMA hint is DeepEP's
])
def test_expert_parallel_all_to_all_keeps_the_buffers_its_backend_allocates(backend, spans,
                                                                           gib):
    assert memory.all2all_buffer_gib(backend, 16, spans) == pytest.approx(gib)
    assert memory.all2all_buffer_gib(backend, 1, spans) == 0.0      # no DP: no all-to-all


BASE = {
    "vllmVersion": "0.20.0",
    "model": {"preset": "deepseek-r1", "revision": "main", "servedName": "r1",
              "maxModelLen": 32768},
    "gpu": {"type": "h100-80gb", "layout": "data-expert"},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"}},
    "network": {"gatewayNamespaces": ["gateway"]},
    "multiNode": {"rdma": {"resourceName": "rdma/ib", "count": 8}},
}


def test_deepep_across_nodes_adds_its_buffers_to_non_torch_and_says_so():
    plain = make_plan(configured(BASE, engine={"maxNumBatchedTokens": 2048}))
    deepep = make_plan(configured(BASE, engine={
        "maxNumBatchedTokens": 2048,
        "extraArgs": ["--all2all-backend", "deepep_high_throughput"]}))
    assert deepep.layout.data_parallel == 16 and deepep.layout.nodes == 2
    assert (deepep.activations.non_torch_gib - plain.activations.non_torch_gib
            == pytest.approx(2.0))
    assert "deepep_high_throughput all-to-all buffers 2.00 GiB" in deepep.activations.reason
    assert deepep.kv.budget_gib == pytest.approx(plain.kv.budget_gib - 2.0)


def test_the_reason_names_the_all_reduce_rule():
    plan = make_plan(configured(BASE, gpu={"layout": "pipeline"}))
    assert plan.layout.tensor_parallel == 8 and plan.layout.nodes == 2
    assert "custom all-reduce on (TP 8 inside one NVLink node)" in plan.activations.reason


def test_the_layout_knows_which_groups_span_nodes():
    assert Layout(16, nodes=2).tensor_parallel_spans_nodes
    assert not Layout(8, 2, nodes=2).tensor_parallel_spans_nodes
    assert Layout(1, 1, 16, True, nodes=2).expert_group_spans_nodes
    assert not Layout(1, 1, 8, True).expert_group_spans_nodes


def test_two_data_parallel_ranks_already_open_the_all_to_all():
    assert memory.all2all_buffer_gib("deepep_high_throughput", 2, False) == pytest.approx(1.0)


@pytest.mark.parametrize("args, backend", [
    ([], "allgather_reducescatter"),
    (["--max-num-seqs", "8", "--all2all-backend", "deepep_high_throughput"],
     "deepep_high_throughput"),
    (["--all2all-backend=deepep_low_latency"], "deepep_low_latency"),
    (["--all2all_backend", "deepep_high_throughput", "--all2all-backend=deepep_low_latency"],
     "deepep_low_latency"),                     # argparse keeps the last
])
def test_the_all_to_all_backend_is_read_as_vllm_parses_extra_args(args, backend):
    from types import SimpleNamespace
    cfg = SimpleNamespace(engine=SimpleNamespace(extra_args=args))
    assert memory.all2all_backend(cfg) == backend


def _activations(layout, gpu_type="h100-80gb", extra_args=(), preset="deepseek-r1"):
    import facts
    from planning.config import ModelFacts
    cfg = configured(BASE, gpu={"type": gpu_type}, engine={"extraArgs": list(extra_args)})
    shape = ModelFacts.model_validate(facts.models()[preset])
    gpu, version = cfg.gpu.resolved(), V("0.20.0")
    engine = memory.engine_limits(cfg, gpu, version)
    return memory.activations(cfg, shape, gpu, version, layout, engine)


def test_a_tensor_parallel_group_across_nodes_plans_without_custom_all_reduce():
    spanning = _activations(Layout(16, nodes=2))
    within = _activations(Layout(8, 2, nodes=2))
    assert "custom all-reduce off: TP 16 spans nodes" in spanning.reason
    assert within.non_torch_gib == pytest.approx(0.25 + 1.8 + 1.0)
    assert within.non_torch_gib - spanning.non_torch_gib == pytest.approx(
        memory.CUSTOM_ALL_REDUCE_GIB)


def test_deepep_inside_one_node_keeps_its_nvlink_buffer_alone():
    act = _activations(Layout(1, 1, 8, True), extra_args=["--all2all-backend",
                                                          "deepep_high_throughput"])
    assert "deepep_high_throughput all-to-all buffers 1.00 GiB (inside one node)" in act.reason


def test_a_dense_model_opens_no_all_to_all():
    act = _activations(Layout(1, 1, 2), extra_args=["--all2all-backend",
                                                    "deepep_high_throughput"],
                       preset="deepseek-r1-distill-qwen-7b")
    assert act.non_torch_gib == pytest.approx(0.25 + 1.0)
    assert act.reason.count("all-to-all") == 0 and "no all-reduce at TP 1" in act.reason


def test_two_pcie_gpus_keep_custom_all_reduce():
    act = _activations(Layout(2), gpu_type="l4", preset="deepseek-r1-distill-qwen-7b")
    assert "custom all-reduce on (TP 2 inside one PCIe node)" in act.reason
    assert act.non_torch_gib == pytest.approx(0.25 + 0.5 + 1.0)


@pytest.mark.parametrize("layout, split", [
    (Layout(1, 1, 8, True), 1),        # expert parallelism keeps whole experts on each GPU
    (Layout(2), 2),                    # tensor-parallel experts: N split over TP × DP
])
def test_the_fused_moe_workspace_splits_the_experts_as_the_layout_does(layout, split):
    # gpt-oss-120b: experts 2880 wide at hidden 2880, so N = 2 × 2880 / split sets the
    # second buffer (OAI triton kernels, top-4).
    act = _activations(layout, preset="gpt-oss-120b")
    tokens = memory.tokens_at_experts(8192, layout.data_parallel, V("0.20.0"))
    assert act.moe_workspace_gib == pytest.approx(
        memory.moe_workspace_gib(tokens, 4, 2880, 2880, split, "oai_triton"))


def test_a_stage_of_dense_layers_alone_profiles_the_forward_pass_only():
    # R1 over 32 stages of [1, 1, 2, …] (memory.pipeline_stage_layers): stages 0 and 1 hold
    # the dense layers 0 and 1 alone, stage 2 layers 2 (dense) and 3 (the first MoE layer).
    act = _activations(Layout(1, 32, nodes=4))
    assert act.stage_peaks_gib[0] == act.stage_peaks_gib[1] < act.stage_peaks_gib[2]
    assert act.stage_peaks_gib[2] - act.stage_peaks_gib[0] == pytest.approx(
        act.moe_workspace_gib)


def test_one_stage_names_no_stages():
    assert "per stage" not in _activations(Layout(8)).reason


@pytest.mark.parametrize("layout, says", [(Layout(1, 1, 2, True), True), (Layout(2), False)])
def test_the_default_all_to_all_is_said_to_keep_no_buffers_with_data_parallelism(layout,
                                                                                   says):
    reason = _activations(layout).reason
    assert ("allgather_reducescatter all-to-all keeps no buffers" in reason) == says


def test_a_two_gpu_group_across_nodes_names_the_span_not_tp_1():
    act = _activations(Layout(2, nodes=2))
    assert "custom all-reduce off: TP 2 spans nodes" in act.reason


def test_deepep_across_nodes_says_where_its_buffers_are():
    act = _activations(Layout(1, 1, 16, True, nodes=2),
                       extra_args=["--all2all-backend", "deepep_high_throughput"])
    assert "deepep_high_throughput all-to-all buffers 2.00 GiB (across nodes)" in act.reason


def test_experts_without_expert_parallelism_split_over_tp_times_dp():
    act = _activations(Layout(2, 1, 2), preset="gpt-oss-120b")
    tokens = memory.tokens_at_experts(8192, 2, V("0.20.0"))
    assert act.moe_workspace_gib == pytest.approx(
        memory.moe_workspace_gib(tokens, 4, 2880, 2880, 4, "oai_triton"))
