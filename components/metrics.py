"""MetricsStack: scraping, recording and alert rules, and the Grafana dashboard of one deployment.

The objects come rendered (rendering/metrics.py): with the Prometheus Operator a ServiceMonitor
and a PrometheusRule; without it ConfigMaps with a scrape-config snippet and a rules file (both
also exported); the dashboard ConfigMap in either case.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from rendering.alerting import custom_resource_inputs
from rendering.metrics import MetricsObjects

TYPE_TOKEN = "vllm-serving:index:MetricsStack"
OPERATOR_API_VERSION = "monitoring.coreos.com/v1"


@dataclasses.dataclass
class MetricsStackArgs:
    """Inputs of MetricsStack: the monitoring mode's objects and texts, rendered."""

    objects: MetricsObjects


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
        objects, child = args.objects, pulumi.ResourceOptions(parent=self)
        self.rules_yaml = pulumi.Output.from_input(objects.rules_yaml)
        self.scrape_config = pulumi.Output.from_input(objects.scrape_config)
        self.service_annotations = pulumi.Output.from_input(objects.service_annotations)
        self.dashboard_config_map = pulumi.Output.from_input(None)
        if objects.service_monitor is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-servicemonitor", api_version=OPERATOR_API_VERSION,
                kind="ServiceMonitor", **objects.service_monitor, opts=child)
        if objects.prometheus_rule is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-rules", api_version=OPERATOR_API_VERSION, kind="PrometheusRule",
                **objects.prometheus_rule, opts=child)
        if objects.scrape_config_map is not None:
            k8s.core.v1.ConfigMap(f"{name}-scrape-config", **objects.scrape_config_map,
                                  opts=child)
        if objects.rules_config_map is not None:
            k8s.core.v1.ConfigMap(f"{name}-rules", **objects.rules_config_map, opts=child)
        if objects.alertmanager_config is not None:   # Alertmanager routing of these alerts
            k8s.apiextensions.CustomResource(
                f"{name}-alertmanagerconfig", opts=child,
                **custom_resource_inputs(objects.alertmanager_config))
        if objects.dashboard is not None:
            config_map = k8s.core.v1.ConfigMap(f"{name}-dashboard", **objects.dashboard,
                                               opts=child)
            self.dashboard_config_map = config_map.metadata.apply(lambda meta: meta.name)
        self.register_outputs({
            "service_annotations": self.service_annotations,
            "scrape_config": self.scrape_config,
            "rules_yaml": self.rules_yaml,
            "dashboard_config_map": self.dashboard_config_map,
        })
