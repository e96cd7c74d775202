"""Scale to zero behind the router (issue 21, item 1): the plan derives the first request's wait
(start-up budget + router scrape + KEDA polling), the scale-down delays, and refuses the stacks
where it cannot work, naming the key and what to do."""

from __future__ import annotations

import copy

import pytest

from planning import config, scaling, traffic, wake
from tests.planning.conftest import TRAFFIC, ZERO, staging
from planning.config import ConfigError
from planning.plan import make_plan
from planning.stack_files import stack_values
from tools import plan as plan_tool

def test_the_wake_time_is_the_start_up_budget_plus_one_scrape_and_one_keda_poll():
    cfg = staging(autoscaling=ZERO, traffic=TRAFFIC)
    plan = make_plan(cfg)
    budget = plan.startup.budget_seconds
    assert plan.wake.wake_seconds == budget + wake.ROUTER_SCRAPE_SECONDS + \
        scaling.KEDA_POLLING_SECONDS
    assert plan.wake.initial_cooldown_seconds == budget
    assert plan.wake.cooldown_seconds == plan.scaling.scale_down_window_seconds
    assert f"start-up budget {budget} + router scrape 30 + KEDA polling 15 = " \
           f"{plan.wake.wake_seconds} s" in plan.wake.reason


def test_tools_plan_prints_the_wake_time_with_its_reason(capsys, monkeypatch):
    cfg = staging(autoscaling=ZERO, traffic=TRAFFIC)
    plan = make_plan(cfg)
    text = plan_tool.report("staging", plan)
    assert f"wake-up         {plan.wake.wake_seconds} s from zero" in text
    assert "router scrape 30 + KEDA polling 15" in text


def test_without_min_replicas_zero_the_plan_has_no_wake_step():
    assert make_plan(staging(traffic=TRAFFIC)).wake is None
    assert "wake-up" not in plan_tool.report("staging", make_plan(staging(traffic=TRAFFIC)))


def test_a_local_only_alias_retries_after_the_wake_time_when_the_engine_may_be_at_zero():
    cfg = staging(autoscaling=ZERO, traffic=TRAFFIC)
    plan = make_plan(cfg)
    derived = plan.traffic
    assert derived.engine_retry_after_seconds == plan.wake.wake_seconds
    assert f"the wake time {plan.wake.wake_seconds} s" in derived.reasons["engine retry-after"]
    # Without scale to zero it stays the readiness period (an engine is up or rolling).
    fixed = staging(traffic=TRAFFIC)
    assert make_plan(fixed).traffic.engine_retry_after_seconds == \
        fixed.probes.period_seconds


def test_keda_holds_one_replica_while_blind_when_the_minimum_is_zero():
    """KEDA skips the scale to zero while a trigger errors only when fallback.replicas is not 0
    (keda scale_scaledobjects.go RequestScale: `isError && Fallback.Replicas != 0`)."""
    plan = make_plan(staging(autoscaling=ZERO, traffic=TRAFFIC))
    assert plan.scaling.fallback_replicas == 1


def _refusal(**changes) -> str:
    with pytest.raises(ConfigError) as caught:
        make_plan(staging(**changes))
    return str(caught.value)


def test_min_replicas_zero_with_an_hpa_is_refused_naming_keda():
    message = _refusal(autoscaling={**ZERO, "engine": "hpa"}, traffic=TRAFFIC)
    assert "autoscaling.minReplicas: 0 needs autoscaling.engine: keda (got 'hpa')" in message


def test_min_replicas_zero_without_the_router_is_refused_saying_what_wakes_the_engine():
    message = _refusal(autoscaling=ZERO)
    assert "autoscaling.minReplicas: 0 needs the traffic layer" in message
    assert "router's request counter" in message


def test_min_replicas_zero_on_a_multi_node_group_is_refused_with_why_and_what_to_do():
    values = copy.deepcopy(stack_values("r1-h100"))
    values["autoscaling"] = {**ZERO, "maxReplicas": 2}
    values["traffic"] = TRAFFIC
    cfg = config.parse(values)
    with pytest.raises(ConfigError) as caught:
        make_plan(cfg)
    message = str(caught.value)
    assert "autoscaling.minReplicas: 0 is refused for a multi-node group" in message
    assert "keep minReplicas at 1 or more" in message


def test_a_woken_engine_always_has_its_start_up_budget_before_kedas_cooldown_ends():
    """cooldownPeriod = max(scale-down window, start-up budget): the scale-down window stops at
    Kubernetes' 3600 s, a slow start-up may not; KEDA's own field has no such cap."""
    cfg = staging(autoscaling=ZERO, traffic=TRAFFIC)
    assert wake.wake(cfg, 4000, 3600, 15).cooldown_seconds == 4000
    assert wake.wake(cfg, 200, 300, 15).cooldown_seconds == 300


def test_only_an_enabled_autoscaler_with_minimum_zero_scales_to_zero():
    from types import SimpleNamespace as S
    assert wake.scale_to_zero(S(autoscaling=S(enabled=True, min_replicas=0)))
    assert not wake.scale_to_zero(S(autoscaling=S(enabled=False, min_replicas=0)))
    assert not wake.scale_to_zero(S(autoscaling=S(enabled=True, min_replicas=1)))


def test_the_activation_window_holds_two_scrapes():
    assert wake.activation_window_seconds(30) == 60
    assert wake.activation_window_seconds(15) == 30


def test_only_an_enabled_traffic_layer_with_a_local_alias_can_wake_the_engine():
    """The config refuses aliases under a disabled traffic layer; the step does not lean on it."""
    from types import SimpleNamespace as S
    zero = S(enabled=True, min_replicas=0, engine="keda")
    local = [S(local=True)]
    for traffic in (S(enabled=False, aliases=local), S(enabled=True, aliases=[S(local=False)])):
        (problem,) = wake.problems(S(autoscaling=zero, traffic=traffic), 1)
        assert "needs the traffic layer" in problem
    assert wake.problems(S(autoscaling=zero, traffic=S(enabled=True, aliases=local)), 1) == []


def test_the_wake_step_sorts_the_local_aliases_by_what_answers_while_the_engine_starts():
    plan = make_plan(staging(autoscaling=ZERO, traffic=TRAFFIC))
    woken = plan.wake
    assert woken.fallback_aliases == ("internal-default",)
    assert woken.local_only_aliases == ("deepseek-r1-7b",)
    assert woken.activation_window_seconds == 2 * wake.ROUTER_SCRAPE_SECONDS
    assert "meanwhile the cloud answers internal-default" in woken.reason
    assert f"deepseek-r1-7b: 503 with Retry-After {woken.wake_seconds} s" in woken.reason
    only_cloud = {**TRAFFIC, "aliases": [TRAFFIC["aliases"][0]]}
    reason = make_plan(staging(autoscaling=ZERO, traffic=only_cloud)).wake.reason
    assert "503 with Retry-After" not in reason
    no_cloud = {**TRAFFIC, "aliases": [TRAFFIC["aliases"][1]]}
    assert "no alias answers from the cloud" in make_plan(
        staging(autoscaling=ZERO, traffic=no_cloud)).wake.reason
