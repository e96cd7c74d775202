"""The Grafana dashboard: panels, selectors, data source variable, recording rules it reads."""

import json
import re

from rendering import dashboard, promql
from planning.config import MonitoringThresholds

TARGET = promql.Target("llm-serving", "deepseek-r1", "deepseek-r1-api", "deepseek-r1", "0.10.2")


def panels(model):
    return [p for p in model["panels"] if p["type"] != "row"]


def test_dashboard_has_every_panel_the_operators_need():
    titles = {p["title"] for p in panels(dashboard.dashboard(TARGET))}
    assert titles == {
        "Time to first token", "Inter-token latency", "End-to-end request latency", "Queue time",
        "Tokens per second", "Requests running and waiting", "KV-cache usage",
        "Prefix-cache hit rate", "Preemptions per second", "HTTP 5xx error ratio",
        "Replicas: desired vs ready",
    }


def test_latency_panels_show_p50_p90_p99():
    model = dashboard.dashboard(TARGET)
    ttft = next(p for p in panels(model) if p["title"] == "Time to first token")
    assert [t["legendFormat"] for t in ttft["targets"]] == ["p50", "p90", "p99"]
    assert ttft["fieldConfig"]["defaults"]["unit"] == "s"


def test_every_model_query_selects_this_model_and_namespace():
    pairs = [pair for expr in dashboard.expressions(dashboard.dashboard(TARGET))
             for pair in re.findall(r"((?:vllm|vllm_serving):[a-z0-9_:]+)\{([^}]*)\}", expr)]
    assert len(pairs) >= 5
    for expr in dashboard.expressions(dashboard.dashboard(TARGET)):
        for name, matchers in re.findall(r"((?:vllm|vllm_serving):[a-z0-9_:]+)\{([^}]*)\}", expr):
            # HTTP series have no model_name; they are the Service's.
            wanted = 'service="deepseek-r1-api"' if "http" in name else 'model_name="deepseek-r1"'
            assert wanted in matchers and 'namespace="llm-serving"' in matchers, expr


def test_dashboard_reads_only_recording_rules_that_the_rules_define():
    recorded = {
        rule["record"]
        for group in promql.rule_groups(TARGET, MonitoringThresholds())
        for rule in group["rules"] if "record" in rule
    }
    used = set()
    for expr in dashboard.expressions(dashboard.dashboard(TARGET)):
        used |= set(re.findall(r"vllm_serving:[a-z0-9_:]+", expr))
    assert used and used <= recorded


def test_replica_panel_compares_desired_ready_and_autoscaler():
    model = dashboard.dashboard(TARGET, hpa_name="keda-hpa-deepseek-r1")
    replicas = next(p for p in panels(model) if p["title"].startswith("Replicas"))
    legends = [t["legendFormat"] for t in replicas["targets"]]
    assert legends == ["desired", "ready", "autoscaler wants"]
    assert 'horizontalpodautoscaler="keda-hpa-deepseek-r1"' in replicas["targets"][2]["expr"]
    without = dashboard.dashboard(TARGET)
    replicas = next(p for p in panels(without) if p["title"].startswith("Replicas"))
    assert len(replicas["targets"]) == 2


def test_panels_use_the_datasource_variable():
    model = dashboard.dashboard(TARGET)
    variables = model["templating"]["list"]
    assert variables[0]["name"] == "datasource" and variables[0]["type"] == "datasource"
    assert variables[0]["query"] == "prometheus"
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels(model))


def test_uid_is_stable_short_and_distinct_per_namespace():
    other = promql.Target("team-b", "deepseek-r1", "deepseek-r1-api", "deepseek-r1", "0.10.2")
    uid = dashboard.dashboard_uid(TARGET)
    same = promql.Target("llm-serving", "deepseek-r1", "deepseek-r1-api", "deepseek-r1", "0.33.0")
    assert uid == dashboard.dashboard_uid(same)          # the version does not move the UID
    assert re.fullmatch(r"[a-z0-9-]{1,40}", uid), uid
    assert uid != dashboard.dashboard_uid(other)


def test_panel_ids_are_unique():
    ids = [p["id"] for p in dashboard.dashboard(TARGET)["panels"]]
    assert len(ids) == len(set(ids))


def test_json_text_is_the_same_dashboard():
    assert json.loads(dashboard.dashboard_json(TARGET)) == dashboard.dashboard(TARGET)
