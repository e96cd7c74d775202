"""What a replica holds and serves: storage for the weights and the autoscaler's target. Each
step returns its figures with the reason; below the steps, the arithmetic they use.
"""

from __future__ import annotations

import dataclasses
import math

from planning.config import StackConfig
from planning.layout import Layout
from planning.memory import EngineLimits, KvCache, Weights
from planning.wording import counted


@dataclasses.dataclass(frozen=True)
class Storage:
    """The weights volume and the download Job's budget."""

    capacity_gi: int
    download_seconds: int
    """Estimated download of the weights at storage.pvc's download rate (0 for NFS)."""
    download_timeout_seconds: int
    reason: str


@dataclasses.dataclass(frozen=True)
class Autoscaling:
    """Requests a replica runs at once and what the autoscaler aims for per replica."""

    runnable_requests: int
    target_per_replica: int
    reason: str


def storage(cfg: StackConfig, weights: Weights, stage_seconds: int = 0) -> Storage:
    """Capacity for the revisions a volume holds (2 with downloads: served + next) and the
    download Job's timeout, unless either is set in config; a node cache's stager is waited
    for its stage (download and verify, planning/delivery.py node_stage) plus the pod's start."""
    if cfg.storage.mode == "nodeCache":
        return _node_cache_storage(cfg, weights, stage_seconds)
    pvc = cfg.storage.pvc
    revisions = 2 if cfg.storage.mode == "pvc" else 1
    capacity = cfg.storage.capacity_gi or storage_capacity_gi(weights.checkpoint_gib,
                                                                      revisions)
    rate = pvc.download_mib_per_second if pvc else DOWNLOAD_MIB_PER_SECOND
    download = download_seconds(weights.checkpoint_gib, rate) if pvc else 0
    timeout = (pvc.download_timeout_minutes * 60 if pvc and pvc.download_timeout_minutes
               else download_timeout_seconds(weights.checkpoint_gib, rate))
    reason = (f"storage.capacityGi {capacity} Gi" if cfg.storage.capacity_gi else
              f"max(floor {STORAGE_FLOOR_GI} Gi, ⌈{weights.checkpoint_gib:.1f} GiB × "
              f"{STORAGE_OVERHEAD:g} × {counted(revisions, 'revision')}⌉) = {capacity} Gi")
    if pvc:
        reason += (f"; download at {rate} MiB/s = {download} s, Job timeout "
                   + (f"storage.pvc.downloadTimeoutMinutes {pvc.download_timeout_minutes} = "
                      if pvc.download_timeout_minutes else
                      f"{download} + {DOWNLOAD_POD_START_SECONDS} = ") + f"{timeout} s")
    return Storage(capacity, download, timeout, reason)


def _node_cache_storage(cfg: StackConfig, weights: Weights, stage_seconds: int) -> Storage:
    cache = cfg.storage.node_cache
    timeout = stage_seconds + DOWNLOAD_POD_START_SECONDS
    reason = (f"storage.nodeCache.diskGi {cache.disk_gi} Gi on each cache node for "
              f"{cache.keep_revisions} × {weights.checkpoint_gib:.1f} GiB; stager waited for "
              f"staging {stage_seconds} + {DOWNLOAD_POD_START_SECONDS} = {timeout} s")
    return Storage(cache.disk_gi, stage_seconds, timeout, reason)


def autoscaling(cfg: StackConfig, layout: Layout, engine: EngineLimits,
                kv: KvCache) -> Autoscaling:
    """Runnable requests from the KV cache at the expected request length, times the target
    utilization. Each data-parallel rank is an engine of its own, with its own KV cache and
    its own max-num-seqs (a request runs on one rank): a replica runs DP × what one rank runs."""
    scaling = cfg.autoscaling
    dp = layout.data_parallel
    per_rank = runnable_requests(kv.tokens_per_rank, scaling.expected_request_tokens,
                                        engine.max_num_seqs)
    runnable = dp * per_rank
    target = per_replica_target(runnable, scaling.target_utilization)
    ranks = f"DP {dp} × " if dp > 1 else ""
    reason = (f"{ranks}min(maxNumSeqs {engine.max_num_seqs}, {kv.tokens_per_rank} KV tokens / "
              f"{scaling.expected_request_tokens} tokens per request) = {runnable} runnable "
              f"requests × targetUtilization {scaling.target_utilization} = {target} per replica"
              + ("" if scaling.enabled else " (autoscaling off)"))
    return Autoscaling(runnable, target, reason)


DOWNLOAD_MIB_PER_SECOND = 50
"""A conservative rate for downloads from the Hugging Face hub (storage.pvc can state its own)."""
DOWNLOAD_POD_START_SECONDS = 600
"""Scheduling, image pull and start of the download pod."""


def download_seconds(weights_gib_total: float,
                     download_mib_per_second: int = DOWNLOAD_MIB_PER_SECOND) -> int:
    """Seconds to download the weights = weights GiB × 1024 / download MiB/s, rounded up.
    Example: 14.2 GiB at 50 MiB/s = 291 s."""
    return math.ceil(weights_gib_total * 1024 / download_mib_per_second)


def download_timeout_seconds(weights_gib_total: float,
                             download_mib_per_second: int = DOWNLOAD_MIB_PER_SECOND) -> int:
    """Weight download Job budget = the download (download_seconds) + 600 s for the pod's
    scheduling, image pull and start."""
    return download_seconds(weights_gib_total, download_mib_per_second) + DOWNLOAD_POD_START_SECONDS


STORAGE_OVERHEAD = 1.2
"""Room beside the weights on their volume: tokenizer, config, partial files of a download."""
STORAGE_FLOOR_GI = 10
"""Smallest weights volume the program asks for, whatever the model."""


def storage_capacity_gi(weights_gib_total: float, revisions: int = 1) -> int:
    """Volume size for the weights = max(STORAGE_FLOOR_GI 10, ⌈weights × STORAGE_OVERHEAD 1.2
    × the revisions it must hold⌉), whole Gi.

    A download volume holds 2: the revision being served and the next one, downloaded beside
    it. Example: 14.2 GiB × 1.2 × 2 = 34.1 -> 35 Gi.
    """
    return max(STORAGE_FLOOR_GI, math.ceil(weights_gib_total * STORAGE_OVERHEAD * revisions))


def runnable_requests(kv_tokens_per_replica: int, expected_request_tokens: int,
                      max_num_seqs: int) -> int:
    """Requests one replica can run at once: min(max_num_seqs, floor(KV tokens / tokens per
    request)), at least 1. Past it, new requests wait in the queue.

    The scheduler admits a request only while its KV blocks fit, so at the expected length the
    KV cache, not max-num-seqs, is usually the limit. Prod: min(256, 317,408 / 8,192) = 38.
    """
    if expected_request_tokens < 1 or max_num_seqs < 1:
        raise ValueError("expected_request_tokens and max_num_seqs must be at least 1")
    return max(1, min(max_num_seqs, kv_tokens_per_replica // expected_request_tokens))


def per_replica_target(runnable: int, target_utilization: float) -> int:
    """Requests (running + waiting) per replica the autoscaler aims for:
    floor(runnable requests × utilization), at least 1.

    Below what a replica can run, so a replica is added before requests queue. Prod:
    38 × 0.75 = 28 (it was 256 × 0.75 = 192 from max-num-seqs alone, ~150 queued per replica
    before a scale-up).
    """
    if runnable < 1:
        raise ValueError(f"runnable requests must be at least 1, got {runnable}")
    if not 0 < target_utilization <= 1:
        raise ValueError(f"target_utilization must be in (0, 1], got {target_utilization}")
    return max(1, math.floor(runnable * target_utilization))
