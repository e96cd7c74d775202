"""MetricsStack: scraping, recording and alert rules, and the Grafana dashboard of one deployment.

With the Prometheus Operator: a ServiceMonitor and a PrometheusRule carrying the label the
Prometheus instance selects on. Without it: ConfigMaps holding a scrape-config snippet and a rules
file (both also exported) plus the annotations the Service needs. The dashboard is a ConfigMap the
Grafana sidecar loads in either case.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from rendering import alerting, dashboard, promql
from planning.config import ConfigError, MonitoringConfig, StackConfig
from rendering.labels import selector_of
from rendering.naming import StackNames
from rendering.vllm_args import PORT
from facts import conventions

TYPE_TOKEN = "vllm-serving:index:MetricsStack"

GRAFANA_DASHBOARD_LABEL = {"grafana_dashboard": "1"}
"""The label the Grafana sidecar (kube-prometheus-stack's default) looks for on ConfigMaps."""

RELEASE_LABEL_KEY = "release"
"""kube-prometheus-stack selects ServiceMonitors and PrometheusRules on release=<its release>."""


@dataclasses.dataclass
class MetricsStackArgs:
    """Inputs of MetricsStack. Names are plain strings, known before anything is created, so
    the rules can be rendered and checked; hpa_name (the HPA scaling the Deployment) may be an
    Output."""

    namespace: str
    service_name: str
    service_port_name: str
    deployment_name: str
    served_name: str
    vllm_version: str
    selector_labels: dict[str, str]
    common_labels: dict[str, str]
    monitoring: MonitoringConfig
    hpa_name: Optional[pulumi.Input[str]] = None
    service_port: int = PORT
    """Port number behind service_port_name; only annotation-based scraping needs it."""
    workload_kind: str = "Deployment"
    """Deployment, or LeaderWorkerSet when a replica spans nodes."""
    alertmanager_config: Optional[dict[str, Any]] = None
    """The AlertmanagerConfig routing these alerts (rendering/alerting.py), when configured."""


def metrics_args(cfg: StackConfig, names: StackNames) -> MetricsStackArgs:
    """Monitoring of the stack's inference Service (named after the release) and workload."""
    target = promql.Target(cfg.namespace, cfg.model.served_name, names.release, names.workload,
                           cfg.vllm_version, workload_kind=names.workload_type[1])
    try:   # before any resource exists: a bad receiver stops the preview as load_stack does
        routing = alerting.stack_alertmanager_config(
            names.release, target, cfg.monitoring, names.hpa is not None,
            operator_labels(names.labels, cfg.monitoring))
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
    return MetricsStackArgs(
        namespace=cfg.namespace, service_name=names.release, service_port_name="http",
        deployment_name=names.workload, served_name=cfg.model.served_name,
        vllm_version=cfg.vllm_version, selector_labels=selector_of(names.labels),
        common_labels=names.labels, monitoring=cfg.monitoring, hpa_name=names.hpa,
        service_port=PORT, workload_kind=names.workload_type[1],
        alertmanager_config=routing)


def operator_labels(common_labels: dict[str, str], monitoring: MonitoringConfig) -> dict[str, str]:
    """Labels of operator objects: the common ones plus the label the Prometheus selects on."""
    labels = dict(common_labels)
    if monitoring.release_label:
        labels[RELEASE_LABEL_KEY] = monitoring.release_label
    return labels


def service_monitor_spec(args: MetricsStackArgs) -> dict[str, Any]:
    """ServiceMonitor spec: this Service's port, every 'interval', keeping vLLM and HTTP series."""
    return {
        "selector": {"matchLabels": dict(args.selector_labels)},
        "namespaceSelector": {"matchNames": [args.namespace]},
        "endpoints": [{
            "port": args.service_port_name,
            "path": "/metrics",
            "interval": args.monitoring.scrape_interval,
            "metricRelabelings": [{
                "sourceLabels": ["__name__"],
                "action": "keep",
                "regex": promql.KEEP_METRICS_REGEX,
            }],
        }],
    }


def service_annotations(args: MetricsStackArgs) -> dict[str, str]:
    """Annotations for the inference Service: scrape annotations unless a ServiceMonitor scrapes."""
    if args.monitoring.prometheus_operator:
        return {conventions.ANN_SCRAPED_BY: "servicemonitor"}
    return {
        **promql.scrape_annotations(args.service_port),
        conventions.ANN_SCRAPED_BY: "annotations",
    }


class MetricsStack(pulumi.ComponentResource):
    """Monitoring of one vLLM deployment: scrape, rules, dashboard."""

    service_annotations: pulumi.Output[dict[str, str]]
    """Annotations to put on the inference Service."""
    scrape_config: pulumi.Output[str]
    """Plain-Prometheus scrape job (YAML), for a Prometheus without the Operator."""
    rules_yaml: pulumi.Output[str]
    """The recording and alert rules as a Prometheus rules file."""
    dashboard_config_map: pulumi.Output[Optional[str]]
    """Name of the dashboard ConfigMap (namespace monitoring.dashboardNamespace)."""

    def __init__(
        self, name: str, args: MetricsStackArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        monitoring = args.monitoring
        target = promql.Target(
            args.namespace, args.served_name, args.service_name, args.deployment_name,
            args.vllm_version, workload_kind=args.workload_kind,
        )
        child = pulumi.ResourceOptions(parent=self)
        hpa_name = pulumi.Output.from_input(args.hpa_name)
        groups = hpa_name.apply(lambda hpa: promql.rule_groups(
            target, monitoring.thresholds, hpa, monitoring.dcgm_exporter
        ))
        self.rules_yaml = groups.apply(promql.rules_file)
        self.scrape_config = pulumi.Output.from_input(
            promql.scrape_config_snippet(target, args.service_port_name, monitoring.scrape_interval)
        )
        self.service_annotations = pulumi.Output.from_input(service_annotations(args))
        self.dashboard_config_map = pulumi.Output.from_input(None)

        if monitoring.enabled:
            if monitoring.prometheus_operator:
                self._operator_objects(name, args, groups, child)
            else:
                self._plain_prometheus_objects(name, args, child)
            self.dashboard_config_map = self._dashboard(name, args, target, hpa_name, child)

        self.register_outputs({
            "service_annotations": self.service_annotations,
            "scrape_config": self.scrape_config,
            "rules_yaml": self.rules_yaml,
            "dashboard_config_map": self.dashboard_config_map,
        })

    def _metadata(self, name: str, namespace: str, labels: dict[str, str], **extra: Any) -> dict:
        return {"name": name, "namespace": namespace, "labels": labels, **extra}

    def _operator_objects(self, name, args: MetricsStackArgs, groups, child) -> None:
        labels = operator_labels(args.common_labels, args.monitoring)
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=self._metadata(name, args.namespace, labels),
            spec=service_monitor_spec(args),
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=self._metadata(
                name, args.namespace, {**labels, **args.monitoring.rule_labels},
                annotations={conventions.ANN_VLLM_VERSION: args.vllm_version},
            ),
            spec=groups.apply(lambda value: {"groups": value}),
            opts=child,
        )
        if args.alertmanager_config:   # Alertmanager routing of these alerts (issue 21)
            k8s.apiextensions.CustomResource(
                f"{name}-alertmanagerconfig", opts=child,
                **alerting.custom_resource_inputs(args.alertmanager_config))

    def _plain_prometheus_objects(self, name, args: MetricsStackArgs, child) -> None:
        # Without the Operator nothing can load these automatically; they are the copy a
        # Prometheus admin mounts or pastes (the same text is exported as outputs).
        k8s.core.v1.ConfigMap(
            f"{name}-scrape-config",
            metadata=self._metadata(f"{name}-scrape-config", args.namespace, args.common_labels),
            data={"scrape-config.yaml": self.scrape_config},
            opts=child,
        )
        k8s.core.v1.ConfigMap(
            f"{name}-rules",
            metadata=self._metadata(
                f"{name}-rules", args.namespace,
                {**args.common_labels, **args.monitoring.rule_labels},
                annotations={conventions.ANN_VLLM_VERSION: args.vllm_version},
            ),
            data={f"{name}.rules.yaml": self.rules_yaml},
            opts=child,
        )

    def _dashboard(self, name, args: MetricsStackArgs, target, hpa_name, child) -> pulumi.Output:
        namespace = args.monitoring.dashboard_namespace or args.namespace
        # Several stacks share the sidecar's namespace: the stack's namespace keeps names apart.
        config_map_name = f"{args.namespace}-{name}-dashboard"[:253]
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata=self._metadata(
                config_map_name, namespace, {**args.common_labels, **GRAFANA_DASHBOARD_LABEL}
            ),
            data={f"{config_map_name}.json": hpa_name.apply(
                lambda hpa: dashboard.dashboard_json(target, hpa)
            )},
            opts=child,
        )
        return config_map.metadata.apply(lambda meta: meta.name)
