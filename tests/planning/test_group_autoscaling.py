"""Requirement: an autoscaled data × expert group scales on the whole group's load, and the
plan counts what a replica of DP engines runs at once."""

from __future__ import annotations

import copy

import pytest

from planning.config import ConfigError, parse
from planning.plan import make_plan
from planning.capacity import runnable_requests
from planning.stack_files import stack_values

EXPERT = {"multiNode": {"rdma": {"resourceName": "rdma/ib", "count": 8}},
          "gpu": {"type": "h100-80gb", "layout": "data-expert"},
          # Each rank's batch is gathered from all 16 before the experts: 8,192 tokens would need
          # a 21 GiB fused-MoE workspace per GPU (planning/memory.py tokens_at_experts).
          "engine": {"maxNumBatchedTokens": 2048}}


def _values(**changes):
    values = copy.deepcopy(stack_values("r1-h100"))
    values.update(copy.deepcopy(EXPERT))
    for key, value in changes.items():
        values[key] = {**values.get(key, {}), **value}
    return values


def test_hpa_on_a_data_expert_group_is_refused_with_keda_named():
    values = _values(autoscaling={"enabled": True, "engine": "hpa", "minReplicas": 1,
                                  "maxReplicas": 2})
    with pytest.raises(ConfigError) as caught:
        make_plan(parse(values))
    message = str(caught.value)
    assert "autoscaling.engine: hpa" in message and "leader pods only" in message
    assert "autoscaling.engine: keda" in message and "1/2 of the load" in message


def test_keda_on_a_data_expert_group_and_hpa_on_a_pipeline_group_are_accepted():
    make_plan(parse(_values(autoscaling={"enabled": True, "engine": "keda", "minReplicas": 1,
                                         "maxReplicas": 2})))
    pipeline = copy.deepcopy(stack_values("r1-h100"))
    pipeline["autoscaling"] = {"enabled": True, "engine": "hpa", "minReplicas": 1,
                               "maxReplicas": 2}
    make_plan(parse(pipeline))


def test_runnable_requests_count_every_data_parallel_engine():
    plan = make_plan(parse(_values(engine={"maxNumSeqs": 8})))
    dp = plan.layout.data_parallel
    assert dp == 16
    per_rank = runnable_requests(plan.kv.tokens_per_rank,
                                 parse(_values()).autoscaling.expected_request_tokens, 8)
    assert per_rank == 8                       # max-num-seqs binds each engine
    assert plan.autoscaling.runnable_requests == dp * per_rank == 128
    assert plan.autoscaling.reason.startswith("DP 16 × min(maxNumSeqs 8,")
