"""The vLLM pod template, as a plain Kubernetes dict (camelCase).

One base template for every vLLM pod: the Deployment's, and under a named overlay
(rendering/multinode.py `group_overlay`) a LeaderWorkerSet group's leader and workers. Every
number comes from the plan.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from rendering import kube, vllm_args, warm_caches, weights
from rendering.labels import selector_of
from facts import conventions, vllm_features
from planning.plan import Plan
from rendering.vllm_args import PORT, SERVER_COMMAND

CONTAINER = conventions.ENGINE_CONTAINER
PORT_NAME = "http"
MODEL_MOUNT = "/models"
HOME = "/home/vllm"
USER_ID = 10001
"""UID and GID of every container (vLLM, init, download). Above 10000 so it cannot collide with
a host account (checkov CKV_K8S_40). The upstream image has no account with this UID
(docker/Dockerfile creates one) and needs none: the pod writes only to its emptyDirs (HOME,
/tmp, /dev/shm) and claims, which fsGroup gives it. Without a passwd entry `getpass.getuser()`
(torch inductor's cache path) reads USER/LOGNAME, which the vLLM container sets."""
USER_NAME = "vllm"
CACHE_ROOT = f"{HOME}/.cache/vllm"
"""VLLM_CACHE_ROOT: where vLLM keeps the caches it reuses (facts/warm_caches.py) and where the
compile-cache claim is mounted."""
CHECKOV_WAIVERS = {
    "checkov.io/skip1": "CKV_K8S_35=vLLM reads its API key only from VLLM_API_KEY or --api-key; "
                        "a secretKeyRef keeps it out of the args and the spec",
}
"""Annotations for the Deployment's own metadata (not the pod template's): checkov reads skips
there. Each value is `<check id>=<reason>`; the reason must not contain '=' (checkov splits on
it). tests/stacks/test_checkov.py lists the same waivers and fails on any other skip."""
GPU_RESOURCE = conventions.GPU_RESOURCE
GPU_PRODUCT_LABEL = conventions.GPU_PRODUCT_LABEL
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
"""GPU nodes are commonly tainted nvidia.com/gpu:NoSchedule."""


@dataclasses.dataclass(frozen=True)
class PodInputs:
    """What the pod template needs besides the plan. A multi-node group's pods are this
    template with a named overlay on top (rendering/multinode.py `group_overlay`)."""

    image: Any                      # str or pulumi Output[str]: reference by digest
    args: list[str]
    labels: dict[str, str]
    annotations: dict[str, Any]
    claim_name: Any
    model_dir: str
    api_key_secret: Any             # Secret name (str or Output)
    api_key_secret_key: str
    product_labels: list[str]
    probe_period: int
    probe_timeout: int
    readiness_failures: int
    liveness_failures: int
    pull_secrets: list[str] = dataclasses.field(default_factory=list)
    tolerations: list[dict] = dataclasses.field(default_factory=list)
    node_selector: dict[str, str] = dataclasses.field(default_factory=dict)
    priority_class_name: Optional[str] = None
    runtime_class_name: Optional[str] = None
    compile_cache_claim: Any = None
    wait_for_file: Optional[str] = None   # pvc mode: the download Job's completion marker
    weights_revision: Optional[str] = None  # nfs with a pinned commit: checked against the marker
    logging_config_map: Optional[str] = None  # JSON logs: vllm_args.logging_config_map's name
    object_store: Any = None  # storage.mode objectStore: rendering/object_store.StreamerPod
    model_volume: Optional[dict] = None   # image, nodeCache: the `model` volume instead of a claim
    required_node_labels: dict[str, str] = dataclasses.field(default_factory=dict)
    """nodeCache: labels a node must carry (the revision's ready label)."""


def drain_wait_script(pre_stop: int, bound: int) -> str:
    """Pre-0.18 preStop: sleep, then wait (at most `bound` s) until no request is running.

    vLLM before 0.18 drops in-flight requests on SIGTERM, so the kubelet must not send it while
    vllm:num_requests_running > 0. The pod is already out of the Service's endpoints.
    """
    return (
        "import re, time, urllib.request\n"
        f"time.sleep({pre_stop})\n"
        f"deadline = time.time() + {bound}\n"
        "while time.time() < deadline:\n"
        "    try:\n"
        f"        page = urllib.request.urlopen('http://127.0.0.1:{PORT}/metrics', timeout=5)\n"
        "        text = page.read().decode()\n"
        "    except Exception:\n"
        "        break\n"
        "    running = sum(float(v) for v in re.findall(\n"
        "        r'^vllm:num_requests_running\\{[^}]*\\} (\\S+)$', text, re.M))\n"
        "    if running == 0:\n"
        "        break\n"
        "    time.sleep(2)\n"
    )


def pre_stop_hook(plan: Plan) -> dict:
    """preStop as exec (the `sleep` action is not enabled on Kubernetes 1.29).

    From vLLM 0.18 a plain sleep lets endpoints drop the pod before vLLM gets SIGTERM and
    drains for --shutdown-timeout; before 0.18 the hook itself waits for running requests.
    """
    if plan.drain.vllm_drains:
        command = ["sleep", str(plan.drain.pre_stop_seconds)]
    else:
        command = ["python3", "-c",
                   drain_wait_script(plan.drain.pre_stop_seconds, plan.drain.longest_request_seconds)]
    return {"exec": {"command": command}}


def pod_template(plan: Plan, inputs: PodInputs) -> dict:
    """The pod template of one vLLM replica. A multi-node group's leader and worker are this
    template with rendering/multinode.py `group_overlay` applied."""
    spec: dict[str, Any] = {
        "enableServiceLinks": False,   # a Service named like VLLM_* would inject VLLM_PORT
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": plan.drain.grace_seconds,
        "securityContext": pod_security_context(),
        "affinity": gpu_node_affinity(inputs.product_labels),
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": conventions.HOSTNAME_TOPOLOGY_KEY,
            # Soft: a hard spread counts every node with the right GPU product, including nodes
            # whose GPUs other workloads hold, and would leave a scale-up Pending there.
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector_of(inputs.labels)},
        }],
        "tolerations": [GPU_TOLERATION] + list(inputs.tolerations),
        "containers": [_container(plan, inputs)],
        "volumes": _volumes(plan, inputs),
        **_init_containers(inputs),
        **_placement(inputs),
    }
    model_store_overlay(spec, inputs)
    spec = streaming_overlay(spec, inputs.object_store)
    return {"metadata": {"labels": dict(inputs.labels), "annotations": dict(inputs.annotations)},
            "spec": spec}


def streaming_overlay(spec: dict, streamer: Any) -> dict:
    """storage.mode objectStore: the engine streams its weights (rendering/object_store.py), so
    the model volume and its mount go; the streamer's env, credentials volume and mount join,
    and a workload identity's ServiceAccount names the pod's identity. `spec` as it is without
    a streamer."""
    if streamer is None:
        return spec
    containers = [{**container,
                   "env": container["env"] + list(streamer.env),
                   "volumeMounts": [m for m in container["volumeMounts"] if m["name"] != "model"]
                   + list(streamer.mounts)} for container in spec["containers"]]
    volumes = [v for v in spec["volumes"] if v["name"] != "model"] + list(streamer.volumes)
    identity = {"serviceAccountName": streamer.service_account} if streamer.service_account else {}
    return {**spec, "containers": containers, "volumes": volumes, **identity}


def model_store_overlay(spec: dict, inputs: PodInputs) -> dict:
    """image and nodeCache, on the pod spec in place: the `model` volume is the store's own (an
    OCI image volume, the node's cache directory) rather than a claim, still mounted read-only
    at MODEL_MOUNT; and a node cache's pod requires the node labels that say its revision is
    staged there. They join every nodeSelectorTerm: terms are ORed (a term without them would
    admit any GPU node), a term's expressions ANDed."""
    if inputs.model_volume is not None:
        spec["volumes"] = [inputs.model_volume if volume["name"] == "model" else volume
                           for volume in spec["volumes"]]
    required = [{"key": key, "operator": "In", "values": [value]}
                for key, value in sorted(inputs.required_node_labels.items())]
    if required:
        node = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        for term in node["nodeSelectorTerms"]:
            term["matchExpressions"] = [*term["matchExpressions"], *required]
    return spec


def _container(plan: Plan, inputs: PodInputs) -> dict:
    """The vLLM container: `vllm serve` with the plan's resources, probes and drain."""
    gpus = str(plan.layout.gpus_per_node)
    return {
        "name": CONTAINER,
        "image": inputs.image,
        "imagePullPolicy": "IfNotPresent",
        "command": list(SERVER_COMMAND),
        "args": inputs.args,
        "ports": [{"name": PORT_NAME, "containerPort": PORT, "protocol": "TCP"}],
        "env": _env(plan, inputs),
        "resources": {
            "requests": {GPU_RESOURCE: gpus, "cpu": _cpu(plan.host.cpu_request),
                         "memory": f"{plan.host.memory_request_gib}Gi"},
            "limits": {GPU_RESOURCE: gpus, "cpu": _cpu(plan.host.cpu_limit),
                       "memory": f"{plan.host.memory_limit_gib}Gi"},
        },
        "volumeMounts": _mounts(inputs),
        **_probes(inputs, plan.startup.probe_failure_threshold),
        "lifecycle": {"preStop": pre_stop_hook(plan)},
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def _env(plan: Plan, inputs: PodInputs) -> list[dict]:
    return [
        {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {
            "name": inputs.api_key_secret, "key": inputs.api_key_secret_key}}},
        {"name": "HF_HUB_OFFLINE", "value": "1"},     # serving pods never download
        {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
        {"name": "HOME", "value": HOME},
        # USER_ID has no passwd entry in the image: getpass.getuser() falls back to these.
        {"name": "USER", "value": USER_NAME},
        {"name": "LOGNAME", "value": USER_NAME},
        {"name": "HF_HOME", "value": f"{HOME}/.cache/huggingface"},
        {"name": "XDG_CACHE_HOME", "value": f"{HOME}/.cache"},
        {"name": "VLLM_CACHE_ROOT", "value": CACHE_ROOT},
        {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
        {"name": "DO_NOT_TRACK", "value": "1"},
        *engine_ready_env(plan),
        *(warm_caches.cache_env(CACHE_ROOT) if inputs.compile_cache_claim is not None else []),
        *([vllm_args.logging_pod_parts(inputs.logging_config_map)["env"]]
          if inputs.logging_config_map else []),
    ]


def _mounts(inputs: PodInputs) -> list[dict]:
    mounts = [
        {"name": "model", "mountPath": MODEL_MOUNT, "readOnly": True},
        {"name": "shm", "mountPath": "/dev/shm"},
        {"name": "home", "mountPath": HOME},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if inputs.compile_cache_claim is not None:
        mounts.append({"name": "compile-cache", "mountPath": CACHE_ROOT})
    if inputs.logging_config_map:
        mounts.append(vllm_args.logging_pod_parts(inputs.logging_config_map)["volumeMount"])
    return mounts


def _volumes(plan: Plan, inputs: PodInputs) -> list[dict]:
    volumes = [
        {"name": "model", "persistentVolumeClaim": {"claimName": inputs.claim_name,
                                                    "readOnly": True}},
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{plan.host.shm_gib}Gi"}},
        {"name": "home", "emptyDir": {"sizeLimit": "20Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
    ]
    if inputs.compile_cache_claim is not None:
        volumes.append({"name": "compile-cache",
                        "persistentVolumeClaim": {"claimName": inputs.compile_cache_claim}})
    if inputs.logging_config_map:
        volumes.append(vllm_args.logging_pod_parts(inputs.logging_config_map)["volume"])
    return volumes


def _init_containers(inputs: PodInputs) -> dict:
    """pvc mode: wait for the download Job's marker; nfs with a pinned commit: check it first."""
    if inputs.wait_for_file:
        return {"initContainers": [{
            "name": "wait-for-weights",
            "image": inputs.image,
            "command": ["sh", "-c",
                        f"until [ -f '{inputs.wait_for_file}' ]; do "
                        "echo waiting for the model download Job; sleep 10; done"],
            "volumeMounts": [{"name": "model", "mountPath": MODEL_MOUNT, "readOnly": True}],
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                          "limits": {"cpu": "200m", "memory": "128Mi"}},
            "securityContext": container_security_context(),
        }]}
    init = _revision_check(inputs)
    return {"initContainers": init} if init else {}


def _placement(inputs: PodInputs) -> dict:
    """The optional pod-level settings from config: node selector, pull secrets, classes."""
    spec: dict[str, Any] = {}
    if inputs.node_selector:
        spec["nodeSelector"] = dict(inputs.node_selector)
    if inputs.pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in inputs.pull_secrets]
    if inputs.priority_class_name:
        spec["priorityClassName"] = inputs.priority_class_name
    if inputs.runtime_class_name:
        spec["runtimeClassName"] = inputs.runtime_class_name
    return spec


def _revision_check(inputs: PodInputs) -> list[dict]:
    """nfs with a pinned commit: a container that refuses weights whose marker names another
    commit (rendering/weights.py `revision_check_script`), before vLLM loads them."""
    if not inputs.weights_revision:
        return []
    return [{
        "name": "check-weights-revision",
        "image": inputs.image,
        "command": ["sh", "-c", weights.revision_check_script(inputs.model_dir,
                                                             inputs.weights_revision)],
        "volumeMounts": [{"name": "model", "mountPath": MODEL_MOUNT, "readOnly": True}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                      "limits": {"cpu": "200m", "memory": "128Mi"}},
        "securityContext": container_security_context(),
    }]


def engine_ready_env(plan: Plan) -> list[dict]:
    """VLLM_ENGINE_READY_TIMEOUT_S = the start-up budget, where the pinned vLLM reads it: its
    600 s default would end a start the kubelet still allows (a large model, DeepGEMM)."""
    if not vllm_features.engine_ready_timeout_configurable(plan.version):
        return []
    return [{"name": "VLLM_ENGINE_READY_TIMEOUT_S", "value": str(plan.startup.budget_seconds)}]


def _probes(inputs: PodInputs, startup_failures: int) -> dict:
    """HTTP startup/readiness/liveness on /health (the startup threshold is the plan's)."""
    def probe(failures: int) -> dict:
        return kube.http_probe("/health", PORT_NAME, period=inputs.probe_period,
                               timeout=inputs.probe_timeout, failures=failures)

    return {"startupProbe": probe(startup_failures),
            "readinessProbe": probe(inputs.readiness_failures),
            "livenessProbe": probe(inputs.liveness_failures)}


def pod_security_context() -> dict:
    """Non-root with a fixed UID/GID, volumes group-owned by it, the runtime's seccomp profile."""
    return {"runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID,
            "fsGroup": USER_ID, "seccompProfile": {"type": "RuntimeDefault"}}


def container_security_context() -> dict:
    """No privileges, no escalation, every capability dropped, a read-only root filesystem.

    Read-only root: every path the containers write is an emptyDir or claim mount — vLLM: HOME
    (HF, vLLM, torch.compile, Triton, FlashInfer caches under ~/.cache and ~/.triton), /tmp
    (torch inductor), /dev/shm; the download Job: /tmp (its HOME) and /models; the wait-for-weights
    init container writes nothing. Not yet verified on a GPU node: a library that writes
    elsewhere (e.g. under its site-packages) fails with EROFS in the pod's log.
    """
    return {"allowPrivilegeEscalation": False, "privileged": False, "runAsNonRoot": True,
            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def gpu_node_affinity(product_labels: list[str]) -> dict:
    """Only nodes whose GPU product (GPU feature discovery's label) is one of `product_labels`."""
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{
            "key": GPU_PRODUCT_LABEL, "operator": "In", "values": list(product_labels)}]}]}}}


def _cpu(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() else f"{int(value * 1000)}m"

