"""The scheduling rules (policy/resource_checks.py) in detail: /dev/shm, the GPU count against
the parallel layout, and CPU and memory by QoS class, on single pods and on multi-node groups,
and how a message names the object it refuses. Builders and drivers are
tests/policy/conftest.py's.
"""

from __future__ import annotations

import pytest

from facts import conventions as conv
from policy import k8s
from tests.policy.conftest import (
    assert_names_the_object,
    DEPLOYMENT,
    NS,
    RELEASE,
    deployment,
    engine,
    leader_worker_set,
    group_template,
    pod,
    validate_resource,
)

LWS = k8s.LEADER_WORKER_SET
SHM, GPUS, CPU_MEMORY = "shm-for-multi-gpu", "gpu-matches-parallelism", "cpu-memory-resources"
GROUP = f"LeaderWorkerSet '{NS}/{RELEASE}'"


def _templates(props: dict) -> tuple[dict, dict]:
    """(leader, worker) pod templates of a `leader_worker_set()`."""
    return group_template(props, "leader"), group_template(props, "worker")


def _engine_of(template: dict) -> dict:
    return template["spec"]["containers"][0]


def _gpus(container: dict, count: str) -> None:
    for section in ("requests", "limits"):
        container["resources"][section]["nvidia.com/gpu"] = count


def _no_vllm(template: dict) -> None:
    """A leader that only coordinates: no container named vllm, none asking for a GPU."""
    template["spec"]["containers"] = [{"name": "coordinator", "image": "busybox", "resources": {
        "requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]


# --- how messages name the object -----------------------------------------------------------

def _oversized_shm(props):
    pod(props)["volumes"][0]["emptyDir"]["sizeLimit"] = "128Gi"


def _four_gpus(props):
    _gpus(engine(props), "4")


def _no_cpu_request(props):
    del engine(props)["resources"]["requests"]["cpu"]


BROKEN = [  # rule, the change, what the message says right after naming the object
    (SHM, _oversized_shm, " sizes /dev/shm at 128Gi, not inside the vllm container's memory "
                          "limit of 96Gi;"),
    (GPUS, _four_gpus, " gives the vllm container 4 GPUs (nvidia.com/gpu limit) but tensor × "
                       "pipeline × data parallel = 2 × 1 × 1 = 2; vLLM"),
    (CPU_MEMORY, _no_cpu_request, ": container 'vllm' does not set requests.cpu;"),
]


@pytest.mark.parametrize("rule, change, opening", BROKEN)
def test_a_message_names_the_object_by_namespace_and_name_or_its_pulumi_name(rule, change,
                                                                             opening):
    assert_names_the_object(rule, change, opening)


# --- /dev/shm -------------------------------------------------------------------------------

def test_two_gpus_without_a_shm_mount_are_told_to_mount_one():
    props = deployment()
    engine(props)["volumeMounts"] = [m for m in engine(props)["volumeMounts"]
                                     if m["name"] != "shm"]
    [message] = validate_resource(SHM, DEPLOYMENT, props)
    assert message.startswith(f"Deployment '{NS}/{RELEASE}' gives the vllm container 2 GPUs "
                              "but mounts nothing at /dev/shm;"), message


def test_a_shm_mount_path_with_a_trailing_slash_is_the_same_mount():
    props = deployment()
    engine(props)["volumeMounts"][0]["mountPath"] = "/dev/shm/"
    assert validate_resource(SHM, DEPLOYMENT, props) == []


def test_a_shm_mount_whose_volume_is_not_declared_is_caught():
    props = deployment()
    pod(props)["volumes"] = [v for v in pod(props)["volumes"] if v["name"] != "shm"]
    [message] = validate_resource(SHM, DEPLOYMENT, props)
    assert "mounts volume 'shm' at /dev/shm, but it is not an emptyDir" in message


def test_a_memory_shm_without_a_size_limit_is_caught():
    props = deployment()
    del pod(props)["volumes"][0]["emptyDir"]["sizeLimit"]
    [message] = validate_resource(SHM, DEPLOYMENT, props)
    assert "Memory emptyDir at /dev/shm without a sizeLimit" in message


def test_a_memory_shm_in_a_container_without_a_memory_limit_is_caught():
    props = deployment()
    del engine(props)["resources"]["limits"]["memory"]
    [message] = validate_resource(SHM, DEPLOYMENT, props)
    assert "mounts a 16Gi Memory emptyDir at /dev/shm but the vllm container has no memory " \
        "limit" in message


def test_shm_is_judged_on_each_template_of_a_group():
    props = leader_worker_set(tp=16)
    for template in _templates(props):
        template["spec"]["volumes"][0]["emptyDir"] = {"sizeLimit": "16Gi"}   # on disk
    messages = validate_resource(SHM, LWS, props)
    assert [m.split(" mounts ")[0] for m in messages] == \
        [f"{GROUP} (leader template)", f"{GROUP} (worker template)"]
    for template in _templates(props):
        _engine_of(template)["volumeMounts"] = [
            m for m in _engine_of(template)["volumeMounts"] if m["name"] != "shm"]
    messages = validate_resource(SHM, LWS, props)
    assert len(messages) == 2 and all("mounts nothing at /dev/shm" in m for m in messages)


def _single_gpu_leader_without_shm(leader):
    _gpus(_engine_of(leader), "1")
    _engine_of(leader)["volumeMounts"] = []


@pytest.mark.parametrize("leader_change", [_no_vllm, _single_gpu_leader_without_shm])
def test_a_workers_shm_is_checked_whatever_the_leader_needs(leader_change):
    props = leader_worker_set(tp=16)
    leader, worker = _templates(props)
    leader_change(leader)
    worker["spec"]["volumes"][0]["emptyDir"]["sizeLimit"] = "128Gi"
    [message] = validate_resource(SHM, LWS, props)
    assert message.startswith(f"{GROUP} (worker template) sizes /dev/shm at 128Gi"), message


# --- GPUs against the parallel layout -------------------------------------------------------

def test_pipeline_parallel_multiplies_the_gpu_count():
    # tensor 2 × pipeline 2 × data 1 = 4 GPUs.
    props = deployment()
    props["metadata"]["annotations"][conv.ANN_PIPELINE_PARALLEL] = "2"
    _gpus(engine(props), "4")
    assert validate_resource(GPUS, DEPLOYMENT, props) == []
    _gpus(engine(props), "2")
    [message] = validate_resource(GPUS, DEPLOYMENT, props)
    assert "= 2 × 2 × 1 = 4" in message


def test_sizes_come_from_the_flags_when_no_annotation_states_them():
    props = deployment()
    annotations = props["metadata"]["annotations"]
    for key in (conv.ANN_TENSOR_PARALLEL, conv.ANN_PIPELINE_PARALLEL, conv.ANN_DATA_PARALLEL):
        del annotations[key]
    assert validate_resource(GPUS, DEPLOYMENT, props) == []   # --tensor-parallel-size 2
    engine(props)["args"] += ["-dp", "2"]
    [message] = validate_resource(GPUS, DEPLOYMENT, props)
    assert "= 2 × 1 × 2 = 4" in message


def test_parallel_sizes_may_be_stated_on_the_pod_template():
    props = deployment()
    del props["metadata"]["annotations"][conv.ANN_DATA_PARALLEL]
    props["spec"]["template"]["metadata"]["annotations"] = {conv.ANN_DATA_PARALLEL: "2"}
    _gpus(engine(props), "4")
    assert validate_resource(GPUS, DEPLOYMENT, props) == []


def test_no_tensor_parallel_size_anywhere_is_caught():
    props = deployment()
    del props["metadata"]["annotations"][conv.ANN_TENSOR_PARALLEL]
    engine(props)["args"] = ["--model", "/models"]
    messages = validate_resource(GPUS, DEPLOYMENT, props)
    assert any("states no tensor parallel size" in m for m in messages), messages
    # ...and the size then counts as 1, so the 2 GPUs are also reported.
    assert any("= 1 × 1 × 1 = 1" in m for m in messages), messages


def test_a_size_annotation_that_is_not_a_number_is_caught():
    props = deployment()
    props["metadata"]["annotations"][conv.ANN_PIPELINE_PARALLEL] = "two"
    [message] = validate_resource(GPUS, DEPLOYMENT, props)
    assert "states pipeline parallel size 'two'" in message and "not a number" in message


def test_a_gpu_limit_without_a_request_is_caught():
    props = deployment()
    del engine(props)["resources"]["requests"]["nvidia.com/gpu"]
    [message] = validate_resource(GPUS, DEPLOYMENT, props)
    assert "sets nvidia.com/gpu limit 2 but no request" in message


def test_an_inference_workload_without_a_vllm_container_is_caught():
    props = deployment()
    engine(props)["name"] = "server"
    del engine(props)["resources"]["limits"]["nvidia.com/gpu"]
    [message] = validate_resource(GPUS, DEPLOYMENT, props)
    assert "without a container named 'vllm'" in message


def test_a_group_gets_its_gpus_split_per_pod_in_every_template():
    # tensor 16 over 2 pods: 8 GPUs per pod. Without a GPU limit each template is told so.
    props = leader_worker_set(tp=16)
    for template in _templates(props):
        del _engine_of(template)["resources"]["limits"]["nvidia.com/gpu"]
    messages = validate_resource(GPUS, LWS, props)
    assert [m.split(" sets no")[0] for m in messages] == \
        [f"{GROUP} (leader template)", f"{GROUP} (worker template)"]
    assert all("set requests and limits to 8 (" in m and "over 2 pods per group" in m
               for m in messages), messages


def test_a_product_that_does_not_split_over_the_group_is_caught_in_every_template():
    # tensor 3 over 2 pods would be 1.5 GPUs per pod.
    messages = validate_resource(GPUS, LWS, leader_worker_set(tp=3))
    assert len(messages) == 2
    assert all("= 3 × 1 × 1 = 3 over 2 pods per group does not divide into whole GPUs" in m
               for m in messages), messages


def test_a_leader_without_vllm_does_not_hide_the_workers_gpu_count():
    props = leader_worker_set(tp=16)
    leader, worker = _templates(props)
    _no_vllm(leader)
    _gpus(_engine_of(worker), "4")
    leader_message, worker_message = validate_resource(GPUS, LWS, props)
    assert leader_message.startswith(f"{GROUP} (leader template) is an inference workload "
                                     "without a container named 'vllm'")
    assert worker_message.startswith(f"{GROUP} (worker template) gives the vllm container 4 "
                                     "GPUs")


# --- CPU and memory -------------------------------------------------------------------------

def test_a_request_above_its_limit_is_caught():
    props = deployment()
    engine(props)["resources"]["requests"]["memory"] = "128Gi"
    [message] = validate_resource(CPU_MEMORY, DEPLOYMENT, props)
    assert "container 'vllm' requests memory 128Gi above its limit 96Gi" in message


def test_init_containers_need_no_resources_beside_a_burstable_engine():
    props = deployment()
    engine(props)["resources"]["requests"]["memory"] = "64Gi"   # Burstable
    del pod(props)["initContainers"][0]["resources"]
    assert validate_resource(CPU_MEMORY, DEPLOYMENT, props) == []


def test_a_burstable_engine_does_not_ask_its_init_containers_for_guaranteed_qos():
    props = deployment()
    engine(props)["resources"]["requests"]["memory"] = "64Gi"
    pod(props)["initContainers"][0]["resources"]["limits"]["cpu"] = "500m"
    assert validate_resource(CPU_MEMORY, DEPLOYMENT, props) == []


def test_an_unset_limit_is_shown_as_unset_beside_a_guaranteed_engine():
    props = deployment()
    del pod(props)["initContainers"][0]["resources"]["limits"]["cpu"]
    [message] = validate_resource(CPU_MEMORY, DEPLOYMENT, props)
    assert "requests/limits cpu 200m/unset, memory 128Mi/128Mi" in message


def test_a_container_without_a_name_is_shown_as_a_question_mark():
    props = deployment()
    pod(props)["containers"].append({"image": "busybox"})
    missing, burstable = validate_resource(CPU_MEMORY, DEPLOYMENT, props)
    assert "container '?' does not set requests.cpu, requests.memory, limits.memory" in missing
    assert "but container '?' has requests/limits cpu unset/unset" in burstable


def test_each_template_of_a_group_is_judged_on_its_own_qos():
    props = leader_worker_set(tp=16)
    leader, worker = _templates(props)
    _engine_of(leader)["resources"]["requests"]["memory"] = "64Gi"   # Burstable leader
    worker["spec"]["initContainers"][0]["resources"]["limits"]["cpu"] = "500m"
    [message] = validate_resource(CPU_MEMORY, LWS, props)
    assert message.startswith(f"{GROUP} (worker template): the vllm container asks for "
                              "Guaranteed QoS"), message
