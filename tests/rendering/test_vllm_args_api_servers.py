"""One API server per engine pod, as the host memory plan counts (planning/host.py
API_SERVERS_PER_POD): from vLLM 0.15 `vllm serve` starts one per data-parallel rank unless
--api-server-count says otherwise (facts/vllm_features.py default_api_servers)."""

from __future__ import annotations

import pytest

from planning import config, host
from planning.plan import make_plan
from rendering.vllm_args import server_args

STACK = {
    "model": {"preset": "deepseek-r1-distill-qwen-7b", "revision": "main", "servedName": "m",
              "maxModelLen": 16384},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"}, "readMibPerSecond": 250},
    "network": {"gatewayNamespaces": ["gateway"]},
}


def _args(version: str, data_parallel: int) -> list[str]:
    cfg = config.parse({**STACK, "vllmVersion": version,
                        "gpu": {"type": "l4", "tensorParallel": 1,
                                "dataParallel": data_parallel}})
    plan = make_plan(cfg)
    assert plan.layout.nodes == 1 and plan.layout.data_parallel == data_parallel
    return server_args(cfg, plan, "/models/m")


@pytest.mark.parametrize("version", ["0.15.0", "0.20.0", "0.34.0"])
def test_a_single_node_data_parallel_engine_runs_one_api_server_where_vllm_would_start_more(
        version):
    args = _args(version, 2)
    assert args[args.index("--api-server-count") + 1] == str(host.API_SERVERS_PER_POD) == "1"
    assert args.count("--api-server-count") == 1


def test_before_0_15_the_default_is_already_one_api_server_and_nothing_is_rendered():
    # 0.11.0-0.14.0: --api-server-count defaults to 1; older releases may lack the flag.
    assert "--api-server-count" not in _args("0.14.0", 2)
    assert "--api-server-count" not in _args("0.11.0", 2)


def test_one_data_parallel_rank_renders_no_api_server_count():
    assert "--api-server-count" not in _args("0.20.0", 1)


def test_each_pod_of_a_hybrid_data_parallel_group_sets_one_api_server_once():
    # The group launch sets it (rendering/multinode.py); a second copy would be refused by the
    # policy rule group-flags-managed (argparse keeps the last value).
    from rendering import multinode

    cfg = config.parse({
        "vllmVersion": "0.20.0",
        "model": {"preset": "deepseek-r1", "revision": "main", "servedName": "r1",
                  "maxModelLen": 32768},
        "gpu": {"type": "h100-80gb", "layout": "data-expert"},
        "engine": {"maxNumBatchedTokens": 2048},
        "multiNode": {"rdma": {"resourceName": "rdma/ib", "count": 8}},
        "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"}},
        "network": {"gatewayNamespaces": ["gateway"]}})
    plan = make_plan(cfg)
    assert plan.layout.nodes == 2 and plan.layout.data_parallel == 16
    for role in ("leader", "worker"):
        args = server_args(cfg, plan, "/models/m") + multinode.group_args(cfg, plan, role)
        assert args.count("--api-server-count") == 1
        assert args[args.index("--api-server-count") + 1] == str(host.API_SERVERS_PER_POD)
