"""The oldest release of each cluster add-on the rendered objects work with (the floors).

One table, one row per add-on the program creates objects for, each row listing what it renders
that not every release knows and the first release that does; the floor is the newest of those.
An API server prunes a field its CRD lacks without a word (an older add-on takes the object and
behaves otherwise: the edge would run with Envoy's defaults) and refuses a value outside an enum
only at apply. Hence one check at preview (planning/checks.py `cluster_add_ons_meet_their_floors`)
that refuses a stated release (`clusterVersions.<configKey>`) below the floor, and for the edge's
add-ons also an unstated one.

schemas/versions/<schemaDir>/v<release>/ keeps the floor's CRD schemas and those of the release
before it (`previous`), converted by tools/crd_schema.py; tests/stacks/test_cluster_versions.py shows
the objects every stack renders pass the floor and fail the release before.
"""

from __future__ import annotations

import dataclasses

from packaging.version import Version


@dataclasses.dataclass(frozen=True)
class Need:
    """Something rendered and the first release of its add-on that knows it."""

    since: str
    what: str
    why: str
    source: str


@dataclasses.dataclass(frozen=True)
class AddOn:
    """An add-on, where its release is stated and read, and what the rendered objects need."""

    name: str               # as people call it
    config_key: str         # clusterVersions.<config_key>
    used_when: str          # which stacks create its objects
    previous: str           # the release before the floor (its schemas are kept)
    schema_dir: str         # schemas/versions/<schema_dir>/
    read_with: str          # the command that prints the installed release
    must_be_stated: bool    # a stack that renders its objects must state the release
    needs: tuple[Need, ...]

    @property
    def floor(self) -> str:
        """The oldest release that knows everything in `needs`."""
        return str(max(Version(need.since) for need in self.needs))

    def missing(self, version: str) -> list[Need]:
        """What `version` does not know (empty at or above the floor). Pre-releases count as
        before their release (`1.8.0rc1` < `1.8.0`), as `packaging` orders them."""
        have = Version(version.removeprefix("v"))
        return [need for need in self.needs if have < Version(need.since)]


_ANY_CONTROLLER = "kubectl get deploy -A -o wide (the controller's image tag)"

ADD_ONS: tuple[AddOn, ...] = (
    AddOn("KEDA", "keda", "autoscaling.engine: keda", "2.16.1", "keda", _ANY_CONTROLLER, False, (
        Need("2.17.0", "ScaledObject spec.fallback.behavior",
             "currentReplicasIfHigher: never scale down while blind; 2.16 prunes it and falls "
             "back to a fixed count",
             "kedacore/keda config/crd/bases/keda.sh_scaledobjects.yaml: first in v2.17.0 "
             "(commit 4cd84f370)"),)),
    AddOn("LeaderWorkerSet", "lws", "a replica spanning nodes", "0.8.0", "lws", _ANY_CONTROLLER,
          False, (
        Need("0.9.0", "LeaderWorkerSet leaderWorkerTemplate.restartPolicy: "
             "RecreateGroupAfterStart",
             "a restart recreates the group only once all its pods have started; 0.8's CRD "
             "enum lacks the value, so the API server refuses the object at `pulumi up`",
             "kubernetes-sigs/lws config/crd/bases/leaderworkerset.x-k8s.io_leaderworkersets.yaml "
             "at v0.9.0 (f056f61) and v0.8.0 (fc19b9a)"),)),
    AddOn("Prometheus Operator", "prometheusOperator", "monitoring.prometheusOperator: true",
          "0.38.3", "prometheus-operator", _ANY_CONTROLLER, False, (
        Need("0.39.0", "CRDs served as apiextensions.k8s.io/v1",
             "the only CRD API a Kubernetes 1.22 or newer serves (0.38 ships v1beta1); every "
             "ServiceMonitor and PrometheusRule field rendered exists since 0.20.0, so the "
             "schemas of both releases pass",
             "prometheus-operator/prometheus-operator example/prometheus-operator-crd/ at v0.39.0 "
             "(d0a871b71) and v0.38.3 (beaa1a519)"),)),
    AddOn("Envoy Gateway", "envoyGateway", "traffic.gateway with envoyGateway: true", "1.7.5",
          "envoy-gateway",
          "kubectl -n envoy-gateway-system get deploy envoy-gateway -o "
          "jsonpath='{.spec.template.spec.containers[0].image}'", True, (
        Need("1.8.0", "BackendTrafficPolicy spec.timeout.http.streamIdleTimeout",
             "the route's idle timeout, longer than the router's silent phases",
             "envoyproxy/gateway api/v1alpha1/timeout_types.go HTTPTimeout.StreamIdleTimeout: "
             "absent at v1.7.5, present from v1.8.0 (before, only ClientTrafficPolicy had one)"),
        Need("1.5.0", "ClientTrafficPolicy spec.timeout.http.streamIdleTimeout",
             "the listener's idle timeout",
             "envoyproxy/gateway api/v1alpha1/timeout_types.go HTTPClientTimeout."
             "StreamIdleTimeout, added in v1.5.0"),
        Need("1.4.0", "BackendTrafficPolicy spec.requestBuffer.limit",
             "the body cap that answers 413 (Envoy's buffer filter)",
             "envoyproxy/gateway api/v1alpha1/backendtrafficpolicy_types.go RequestBuffer, "
             "added in v1.4.0; internal/xds/translator/request_buffer.go"))),
    AddOn("Gateway API", "gatewayApi", "traffic.gateway", "1.3.0", "gateway-api",
          "kubectl get crd httproutes.gateway.networking.k8s.io -o jsonpath="
          "'{.metadata.annotations.gateway\\.networking\\.k8s\\.io/bundle-version}'", True, (
        Need("1.4.0", "HTTPRoute spec.rules[].name",
             "the rule's name (policies and status name it)",
             "Gateway API standard-channel CRD: HTTPRouteRule.name absent at v1.3.0, standard "
             "from v1.4.0 (schemas/versions/gateway-api/)"),)),
)


def add_on(config_key: str) -> AddOn:
    """The row stated as `clusterVersions.<config_key>`."""
    return next(row for row in ADD_ONS if row.config_key == config_key)
