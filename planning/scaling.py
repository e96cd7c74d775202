"""How the autoscaler moves: the HPA's stabilization windows and policy periods, derived from
the start-up budget, and the replicas KEDA holds while the metric cannot be read. The
component (components/autoscaler.py) only reads these figures; the formulas are in
planning/sizing.py ("Autoscaling")."""

from __future__ import annotations

import dataclasses

from planning import sizing
from planning.config import AutoscalingConfig


@dataclasses.dataclass(frozen=True)
class Scaling:
    """HPA behaviour (one replica at a time both ways) and KEDA's fallback, in seconds."""

    scale_up_window_seconds: int
    scale_up_period_seconds: int
    scale_down_window_seconds: int
    scale_down_period_seconds: int
    fallback_replicas: int
    reason: str


def scaling(scale: AutoscalingConfig, budget_seconds: int) -> Scaling:
    """Windows and periods clamp the start-up budget between the seed's values (Kubernetes'
    default for scale-down) and Kubernetes' limits; the fallback is the configured value, else
    minReplicas."""
    budget = budget_seconds
    up = sizing.scale_up_stabilization_seconds(budget)
    up_period = sizing.scale_up_policy_period_seconds(budget)
    down = sizing.scale_down_stabilization_seconds(budget)
    down_period = sizing.SCALE_DOWN_POLICY_PERIOD_SECONDS
    fallback = sizing.fallback_replicas(scale.min_replicas, scale.fallback_replicas)
    reason = (f"scale-up window clamp(start-up {budget}, {sizing.SEED_SCALE_UP_WINDOW_SECONDS}, "
              f"{sizing.K8S_MAX_STABILIZATION_SECONDS}) = {up} s, one replica per "
              f"clamp({budget}, {sizing.SEED_SCALE_UP_PERIOD_SECONDS}, "
              f"{sizing.K8S_MAX_POLICY_PERIOD_SECONDS}) = {up_period} s; scale-down window "
              f"clamp({budget}, {sizing.K8S_DEFAULT_SCALE_DOWN_WINDOW_SECONDS}, "
              f"{sizing.K8S_MAX_STABILIZATION_SECONDS}) = {down} s, one replica per "
              f"{down_period} s; fallback "
              + (f"autoscaling.fallbackReplicas {fallback}" if scale.fallback_replicas is not None
                 else f"minReplicas {fallback}")
              + ("" if scale.enabled else " (autoscaling off)"))
    return Scaling(up, up_period, down, down_period, fallback, reason)
