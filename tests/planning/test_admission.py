"""Admission bounds (issue 21, item 2): for vLLM versions with --max-num-queued-reqs/-tokens
(first in 0.30.0, read from the wheels) the plan derives both per replica, keeps the
autoscaler's target below the request bound, prints them with reasons, and the engine gets
them as arguments."""

from __future__ import annotations

import copy

import pytest

from facts import vllm_features
from planning import admission, config, granularity
from planning.plan import make_plan
from planning.stack_files import stack_values
from rendering.vllm_args import server_args
from tools import plan as plan_tool


def _plan(stack: str, **changes):
    values = copy.deepcopy(stack_values(stack))
    values.update(changes)
    cfg = config.parse(values)
    return cfg, make_plan(cfg)


def test_the_first_versions_are_the_ones_read_from_the_wheels():
    """Flags: absent from the 0.28.0 wheel's vllm/engine/arg_utils.py, present in 0.29.0's;
    metric: absent from 0.31.0's vllm/v1/metrics/loggers.py, present in 0.32.0's."""
    version = vllm_features.parse
    assert not vllm_features.has_admission_limits(version("0.28.0"))
    assert vllm_features.has_admission_limits(version("0.29.0"))
    assert not vllm_features.exports_admission_rejections(version("0.31.0"))
    assert vllm_features.exports_admission_rejections(version("0.32.0"))
    assert vllm_features.ADMISSION_REJECTIONS_SERIES == "vllm:admission_rejections_total"


def test_prods_plan_bounds_its_queue_from_the_kv_cache_and_the_prefill_budget():
    cfg, plan = _plan("prod")
    bounds = plan.admission
    runnable = plan.autoscaling.runnable_requests
    # 2 × runnable, up to the next R20 step (a small move of the KV estimate rolls no pod)
    assert 2 * runnable <= bounds.max_num_queued_reqs <= 2 * runnable * 1.143
    assert bounds.max_num_queued_reqs == granularity.stable_count(2 * runnable)
    assert plan.autoscaling.target_per_replica < bounds.max_num_queued_reqs
    assert bounds.max_num_queued_tokens == 60 * 32768 // 10      # queue 60 s, prefill 10 s
    assert (f"runnable {runnable} × (1 + 1 queued batch) = {2 * runnable}, up to the next R20 "
            f"step (about 12 % apart) = {bounds.max_num_queued_reqs}") in bounds.reason


def test_tools_plan_prints_the_admission_bounds():
    cfg, plan = _plan("prod")
    text = plan_tool.report("prod", plan)
    assert (f"--max-num-queued-reqs {plan.admission.max_num_queued_reqs}, "
            f"--max-num-queued-tokens {plan.admission.max_num_queued_tokens}") in text


def test_the_bounds_render_on_the_engine_for_the_pinned_version():
    cfg, plan = _plan("prod")
    args = server_args(cfg, plan, "/models/m")
    assert args[args.index("--max-num-queued-reqs") + 1] == str(plan.admission.max_num_queued_reqs)
    assert args[args.index("--max-num-queued-tokens") + 1] == \
        str(plan.admission.max_num_queued_tokens)


def test_a_version_without_the_limits_gets_neither_the_step_nor_the_flags():
    cfg, plan = _plan("prod", vllmVersion="0.28.0")
    assert plan.admission is None
    assert "--max-num-queued-reqs" not in server_args(cfg, plan, "/models/m")
    assert "admission" not in plan_tool.report("prod", plan)


def test_an_autoscaler_target_at_the_bound_is_refused():
    figures = admission.Admission(10, 1000, "")
    [problem] = admission.problems(figures, 10)
    assert "autoscaling.targetUtilization" in problem
    assert admission.problems(figures, 9) == []


def test_the_router_allows_as_many_503s_a_minute_as_the_clients_may_send():
    """prod: 120 + 60 requests per minute: an admission 503 never cools the engine down."""
    import yaml
    from tests.harness import run_stack
    run = run_stack("prod")
    config_map = next(r for r in run.of_type("core/v1:ConfigMap")
                      if r.name.endswith("-router-config"))
    settings = yaml.safe_load(config_map.inputs["data"]["config.yaml"])["router_settings"]
    assert settings["allowed_fails_policy"] == {"ServiceUnavailableErrorAllowedFails": 180}
    assert settings["retry_policy"] == {"ServiceUnavailableErrorRetries": 1, "DefaultRetries": 0}
    assert settings["num_retries"] == 1 and settings["allowed_fails"] == 1


def test_the_token_bound_rounds_up_and_counts_every_dp_rank():
    assert admission.queued_tokens(7, 1000, 3, 1) == 2334          # ⌈7000 / 3⌉
    assert admission.queued_tokens(60, 16384, 10, 2) == 2 * 98304
    assert admission.queued_tokens(60, 100, 0, 1) == 6000          # prefill under 1 s counts as 1


def test_the_reason_names_the_dp_ranks_only_when_there_are_several_and_the_target():
    version = admission.vllm_features.parse("0.33.0")
    one = admission.admission(version, 9, 6, 60, 16384, 10, 1)
    two = admission.admission(version, 9, 6, 60, 16384, 10, 2)
    assert "× DP" not in one.reason and "/ prefill 10 s × DP 2 = 196608" in two.reason
    assert "the autoscaler's target 6 per replica" in one.reason


def test_the_plan_states_its_own_autoscaler_target_in_the_admission_reason():
    from tests.harness import stack_config
    from planning.config import parse
    from planning.plan import make_plan
    plan = make_plan(parse(stack_config("prod")))
    assert f"target {plan.autoscaling.target_per_replica} per replica" in plan.admission.reason


def test_without_clients_the_router_still_allows_one_503_a_minute():
    assert admission.router_allowed_503s_per_minute([]) == 1
    assert admission.router_allowed_503s_per_minute([120, 60]) == 180


def _traffic_plan():
    from planning.traffic import TrafficPlan
    return TrafficPlan(max_body_bytes=1, router_timeout_seconds=1, stream_idle_seconds=1,
                       edge_timeout_seconds=1, router_grace_seconds=1, pre_stop_seconds=1,
                       longest_request_seconds=1, engine_retry_after_seconds=1,
                       reasons={"kept": "as it was"})


def test_the_router_503_reason_sums_each_clients_requests_per_minute():
    from types import SimpleNamespace
    traffic = SimpleNamespace(clients=[SimpleNamespace(requests_per_minute=120),
                                       SimpleNamespace(requests_per_minute=60)])
    planned = admission.with_router_admission(_traffic_plan(), traffic)
    assert planned.allowed_503s_per_minute == 180
    assert planned.reasons["kept"] == "as it was"
    assert planned.reasons["router 503s"].startswith(
        "Σ clients' requestsPerMinute 120 + 60 = 180 a minute before a cooldown")


def test_without_clients_the_router_503_reason_sums_nothing_to_zero_and_allows_one():
    from types import SimpleNamespace
    planned = admission.with_router_admission(_traffic_plan(), SimpleNamespace(clients=[]))
    assert planned.allowed_503s_per_minute == 1
    assert planned.reasons["router 503s"].startswith(
        "Σ clients' requestsPerMinute 0 = 1 a minute before a cooldown")
