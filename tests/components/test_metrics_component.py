"""MetricsStack under Pulumi mocks: what it creates with and without the Prometheus Operator."""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Optional

import jsonschema
import pytest

from planning.config import MonitoringConfig
from tests.harness import assert_refused_before_any_resource, render_component, run_stack
from tests.schemas import SCHEMAS
from components.metrics import MetricsStack, MetricsStackArgs
from rendering.metrics import MetricsInputs, metrics_objects
from facts import conventions

SELECTOR = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "deepseek-r1"}
COMMON = {**SELECTOR, "app.kubernetes.io/part-of": "vllm-serving"}


def render(build: Callable[[], MetricsStack]) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """MetricsStack's resources and outputs."""
    return render_component(
        build, ("service_annotations", "scrape_config", "rules_yaml", "dashboard_config_map")
    )


def args(hpa_name: Optional[str] = None, **monitoring: Any) -> MetricsStackArgs:
    """The stack's arguments with monitoring config given as camelCase keys."""
    return MetricsStackArgs(metrics_objects(MetricsInputs(
        release="deepseek-r1", namespace="llm-serving", service_name="deepseek-r1-api",
        service_port_name="http", deployment_name="deepseek-r1", served_name="deepseek-r1",
        vllm_version="0.10.2", selector_labels=SELECTOR, common_labels=COMMON,
        monitoring=MonitoringConfig.model_validate(monitoring), hpa_name=hpa_name,
    )))


def validate(resource: dict, schema_path: str) -> None:
    """Validate a recorded resource against a CRD schema from schemas/ (in the repository)."""
    schema = json.loads((SCHEMAS / schema_path).read_text())
    # No check_schema: the CRD schemas carry Go regexes ('^(?i)...') Python cannot compile, on
    # fields these objects never set.
    jsonschema.Draft202012Validator(schema).validate(manifest(resource))


def manifest(resource: dict) -> dict:
    return {key: resource[key] for key in ("apiVersion", "kind", "metadata", "spec")}


def only(by_kind: dict, kind: str) -> dict:
    assert len(by_kind.get(kind, [])) == 1, f"expected one {kind}, got {by_kind.get(kind)}"
    return by_kind[kind][0]


def alert_exprs(rule_groups: list[dict]) -> dict[str, str]:
    return {r["alert"]: r["expr"] for g in rule_groups for r in g["rules"] if "alert" in r}


def test_operator_mode_creates_a_servicemonitor_for_the_service_port():
    by_kind, _ = render(lambda: MetricsStack("deepseek-r1", args(scrapeInterval="30s")))
    monitor = only(by_kind, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "llm-serving"
    assert monitor["spec"]["selector"] == {"matchLabels": SELECTOR}
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["llm-serving"]}
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == "http" and endpoint["interval"] == "30s"
    assert re.fullmatch(endpoint["metricRelabelings"][0]["regex"], "vllm:num_requests_running")
    validate(monitor, "monitoring.coreos.com/servicemonitor_v1.json")


def test_operator_objects_carry_the_release_label_the_prometheus_selects():
    by_kind, _ = render(lambda: MetricsStack("deepseek-r1", args(
        releaseLabel="prom", ruleLabels={"role": "alert-rules"})))
    monitor, rule = only(by_kind, "ServiceMonitor"), only(by_kind, "PrometheusRule")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert rule["metadata"]["labels"]["release"] == "prom"
    assert rule["metadata"]["labels"]["role"] == "alert-rules"
    assert rule["metadata"]["annotations"][conventions.ANN_VLLM_VERSION] == "0.10.2"


def test_empty_release_label_leaves_the_label_out():
    by_kind, _ = render(lambda: MetricsStack("deepseek-r1", args(releaseLabel="")))
    assert "release" not in only(by_kind, "ServiceMonitor")["metadata"]["labels"]


def test_prometheusrule_selects_the_served_model_in_its_namespace_and_is_valid():
    by_kind, _ = render(lambda: MetricsStack("deepseek-r1", args()))
    rule = only(by_kind, "PrometheusRule")
    validate(rule, "monitoring.coreos.com/prometheusrule_v1.json")
    text = json.dumps(rule["spec"])
    selectors = re.findall(r"vllm:[a-z0-9_]+\{([^}]*)\}", text)
    assert selectors
    for matchers in selectors:
        assert 'model_name=\\"deepseek-r1\\"' in matchers
        assert 'namespace=\\"llm-serving\\"' in matchers


def test_alert_thresholds_come_from_stack_config():
    by_kind, _ = render(lambda: MetricsStack("deepseek-r1", args(thresholds={
        "queueDepth": 42, "kvCacheUsage": 0.8, "ttftP99Seconds": 3, "errorRatio": 0.01})))
    alerts = alert_exprs(only(by_kind, "PrometheusRule")["spec"]["groups"])
    assert alerts["VllmQueueDepthHigh"].endswith("> 42")
    assert alerts["VllmKvCacheNearlyFull"].endswith("> 0.8")
    assert alerts["VllmTimeToFirstTokenP99High"].endswith("> 3")
    assert alerts["VllmHttp5xxRatioHigh"].endswith("> 0.01")


def test_autoscaler_alert_names_the_hpa_that_owns_the_replicas():
    by_kind, outputs = render(
        lambda: MetricsStack("deepseek-r1", args(hpa_name="keda-hpa-deepseek-r1")))
    alerts = alert_exprs(only(by_kind, "PrometheusRule")["spec"]["groups"])
    expr = alerts["VllmAutoscalerMetricUnavailable"]
    assert 'horizontalpodautoscaler="keda-hpa-deepseek-r1"' in expr
    assert "VllmAutoscalerMetricUnavailable" in outputs["rules_yaml"]


def test_dashboard_configmap_is_labelled_for_the_grafana_sidecar():
    by_kind, outputs = render(
        lambda: MetricsStack("deepseek-r1", args(dashboardNamespace="grafana")))
    dashboards = [c for c in by_kind["ConfigMap"] if c["name"] == "deepseek-r1-dashboard"]
    assert len(dashboards) == 1
    config_map = dashboards[0]
    assert config_map["metadata"]["namespace"] == "grafana"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (body,) = config_map["data"].values()
    assert json.loads(body)["title"] == "vLLM deepseek-r1 (llm-serving)"
    assert outputs["dashboard_config_map"] == "llm-serving-deepseek-r1-dashboard"


def test_dashboard_goes_to_the_stack_namespace_when_no_sidecar_namespace_is_set():
    by_kind, _ = render(lambda: MetricsStack("deepseek-r1", args(dashboardNamespace=None)))
    (config_map,) = by_kind["ConfigMap"]
    assert config_map["metadata"]["namespace"] == "llm-serving"


def test_operator_mode_needs_no_scrape_annotations():
    by_kind, outputs = render(lambda: MetricsStack("deepseek-r1", args()))
    assert outputs["service_annotations"] == {conventions.ANN_SCRAPED_BY: "servicemonitor"}
    assert [c["name"] for c in by_kind["ConfigMap"]] == ["deepseek-r1-dashboard"]


def test_plain_prometheus_mode_exports_scrape_config_rules_and_annotations():
    by_kind, outputs = render(lambda: MetricsStack("deepseek-r1", args(prometheusOperator=False)))
    assert "ServiceMonitor" not in by_kind and "PrometheusRule" not in by_kind
    config_maps = {c["name"]: c for c in by_kind["ConfigMap"]}
    assert set(config_maps) == {
        "deepseek-r1-scrape-config", "deepseek-r1-rules", "deepseek-r1-dashboard"}
    scrape = config_maps["deepseek-r1-scrape-config"]["data"]["scrape-config.yaml"]
    assert scrape == outputs["scrape_config"]
    assert config_maps["deepseek-r1-rules"]["metadata"]["namespace"] == "llm-serving"
    assert "job_name: vllm-serving/llm-serving/deepseek-r1-api" in outputs["scrape_config"]
    assert outputs["service_annotations"]["prometheus.io/scrape"] == "true"
    assert outputs["service_annotations"]["prometheus.io/port"] == "8000"
    assert outputs["service_annotations"][conventions.ANN_SCRAPED_BY] == "annotations"


def test_disabled_monitoring_creates_nothing():
    by_kind, _ = render(lambda: MetricsStack("deepseek-r1", args(enabled=False)))
    assert set(by_kind) == {"MetricsStack"}


@pytest.mark.parametrize("operator", [True, False])
def test_child_names_derive_from_the_component_name(operator):
    by_kind, _ = render(lambda: MetricsStack("ds", args(prometheusOperator=operator)))
    children = [
        r["name"] for kind, items in by_kind.items() if kind != "MetricsStack" for r in items]
    assert children and all(name.startswith("ds-") for name in children)


ALERT_ROUTING = {"receivers": [
    {"name": "oncall", "urlSecret": {"name": "alert-webhooks", "key": "generic"}},
    {"name": "feishu", "kind": "feishu", "severities": ["warning"],
     "urlSecret": {"name": "alert-webhooks", "key": "feishu"}}]}


def test_configured_alert_routing_is_one_valid_alertmanagerconfig_child_of_the_prod_stack():
    run = run_stack("prod", {"monitoring": {"alerting": ALERT_ROUTING}})
    assert run.error is None, run.error
    config = run.one("monitoring.coreos.com/v1alpha1:AlertmanagerConfig")
    assert config.name == f"{run.one('MetricsStack').name}-alertmanagerconfig"
    assert config.metadata["labels"]["release"] == "kube-prometheus-stack"
    validate(config.inputs, "monitoring.coreos.com/alertmanagerconfig_v1alpha1.json")
    routes = config.inputs["spec"]["route"]["routes"]
    assert [route["receiver"] for route in routes] == ["oncall", "feishu"]


def test_without_receivers_no_alertmanagerconfig_is_rendered():
    assert run_stack("prod").of_type("AlertmanagerConfig") == []


@pytest.mark.parametrize("override, fragments", [
    ({"alerting": {"receivers": [{**ALERT_ROUTING["receivers"][0], "alerts": ["VllmGpuXidError"]}]}},
     ["monitoring.alerting.receivers[0].alerts: 'VllmGpuXidError' is not an alert"]),
    ({"prometheusOperator": False, "alerting": ALERT_ROUTING},
     ["monitoring.prometheusOperator is false"]),
])
def test_alert_routing_that_cannot_work_is_refused_before_any_resource(override, fragments):
    assert_refused_before_any_resource("prod", {"monitoring": override}, fragments)
