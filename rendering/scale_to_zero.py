"""The scale-to-zero overlay of the engine's KEDA ScaledObject (planning/wake.py has the
figures): minReplicaCount 0, KEDA's two cooldowns from the plan, and a second trigger on the
router's request counter that wakes the engine, since the engine's own series vanish with its
last pod. A base plus a named overlay: the ScaledObject spec the Autoscaler renders today,
changed only where scale to zero needs it."""

from __future__ import annotations

import copy
from typing import Any

from planning.wake import Wake
from rendering import promql

ACTIVATION_TRIGGER = "router-requests"


def activation_trigger(server_address: str, query: str) -> dict[str, Any]:
    """A prometheus trigger that is active when the router received a request for a local alias
    (value > activationThreshold 0, keda prometheus_scaler.go). Its value is at most 1 against
    a threshold of 1, so for the HPA it never asks for more than the one replica KEDA's HPA
    holds anyway (facts/keda.py `hpa_min_replicas`); the engine's trigger scales beyond.
    An empty answer is no request yet (ignoreNullValues): the router's counters appear with
    their first request."""
    return {
        "type": "prometheus",
        "name": ACTIVATION_TRIGGER,
        "metricType": "AverageValue",
        "metadata": {
            "serverAddress": server_address,
            "query": query,
            "threshold": "1",
            "activationThreshold": "0",
            "ignoreNullValues": "true",
        },
    }


def activation_query(namespace: str, router_service: str, wake: Wake) -> str:
    """The router's requests for every local alias (the cloud-answered and refused ones too)."""
    aliases = list(wake.fallback_aliases + wake.local_only_aliases)
    return promql.router_activation_query(namespace, router_service, aliases,
                                          wake.activation_window_seconds)


def scaled_object(base: dict[str, Any], wake: Wake, namespace: str,
                  router_service: str) -> dict[str, Any]:
    """`base` (components/autoscaler.py scaled_object_spec) with KEDA taking the engine to zero:
    cooldownPeriod = the plan's scale-down delay, initialCooldownPeriod = the start-up budget
    (a new ScaledObject never scales the first engine away before it could be ready), the
    router trigger added."""
    spec = copy.deepcopy(base)
    spec["minReplicaCount"] = 0
    spec["cooldownPeriod"] = wake.cooldown_seconds
    spec["initialCooldownPeriod"] = wake.initial_cooldown_seconds
    # At zero the engine's series are gone: read that as 0 requests, not an error. An erroring
    # trigger with fallback.replicas set makes KEDA's executor scale to the fallback count
    # (pkg/scaling/executor/scale_scaledobjects.go RequestScale: !isActive && isError &&
    # Fallback.Replicas != 0 -> doFallbackScaling), which would wake an idle engine at once.
    spec["triggers"][0]["metadata"]["ignoreNullValues"] = "true"
    server = spec["triggers"][0]["metadata"]["serverAddress"]
    spec["triggers"] = spec["triggers"] + [
        activation_trigger(server, activation_query(namespace, router_service, wake))]
    return spec
