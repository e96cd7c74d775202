"""The monitoring objects of one deployment as plain data: with the Prometheus Operator a
ServiceMonitor and a PrometheusRule carrying the label the Prometheus instance selects on;
without it ConfigMaps holding a scrape-config snippet and a rules file (both also exported)
plus the annotations the Service needs. The dashboard is a ConfigMap the Grafana sidecar loads
in either case."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from facts import conventions
from planning.config import MonitoringConfig
from rendering import alerting, dashboard, kube, promql
from rendering.vllm_args import PORT

GRAFANA_DASHBOARD_LABEL = {"grafana_dashboard": "1"}
"""The label the Grafana sidecar (kube-prometheus-stack's default) looks for on ConfigMaps."""

RELEASE_LABEL_KEY = "release"
"""kube-prometheus-stack selects ServiceMonitors and PrometheusRules on release=<its release>."""


@dataclasses.dataclass(frozen=True)
class MetricsInputs:
    """What the monitoring objects are rendered from. Names are plain strings, known before
    anything is created, so the rules can be rendered and checked."""

    release: str
    """Names the objects (`<release>-rules`, ...)."""
    namespace: str
    service_name: str
    service_port_name: str
    deployment_name: str
    served_name: str
    vllm_version: str
    selector_labels: dict[str, str]
    common_labels: dict[str, str]
    monitoring: MonitoringConfig
    hpa_name: Optional[str] = None
    """The HPA scaling the workload (rendering/naming.py `hpa_name_for`), None without one."""
    service_port: int = PORT
    """Port number behind service_port_name; only annotation-based scraping needs it."""
    workload_kind: str = "Deployment"
    """Deployment, or LeaderWorkerSet when a replica spans nodes."""
    router_alerts: tuple[str, ...] = ()
    """The names of the router's alerts (rendering/router.py `alert_rules`), which the
    AlertmanagerConfig routes with the engine's."""

    @property
    def target(self) -> promql.Target:
        return promql.Target(self.namespace, self.served_name, self.service_name,
                             self.deployment_name, self.vllm_version,
                             workload_kind=self.workload_kind)


def operator_labels(common_labels: dict[str, str], monitoring: MonitoringConfig) -> dict[str, str]:
    """Labels of operator objects: the common ones plus the label the Prometheus selects on."""
    labels = dict(common_labels)
    if monitoring.release_label:
        labels[RELEASE_LABEL_KEY] = monitoring.release_label
    return labels


def service_monitor_spec(inputs: MetricsInputs) -> dict[str, Any]:
    """ServiceMonitor spec: this Service's port, every 'interval', keeping vLLM and HTTP series."""
    return kube.service_monitor_spec(
        inputs.selector_labels, inputs.service_port_name, inputs.monitoring.scrape_interval,
        namespace=inputs.namespace, keep_regex=promql.KEEP_METRICS_REGEX)


def service_annotations(inputs: MetricsInputs) -> dict[str, str]:
    """Annotations for the inference Service: scrape annotations unless a ServiceMonitor scrapes."""
    if inputs.monitoring.prometheus_operator:
        return {conventions.ANN_SCRAPED_BY: "servicemonitor"}
    return {**kube.scrape_annotations(inputs.service_port),
            conventions.ANN_SCRAPED_BY: "annotations"}


@dataclasses.dataclass(frozen=True)
class MetricsObjects:
    """The texts every mode exports, and the objects of the configured mode ({"metadata",
    "spec"} or {"metadata", "data"} each; None when the mode has none)."""

    service_annotations: dict[str, str]
    scrape_config: str
    rules_yaml: str
    service_monitor: Optional[dict] = None
    prometheus_rule: Optional[dict] = None
    scrape_config_map: Optional[dict] = None
    rules_config_map: Optional[dict] = None
    dashboard: Optional[dict] = None
    alertmanager_config: Optional[dict] = None
    """The AlertmanagerConfig routing these alerts (rendering/alerting.py), when configured."""


def metrics_objects(inputs: MetricsInputs) -> MetricsObjects:
    """Scrape, rules and dashboard of the configured monitoring mode (none when disabled)."""
    monitoring, target = inputs.monitoring, inputs.target
    groups = promql.rule_groups(target, monitoring.thresholds, inputs.hpa_name,
                                monitoring.dcgm_exporter)
    texts = dict(
        service_annotations=service_annotations(inputs), rules_yaml=promql.rules_file(groups),
        scrape_config=promql.scrape_config_snippet(target, inputs.service_port_name,
                                                   monitoring.scrape_interval))
    if not monitoring.enabled:
        return MetricsObjects(**texts)
    if monitoring.prometheus_operator:
        return MetricsObjects(**texts, **_operator_objects(inputs, groups),
                              dashboard=_dashboard(inputs),
                              alertmanager_config=alerting.stack_alertmanager_config(
                                  inputs.release, target, monitoring,
                                  inputs.hpa_name is not None,
                                  operator_labels(inputs.common_labels, monitoring),
                                  inputs.router_alerts))
    return MetricsObjects(**texts, **_plain_prometheus_objects(inputs, texts),
                          dashboard=_dashboard(inputs))


def _metadata(name: str, namespace: str, labels: dict[str, str], **extra: Any) -> dict:
    return {"name": name, "namespace": namespace, "labels": labels, **extra}


def _operator_objects(inputs: MetricsInputs, groups: list[dict]) -> dict[str, dict]:
    labels = operator_labels(inputs.common_labels, inputs.monitoring)
    return {
        "service_monitor": {"metadata": _metadata(inputs.release, inputs.namespace, labels),
                            "spec": service_monitor_spec(inputs)},
        "prometheus_rule": {"metadata": _metadata(
            inputs.release, inputs.namespace, {**labels, **inputs.monitoring.rule_labels},
            annotations={conventions.ANN_VLLM_VERSION: inputs.vllm_version}),
            "spec": {"groups": groups}},
    }


def _plain_prometheus_objects(inputs: MetricsInputs, texts: dict[str, Any]) -> dict[str, dict]:
    # Without the Operator nothing can load these automatically; they are the copy a
    # Prometheus admin mounts or pastes (the same text is exported as outputs).
    name = inputs.release
    return {
        "scrape_config_map": {
            "metadata": _metadata(f"{name}-scrape-config", inputs.namespace,
                                  inputs.common_labels),
            "data": {"scrape-config.yaml": texts["scrape_config"]}},
        "rules_config_map": {
            "metadata": _metadata(f"{name}-rules", inputs.namespace,
                                  {**inputs.common_labels, **inputs.monitoring.rule_labels},
                                  annotations={conventions.ANN_VLLM_VERSION: inputs.vllm_version}),
            "data": {f"{name}.rules.yaml": texts["rules_yaml"]}},
    }


def _dashboard(inputs: MetricsInputs) -> dict:
    namespace = inputs.monitoring.dashboard_namespace or inputs.namespace
    # Several stacks share the sidecar's namespace: the stack's namespace keeps names apart.
    config_map_name = f"{inputs.namespace}-{inputs.release}-dashboard"[:253]
    return {"metadata": _metadata(config_map_name, namespace,
                                  {**inputs.common_labels, **GRAFANA_DASHBOARD_LABEL}),
            "data": {f"{config_map_name}.json": dashboard.dashboard_json(inputs.target,
                                                                         inputs.hpa_name)}}
