"""Numbers the autoscaler derives from the engine and the start-up budget.

Each number lives in one small function whose docstring shows the arithmetic, so a manifest value
can be traced back to its inputs. Pure: no Pulumi, no config objects.
"""

from __future__ import annotations

import math
from typing import Optional

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


def per_replica_target(max_num_seqs: int, target_utilization: float) -> int:
    """Requests (running + waiting) one replica should carry: floor(max_num_seqs × utilization).

    256 × 0.75 = 192. At least 1, so a tiny max-num-seqs still gives the HPA a usable target.
    """
    if max_num_seqs < 1:
        raise ValueError(f"max_num_seqs must be at least 1, got {max_num_seqs}")
    if not 0 < target_utilization <= 1:
        raise ValueError(f"target_utilization must be in (0, 1], got {target_utilization}")
    return max(1, math.floor(max_num_seqs * target_utilization))


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
    """Replicas to hold when the metric cannot be read: the configured value, else min_replicas.

    KEDA applies it with behavior currentReplicasIfHigher, i.e. max(current, this): while blind
    the deployment never shrinks, and it is raised to at least min_replicas.
    """
    return configured if configured is not None else min_replicas


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(int(value), high))
