"""The edge as plain data: Gateway API objects, the cert-manager Certificate and the Envoy
Gateway policies, with the derived body limit and timeouts (planning/traffic.py).

Each object states the numbers a policy checks (longest request, largest body) as
annotations, because policies read objects, never the program (facts/conventions.py).
"""

from __future__ import annotations

import dataclasses
import json
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


def quantity(size_bytes: int) -> str:
    """A Kubernetes quantity string: whole KiB as `448Ki`, else plain bytes (as the
    requestBuffer.limit pattern `^[1-9]+[0-9]*([EPTGMK]i|[EPTGMk])?$` allows)."""
    return f"{size_bytes // 1024}Ki" if size_bytes % 1024 == 0 else str(size_bytes)


def derived_annotations(plan: TrafficPlan) -> dict[str, str]:
    """What the policy pack checks the edge's limits against."""
    return {c.ANN_LONGEST_REQUEST_SECONDS: str(plan.longest_request_seconds),
            c.ANN_MAX_BODY_BYTES: str(plan.max_body_bytes)}


def listener_name(index: int) -> str:
    return f"https-{index}"


HTTP_LISTENER = "http"
"""Port 80: answers cert-manager's HTTP-01 challenge and redirects everything else to https.
cert-manager's `gatewayHTTPRoute` solver creates an HTTPRoute in the Certificate's namespace
(allowed here: `from: Same`) attached to the solver's `parentRefs`, matching the path
`/.well-known/acme-challenge/<token>` Exact (cert-manager pkg/issuer/acme/http/httproute.go
`generateHTTPRouteSpec`); Gateway API ranks an Exact path match above any prefix, so the
challenge wins over the redirect's implicit `/` prefix."""

WAIT_PROGRAMMED = "condition=Programmed"
WAIT_READY = "condition=Ready"


def wait_for_parent_conditions(field: str, *conditions: str) -> str:
    """`pulumi.com/waitFor` for conditions kept per parent (`status.parents[]` of a route,
    `status.ancestors[]` of a policy), not in `status.conditions`, so `condition=` cannot
    see them. pulumi-kubernetes (provider/pkg/metadata/overrides.go `ReadyCondition`) reads a
    JSON array as "all of these"; each `jsonpath=` is parsed by provider/pkg/jsonpath
    `Parse` (`{...}` then `=value`, `==` inside the filter kept) and `Matches` compares the
    first selected value, i.e. the first parent's."""
    return json.dumps([f'jsonpath={{.status.{field}[*].conditions[?(@.type=="{c}")].status}}'
                       f"=True" for c in conditions])


def wait_for(kind: str) -> dict[str, str]:
    """What `pulumi up` waits for on each edge object, so it fails (after the provider's
    timeout) instead of reporting success while the edge does not serve: the Gateway has an
    address and ready proxies, the Certificate is issued, the route and policies are accepted
    with their references resolved."""
    value = {"Gateway": WAIT_PROGRAMMED, "Certificate": WAIT_READY,
             "HTTPRoute": wait_for_parent_conditions("parents", "Accepted", "ResolvedRefs"),
             "BackendTrafficPolicy": wait_for_parent_conditions("ancestors", "Accepted"),
             "ClientTrafficPolicy": wait_for_parent_conditions("ancestors", "Accepted")}[kind]
    return {"pulumi.com/waitFor": value}


def gateway_spec(gateway: GatewayConfig, tls_secret: str) -> dict:
    """One HTTPS listener per hostname, TLS terminated with `tls_secret`, and one HTTP
    listener for the ACME HTTP-01 challenge and the redirect; routes from this namespace
    only."""
    same = {"namespaces": {"from": "Same"}}
    return {
        "gatewayClassName": gateway.class_name,
        "listeners": [{
            "name": listener_name(i), "protocol": "HTTPS", "port": 443, "hostname": host,
            "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret",
                                                             "name": tls_secret}]},
            "allowedRoutes": same,
        } for i, host in enumerate(gateway.hostnames)] + [{
            "name": HTTP_LISTENER, "protocol": "HTTP", "port": 80, "allowedRoutes": same}],
    }


def redirect_route_spec(gateway: GatewayConfig, own_gateway: str) -> dict:
    """Plain http on the hostnames → 301 to https (the challenge path excepted, see
    HTTP_LISTENER)."""
    return {
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                        "name": own_gateway, "sectionName": HTTP_LISTENER}],
        "hostnames": list(gateway.hostnames),
        "rules": [{"name": "to-https", "filters": [{
            "type": "RequestRedirect",
            "requestRedirect": {"scheme": "https", "statusCode": 301}}]}],
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


def route_url(gateway: GatewayConfig) -> str:
    """The OpenAI base URL clients use: `/v1` (what the route matches) on the first hostname."""
    return f"https://{gateway.hostnames[0]}/v1"


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
    """Envoy Gateway, per route: request timeout and the route's idle timeout (always both:
    with only one, EG drops its default idle deadline), the body cap, and an optional
    per-address request limit whose 429 carries Retry-After.

    `requestBuffer.limit` is what answers 413: Envoy Gateway adds Envoy's buffer filter for
    the route with `max_request_bytes` (internal/xds/translator/request_buffer.go); the
    filter buffers the request only, so streamed (SSE) responses still stream.
    `connection.bufferLimit` is Envoy's soft per-connection buffer (flow control, not a size
    limit); Envoy Gateway's docs ask it to hold the request buffer, so it is the same size."""
    spec: dict[str, Any] = {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                        "name": route}],
        "timeout": {"http": {"requestTimeout": duration(plan.edge_timeout_seconds),
                             "streamIdleTimeout": duration(plan.edge_idle_seconds)}},
        "connection": {"bufferLimit": plan.max_body_bytes},
        "requestBuffer": {"limit": quantity(plan.max_body_bytes)},
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
    """Envoy Gateway, on the Gateway the program owns: the per-connection buffer (32 KiB by
    default, too small to hold a long prompt while the route's buffer filter counts it), the
    listener's stream idle timeout (the route's own overrides it; the same figure, so no
    route falls back to a shorter one), and the time to receive a whole request."""
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                        "name": gateway_name}],
        "connection": {"bufferLimit": plan.max_body_bytes},
        "timeout": {"http": {"streamIdleTimeout": duration(plan.edge_idle_seconds),
                             "requestReceivedTimeout": duration(plan.stream_idle_seconds)}},
    }


@dataclasses.dataclass(frozen=True)
class EdgeObject:
    """One edge object: its kind and API, metadata and spec."""

    api_version: str
    kind: str
    metadata: dict
    spec: dict


def object_name(release: str) -> str:
    """The edge's Gateway, routes and policies: `<release>-edge`."""
    return f"{release}-edge"


def edge_metadata(name: str, namespace: Any, labels: dict[str, str], plan: TrafficPlan,
                  kind: str, limits: bool = True) -> dict:
    """`limits`: the object forwards requests, so it states the figures the policy pack checks
    it against (the redirect forwards none); every object says what `pulumi up` waits for."""
    return {"name": name, "namespace": namespace, "labels": labels,
            "annotations": {**(derived_annotations(plan) if limits else {}), **wait_for(kind)}}


def own_gateway_objects(gateway: GatewayConfig, plan: TrafficPlan, base: str, namespace: Any,
                        labels: dict[str, str]) -> dict[str, EdgeObject]:
    """The Gateway the program creates (its HTTP listener answers the HTTP-01 challenge), its
    Certificate when an issuer signs it, the http→https redirect and, with Envoy Gateway, the
    ClientTrafficPolicy; keyed by the suffix of their Pulumi names."""
    tls_secret = gateway.tls.existing_secret or f"{base}-tls"

    def meta(name: str, kind: str, limits: bool = True) -> dict:
        return edge_metadata(name, namespace, labels, plan, kind, limits)
    objects = {"gateway": EdgeObject(GATEWAY_API, "Gateway", meta(base, "Gateway"),
                                     gateway_spec(gateway, tls_secret))}
    if gateway.tls.issuer:
        objects["certificate"] = EdgeObject(
            CERT_MANAGER_API, "Certificate", meta(f"{base}-tls", "Certificate"),
            certificate_spec(gateway, tls_secret))
    objects["redirect"] = EdgeObject(
        GATEWAY_API, "HTTPRoute", meta(f"{base}-redirect", "HTTPRoute", limits=False),
        redirect_route_spec(gateway, base))
    if gateway.envoy_gateway:
        objects["client-policy"] = EdgeObject(
            ENVOY_GATEWAY_API, "ClientTrafficPolicy", meta(base, "ClientTrafficPolicy"),
            client_traffic_policy_spec(plan, base))
    return objects


def route_objects(gateway: GatewayConfig, plan: TrafficPlan, base: str, namespace: Any,
                  labels: dict[str, str], router_service: Any,
                  router_port: int) -> dict[str, EdgeObject]:
    """The API route to the router and, with Envoy Gateway, its BackendTrafficPolicy."""
    objects = {"route": EdgeObject(
        GATEWAY_API, "HTTPRoute", edge_metadata(base, namespace, labels, plan, "HTTPRoute"),
        http_route_spec(gateway, plan, base, router_service, router_port))}
    if gateway.envoy_gateway:
        objects["backend-policy"] = EdgeObject(
            ENVOY_GATEWAY_API, "BackendTrafficPolicy",
            edge_metadata(base, namespace, labels, plan, "BackendTrafficPolicy"),
            backend_traffic_policy_spec(gateway, plan, base))
    return objects
