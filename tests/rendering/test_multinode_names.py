"""Requirement: every group of a LeaderWorkerSet can start. The LWS controller names each
group's worker StatefulSet `<lws>-<groupIndex>`, and a StatefulSet named over 52 characters
never creates a pod (facts/lws.py cites both controllers). Stacks whose name fits keep it."""

from __future__ import annotations

import pytest

from facts import lws as lws_facts
from tests.harness import run_stack

LWS = "leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"


def _lws_name(run) -> str:
    assert run.error is None, run.error
    return run.one(LWS).metadata["name"]


def test_the_revision_hash_label_arithmetic_gives_52():
    # 4294967295 (the largest uint32) is the longest hash; label values stop at 63.
    assert len(str(2**32 - 1)) == lws_facts.REVISION_HASH_MAX
    assert lws_facts.STATEFULSET_NAME_MAX == 52
    assert lws_facts.longest_name(1) == 50 and lws_facts.longest_name(10) == 50
    assert lws_facts.longest_name(11) == 49 and lws_facts.longest_name(101) == 48


def test_the_r1_stack_keeps_its_group_name(runs):
    # Renaming a live LWS replaces it: a name that fits never changes.
    assert _lws_name(runs["r1-h100"]) == "r1-h100-deepseek-r1-group"


@pytest.mark.parametrize("release_length", [44, 45, 48, 52])
def test_every_worker_statefulset_name_fits_for_releases_up_to_52_characters(release_length):
    served = "m" * (release_length - len("r1-h100-"))
    name = _lws_name(run_stack("r1-h100", {"model": {"servedName": served}}))
    worker_sts = lws_facts.worker_statefulset_name(name, 0)
    assert len(worker_sts) <= 52
    assert len(name) <= 63   # the headless Service (the pods' subdomain) and the name label
    # Pod names are hostnames and statefulset.kubernetes.io/pod-name label values: the last
    # worker of the largest group (gpu.nodes at most 16) stays within 63.
    assert len(f"{worker_sts}-15") <= 63


def test_two_digit_group_indexes_are_counted_when_the_autoscaler_reaches_eleven_groups():
    served = "m" * (44 - len("r1-h100-"))   # <release>-group = 50 characters: fits "-9"
    few = _lws_name(run_stack("r1-h100", {"model": {"servedName": served}}))
    assert few == f"r1-h100-{served}-group"
    many = _lws_name(run_stack("r1-h100", {"model": {"servedName": served}, "autoscaling": {
        "enabled": True, "engine": "keda", "minReplicas": 1, "maxReplicas": 11}}))
    assert len(lws_facts.worker_statefulset_name(many, 10)) <= 52
    assert many != few


def test_cut_names_stay_distinct():
    names = {_lws_name(run_stack("r1-h100", {"model": {"servedName": "m" * 43 + tail}}))
             for tail in ("a", "b")}
    assert len(names) == 2
