"""Alertmanager routing of the stack's alerts: the AlertmanagerConfig is valid against its CRD
schema, and the routing tree the Prometheus Operator makes of it sends each alert the stack
renders to the receivers configured for it, as the real `amtool config routes test` reads it."""

from __future__ import annotations

import json
import subprocess

import jsonschema
import pytest
import yaml

from planning.config import ConfigError
from planning.config.observability import AlertingConfig, MonitoringConfig, MonitoringThresholds
from rendering import alerting, promql
from tests import tools as real_tools
from tests.harness import run_stack
from tests.schemas import SCHEMAS

NAMESPACE = "llm-serving"
OBJECT = "deepseek-r1"
TARGET = promql.Target(NAMESPACE, "deepseek-r1", "deepseek-r1-api", "deepseek-r1", "0.10.2")
# Every alert the metrics component can render: HPA alert and DCGM alerts on.
GROUPS = promql.rule_groups(TARGET, MonitoringThresholds(), "deepseek-r1", dcgm_exporter=True)
RULE_LABELS = {rule["alert"]: rule["labels"]
               for group in GROUPS for rule in group["rules"] if "alert" in rule}
"""Each alert's labels as its rendered rule writes them: Prometheus adds them to every alert it
fires (a rule's labels win over the series'), so the route sees at least these."""
SEVERITY = {alert: labels["severity"] for alert, labels in RULE_LABELS.items()}

RECEIVERS = [
    {"name": "oncall", "urlSecret": {"name": "alert-webhooks", "key": "generic"}},
    {"name": "dingtalk", "kind": "dingtalk", "severities": ["critical"],
     "urlSecret": {"name": "alert-webhooks", "key": "dingtalk"}},
    {"name": "feishu", "kind": "feishu", "severities": ["warning"],
     "alerts": ["VllmQueueDepthHigh", "VllmKvCacheNearlyFull"],
     "urlSecret": {"name": "alert-webhooks", "key": "feishu"}},
]


def _config(receivers: list[dict]) -> AlertingConfig:
    return MonitoringConfig.model_validate({"alerting": {"receivers": receivers}}).alerting


def _amtool_receivers(spec: dict, tmp_path, labels: dict[str, str]) -> list[str]:
    """The receivers the real amtool picks for an alert with `labels`."""
    urls = {receiver["name"]: f"http://127.0.0.1:9/{receiver['name']}"
            for receiver in spec["receivers"]}
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(alerting.routing_tree(spec, NAMESPACE, OBJECT, urls)))
    done = subprocess.run(
        [real_tools.system_tool("amtool"), "config", "routes", "test",
         f"--config.file={path}", *(f"{key}={value}" for key, value in labels.items())],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(",")


def test_the_stack_renders_alerts_of_both_severities():
    assert set(SEVERITY.values()) == {"critical", "warning"} and len(SEVERITY) >= 15


def test_the_alertmanager_config_is_valid_against_its_crd_schema():
    config = alerting.alertmanager_config(OBJECT, NAMESPACE, {"release": "kube-prometheus-stack"},
                                          _config(RECEIVERS), alerting.alert_names(GROUPS))
    schema = json.loads(
        (SCHEMAS / "monitoring.coreos.com" / "alertmanagerconfig_v1alpha1.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(config)


def test_webhook_urls_come_from_secret_keys_never_inline():
    spec = alerting.alertmanager_config_spec(_config(RECEIVERS), alerting.alert_names(GROUPS))
    hooks = [hook for receiver in spec["receivers"] for hook in receiver.get("webhookConfigs", [])]
    assert len(hooks) == 3 and all("url" not in hook for hook in hooks)
    assert [hook["urlSecret"]["key"] for hook in hooks] == ["generic", "dingtalk", "feishu"]


def _expected(alert: str) -> list[str]:
    """From RECEIVERS: oncall gets everything, DingTalk critical alerts, Feishu two warnings."""
    names = ["oncall"]
    if SEVERITY[alert] == "critical":
        names.append("dingtalk")
    if SEVERITY[alert] == "warning" and alert in ("VllmQueueDepthHigh", "VllmKvCacheNearlyFull"):
        names.append("feishu")
    return [alerting.namespaced(NAMESPACE, OBJECT, name) for name in names]


@pytest.mark.parametrize("alert", sorted(SEVERITY))
def test_amtool_routes_each_stack_alert_to_the_receivers_its_severity_and_name_select(
        alert, tmp_path):
    spec = alerting.alertmanager_config_spec(_config(RECEIVERS), alerting.alert_names(GROUPS))
    labels = {"alertname": alert, **RULE_LABELS[alert]}
    assert _amtool_receivers(spec, tmp_path, labels) == _expected(alert)


def test_amtool_sends_an_alert_no_receiver_selects_to_the_unrouted_receiver(tmp_path):
    spec = alerting.alertmanager_config_spec(_config(RECEIVERS[1:2]), alerting.alert_names(GROUPS))
    labels = {"alertname": "VllmQueueDepthHigh", "severity": "warning", "namespace": NAMESPACE}
    assert _amtool_receivers(spec, tmp_path, labels) == [f"{NAMESPACE}/{OBJECT}/unrouted"]


@pytest.mark.parametrize("labels", [
    {"alertname": "VllmEngineHung", "severity": "critical", "namespace": "other-team"},
    {"alertname": "KubePodCrashLooping", "severity": "critical", "namespace": NAMESPACE},
])
def test_amtool_leaves_other_namespaces_and_other_alerts_to_the_base_config(labels, tmp_path):
    spec = alerting.alertmanager_config_spec(_config(RECEIVERS), alerting.alert_names(GROUPS))
    assert _amtool_receivers(spec, tmp_path, labels) == [alerting.BASE_RECEIVER]


def test_a_receiver_naming_an_alert_the_stack_does_not_render_fails_naming_the_key():
    config = _config([{**RECEIVERS[0], "alerts": ["VllmQueueDepthHihg"]}])
    with pytest.raises(ConfigError, match=r"monitoring\.alerting\.receivers\[0\]\.alerts: "
                                          r"'VllmQueueDepthHihg' is not an alert"):
        alerting.alertmanager_config_spec(config, alerting.alert_names(GROUPS))


@pytest.mark.parametrize("receivers, message", [
    ([RECEIVERS[0], RECEIVERS[0]], "appear more than once"),
    ([{**RECEIVERS[0], "name": "unrouted"}], "own receiver"),
    ([{**RECEIVERS[0], "kind": "slack"}], "generic"),
    ([{"name": "oncall", "url": "https://hooks.example/x"}], "url"),
])
def test_bad_alerting_config_is_refused(receivers, message):
    with pytest.raises(Exception, match=message):
        _config(receivers)


def test_the_operator_conversion_namespaces_receivers_and_matches_the_objects_namespace():
    """amcfg.go: makeNamespacedString and namespaceEnforcer.processRoute."""
    spec = alerting.alertmanager_config_spec(_config(RECEIVERS[:1]), ["VllmEngineHung"])
    tree = alerting.routing_tree(spec, NAMESPACE, OBJECT, {"oncall": "http://127.0.0.1:9/"})
    top = tree["route"]["routes"][0]
    assert top["receiver"] == f"{NAMESPACE}/{OBJECT}/unrouted" and top["continue"] is True
    assert top["matchers"] == ['alertname=~"VllmEngineHung"', f'namespace="{NAMESPACE}"']
    assert top["routes"][0]["receiver"] == f"{NAMESPACE}/{OBJECT}/oncall"


def test_the_conversion_matches_the_operators_golden_for_a_simple_cr():
    """prometheus-operator pkg/alertmanager/testdata/base_with_subroute_deprecated_matching_
    pattern_simple_CR.golden (commit caa5858): AlertmanagerConfig mynamespace/myamc with
    route {receiver: test} and receiver `test` becomes the first sub-route of the base root."""
    spec = {"route": {"receiver": "test"}, "receivers": [{"name": "test"}]}
    tree = alerting.routing_tree(spec, "mynamespace", "myamc", {})
    assert tree["route"]["routes"][0] == {"receiver": "mynamespace/myamc/test",
                                          "matchers": ['namespace="mynamespace"'],
                                          "continue": True}
    assert tree["receivers"] == [{"name": "null"}, {"name": "mynamespace/myamc/test"}]


def _rendered_alerts(run) -> list[dict]:
    """Every alerting rule of every PrometheusRule the stack renders (engine and router)."""
    return [rule for rule_object in run.of_type("monitoring.coreos.com/v1:PrometheusRule")
            for group in rule_object.inputs["spec"]["groups"] for rule in group["rules"]
            if "alert" in rule]


def test_every_alert_prod_ships_reaches_its_receivers_through_the_rendered_routing(tmp_path):
    """prod with a catch-all receiver: each alert of its rendered PrometheusRules (the engine's
    and the router's), with the labels its rule gives it, goes to that receiver through the
    routing tree the Operator makes of the rendered AlertmanagerConfig; none falls through to
    the base config for want of the namespace label or of its name in the top route."""
    run = run_stack("prod", {"monitoring": {"alerting": {"receivers": RECEIVERS[:1]}}})
    assert run.error is None, run.error
    [config] = run.of_type("monitoring.coreos.com/v1alpha1:AlertmanagerConfig")
    namespace, name = config.metadata["namespace"], config.metadata["name"]
    rules = _rendered_alerts(run)
    assert {"RouterRateLimitingClients", "RouterQueueing", "RouterLimiterPerReplica"} <= \
        {rule["alert"] for rule in rules}
    urls = {"oncall": "http://127.0.0.1:9/oncall"}
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(alerting.routing_tree(config.inputs["spec"], namespace, name,
                                                         urls)))
    for rule in rules:
        labels = {"alertname": rule["alert"], **rule["labels"]}
        done = subprocess.run(
            [real_tools.system_tool("amtool"), "config", "routes", "test",
             f"--config.file={path}", *(f"{key}={value}" for key, value in labels.items())],
            capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{namespace}/{name}/oncall", labels
