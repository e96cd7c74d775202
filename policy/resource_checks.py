"""Rules on what an inference pod asks the scheduler for: GPUs that match the parallel layout,
shared memory for NCCL, and CPU and memory as the pod's QoS class requires. Each check takes
`(resource_type, pulumi_name, props, config)` and returns messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from facts import conventions as conv
from policy import k8s
from policy.k8s import fmt, get, items

SHM_PATH = "/dev/shm"


def _shm_volume(spec: Mapping, container: Mapping) -> tuple[Optional[str], Optional[Mapping]]:
    """(volume name, volume) mounted at /dev/shm in `container`, or (None, None)."""
    for mount in items(container, "volumeMounts"):
        if str(get(mount, "mountPath", default="")).rstrip("/") == SHM_PATH:
            volume_name = get(mount, "name")
            for volume in items(spec, "volumes"):
                if get(volume, "name") == volume_name:
                    return volume_name, volume
            return volume_name, None
    return None, None


def check_shm(resource_type: str, name: str, props: Mapping, config: Mapping) -> list[str]:
    """With more than one GPU, /dev/shm is a Memory emptyDir with a sizeLimit inside the
    container's memory limit (tmpfs pages count against it)."""
    out = []
    for where, spec, container in k8s.engine_containers(resource_type, props, name):
        gpus = k8s.engine_gpus(container) or 0
        volume_name, volume = _shm_volume(spec, container)
        in_memory = get(volume, "emptyDir", "medium") == "Memory"
        if gpus > 1 and volume_name is None:
            out.append(
                f"{where} gives the vllm container {fmt(gpus)} GPUs but mounts nothing at "
                f"{SHM_PATH}; NCCL needs far more shared memory than the runtime's 64 MiB "
                "default for parallel traffic, so add an emptyDir volume with medium: Memory and "
                f"a sizeLimit, mounted at {SHM_PATH}.")
            continue
        if gpus > 1 and not in_memory:
            out.append(
                f"{where} mounts volume '{volume_name}' at {SHM_PATH}, but it is not an emptyDir "
                f"with medium: Memory; with {fmt(gpus)} GPUs NCCL needs RAM-backed shared memory, "
                "so make it an emptyDir with medium: Memory and a sizeLimit.")
            continue
        if not in_memory:
            continue
        size = k8s.quantity_or_none(get(volume, "emptyDir", "sizeLimit"))
        memory_limit = k8s.resource_quantity(container, "limits", "memory")
        if size is None:
            out.append(
                f"{where} mounts a Memory emptyDir at {SHM_PATH} without a sizeLimit; its pages "
                "count against the container's memory limit, so bound it with sizeLimit well "
                "inside limits.memory.")
        elif memory_limit is None:
            out.append(
                f"{where} mounts a {get(volume, 'emptyDir', 'sizeLimit')} Memory emptyDir at "
                f"{SHM_PATH} but the vllm container has no memory limit to hold it; set "
                "resources.limits.memory above the shm sizeLimit plus the engine's own memory.")
        elif size >= memory_limit:
            limit_text = get(container, "resources", "limits", "memory")
            out.append(
                f"{where} sizes {SHM_PATH} at {get(volume, 'emptyDir', 'sizeLimit')}, not inside "
                f"the vllm container's memory limit of {limit_text}; tmpfs pages count against "
                "that limit, so shrink the sizeLimit or raise "
                "limits.memory to leave the engine room.")
    return out


_PARALLEL = (
    ("tensor parallel", conv.ANN_TENSOR_PARALLEL, ("--tensor-parallel-size", "-tp")),
    ("pipeline parallel", conv.ANN_PIPELINE_PARALLEL, ("--pipeline-parallel-size", "-pp")),
    ("data parallel", conv.ANN_DATA_PARALLEL, ("--data-parallel-size", "-dp")),
)


def _parallel_sizes(where: str, props: Mapping, templates: list,
                    tokens: list[str]) -> tuple[list[float], list[str]]:
    """([tensor, pipeline, data] parallel sizes as stated: annotation, else vLLM's flag, else 1;
    a message for each size that is not a number, disagrees with the flag, or (tensor parallel)
    is not stated at all)."""
    sizes, out = [], []
    for label, annotation, flags in _PARALLEL:
        raw = k8s.stated(props, templates, annotation)
        from_annotation = k8s.to_number(raw)
        from_flag = k8s.to_number(k8s.flag_value(tokens, *flags))
        if raw is not None and from_annotation is None:
            out.append(f"{where} states {label} size {raw!r} in annotation {annotation}, "
                       "which is not a number; state the size vLLM runs with.")
        if from_annotation is not None and from_flag is not None \
                and from_annotation != from_flag:
            out.append(
                f"{where} states {label} size {fmt(from_annotation)} in annotation "
                f"{annotation} but passes {flags[0]} {fmt(from_flag)} to vLLM; make the "
                "annotation state what vLLM really runs.")
        size = from_annotation if from_annotation is not None else from_flag
        if size is None and annotation == conv.ANN_TENSOR_PARALLEL:
            out.append(
                f"{where} states no tensor parallel size: set annotation {annotation} (and "
                f"{flags[0]}) so the GPU count can be checked.")
        sizes.append(size if size is not None else 1)
    return sizes, out


def _gpu_quantities(where: str, container: Mapping, per_pod: float, product: str) -> list[str]:
    """The vllm container's nvidia.com/gpu request and limit against the GPUs per pod that the
    parallel sizes need (`product` spells that arithmetic)."""
    out = []
    request = k8s.resource_quantity(container, "requests", k8s.GPU_RESOURCE)
    limit = k8s.resource_quantity(container, "limits", k8s.GPU_RESOURCE)
    if limit is None:
        return [
            f"{where} sets no {k8s.GPU_RESOURCE} limit on the vllm container; GPUs are only "
            f"scheduled through limits, so set requests and limits to {fmt(per_pod)} "
            f"({product})."]
    if request is None:
        out.append(
            f"{where} sets {k8s.GPU_RESOURCE} limit {fmt(limit)} but no request; state the "
            f"request too, equal to the limit ({fmt(per_pod)}).")
    elif request != limit:
        out.append(
            f"{where} requests {fmt(request)} {k8s.GPU_RESOURCE} but limits it to "
            f"{fmt(limit)}; GPUs cannot be overcommitted, so set both to {fmt(per_pod)}.")
    if float(limit) != per_pod:
        out.append(
            f"{where} gives the vllm container {fmt(limit)} GPUs ({k8s.GPU_RESOURCE} limit) "
            f"but {product}; vLLM then fails to start or leaves GPUs idle, so set "
            f"{k8s.GPU_RESOURCE} requests and limits to {fmt(per_pod)}.")
    return out


def check_gpu_count(resource_type: str, name: str, props: Mapping, config: Mapping) -> list[str]:
    """nvidia.com/gpu requests equal limits and equal tensor × pipeline × data parallel (split
    over the pods of a multi-node group); the stated sizes agree with vLLM's own flags."""
    out = []
    templates = k8s.inference_templates(resource_type, props)
    who = k8s.describe(resource_type, props, name)
    for role, template in templates:
        where = k8s.where(who, role)
        container = k8s.engine_container(k8s.pod_spec(template))
        if container is None:
            out.append(
                f"{where} is an inference workload without a container named "
                f"'{k8s.ENGINE_CONTAINER}' or one asking for {k8s.GPU_RESOURCE}; name the vLLM "
                f"container '{k8s.ENGINE_CONTAINER}' so its GPUs and probes can be checked.")
            continue
        sizes, findings = _parallel_sizes(where, props, templates, k8s.command_tokens(container))
        out += findings
        total = sizes[0] * sizes[1] * sizes[2]
        group = k8s.pods_per_replica(resource_type, props)
        per_pod = total / group
        product = (f"tensor × pipeline × data parallel = {fmt(sizes[0])} × {fmt(sizes[1])} × "
                   f"{fmt(sizes[2])} = {fmt(total)}"
                   + (f" over {group} pods per group" if group > 1 else ""))
        if not per_pod.is_integer():
            out.append(f"{where}: {product} does not divide into whole GPUs per pod; choose "
                       "parallel sizes whose product is a multiple of the group size.")
            continue
        out += _gpu_quantities(where, container, per_pod, product)
    return out


def _resource_text(container: Mapping, section: str, resource: str) -> str:
    value = get(container, "resources", section, resource)
    return "unset" if value is None else str(value)


def check_cpu_memory(resource_type: str, name: str, props: Mapping, config: Mapping) -> list[str]:
    """Every container sets a CPU request, a memory request and a memory limit (requests no
    larger than limits); when the vllm container asks for Guaranteed QoS (requests == limits),
    every container, init containers included, does the same, or the pod silently is Burstable."""
    out = []
    for role, template in k8s.inference_templates(resource_type, props):
        where = k8s.where(k8s.describe(resource_type, props, name), role)
        spec = k8s.pod_spec(template)
        for container_kind, container in k8s.containers(spec, include_init=False):
            cname = get(container, "name", default="?")
            values = {
                (section, resource): k8s.resource_quantity(container, section, resource)
                for section in ("requests", "limits") for resource in ("cpu", "memory")
            }
            missing = [f"{section}.{resource}" for section, resource in
                       (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))
                       if values[(section, resource)] is None]
            if missing:
                out.append(
                    f"{where}: {container_kind} '{cname}' does not set {', '.join(missing)}; "
                    "without a CPU request, a memory request and a memory limit a GPU pod is "
                    "scheduled blind and OOM-killed unpredictably, so set them from the sizing.")
            for resource in ("cpu", "memory"):
                request, limit = values[("requests", resource)], values[("limits", resource)]
                if request is not None and limit is not None and request > limit:
                    out.append(
                        f"{where}: {container_kind} '{cname}' requests {resource} "
                        f"{_resource_text(container, 'requests', resource)} above its limit "
                        f"{_resource_text(container, 'limits', resource)}; the API server "
                        "rejects this, so make the request no larger than the limit.")
        engine = k8s.engine_container(spec)
        if engine is None or not _requests_equal_limits(engine):
            continue
        for container_kind, container in k8s.containers(spec):
            if container is engine or _requests_equal_limits(container):
                continue
            cname = get(container, "name", default="?")
            detail = ", ".join(
                f"{resource} {_resource_text(container, 'requests', resource)}/"
                f"{_resource_text(container, 'limits', resource)}"
                for resource in ("cpu", "memory"))
            out.append(
                f"{where}: the vllm container asks for Guaranteed QoS (CPU and memory requests "
                f"equal limits) but {container_kind} '{cname}' has requests/limits {detail}, "
                "which puts the whole pod in Burstable, evicted first under node memory "
                "pressure; give it CPU and memory requests equal to its limits.")
    return out


def _requests_equal_limits(container: Mapping) -> bool:
    for resource in ("cpu", "memory"):
        request = k8s.resource_quantity(container, "requests", resource)
        limit = k8s.resource_quantity(container, "limits", resource)
        if request is None or limit is None or request != limit:
            return False
    return True
