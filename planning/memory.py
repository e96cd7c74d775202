"""What one GPU holds, step by step: engine limits, weights, activations, KV cache. Each step
returns its figures with the reason; below the steps, the arithmetic they use, one pure function
each with the formula in its docstring (tests/planning/test_sizing.py tests each on its own).

Units: GIB = 2**30 bytes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from facts import model_families, mxfp4_moe, vllm_cli, vllm_features
from facts import sparse_mla
from planning import kv_layout
from planning.config import GpuFacts, ModelFacts, StackConfig
from planning.layout import Layout

Version = vllm_features.Version


@dataclasses.dataclass(frozen=True)
class EngineLimits:
    """The scheduler and memory settings vLLM runs with: configured, else vLLM's defaults."""

    gpu_memory_utilization: float
    max_num_seqs: int
    max_num_batched_tokens: int
    reason: str
    measured_kv: bool = False
    """vLLM sizes the KV cache from memory measured after CUDA-graph capture (0.34's
    extensible cache, facts/vllm_features.py sizes_kv_from_measured_memory)."""


@dataclasses.dataclass(frozen=True)
class Weights:
    """Weight memory: the whole model, what the fullest GPU holds, and the checkpoint on disk."""

    total_gib: float
    per_gpu_gib: float
    checkpoint_gib: float
    """Size of the checkpoint files (read at start, downloaded, stored)."""
    reason: str
    per_stage_gib: tuple[float, ...] = ()
    """What one GPU of each pipeline stage holds (weight_gib_per_stage); per_gpu_gib is the
    largest."""


@dataclasses.dataclass(frozen=True)
class Activations:
    """Memory vLLM's profiling run finds besides weights: the activation peak and non-torch."""

    peak_gib: float
    non_torch_gib: float
    reason: str
    moe_workspace_gib: float = 0.0
    """The fused-MoE workspace inside peak_gib (0 for a dense model)."""
    stage_peaks_gib: tuple[float, ...] = ()
    """Each pipeline stage's activation peak: the sampler only on the last; peak_gib is the
    largest."""

    @property
    def total_gib(self) -> float:
        """What the profiling run takes besides weights: activation peak + non-torch."""
        return self.peak_gib + self.non_torch_gib


@dataclasses.dataclass(frozen=True)
class KvCache:
    """The KV cache of one GPU and what it holds."""

    budget_gib: float
    bytes_per_token: float
    block_size: int
    tokens_per_rank: int
    max_concurrency: float
    reason: str
    groups: int = 1
    """vLLM's KV-cache groups (planning/kv_layout.py): 1 unless layers differ in kind."""
    longest_request: Optional[int] = None
    """The longest request whose blocks fit one rank's pool (vLLM's estimate_max_model_len);
    None: the token count decides."""
    state_gib_per_request: float = 0.0
    """Linear-attention state one request holds whatever its length (0 without such layers)."""
    request_gib: float = 0.0
    """What one maxModelLen request takes from one rank's pool: its blocks in every group ×
    bytes per block (vLLM's "KV cache is needed" figure, max_memory_usage_bytes)."""
    stage_budgets_gib: tuple[float, ...] = ()
    """Each pipeline stage's KV budget (its own weights and activation peak)."""
    binding_stage: int = 0
    """The stage with the fewest blocks, whose count every stage keeps (budget_gib is its)."""

    def holds(self, max_model_len: int) -> bool:
        """True when the budget is positive and one max-length request fits."""
        fits = (self.tokens_per_rank if self.longest_request is None
                else self.longest_request)
        return self.budget_gib > 0 and fits >= max_model_len


@dataclasses.dataclass(frozen=True)
class GpuMemory:
    """Everything on one GPU, in the order vLLM accounts for it."""

    engine: EngineLimits
    weights: Weights
    activations: Activations
    kv: KvCache


def enforce_eager(cfg: StackConfig) -> bool:
    """True when engine.extraArgs runs vLLM without CUDA graphs or torch.compile."""
    return "--enforce-eager" in cfg.engine.extra_args


def engine_limits(cfg: StackConfig, gpu: GpuFacts, version: Version,
                  layout: Optional[Layout] = None) -> EngineLimits:
    """gpuMemoryUtilization, maxNumSeqs and maxNumBatchedTokens: the stack's, else vLLM's
    (for the GPU, and for a batched all-to-all under `layout`: batched_dp_moe_tokens)."""
    measured = vllm_features.sizes_kv_from_measured_memory(version, cfg.engine.extra_args)
    utilization = (cfg.engine.gpu_memory_utilization
                   or vllm_features.default_gpu_memory_utilization(version, measured))
    tokens, seqs = default_scheduler_limits(gpu.memory_gib, gpu.compute_capability, version)
    batched = batched_dp_moe_tokens(all2all_backend(cfg), layout, version)
    seqs = cfg.engine.max_num_seqs or seqs
    tokens = cfg.engine.max_num_batched_tokens or batched or tokens
    reason = (f"utilization {utilization}, max-num-seqs {seqs}, max-num-batched-tokens {tokens}"
              " (vLLM's defaults for this GPU and version unless set under engine)")
    if batched and not cfg.engine.max_num_batched_tokens:
        reason += (f"; {all2all_backend(cfg)} with expert parallelism and DP > 1 defaults the "
                   f"batch to SchedulerConfig.DEFAULT_MAX_NUM_BATCHED_TOKENS_FOR_BATCHED_DP "
                   f"{batched}")
    if measured:
        reason += ("; the KV cache is sized from memory measured after CUDA-graph capture "
                   f"(--enable-extensible-kv-cache, on by default from "
                   f"{vllm_features.EXTENSIBLE_KV_CACHE_SINCE})")
    return EngineLimits(utilization, seqs, tokens, reason, measured)


def expert_padding(model: ModelFacts, gpu: GpuFacts, layout: Layout,
                   version: Optional[Version] = None) -> float:
    """MXFP4 experts are padded for the kernel vLLM runs them on at `version`, and Triton keeps
    their scales twice (mxfp4_resident_factor); the intermediate size per GPU is split over TP × DP unless expert parallelism keeps whole
    experts. For mxfp4 models, intermediate_size is the expert's."""
    if not model_families.pads_mxfp4_experts(model.weights_dtype):
        return 1.0
    per_gpu = expert_intermediate_per_gpu(model.intermediate_size, layout.tensor_parallel,
                                                 layout.data_parallel, layout.expert_parallel)
    return mxfp4_resident_factor(model.hidden_size, per_gpu, gpu.compute_capability, version)


def weights(cfg: StackConfig, model: ModelFacts, layout: Layout,
            gpu: Optional[GpuFacts] = None, version: Optional[Version] = None) -> Weights:
    """The model's weight memory by role, and each pipeline stage's GPU share under
    `layout` (the fullest is per_gpu_gib)."""
    groups, unbuilt = built_parameter_groups(model, version)
    stored_as = scheme(model.weights_dtype, cfg.model.quantization)
    # The facts' per-role widths describe the checkpoint; `--quantization fp8` of a 16-bit
    # checkpoint re-quantizes every linear, so they apply only when vLLM loads it as stored.
    widths = role_widths(stored_as, model.weights_by_role
                         if stored_as == model.weights_dtype else None)
    total = weight_gib(groups, stored_as, widths)
    dense = dense_layer_count(model)
    per_stage = weight_gib_per_stage(
        groups, stored_as, model.layers, layout.tensor_parallel, layout.pipeline_parallel,
        layout.data_parallel, model.tie_word_embeddings, model.attention,
        expert_padding(model, gpu, layout, version) if gpu else 1.0, widths, dense,
        dense_mlp_params(model))
    rotary = rotary_cache_gib(model)      # on every GPU, whatever its stage
    per_stage = [gib + rotary for gib in per_stage]
    per_gpu = max(per_stage)
    checkpoint = model.weights_gib or weight_gib(      # the files hold every indexer
        model.parameter_groups(), model.weights_dtype, role_widths(model.weights_dtype, model.weights_by_role))
    parts = " + ".join(f"{role} {groups[role] / 1e9:.3f} G × {widths[role]:.4g} B"
                       for role in WEIGHT_ROLES if groups[role])
    stages = pipeline_stage_layers(model.layers, layout.pipeline_parallel)
    dense_text = (f", layers 0–{dense - 1} dense (a 3 × hidden × intermediate MLP each, no "
                  f"experts: {model.layers - dense} MoE layers hold the experts)"
                  if dense else "")
    shown = ", ".join(f"{gib:.2f}" for gib in per_stage)
    rotary_text = f", RoPE's cos/sin cache {rotary:.2f} GiB on each GPU" if rotary else ""
    reason = (f"{parts} = {total:.1f} GiB ({stored_as}); fullest GPU at {layout.describe()}: "
              f"embeddings and head / TP {layout.tensor_parallel} on the first and last of "
              f"stages {stages}{dense_text}, norms, gates and replicated linears whole, linears "
              f"/ TP, experts / (TP × DP){rotary_text}: per stage [{shown}] GiB, the fullest = "
              f"{per_gpu:.2f} GiB; checkpoint {checkpoint:.1f} GiB{unbuilt}")
    return Weights(total, per_gpu, checkpoint, reason, tuple(per_stage))


def built_parameter_groups(model: ModelFacts,
                           version: Optional[Version]) -> tuple[dict[str, float], str]:
    """The parameters vLLM builds, by role, and what they leave out: from
    DSA_SHARED_INDEXER_SINCE (0.24) a shared indexer layer builds no Indexer
    (models/deepseek_v2.py DeepseekV2MLAAttention.__init__; 0.34's load_weights drops its
    checkpoint tensors), so each role loses shared layers × the indexer's parameters."""
    groups = model.parameter_groups()
    shared = (sparse_mla.shared_indexer_layers(model.shared_indexer_layers, version)
              if version and model.indexer_parameters else frozenset())
    if not shared:
        return groups, ""
    for role, count in model.indexer_parameters.items():
        groups[role] -= len(shared) * count
    left_out = sum(model.indexer_parameters.values()) * len(shared)
    return groups, (f"; {len(shared)} shared indexer layers build no indexer on vLLM "
                    f"{version}: {left_out / 1e9:.3f} G parameters left out of the roles")


def rotary_cache_gib(model: ModelFacts) -> float:
    """RoPE's cos/sin cache, loaded with the weights on every GPU
    (vllm/model_executor/layers/rotary_embedding/base.py RotaryEmbedding.__init__: a buffer of
    max_position_embeddings × rotary_dim in the model dtype, one per distinct rope, shared by
    the layers through get_rope's _ROPE_DICT): max_context × head_dim × 2 B for GQA models.
    Llama-4-Scout-Instruct: 10,485,760 × 128 × 2 B = 2.5 GiB; Llama-3.1: 32 MiB."""
    if not model_families.is_gqa(model.attention):
        return 0.0
    return model.max_context * model.attention["head_dim"] * 2 / GIB


def activations(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version: Version,
                layout: Layout, engine: EngineLimits) -> Activations:
    """The profiling run's activation peak on each pipeline stage and the non-torch memory
    (communication buffers, CUDA graphs) on one GPU. Only the last stage runs the sampler
    (vllm/v1/worker/gpu_model_runner.py profile_run: `if get_pp_group().is_last_rank`), and
    a stage of dense layers alone keeps no fused-MoE workspace."""
    peaks = [activation_peak_gib(model.hidden_size, model.intermediate_size, model.vocab_size,
                                 layout.tensor_parallel, engine.max_num_batched_tokens,
                                 engine.max_num_seqs, version, last_stage)
             for last_stage in (False, True)]
    workspace, workspace_text = (_moe_workspace(cfg, model, gpu, version, layout, engine)
                                 if model.experts else (0.0, ""))
    stages = pipeline_stage_layers(model.layers, layout.pipeline_parallel)
    moe_stages = _stages_with_experts(stages, dense_layer_count(model))
    stage_peaks = tuple(peaks[index == len(stages) - 1] + (workspace if moe else 0.0)
                        for index, moe in enumerate(moe_stages))
    peak = max(stage_peaks)
    non_torch, non_torch_reason = _non_torch(cfg, model, gpu, version, layout,
                                             engine.max_num_batched_tokens)
    moe = (f" (forward or sampler {peaks[1]:.2f} + fused-MoE workspace "
           f"{workspace:.2f} GiB, {workspace_text})" if model.experts else "")
    staged = (f"; per stage [{', '.join(f'{gib:.2f}' for gib in stage_peaks)}] GiB, the "
              f"sampler on the last stage only (forward {peaks[0]:.2f} GiB before it)"
              if len(stages) > 1 else "")
    reason = (f"activation peak {peak:.2f} GiB{moe}{staged} + non-torch {non_torch:.2f} GiB "
              f"({non_torch_reason}) = {peak + non_torch:.2f} GiB")
    return Activations(peak, non_torch, reason, workspace, stage_peaks)


def _moe_workspace(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version: Version,
                   layout: Layout, engine: EngineLimits) -> tuple[float, str]:
    """The fused-MoE workspace on one GPU and how it was sized: batched experts behind a
    batched all-to-all (batched_moe_workspace_gib), else the expert kernel's own shapes for
    the tokens that reach it (moe_backend, tokens_at_experts, moe_workspace_gib)."""
    if uses_batched_all2all(all2all_backend(cfg), layout):
        tokens = deepep_low_latency_dispatch_tokens(engine.max_num_batched_tokens, version)
        gib = batched_moe_workspace_gib(model.experts, tokens, model.moe_intermediate_size,
                                        model.hidden_size)
        return _with_received_tokens(cfg, model, tokens, gib, (
            f"batched experts behind {all2all_backend(cfg)}: {model.experts} experts "
            f"× {tokens} tokens per rank"))
    backend = moe_backend(model.weights_dtype, model.block_quantized,
                          gpu.compute_capability, version, layout.expert_parallel)
    tokens = tokens_at_experts(engine.max_num_batched_tokens, layout.data_parallel, version)
    split = 1 if layout.expert_parallel else layout.tensor_parallel * layout.data_parallel
    intermediate, hidden = model.moe_intermediate_size, model.hidden_size
    if backend == "marlin":
        intermediate, hidden, split = marlin_workspace_sizes(model, layout)
    gib = moe_workspace_gib(tokens, model.experts_per_token, intermediate, hidden, split,
                            backend)
    return gib, f"{backend} kernels at {tokens} tokens × {model.experts_per_token} experts"


def _with_received_tokens(cfg: StackConfig, model: ModelFacts, tokens: int, workspace: float,
                          text: str) -> tuple[float, str]:
    """The batched workspace plus the tensors the low-latency dispatch returns into it
    (deepep_low_latency_receive_bytes), live while the batched experts run on them."""
    fp8 = deepep_dispatches_fp8(model.weights_dtype, model.block_quantized,
                                cfg.model.quantization)
    receive = deepep_low_latency_receive_bytes(model.experts, tokens, model.hidden_size,
                                               fp8) / GIB
    width = "1 B fp8" if fp8 else "2 B bf16"
    scales = f" + {model.hidden_size // 128} scales × 4 B" if fp8 else ""
    return workspace + receive, (
        f"{text}, {workspace:.2f} GiB + packed_recv_x {receive:.2f} GiB ({model.experts} "
        f"experts × {tokens} tokens × (hidden {model.hidden_size} × {width}{scales} + 4 B "
        f"src_info))")


def deepep_dispatches_fp8(weights_dtype: str, block_quantized: bool,
                          quantization: Optional[str]) -> bool:
    """vLLM dispatches fp8 through DeepEP's low latency (and nixl_ep) only for fp8 with
    128 × 128 block scales (fused_moe/all2all_utils.py maybe_make_prepare_finalize,
    0.20–0.34: quant_dtype == fp8 and block_shape == DEEPEP_QUANT_BLOCK_SHAPE), else bf16.
    Online `--quantization fp8` of a 16-bit checkpoint is per-tensor: bf16."""
    return weights_dtype == "fp8" and block_quantized and quantization in (None, "fp8")


def deepep_low_latency_receive_bytes(experts: int, tokens: int, hidden: int,
                                     fp8: bool) -> int:
    """What DeepEP's Buffer::low_latency_dispatch allocates for the tokens a GPU receives
    (deepseek-ai/DeepEP csrc/deep_ep.cpp; nixl_ep's copy in ai-dynamo/nixl
    examples/device/ep/csrc/nixl_ep.cpp allocates the same), in torch's allocator:
      packed_recv_x            (E_local, ranks × T, hidden) fp8 (1 B) or bf16 (2 B)
      packed_recv_x_scales     (E_local, hidden / 128, ranks × T) fp32, in fp8 only
      packed_recv_src_info     (E_local, ranks × T) int32
      packed_recv_layout_range (E_local, ranks) int64
    with E_local = E / ranks, so E × T × (hidden × width + scales × 4 + 4) + E × 8 whatever
    the EP group (packed_recv_count, E_local × 4 B, is left out). T is
    num_max_dispatch_tokens_per_rank (deepep_low_latency_dispatch_tokens). With use_ue8m0
    (Blackwell DeepGEMM) the scales are packed 4 to an int32, a quarter of this: counted as
    fp32 here. DeepSeek-R1 at 256 tokens: 256 × 256 × (7168 + 224 + 4) + 2048 B = 0.45 GiB."""
    width, scales = (1, hidden // 128) if fp8 else (2, 0)
    return experts * tokens * (hidden * width + scales * 4 + 4) + experts * 8


def batched_moe_workspace_gib(experts: int, tokens: int, moe_intermediate_size: int,
                              hidden_size: int) -> float:
    """The workspace of the batched expert kernels a batched all-to-all runs
    (BatchedDeepGemmExperts and BatchedTritonExperts.workspace_shapes, fused_moe/experts/
    batched_deep_gemm_moe.py and fused_batched_moe.py, 0.33.0): (E_local, T × dispatchers,
    max(K, N)) + (E_local, T × dispatchers, N / 2) in the activation dtype (2 B), with
    T = the MoE layer's max_num_tokens (deepep_low_latency_dispatch_tokens), dispatchers the
    EP group (all2all_manager.world_size) and E_local = E / that group, so
    = E × T × (max(K, N) + N / 2) × 2 B whatever the group size, N = 2 × moe_intermediate.
    DeepSeek-R1 at 256 tokens: 256 × 256 × (7168 + 2048) × 2 B = 1.125 GiB."""
    n = 2 * moe_intermediate_size
    return experts * tokens * (max(hidden_size, n) + n // 2) * 2 / GIB


def _non_torch(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version: Version,
               layout: Layout, max_num_batched_tokens: int) -> tuple[float, str]:
    """non_torch_gib under the layout, and the rules it followed: custom all-reduce on or off
    (custom_all_reduce_off), the all-to-all backend's buffers (all2all_buffer_gib, with
    DeepEP low-latency's RDMA buffer for max_num_batched_tokens; only an MoE model's experts
    open the all-to-all), and what the GPU held before the weights where the pinned vLLM
    counts it (pre_load_memory_gib)."""
    tp = layout.tensor_parallel
    off = custom_all_reduce_off(tp, layout.tensor_parallel_spans_nodes, gpu.interconnect)
    backend = all2all_backend(cfg)
    ll_tokens = deepep_low_latency_dispatch_tokens(max_num_batched_tokens, version)
    signal = NIXL_EP_SIGNAL_BYTES if backend == "nixl_ep" else 4
    rdma = (deepep_low_latency_rdma_bytes(ll_tokens, model.hidden_size, model.experts, signal)
            if model.experts and backend in BATCHED_ALL2ALL_BACKENDS else 0) / GIB
    all2all = (all2all_buffer_gib(backend, layout.data_parallel,
                                  layout.expert_group_spans_nodes, rdma)
               if model.experts else 0.0)
    total = non_torch_gib(tp, version, gpu.interconnect, enforce_eager(cfg), not off, all2all)
    before_weights = pre_load_memory_gib(version, max_num_batched_tokens, model.hidden_size)
    total += before_weights
    where = ("across nodes" if layout.expert_group_spans_nodes else "inside one node")
    link = "NVLink" if gpu.interconnect == "nvlink" else "PCIe"
    rules = [f"custom all-reduce on (TP {tp} inside one {link} node)" if not off
             else "no all-reduce at TP 1" if tp <= 1 else f"custom all-reduce off: {off}"]
    if all2all:
        nvl, hint = ((f"num_nvl_bytes {DEEPEP_BUFFER_GIB:.2f} GiB + ",
                      "get_low_latency_rdma_size_hint") if backend == "deepep_low_latency"
                     else ("", "get_rdma_size_hint"))
        detail = (f": {nvl}num_rdma_bytes {rdma:.2f} GiB = {hint}({ll_tokens} tokens, hidden "
                  f"{model.hidden_size}, {model.experts} experts)" if rdma else "")
        rules.append(f"{backend} all-to-all buffers {all2all:.2f} GiB ({where}{detail})")
    elif model.experts and layout.data_parallel > 1:
        rules.append(f"{backend} all-to-all keeps no buffers")
    if before_weights:
        rules.append(
            f"held before the weights {before_weights:.2f} GiB: CUDA context "
            f"{CUDA_CONTEXT_GIB:.2f} + the runner's input buffers "
            f"{before_weights - CUDA_CONTEXT_GIB:.2f} (V1 before "
            f"{vllm_features.KV_BUDGET_FROM_INIT_SNAPSHOT_SINCE} has no init snapshot)")
    return total, "; ".join(rules)


def _stages_with_experts(stages: list[int], dense_layers: int) -> list[bool]:
    """Whether each stage holds a layer past the dense first ones (a dense model: every
    stage, its workspace being 0)."""
    ends = [sum(stages[:index + 1]) for index in range(len(stages))]
    return [end > dense_layers for end in ends]


def _cache_specs(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version: Version,
                 layout: Layout) -> tuple[list, list, Optional[dict], tuple[int, int]]:
    """Each layer's KV-cache spec as the pinned vLLM forms it (kv_layer_specs: its dtype,
    block, the hybrid alignment, state dtypes and per-block state, DSA's shared indexers and
    latent format, chunked local attention without the hybrid manager), the pipeline stages'
    layer ranges, the linear-attention facts and their (conv, SSM) state bytes."""
    dtype_bytes = kv_dtype_bytes(
        model_families.kv_cache_dtype(model.attention, cfg.model.kv_cache_dtype))
    block = kv_block_size(model.attention, gpu.compute_capability, version)
    linear = model.linear_attention.model_dump() if model.linear_attention else None
    state_dtypes = kv_layout.state_dtypes(model.architecture, linear, version,
                                          cfg.engine.extra_args)
    caching = prefix_caching(cfg, kv_layout.prefix_caching_default(
        model_families.LINEAR_ATTENTION in (model.layer_types or []), version))
    per_block = kv_layout.keeps_state_per_block(linear, version, caching)
    chunk = ((linear or {}).get("chunk_size") or kv_layout.DEFAULT_MAMBA_CHUNK_SIZE
             if per_block else 0)
    specs, stages = kv_layer_specs(
        model, layout, dtype_bytes, block, caching,
        kv_layout.mla_hybrid_alignment(version, gpu.compute_capability), state_dtypes, chunk,
        sparse_mla.shared_indexer_layers(model.shared_indexer_layers, version))
    if per_block:
        specs = kv_layout.keep_state_per_block(specs)
    specs = kv_layout.with_latent_pages(specs, sparse_mla.latent_bytes_per_token(
        model.architecture, model.attention, cfg.model.kv_cache_dtype,
        gpu.compute_capability, version, layout.tensor_parallel,
        vllm_cli.flag_value(cfg.engine.extra_args, "--attention-backend")))
    if model.attention_chunk_size and not kv_layout.chunked_local_on_hybrid_manager(version):
        specs = kv_layout.without_hybrid_manager(specs)
    return specs, stages, linear, state_dtypes


def kv_cache(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version: Version,
             layout: Layout, engine: EngineLimits, weights_: Weights,
             activations_: Activations) -> KvCache:
    """What is left for the KV cache on one GPU, and what vLLM's grouped pool of blocks holds
    (planning/kv_layout.py): tokens as vLLM logs them, full-length requests, the longest
    request, and the state a linear-attention request keeps. Each pipeline stage has its own
    budget and bytes per block (stage_budgets); the stage with the fewest blocks sets them."""
    specs, stages, linear, state_dtypes = _cache_specs(cfg, model, gpu, version, layout)
    groups = kv_layout.group_layers(specs)
    budgets, binding = stage_budgets(cfg, gpu, version, engine, weights_, activations_, groups,
                                     stages)
    budget, budget_reason = budgets[binding]
    batches = in_flight_batches(cfg, model, layout, version)
    in_flight = batches * engine.max_num_batched_tokens
    length, dcp = cfg.model.max_model_len, cfg.engine.decode_context_parallel
    pool = kv_layout.pool(groups, max(budget, 0.0) * GIB, length, in_flight,
                          vllm_features.reports_kv_tokens_from_concurrency(version), dcp,
                          stages[binding:binding + 1])
    per_token = pool.bytes_per_block * len(groups) / groups[0].spec.block_size / dcp
    longest = kv_layout.longest_request(groups, pool.num_blocks, in_flight, dcp)
    state = state_gib_per_request(groups, pool.bytes_per_block, length, in_flight)
    concurrency = pool.max_concurrency * layout.data_parallel
    if any(group.spec.sliding_window or group.spec.attention_chunk_size for group in groups):
        budget_reason += (f" (each window or chunk also keeps {batches} batches of "
                          f"{engine.max_num_batched_tokens} tokens in flight: "
                          "in_flight_batches)")
    if len(budgets) > 1:
        budget_reason = (f"per stage [{', '.join(f'{gib:.2f}' for gib, _ in budgets)}] GiB; "
                         f"stage {binding + 1} of {len(budgets)} binds (the fewest blocks, which "
                         f"every stage keeps): {budget_reason}")
    reason = _kv_reason(budget_reason, budget, pool, per_token, longest, state,
                        layout.data_parallel, length, dcp)
    if linear and model_families.LINEAR_ATTENTION in (model.layer_types or []):
        reason += "; " + kv_layout.state_note(linear, layout.tensor_parallel, *state_dtypes)
    return KvCache(budget, per_token, groups[0].spec.block_size, pool.tokens, concurrency,
                   reason,
                   len(groups), longest, state,
                   pool.blocks_per_request * pool.bytes_per_block / GIB,
                   tuple(gib for gib, _ in budgets), binding)


def in_flight_batches(cfg: StackConfig, model: ModelFacts, layout: Layout,
                      version: Version) -> int:
    """Batches of max_num_batched_tokens a sliding window or chunk reserves beyond itself:
    VllmConfig.max_concurrent_batches from 0.26.0 (kv_layout.max_concurrent_batches, with the
    runner vLLM picks for the model, vllm_features.runs_v2_model_runner, and async scheduling
    unless engine.extraArgs turn it off), one before (vllm_features.reserves_in_flight_batches)."""
    if not vllm_features.reserves_in_flight_batches(version):
        return 1
    # vLLM's ModelConfig.is_hybrid is the IsHybrid interface (state layers), not windows.
    state_layers = model_families.LINEAR_ATTENTION in (model.layer_types or ())
    v2 = vllm_features.runs_v2_model_runner(version, model.architecture, bool(model.experts),
                                            state_layers)
    return kv_layout.max_concurrent_batches(layout.pipeline_parallel, async_scheduling(cfg),
                                            v2)


def async_scheduling(cfg: StackConfig) -> bool:
    """vLLM's async scheduling, on by default for a generate model on the mp or Ray V2
    executor (VllmConfig.__post_init__, 0.26–0.34), unless `--no-async-scheduling` is the
    last of the pair in engine.extraArgs (BooleanOptionalAction). Speculative methods that
    turn it off are not read."""
    last = None
    for token in cfg.engine.extra_args:
        if token in ("--async-scheduling", "--no-async-scheduling"):
            last = token
    return last != "--no-async-scheduling"


def stage_budgets(cfg: StackConfig, gpu: GpuFacts, version: Version, engine: EngineLimits,
                  weights_: Weights, activations_: Activations,
                  groups: list[kv_layout.Group], stages: list[range]
                  ) -> tuple[list[tuple[float, str]], int]:
    """Each pipeline stage's KV budget from its own weights and activation peak, and the
    stage with the fewest blocks (its budget // its bytes per block): vLLM sizes each worker
    (vllm/v1/worker/gpu_worker.py determine_available_memory), then every worker keeps the
    smallest block count (vllm/v1/core/kv_cache_planning.py get_kv_cache_configs, 0.33.0;
    kv_cache_utils.py unify_kv_cache_configs before). One stage: the whole model."""
    weights_per_stage = weights_.per_stage_gib or (weights_.per_gpu_gib,)
    peaks = activations_.stage_peaks_gib or (activations_.peak_gib,)
    budgets = [_kv_budget(cfg, gpu, version, engine, weights_gib, peak,
                          activations_.non_torch_gib)
               for weights_gib, peak in zip(weights_per_stage, peaks)]
    blocks = [max(budget, 0.0) * GIB // kv_layout.bytes_per_block(groups, stages[i:i + 1])
              for i, (budget, _) in enumerate(budgets)]
    # Ties (no blocks anywhere) go to the stage furthest below zero, the one to name.
    return budgets, min(range(len(budgets)), key=lambda i: (blocks[i], budgets[i][0]))


def _kv_reason(budget_reason: str, budget: float, pool: kv_layout.Pool, per_token: float,
               longest: int, state: float, data_parallel: int, length: int, dcp: int) -> str:
    groups, block = len(pool.groups), pool.groups[0].spec.block_size
    split = f", positions split over DCP {dcp}" if dcp > 1 else ""
    return (f"{budget_reason} = {budget:.2f} GiB per GPU; {groups} KV-cache group(s) of "
            f"{block}-token blocks, {pool.bytes_per_block:.0f} B per block ({per_token:.0f} B "
            f"per token{split}) = {pool.num_blocks} blocks = {pool.tokens} tokens as vLLM logs "
            "them; "
            f"a maxModelLen {length} request takes {pool.blocks_per_request} blocks "
            f"({pool.blocks_per_request * pool.bytes_per_block / GIB:.2f} GiB), so "
            f"{pool.max_concurrency:.2f} per rank × DP {data_parallel} = "
            f"{pool.max_concurrency * data_parallel:.2f} full-length requests; the longest "
            f"request that fits: {longest} tokens; linear-attention state per request {state:.2f} GiB")


def prefix_caching(cfg: StackConfig, default: bool = True) -> bool:
    """Prefix caching is on in vLLM V1 (for a hybrid, kv_layout.prefix_caching_default)
    unless engine.extraArgs turns it off or on; with it, a
    linear-attention layer keeps a checkpoint block besides its running state (mamba cache
    mode align: vllm/model_executor/models/config.py MambaModelConfig)."""
    enabled = default
    for token in cfg.engine.extra_args:     # argparse keeps the last of the two spellings
        flag = vllm_cli.canonical_flag(token)
        if flag in ("--enable-prefix-caching", "--no-enable-prefix-caching"):
            enabled = flag == "--enable-prefix-caching"
    return enabled


PREFIX_CACHING_STATE_BLOCKS = 2
"""MambaSpec.max_memory_usage_bytes in align mode: 2 (+ speculative) blocks per request; 1
without prefix caching (kv_cache_interface.py, 0.32.0)."""


def kv_layer_specs(model: ModelFacts, layout: Layout, dtype_bytes: int, block: int,
                   prefix_caching_on: bool = True,
                   mla_alignment: int = kv_layout.MLA_HYBRID_ALIGNMENT,
                   state_dtypes: tuple[int, int] = (2, 2), state_chunk: int = 0,
                   shared_indexers: frozenset[int] = frozenset()
                   ) -> tuple[list[kv_layout.CacheSpec], list[range]]:
    """Each layer's cache spec on one GPU in layer order (an MLA layer with DSA's indexer
    adds the indexer's spec after its own, except the `shared_indexers` layers:
    sparse_mla.shared_indexer_layers), and each pipeline stage's spec indices.
    Layer kinds come from model.layer_types (all `attention.kind` without them); a model
    with linear-attention layers takes the hybrid block size and pads each state page to the
    attention page (vllm/platforms/interface.py _align_hybrid_block_size)."""
    kinds = model.layer_types or [model_families.FULL_ATTENTION] * model.layers
    indexer = dsa_indexer_bytes_per_token(model.attention)
    per_token = kv_bytes_per_token_per_layer(model.attention, model.layers,
                                             layout.tensor_parallel, dtype_bytes) - indexer
    attention_kind = (model_families.MLA if model_families.is_mla(model.attention)
                      else model_families.FULL_ATTENTION)
    if model_families.LINEAR_ATTENTION in kinds:
        state = kv_layout.linear_state_bytes(model.linear_attention.model_dump(),
                                             layout.tensor_parallel, *state_dtypes)
        block = (kv_layout.prefix_cached_block_size(state, per_token, block, state_chunk)
                 if state_chunk else
                 kv_layout.hybrid_block_size(state, per_token, block,
                                             model_families.is_mla(model.attention),
                                             mla_alignment))
    specs, per_layer = [], []
    for index, kind in enumerate(kinds):
        if not model_families.keeps_cache(kind):    # Nemotron-H's MLP/MoE layers
            per_layer.append(0)
            continue
        layer = [_layer_spec(kind, attention_kind, block, block * per_token,
                             model.sliding_window or 0, prefix_caching_on,
                             model.attention_chunk_size or 0)]
        if (indexer and not model_families.keeps_state(kind)
                and index not in shared_indexers):
            layer.append(kv_layout.CacheSpec(attention_kind, block, block * indexer,
                                             role="indexer"))
        specs += layer
        per_layer.append(len(layer))
    return specs, _stage_spec_ranges(per_layer, layout.pipeline_parallel)


def _layer_spec(kind: str, attention_kind: str, block: int, page: float, window: int,
                prefix_caching_on: bool, chunk: int = 0) -> kv_layout.CacheSpec:
    if model_families.keeps_state(kind):
        blocks = PREFIX_CACHING_STATE_BLOCKS if prefix_caching_on else 1
        return kv_layout.CacheSpec(kind, block, page, state_blocks=blocks)
    if model_families.keeps_window(kind):
        return kv_layout.CacheSpec(kind, block, page, sliding_window=window)
    if model_families.keeps_chunk(kind):
        return kv_layout.CacheSpec(kind, block, page, attention_chunk_size=chunk)
    return kv_layout.CacheSpec(attention_kind, block, page)


def _stage_spec_ranges(per_layer: list[int], pipeline_parallel: int) -> list[range]:
    """Spec indices of each pipeline stage (layers split as pipeline_stage_layers)."""
    if pipeline_parallel <= 1:
        return []
    ranges, start, layer = [], 0, 0
    for count in pipeline_stage_layers(len(per_layer), pipeline_parallel):
        end = start + sum(per_layer[layer:layer + count])
        ranges.append(range(start, end))
        start, layer = end, layer + count
    return ranges


def state_gib_per_request(groups: list[kv_layout.Group], bytes_per_block: float,
                          max_model_len: int,
                          in_flight: int) -> float:
    """The pool memory a request's linear-attention state holds whatever its length: the
    state groups' blocks × bytes per block (every group draws whole pool blocks)."""
    blocks = sum(group.spec.blocks_per_request(max_model_len, in_flight) for group in groups
                 if model_families.keeps_state(group.spec.kind))
    return blocks * bytes_per_block / GIB


def _kv_budget(cfg: StackConfig, gpu: GpuFacts, version: Version, engine: EngineLimits,
               weights_gib: float, peak: float, non_torch: float) -> tuple[float, str]:
    """The KV budget of one GPU by the pinned vLLM's rule, and its arithmetic: the profiling
    estimate (kv_budget_gib), or from 0.34 the memory measured after CUDA-graph capture
    (measured_kv_budget_gib)."""
    total, utilization = gpu.memory_gib, engine.gpu_memory_utilization
    if not engine.measured_kv:
        return (kv_budget_gib(total, utilization, weights_gib, peak, non_torch),
                f"{total} GiB × {utilization} − weights {weights_gib:.2f} − activations "
                f"{peak:.2f} − non-torch {non_torch:.2f}")
    graphs = cuda_graph_gib(version, enforce_eager(cfg))
    resident, transient = weights_gib + non_torch, peak + graphs
    margin = max(KV_MARGIN_FLOOR_GIB, KV_MARGIN_FRACTION * transient)
    budget = measured_kv_budget_gib(total, utilization, weights_gib, peak, non_torch,
                                           graphs)
    return budget, (
        f"measured after CUDA-graph capture (vLLM {vllm_features.EXTENSIBLE_KV_CACHE_SINCE}+): "
        f"min({total} GiB × {utilization}, {total} − CUDA context "
        f"{CUDA_CONTEXT_GIB:g} − margin max({KV_MARGIN_FLOOR_GIB:g}, "
        f"{KV_MARGIN_FRACTION:g} × transient) {margin:.2f}) − resident (weights "
        f"{weights_gib:.1f} + non-torch {non_torch:.2f}) {resident:.2f} − transient "
        f"(activations {peak:.2f} + CUDA-graph estimate {graphs:.2f}) {transient:.2f}")


def stage_kv_budget(cfg: StackConfig, gpu: GpuFacts, version: Version, engine: EngineLimits,
                    weights_gib: float, peak: float, non_torch: float) -> tuple[float, str]:
    """A stage's KV budget by the pinned vLLM's rule and its arithmetic (_kv_budget) from the
    terms given: what a refusal quotes or weighs (planning/checks.py: a stage's own terms, or
    its budget without the fused-MoE workspace)."""
    return _kv_budget(cfg, gpu, version, engine, weights_gib, peak, non_torch)


def gpu_memory(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, version: Version,
               layout: Layout) -> GpuMemory:
    """Engine limits → weights → activations → KV cache, for one layout."""
    engine = engine_limits(cfg, gpu, version, layout)
    weights_ = weights(cfg, model, layout, gpu, version)
    activations_ = activations(cfg, model, gpu, version, layout, engine)
    return GpuMemory(engine, weights_, activations_,
                     kv_cache(cfg, model, gpu, version, layout, engine, weights_, activations_))


GIB = 2**30
MIB = 2**20


WEIGHT_ROLES = ("embedding", "head", "norms_and_gates", "replicated_linear", "sharded_linear",
                "experts")
"""Parameter roles by where vLLM puts them and how it quantizes them:
- embedding, head: VocabParallelEmbedding / ParallelLMHead, vocab rows split by TP (padded to
  a multiple of 64), never quantized; the embedding sits on the first pipeline stage, the head
  on the last (vllm/model_executor/layers/vocab_parallel_embedding.py; models/llama.py).
- norms_and_gates: RMSNorms and MoE router gates, full on every TP rank, never quantized (the
  gate is built with quant_config=None, deepseek_v2.py).
- replicated_linear: linears every TP rank holds in full (MLA's q_a_proj / kv_a_proj_with_mqa,
  ReplicatedLinear or disable_tp=True), quantized like other linears.
- sharded_linear: attention and dense/shared-expert MLP linears, split by TP.
- experts: routed experts (FusedMoE), spread over TP × DP GPUs whether or not expert
  parallelism is on (fused_moe/config.py FusedMoEParallelConfig.make, flatten_tp_across_dp)."""

_16BIT = {"embedding": 2.0, "head": 2.0, "norms_and_gates": 2.0}
FP8_BLOCK_SCALE_BYTES = 4 / (128 * 128)
"""One FP32 scale per 128 × 128 block of an FP8 block-quantized weight (utils/fp8_utils.py)."""
MXFP4_BYTES = 0.5 + 1 / 32
"""FP4 packed two per byte + one E8M0 scale byte per 32 elements (quantization/mxfp4.py)."""
NVFP4_BYTES = 0.5 + 1 / 16
"""NVFP4: FP4 packed two per byte (uint8 [N, K/2]) + one FP8 E4M3 block scale per 16 weights
(weight_scale [N, K/16]); the FP32 global scales are one per tensor (weight_scale_2,
input_scale) and count nothing (vllm/model_executor/layers/quantization/modelopt.py
ModelOptNvFp4LinearMethod.create_weights, 0.24.0 and 0.34.0; compressed_tensors/schemes/
compressed_tensors_w4a4_nvfp4.py the same). On compute capability 10.x/12.x the CUTLASS and
FlashInfer kernels swizzle the block scales into a [round_up(N, 128), round_up(K/16, 4)] tile
(utils/nvfp4_utils.py swizzle_blockscale): no padding when N is a multiple of 128 and K of 64,
as every linear and expert of the models planned is at TP ≤ 4 (Qwen3-30B-A3B's 768-wide experts
at TP 8 pad K/16 from 6 to 8: +1/48 B per weight, not counted). On Ampere/Hopper the Marlin FP4
fallback (utils/marlin_utils_fp4.py prepare_fp4_layer_for_marlin) repacks the 4-bit weights and
rewrites the scales as FP8 again, one per 16: the same bytes. Experts (fused_moe/oracle/nvfp4.py
select_nvfp4_moe_backend: FlashInfer TRT-LLM/CuteDSL/CUTLASS, vLLM CUTLASS, then Marlin) keep the
same layout; FlashInfer pads the expert intermediate to a multiple of 16 and TRT-LLM the hidden
size to 256 (utils/flashinfer_utils.py align_fp4_moe_weights_for_fi,
align_trtllm_fp4_moe_hidden_dim_for_fi): no padding for the shapes planned."""
GPTQ_INT4_BYTES = 0.5 + 2 / 128
"""4-bit weights + one 16-bit scale per group of 128 (symmetric GPTQ after the Marlin repack,
which drops zero points; AWQ keeps 4-bit zeros: + 0.5/128, within 1 %)."""

ROLE_BYTES: dict[str, dict[str, float]] = {
    "bf16": dict.fromkeys(WEIGHT_ROLES, 2.0),
    "fp16": dict.fromkeys(WEIGHT_ROLES, 2.0),
    "fp8": {**_16BIT, "replicated_linear": 1 + FP8_BLOCK_SCALE_BYTES,
            "sharded_linear": 1 + FP8_BLOCK_SCALE_BYTES, "experts": 1 + FP8_BLOCK_SCALE_BYTES},
    "fp8-online": {**_16BIT, "replicated_linear": 1.0, "sharded_linear": 1.0, "experts": 1.0},
    "int8": {**_16BIT, "replicated_linear": 1.0, "sharded_linear": 1.0, "experts": 1.0},
    "int4": {**_16BIT, "replicated_linear": GPTQ_INT4_BYTES, "sharded_linear": GPTQ_INT4_BYTES,
             "experts": GPTQ_INT4_BYTES},
    model_families.MXFP4: {**_16BIT, "replicated_linear": 2.0, "sharded_linear": 2.0,
              "experts": MXFP4_BYTES},
    model_families.FP4_FP8: {**_16BIT, "replicated_linear": 1 + 1 / (128 * 128),
                "sharded_linear": 1 + 1 / (128 * 128), "experts": MXFP4_BYTES},
    model_families.NVFP4: {**_16BIT, "replicated_linear": NVFP4_BYTES,
                           "sharded_linear": NVFP4_BYTES, "experts": NVFP4_BYTES},
}
"""Bytes per parameter of each role, by checkpoint scheme (models.yaml weights_dtype):
- bf16/fp16: 2 everywhere.
- fp8: FP8 block checkpoints (DeepSeek V3/R1): linears and experts 1 byte + FP32 block scales;
  embeddings, head, norms and gates stay 16-bit (their BF16 count in the checkpoint).
- fp8-online: `--quantization fp8` of a 16-bit model: the same roles at 1 byte, per-tensor
  scales (vllm/model_executor/layers/quantization/fp8.py Fp8Config.get_quant_method: LinearBase
  and FusedMoE only).
- int8 (W8A8) 1 byte, int4 (GPTQ/AWQ, group 128) 0.516 bytes for the linears.
- mxfp4 (gpt-oss): only the routed experts are FP4 (its modules_to_not_convert keep attention,
  router, embeddings and head in BF16).
- fp4-fp8 (DeepSeek V4): experts MXFP4, other linears FP8 with E8M0 block scales.
- nvfp4 (Model Optimizer / compressed-tensors NVFP4): every linear and expert NVFP4_BYTES; the
  excluded modules 16-bit (weights_by_role names the roles they cover)."""


DEFAULT_INT4_GROUP = 128
"""The group size GPTQ_INT4_BYTES counts, and a 4-bit role's when the facts give none."""


def quantized_bytes_per_param(dtype: str, group_size: Optional[int] = None,
                              zero_points: bool = False) -> float:
    """Bytes one weight of a role costs on the GPU at its own width:
      bf16/fp16 2; fp8 1 + FP32 128×128 block scales (FP8_BLOCK_SCALE_BYTES); mxfp4
      MXFP4_BYTES; int4 0.5 + one 16-bit scale per group (+ a 4-bit zero point per group
      when the format keeps them, AWQ: vllm/model_executor/layers/quantization/awq_marlin.py
      keeps qzeros, GPTQ/compressed-tensors symmetric do not); int8 1 (+ 2 / group when grouped).
    Example: int4 group 32 (Kimi-K2-Thinking's experts) = 0.5 + 2/32 = 0.5625 B.
    """
    if dtype in ("bf16", "fp16"):
        return 2.0
    if dtype == "fp8":
        return 1 + FP8_BLOCK_SCALE_BYTES
    if dtype == model_families.MXFP4:
        return MXFP4_BYTES
    if dtype == model_families.NVFP4:
        return NVFP4_BYTES
    if dtype == "int4":
        group = group_size or DEFAULT_INT4_GROUP
        return 0.5 + 2 / group + (0.5 / group if zero_points else 0.0)
    if dtype == "int8":
        return 1.0 + (2 / group_size + (1 / group_size if zero_points else 0.0)
                      if group_size else 0.0)
    raise ValueError(f"no bytes-per-parameter figure for a role stored as {dtype!r}")


def role_widths(weights_scheme: str, by_role: Optional[dict] = None) -> dict[str, float]:
    """Bytes per parameter of each role: the scheme's (ROLE_BYTES), with the roles the facts'
    weights_by_role names at their own width (quantized_bytes_per_param)."""
    widths = dict(ROLE_BYTES[weights_scheme])
    for role, width in (by_role or {}).items():
        spec = width if isinstance(width, dict) else width.model_dump()
        widths[role] = quantized_bytes_per_param(spec["dtype"], spec.get("group_size"),
                                                 spec.get("zero_points", False))
    return widths


def scheme(weights_dtype: str, quantization: str | None) -> str:
    """The checkpoint's storage scheme in GPU memory: `--quantization fp8` of a 16-bit model
    is fp8-online; anything else is the checkpoint's own dtype."""
    if quantization in ("fp8", "fp8_per_tensor") and model_families.is_sixteen_bit(weights_dtype):
        return "fp8-online"
    if weights_dtype not in ROLE_BYTES:
        raise ValueError(f"no bytes-per-parameter figures for weights dtype {weights_dtype!r}")
    return weights_dtype


def weight_gib(groups: dict[str, float], weights_scheme: str,
               widths: Optional[dict[str, float]] = None) -> float:
    """Weight memory of the whole model in GiB = Σ roles params × bytes per param (ROLE_BYTES).

    Example (DeepSeek-R1, fp8, MTP excluded): 1.961 G 16-bit params × 2 + 669.07 G FP8 × (1 +
    4/16384) = 626.9 GiB (the checkpoint's own BF16 / F8_E4M3 / F32 counts give the same).
    `widths` (role_widths) replaces the scheme's when the roles are stored at mixed widths.
    """
    scheme_widths = ROLE_BYTES[weights_scheme]      # an unknown scheme fails even with widths
    widths = widths or scheme_widths
    return sum(groups[role] * widths[role] for role in WEIGHT_ROLES) / GIB


def expert_intermediate_per_gpu(intermediate_size: int, tensor_parallel: int,
                                data_parallel: int, expert_parallel: bool) -> int:
    """An expert's intermediate size on one GPU: whole experts with expert parallelism, else
    split over TP × DP (vLLM's FusedMoE flattens TP across DP). 2880 at TP 2 → 1440."""
    return intermediate_size if expert_parallel else intermediate_size // (
        tensor_parallel * data_parallel)


def mxfp4_expert_padding(hidden_size: int, intermediate_per_gpu: int,
                         compute_capability: float, version: Optional[Version] = None) -> float:
    """How much larger MXFP4 experts are in GPU memory than in the checkpoint: vLLM pads each
    expert's hidden (H) and intermediate (I, per GPU) sizes for the MoE kernel it picks by GPU
    and version (facts/mxfp4_moe.py backend, padding): FlashInfer on compute capability 10.x
    (H and I to multiples of 256), Marlin below 9, on Hopper before vLLM 0.12 and from 11
    (consumer Blackwell) (I to 128, H to 256), Triton on Hopper from 0.12 (I to 64).
    factor = H_pad × I_pad / (H × I) (w13 is 2·I × H, w2 H × I).
    Example (gpt-oss, H = I = 2880): Hopper at TP 2: 1472 / 1440 = 1.022; A100: 3072 × 2944 /
    2880² = 1.090.
    """
    kernel = mxfp4_moe.backend(compute_capability, version)
    return mxfp4_moe.padding(hidden_size, intermediate_per_gpu, kernel)


MXFP4_SCALE_BYTES = 1 / 32
"""One E8M0 scale byte per 32 MXFP4 weights (the scale part of MXFP4_BYTES)."""


def mxfp4_resident_factor(hidden_size: int, intermediate_per_gpu: int,
                          compute_capability: float, version: Optional[Version] = None) -> float:
    """How much larger MXFP4 experts are on the GPU than at MXFP4_BYTES per weight: the
    kernel's padding (mxfp4_expert_padding), and on the Triton backend the checkpoint's
    scales a second time. Its process_weights_after_loading swizzles weights and scales into
    new tensors and deletes only the old weights (`del layer.w13_weight`, `del
    layer.w2_weight`; w13_weight_scale / w2_weight_scale stay registered), so the E8M0 scales
    are resident twice (vllm/model_executor/layers/quantization/mxfp4.py,
    Mxfp4MoEMethod.process_weights_after_loading, Triton branch; facts/mxfp4_moe.py
    keeps_checkpoint_scales).
    Triton on Hopper also pads its swizzled scales and re-makes the experts' biases in
    float32 (facts/mxfp4_moe.py extra_resident_bytes_per_expert), per expert relative to its
    3 × H × I × MXFP4_BYTES.
    factor = padding + MXFP4_SCALE_BYTES / MXFP4_BYTES + extra / (3 H I MXFP4_BYTES) on
    Triton, padding elsewhere.
    Example (gpt-oss, TP 1, H100): vLLM 0.14 (Triton) 1 + (1/32) / 0.53125 + 46,080 /
    13,219,200 = 1.0623; 0.10.1 (Marlin) 3072 × 2944 / 2880² = 1.0904.
    """
    padding = mxfp4_expert_padding(hidden_size, intermediate_per_gpu, compute_capability, version)
    kernel = mxfp4_moe.backend(compute_capability, version)
    if not mxfp4_moe.keeps_checkpoint_scales(kernel):
        return padding
    extra = mxfp4_moe.extra_resident_bytes_per_expert(hidden_size, intermediate_per_gpu,
                                                      kernel, version)
    return (padding + MXFP4_SCALE_BYTES / MXFP4_BYTES
            + extra / (3 * hidden_size * intermediate_per_gpu * MXFP4_BYTES))


def pipeline_stage_layers(layers: int, pipeline_parallel: int) -> list[int]:
    """Layers on each pipeline stage, as vLLM splits them (distributed/utils.py get_pp_indices):
    layers // PP each, and the remainder one each to the stages before the last, from the
    second-to-last backwards. 61 / 4 → [15, 15, 16, 15]; 27 / 2 → [14, 13]."""
    parts = [layers // pipeline_parallel] * pipeline_parallel
    for index in range(2, layers % pipeline_parallel + 2):
        parts[-index] += 1
    return parts


def mla_decompressed_bytes_per_layer(attention: dict, tensor_parallel: int) -> float:
    """BF16 copies vLLM's MLA backends make of kv_b_proj (W_UK_T and W_UV, for the decode
    path; v1/attention/backends/mla/common.py process_weights_after_loading), per layer per
    GPU = kv_lora_rank × heads / TP × (qk_nope_head_dim + v_head_dim) × 2 bytes; 0 when the
    facts lack the two head dims. DeepSeek-V3 at TP 8: 512 × 16 × 256 × 2 = 4 MiB per layer."""
    if not model_families.is_mla(attention) or "qk_nope_head_dim" not in attention:
        return 0.0
    return (attention["kv_lora_rank"] * attention["heads"] / tensor_parallel
            * (attention["qk_nope_head_dim"] + attention["v_head_dim"]) * 2)


def dense_layer_count(model: ModelFacts) -> int:
    """Layers of a mixture-of-experts model built with a dense MLP instead of routed experts:
    the layers less the MoE layers the experts' parameter count holds,
      MoE layers = parameters.experts / (experts × 3 × hidden × moe_intermediate_size)
    (gate, up and down per expert). vLLM builds the dense ones first: an MoE block only from
    layer_idx ≥ first_k_dense_replace (vllm/model_executor/models/deepseek_v2.py
    DeepseekV2DecoderLayer, glm4_moe.py alike). 0 for a dense model, and when the count is
    not a whole number of layers (every layer then counts alike).
    DeepSeek-R1: 653.9 G / (256 × 3 × 7168 × 2048) = 58 MoE layers of 61 → 3."""
    if not (model.experts and model.moe_intermediate_size and model.parameters):
        return 0
    per_layer = model.experts * 3 * model.hidden_size * model.moe_intermediate_size
    moe_layers, rest = divmod(model.parameters.experts, per_layer)
    if rest or not 0 < moe_layers <= model.layers:
        return 0
    return model.layers - moe_layers


def dense_mlp_params(model: ModelFacts) -> int:
    """One dense layer's MLP (DeepseekV2MLP: gate_up 2 × I × H + down I × H, no bias), part
    of the sharded_linear role = 3 × hidden × intermediate_size."""
    return 3 * model.hidden_size * model.intermediate_size


def weight_gib_per_gpu(groups: dict[str, float], weights_scheme: str, layers: int,
                       tensor_parallel: int, pipeline_parallel: int = 1,
                       data_parallel: int = 1, tie_word_embeddings: bool = False,
                       attention: Optional[dict] = None, expert_padding: float = 1.0,
                       widths: Optional[dict[str, float]] = None) -> float:
    """Weights the fullest GPU holds: the largest of weight_gib_per_stage (every layer alike).
    Example (Qwen-32B, TP 2): (0.779 G + 0.779 G + 31.206 G) × 2 / 2 = 30.5 GiB."""
    return max(weight_gib_per_stage(groups, weights_scheme, layers, tensor_parallel,
                                    pipeline_parallel, data_parallel, tie_word_embeddings,
                                    attention, expert_padding, widths))


def weight_gib_per_stage(groups: dict[str, float], weights_scheme: str, layers: int,
                         tensor_parallel: int, pipeline_parallel: int = 1,
                         data_parallel: int = 1, tie_word_embeddings: bool = False,
                         attention: Optional[dict] = None, expert_padding: float = 1.0,
                         widths: Optional[dict[str, float]] = None, dense_layers: int = 0,
                         dense_mlp_params: float = 0.0) -> list[float]:
    """Weights one GPU of each pipeline stage holds, in GiB.

    Stage s with n_s of L layers, d_s of them among the first `dense_layers` (dense_layer_count;
    a dense MLP of dense_mlp_params, no experts), on each of its TP × DP GPUs:
      embedding / TP           on the first stage (and the last when tied)
      + head / TP              on the last stage
      + n_s / L × (norms_and_gates + replicated_linear)      full on every TP rank
      + n_s / L × (sharded_linear − dense MLPs) / TP + d_s × dense MLP / TP
      + (n_s − d_s) / (L − dense_layers) × experts / (TP × DP)   experts spread over TP × DP
      + n_s × MLA BF16 copies (mla_decompressed_bytes_per_layer)
    each role at its bytes per parameter, the experts × expert_padding (MXFP4 kernels). Every
    DP rank holds its own copy of all but the experts. Shared experts and router gates sit in
    MoE layers only but are spread over all (< 0.5 % of a DeepSeek stage).
    `widths` (role_widths) replaces the scheme's bytes per parameter for mixed widths.
    """
    scheme_widths = ROLE_BYTES[weights_scheme]      # an unknown scheme fails even with widths
    widths = widths or scheme_widths
    size = {role: groups[role] * widths[role] for role in WEIGHT_ROLES}
    size["experts"] *= expert_padding
    dense_mlp = dense_mlp_params * widths["sharded_linear"]
    spread = (size["norms_and_gates"] + size["replicated_linear"]
              + (size["sharded_linear"] - dense_layers * dense_mlp) / tensor_parallel)
    mla = mla_decompressed_bytes_per_layer(attention or {}, tensor_parallel)
    stages = pipeline_stage_layers(layers, pipeline_parallel)
    per_stage, start = [], 0
    for index, stage_layers in enumerate(stages):
        first, last = index == 0, index == len(stages) - 1
        dense = min(max(dense_layers - start, 0), stage_layers)
        held = (stage_layers / layers * spread + dense * dense_mlp / tensor_parallel
                + (stage_layers - dense) / (layers - dense_layers)
                * size["experts"] / (tensor_parallel * data_parallel))
        if first or (last and tie_word_embeddings):
            held += size["embedding"] / tensor_parallel
        if last:
            held += size["head"] / tensor_parallel
        per_stage.append((held + stage_layers * mla) / GIB)
        start += stage_layers
    return per_stage


def kv_dtype_bytes(kv_cache_dtype: str) -> int:
    """Bytes per cached element: 2 for `auto` (the 16-bit activation dtype), 1 for fp8."""
    return 1 if kv_cache_dtype == "fp8" else 2


def kv_bytes_per_token_per_layer(attention: dict, layers: int, tensor_parallel: int,
                                 dtype_bytes: int) -> float:
    """Cache bytes one token costs in one layer on one GPU, as vLLM allocates it.

    - gqa (MHA/GQA): 2 (K and V) × max(1, kv_heads / TP) × head_dim × dtype_bytes; KV heads are
      split by TP and replicated when TP exceeds them.
    - mla (DeepSeek V2/V3/R1): (kv_lora_rank + qk_rope_head_dim) × dtype_bytes, NOT split by TP:
      every TP rank holds the whole latent cache; + V3.2's DSA indexer keys
      (dsa_indexer_bytes_per_token).
    - deepseek_v4: the whole-model figure in the facts (compressed fp8 cache) / layers; one KV
      head, so TP does not split it either.
    Example: Qwen-32B at TP 2: 2 × 4 × 128 × 2 = 2048 bytes.
    """
    if model_families.is_gqa(attention):
        heads_per_gpu = max(1, attention["kv_heads"] // tensor_parallel)
        return 2 * heads_per_gpu * attention["head_dim"] * dtype_bytes
    if model_families.is_mla(attention):
        latent = (attention["kv_lora_rank"] + attention["qk_rope_head_dim"]) * dtype_bytes
        return latent + dsa_indexer_bytes_per_token(attention)
    if model_families.is_deepseek_v4(attention):
        return attention["kv_bytes_per_token"] / layers
    raise ValueError(f"unknown attention kind {attention['kind']!r}")


DSA_SCALE_BLOCK = 128
"""Indexer keys carry one 4-byte fp32 scale per 128 fp8 values (Indexer.quant_block_size)."""


def dsa_indexer_bytes_per_token(attention: dict) -> int:
    """Bytes per token and layer of DeepSeek-V3.2's sparse-attention (DSA) indexer cache: fp8
    keys of index_head_dim plus 4 bytes of scale per 128, stored as uint8 whatever
    --kv-cache-dtype says (vllm/model_executor/models/deepseek_v2.py Indexer k_cache =
    DeepseekV32IndexerCache(head_dim + head_dim // 128 × 4, uint8), whose get_kv_cache_spec is
    an MLAAttentionSpec of one head with the main cache's block size, so it adds per token).
    0 without index_head_dim. V3.2: 128 + 4 = 132 B."""
    dim = attention.get("index_head_dim")
    return dim + dim // DSA_SCALE_BLOCK * 4 if dim else 0


def kv_bytes_per_token_per_gpu(attention: dict, layers: int, tensor_parallel: int,
                               pipeline_parallel: int, dtype_bytes: int) -> float:
    """Cache bytes per token on one GPU = per-layer bytes × ceil(layers / PP)."""
    per_layer = kv_bytes_per_token_per_layer(attention, layers, tensor_parallel, dtype_bytes)
    return per_layer * math.ceil(layers / pipeline_parallel)


LARGEST_SCHEDULER_TIER_SINCE = "0.28.0"
"""EngineArgs.get_batch_defaults' `device_memory >= 160 * GiB_bytes` tier (B200/B300: 16384
tokens, 1024 sequences for the OpenAI server): in the 0.28.0-0.34.0 wheels, not in 0.27.0."""
GB10_OUT_OF_LARGE_TIER_SINCE = "0.33.0"
"""get_batch_defaults' `not is_gb10` (compute capability 12.1, DGX Spark): in the 0.33.0 and
0.34.0 wheels, not in 0.32.0."""


def default_scheduler_limits(memory_gib: float, compute_capability: float,
                             version: Optional[Version] = None) -> tuple[int, int]:
    """vLLM V1's defaults for the OpenAI server: (max_num_batched_tokens, max_num_seqs).

    vllm/engine/arg_utils.py (_set_default_args for V1, get_batch_defaults later): GPUs with
    at least 160 GiB get 16384 tokens and 1024 sequences (LARGEST_SCHEDULER_TIER_SINCE); at
    least 70 GiB and not A100 (H100/H200 class; GB10 left out from
    GB10_OUT_OF_LARGE_TIER_SINCE) 8192 and 1024; everything else 2048 and 256.
    """
    def since(name: str) -> bool:
        return version is not None and version >= vllm_features.parse(name)
    if memory_gib >= 160 and since(LARGEST_SCHEDULER_TIER_SINCE):
        return 16384, 1024
    gb10 = compute_capability == 12.1 and since(GB10_OUT_OF_LARGE_TIER_SINCE)
    if memory_gib >= 70 and compute_capability >= 9.0 and not gb10:
        return 8192, 1024
    return 2048, 256


NON_TORCH_GIB = 0.25
"""Memory vLLM's profiler counts as non-torch on one GPU (cuBLAS/cuDNN workspaces)."""
COMMUNICATION_GIB = {"nvlink": 1.8, "pcie": 0.5}
"""Extra non-torch memory with TP > 1: NCCL and custom all-reduce buffers allocated on first
use, after vLLM's memory snapshot (vllm/v1/worker/gpu_worker.py init_device). ~1.8 GiB on
NVLink nodes (vllm-project/vllm#10511: 1.79 GiB on H100); PCIe cards use far smaller P2P
buffers (0.5 GiB kept as an upper estimate)."""
CUDA_GRAPH_GIB = 1.0
"""CUDA-graph pool estimate vLLM subtracts from the KV budget from 0.20.0 on
(VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS defaults on in 0.20's envs.py); vLLM 0.19 logs print
estimates of 0.6–1.4 GiB for 7B–70B models. Skipped with --enforce-eager (no graphs)."""


def activation_peak_gib(hidden_size: int, intermediate_size: int, vocab_size: int,
                        tensor_parallel: int, max_num_batched_tokens: int,
                        max_num_seqs: int,
                        version: vllm_features.Version = vllm_features.parse("0.20.0"),
                        last_stage: bool = True) -> float:
    """Peak activation memory of vLLM's profiling on one GPU.

    vLLM's profile_run (vllm/v1/worker/gpu_model_runner.py) runs one forward pass of
    max_num_batched_tokens (T) tokens, frees it, then the sampler on max_num_seqs (S) rows, so
    the peak is the larger of the two, not their sum; only the last pipeline stage runs the
    sampler (`last_stage`), the others the forward alone:
      forward: MLP gate_up 2 × I/TP plus the activated I/TP per token -> T × 3 × I/TP × 2 bytes
               + residual, norm, attention in/out per token           -> T × 4 × H × 2 bytes
      sampler: S × V × bytes per logit (facts/vllm_features.py sampler_bytes_per_logit: 28
               before 0.17, 14 from 0.17; not split by TP)
    Example (Qwen-32B, TP 2, T 2048, S 256, 0.20): max(0.16 + 0.08, 0.51) = 0.51 GiB.
    """
    forward = (max_num_batched_tokens * 3 * (intermediate_size / tensor_parallel) * 2
               + max_num_batched_tokens * 4 * hidden_size * 2)
    sampler = max_num_seqs * vocab_size * vllm_features.sampler_bytes_per_logit(version)
    return max(forward, sampler if last_stage else 0) / GIB


MOE_BACKENDS = ("triton", "deep_gemm", "oai_triton", "marlin")
"""The fused-MoE expert kernels whose workspace differs (vLLM 0.33.0,
vllm/model_executor/layers/fused_moe/experts/): TritonExperts (triton_moe.py), DeepGemmExperts
for FP8 block weights on Hopper and newer (deep_gemm_moe.py), OAI's triton_kernels for MXFP4
(gpt_oss_triton_kernels_moe.py), MarlinExperts for MXFP4 where facts/mxfp4_moe.py backend
picks Marlin (marlin_moe.py)."""


def moe_backend(weights_dtype: str, block_quantized: bool, compute_capability: float,
                version: vllm_features.Version = vllm_features.parse("0.16.0"),
                expert_parallel: bool = False) -> str:
    """Which expert kernel vLLM picks, as far as the workspace goes: for FP8 block weights on
    compute capability ≥ 9.0 DeepGEMM (the same rule as its warm-up, facts/vllm_features.py
    warms_up_deep_gemm), except Triton for tensor-parallel experts on Hopper from 0.17
    (vllm_features.runs_block_fp8_experts_on_triton; expert-parallel ones keep DeepGEMM's
    larger workspace though FlashInfer CUTLASS may take them); for MXFP4 Marlin where
    facts/mxfp4_moe.py backend picks it (below 9, Hopper before 0.12, 11 and up), else OAI
    triton (FlashInfer's own workspace on 10.x is not modelled); Triton otherwise."""
    if block_quantized and compute_capability >= 9.0:
        if vllm_features.runs_block_fp8_experts_on_triton(version, compute_capability,
                                                          expert_parallel):
            return "triton"
        return "deep_gemm"
    if weights_dtype == model_families.MXFP4:
        marlin = mxfp4_moe.backend(compute_capability, version) == mxfp4_moe.MARLIN
        return "marlin" if marlin else "oai_triton"
    return "triton"


def marlin_workspace_sizes(model: ModelFacts, layout: Layout) -> tuple[int, int, int]:
    """(intermediate, hidden, split) Marlin's workspace sees: the per-GPU intermediate and
    the hidden size after Marlin's padding (facts/mxfp4_moe.py padded_sizes), the activations
    padded to the latter (runner/moe_runner.py _maybe_pad_hidden_states, 0.34.0), the split
    already applied."""
    per_gpu = expert_intermediate_per_gpu(model.moe_intermediate_size, layout.tensor_parallel,
                                          layout.data_parallel, layout.expert_parallel)
    hidden, intermediate = mxfp4_moe.padded_sizes(model.hidden_size, per_gpu, mxfp4_moe.MARLIN)
    return intermediate, hidden, 1


def tokens_at_experts(max_num_batched_tokens: int, data_parallel: int,
                      version: vllm_features.Version) -> int:
    """Tokens one fused-MoE call sizes its workspace for in the profiling run.

    = max_num_batched_tokens × DP, capped by the fused-MoE chunk (facts/vllm_features.py
    fused_moe_chunk_tokens: 32,768 before 0.12, 16,384 from 0.12, no cap from 0.18).
    With data parallelism vLLM's default all-to-all gathers every DP rank's tokens before the
    experts (distributed/device_communicators/all2all.py AgRsAll2AllManager
    `dispatch_router_logits`, sizes from forward_context.py DPMetadata `sp_local_sizes`,
    "without any chunking"; config/parallel.py defaults all2all_backend to
    allgather_reducescatter in 0.15–0.33), and the profiling run gives every DP rank the same
    dummy batch. vLLM's per-rank DP chunking (VLLM_MOE_DP_CHUNK_SIZE) applies only to the
    pplx/DeepEP low-latency/mori/NIXL kernels (`use_dp_chunking`), not to the default.
    Example (DeepSeek-R1, DP 8 × EP, 8,192 tokens, 0.20): 65,536 tokens.
    """
    tokens = max_num_batched_tokens * data_parallel
    chunk = vllm_features.fused_moe_chunk_tokens(version)
    return tokens if chunk is None else min(tokens, chunk)


def moe_workspace_gib(tokens: int, experts_per_token: int, moe_intermediate_size: int,
                      hidden_size: int, expert_tensor_parallel: int, backend: str) -> float:
    """The fused-MoE workspace one GPU keeps for `tokens` reaching its experts in the
    profiling run (tokens_at_experts), on top of the forward-or-sampler peak.

    vLLM 0.33.0 fused_moe/modular_kernel.py `_allocate_buffers` asks the experts kernel for
    `workspace_shapes(M, N, K, topk)` and takes both buffers at once from the process-wide
    workspace manager (vllm/v1/worker/workspace.py), which keeps its high-water mark: the
    workspace outlives the forward pass, so it adds to the peak rather than overlapping it.
    With M = tokens, topk = experts per token, K = hidden, N = 2 × moe_intermediate / the
    experts' tensor-parallel split (1 with expert parallelism), gated activation → N/2:
      triton     (M, topk, max(N/2, K)) + (M, topk, max(N, K)), 2 bytes each
      deep_gemm  M·topk × max(N/2, K) at 1 byte (FP8, `_fp8_workspace_shape`)
                 + M·topk × max(N, K) at 2 bytes (per-expert row alignment ignored)
      oai_triton (M·topk, N/2) + (M·topk, max(N, K)), 2 bytes each
      marlin     (M·topk, max(N/2, K)) + (M·topk·max(N, K),), 2 bytes each
                 (MarlinExperts.workspace_shapes, with N/2 = marlin_moe_intermediate_size:
                 the caller passes Marlin's padded sizes, marlin_workspace_sizes)
    Example (DeepSeek-R1 with expert parallelism on Triton, 32,768 tokens):
    32768 × 8 × (7168 + 7168) × 2 B = 7.0 GiB.
    """
    n = 2 * moe_intermediate_size // expert_tensor_parallel
    rows = tokens * experts_per_token
    first = max(n // 2, hidden_size) if backend != "oai_triton" else n // 2
    first_bytes = 1 if backend == "deep_gemm" else 2
    return rows * (first * first_bytes + max(n, hidden_size) * 2) / GIB


def non_torch_gib(tensor_parallel: int, version: vllm_features.Version,
                  interconnect: str = "nvlink", enforce_eager: bool = False,
                  custom_all_reduce: bool = True, all2all_gib: float = 0.0) -> float:
    """Memory outside the torch allocator that vLLM subtracts from the KV budget.

    = 0.25 GiB (workspaces)
      + all-reduce buffers with TP > 1: 1.8 GiB NVLink, 0.5 GiB PCIe, less custom
        all-reduce's own 32 MiB where vLLM turns it off (custom_all_reduce_off: NCCL keeps
        its buffers; pipeline stages only pass activations point to point: ~0.07 GiB,
        ignored)
      + the expert-parallel all-to-all buffers (all2all_buffer_gib)
      + 1.0 GiB CUDA-graph estimate from vLLM 0.20.0, unless --enforce-eager (earlier releases
        capture graphs after sizing the cache, inside the 1 − utilization margin).
    """
    total = NON_TORCH_GIB + all2all_gib
    if tensor_parallel > 1:
        total += COMMUNICATION_GIB[interconnect]
        if not custom_all_reduce:
            total -= CUSTOM_ALL_REDUCE_GIB
    return total + cuda_graph_gib(version, enforce_eager)


def pre_load_memory_gib(version: vllm_features.Version, max_num_batched_tokens: int,
                        hidden_size: int) -> float:
    """What the GPU holds before the weights load that vLLM 0.8.0–0.9.0.x subtract from the
    KV budget and 0.9.1 on do not (vllm_features.sizes_kv_without_init_snapshot: no init
    snapshot, so everything on the device counts): the CUDA context (CUDA_CONTEXT_GIB) and
    the model runner's persistent input buffers (runner_input_buffers_gib). 0 from 0.9.1.
    Example (DeepSeek-R1 at 32,768 batched tokens, 0.8.4): 0.50 + 0.44 = 0.94 GiB."""
    if not vllm_features.sizes_kv_without_init_snapshot(version):
        return 0.0
    return CUDA_CONTEXT_GIB + runner_input_buffers_gib(max_num_batched_tokens, hidden_size)


def runner_input_buffers_gib(max_num_batched_tokens: int, hidden_size: int) -> float:
    """The persistent device buffers GPUModelRunner.__init__ allocates before load_model
    (vllm/v1/worker/gpu_model_runner.py, 0.8.0–0.9.1 wheels), max_num_batched_tokens (T) rows
    each: input_ids int32 (4 B), positions int64 (8 B) and inputs_embeds (T, H) in the model
    dtype (2 B, as the activation peak counts it) → T × (2H + 12) bytes. The input batch's
    block table and sampling tensors (max_num_seqs rows, a few MiB) are ignored.
    Example (DeepSeek-R1, T 32,768, H 7168): 32768 × 14348 B = 0.44 GiB."""
    return max_num_batched_tokens * (2 * hidden_size + 4 + 8) / GIB


CUSTOM_ALL_REDUCE_WORLD_SIZES = (2, 4, 6, 8, 16)
"""CustomAllreduce._SUPPORTED_WORLD_SIZES (vllm/distributed/device_communicators/
custom_all_reduce.py, 0.33.0)."""
CUSTOM_ALL_REDUCE_GIB = (8 + 16 + 8) * MIB / GIB
"""What custom all-reduce allocates on each GPU when on (CustomAllreduce.__init__, 0.33.0):
meta + max_size (8 MiB), the IPC buffer max(max_size 8, all-gather 2, reduce-scatter 16 MiB)
and rank_data 8 MiB; the metadata's few KiB ignored. The rest of COMMUNICATION_GIB is NCCL's
(its P2P, NVLS and network buffers; vllm#9699 logs NVLS at 288 MiB per rank on 8 × H200),
which the vLLM source does not size and a group spanning nodes keeps."""


def custom_all_reduce_off(tensor_parallel: int, spans_nodes: bool, interconnect: str) -> str:
    """Why vLLM's custom all-reduce is off for a TP group, '' when it is on
    (CustomAllreduce.__init__, vllm/distributed/device_communicators/custom_all_reduce.py
    0.33.0, in its order): world size 1; a world size not in CUSTOM_ALL_REDUCE_WORLD_SIZES;
    a group spanning nodes without MNNVL GPUs on every rank (`_group_can_attempt_mnnvl`,
    Blackwell multicast across an NVLink domain; the GPU catalogue names none, so every
    spanning group counts as without); more than two GPUs of one node not fully
    NVLink-connected (PCIe). The P2P self-test is assumed to pass."""
    if tensor_parallel <= 1:
        return "TP 1: no all-reduce"
    if tensor_parallel not in CUSTOM_ALL_REDUCE_WORLD_SIZES:
        return (f"world size {tensor_parallel} not in {list(CUSTOM_ALL_REDUCE_WORLD_SIZES)}")
    if spans_nodes:
        return f"TP {tensor_parallel} spans nodes (no MNNVL GPUs)"
    if interconnect != "nvlink" and tensor_parallel > 2:
        return f"TP {tensor_parallel} on more than two PCIe GPUs"
    return ""


DEEPEP_BUFFER_GIB = 1.0
"""VLLM_DEEPEP_BUFFER_SIZE_MB (1024, vllm/envs.py 0.33.0): DeepEP's NVLink buffer, and its RDMA
buffer for high-throughput kernels across nodes (all2all.py DeepEPHTAll2AllManager
_make_all2all_kwargs)."""


def all2all_buffer_gib(backend: str, data_parallel: int, spans_nodes: bool,
                       low_latency_rdma_gib: float = 0.0) -> float:
    """Buffers the expert-parallel all-to-all keeps on each GPU with data parallelism
    (ParallelConfig.use_all2all: DP > 1; vllm/distributed/device_communicators/all2all.py,
    0.33.0), outside torch's allocator:
      deepep_high_throughput: num_nvl_bytes 1 GiB, + num_rdma_bytes 1 GiB when the group
                              spans nodes (DeepEPHTAll2AllManager)
      deepep_low_latency:     num_nvl_bytes 1 GiB + num_rdma_bytes (low_latency_rdma_gib:
                              deepep_low_latency_rdma_bytes), inside a node as well: DeepEP
                              allocates it whenever low_latency_mode is on
      nixl_ep (0.18–0.34):    num_rdma_bytes alone (low_latency_rdma_gib): NixlEPAll2AllManager
                              ._init_buffer asks nixl_ep's Buffer.get_rdma_size_hint(max_num_tokens,
                              hidden, EP ranks, global experts), DeepEP's low-latency layout
                              copied (ai-dynamo/nixl examples/device/ep/csrc/config.hpp EPLayout,
                              get_rdma_size_hint: deepep_low_latency_rdma_bytes), cudaMalloc'd by
                              Buffer::init (csrc/nixl_ep.cpp) with no NVLink buffer; its 32 MiB
                              workspace is not counted. Elastic EP's larger rank count is not
                              modelled.
      allgather_reducescatter (the default from 0.15) and the others: 0 (the gathered tokens
                              are transient, inside the fused-MoE workspace's tokens)."""
    if data_parallel <= 1:
        return 0.0
    if backend == "deepep_high_throughput":
        return DEEPEP_BUFFER_GIB * (2 if spans_nodes else 1)
    if backend == "deepep_low_latency":
        return DEEPEP_BUFFER_GIB + low_latency_rdma_gib
    if backend == "nixl_ep":
        return low_latency_rdma_gib
    return 0.0


DEEPEP_LL_CHUNK_TOKENS = 256
"""VLLM_MOE_DP_CHUNK_SIZE's default (vllm/envs.py, 0.14–0.19): the MoE layer's max_num_tokens
before 0.20 (facts/vllm_features.py sizes_batched_moe_by_scheduler)."""
BATCHED_DP_DEFAULT_TOKENS = 256
"""SchedulerConfig.DEFAULT_MAX_NUM_BATCHED_TOKENS_FOR_BATCHED_DP (vllm/config/scheduler.py,
0.20–0.34)."""
BATCHED_ALL2ALL_BACKENDS = ("deepep_low_latency", "nixl_ep")
"""ParallelConfig.use_batched_dp_moe's backends (vllm/config/parallel.py, 0.20–0.34)."""


def uses_batched_all2all(backend: str, layout: Optional[Layout]) -> bool:
    """ParallelConfig.use_batched_dp_moe: a BATCHED_ALL2ALL_BACKENDS backend, expert
    parallelism and DP > 1, where the experts take a batched layout."""
    return (layout is not None and backend in BATCHED_ALL2ALL_BACKENDS
            and layout.expert_parallel and layout.data_parallel > 1)


def batched_dp_moe_tokens(backend: str, layout: Optional[Layout],
                          version: Version) -> Optional[int]:
    """vLLM's default max_num_batched_tokens under a batched all-to-all (uses_batched_all2all;
    EngineArgs._set_default_max_num_seqs_and_batched_tokens_args) from 0.20; None where the
    GPU's default applies."""
    if (not uses_batched_all2all(backend, layout)
            or not vllm_features.sizes_batched_moe_by_scheduler(version)):
        return None
    return BATCHED_DP_DEFAULT_TOKENS


def deepep_low_latency_dispatch_tokens(max_num_batched_tokens: int, version: Version) -> int:
    """The num_max_dispatch_tokens_per_rank vLLM sizes DeepEP's low-latency buffer for: the
    MoE layer's FusedMoEConfig.max_num_tokens (fused_moe/all2all_utils.py
    `max_num_tokens_per_dp_rank=moe.max_num_tokens`): max_num_batched_tokens from 0.20,
    DEEPEP_LL_CHUNK_TOKENS before."""
    if vllm_features.sizes_batched_moe_by_scheduler(version):
        return max_num_batched_tokens
    return DEEPEP_LL_CHUNK_TOKENS


DEEPEP_MAX_RDMA_BYTES = 16 * (2**31 - 1)
"""DeepEP's Buffer refuses `num_rdma_bytes / sizeof(int4) >= INT_MAX`
(deepseek-ai/DeepEP csrc/legacy/buffer.hpp Buffer::Buffer): just under 32 GiB."""
DEEPEP_ALIGNMENT_BYTES = 128
"""LEGACY_NUM_BUFFER_ALIGNMENT_BYTES (DeepEP csrc/kernels/legacy/compiled.cuh)."""


def deepep_low_latency_rdma_bytes(tokens: int, hidden: int, experts: int,
                                  signal_bytes: int = 4) -> int:
    """DeepEP's get_low_latency_rdma_size_hint(num_max_dispatch_tokens_per_rank, hidden,
    num_ranks, num_experts): LowLatencyLayout's total_bytes (deepseek-ai/DeepEP
    csrc/legacy/config.hpp at dd758ca, csrc/config.hpp from c5facf5, 2025-08, unchanged),
    which vLLM passes as num_rdma_bytes and DeepEP's Buffer takes from NVSHMEM's symmetric
    heap on the GPU (nvshmem::alloc, csrc/legacy/buffer.hpp). With scales = hidden / 128:
      dispatch message = 16 + max(hidden × 2, hidden + scales × 4) B
      combine message  = scales × 4 + hidden × 2 B
      send    = max(tokens × dispatch, experts × tokens × combine)
      receive = max(experts × tokens × dispatch, experts × tokens × combine)
      signaling = experts × 4 B rounded up to 128
      total = 2 × (send + receive + signaling), + 128 rounded down to a multiple of 128.
    num_ranks is not used. nixl_ep's copy of the layout (NIXL_EP_SIGNAL_BYTES) signals with
    8 B per expert. Example (DeepSeek-R1, 256 tokens, hidden 7168, 256 experts):
    3,816,818,816 B = 3.55 GiB. NVSHMEM's own heap overhead is not counted."""
    scales = hidden // 128
    dispatch = 16 + max(hidden * 2, hidden + scales * 4)
    combine = scales * 4 + hidden * 2
    send = max(tokens * dispatch, experts * tokens * combine)
    receive = max(experts * tokens * dispatch, experts * tokens * combine)
    signaling = -(-experts * signal_bytes // DEEPEP_ALIGNMENT_BYTES) * DEEPEP_ALIGNMENT_BYTES
    total = 2 * (send + receive + signaling)
    return (total + DEEPEP_ALIGNMENT_BYTES) // DEEPEP_ALIGNMENT_BYTES * DEEPEP_ALIGNMENT_BYTES


NIXL_EP_SIGNAL_BYTES = 8
"""nixl_ep's EPLayout signals with a uint64_t per expert where DeepEP's has an int
(ai-dynamo/nixl examples/device/ep/csrc/config.hpp at c4d818e; int at earlier commits)."""


DEFAULT_ALL2ALL_BACKEND = "allgather_reducescatter"
"""ParallelConfig.all2all_backend's default (vllm/config/parallel.py, 0.15–0.33)."""


def all2all_backend(cfg: StackConfig) -> str:
    """The all-to-all backend engine.extraArgs choose (`--all2all-backend X` or `=X`, the
    last one wins as with argparse), else vLLM's default."""
    chosen = vllm_cli.flag_value(cfg.engine.extra_args, "--all2all-backend")
    return DEFAULT_ALL2ALL_BACKEND if chosen is None else chosen


def cuda_graph_gib(version: vllm_features.Version, enforce_eager: bool = False) -> float:
    """The CUDA-graph estimate vLLM subtracts from the KV budget: 1.0 GiB from 0.20.0
    (vllm_features.subtracts_cuda_graphs), 0 before or with --enforce-eager (no graphs)."""
    if vllm_features.subtracts_cuda_graphs(version) and not enforce_eager:
        return CUDA_GRAPH_GIB
    return 0.0


def kv_budget_gib(memory_gib: float, utilization: float, weights_per_gpu_gib: float,
                  activation_gib: float, non_torch: float) -> float:
    """KV-cache memory per GPU, the way vLLM sizes it.

    = total memory × gpu_memory_utilization − weights − activation peak − non-torch memory.
    Example (Qwen-32B on 2 × A100 80 GB): 79.15 × 0.9 − 30.5 − 0.54 − 0.75 = 39.4 GiB.
    Negative means the weights alone do not fit.
    """
    return memory_gib * utilization - weights_per_gpu_gib - activation_gib - non_torch


KV_MARGIN_FLOOR_GIB = 1.0
"""vLLM 0.34's extensible cache keeps at least 1 GiB of the device headroom free on CUDA (3 on
ROCm): vllm/v1/worker/extensible_kv_cache.py KV_CACHE_MARGIN_FLOOR_BYTES."""
KV_MARGIN_FRACTION = 0.75
"""… or 0.75 × the transient peak when that is larger (KV_CACHE_MARGIN_FRACTION, same file)."""
CUDA_CONTEXT_GIB = 0.5
"""GPU memory already taken when vLLM's worker snapshots free memory (the CUDA context and
the runtime's own allocations), so free at start = total − this on a GPU of its own. An
estimate, not read from a 0.34 log (0.19's TP 1 init snapshot logs cuda_memory=0.51GiB on an
H100, benchmark/cases_raw_batch2.yaml): from 0.9.1 to 0.33 it only sat inside the
1 − utilization margin; with the measured sizing it comes off the headroom; 0.8.0–0.9.0.x
subtract it from the KV budget (pre_load_memory_gib)."""


def measured_kv_gib(requested_gib: float, free_at_start_gib: float, resident_gib: float,
                    transient_peak_gib: float, margin_floor_gib: float = KV_MARGIN_FLOOR_GIB,
                    margin_fraction: float = KV_MARGIN_FRACTION) -> float:
    """What vLLM 0.34's extensible cache commits after warm-up and graph capture
    (vllm/v1/worker/extensible_kv_cache.py measure_kv_cache_bytes, called by
    measure_kv_cache_blocks from gpu_worker.py Worker.compile_or_warm_up_model):

      margin = max(margin floor, margin fraction × transient peak)
      KV = min(requested − resident, free at start − resident − margin) − transient peak,
    at least 0, where requested = total × utilization, resident = everything allocated since
    the start snapshot but the cache (weights, non-torch buffers, captured graphs) and the
    transient peak is the profiled activation peak plus the CUDA-graph estimate
    (Worker.peak_activation_memory), kept free in full on either bound.
    Example (vLLM's own case): requested 20, free 10, resident 3, peak 1, no margin → 6 GiB.
    """
    margin = max(margin_floor_gib, margin_fraction * transient_peak_gib)
    budget = min(requested_gib - resident_gib, free_at_start_gib - resident_gib - margin)
    return max(budget - transient_peak_gib, 0.0)


def measured_kv_budget_gib(memory_gib: float, utilization: float, weights_per_gpu_gib: float,
                           activation_gib: float, non_torch: float, cuda_graphs: float) -> float:
    """KV-cache memory per GPU when vLLM (0.34+) sizes it from measured memory:
    measured_kv_gib with requested = total × utilization, free at start = total − 0.5 GiB
    (CUDA_CONTEXT_GIB), resident = weights + non-torch (its CUDA graphs included) and
    transient peak = activation peak + the CUDA-graph estimate.
    Example (7B bf16 on an H100, 79.19 GiB, utilization 1.0): resident 14.19 + 1.25 = 15.44,
    peak 2.03 + 1.0 = 3.03, margin 0.75 × 3.03 = 2.27: min(79.19 − 15.44, 78.69 − 15.44 −
    2.27) − 3.03 = 57.95 GiB.
    """
    return measured_kv_gib(memory_gib * utilization, memory_gib - CUDA_CONTEXT_GIB,
                           weights_per_gpu_gib + non_torch, activation_gib + cuda_graphs)


def kv_block_size(attention: dict, compute_capability: float,
                  version: vllm_features.Version = vllm_features.parse("0.20.0")) -> int:
    """Tokens per cache block: 256 for DeepSeek V4; 64 for DSA (its indexer's blocks,
    facts/sparse_mla.py INDEXER_BLOCK_SIZE); 64 for MLA on Hopper with FlashMLA before
    vLLM 0.15 (from 0.15 FLASH_ATTN_MLA, 16-token blocks, comes first in
    vllm/platforms/cuda.py _get_backend_priorities); otherwise vLLM's default block, which
    every default CUDA backend accepts (vllm_features.default_block_size: 16, 64 from 0.34)."""
    if model_families.is_deepseek_v4(attention):
        return model_families.DEEPSEEK_V4_BLOCK_SIZE
    if attention.get("index_head_dim"):
        return sparse_mla.INDEXER_BLOCK_SIZE
    if model_families.is_mla(attention):
        return vllm_features.mla_block_size(compute_capability, version)
    return vllm_features.default_block_size(version)

