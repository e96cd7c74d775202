"""Scale to zero behind the router (issue 21, item 1): the engine's ScaledObject on a stack with
autoscaling.minReplicas 0, walked through KEDA's own decisions (facts/keda.py), and its
activation query run by promtool on a counter that starts with the first request."""

from __future__ import annotations

import subprocess

import pytest
import yaml

import dataclasses

from wiring.engine import autoscaler_args
from facts import keda
from planning.plan import make_plan
from rendering import scale_to_zero
from rendering.naming import stack_names
from tests import tools as real_tools
from tests.planning.conftest import TRAFFIC, ZERO, staging

ROUTER_SERVICE = "staging-deepseek-r1-7b-router"
"""rendering/router.py object_name of staging's release: the router Service the trigger reads."""


@pytest.fixture(scope="module")
def rendered():
    cfg = staging(autoscaling=ZERO, traffic=TRAFFIC)
    plan = make_plan(cfg)
    names = stack_names("staging", cfg, plan)
    spec = autoscaler_args(cfg, plan, names).objects.scaled_object["spec"]
    base = autoscaler_args(cfg, dataclasses.replace(plan, wake=None),
                           names).objects.scaled_object["spec"]
    return {"cfg": cfg, "plan": plan, "base": base, "spec": spec}


def _poll(spec: dict, **state) -> keda.Poll:
    return keda.Poll(min_replica_count=spec["minReplicaCount"],
                     fallback_replicas=spec["fallback"]["replicas"],
                     cooldown_seconds=spec["cooldownPeriod"],
                     initial_cooldown_seconds=spec["initialCooldownPeriod"], **state)


def _state(spec: dict, engine: float | None, router: float | None) -> dict:
    """(active, error) of the ScaledObject from each trigger's query answer (None: empty)."""
    answers = {"requests-in-flight": engine, scale_to_zero.ACTIVATION_TRIGGER: router}
    results = [keda.prometheus_trigger_active(
        answers[t["name"]], float(t["metadata"].get("activationThreshold", 0)),
        t["metadata"]["ignoreNullValues"] == "true") for t in spec["triggers"]]
    return {"active": any(a for a, _ in results), "error": any(e for _, e in results)}


def test_the_engine_scaled_object_may_reach_zero_with_the_plans_cooldowns(rendered):
    spec, wake = rendered["spec"], rendered["plan"].wake
    assert spec["minReplicaCount"] == 0
    assert spec["cooldownPeriod"] == wake.cooldown_seconds == max(
        rendered["plan"].scaling.scale_down_window_seconds,
        rendered["plan"].startup.budget_seconds)
    assert spec["initialCooldownPeriod"] == rendered["plan"].startup.budget_seconds
    assert spec["fallback"]["replicas"] == 1
    assert keda.hpa_min_replicas(spec["minReplicaCount"]) == 1
    assert [t["name"] for t in spec["triggers"]] == ["requests-in-flight",
                                                     scale_to_zero.ACTIVATION_TRIGGER]
    # The engine's trigger reads an absent series as 0 at zero replicas, not as an error: an
    # erroring trigger with fallback.replicas set makes KEDA's executor scale to the fallback
    # (scale_scaledobjects.go RequestScale: !isActive && isError && Fallback.Replicas != 0 ->
    # doFallbackScaling), which would wake an idle engine at once. Otherwise unchanged.
    assert spec["triggers"][0]["metadata"]["ignoreNullValues"] == "true"
    assert {**spec["triggers"][0], "metadata": {**spec["triggers"][0]["metadata"],
            "ignoreNullValues": "false"}} == rendered["base"]["triggers"][0]
    # Everything else is the Autoscaler's spec unchanged.
    assert spec["advanced"] == rendered["base"]["advanced"]


def test_the_activation_trigger_counts_every_local_alias_at_the_router(rendered):
    trigger = rendered["spec"]["triggers"][1]
    query = trigger["metadata"]["query"]
    assert "litellm_proxy_total_requests_metric_total" in query
    assert 'requested_model=~"internal-default|deepseek-r1-7b"' in query
    assert f'service="{ROUTER_SERVICE}"' in query
    assert trigger["metadata"]["activationThreshold"] == "0"
    assert trigger["metadata"]["threshold"] == "1"


def test_the_first_request_wakes_an_engine_at_zero(rendered):
    """At zero the engine's series are gone (its trigger errors: ignoreNullValues false); one
    request at the router activates the object and KEDA itself sets 1 replica."""
    spec = rendered["spec"]
    idle = _state(spec, engine=None, router=None)
    assert keda.request_scale(_poll(spec, current_replicas=0, **idle,
                                    seconds_since_creation=10**6)) is None
    woken = _state(spec, engine=None, router=1.0)
    assert keda.request_scale(_poll(spec, current_replicas=0, **woken)) == 1


def test_an_idle_engine_goes_to_zero_only_after_the_scale_down_delay(rendered):
    spec = rendered["spec"]
    idle = _state(spec, engine=0.0, router=0.0)
    cooldown = spec["cooldownPeriod"]
    assert keda.request_scale(_poll(spec, current_replicas=1, **idle,
                                    seconds_since_last_active=cooldown - 1)) is None
    assert keda.request_scale(_poll(spec, current_replicas=1, **idle,
                                    seconds_since_last_active=cooldown + 1)) == 0


def test_a_new_stack_keeps_its_first_engine_for_the_start_up_budget(rendered):
    spec, budget = rendered["spec"], rendered["plan"].startup.budget_seconds
    idle = _state(spec, engine=0.0, router=None)
    assert keda.request_scale(_poll(spec, current_replicas=1, **idle,
                                    seconds_since_creation=budget - 1)) is None


def test_a_starting_engine_is_not_scaled_away_while_its_start_up_can_still_run(rendered):
    """Woken, still loading (no engine series yet), no further request: KEDA may take it back
    to zero only after cooldownPeriod since the wake, which is never shorter than the start-up
    budget, so a start within its budget always ends with a ready engine."""
    spec, budget = rendered["spec"], rendered["plan"].startup.budget_seconds
    loading = _state(spec, engine=None, router=0.0)
    assert loading == {"active": False, "error": False}
    assert spec["cooldownPeriod"] >= budget
    assert keda.request_scale(_poll(spec, current_replicas=1, **loading,
                                    seconds_since_last_active=budget)) is None


PROMTOOL_TEST = """
rule_files: []
evaluation_interval: 30s
tests:
  - interval: 30s
    input_series:
      # No request until 2m; the first creates the series at 1; a second at 6m.
      - series: 'litellm_proxy_total_requests_metric_total{{namespace="llm-staging",service="{service}",requested_model="deepseek-r1-7b",status_code="503"}}'
        values: '_ _ _ _ 1 1 1 1 1 1 1 1 2 2 2 2 2 2'
      - series: 'litellm_proxy_total_requests_metric_total{{namespace="llm-staging",service="{service}",requested_model="other-alias",status_code="200"}}'
        values: '5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22'
    promql_expr_test:
      - expr: '{query}'
        eval_time: 1m
        exp_samples: []
      - expr: '{query}'
        eval_time: 2m
        exp_samples: [{{labels: '{{}}', value: 1}}]
      - expr: '{query}'
        eval_time: 4m
        exp_samples: [{{labels: '{{}}', value: 0}}]
      - expr: '{query}'
        eval_time: 6m30s
        exp_samples: [{{labels: '{{}}', value: 1}}]
      - expr: '{query}'
        eval_time: 8m30s
        exp_samples: [{{labels: '{{}}', value: 0}}]
"""


def test_promtool_sees_the_first_request_of_a_new_router_series_and_only_local_aliases(
        rendered, tmp_path):
    """increase() needs two samples: without the young-series term the first request after a
    router start would not wake the engine. A busy alias that is not local never counts."""
    promtool = real_tools.system_tool("promtool")
    query = rendered["spec"]["triggers"][1]["metadata"]["query"]
    (tmp_path / "wake_test.yaml").write_text(PROMTOOL_TEST.format(
        service=ROUTER_SERVICE, query=query.replace("'", "''")))
    yaml.safe_load((tmp_path / "wake_test.yaml").read_text())
    result = subprocess.run([promtool, "test", "rules", "wake_test.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
