"""The alert for a rate limiter that fell back to per-replica counting, run by promtool.

LiteLLM skips Redis while its Redis circuit breaker is open and counts limits in each replica's
memory; `litellm_redis_circuit_breaker_state{state="open"}` says so (the series is checked on
the real router's /metrics in tests/router/test_router_live.py). The rule is taken from prod's
rendered PrometheusRule; promtool must be installed (`.ci/run` installs Debian's `prometheus`).
"""

from __future__ import annotations

import subprocess

import pytest

import yaml

from rendering import promql
from tests import tools as real_tools
from tests.harness import run_stack, stack_config

ALERT = "RouterLimiterPerReplica"
SERVICE = "prod-deepseek-r1-32b-router"


def _series(pod: str, state: str, values: str) -> dict:
    return {"series": f'{promql.LIMITER_BREAKER_SERIES}{{namespace="llm-serving",'
                      f'service="{SERVICE}",pod="{pod}",state="{state}"}}',
            "values": values}


def _healthy(pod: str) -> list[dict]:
    return [_series(pod, "closed", "1x20"), _series(pod, "open", "0x20"),
            _series(pod, "half_open", "0x20")]


CASES = [
    # One replica's breaker opens at minute 3 and stays open (Redis hangs): fires after 2m.
    {"interval": "1m",
     "input_series": _healthy("router-a") + [
         _series("router-b", "closed", "1 1 1 0x17"), _series("router-b", "open", "0 0 0 1x17"),
         _series("router-b", "half_open", "0x20")],
     "alert_rule_test": [
         {"eval_time": "4m", "alertname": ALERT, "exp_alerts": []},
         {"eval_time": "6m", "alertname": ALERT, "exp_alerts": [{
             "exp_labels": {"severity": "warning", "namespace": "llm-serving",
                            "pod": "router-b"}}]}]},
    # Open, half-open probe, open again (Redis still down): still firing.
    {"interval": "1m",
     "input_series": [_series("router-a", "closed", "0x20"),
                      _series("router-a", "open", "1 1 1 0 1 1 0 1x13"),
                      _series("router-a", "half_open", "0 0 0 1 0 0 1 0x13")],
     "alert_rule_test": [{"eval_time": "10m", "alertname": ALERT, "exp_alerts": [{
         "exp_labels": {"severity": "warning", "namespace": "llm-serving",
                        "pod": "router-a"}}]}]},
    # Both replicas counting in Redis: silent.
    {"interval": "1m",
     "input_series": _healthy("router-a") + _healthy("router-b"),
     "alert_rule_test": [{"eval_time": "15m", "alertname": ALERT, "exp_alerts": []}]},
    # Another stack's router with an open breaker is not this one's alert.
    {"interval": "1m",
     "input_series": [{"series": f'{promql.LIMITER_BREAKER_SERIES}{{namespace="other",'
                                 'service="staging-router",pod="x",state="open"}',
                       "values": "1x20"}],
     "alert_rule_test": [{"eval_time": "15m", "alertname": ALERT, "exp_alerts": []}]},
]


@pytest.fixture(scope="module")
def rules() -> list[dict]:
    run = run_stack("prod")
    assert run.error is None, run.error
    rule = next(r for r in run.of_type("monitoring.coreos.com/v1:PrometheusRule")
                if r.name.endswith("-router-rules"))
    return rule.inputs["spec"]["groups"]


def test_the_limiter_alert_fires_when_a_replica_counts_without_redis(rules, tmp_path):
    promtool = real_tools.system_tool("promtool")
    # Annotations left out, as in tests/rendering/test_promtool.py: the cases assert labels.
    bare = [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"}
                            for r in g["rules"]]} for g in rules]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": bare}))
    (tmp_path / "limiter_test.yaml").write_text(yaml.safe_dump({
        "rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": CASES}))
    done = subprocess.run([promtool, "test", "rules", "limiter_test.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_limiter_alert_names_the_replica_count(rules):
    alert = next(r for g in rules for r in g["rules"] if r.get("alert") == ALERT)
    replicas = stack_config("prod")["traffic"]["router"]["replicas"]
    assert f"{replicas} times its limit" in alert["annotations"]["description"]
    assert f'service="{SERVICE}"' in alert["expr"]


def test_a_router_without_redis_has_no_limiter_alert():
    from rendering import router
    names = [r["alert"] for g in router.alert_rules("x", 0) for r in g["rules"]]
    assert ALERT not in names
