"""TP 16 over 2 × 8 H100 with RDMA, the common DeepSeek-R1 recipe: a copy of the multi-node
stack plans it (planning/checks.py tensor_parallel_stays_in_a_node) and renders one group of
two pods whose launch passes --tensor-parallel-size 16 on both."""

from tests.harness import run_stack
from tests.k8s_helpers import arg_value, vllm_container

LWS = "leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
RDMA = {"rdma": {"resourceName": "rdma/ib", "count": 8, "hca": "mlx5"}}


def test_tensor_parallel_16_over_two_nodes_renders_one_group_with_rdma():
    run = run_stack("r1-h100", {"multiNode": RDMA,
                                "gpu": {"type": "h100-80gb", "tensorParallel": 16}})
    assert run.error is None, run.error
    group = run.one(LWS)
    assert group.inputs["spec"]["leaderWorkerTemplate"]["size"] == 2
    for role in ("leader", "worker"):
        container = vllm_container(group, role)
        assert arg_value(container, "--tensor-parallel-size") == "16"
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "8"


def test_tensor_parallel_across_nodes_without_rdma_creates_nothing():
    run = run_stack("r1-h100", {"gpu": {"type": "h100-80gb", "tensorParallel": 16}})
    assert "multiNode.rdma" in str(run.error) and run.resources == []
