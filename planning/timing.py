"""Time budgets of a replica's life: start-up, drain on shutdown, rollout. Each step returns
its figures with the reason; below the steps, the arithmetic they use (one pure function each,
the formula in its docstring); the version switches are in facts/vllm_features.py.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from facts import vllm_features, warm_caches
from planning import delivery
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
    stage: str = ""
    """What the load path does once per node before a pod starts there ('' when nothing)."""
    stage_seconds: int = 0
    read_gib: float = 0.0
    """What one pod reads from the weights' medium at each start (planning/delivery.py)."""
    first_start_budget_seconds: int = 0
    """The budget of a first start on a node: the restart budget plus the per-node stage
    (× the safety factor), at least the restart budget. Rollouts, the autoscaler's windows and
    the wake-up use it, since a new pod may land on a node that has not staged the weights."""
    warm_restart_seconds: int = 0
    """What a restart takes when the compile cache already holds this model's, vLLM's and
    flags' entries (load + warm engine phases); the estimate and the budgets stay cold, since
    the first pod after any change of them finds no entry (facts/warm_caches.py: the cache
    directory is keyed by a hash of them). Equal to estimated_seconds without the cache."""

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
    """Weight load (each pod's share of the checkpoint at the path's read rate,
    planning/delivery.py) plus the engine's phases (compile cold or warm, CUDA-graph capture
    for the sizes vLLM captures, DeepGEMM warm-up), times the safety factor: the restart
    budget, from container start to /health, which the startup probe allows. The first start
    on a node also pays the path's per-node stage (image pull, cache staging) before the
    container starts; a group's leader waits for its peers', so they are in its probe budget.
    probes.engineStartSeconds replaces the phases with a measurement, and a configured budget
    overrides the result (the checks refuse one below the estimate)."""
    delivered = delivery.delivery(
        cfg, weights.checkpoint_gib, layout, version,
        delivery.expert_share(model.parameter_groups(), model.weights_dtype))
    read_rate = delivered.read_mib_per_second
    load = weight_load_seconds(delivered.read_gib, read_rate)
    phases = _engine_phases(cfg, model, gpu, version, engine, warm=False)
    warm_saving = sum(phases.values()) - sum(
        _engine_phases(cfg, model, gpu, version, engine, warm=True).values())
    if layout.nodes > 1 and cfg.probes.engine_start_seconds is None:
        # The leader's engine waits for every pod of its group, and on a cold node a peer's
        # container starts only after its image pull (and its node's weights stage).
        phases["peer image pull"] = IMAGE_PULL_SECONDS
        if delivered.stage and not delivery.staged_before_the_pod_schedules(
                cfg.storage.mode):
            phases[f"peer {delivered.stage}"] = delivered.stage_seconds
    engine_total = sum(phases.values())
    derived = startup_budget_seconds(load, engine_total, cfg.probes.safety_factor)
    budget = cfg.probes.startup_budget_seconds or derived
    first = max(budget, startup_budget_seconds(
        delivered.stage_seconds + load,
        engine_total - phases.get(f"peer {delivered.stage}", 0), cfg.probes.safety_factor))
    reason = _startup_reason(cfg, delivered, load, phases, derived, budget, first)
    period = cfg.probes.period_seconds
    failures = startup_failure_threshold(budget, period)
    probe_reason = (f"⌈start-up budget {budget} s / probes.periodSeconds {period} s⌉ = "
                    f"{failures} probes")
    return Startup(read_rate, load, phases, load + engine_total, derived, budget, reason,
                   period, failures, probe_reason, delivered.stage, delivered.stage_seconds,
                   delivered.read_gib, first, load + engine_total - warm_saving)


def _engine_phases(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version: Version,
                   engine: EngineLimits, warm: bool) -> dict[str, int]:
    """The engine's start after the load, phase by phase, or the measured whole. With `warm`,
    a phase is warm when the compile-cache claim is configured and the pinned vLLM reuses the
    caches that phase writes (facts/warm_caches.py `credited_phases`)."""
    if cfg.probes.engine_start_seconds is not None:
        return {"measured": cfg.probes.engine_start_seconds}
    sizes = cuda_graph_sizes(engine.max_num_seqs, engine.max_num_batched_tokens, version)
    warm = warm_caches.credited_phases(version, warm and cfg.engine.compile_cache_gib > 0)
    return engine_start_seconds(
        model.layers, sizes, "compile" in warm, enforce_eager(cfg),
        vllm_features.warms_up_deep_gemm(version, gpu.compute_capability,
                                          model.block_quantized),
        deep_gemm_cached="deepgemm" in warm)


def _startup_reason(cfg: StackConfig, delivered: delivery.Delivery, load: int,
                    phases: dict[str, int], derived: int, budget: int, first: int) -> str:
    """The restart budget's arithmetic, then the first start's (when a per-node stage adds to
    it) and which figures use which."""
    warm = (" (cold: the first pod after a change of model, vLLM or flags finds no compile-"
            "cache entry)" if cfg.engine.compile_cache_gib else "")
    shown = " + ".join(f"{name} {seconds}" for name, seconds in phases.items())
    engine_total = sum(phases.values())
    reason = (f"(load {delivered.read_gib:.1f} GiB at {delivered.read_mib_per_second} MiB/s "
              f"[{cfg.engine.load_format} loader] = {load} s + engine {shown}{warm} = "
              f"{engine_total} s) × {cfg.probes.safety_factor} = {derived} s"
              + ("" if budget == derived else f"; overridden to {budget} s"))
    if first != budget:
        reason += (f"; first start on a node adds the {delivered.stage} "
                   f"{delivered.stage_seconds} s before the container starts: {first} s, which "
                   "the rollout wait, the autoscaler's windows and the wake-up use (the startup "
                   "probe counts from container start)")
    return reason + f" [{delivered.reason}]"


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
    longest = longest_request_seconds(shutdown.max_tokens, shutdown.per_token_ms,
                                             shutdown.prefill_seconds)
    drains = vllm_features.drains_on_sigterm(version)
    grace = termination_grace_seconds(shutdown.pre_stop_seconds, longest)
    who = "vLLM's --shutdown-timeout" if drains else "the preStop hook's wait for requests"
    reason = (f"preStop {shutdown.pre_stop_seconds} + longest request {longest} "
              f"({shutdown.max_tokens} tokens × {shutdown.per_token_ms} ms + "
              f"{shutdown.prefill_seconds} s, drained by {who}) + "
              f"{GRACE_MARGIN_SECONDS} margin = {grace} s")
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
    # A rolled pod may land on a node that has not staged the weights: the first start's budget.
    first = startup_.first_start_budget_seconds
    timeout = rollout_timeout_seconds(replicas, surge, first, drain_.grace_seconds)
    # Pods, not groups: a multi-node replica is `nodes` pods (one per node).
    pods = (replicas + surge) * layout.nodes
    release = claim_release_seconds(drain_.grace_seconds)
    reason = (f"{counted(rollout_rounds(replicas, surge), 'round')} × (grace {drain_.grace_seconds} "
              f"+ image pull {IMAGE_PULL_SECONDS} + start-up {first}) = "
              f"{timeout} s; "
              f"surge min(spareGpus {cfg.spare_gpus} // {counted(layout.gpus, 'GPU')}, replicas "
              f"{cfg.replicas}) = {surge}; pods (replicas {replicas} + surge {surge}) × "
              f"{counted(layout.nodes, 'node')} = {pods}; a replaced claim is released after "
              f"grace {drain_.grace_seconds} + {CLAIM_RELEASE_MARGIN_SECONDS} = {release} s")
    return Rollout(surge, replicas, pods, timeout, release, reason)


PROCESS_START_SECONDS = 30
"""Python imports, engine and worker processes, NCCL set-up and the API server, none of them
logged with a duration: ~30 s of a 59 s start in vllm-project/vllm#20264 (Llama-3.2 3B)."""
PROFILE_RUN_SECONDS = 10
"""vLLM's profiling forward pass and KV-cache allocation, compile aside (Llama-3-8B, ~0.6.5:
init engine 14.18 s including 10 s of graph capture, vllm-project/vllm#11005)."""
COMPILE_COLD_SECONDS_PER_LAYER = 1.0
"""torch.compile (Dynamo + Inductor) on a cold cache, per decoder layer: Llama-3-8B 19.4 s for
32 layers (#11005), Qwen3-32B 30.7 s for 64 (#32191), Llama-70B-FP8 at TP 8 ~85 s for 80
(#19824). 1 s per layer covers all three."""
COMPILE_WARM_SECONDS_PER_LAYER = 0.25
"""torch.compile with the artefacts already in the compile cache: Qwen3-32B 15.0 s for 64
layers (#32191), Llama-3-8B 9.2 s for 32 (Dynamo 5.0 s + cache load 4.2 s, #16848)."""
GRAPH_CAPTURE_SECONDS_PER_SIZE_LAYER = 0.012
"""CUDA-graph capture per captured batch size and decoder layer: Llama-3-8B 10–15 s for 67
sizes × 32 layers (#11005), Llama-70B-FP8 TP 8 ~60 s for 67 × 80 (#19824)."""
DEEP_GEMM_WARMUP_SECONDS = 180
"""DeepGEMM's JIT warm-up of the FP8 block kernels on Hopper and newer (on by default from
vLLM 0.11; envs.py VLLM_DEEP_GEMM_WARMUP: "increases the engine startup time by a couple of
minutes")."""
DEEP_GEMM_WARM_SECONDS = 30
"""The same warm-up when DG_JIT_CACHE_DIR (VLLM_CACHE_ROOT/deep_gemm) already holds the kernels:
it runs them instead of compiling them. vllm-project/vllm#30903 logs a warm sweep of DeepSeek's
weight shapes at 920–2,256 sizes per second, each shape's 288–292 sizes in under a second;
cold, #22215 measured 83 s + 48 s for Qwen3-30B-A3B-FP8's two kernel families. 30 s covers a
few dozen shapes with room to spare."""


def cuda_graph_sizes(max_num_seqs: int, max_num_batched_tokens: int,
                     version: vllm_features.Version) -> int:
    """How many batch sizes vLLM captures CUDA graphs for.

    Largest size N = min(2 × max_num_seqs, 512, max_num_batched_tokens); sizes 1, 2, 4, then
    every 8 up to N (67 at N = 512) before 0.15, and from 0.15 every 8 below 256 and every 16
    from 256 (51 at N = 512) (vllm/config/vllm.py _set_cudagraph_sizes).
    """
    largest = min(2 * max_num_seqs, 512, max_num_batched_tokens)
    small = [size for size in (1, 2, 4) if size <= largest]
    if not vllm_features.sparse_graph_sizes(version):
        return len(small) + len(range(8, largest + 1, 8))
    return len(small) + len(range(8, min(largest + 1, 256), 8)) + len(range(256, largest + 1, 16))


def engine_start_seconds(layers: int, graph_sizes: int, compile_cache: bool,
                         enforce_eager: bool, deep_gemm: bool,
                         deep_gemm_cached: bool = False) -> dict[str, int]:
    """The engine's start after its weights are in GPU memory, by phase (whole seconds):
      process: 30 s (imports, processes, NCCL, API server)
      profile: 10 s (profiling forward pass, KV allocation)
      compile: 1 s per layer cold, 0.25 s warm (a compile cache volume), 0 with --enforce-eager
      graphs:  0.012 s × captured batch sizes × layers, 0 with --enforce-eager
      deepgemm: 180 s for FP8 block kernels on Hopper (deep_gemm), 30 s with their JIT kernels
                kept (deep_gemm_cached), else 0.
    Example (32 layers, 51 sizes, cold): 30 + 10 + 32 + 20 = 92 s.
    """
    phases = {"process": PROCESS_START_SECONDS, "profile": PROFILE_RUN_SECONDS}
    if not enforce_eager:
        per_layer = COMPILE_WARM_SECONDS_PER_LAYER if compile_cache else (
            COMPILE_COLD_SECONDS_PER_LAYER)
        phases["compile"] = math.ceil(per_layer * layers)
        phases["graphs"] = math.ceil(GRAPH_CAPTURE_SECONDS_PER_SIZE_LAYER * graph_sizes * layers)
    if deep_gemm:
        phases["deepgemm"] = DEEP_GEMM_WARM_SECONDS if deep_gemm_cached else (
            DEEP_GEMM_WARMUP_SECONDS)
    return phases


def weight_load_seconds(weights_gib_total: float, read_mib_per_second: int) -> int:
    """Seconds to read the weights = GiB × 1024 / read MiB/s, rounded up.

    What one pod reads depends on the loader (planning/delivery.py `pod_read_gib`).
    Example: 61 GiB at 400 MiB/s = 157 s.
    """
    return math.ceil(weights_gib_total * 1024 / read_mib_per_second)


def startup_budget_seconds(load_seconds: int, engine_seconds: int, safety_factor: float) -> int:
    """Start-up budget = (weight load + engine start) × safety factor, rounded up."""
    return math.ceil((load_seconds + engine_seconds) * safety_factor)


def startup_failure_threshold(budget_seconds: int, period_seconds: int) -> int:
    """startupProbe failureThreshold = ceil(budget / period): the probe gives up after budget."""
    return math.ceil(budget_seconds / period_seconds)


def longest_request_seconds(max_tokens: int, per_token_ms: float, prefill_seconds: int) -> int:
    """Cap on one request = prefill + max_tokens × per-token latency, rounded up.

    Example: 10 + 8192 × 0.040 = 338 s.
    """
    return math.ceil(prefill_seconds + max_tokens * per_token_ms / 1000)


GRACE_MARGIN_SECONDS = 15
"""Margin between vLLM's own drain deadline and the kubelet's SIGKILL."""


def termination_grace_seconds(pre_stop_seconds: int, drain_seconds: int) -> int:
    """terminationGracePeriodSeconds = preStop + drain (longest request) + 15 s margin.

    The kubelet counts the grace period from the start of preStop, so it must cover the preStop
    hook and vLLM's --shutdown-timeout (or the pre-0.18 drain wait) with room to exit.
    """
    return pre_stop_seconds + drain_seconds + GRACE_MARGIN_SECONDS


IMAGE_PULL_SECONDS = 600
"""First pull of the ~10 GiB vLLM image on a node, allowed for in rollout timeouts."""


def rollout_rounds(replicas: int, surge: int) -> int:
    """Pods are replaced in ceil(replicas / max(1, surge)) rounds (one at a time without surge)."""
    return math.ceil(replicas / max(1, surge))


def rollout_timeout_seconds(replicas: int, surge: int, startup_budget: int,
                            grace_seconds: int) -> int:
    """How long Pulumi waits for a Deployment rollout.

    = rounds × (old pod drain + image pull 600 s + start-up budget), with
      rounds = ceil(replicas / surge) (surge 0 → one pod at a time).
    Example: 2 replicas, no surge, 600 s budget, 368 s grace: 2 × (368 + 600 + 600) = 3136 s.
    """
    return rollout_rounds(replicas, surge) * (grace_seconds + IMAGE_PULL_SECONDS + startup_budget)


CLAIM_RELEASE_MARGIN_SECONDS = 300
"""Time for the last old pods to unmount a replaced claim after their grace period."""


def claim_release_seconds(grace_seconds: int) -> int:
    """How long Pulumi waits to delete a replaced claim = the pods' grace period + 300 s.

    A claim is deleted after the Deployment's rollout, while its last old pods may still be
    draining; kubernetes.io/pvc-protection holds the delete until they are gone and unmounted.
    """
    return grace_seconds + CLAIM_RELEASE_MARGIN_SECONDS
