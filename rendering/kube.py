"""Small Kubernetes pieces every workload of the stack renders the same way, written once.

Each returns a whole, camelCase piece of an object (a rule, a spec, a probe); the callers in
rendering/ compose them. A change here changes every object that uses the piece: the
transition tests (tests/transitions.py) say what the next `pulumi up` does with it."""

from typing import Optional

DNS_PORT = 53
HTTPS_PORT = 443


def dns_egress() -> dict:
    """Egress to DNS, 53/UDP and TCP, any destination: the cluster DNS service's address
    varies by distribution, and TCP carries answers too large for UDP."""
    return {"ports": [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}]}


def https_egress() -> dict:
    """Egress to HTTPS on any address: hubs' CDNs and cloud providers have no fixed ones."""
    return {"ports": [{"protocol": "TCP", "port": HTTPS_PORT}]}


def disruption_budget(selector: dict[str, str]) -> dict:
    """PodDisruptionBudget spec: at most one pod down voluntarily.

    With several replicas this keeps the rest serving through a drain; with one it still lets
    the eviction through (minAvailable: 1 would block node drains forever), and an unhealthy
    pod may always be evicted (unhealthyPodEvictionPolicy: AlwaysAllow, policy/v1 since 1.26)."""
    return {"selector": {"matchLabels": dict(selector)}, "maxUnavailable": 1,
            "unhealthyPodEvictionPolicy": "AlwaysAllow"}


def scrape_annotations(port: int, path: str = "/metrics") -> dict[str, str]:
    """Annotations that annotation-based Prometheus scrape jobs look for on a Service or pod."""
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is not a TCP port")
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
            "prometheus.io/path": path, "prometheus.io/scheme": "http"}


def service_monitor_spec(selector: dict[str, str], port_name: str, interval: str, *,
                         namespace: Optional[str] = None,
                         keep_regex: Optional[str] = None) -> dict:
    """ServiceMonitor spec: the Services matching `selector` (in `namespace` when given), their
    port `port_name` at /metrics every `interval`, keeping only series matching `keep_regex`."""
    endpoint: dict = {"port": port_name, "path": "/metrics", "interval": interval}
    if keep_regex is not None:
        endpoint["metricRelabelings"] = [
            {"sourceLabels": ["__name__"], "action": "keep", "regex": keep_regex}]
    spec: dict = {"selector": {"matchLabels": dict(selector)}, "endpoints": [endpoint]}
    if namespace is not None:
        spec["namespaceSelector"] = {"matchNames": [namespace]}
    return spec


def http_probe(path: str, port_name: str, *, period: int, timeout: int, failures: int) -> dict:
    """An HTTP GET probe on a named port; one success is enough (the kubelet requires exactly 1
    for liveness and startup probes)."""
    return {"httpGet": {"path": path, "port": port_name}, "periodSeconds": period,
            "timeoutSeconds": timeout, "failureThreshold": failures, "successThreshold": 1}


def surge_deployment_spec(replicas: int, selector: dict[str, str], template: dict) -> dict:
    """Deployment spec that rolls one new pod in before taking an old one out (maxSurge 1,
    maxUnavailable 0), keeping five old ReplicaSets to roll back to."""
    return {"replicas": replicas, "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": template}
