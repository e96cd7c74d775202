"""Host memory, /dev/shm and CPU of one pod (its GPUs on one node): the step, then the
arithmetic it uses."""

from __future__ import annotations

import dataclasses
import math

from planning.config import StackConfig
from planning.layout import Layout
from planning.wording import counted


@dataclasses.dataclass(frozen=True)
class HostResources:
    """Host memory, /dev/shm and CPU of one pod."""

    shm_gib: int
    memory_request_gib: int
    memory_limit_gib: int
    cpu_request: float
    cpu_limit: float
    reason: str


def host_resources(cfg: StackConfig, layout: Layout) -> HostResources:
    """/dev/shm, memory request and limit, CPU of one pod (its GPUs on one node)."""
    local = layout.gpus_per_node
    shm = shm_gib(local)
    request = host_memory_request_gib(local, shm)
    limit = host_memory_limit_gib(request, cfg.resources.memory_headroom_gib)
    cpu = cpu_request(local, cfg.resources.cpu_per_gpu)
    factor = cfg.resources.cpu_limit_factor
    reason = (f"API server {API_SERVER_GIB:g} + {WORKER_GIB:g} × {counted(local, 'worker')} "
              f"+ shm {shm} = {request} GiB request; + headroom "
              f"{cfg.resources.memory_headroom_gib:g} = {limit} GiB limit; shm = "
              f"⌈{SHM_BASE_GIB:g} + {NCCL_SHM_GIB_PER_PAIR:g} × {local} × "
              f"{local - 1}⌉ = {shm} GiB; CPU {cfg.resources.cpu_per_gpu:g} × {local} + "
              f"{API_SERVER_CPU:g} = {cpu:g} request, × cpuLimitFactor {factor:g} = "
              f"{cpu * factor:g} limit")
    return HostResources(shm, request, limit, cpu, cpu * factor, reason)


SHM_BASE_GIB = 1
"""/dev/shm for vLLM's shared-memory broadcast queues, torch multiprocessing, tokenizer workers."""
NCCL_SHM_GIB_PER_PAIR = 0.25
"""NCCL's SHM transport keeps ~256 MiB of buffers per ordered pair of local ranks (channels ×
NCCL_BUFFSIZE, both directions)."""


def shm_gib(local_gpus: int) -> int:
    """/dev/shm size for one pod, whole GiB.

    = ⌈SHM_BASE_GIB 1 + NCCL_SHM_GIB_PER_PAIR 0.25 × GPUs × (GPUs − 1)⌉.
    1 GPU → 1 GiB, 2 → 2 GiB, 4 → 4 GiB, 8 → 15 GiB.
    """
    return math.ceil(SHM_BASE_GIB + NCCL_SHM_GIB_PER_PAIR * local_gpus * (local_gpus - 1))


WORKER_GIB = 5.0
"""Host memory one GPU worker process holds: CUDA context, torch, pinned transfer buffers."""
API_SERVER_GIB = 4.0
"""Host memory of the API server process: FastAPI, tokenizer, detokenizer, metrics."""
API_SERVERS_PER_POD = 1
"""API server processes in each engine pod, as the memory and CPU above count them (one
API_SERVER_GIB, one API_SERVER_CPU). The launch renders `--api-server-count 1` wherever the
pinned vLLM would start more: a single-node data-parallel engine from 0.15.0
(rendering/vllm_args.py, facts/vllm_features.py default_api_servers) and every pod of a hybrid
data-parallel group (rendering/multinode.py)."""


def host_memory_request_gib(local_gpus: int, shm: int) -> int:
    """Memory request of the vLLM container, whole GiB.

    = API server 4 GiB + 5 GiB per GPU worker + the /dev/shm volume (a Memory emptyDir is
    charged to the pod's memory cgroup). Page cache from reading weights is reclaimable and is
    never requested. Example, 2 GPUs: 4 + 10 + 2 = 16 GiB.
    """
    return math.ceil(API_SERVER_GIB + WORKER_GIB * local_gpus + shm)


def host_memory_limit_gib(request_gib: int, headroom_gib: float) -> int:
    """Memory limit = request + headroom (page cache of streamed weights, tokenizer spikes).

    Limit above request gives the Burstable QoS class: the page cache may use the headroom and
    the kernel reclaims it before the limit is reached.
    """
    return math.ceil(request_gib + headroom_gib)


API_SERVER_CPU = 2
"""Cores for the API server and the tokenizer, beside the GPU workers'."""


def cpu_request(local_gpus: int, cpu_per_gpu: float) -> float:
    """CPU request = cpu_per_gpu × GPUs + API_SERVER_CPU 2."""
    return cpu_per_gpu * local_gpus + API_SERVER_CPU
