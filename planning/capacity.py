"""What a replica holds and serves: storage for the weights and the autoscaler's target. Each
step returns its figures with the reason; the arithmetic is in planning/sizing.py.
"""

from __future__ import annotations

import dataclasses

from planning import sizing
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


def storage(cfg: StackConfig, weights: Weights) -> Storage:
    """Capacity for the revisions a volume holds (2 with downloads: served + next) and the
    download Job's timeout, unless either is set in config."""
    pvc = cfg.storage.pvc
    revisions = 2 if cfg.storage.mode == "pvc" else 1
    capacity = cfg.storage.capacity_gi or sizing.storage_capacity_gi(weights.checkpoint_gib,
                                                                      revisions)
    rate = pvc.download_mib_per_second if pvc else sizing.DOWNLOAD_MIB_PER_SECOND
    download = sizing.download_seconds(weights.checkpoint_gib, rate) if pvc else 0
    timeout = (pvc.download_timeout_minutes * 60 if pvc and pvc.download_timeout_minutes
               else sizing.download_timeout_seconds(weights.checkpoint_gib, rate))
    reason = (f"storage.capacityGi {capacity} Gi" if cfg.storage.capacity_gi else
              f"max(floor {sizing.STORAGE_FLOOR_GI} Gi, ⌈{weights.checkpoint_gib:.1f} GiB × "
              f"{sizing.STORAGE_OVERHEAD:g} × {counted(revisions, 'revision')}⌉) = {capacity} Gi")
    if pvc:
        reason += (f"; download at {rate} MiB/s = {download} s, Job timeout "
                   + (f"storage.pvc.downloadTimeoutMinutes {pvc.download_timeout_minutes} = "
                      if pvc.download_timeout_minutes else
                      f"{download} + {sizing.DOWNLOAD_POD_START_SECONDS} = ") + f"{timeout} s")
    return Storage(capacity, download, timeout, reason)


def autoscaling(cfg: StackConfig, layout: Layout, engine: EngineLimits,
                kv: KvCache) -> Autoscaling:
    """Runnable requests from the KV cache at the expected request length, times the target
    utilization. Each data-parallel rank is an engine of its own, with its own KV cache and
    its own max-num-seqs (a request runs on one rank): a replica runs DP × what one rank runs."""
    scaling = cfg.autoscaling
    dp = layout.data_parallel
    per_rank = sizing.runnable_requests(kv.tokens_per_rank, scaling.expected_request_tokens,
                                        engine.max_num_seqs)
    runnable = dp * per_rank
    target = sizing.per_replica_target(runnable, scaling.target_utilization)
    ranks = f"DP {dp} × " if dp > 1 else ""
    reason = (f"{ranks}min(maxNumSeqs {engine.max_num_seqs}, {kv.tokens_per_rank} KV tokens / "
              f"{scaling.expected_request_tokens} tokens per request) = {runnable} runnable "
              f"requests × targetUtilization {scaling.target_utilization} = {target} per replica"
              + ("" if scaling.enabled else " (autoscaling off)"))
    return Autoscaling(runnable, target, reason)
