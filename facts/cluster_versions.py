"""The oldest release of each cluster add-on the rendered objects work with (the floors).

One row per add-on the program creates objects for. A floor is the oldest release whose CRD
schema accepts every field the program renders (found by validating the rendered objects of every
stack against each release's CRD, oldest first: tools/crd_schema.py converts a CRD). An API
server prunes a field its CRD lacks without a word (an older add-on takes the object and
behaves otherwise) and refuses a value outside an enum only at apply. Hence a refusal at preview (planning/config.py
`ClusterVersionsConfig`) when the stack states a version below its floor.

schemas/versions/<add-on>/<release>/ keeps the floor's schema and the previous release's; the
test (tests/test_cluster_versions.py) shows the rendered objects pass the one and fail the other.
Gateway API and Envoy Gateway floors live with the edge (not in this table).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Floor:
    """An add-on's oldest usable release, the release before it, and why."""

    name: str               # as people call it
    config_key: str         # clusterVersions.<key>
    floor: str
    previous: str
    needed_for: str         # which stacks create its objects
    reason: str
    source: str


FLOORS: tuple[Floor, ...] = (
    Floor("KEDA", "keda", "2.17.0", "2.16.1", "autoscaling.engine: keda",
          "ScaledObject spec.fallback.behavior (currentReplicasIfHigher: never scale down while "
          "blind); 2.16 prunes it and falls back to a fixed count",
          "kedacore/keda config/crd/bases/keda.sh_scaledobjects.yaml: first in v2.17.0 "
          "(commit 4cd84f370)"),
    Floor("LeaderWorkerSet", "lws", "0.9.0", "0.8.0", "a replica spanning nodes",
          "leaderWorkerTemplate.restartPolicy: RecreateGroupAfterStart (a restart recreates "
          "the group only once all its pods have started); 0.8's CRD enum lacks the value, so "
          "the API server refuses the object at `pulumi up`",
          "kubernetes-sigs/lws config/crd/bases/leaderworkerset.x-k8s.io_leaderworkersets.yaml "
          "at v0.9.0 (f056f61) and v0.8.0 (fc19b9a)"),
    Floor("Prometheus Operator", "prometheusOperator", "0.39.0", "0.38.3",
          "monitoring.prometheusOperator: true",
          "the first release whose CRDs are apiextensions.k8s.io/v1, the only CRD API a "
          "Kubernetes 1.22 or newer serves (0.38 ships v1beta1); every ServiceMonitor and "
          "PrometheusRule field rendered exists since 0.20.0, so the schemas of both pass",
          "prometheus-operator/prometheus-operator example/prometheus-operator-crd/ at v0.39.0 "
          "(d0a871b71) and v0.38.3 (beaa1a519)"),
)
"""KEDA, LWS and Prometheus Operator floors."""


def floor(config_key: str) -> Floor:
    return next(f for f in FLOORS if f.config_key == config_key)
