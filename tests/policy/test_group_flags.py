"""Requirement: the flags that launch a group spanning nodes are the program's. `extraArgs`
may not pass them in any spelling vLLM's parser accepts (`_` for `-`, `=`, abbreviations, the
short aliases of vllm/engine/arg_utils.py and cli_args.py), and the policy pack refuses a
LeaderWorkerSet pod that sets one twice or sets one that breaks the group."""

from __future__ import annotations

import copy

import pytest

from facts import vllm_cli
from planning.config import ConfigError, parse
from planning.stack_files import stack_values
from policy import k8s
from tests.policy.conftest import validate_resource
from tests.harness import run_stack

LWS_TYPE = "leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
RULE = "group-flags-managed"


@pytest.mark.parametrize("token, flag", [
    ("--data_parallel_backend=ray", "--data-parallel-backend"),
    ("-n", "--nnodes"), ("-n3", "--nnodes"), ("-r=1", "--node-rank"),
    ("--nnodes", "--nnodes"), ("--master-port", "--master-port"),
    ("--master_port=29600", "--master-port"), ("--api-server-count", "--api-server-count"),
    ("-asc", "--api-server-count"), ("-as", "--api-server-count"),
    ("--api-server", "--api-server-count"), ("-dpb", "--data-parallel-backend"),
    ("-dpl=4", "--data-parallel-size-local"), ("--headless", "--headless"),
    ("--data-parallel-start", "--data-parallel-start-rank"), ("-dpn", "--data-parallel-rank"),
])
def test_group_flags_in_extra_args_are_refused_in_every_spelling(token, flag):
    values = copy.deepcopy(stack_values("r1-h100"))
    values["engine"] = {"extraArgs": [token, "2"] if "=" not in token else [token]}
    with pytest.raises(ConfigError) as caught:
        parse(values)
    message = str(caught.value)
    assert "engine.extraArgs" in message and f"({flag}) is set by the program" in message


def test_other_short_options_and_values_stay_allowed():
    values = copy.deepcopy(stack_values("r1-h100"))
    values["engine"] = {"extraArgs": ["-O3", "--enable-eplb", "--max-num-partial-prefills",
                                      "2", "-1"]}
    parse(values)
    assert vllm_cli.canonical_flag("-O3") not in vllm_cli.GROUP_FLAGS
    assert vllm_cli.canonical_flag("-d") == "-d"   # ambiguous (-dp, -dpn, …): argparse refuses


def _group_props(overrides=None):
    run = run_stack("r1-h100", overrides)
    assert run.error is None, run.error
    return copy.deepcopy(run.one(LWS_TYPE).inputs)


def _append_to_exec(props, role, words):
    container = props["spec"]["leaderWorkerTemplate"][f"{role}Template"]["spec"]["containers"][0]
    container["command"][2] = container["command"][2].rstrip("\n") + " " + words + "\n"


def test_the_rendered_groups_pass():
    assert validate_resource(RULE, k8s.LEADER_WORKER_SET, _group_props()) == []
    expert = _group_props({"multiNode": {"rdma": {"resourceName": "rdma/ib", "count": 8}},
                           "gpu": {"type": "h100-80gb", "layout": "data-expert"},
                           # Each rank's batch is gathered from all 16 before the experts: 8,192 tokens would need
                           # a 21 GiB fused-MoE workspace per GPU (planning/memory.py tokens_at_experts).
                           "engine": {"maxNumBatchedTokens": 2048}})
    assert validate_resource(RULE, k8s.LEADER_WORKER_SET, expert) == []


@pytest.mark.parametrize("words, says", [
    ("-n3", "--nnodes more than once"),
    ("--master_port=29600", "--master-port more than once"),
    ("--data_parallel_backend=ray", "passes --data-parallel-backend"),
    ("-dpn 1", "passes --data-parallel-rank"),
])
def test_a_second_or_breaking_group_flag_is_caught(words, says):
    props = _group_props()
    _append_to_exec(props, "worker", words)
    [message] = validate_resource(RULE, k8s.LEADER_WORKER_SET, props)
    assert "(worker template)" in message and says in message


def test_an_api_server_count_on_a_headless_worker_is_caught():
    props = _group_props()
    _append_to_exec(props, "worker", "-asc 2")
    [message] = validate_resource(RULE, k8s.LEADER_WORKER_SET, props)
    assert "--api-server-count beside --headless" in message
