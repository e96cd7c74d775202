"""Time budgets of a replica's life: start-up, drain on shutdown, rollout. Each step returns
its figures with the reason; the arithmetic is in planning/sizing.py, the version switches in
facts/vllm_features.py.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from facts import vllm_features
from planning import sizing
from planning.config import GpuFacts, ModelFacts, StackConfig
from planning.layout import Layout
from planning.memory import EngineLimits, Weights, enforce_eager
from planning.wording import counted

Version = vllm_features.Version


@dataclasses.dataclass(frozen=True)
class Startup:
    """From container start to /health 200, by phase, and the budget the startup probe allows."""

    read_mib_per_second: int
    load_seconds: int
    engine_phases: dict[str, int]
    """Engine start after the load: process, profile, compile, graphs, deepgemm (seconds)."""
    estimated_seconds: int
    derived_budget_seconds: int
    budget_seconds: int
    reason: str
    probe_period_seconds: int
    probe_failure_threshold: int
    """startupProbe failureThreshold: the probe gives up once the budget has passed."""
    probe_reason: str

    @property
    def engine_seconds(self) -> int:
        """The engine's whole start after the weight load."""
        return sum(self.engine_phases.values())


@dataclasses.dataclass(frozen=True)
class Drain:
    """What happens between SIGTERM and exit, and how long the kubelet waits for it."""

    longest_request_seconds: int
    pre_stop_seconds: int
    vllm_drains: bool
    """True when vLLM drains on SIGTERM (--shutdown-timeout); else the preStop hook waits."""
    shutdown_timeout_seconds: int
    grace_seconds: int
    reason: str
    worker_pre_stop_seconds: int = 0
    """A pipeline group's workers (headless vLLM, or Ray): how long their preStop sleeps, so
    they outlive the leader's drain; 0 without such workers."""
    group_wide: bool = False
    """A data × expert group: every pod's preStop waits until no request runs on any pod of
    the group (the all-to-all needs every rank until the last request ends)."""

    @property
    def pre_stop_bound_seconds(self) -> int:
        """Longest the preStop hook can take: its sleep, plus the wait for running requests
        when vLLM does not drain itself or the whole group must (data × expert)."""
        waits = self.group_wide or not self.vllm_drains
        return self.pre_stop_seconds + (self.longest_request_seconds if waits else 0)


@dataclasses.dataclass(frozen=True)
class Rollout:
    """How a template change rolls through the replicas, and how long Pulumi waits."""

    surge: int
    max_replicas: int
    max_pods: int
    """Most pods at once: (replicas + the rollout surge) × pods per replica (nodes)."""
    timeout_seconds: int
    claim_release_seconds: int
    reason: str

    @property
    def max_groups(self) -> int:
        """Most replicas (LeaderWorkerSet groups) that exist at once: the most replicas plus the
        rollout surge. The LWS controller rolls into `replicas + maxSurge` groups, maxSurge
        capped at replicas (kubernetes-sigs/lws pkg/controllers/leaderworkerset_controller.go
        `rollingUpdateParameters`, burstReplicas), indexed 0 … max_groups − 1."""
        return self.max_replicas + self.surge


def startup(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version: Version,
            weights: Weights, layout: Layout, engine: EngineLimits) -> Startup:
    """Weight load at the storage's read rate plus the engine's phases (compile cold or warm,
    CUDA-graph capture for the sizes vLLM captures, DeepGEMM warm-up), times the safety
    factor; probes.engineStartSeconds replaces the phases with a measurement, and a configured
    budget overrides the result (the checks refuse one below the estimate)."""
    read_rate = sizing.effective_read_mib_per_second(
        cfg.engine.load_format, cfg.storage.read_mib_per_second,
        cfg.storage.streaming_read_mib_per_second)
    load = sizing.weight_load_seconds(weights.checkpoint_gib, read_rate)
    if cfg.probes.engine_start_seconds is not None:
        phases = {"measured": cfg.probes.engine_start_seconds}
    else:
        sizes = sizing.cuda_graph_sizes(engine.max_num_seqs, engine.max_num_batched_tokens,
                                        version)
        phases = sizing.engine_start_seconds(
            model.layers, sizes, cfg.engine.compile_cache_gib > 0, enforce_eager(cfg),
            vllm_features.warms_up_deep_gemm(version, gpu.compute_capability,
                                              model.block_quantized))
    if layout.nodes > 1 and cfg.probes.engine_start_seconds is None:
        # The leader's engine waits for every pod of its group, and on a cold node a peer's
        # container starts only after its image pull.
        phases["peer image pull"] = sizing.IMAGE_PULL_SECONDS
    engine_total = sum(phases.values())
    derived = sizing.startup_budget_seconds(load, engine_total, cfg.probes.safety_factor)
    budget = cfg.probes.startup_budget_seconds or derived
    warm = " (warm compile cache)" if cfg.engine.compile_cache_gib else ""
    shown = " + ".join(f"{name} {seconds}" for name, seconds in phases.items())
    reason = (f"(load {weights.checkpoint_gib:.1f} GiB at {read_rate} MiB/s "
              f"[{cfg.engine.load_format} loader] = {load} s + engine {shown}{warm} = "
              f"{engine_total} s) × {cfg.probes.safety_factor} = {derived} s"
              + ("" if budget == derived else f"; overridden to {budget} s"))
    period = cfg.probes.period_seconds
    failures = sizing.startup_failure_threshold(budget, period)
    probe_reason = (f"⌈start-up budget {budget} s / probes.periodSeconds {period} s⌉ = "
                    f"{failures} probes")
    return Startup(read_rate, load, phases, load + engine_total, derived, budget, reason,
                   period, failures, probe_reason)


WORKER_OUTLASTS_SECONDS = 5
"""How long a pipeline group's worker stays after the leader's drain deadline (the leader's
engine shuts down after its drain); the rest of GRACE_MARGIN_SECONDS lets it exit."""


def drain(cfg: StackConfig, version: Version, layout: Optional[Layout] = None) -> Drain:
    """Grace period = preStop + the longest request + margin. From vLLM 0.18 vLLM drains for
    --shutdown-timeout (= the longest request); before, the preStop hook waits for it.

    A group spanning nodes loses its pods together (LWS deletes a group as a whole), and each
    pod's drain needs the others: a pipeline group's headless workers exit at once on SIGTERM
    (vllm/entrypoints/cli/serve.py `run_headless`: the handler raises SystemExit, no shutdown
    wait), so their preStop sleeps past the leader's drain; in a data × expert group an idle
    rank keeps stepping dummy batches while any rank has requests (vllm/v1/engine/core.py
    `DPEngineCoreProc.run_busy_loop`, `_has_global_unfinished_reqs`), so no pod may stop
    before the whole group is idle: every pod's preStop waits for that, within the same
    bound as the leader's drain, and the grace period stays preStop + longest + margin."""
    shutdown = cfg.shutdown
    longest = sizing.longest_request_seconds(shutdown.max_tokens, shutdown.per_token_ms,
                                             shutdown.prefill_seconds)
    drains = vllm_features.drains_on_sigterm(version)
    grace = sizing.termination_grace_seconds(shutdown.pre_stop_seconds, longest)
    who = "vLLM's --shutdown-timeout" if drains else "the preStop hook's wait for requests"
    reason = (f"preStop {shutdown.pre_stop_seconds} + longest request {longest} "
              f"({shutdown.max_tokens} tokens × {shutdown.per_token_ms} ms + "
              f"{shutdown.prefill_seconds} s, drained by {who}) + "
              f"{sizing.GRACE_MARGIN_SECONDS} margin")
    spans = layout is not None and layout.nodes > 1
    group_wide = spans and layout.data_parallel > 1
    worker_sleep = 0
    if group_wide:
        reason += ("; every pod's preStop waits (at most preStop + longest request) until no "
                   "request runs on any pod of the group, keeping the all-to-all whole, then "
                   f"vLLM's --shutdown-timeout is {WORKER_OUTLASTS_SECONDS} s" if drains else
                   "; every pod's preStop waits (at most preStop + longest request) until no "
                   "request runs on any pod of the group, keeping the all-to-all whole")
    elif spans:
        worker_sleep = shutdown.pre_stop_seconds + longest + WORKER_OUTLASTS_SECONDS
        reason += (f"; workers' preStop sleeps preStop {shutdown.pre_stop_seconds} + longest "
                   f"request {longest} + {WORKER_OUTLASTS_SECONDS} = {worker_sleep} s, past "
                   "the leader's drain")
    # After a group-wide wait nothing is left to drain: vLLM's own drain gets what is left of
    # the margin, so preStop + --shutdown-timeout stays within the grace period.
    timeout = (WORKER_OUTLASTS_SECONDS if group_wide else longest) if drains else 0
    return Drain(longest, shutdown.pre_stop_seconds, drains, timeout, grace, reason,
                 worker_sleep, group_wide)


def rollout(cfg: StackConfig, layout: Layout, startup_: Startup, drain_: Drain) -> Rollout:
    """Surge into declared spare GPUs (else one pod at a time) and wait for every round."""
    surge = min(cfg.spare_gpus // layout.gpus, cfg.replicas) if layout.gpus else 0
    replicas = max(cfg.replicas, cfg.autoscaling.max_replicas if cfg.autoscaling.enabled else 0)
    timeout = sizing.rollout_timeout_seconds(replicas, surge, startup_.budget_seconds,
                                             drain_.grace_seconds)
    # Pods, not groups: a multi-node replica is `nodes` pods (one per node).
    pods = (replicas + surge) * layout.nodes
    release = sizing.claim_release_seconds(drain_.grace_seconds)
    reason = (f"{counted(sizing.rollout_rounds(replicas, surge), 'round')} × (grace {drain_.grace_seconds} "
              f"+ image pull {sizing.IMAGE_PULL_SECONDS} + start-up {startup_.budget_seconds}); "
              f"surge min(spareGpus {cfg.spare_gpus} // {counted(layout.gpus, 'GPU')}, replicas "
              f"{cfg.replicas}) = {surge}; pods (replicas {replicas} + surge {surge}) × "
              f"{counted(layout.nodes, 'node')} = {pods}; a replaced claim is released after "
              f"grace {drain_.grace_seconds} + {sizing.CLAIM_RELEASE_MARGIN_SECONDS} = {release} s")
    return Rollout(surge, replicas, pods, timeout, release, reason)
