"""Derived autoscaling numbers: per-replica target, HPA windows and periods, fallback."""

import pytest

from planning import scaling
from planning import capacity, timing


def test_a_replica_runs_as_many_requests_as_its_kv_cache_holds_at_the_expected_length():
    # Prod: 317,408 KV tokens at 8,192 tokens a request -> 38, well under max-num-seqs 256.
    assert capacity.runnable_requests(317_408, 8192, 256) == 38
    assert capacity.runnable_requests(317_408, 4096, 256) == 77


def test_runnable_requests_are_capped_by_max_num_seqs_and_never_zero():
    assert capacity.runnable_requests(10_000_000, 1000, 256) == 256
    assert capacity.runnable_requests(4000, 8192, 256) == 1


def test_per_replica_target_is_runnable_requests_times_utilization():
    assert capacity.per_replica_target(38, 0.75) == 28
    assert capacity.per_replica_target(100, 0.5) == 50


def test_per_replica_target_rounds_down_and_never_reaches_zero():
    assert capacity.per_replica_target(10, 0.33) == 3
    assert capacity.per_replica_target(1, 0.1) == 1


@pytest.mark.parametrize("runnable, utilization", [(0, 0.5), (256, 0), (256, 1.5)])
def test_per_replica_target_rejects_impossible_inputs(runnable, utilization):
    with pytest.raises(ValueError):
        capacity.per_replica_target(runnable, utilization)


def test_prod_scales_before_requests_queue():
    """The target sits below what a replica can run, so KEDA adds one before a queue builds;
    before, 0.75 × max-num-seqs (192) let ~150 requests queue per replica first."""
    from planning.config import parse
    from planning.plan import make_plan
    from planning.stack_files import stack_values
    plan = make_plan(parse(stack_values("prod")))
    assert plan.autoscaling.runnable_requests == 38 and plan.autoscaling.target_per_replica == 28
    assert plan.autoscaling.target_per_replica < plan.autoscaling.runnable_requests < plan.engine.max_num_seqs


def test_scale_up_waits_one_startup_budget_before_adding_a_replica():
    assert scaling.scale_up_stabilization_seconds(900) == 900


def test_scale_up_window_never_shorter_than_the_seed_nor_longer_than_kubernetes_allows():
    assert scaling.scale_up_stabilization_seconds(20) == 60
    assert scaling.scale_up_stabilization_seconds(2700 * 2) == 3600


def test_scale_up_adds_one_replica_per_startup_budget():
    assert scaling.scale_up_policy_period_seconds(900) == 900
    assert scaling.scale_up_policy_period_seconds(30) == 120      # never faster than the seed's 2 min
    assert scaling.scale_up_policy_period_seconds(5400) == 1800   # Kubernetes' 30-minute maximum


def test_scale_up_period_clamped_to_kubernetes_1800_seconds_and_seed_minimum():
    assert scaling.scale_up_policy_period_seconds(4000) == 1800
    assert scaling.scale_up_policy_period_seconds(30) == 120


def test_scale_down_waits_as_long_as_a_replica_takes_to_come_back():
    assert scaling.scale_down_stabilization_seconds(900) == 900
    assert scaling.scale_down_stabilization_seconds(60) == 300
    assert scaling.scale_down_stabilization_seconds(10_000) == 3600


@pytest.mark.parametrize("budget", [1, 59, 60, 300, 1799, 1800, 3599, 3600, 3601, 100_000])
def test_every_derived_value_is_accepted_by_kubernetes(budget):
    assert 0 <= scaling.scale_up_stabilization_seconds(budget) <= scaling.K8S_MAX_STABILIZATION_SECONDS
    assert 0 <= scaling.scale_down_stabilization_seconds(budget) <= scaling.K8S_MAX_STABILIZATION_SECONDS
    assert 0 < scaling.scale_up_policy_period_seconds(budget) <= scaling.K8S_MAX_POLICY_PERIOD_SECONDS
    assert 0 < scaling.SCALE_DOWN_POLICY_PERIOD_SECONDS <= scaling.K8S_MAX_POLICY_PERIOD_SECONDS


def test_fallback_replicas_is_the_configured_value_else_the_minimum():
    assert scaling.fallback_replicas(2, 5) == 5
    assert scaling.fallback_replicas(2, None) == 2


def test_a_replaced_claim_is_waited_for_as_long_as_its_last_pod_may_drain():
    # Prod: grace 368 s + 300 s for the kubelet to unmount.
    assert timing.claim_release_seconds(368) == 668
