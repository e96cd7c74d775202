"""`network`: who may reach the engine (the NetworkPolicy's peers)."""

from __future__ import annotations

from pydantic import Field, field_validator

from planning.config.base import DNS_LABEL, LabelKey, LabelValue, _Model


ENVOY_PROXY_POD_LABELS = {
    "app.kubernetes.io/name": "envoy",
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
}
"""Labels Envoy Gateway puts on every proxy pod and on no other (envoyproxy/gateway
internal/infrastructure/kubernetes/proxy/resource.go `EnvoyAppLabel`, applied by
resource_provider.go `getPodLabels`); each proxy also carries
gateway.envoyproxy.io/owning-gateway-name and -namespace, to narrow to one Gateway."""
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
"""The label Prometheus' own pods carry both from the Prometheus Operator (kube-prometheus-stack;
prometheus-operator pkg/prometheus/server/statefulset.go `makeStatefulSetSpec`) and from the
prometheus-community `prometheus` chart (_helpers.tpl `prometheus.common.matchLabels`)."""


class NetworkConfig(_Model):
    """Who may reach the engine: named pods in named namespaces, never whole namespaces."""

    gateway_namespaces: list[DNS_LABEL] = Field(default_factory=list,
        description="The namespaces of the gateway's proxies (required, non-empty); with the "
                    "traffic layer the gateway reaches the router's port 4000, the engine only "
                    "the router's pods. For Envoy Gateway list the namespace its proxy pods run "
                    "in (envoy-gateway-system by default)")
    prometheus_namespaces: list[DNS_LABEL] = Field(default_factory=lambda: ["monitoring"],
        description="The namespaces of Prometheus (non-empty with monitoring)")
    gateway_pods: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: dict(ENVOY_PROXY_POD_LABELS),
        description="Labels of the gateway's proxy pods (in gatewayNamespaces) that may reach "
                    "the engine when the stack has no router; an empty map is refused (it would admit "
                    "every pod)")
    prometheus_pods: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: dict(PROMETHEUS_POD_LABELS),
        description="Labels of Prometheus' pods (in prometheusNamespaces) that may scrape")

    @field_validator("gateway_pods", "prometheus_pods")
    @classmethod
    def _names_pods(cls, value: dict[str, str]) -> dict[str, str]:
        # An empty podSelector selects every pod of the namespaces: the namespace-wide
        # admission this fence exists to prevent.
        if not value:
            raise ValueError(
                "an empty selector matches every pod of the namespaces, and every one of them "
                "could call vLLM's /invocations, /tokenize and /metrics, which need no API "
                "key; give the labels of the pods that must reach the engine, or leave the "
                "key out for the default")
        return value


