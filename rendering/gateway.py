"""The edge as plain data: Gateway API objects, the cert-manager Certificate and the Envoy
Gateway policies, with the derived body limit and timeouts (planning/traffic.py).

Each object states the numbers a policy checks (longest request, largest body) as
annotations, because policies read objects, never the program (facts/conventions.py).
"""

from __future__ import annotations

from typing import Any

from facts import conventions as c
from planning.traffic import GatewayConfig, TrafficPlan

GATEWAY_API = "gateway.networking.k8s.io/v1"
ENVOY_GATEWAY_API = "gateway.envoyproxy.io/v1alpha1"
CERT_MANAGER_API = "cert-manager.io/v1"
RETRY_AFTER_SECONDS = 60
"""The edge limit's window; OpenAI SDKs honour Retry-After up to 60 s (reference/gateway.md)."""


def duration(seconds: int) -> str:
    """Gateway API / Envoy Gateway duration text: 408 → '408s'."""
    return f"{int(seconds)}s"


def derived_annotations(plan: TrafficPlan) -> dict[str, str]:
    """What the policy pack checks the edge's limits against."""
    return {c.ANN_LONGEST_REQUEST_SECONDS: str(plan.longest_request_seconds),
            c.ANN_MAX_BODY_BYTES: str(plan.max_body_bytes)}


def listener_name(index: int) -> str:
    return f"https-{index}"


def gateway_spec(gateway: GatewayConfig, tls_secret: str) -> dict:
    """One HTTPS listener per hostname, TLS terminated with `tls_secret`, routes from this
    namespace only."""
    return {
        "gatewayClassName": gateway.class_name,
        "listeners": [{
            "name": listener_name(i), "protocol": "HTTPS", "port": 443, "hostname": host,
            "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret",
                                                             "name": tls_secret}]},
            "allowedRoutes": {"namespaces": {"from": "Same"}},
        } for i, host in enumerate(gateway.hostnames)],
    }


def certificate_spec(gateway: GatewayConfig, secret_name: str) -> dict:
    """cert-manager writes the listener's key pair into `secret_name`."""
    return {"secretName": secret_name, "dnsNames": list(gateway.hostnames),
            "issuerRef": {"name": gateway.tls.issuer, "kind": gateway.tls.issuer_kind,
                          "group": "cert-manager.io"},
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}}


def parent_refs(gateway: GatewayConfig, own_gateway: str) -> list[dict]:
    """The configured Gateways, or every listener of the one the program creates."""
    if gateway.create:
        return [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": own_gateway,
                 "sectionName": listener_name(i)} for i in range(len(gateway.hostnames))]
    refs = []
    for ref in gateway.parent_refs:
        item: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                "name": ref.name}
        if ref.namespace:
            item["namespace"] = ref.namespace
        if ref.section_name:
            item["sectionName"] = ref.section_name
        refs.append(item)
    return refs


def http_route_spec(gateway: GatewayConfig, plan: TrafficPlan, own_gateway: str,
                    router_service: Any, router_port: int) -> dict:
    """`/v1` on the hostnames to the router; the request timeout covers the longest request
    (Envoy Gateway's default is 15 s)."""
    return {
        "parentRefs": parent_refs(gateway, own_gateway),
        "hostnames": list(gateway.hostnames),
        "rules": [{
            "name": "openai",
            "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
            "backendRefs": [{"name": router_service, "port": router_port}],
            "timeouts": {"request": duration(plan.edge_timeout_seconds),
                         "backendRequest": duration(plan.edge_timeout_seconds)},
        }],
    }


def backend_traffic_policy_spec(gateway: GatewayConfig, plan: TrafficPlan, route: Any) -> dict:
    """Envoy Gateway, per route: request timeout and stream-idle timeout (always both: with
    only one, EG 1.9 drops its default idle deadline), the backend buffer limit, and an
    optional per-address request limit whose 429 carries Retry-After."""
    spec: dict[str, Any] = {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                        "name": route}],
        "timeout": {"http": {"requestTimeout": duration(plan.edge_timeout_seconds),
                             "streamIdleTimeout": duration(plan.stream_idle_seconds)}},
        "connection": {"bufferLimit": plan.max_body_bytes},
    }
    if gateway.requests_per_minute_per_ip:
        spec["rateLimit"] = {"local": {"rules": [{
            "clientSelectors": [{"sourceCIDR": {"type": "Distinct", "value": "0.0.0.0/0"}}],
            "limit": {"requests": gateway.requests_per_minute_per_ip, "unit": "Minute"}}]}}
        spec["responseOverride"] = [{
            "match": {"statusCodes": [{"type": "Value", "value": 429}]},
            "response": {"contentType": "application/json",
                         "header": {"add": [{"name": "Retry-After",
                                             "value": str(RETRY_AFTER_SECONDS)}]},
                         "body": {"type": "Inline", "inline": (
                             '{"error":{"message":"too many requests from this address; retry '
                             f'after {RETRY_AFTER_SECONDS} s","type":"rate_limit_exceeded",'
                             '"code":"429"}}')}},
        }]
    return spec


def client_traffic_policy_spec(plan: TrafficPlan, gateway_name: Any) -> dict:
    """Envoy Gateway, on the Gateway the program owns: the per-connection buffer that would
    answer 413 above 32 KiB, and the client-side stream idle timeout."""
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                        "name": gateway_name}],
        "connection": {"bufferLimit": plan.max_body_bytes},
        "timeout": {"http": {"streamIdleTimeout": duration(plan.stream_idle_seconds),
                             "requestReceivedTimeout": duration(plan.stream_idle_seconds)}},
    }
