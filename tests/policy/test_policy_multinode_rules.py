"""The multi-node rules (policy/multinode_checks.py) on a two-node LeaderWorkerSet group, one
requirement per test. The group is tests/policy/conftest.py's `leader_worker_set`: a leader that serves
and a --headless worker, 8 GPUs per pod, tensor parallel 8 over `--nnodes 2`.
"""

from __future__ import annotations

import pytest

from facts import conventions as conv
from policy import k8s
from tests.policy.conftest import (
    DEPLOYMENT,
    leader_worker_set,
    deployment,
    group_engine,
    group_template,
    validate_resource,
    validate_stack,
)

LWS = k8s.LEADER_WORKER_SET
TP = "tensor-parallel-within-a-node"
RESTART = "group-recreated-on-restart"
START = "group-can-start"
HEADLESS = "headless-workers-not-http-probed"


# --- tensor-parallel-within-a-node ----------------------------------------------------------

def test_tensor_parallel_over_more_gpus_than_a_pod_is_caught_on_each_template():
    assert validate_resource(TP, LWS, leader_worker_set(tp=16)) == [
        f"LeaderWorkerSet 'llm-serving/prod-r1' ({role} template) runs tensor parallel 16 on "
        "pods of 8 GPUs, so its all-reduces on every layer cross nodes and run several times "
        "slower; keep tensor parallelism inside a node and span nodes with pipeline or data × "
        "expert parallelism." for role in ("leader", "worker")]


@pytest.mark.parametrize("tp, gpus, caught", [(8, "8", False), (4, "8", False), (8, "4", True),
                                              (9, "8", True)])
def test_tensor_parallel_may_fill_a_pod_but_not_exceed_it(tp, gpus, caught):
    messages = validate_resource(TP, LWS, leader_worker_set(tp=tp, gpus=gpus))
    assert len(messages) == (2 if caught else 0)


@pytest.mark.parametrize("flag", ["--tensor-parallel-size", "-tp"])
def test_the_tensor_parallel_size_is_read_from_the_flag_before_the_annotation(flag):
    """vLLM reads `-tp 16` as --tensor-parallel-size 16; the annotation may say less."""
    props = leader_worker_set(tp=8)
    for role in ("leader", "worker"):
        group_engine(props, role)["args"] = [flag, "16", "--nnodes", "2"]
    messages = validate_resource(TP, LWS, props)
    assert len(messages) == 2 and all("tensor parallel 16" in m for m in messages)


def test_without_the_flag_the_annotation_and_the_gpu_request_are_read():
    stated_only = leader_worker_set(tp=16)
    for role in ("leader", "worker"):
        group_engine(stated_only, role)["args"] = []
    assert len(validate_resource(TP, LWS, stated_only)) == 2
    requests_only = leader_worker_set(tp=16)      # GPUs from the request when no limit is set
    for role in ("leader", "worker"):
        del group_engine(requests_only, role)["resources"]["limits"]["nvidia.com/gpu"]
    assert len(validate_resource(TP, LWS, requests_only)) == 2


def test_the_flag_wins_over_a_larger_annotation():
    props = leader_worker_set(tp=8)
    props["metadata"]["annotations"][conv.ANN_TENSOR_PARALLEL] = "16"
    assert validate_resource(TP, LWS, props) == []


def test_the_tensor_parallel_annotation_may_sit_on_a_template():
    props = leader_worker_set(tp=16)
    del props["metadata"]["annotations"][conv.ANN_TENSOR_PARALLEL]
    for role in ("leader", "worker"):
        group_engine(props, role)["args"] = []
    assert validate_resource(TP, LWS, props) == []
    group_template(props, "leader").setdefault("metadata", {})["annotations"] = {
        conv.ANN_TENSOR_PARALLEL: "16"}
    assert len(validate_resource(TP, LWS, props)) == 2


def test_without_a_stated_size_or_gpu_count_nothing_is_judged():
    unstated = leader_worker_set(tp=16)
    del unstated["metadata"]["annotations"][conv.ANN_TENSOR_PARALLEL]
    for role in ("leader", "worker"):
        group_engine(unstated, role)["args"] = []
    assert validate_resource(TP, LWS, unstated) == []
    no_gpus = leader_worker_set(tp=16)
    for role in ("leader", "worker"):
        del group_engine(no_gpus, role)["resources"]
    assert validate_resource(TP, LWS, no_gpus) == []


def test_a_template_without_an_engine_is_skipped_and_the_next_one_judged():
    props = leader_worker_set(tp=16)
    leader = group_engine(props, "leader")
    leader["name"] = "proxy"
    del leader["resources"]
    messages = validate_resource(TP, LWS, props)
    assert len(messages) == 1 and "(worker template)" in messages[0]


def test_tensor_parallel_is_judged_on_inference_groups_only():
    other = leader_worker_set(tp=16)
    other["metadata"]["labels"] = {"app": "something-else"}
    for role in ("leader", "worker"):
        group_template(other, role)["metadata"]["labels"] = {"app": "other"}
    assert validate_resource(TP, LWS, other) == []


def test_a_single_pod_deployment_is_left_to_gpu_matches_parallelism():
    assert validate_resource(TP, DEPLOYMENT, deployment()) == []


# --- group-recreated-on-restart -------------------------------------------------------------

def test_a_group_restart_policy_that_keeps_the_group_is_named_in_the_message():
    assert validate_resource(RESTART, LWS, leader_worker_set(restart="None")) == [
        "LeaderWorkerSet 'llm-serving/prod-r1' sets restartPolicy None: a restarted pod would "
        "rejoin a group whose other ranks still hold the old NCCL communicator and hang it; use "
        "RecreateGroupOnPodRestart (or RecreateGroupAfterStart)."]


@pytest.mark.parametrize("restart", [None, "RecreateGroupOnPodRestart", "RecreateGroupAfterStart"])
def test_a_group_recreated_on_restart_passes(restart):
    assert validate_resource(RESTART, LWS, leader_worker_set(restart=restart)) == []


def test_default_restart_policy_keeps_the_group_and_is_caught():
    [message] = validate_resource(RESTART, LWS, leader_worker_set(restart="Default"))
    assert "RecreateGroupOnPodRestart" in message


def test_group_rules_ignore_groups_that_are_not_inference_groups():
    other = leader_worker_set(restart="None", startup="LeaderReady")
    other["metadata"]["labels"] = {"app": "something-else"}
    for role in ("leader", "worker"):
        group_template(other, role)["metadata"]["labels"] = {"app": "other"}
    for rule in (RESTART, START):
        assert validate_resource(rule, LWS, other) == []
        assert validate_resource(rule, DEPLOYMENT, deployment()) == []


def test_a_restart_policy_on_something_else_than_a_group_is_not_judged():
    props = deployment()
    props["spec"]["leaderWorkerTemplate"] = {"restartPolicy": "None"}
    assert validate_resource(RESTART, DEPLOYMENT, props) == []


# --- group-can-start ------------------------------------------------------------------------

def test_a_group_that_waits_for_a_ready_leader_is_named_in_the_message():
    assert validate_resource(START, LWS, leader_worker_set(startup="LeaderReady")) == [
        "LeaderWorkerSet 'llm-serving/prod-r1' sets startupPolicy LeaderReady: the workers are "
        "only created once the leader is Ready, but vLLM's leader becomes Ready only after its "
        "workers join, so the group deadlocks; use LeaderCreated."]


@pytest.mark.parametrize("startup", [None, "LeaderCreated"])
def test_a_group_that_creates_its_workers_with_the_leader_starts(startup):
    assert validate_resource(START, LWS, leader_worker_set(startup=startup)) == []


@pytest.mark.parametrize("size, caught", [(1.0, False), (2.0, True), (3.0, True)])
def test_a_group_of_one_pod_may_wait_for_its_leader(size, caught):
    props = leader_worker_set(startup="LeaderReady")
    props["spec"]["leaderWorkerTemplate"]["size"] = size
    assert bool(validate_resource(START, LWS, props)) is caught


def test_a_startup_policy_on_something_else_than_a_group_is_not_judged():
    props = deployment()
    props["spec"]["startupPolicy"] = "LeaderReady"
    assert validate_resource(START, DEPLOYMENT, props) == []


# --- headless-workers-not-http-probed -------------------------------------------------------

def test_a_headless_worker_without_probes_passes():
    assert validate_resource(HEADLESS, LWS, leader_worker_set()) == []


def test_every_http_probe_on_a_headless_worker_is_listed():
    assert validate_resource(HEADLESS, LWS, leader_worker_set(worker_probe=True)) == [
        "LeaderWorkerSet 'llm-serving/prod-r1' (worker template) runs vLLM --headless (no API "
        "server) but probes it over HTTP (startupProbe, readinessProbe, livenessProbe); the "
        "probe can never pass. Drop the HTTP probes on workers, or use an exec probe that "
        "checks the leader's rendezvous."]


@pytest.mark.parametrize("kind", ["startupProbe", "readinessProbe", "livenessProbe"])
def test_any_one_http_probe_on_a_headless_worker_is_caught(kind):
    props = leader_worker_set()
    group_engine(props, "worker")[kind] = {"httpGet": {"path": "/health", "port": "http"}}
    [message] = validate_resource(HEADLESS, LWS, props)
    assert f"over HTTP ({kind})" in message


def test_exec_and_tcp_probes_on_a_headless_worker_pass():
    props = leader_worker_set()
    worker = group_engine(props, "worker")
    worker["readinessProbe"] = {"exec": {"command": ["true"]}}
    worker["livenessProbe"] = {"tcpSocket": {"port": 6379}}
    assert validate_resource(HEADLESS, LWS, props) == []


def test_headless_in_a_shell_command_counts():
    props = leader_worker_set()
    worker = group_engine(props, "worker")
    worker["command"] = ["sh", "-c", "vllm serve /models --headless --nnodes 2"]
    worker["args"] = []
    worker["readinessProbe"] = {"httpGet": {"path": "/health", "port": "http"}}
    assert len(validate_resource(HEADLESS, LWS, props)) == 1


def test_a_worker_whose_engine_cannot_be_found_is_skipped():
    props = leader_worker_set(worker_probe=True)
    worker = group_engine(props, "worker")
    worker["name"] = "sidecar"
    del worker["resources"]
    assert validate_resource(HEADLESS, LWS, props) == []


def test_a_headless_leader_is_judged_like_a_worker():
    props = leader_worker_set(worker_probe=True)
    group_engine(props, "leader")["args"].append("--headless")
    messages = validate_resource(HEADLESS, LWS, props)
    assert [m.split(" runs vLLM")[0] for m in messages] == [
        "LeaderWorkerSet 'llm-serving/prod-r1' (leader template)",
        "LeaderWorkerSet 'llm-serving/prod-r1' (worker template)"]


# --- group-names-fit ------------------------------------------------------------------------

NAMES = "group-names-fit"


def _named_group(name: str, replicas: float = 1.0, surge=None) -> list[dict]:
    props = leader_worker_set()
    props["metadata"]["name"] = name
    props["spec"]["replicas"] = replicas
    if surge is not None:
        props["spec"]["rolloutStrategy"] = {"type": "RollingUpdate",
                                            "rollingUpdateConfiguration": {"maxSurge": surge}}
    return [{"type": LWS, "name": "vllm", "props": props}]


def _scaler(name: str, most: float) -> dict:
    return {"type": k8s.SCALED_OBJECT, "name": "vllm-keda", "props": {
        "metadata": {"name": name, "namespace": "llm-serving"},
        "spec": {"scaleTargetRef": {"apiVersion": "leaderworkerset.x-k8s.io/v1",
                                    "kind": "LeaderWorkerSet", "name": name},
                 "minReplicaCount": 1.0, "maxReplicaCount": most}}}


def test_a_group_name_of_50_characters_fits_one_digit_group_indexes():
    assert validate_stack(NAMES, _named_group("g" * 50)) == []


def test_a_group_name_whose_worker_statefulset_exceeds_52_characters_is_caught():
    [(message, urn)] = validate_stack(NAMES, _named_group("g" * 51))
    assert message.startswith(f"LeaderWorkerSet 'llm-serving/{'g' * 51}' may run 1 groups")
    assert f"'{'g' * 51}-0' (53 characters)" in message
    assert "at most 50 characters" in message and urn.endswith("::vllm")


@pytest.mark.parametrize("replicas, surge, most, fits", [
    (10.0, None, None, True),      # indexes 0 … 9
    (10.0, 1.0, None, False),      # the surge group is index 10
    (10.0, "10%", None, False),    # 10 % of 10 rounds up to 1
    (1.0, None, 11.0, False),      # the autoscaler's maximum counts
    (1.0, 5.0, None, True),        # maxSurge is capped at replicas
])
def test_two_digit_group_indexes_count_replicas_surge_and_the_autoscaler(replicas, surge, most,
                                                                         fits):
    resources = _named_group("g" * 50, replicas, surge)
    if most is not None:
        resources.append(_scaler("g" * 50, most))
    assert (validate_stack(NAMES, resources) == []) is fits
