"""KEDA's scale-to-zero rules for a ScaledObject, read from its source (kedacore/keda @8b4f083,
2026-08) so the program can say what KEDA does with the ScaledObject it renders. Pinned with
KEDA's own test cases in tests/facts/test_keda.py. Idle replicas and the pause annotations are
left out: the program renders neither.

- pkg/scaling/scale_handler.go `getScaledObjectState`: the object is active when ANY trigger is
  active, in error when any trigger errors.
- pkg/scalers/prometheus_scaler.go `GetMetricsAndActivity`: a trigger is active when its value
  > activationThreshold (default 0); an empty result is 0 with ignoreNullValues (default true),
  an error without it.
- pkg/scaling/executor/scale_scaledobjects.go `RequestScale`: KEDA itself moves 0 -> 1
  (`scaleFromZeroOrIdle`, to minReplicaCount when above 0, else 1) and N -> 0
  (`scaleToZeroOrIdle`, after cooldownPeriod since the last active poll, or, never active,
  initialCooldownPeriod after creation); it skips the scale to zero while a trigger errors if
  fallback.replicas is not 0.
- apis/keda/v1alpha1/scaledobject_types.go `GetHPAMinReplicas`: the HPA KEDA builds never has
  minReplicas 0 (minReplicaCount 0 -> 1), so between 1 and N the HPA scales.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

DEFAULT_COOLDOWN_SECONDS = 300
"""pkg/scaling/executor/scale_executor.go defaultCooldownPeriod (5 minutes)."""
DEFAULT_INITIAL_COOLDOWN_SECONDS = 0
"""pkg/scaling/executor/scale_executor.go defaultInitialCooldownPeriod."""
DEFAULT_HPA_MIN_REPLICAS = 1
"""apis/keda/v1alpha1/scaledobject_types.go defaultHPAMinReplicas."""


def hpa_min_replicas(min_replica_count: Optional[int]) -> int:
    """minReplicas of the HPA KEDA builds (`GetHPAMinReplicas`): the count when above 0, else 1."""
    if min_replica_count is not None and min_replica_count > 0:
        return min_replica_count
    return DEFAULT_HPA_MIN_REPLICAS


def prometheus_trigger_active(value: Optional[float], activation_threshold: float = 0,
                              ignore_null_values: bool = True) -> tuple[bool, bool]:
    """(active, error) of one prometheus trigger; `value` None is an empty query result."""
    if value is None:
        return (False, not ignore_null_values)
    return (value > activation_threshold, False)


@dataclasses.dataclass(frozen=True)
class Poll:
    """What KEDA knows at one poll of a ScaledObject (times in seconds)."""

    current_replicas: int
    active: bool
    error: bool
    min_replica_count: Optional[int] = None
    fallback_replicas: Optional[int] = None
    """None: no spec.fallback."""
    seconds_since_last_active: Optional[float] = None
    """None: never active (status.lastActiveTime unset)."""
    seconds_since_creation: float = 0
    cooldown_seconds: Optional[int] = None
    initial_cooldown_seconds: Optional[int] = None


def request_scale(poll: Poll) -> Optional[int]:
    """The replica count KEDA's executor sets at this poll, or None when it leaves the target
    to the HPA (`RequestScale`)."""
    minimum = poll.min_replica_count or 0
    if poll.active:
        if poll.current_replicas == 0:
            return minimum if minimum > 0 else 1            # scaleFromZeroOrIdle
        return None                                          # the HPA scales 1..N
    if poll.error and poll.fallback_replicas:
        return None                     # fallback applies after failureThreshold; no scale-in
    if poll.error and poll.fallback_replicas is None:
        return None                                          # TriggerError, Ready False
    if poll.current_replicas > 0 and minimum == 0:
        return 0 if _cooled_down(poll) else None             # scaleToZeroOrIdle
    if poll.current_replicas < minimum:
        return minimum
    return None


def _cooled_down(poll: Poll) -> bool:
    initial = (poll.initial_cooldown_seconds if poll.initial_cooldown_seconds is not None
               else DEFAULT_INITIAL_COOLDOWN_SECONDS)
    cooldown = poll.cooldown_seconds if poll.cooldown_seconds is not None \
        else DEFAULT_COOLDOWN_SECONDS
    if poll.seconds_since_last_active is None:
        return poll.seconds_since_creation > initial
    return poll.seconds_since_last_active > cooldown
