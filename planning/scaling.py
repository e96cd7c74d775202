"""How the autoscaler moves: the HPA's stabilization windows and policy periods, derived from
the start-up budget, and the replicas KEDA holds while the metric cannot be read. The
component (components/autoscaler.py) only reads these figures."""

from __future__ import annotations

import dataclasses
from typing import Optional

from planning.config import AutoscalingConfig


K8S_MAX_STABILIZATION_SECONDS = 3600
"""Kubernetes rejects an HPA stabilizationWindowSeconds above one hour."""

K8S_MAX_POLICY_PERIOD_SECONDS = 1800
"""Kubernetes rejects an HPA scaling policy periodSeconds above 30 minutes."""

SEED_SCALE_UP_WINDOW_SECONDS = 60
"""The hand-tuned scale-up window users run today; a derived window is never shorter."""

SEED_SCALE_UP_PERIOD_SECONDS = 120
"""The hand-tuned 'one pod per 2 minutes' scale-up policy; a derived period is never shorter."""

K8S_DEFAULT_SCALE_DOWN_WINDOW_SECONDS = 300
"""Kubernetes' own scale-down stabilization default; a derived window is never shorter."""

SCALE_DOWN_POLICY_PERIOD_SECONDS = 300
"""Remove at most one replica per 5 minutes, so in-flight answers drain one pod at a time."""

KEDA_POLLING_SECONDS = 15
"""How often KEDA queries Prometheus; matches the HPA's 15 s sync period."""

KEDA_FALLBACK_FAILURES = 3
"""Consecutive failed queries (45 s at 15 s polling) before KEDA applies the fallback."""


@dataclasses.dataclass(frozen=True)
class Scaling:
    """HPA behaviour (one replica at a time both ways) and KEDA's fallback, in seconds."""

    scale_up_window_seconds: int
    scale_up_period_seconds: int
    scale_down_window_seconds: int
    scale_down_period_seconds: int
    fallback_replicas: int
    reason: str
    polling_seconds: int
    fallback_failures: int
    """Failed polls in a row before KEDA holds the fallback replicas."""


def scaling(scale: AutoscalingConfig, budget_seconds: int) -> Scaling:
    """Windows and periods clamp the start-up budget between the seed's values (Kubernetes'
    default for scale-down) and Kubernetes' limits; the fallback is the configured value, else
    minReplicas."""
    budget = budget_seconds
    up = scale_up_stabilization_seconds(budget)
    up_period = scale_up_policy_period_seconds(budget)
    down = scale_down_stabilization_seconds(budget)
    down_period = SCALE_DOWN_POLICY_PERIOD_SECONDS
    fallback = fallback_replicas(scale.min_replicas, scale.fallback_replicas)
    reason = (f"scale-up window clamp(start-up {budget}, {SEED_SCALE_UP_WINDOW_SECONDS}, "
              f"{K8S_MAX_STABILIZATION_SECONDS}) = {up} s, one replica per "
              f"clamp({budget}, {SEED_SCALE_UP_PERIOD_SECONDS}, "
              f"{K8S_MAX_POLICY_PERIOD_SECONDS}) = {up_period} s; scale-down window "
              f"clamp({budget}, {K8S_DEFAULT_SCALE_DOWN_WINDOW_SECONDS}, "
              f"{K8S_MAX_STABILIZATION_SECONDS}) = {down} s, one replica per "
              f"{down_period} s; after {KEDA_FALLBACK_FAILURES} failed polls × "
              f"{KEDA_POLLING_SECONDS} s = {KEDA_FALLBACK_FAILURES * KEDA_POLLING_SECONDS} s without the "
              "metric KEDA holds at least the fallback "
              + (f"autoscaling.fallbackReplicas {fallback}" if scale.fallback_replicas is not None
                 else f"minReplicas {fallback}" if scale.min_replicas else
                 f"1 (minReplicas 0: KEDA keeps the engine while blind)")
              + ("" if scale.enabled else " (autoscaling off)"))
    return Scaling(up, up_period, down, down_period, fallback, reason, KEDA_POLLING_SECONDS,
                   KEDA_FALLBACK_FAILURES)


def scale_up_stabilization_seconds(startup_budget_seconds: int) -> int:
    """How long load must stay high before a replica is added: clamp(budget, 60, 3600).

    A burst shorter than a replica's start-up is over before the new replica can serve it, so
    only load that has lasted one start-up budget earns a replica. 900 s budget -> 900 s;
    30 s -> 60 s (the seed's window); 5400 s -> 3600 s (Kubernetes' limit).
    """
    return _clamp(
        startup_budget_seconds, SEED_SCALE_UP_WINDOW_SECONDS, K8S_MAX_STABILIZATION_SECONDS
    )


def scale_up_policy_period_seconds(startup_budget_seconds: int) -> int:
    """Add at most one replica per clamp(budget, 120, 1800) seconds.

    While a new replica loads, the load it is meant to absorb is still counted on the others;
    waiting one start-up budget before the next step stops the HPA from stacking replicas for
    the same burst. 900 s -> 900 s; 30 s -> 120 s (the seed's period); 5400 s -> 1800 s.
    """
    return _clamp(
        startup_budget_seconds, SEED_SCALE_UP_PERIOD_SECONDS, K8S_MAX_POLICY_PERIOD_SECONDS
    )


def scale_down_stabilization_seconds(startup_budget_seconds: int) -> int:
    """How long load must stay low before a replica is removed: clamp(budget, 300, 3600).

    Undoing a scale-down costs a full start-up, so give a replica back only after load has been
    low for at least that long. 900 s -> 900 s; 60 s -> 300 s; 5400 s -> 3600 s.
    """
    return _clamp(
        startup_budget_seconds, K8S_DEFAULT_SCALE_DOWN_WINDOW_SECONDS, K8S_MAX_STABILIZATION_SECONDS
    )


def fallback_replicas(min_replicas: int, configured: Optional[int]) -> int:
    """Replicas to hold when the metric cannot be read: the configured value, else min_replicas
    (at least 1).

    KEDA applies it with behavior currentReplicasIfHigher, i.e. max(current, this): while blind
    the deployment never shrinks, and it is raised to at least min_replicas. With minReplicas 0
    it is 1: KEDA skips the scale to zero while a trigger errors only when fallback.replicas is
    not 0 (kedacore/keda pkg/scaling/executor/scale_scaledobjects.go `RequestScale`).
    """
    return configured if configured is not None else max(min_replicas, 1)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(int(value), high))
