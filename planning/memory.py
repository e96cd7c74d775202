"""GPU and host memory of one replica, step by step: engine limits, weights, activations, KV
cache, host resources. Each step returns its figures with the reason; the arithmetic itself
is in planning/sizing.py.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from facts import model_families, vllm_features
from planning import sizing
from planning.config import GpuFacts, ModelFacts, StackConfig
from planning.layout import Layout
from planning.wording import counted

Version = vllm_features.Version


@dataclasses.dataclass(frozen=True)
class EngineLimits:
    """The scheduler and memory settings vLLM runs with: configured, else vLLM's defaults."""

    gpu_memory_utilization: float
    max_num_seqs: int
    max_num_batched_tokens: int
    reason: str


@dataclasses.dataclass(frozen=True)
class Weights:
    """Weight memory: the whole model, what the fullest GPU holds, and the checkpoint on disk."""

    total_gib: float
    per_gpu_gib: float
    checkpoint_gib: float
    """Size of the checkpoint files (read at start, downloaded, stored)."""
    reason: str


@dataclasses.dataclass(frozen=True)
class Activations:
    """Memory vLLM's profiling run finds besides weights: the activation peak and non-torch."""

    peak_gib: float
    non_torch_gib: float
    reason: str


@dataclasses.dataclass(frozen=True)
class KvCache:
    """The KV cache of one GPU and what it holds."""

    budget_gib: float
    bytes_per_token: float
    block_size: int
    tokens_per_rank: int
    max_concurrency: float
    reason: str

    def holds(self, max_model_len: int) -> bool:
        """True when the budget is positive and one max-length request fits."""
        return self.budget_gib > 0 and self.tokens_per_rank >= max_model_len


@dataclasses.dataclass(frozen=True)
class GpuMemory:
    """Everything on one GPU, in the order vLLM accounts for it."""

    engine: EngineLimits
    weights: Weights
    activations: Activations
    kv: KvCache


@dataclasses.dataclass(frozen=True)
class HostResources:
    """Host memory, /dev/shm and CPU of one pod."""

    shm_gib: int
    memory_request_gib: int
    memory_limit_gib: int
    cpu_request: float
    cpu_limit: float
    reason: str


def enforce_eager(cfg: StackConfig) -> bool:
    """True when engine.extraArgs runs vLLM without CUDA graphs or torch.compile."""
    return "--enforce-eager" in cfg.engine.extra_args


def engine_limits(cfg: StackConfig, gpu: GpuFacts, version: Version) -> EngineLimits:
    """gpuMemoryUtilization, maxNumSeqs and maxNumBatchedTokens: the stack's, else vLLM's."""
    utilization = (cfg.engine.gpu_memory_utilization
                   or vllm_features.default_gpu_memory_utilization(version))
    tokens, seqs = sizing.default_scheduler_limits(gpu.memory_gib, gpu.compute_capability)
    seqs = cfg.engine.max_num_seqs or seqs
    tokens = cfg.engine.max_num_batched_tokens or tokens
    reason = (f"utilization {utilization}, max-num-seqs {seqs}, max-num-batched-tokens {tokens}"
              " (vLLM's defaults for this GPU and version unless set under engine)")
    return EngineLimits(utilization, seqs, tokens, reason)


def expert_padding(model: ModelFacts, gpu: GpuFacts, layout: Layout) -> float:
    """MXFP4 experts are padded for vLLM's kernel (sizing.mxfp4_expert_padding); the
    intermediate size per GPU is split over TP × DP unless expert parallelism keeps whole
    experts. For mxfp4 models, intermediate_size is the expert's."""
    if not model_families.pads_mxfp4_experts(model.weights_dtype):
        return 1.0
    per_gpu = sizing.expert_intermediate_per_gpu(model.intermediate_size, layout.tensor_parallel,
                                                 layout.data_parallel, layout.expert_parallel)
    return sizing.mxfp4_expert_padding(model.hidden_size, per_gpu, gpu.compute_capability)


def weights(cfg: StackConfig, model: ModelFacts, layout: Layout,
            gpu: Optional[GpuFacts] = None) -> Weights:
    """The model's weight memory by role, and the fullest GPU's share under `layout`."""
    groups = model.parameter_groups()
    stored_as = sizing.scheme(model.weights_dtype, cfg.model.quantization)
    total = sizing.weight_gib(groups, stored_as)
    per_gpu = sizing.weight_gib_per_gpu(
        groups, stored_as, model.layers, layout.tensor_parallel, layout.pipeline_parallel,
        layout.data_parallel, model.tie_word_embeddings, model.attention,
        expert_padding(model, gpu, layout) if gpu else 1.0)
    checkpoint = model.weights_gib or sizing.weight_gib(groups, model.weights_dtype)
    widths = sizing.ROLE_BYTES[stored_as]
    parts = " + ".join(f"{role} {groups[role] / 1e9:.3f} G × {widths[role]:.4g} B"
                       for role in sizing.WEIGHT_ROLES if groups[role])
    stages = sizing.pipeline_stage_layers(model.layers, layout.pipeline_parallel)
    reason = (f"{parts} = {total:.1f} GiB ({stored_as}); fullest GPU at {layout.describe()}: "
              f"embeddings and head / TP {layout.tensor_parallel} on the first and last of "
              f"stages {stages}, norms, gates and replicated linears whole, linears / TP, "
              f"experts / (TP × DP) = {per_gpu:.2f} GiB; checkpoint {checkpoint:.1f} GiB")
    return Weights(total, per_gpu, checkpoint, reason)


def activations(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version: Version,
                layout: Layout, engine: EngineLimits) -> Activations:
    """The profiling run's activation peak and the non-torch memory (communication buffers,
    CUDA graphs) on one GPU."""
    peak = sizing.activation_peak_gib(model.hidden_size, model.intermediate_size,
                                      model.vocab_size, layout.tensor_parallel,
                                      engine.max_num_batched_tokens, engine.max_num_seqs,
                                      version)
    non_torch = sizing.non_torch_gib(layout.tensor_parallel, version, gpu.interconnect,
                                     enforce_eager(cfg))
    reason = f"activation peak {peak:.2f} GiB + non-torch {non_torch:.2f} GiB"
    return Activations(peak, non_torch, reason)


def kv_cache(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version: Version,
             layout: Layout, engine: EngineLimits, weights_: Weights,
             activations_: Activations) -> KvCache:
    """What is left for the KV cache on one GPU, and how many tokens that holds."""
    budget = sizing.kv_budget_gib(gpu.memory_gib, engine.gpu_memory_utilization,
                                  weights_.per_gpu_gib, activations_.peak_gib,
                                  activations_.non_torch_gib)
    dtype_bytes = sizing.kv_dtype_bytes(
        model_families.kv_cache_dtype(model.attention, cfg.model.kv_cache_dtype))
    per_token = sizing.kv_bytes_per_token_per_gpu(model.attention, model.layers,
                                                  layout.tensor_parallel,
                                                  layout.pipeline_parallel, dtype_bytes)
    block = sizing.kv_block_size(model.attention, gpu.compute_capability, version)
    tokens = sizing.kv_cache_tokens(budget, per_token, block)
    concurrency = sizing.max_concurrency(tokens, layout.data_parallel, cfg.model.max_model_len)
    reason = (f"{gpu.memory_gib} GiB × {engine.gpu_memory_utilization} − weights "
              f"{weights_.per_gpu_gib:.1f} − activations {activations_.peak_gib:.2f} − "
              f"non-torch {activations_.non_torch_gib:.2f} = {budget:.1f} GiB per GPU; / "
              f"{per_token:.0f} B per token = {tokens} tokens ({block}-token blocks); "
              f"× DP {layout.data_parallel} / maxModelLen {cfg.model.max_model_len} = "
              f"{concurrency:.2f} full-length requests")
    return KvCache(budget, per_token, block, tokens, concurrency, reason)


def gpu_memory(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version: Version,
               layout: Layout) -> GpuMemory:
    """Engine limits → weights → activations → KV cache, for one layout."""
    engine = engine_limits(cfg, gpu, version)
    weights_ = weights(cfg, model, layout, gpu)
    activations_ = activations(cfg, model, gpu, version, layout, engine)
    return GpuMemory(engine, weights_, activations_,
                     kv_cache(cfg, model, gpu, version, layout, engine, weights_, activations_))


def host_resources(cfg: StackConfig, layout: Layout) -> HostResources:
    """/dev/shm, memory request and limit, CPU of one pod (its GPUs on one node)."""
    local = layout.gpus_per_node
    shm = sizing.shm_gib(local)
    request = sizing.host_memory_request_gib(local, shm)
    limit = sizing.host_memory_limit_gib(request, cfg.resources.memory_headroom_gib)
    cpu = sizing.cpu_request(local, cfg.resources.cpu_per_gpu)
    factor = cfg.resources.cpu_limit_factor
    reason = (f"API server {sizing.API_SERVER_GIB:g} + {sizing.WORKER_GIB:g} × {counted(local, 'worker')} "
              f"+ shm {shm} = {request} GiB request; + headroom "
              f"{cfg.resources.memory_headroom_gib:g} = {limit} GiB limit; shm = "
              f"⌈{sizing.SHM_BASE_GIB:g} + {sizing.NCCL_SHM_GIB_PER_PAIR:g} × {local} × "
              f"{local - 1}⌉ = {shm} GiB; CPU {cfg.resources.cpu_per_gpu:g} × {local} + "
              f"{sizing.API_SERVER_CPU:g} = {cpu:g} request, × cpuLimitFactor {factor:g} = "
              f"{cpu * factor:g} limit")
    return HostResources(shm, request, limit, cpu, cpu * factor, reason)
