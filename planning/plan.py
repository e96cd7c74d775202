"""The deployment plan: every derived figure for a stack, checked for feasibility.

`make_plan(config)` turns validated config plus model and GPU facts into a `Plan`, or raises
`ConfigError` listing every reason the stack cannot work, with the arithmetic and what to change.
The components take their numbers from the plan; `tools/plan.py` prints it.
"""

from __future__ import annotations

import dataclasses

import facts
from planning import sizing
from planning.config import ConfigError, GpuFacts, ModelFacts, StackConfig
from facts.vllm_features import parser_available


@dataclasses.dataclass(frozen=True)
class Plan:
    """Derived figures for one stack. Sizes in GiB, times in seconds."""

    model: ModelFacts
    gpu: GpuFacts
    version: tuple[int, int, int]
    tensor_parallel: int
    pipeline_parallel: int
    data_parallel: int
    expert_parallel: bool
    gpus_per_replica: int
    replicas: int
    gpus_total: int
    utilization: float
    max_num_seqs: int
    max_num_batched_tokens: int
    weights_gib: float
    weights_per_gpu_gib: float
    activation_gib: float
    non_torch_gib: float
    kv_budget_gib: float
    kv_bytes_per_token: float
    kv_block_size: int
    kv_tokens_per_rank: int
    max_concurrency: float
    shm_gib: int
    memory_request_gib: int
    memory_limit_gib: int
    cpu_request: float
    cpu_limit: float
    load_seconds: int
    engine_start_seconds: int
    estimated_start_seconds: int
    startup_budget_seconds: int
    longest_request_seconds: int
    pre_stop_seconds: int
    shutdown_timeout_seconds: int
    grace_seconds: int
    surge: int
    rollout_timeout_seconds: int
    storage_capacity_gi: int
    download_timeout_seconds: int
    max_replicas: int
    max_pods: int
    """Most pods at once: replicas plus the rollout surge."""
    runnable_requests: int
    autoscaler_target: int
    claim_release_seconds: int
    reasons: dict[str, str]

    def outputs(self) -> dict:
        """The figures exported as stack outputs (and printed by the plan report)."""
        return {
            "model": self.model.hf_id,
            "gpuType": self.gpu.name,
            "gpusPerReplica": self.gpus_per_replica,
            "gpusTotal": self.gpus_total,
            "split": {"tensorParallel": self.tensor_parallel,
                      "pipelineParallel": self.pipeline_parallel,
                      "dataParallel": self.data_parallel,
                      "expertParallel": self.expert_parallel},
            "weightsPerGpuGib": round(self.weights_per_gpu_gib, 2),
            "kvCacheGibPerGpu": round(self.kv_budget_gib, 2),
            "kvCacheTokens": self.kv_tokens_per_rank * self.data_parallel,
            "maxConcurrency": round(self.max_concurrency, 2),
            "memoryRequestGib": self.memory_request_gib,
            "memoryLimitGib": self.memory_limit_gib,
            "shmGib": self.shm_gib,
            "startupBudgetSeconds": self.startup_budget_seconds,
            "terminationGraceSeconds": self.grace_seconds,
            "rolloutTimeoutSeconds": self.rollout_timeout_seconds,
            "runnableRequestsPerReplica": self.runnable_requests,
            "autoscalerTargetPerReplica": self.autoscaler_target,
        }


def _version_text(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def candidate_splits(heads: int, per_node: int) -> list[int]:
    """Tensor-parallel sizes vLLM accepts inside one node: powers of two dividing the heads."""
    sizes = []
    size = 1
    while size <= per_node:
        if heads % size == 0:
            sizes.append(size)
        size *= 2
    return sizes


def _kv_for(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version, tp: int, pp: int,
            dp: int, ep: bool) -> dict:
    """KV-cache figures for one split (used for the chosen split and to rank alternatives)."""
    utilization = cfg.engine.gpu_memory_utilization or sizing.default_gpu_memory_utilization(version)
    default_tokens, default_seqs = sizing.default_scheduler_limits(gpu.memory_gib,
                                                                   gpu.compute_capability)
    batched = cfg.engine.max_num_batched_tokens or default_tokens
    seqs = cfg.engine.max_num_seqs or default_seqs
    weights = sizing.weight_gib(model.params_b, model.weights_dtype, model.weights_gib,
                                cfg.model.quantization)
    per_gpu = sizing.weight_gib_per_gpu(weights, tp, pp, dp, ep)
    activation = sizing.activation_peak_gib(model.hidden_size, model.intermediate_size,
                                            model.vocab_size, tp, batched, seqs, version)
    non_torch = sizing.non_torch_gib(tp, version, gpu.interconnect,
                                     "--enforce-eager" in cfg.engine.extra_args)
    budget = sizing.kv_budget_gib(gpu.memory_gib, utilization, per_gpu, activation, non_torch)
    dtype_bytes = 1 if model.attention["kind"] == "deepseek_v4" else sizing.kv_dtype_bytes(
        cfg.model.kv_cache_dtype)
    per_token = sizing.kv_bytes_per_token_per_gpu(model.attention, model.layers, tp, pp,
                                                  dtype_bytes)
    block = sizing.kv_block_size(model.attention, gpu.compute_capability, version)
    tokens = sizing.kv_cache_tokens(budget, per_token, block)
    return dict(utilization=utilization, batched=batched, seqs=seqs, weights=weights,
                per_gpu=per_gpu, activation=activation, non_torch=non_torch, budget=budget,
                per_token=per_token, block=block, tokens=tokens)


def _fits(kv: dict, max_model_len: int) -> bool:
    return kv["budget"] > 0 and kv["tokens"] >= max_model_len


def make_plan(cfg: StackConfig) -> Plan:
    """Derive every figure for `cfg`; raise ConfigError with the arithmetic when it cannot work."""
    model = cfg.model.shape
    gpu = cfg.gpu.resolved()
    version = facts.parse_version(cfg.vllm_version)
    problems: list[str] = []
    heads = model.attention["heads"]
    pp, dp, ep = cfg.gpu.pipeline_parallel, cfg.gpu.data_parallel, cfg.gpu.expert_parallel
    length = cfg.model.max_model_len

    if version < facts.parse_version(model.min_vllm):
        problems.append(
            f"vllmVersion: {model.hf_id} needs vLLM {model.min_vllm} or newer, the stack pins "
            f"{cfg.vllm_version}; raise vllmVersion")
    if gpu.compute_capability < model.min_compute_capability:
        problems.append(
            f"gpu.type: {model.hf_id} needs compute capability {model.min_compute_capability} "
            f"or newer (its kernels), {gpu.name} has {gpu.compute_capability}; choose a newer "
            "GPU generation")
    if cfg.model.kv_cache_dtype == "fp8" and gpu.compute_capability < 8.9 and version < (0, 9, 0):
        problems.append(
            "model.kvCacheDtype: fp8 KV cache on a GPU below compute capability 8.9 makes vLLM "
            f"{cfg.vllm_version} fall back to the V0 engine (different metrics); use auto")
    if length > model.max_context:
        problems.append(
            f"model.maxModelLen: {length} exceeds the model's context of {model.max_context} "
            "tokens; lower it")
    if cfg.model.trust_remote_code is False and model.trust_remote_code:
        problems.append(
            f"model.trustRemoteCode: {model.hf_id} ships its own modelling code; set it to true "
            "after reviewing that code")
    for key, parser in (("model.reasoningParser", cfg.model.reasoning_parser),
                        ("model.toolCallParser", cfg.model.tool_call_parser)):
        if parser not in (None, "auto") and not parser_available(parser, version):
            problems.append(
                f"{key}: {parser} is not in vLLM {cfg.vllm_version}; raise vllmVersion, use "
                "auto (the model's parser when the pinned version has it) or null")
    if ep and not model.experts:
        problems.append("gpu.expertParallel: the model has no experts; set it to false")

    candidates = candidate_splits(heads, gpu.per_node)
    if cfg.gpu.tensor_parallel is not None:
        tp = cfg.gpu.tensor_parallel
        if heads % tp != 0:
            problems.append(
                f"gpu.tensorParallel: {tp} does not divide the model's {heads} attention heads; "
                f"use one of {candidates}")
    else:
        tp = next((size for size in candidates
                   if size * pp * dp <= gpu.per_node
                   and _fits(_kv_for(cfg, model, gpu, version, size, pp, dp, ep), length)),
                  None)
        if tp is None:
            tp = candidates[-1] if candidates else 1
    gpus_per_replica = tp * pp * dp
    if gpus_per_replica > gpu.per_node:
        problems.append(
            f"gpu: the split TP {tp} × PP {pp} × DP {dp} = {gpus_per_replica} GPUs per replica, "
            f"but a node has {gpu.per_node} (gpu.perNode); tensor parallelism across nodes is "
            "several times slower and multi-node serving (LeaderWorkerSet) is not supported yet; "
            "use a quantized variant, a GPU with more memory, or fewer GPUs per replica")

    kv = _kv_for(cfg, model, gpu, version, tp, pp, dp, ep)
    if kv["budget"] <= 0:
        problems.append(
            f"model: the weights do not fit: {model.hf_id} needs {kv['weights']:.1f} GiB, "
            f"{kv['per_gpu']:.1f} GiB per GPU at TP {tp} × PP {pp}, but each {gpu.name} offers "
            f"{gpu.memory_gib:.1f} GiB × {kv['utilization']} = "
            f"{gpu.memory_gib * kv['utilization']:.1f} GiB before activations "
            f"({kv['activation'] + kv['non_torch']:.1f} GiB); {_suggest(cfg, model, gpu, version, tp, pp, dp, ep)}")
    elif kv["tokens"] < length:
        need = length * kv["per_token"] / sizing.GIB
        problems.append(
            f"model.maxModelLen: one {length}-token request needs {need:.1f} GiB of KV cache per "
            f"GPU ({kv['per_token'] / 1024:.1f} KiB per token), but only {kv['budget']:.1f} GiB "
            f"is left per GPU ({gpu.memory_gib:.1f} GiB × {kv['utilization']} − weights "
            f"{kv['per_gpu']:.1f} − activations {kv['activation'] + kv['non_torch']:.1f}); "
            f"{_suggest(cfg, model, gpu, version, tp, pp, dp, ep)}")

    shm = sizing.shm_gib(gpus_per_replica)
    memory_request = sizing.host_memory_request_gib(gpus_per_replica, shm)
    memory_limit = sizing.host_memory_limit_gib(memory_request, cfg.resources.memory_headroom_gib)
    cpu = sizing.cpu_request(gpus_per_replica, cfg.resources.cpu_per_gpu)

    read_rate = sizing.effective_read_mib_per_second(
        cfg.engine.load_format, cfg.storage.read_mib_per_second,
        cfg.storage.streaming_read_mib_per_second)
    load = sizing.weight_load_seconds(kv["weights"], read_rate)
    enforce_eager = "--enforce-eager" in cfg.engine.extra_args
    engine = sizing.engine_start_seconds(cfg.probes.engine_start_seconds,
                                         cfg.engine.compile_cache_gib > 0, enforce_eager)
    estimated = load + engine
    derived_budget = sizing.startup_budget_seconds(load, engine, cfg.probes.safety_factor)
    budget = derived_budget
    if cfg.probes.startup_budget_seconds is not None:
        budget = cfg.probes.startup_budget_seconds
        if budget < derived_budget and not cfg.probes.acknowledge_short_startup:
            problems.append(
                f"probes.startupBudgetSeconds: {budget} s is shorter than the derived budget "
                f"{derived_budget} s ((load {load} s + engine start {engine} s) × "
                f"{cfg.probes.safety_factor}); the kubelet would kill pods still loading. Remove "
                "it, raise storage.readMibPerSecond if your storage is faster, or set "
                "probes.acknowledgeShortStartup: true")
        if budget < estimated:
            problems.append(
                f"probes.startupBudgetSeconds: {budget} s is below the estimated start of "
                f"{estimated} s itself; no acknowledgement makes that work")

    longest = sizing.longest_request_seconds(cfg.shutdown.max_tokens, cfg.shutdown.per_token_ms,
                                             cfg.shutdown.prefill_seconds)
    pre_stop = cfg.shutdown.pre_stop_seconds
    shutdown_timeout = longest if version >= (0, 18, 0) else 0
    grace = sizing.termination_grace_seconds(pre_stop, longest)
    surge = min(cfg.spare_gpus // gpus_per_replica, cfg.replicas) if gpus_per_replica else 0
    replicas = max(cfg.replicas, cfg.autoscaling.max_replicas if cfg.autoscaling.enabled else 0)
    rollout = sizing.rollout_timeout_seconds(replicas, surge, budget, grace)

    if cfg.storage.mode == "pvc" and cfg.storage.pvc.access_mode == "ReadWriteOnce" and (
            replicas == 1 and surge > 0):
        problems.append(
            "storage.pvc.accessMode: ReadWriteOnce with spareGpus lets a surge pod start on "
            "another node while the old pod holds the volume (Multi-Attach): the rollout hangs; "
            "use ReadWriteMany or set spareGpus: 0")
    if cfg.storage.mode == "pvc" and cfg.storage.pvc.access_mode == "ReadWriteOnce" and (
            replicas > 1):
        problems.append(
            f"storage.pvc.accessMode: ReadWriteOnce with {replicas} replicas fails with "
            "Multi-Attach as soon as two pods land on different nodes; use a storage class "
            "with ReadWriteMany (the download Job writes, the pods read), or run one replica")
    if cfg.autoscaling.enabled and cfg.autoscaling.min_replicas < cfg.replicas:
        problems.append(
            f"autoscaling.minReplicas ({cfg.autoscaling.min_replicas}) is below replicas "
            f"({cfg.replicas}); with an autoscaler, replicas is the starting count: set "
            "minReplicas >= replicas")
    scaling = cfg.autoscaling
    expected = scaling.expected_request_tokens
    runnable = sizing.runnable_requests(kv["tokens"] * dp, expected, kv["seqs"])
    target = sizing.per_replica_target(runnable, scaling.target_utilization)
    if scaling.enabled and expected > length:
        problems.append(
            f"autoscaling.expectedRequestTokens: {expected} is longer than model.maxModelLen "
            f"({length}), which no request can be; set it to a typical prompt + answer length")
    kv_alert = cfg.monitoring.thresholds.kv_cache_usage
    if scaling.enabled and cfg.monitoring.enabled and scaling.target_utilization >= kv_alert:
        problems.append(
            f"autoscaling.targetUtilization: {scaling.target_utilization} would hold every "
            f"replica's KV cache at or above monitoring.thresholds.kvCacheUsage ({kv_alert}), "
            "so the alert would fire whenever the autoscaler is on target; lower the target "
            "or raise the threshold")
    if problems:
        raise ConfigError(problems)

    reasons = {
        "split": (f"TP {tp} × PP {pp} × DP {dp}" + (" with expert parallelism" if ep else "")
                  + (" (set in gpu.tensorParallel)" if cfg.gpu.tensor_parallel else
                     f" (smallest TP in {candidates} dividing {heads} heads that fits)")),
        "weights": (f"{model.params_b} B params × {model.weights_dtype} = {kv['weights']:.1f} GiB"
                    f"; / {tp * pp * (dp if ep else 1)} GPUs = {kv['per_gpu']:.1f} GiB per GPU"),
        "kvCache": (f"{gpu.memory_gib} GiB × {kv['utilization']} − weights {kv['per_gpu']:.1f} − "
                    f"activations {kv['activation']:.2f} − non-torch {kv['non_torch']:.2f} = "
                    f"{kv['budget']:.1f} GiB per GPU; / {kv['per_token']:.0f} B per token = "
                    f"{kv['tokens']} tokens ({kv['block']}-token blocks)"),
        "concurrency": f"{kv['tokens']} tokens × DP {dp} / maxModelLen {length}",
        "memory": (f"API server {sizing.API_SERVER_GIB:g} + {sizing.WORKER_GIB:g} × "
                   f"{gpus_per_replica} workers + shm {shm} = {memory_request} GiB request; "
                   f"+ headroom {cfg.resources.memory_headroom_gib:g} = {memory_limit} GiB limit"),
        "shm": f"1 + 0.25 × {gpus_per_replica} × {gpus_per_replica - 1} GiB, rounded up",
        "startup": (f"(load {kv['weights']:.1f} GiB at {read_rate} MiB/s "
                    f"[{cfg.engine.load_format} loader] = {load} s + engine start {engine} s"
                    f"{' with a warm compile cache' if cfg.engine.compile_cache_gib else ''}) × {cfg.probes.safety_factor} = "
                    f"{derived_budget} s" + ("" if budget == derived_budget else
                                             f"; overridden to {budget} s")),
        "grace": (f"preStop {pre_stop} + longest request {longest} "
                  f"({cfg.shutdown.max_tokens} tokens × {cfg.shutdown.per_token_ms} ms + "
                  f"{cfg.shutdown.prefill_seconds} s) + {sizing.GRACE_MARGIN_SECONDS} margin"),
        "rollout": (f"{sizing.rollout_rounds(replicas, surge)} rounds × (grace {grace} + image "
                    f"pull {sizing.IMAGE_PULL_SECONDS} + start-up {budget})"),
        "autoscaler": (f"min(maxNumSeqs {kv['seqs']}, {kv['tokens'] * dp} KV tokens / "
                       f"{expected} tokens per request) = {runnable} runnable requests × "
                       f"targetUtilization {scaling.target_utilization} = {target} per replica"
                       + ("" if scaling.enabled else " (autoscaling off)")),
    }
    return Plan(
        model=model, gpu=gpu, version=version, tensor_parallel=tp, pipeline_parallel=pp,
        data_parallel=dp, expert_parallel=ep, gpus_per_replica=gpus_per_replica,
        replicas=cfg.replicas, gpus_total=gpus_per_replica * replicas,
        utilization=kv["utilization"], max_num_seqs=kv["seqs"],
        max_num_batched_tokens=kv["batched"], weights_gib=kv["weights"],
        weights_per_gpu_gib=kv["per_gpu"], activation_gib=kv["activation"],
        non_torch_gib=kv["non_torch"], kv_budget_gib=kv["budget"],
        kv_bytes_per_token=kv["per_token"], kv_block_size=kv["block"],
        kv_tokens_per_rank=kv["tokens"],
        max_concurrency=sizing.max_concurrency(kv["tokens"], dp, length), shm_gib=shm,
        memory_request_gib=memory_request, memory_limit_gib=memory_limit, cpu_request=cpu,
        cpu_limit=cpu * cfg.resources.cpu_limit_factor, load_seconds=load,
        engine_start_seconds=engine, estimated_start_seconds=estimated,
        startup_budget_seconds=budget, longest_request_seconds=longest,
        pre_stop_seconds=pre_stop, shutdown_timeout_seconds=shutdown_timeout,
        grace_seconds=grace, surge=surge, rollout_timeout_seconds=rollout,
        storage_capacity_gi=cfg.storage.capacity_gi or sizing.storage_capacity_gi(
            kv["weights"], revisions=2 if cfg.storage.mode == "pvc" else 1),
        download_timeout_seconds=(
            cfg.storage.pvc.download_timeout_minutes * 60
            if cfg.storage.pvc and cfg.storage.pvc.download_timeout_minutes
            else sizing.download_timeout_seconds(kv["weights"])),
        max_replicas=replicas, max_pods=replicas + surge, runnable_requests=runnable, autoscaler_target=target,
        claim_release_seconds=sizing.claim_release_seconds(grace),
        reasons=reasons,
    )


def _suggest(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version, tp: int, pp: int,
             dp: int, ep: bool) -> str:
    """What would make it fit: a larger TP, fp8, a shorter context, a higher utilization."""
    length = cfg.model.max_model_len
    ideas = []
    for size in candidate_splits(model.attention["heads"], gpu.per_node):
        if size > tp and size * pp * dp <= gpu.per_node and _fits(
                _kv_for(cfg, model, gpu, version, size, pp, dp, ep), length):
            ideas.append(f"gpu.tensorParallel: {size}")
            break
    if cfg.model.quantization is None and model.weights_dtype in ("bf16", "fp16"):
        fp8 = cfg.model_copy(update={"model": cfg.model.model_copy(update={"quantization": "fp8"})})
        if _fits(_kv_for(fp8, model, gpu, version, tp, pp, dp, ep), length):
            ideas.append("model.quantization: fp8")
    kv = _kv_for(cfg, model, gpu, version, tp, pp, dp, ep)
    if kv["budget"] > 0:
        fits_len = (kv["tokens"] // 1024) * 1024
        if fits_len >= 1024:
            ideas.append(f"model.maxModelLen: {fits_len} or less")
    for util in (0.92, 0.95):
        if util > kv["utilization"]:
            engine = cfg.engine.model_copy(update={"gpu_memory_utilization": util})
            if _fits(_kv_for(cfg.model_copy(update={"engine": engine}), model, gpu, version, tp,
                             pp, dp, ep), length):
                ideas.append(f"engine.gpuMemoryUtilization: {util}")
                break
    if not ideas:
        node_gib = gpu.memory_gib * gpu.per_node
        weights = sizing.weight_gib(model.params_b, model.weights_dtype, model.weights_gib,
                                    cfg.model.quantization)
        if weights > node_gib * 0.9:
            return (f"the weights ({weights:.0f} GiB) need more than one node of {gpu.per_node} "
                    f"× {gpu.name} ({node_gib:.0f} GiB); multi-node serving (LeaderWorkerSet) is "
                    "not supported yet: use GPUs with more memory (e.g. H200) or a quantized "
                    "variant")
        return "no single-node change makes it fit; choose a smaller or quantized model or larger GPUs"
    return "to fix, set " + ", or ".join(ideas)
