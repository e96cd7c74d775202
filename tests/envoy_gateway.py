"""Envoy Gateway's translation of our edge objects into the Envoy route it programs, encoded
from its source (envoyproxy/gateway, checked at d32f282, 2026-08-21, after v1.9.0) and pinned
by its own golden test data in tests/rendering/test_edge.py. No Envoy Gateway runs here: this is the rule,
so the derived timeouts are checked against what Envoy will actually enforce.

Two steps, as in the controller:
1. Gateway API / policy objects → IR (internal/gatewayapi):
   - route.go `processRouteTimeout`: an HTTPRoute rule's `timeouts.request` becomes the IR
     route's `timeout`; `timeouts.backendRequest` replaces it when the rule has no `retry`
     (with a retry it is the per-try timeout); an unparsable duration falls back to 15 s
     (`HTTPRequestTimeout`).
   - clustersettings.go `buildClusterSettingsTimeout` (called from backendtrafficpolicy.go for
     the policy's ClusterSettings): `timeout.http.{requestTimeout, streamIdleTimeout,
     maxStreamDuration, ...}` become `traffic.timeout.http.*` of every IR route of the target.
   - backendtrafficpolicy.go `buildRequestBuffer`: `requestBuffer.limit` (a
     resource.Quantity, 0 … 2³²−1 bytes) becomes `traffic.requestBuffer.limit`; the policy is
     refused when it also sets `httpUpgrade` ("requestBuffer cannot be used together with
     httpUpgrade").
2. IR → xDS (internal/xds/translator):
   - route.go `buildXdsRoute`: `route.timeout` = `getEffectiveRequestTimeout` (the Gateway API
     timeout first, else the policy's requestTimeout); `route.idleTimeout` = `idleTimeout`:
     the policy's streamIdleTimeout; else nothing when the listener (ClientTrafficPolicy) has
     one; else max(1 h, request timeout), or 0 when the request timeout is 0;
     `maxStreamDuration` from the policy.
   - request_buffer.go: a route with a request buffer gets `typedPerFilterConfig
     ["envoy.filters.http.buffer"].buffer.maxRequestBytes` = the limit in bytes (0 … 2³²−1);
     the listener gets a disabled buffer filter that the route enables. Envoy's buffer filter
     (envoy `source/extensions/filters/http/buffer/buffer_filter.h`, a decoder filter) holds
     the request body and answers 413 above `max_request_bytes`; it does not touch responses.
When a route's idle timer fires before the answer's first byte Envoy answers 504 "stream
timeout" once the request was fully received, 408 while it is still arriving (envoy
source/common/http/conn_manager_impl.cc `onIdleTimeout`, utility.cc `maybeRequestTimeoutCode`);
`timeout` passing first gives 504 "upstream request timeout". tests/rendering/test_edge_envoy.py runs a
real Envoy with these routes.
"""

from __future__ import annotations

import re
from typing import Any, Optional

HTTP_REQUEST_TIMEOUT = 15.0
"""internal/gatewayapi/route.go `HTTPRequestTimeout` ("15s"): the fallback for a bad duration."""
DEFAULT_IDLE = 3600.0
"""internal/xds/translator/route.go `idleTimeout`: `time.Hour`."""
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_QUANTITY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6,
             "G": 10**9, "T": 10**12, "": 1}


def seconds(duration: str) -> float:
    """Go `time.ParseDuration` for the units Gateway API durations allow (h, m, s, ms)."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a duration: {duration!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def quantity_bytes(limit: Any) -> int:
    """resource.Quantity → bytes, for the forms `requestBuffer.limit`'s pattern allows."""
    if isinstance(limit, int) and not isinstance(limit, bool):
        return limit
    match = re.fullmatch(r"([1-9][0-9]*)(Ki|Mi|Gi|Ti|k|M|G|T|)", str(limit))
    if not match:
        raise ValueError(f"not a quantity: {limit!r}")
    return int(match.group(1)) * _QUANTITY[match.group(2)]


def _duration_or_default(text: str) -> float:
    try:
        return seconds(text)
    except ValueError:
        return HTTP_REQUEST_TIMEOUT


def ir_route(rule: dict, policy_spec: Optional[dict] = None) -> dict:
    """One HTTPRoute rule (and the BackendTrafficPolicy targeting its route) as the IR fields
    the xDS step reads: `timeout`, `traffic.timeout.http`, `traffic.requestBuffer`."""
    out: dict[str, Any] = {}
    timeouts = rule.get("timeouts") or {}
    if "request" in timeouts:
        out["timeout"] = _duration_or_default(timeouts["request"])
    if "backendRequest" in timeouts and rule.get("retry") is None:
        out["timeout"] = _duration_or_default(timeouts["backendRequest"])
    policy_spec = policy_spec or {}
    http = ((policy_spec.get("timeout") or {}).get("http")) or {}
    traffic: dict[str, Any] = {}
    if http:
        traffic["timeout"] = {"http": {key: seconds(value) for key, value in http.items()}}
    if "requestBuffer" in policy_spec:
        if policy_spec.get("httpUpgrade"):
            raise ValueError("requestBuffer cannot be used together with httpUpgrade")
        if not 0 <= quantity_bytes(policy_spec["requestBuffer"]["limit"]) <= 2**32 - 1:
            raise ValueError("limit value is out of range")
        traffic["requestBuffer"] = {"limit": policy_spec["requestBuffer"]["limit"]}
    if traffic:
        out["traffic"] = traffic
    return out


LISTENER_FIELDS = {"requestReceivedTimeout": "requestTimeout",
                   "requestHeadersReceivedTimeout": "requestHeadersTimeout",
                   "streamIdleTimeout": "streamIdleTimeout",
                   "idleTimeout": "commonHttpProtocolOptions.idleTimeout"}
"""A ClientTrafficPolicy's `timeout.http` → the listener's HttpConnectionManager fields
(internal/gatewayapi/clienttrafficpolicy.go builds the IR listener timeouts;
internal/xds/translator/listener.go sets `mgr.RequestTimeout`, `RequestHeadersTimeout`,
`CommonHttpProtocolOptions.IdleTimeout`, `StreamIdleTimeout`)."""


def xds_listener(client_policy_spec: dict) -> dict:
    """The connection manager's timeouts (seconds) for a ClientTrafficPolicy spec."""
    http = ((client_policy_spec.get("timeout") or {}).get("http")) or {}
    return {LISTENER_FIELDS[key]: seconds(value) for key, value in http.items()
            if key in LISTENER_FIELDS}


def _policy_http(ir: dict) -> dict:
    return ((ir.get("traffic") or {}).get("timeout") or {}).get("http") or {}


def effective_request_timeout(ir: dict) -> Optional[float]:
    """route.go `getEffectiveRequestTimeout`: the Gateway API timeout takes precedence."""
    if "timeout" in ir:
        return ir["timeout"]
    return _policy_http(ir).get("requestTimeout")


def idle_timeout(ir: dict, listener_stream_idle: Optional[float] = None) -> Optional[float]:
    """route.go `idleTimeout`: the route's idle timer (None: the listener's applies)."""
    http = _policy_http(ir)
    if "streamIdleTimeout" in http:
        return http["streamIdleTimeout"]
    if listener_stream_idle is not None:
        return None
    request = effective_request_timeout(ir)
    if request is None:
        return None
    return 0.0 if request == 0 else max(DEFAULT_IDLE, request)


def xds_route(ir: dict, listener_stream_idle: Optional[float] = None) -> dict:
    """The Envoy `RouteAction` fields for timeouts and the request buffer (only those set)."""
    out: dict[str, Any] = {}
    request = effective_request_timeout(ir)
    if request is not None:
        out["timeout"] = request
    idle = idle_timeout(ir, listener_stream_idle)
    if idle is not None:
        out["idleTimeout"] = idle
    if "maxStreamDuration" in _policy_http(ir):
        out["maxStreamDuration"] = _policy_http(ir)["maxStreamDuration"]
    buffer = (ir.get("traffic") or {}).get("requestBuffer")
    if buffer is not None:
        limit = quantity_bytes(buffer["limit"])
        if not 0 <= limit <= 2**32 - 1:
            raise ValueError(f"limit value {buffer['limit']} is out of range")
        out["maxRequestBytes"] = limit
    return out
