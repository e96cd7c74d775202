"""How the weights reach a starting engine on each load path (storage.mode × engine.loadFormat):
what is staged once per node before a pod can start there (a model image pull, a cache
staging), and what one pod reads from the medium at every start, at which rate. One step,
`delivery`, returns the figures with their reason; planning/timing.py adds the engine's phases
and turns them into the first-start and restart budgets.

Facts used: which loaders split the read over the ranks and since which vLLM
(facts/vllm_features.py), and containerd's unpack pass of an image pull (facts/load_paths.py).
"""

from __future__ import annotations

import dataclasses
import math

from facts import load_paths, vllm_features
from planning import memory
from planning.config import StackConfig
from planning.layout import Layout

Version = vllm_features.Version

UNMEASURED_READ_MIB_PER_SECOND = 50
"""The read rate assumed when storage.readMibPerSecond is not set: the slower of two public
slow-mount figures (50 and 115 MiB/s, issue 18), so an unmeasured medium gets a budget above a
real start on slow storage rather than below it; planning/checks.py warns, naming the key."""

SHA256SUM_MIB_PER_SECOND = 262
"""What the node cache's verify pass hashes at: the staging script checks each file with
coreutils' sha256sum, one after another, single-threaded. coreutils 9.1 (Debian bookworm; its
Pre-Depends list no libcrypto, so gnulib's portable C SHA-256 without SHA-NI) hashed 1 GiB
from the page cache in 3.6-4.2 s wall on an AMD EPYC core (3.3-4.0 s user): 262 MiB/s, against
~1,500 MiB/s for OpenSSL's SHA-NI path (Python hashlib) on the same file. A local NVMe reads
faster than that, so the verify pass is CPU-bound there."""

PREFETCH_THREADS = 8
"""Threads vLLM's prefetch reads checkpoint files with (weight_utils.py
DEFAULT_SAFETENSORS_PREFETCH_NUM_THREADS in the 0.34.0 wheel)."""


@dataclasses.dataclass(frozen=True)
class Delivery:
    """Per-node staging and per-pod read of the weights on the stack's load path."""

    stage: str
    """What happens once per node before a pod can start there ('' when nothing does)."""
    stage_seconds: int
    read_gib: float
    """What one pod reads from the weights' medium at every start."""
    read_mib_per_second: int
    reason: str


def delivery(cfg: StackConfig, checkpoint_gib: float, layout: Layout, version: Version,
             expert_share: float) -> Delivery:
    """Stage once per node (image pull + unpack, or cache download) and read per pod (its
    share of the checkpoint, by loader and version) at the rate the medium and loader reach.
    `expert_share` is the routed experts' part of the checkpoint (`expert_share`)."""
    rate, rate_why = read_rate(cfg, version)
    loader = cfg.engine.load_format
    if (loader in ("auto", "safetensors") and layout.expert_parallel and expert_share
            and vllm_features.reads_local_experts_only(version)):
        read_gib, read_why = local_experts_read_gib(checkpoint_gib, expert_share, layout)
    else:
        read_gib, read_why = pod_read_gib(loader, checkpoint_gib, layout)
    # The stage reads the node's disk plainly (containerd's unpack, the stager's sha256sum),
    # never at a streaming loader's rate.
    stage, stage_seconds, stage_why = node_stage(
        cfg, checkpoint_gib, cfg.storage.read_mib_per_second or UNMEASURED_READ_MIB_PER_SECOND)
    reason = (f"storage.mode {cfg.storage.mode}: each pod reads {read_why} at {rate_why} at "
              "every start" + (f"; {stage_why}" if stage else ""))
    return Delivery(stage, stage_seconds, read_gib, rate, reason)


def read_rate(cfg: StackConfig, version: Version) -> tuple[int, str]:
    """MiB/s one pod reads at: the measured streaming rate where the loader streams, where the
    weights are in an object store, or where vLLM prefetches NFS files by itself; else the
    medium's plain read rate (UNMEASURED_READ_MIB_PER_SECOND when none is stated). No speed-up
    is credited without a measured streaming rate."""
    storage, loader = cfg.storage, cfg.engine.load_format
    plain = storage.read_mib_per_second
    base = plain or UNMEASURED_READ_MIB_PER_SECOND
    base_why = (f"storage.readMibPerSecond {plain} MiB/s" if plain else
                f"{UNMEASURED_READ_MIB_PER_SECOND} MiB/s (storage.readMibPerSecond not set)")
    streaming = storage.streaming_read_mib_per_second
    if streaming is None:
        return base, base_why
    why = f"storage.streamingReadMibPerSecond {streaming} MiB/s"
    if loader in STREAMING_LOADERS:
        return streaming, f"{why} [{loader} loader]"
    if storage.mode == "objectStore":
        return streaming, why
    if (storage.mode == "nfs" and loader in ("auto", "safetensors")
            and vllm_features.prefetches_nfs(version)):
        return streaming, (f"{why} (vLLM {version} prefetches NFS files with "
                           f"{PREFETCH_THREADS} threads when they fit in 90 % of free RAM)")
    return base, base_why


STREAMING_LOADERS = ("runai_streamer", "runai_streamer_sharded", "fastsafetensors",
                     "instanttensor")
"""Loaders that read many tensors concurrently instead of one file after another."""


def pod_read_gib(load_format: str, checkpoint_gib: float, layout: Layout) -> tuple[float, str]:
    """What one pod reads: its ranks' share of the files where the loader splits them over the
    group (facts/vllm_features.py SPLIT_READ_LOADERS: checkpoint / nodes); every file, once per
    rank, with runai_streamer (each rank streams every file); else the whole checkpoint once,
    its ranks sharing the node's page cache."""
    ranks = layout.gpus // layout.nodes
    if load_format in vllm_features.SPLIT_READ_LOADERS:
        return (checkpoint_gib / layout.nodes,
                f"checkpoint {checkpoint_gib:.1f} GiB / {layout.nodes} pods (the {load_format} "
                "ranks split the files)")
    if load_format == "runai_streamer":
        return (checkpoint_gib * ranks,
                f"checkpoint {checkpoint_gib:.1f} GiB × {ranks} ranks (each streams every file)")
    return checkpoint_gib, f"the whole checkpoint {checkpoint_gib:.1f} GiB"


def expert_share(groups: dict[str, float], checkpoint_dtype: str) -> float:
    """The routed experts' part of the checkpoint: their bytes over all bytes at the
    checkpoint's own widths (planning/memory.py `weight_gib`)."""
    whole = memory.weight_gib(groups, checkpoint_dtype)
    experts = memory.weight_gib({**dict.fromkeys(groups, 0.0), "experts": groups["experts"]},
                                checkpoint_dtype)
    return experts / whole if whole else 0.0


def local_experts_read_gib(checkpoint_gib: float, share: float,
                           layout: Layout) -> tuple[float, str]:
    """Under expert parallelism (vLLM 0.18+) a pod reads every tensor but the experts its
    ranks do not hold: the rest of the checkpoint + its ranks' share of the experts
    (ranks on the pod / the EP group's TP × DP ranks), sharing the node's page cache."""
    ranks = layout.gpus // layout.nodes
    fraction = min(1.0, ranks / layout.expert_shards)
    gib = checkpoint_gib * (1 - share) + checkpoint_gib * share * fraction
    return gib, (f"checkpoint {checkpoint_gib:.1f} GiB × (1 − experts {share:.2f}) + experts × "
                 f"{ranks}/{layout.expert_shards} ranks' (vLLM skips other ranks' experts)")


def staged_before_the_pod_schedules(mode: str) -> bool:
    """True when a pod can only land on a node whose weights are already staged: a node cache's
    engine pods require its ready label (rendering/node_cache.py, required node affinity), so
    no restart, peer or woken replica ever waits for a stage; an image volume is pulled by the
    kubelet after the pod is scheduled, on whatever node it lands."""
    return mode == "nodeCache"


def node_stage(cfg: StackConfig, checkpoint_gib: float,
               disk_mib_per_second: int) -> tuple[str, int, str]:
    """Once per node: an image pull downloads the checkpoint at storage.image.pullMibPerSecond
    and containerd unpacks it at the node disk's rate (facts/load_paths.py UNPACK_DISK_PASSES);
    a node cache downloads it at storage.nodeCache.downloadMibPerSecond and the stager reads it
    back once to verify it, at the disk's rate or sha256sum's (SHA256SUM_MIB_PER_SECOND),
    whichever is slower."""
    mib = checkpoint_gib * 1024
    if cfg.storage.mode == "image":
        pull = cfg.storage.image.pull_mib_per_second
        seconds = math.ceil(mib / pull + load_paths.UNPACK_DISK_PASSES * mib / disk_mib_per_second)
        return ("model image pull", seconds,
                f"model image pull once per node: {checkpoint_gib:.1f} GiB at "
                f"storage.image.pullMibPerSecond {pull} + unpack at {disk_mib_per_second} MiB/s "
                f"= {seconds} s")
    if cfg.storage.mode == "nodeCache":
        download = cfg.storage.node_cache.download_mib_per_second
        verify = min(disk_mib_per_second, SHA256SUM_MIB_PER_SECOND)
        seconds = math.ceil(mib / download + mib / verify)
        return ("cache staging", seconds,
                f"cache staging once per node: {checkpoint_gib:.1f} GiB at "
                f"storage.nodeCache.downloadMibPerSecond {download} + verify at min(disk "
                f"{disk_mib_per_second}, sha256sum {SHA256SUM_MIB_PER_SECOND}) = {verify} MiB/s "
                f"= {seconds} s")
    return "", 0, ""
