"""Fixtures of the whole-stack tests: the multi-node stack and its variants, run once per test
session and shared by the modules that read them."""

from __future__ import annotations

import pytest

from tests.harness import run_stack
from tests.k8s_helpers import vllm_container

LWS = "leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
RDMA = {"multiNode": {"rdma": {"resourceName": "rdma/ib", "count": 8, "hca": "mlx5"}}}


@pytest.fixture(scope="session")
def group(runs):
    return runs["r1-h100"]


@pytest.fixture(scope="session")
def expert_group():
    run = run_stack("r1-h100", {**RDMA, "gpu": {"type": "h100-80gb", "layout": "data-expert"},
                                 # 16 gathered batches of 2,048 tokens reach the experts
                                 "engine": {"maxNumBatchedTokens": 2048}})
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="session")
def ray_group():
    run = run_stack("r1-h100", {
        "vllmVersion": "0.11.0", "multiNode": {"launcher": "ray"},
        "storage": {"readMibPerSecond": 5000},
        "image": {"build": True, "registry": "registry.example.com/llm",
                  "extraPipPackages": ["ray==2.49.0"]}})
    assert run.error is None, run.error
    return run


def launch_script(run, role) -> str:
    """The `sh -c` script a group's leader or worker container runs."""
    command = vllm_container(run.one(LWS), role)["command"]
    assert command[:2] == ["sh", "-c"]
    return command[2]
