"""Version floors of what the edge renders: the oldest Envoy Gateway and Gateway API releases
that know every field the program sets. One table; the config refuses a cluster below it
(planning/traffic.py `GatewayConfig`), tests/test_edge_versions.py validates the rendered
objects against the floor's schemas and the previous release's (schemas/).
"""

from __future__ import annotations

import dataclasses

from packaging.version import Version

ENVOY_GATEWAY = "Envoy Gateway"
GATEWAY_API = "Gateway API"


@dataclasses.dataclass(frozen=True)
class Floor:
    """One field the edge renders and the first release of `product` that knows it."""

    product: str
    version: str
    field: str
    why: str
    source: str


FLOORS: tuple[Floor, ...] = (
    Floor(ENVOY_GATEWAY, "1.8.0", "BackendTrafficPolicy spec.timeout.http.streamIdleTimeout",
          "the route's idle timeout, longer than the router's silent phases",
          "envoyproxy/gateway api/v1alpha1/timeout_types.go HTTPTimeout.StreamIdleTimeout: "
          "absent at v1.7.5, present from v1.8.0 (before, only ClientTrafficPolicy had one)"),
    Floor(ENVOY_GATEWAY, "1.5.0", "ClientTrafficPolicy spec.timeout.http.streamIdleTimeout",
          "the listener's idle timeout",
          "envoyproxy/gateway api/v1alpha1/timeout_types.go HTTPClientTimeout."
          "StreamIdleTimeout, added in v1.5.0"),
    Floor(ENVOY_GATEWAY, "1.4.0", "BackendTrafficPolicy spec.requestBuffer.limit",
          "the body cap that answers 413 (Envoy's buffer filter)",
          "envoyproxy/gateway api/v1alpha1/backendtrafficpolicy_types.go RequestBuffer, "
          "added in v1.4.0; internal/xds/translator/request_buffer.go"),
    Floor(GATEWAY_API, "1.4.0", "HTTPRoute spec.rules[].name",
          "the rule's name (policies and status name it)",
          "Gateway API standard-channel CRD: HTTPRouteRule.name absent at v1.3.0, standard "
          "from v1.4.0 (schemas/gateway-api-v1.*)"),
)


def floor(product: str) -> Version:
    """The oldest release of `product` that knows every field in FLOORS."""
    return max(Version(f.version) for f in FLOORS if f.product == product)


def missing(product: str, version: str) -> list[Floor]:
    """The rendered fields `version` of `product` does not know (empty at or above the floor).
    Pre-releases count as before their release (`1.8.0rc1` < `1.8.0`), as `packaging` orders
    them."""
    have = Version(version)
    return [f for f in FLOORS if f.product == product and have < Version(f.version)]
