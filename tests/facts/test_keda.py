"""facts/keda.py replays KEDA's scale-to-zero decisions; each case here is one of KEDA's own
tests (kedacore/keda @8b4f083), named after it, with its inputs and its assertion."""

from __future__ import annotations

import pytest

from facts import keda


def test_scale_to_min_replicas_when_not_active():
    """pkg/scaling/executor/scale_scaledobjects_test.go TestScaleToMinReplicasWhenNotActive:
    minReplicaCount 0, 10 replicas, inactive, never active, no initialCooldownPeriod -> 0."""
    poll = keda.Poll(current_replicas=10, active=False, error=False, min_replica_count=0,
                     seconds_since_creation=10**9)
    assert keda.request_scale(poll) == 0


def test_scale_to_min_replicas_from_lower_initial_replica_count():
    """TestScaleToMinReplicasFromLowerInitialReplicaCount: min 5, 1 replica, inactive -> 5."""
    poll = keda.Poll(current_replicas=1, active=False, error=False, min_replica_count=5)
    assert keda.request_scale(poll) == 5


def test_scale_from_min_replicas_when_active():
    """TestScaleFromMinReplicasWhenActive: min 0, 0 replicas, active -> 1."""
    poll = keda.Poll(current_replicas=0, active=True, error=False, min_replica_count=0)
    assert keda.request_scale(poll) == 1


def test_request_scale_scaler_error_with_fallback():
    """TestRequestScale_ScalerErrorWithFallback_HPAHealthy: inactive with an erroring scaler and
    fallback.replicas 5: KEDA leaves the replicas (the fallback applies through the HPA)."""
    poll = keda.Poll(current_replicas=3, active=False, error=True, min_replica_count=0,
                     fallback_replicas=5, seconds_since_creation=10**9)
    assert keda.request_scale(poll) is None


@pytest.mark.parametrize("minimum, expected", [(5, 5), (None, 1), (0, 1)],
                         ids=["custom min", "default min", "zero min"])
def test_get_hpa_min_replicas(minimum, expected):
    """apis/keda/v1alpha1/scaledobject_types_test.go (GetHPAMinReplicas table): "Zero min" ->
    1, "should use default for 0 value"."""
    assert keda.hpa_min_replicas(minimum) == expected


def test_the_cooldown_counts_from_the_last_active_poll_and_the_initial_one_from_creation():
    """scaleToZeroOrIdle: lastActiveTime + cooldownPeriod, or creation + initialCooldownPeriod."""
    idle = dict(current_replicas=1, active=False, error=False, min_replica_count=0,
                cooldown_seconds=600, initial_cooldown_seconds=900)
    assert keda.request_scale(keda.Poll(**idle, seconds_since_last_active=599)) is None
    assert keda.request_scale(keda.Poll(**idle, seconds_since_last_active=601)) == 0
    assert keda.request_scale(keda.Poll(**idle, seconds_since_creation=899)) is None
    assert keda.request_scale(keda.Poll(**idle, seconds_since_creation=901)) == 0


def test_an_empty_prometheus_answer_is_zero_or_an_error_by_ignore_null_values():
    """prometheus_scaler.go ExecutePromQuery: empty result -> 0 with ignoreNullValues (the
    default), else an error; active when value > activationThreshold."""
    assert keda.prometheus_trigger_active(None) == (False, False)
    assert keda.prometheus_trigger_active(None, ignore_null_values=False) == (False, True)
    assert keda.prometheus_trigger_active(1.0) == (True, False)
    assert keda.prometheus_trigger_active(0.0) == (False, False)
