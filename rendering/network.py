"""NetworkPolicy peers shared by the fences in front of the engine's and the router's ports:
named pods in named namespaces, never every pod of a namespace (vLLM's /invocations needs no
key; a pod that reaches the router directly skips the edge's body cap and per-address limit)."""

from __future__ import annotations

from planning.config import NetworkConfig


def pods_in_namespaces(namespaces: list[str], pods: dict[str, str]) -> dict:
    """A NetworkPolicy peer: the pods with these labels in these namespaces (both selectors in
    one peer, so they AND) — never every pod of a namespace."""
    return {"namespaceSelector": {"matchExpressions": [{
                "key": "kubernetes.io/metadata.name", "operator": "In",
                "values": sorted(set(namespaces))}]},
            "podSelector": {"matchLabels": dict(pods)}}


def gateway_proxies(network: NetworkConfig) -> list[dict]:
    """The gateway's proxy pods (`network.gatewayPods` in `network.gatewayNamespaces`), as a
    peer list (empty without gateway namespaces)."""
    if not network.gateway_namespaces:
        return []
    return [pods_in_namespaces(network.gateway_namespaces, network.gateway_pods)]


def prometheus_pods(network: NetworkConfig) -> list[dict]:
    """Prometheus' own pods (`network.prometheusPods` in `network.prometheusNamespaces`), as a
    peer list (empty without Prometheus namespaces)."""
    if not network.prometheus_namespaces:
        return []
    return [pods_in_namespaces(network.prometheus_namespaces, network.prometheus_pods)]
