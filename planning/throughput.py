"""How fast a replica answers: the decode time per token and the prefill throughput at the
plan's batch, a roofline from the GPU's memory bandwidth and compute (facts/gpus.yaml).

A decode step reads the weights it touches (a mixture-of-experts model only the experts its
pipeline micro-batch routes to) and the KV cache of every sequence in the batch, and multiplies
each token through the active parameters; each pipeline stage takes the longer of its own read
at the reachable bandwidth and its share of the arithmetic at the reachable compute, a token
passes every stage in turn, and the tensor-parallel all-reduces add to the sum. A prefill is
compute: the active parameters and the causal attention over the prompt. Each efficiency and
latency below is a named figure with its source; tests/planning/test_throughput.py holds the
roofline against published measurements within a stated factor.

A measured figure in config replaces the derived one (shutdown.perTokenMs,
shutdown.prefillSeconds); else the roofline's time per token up to its R20 step
(planning/granularity.py), so a small change of the memory estimate rolls no pod; `timed` hands
the drain, the router's timeouts and sizing, and the admission bounds the figure in force
(planning/plan.py).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from facts import model_families
from planning.config import GpuFacts, ModelFacts, StackConfig
from planning.layout import Layout
from planning.granularity import STEP, stable_ceiling
from planning.memory import (GpuMemory, KvCache, dense_layer_count, dense_mlp_params,
                             dsa_indexer_bytes_per_token, pipeline_stage_layers, scheme,
                             weight_gib_per_stage)
from planning.wording import counted

GB = 1e9
GIB = 2**30

BANDWIDTH_EFFICIENCY = 0.7
"""Share of the peak memory bandwidth a decode step reaches. A single Llama-3.1-8B stream on an
A100 40GB under vLLM 0.23 ran at 77 % of the bandwidth ceiling (johnmusgrave.com, "vLLM
throughput-latency sweep on NVIDIA A100"); a May 2026 study of batch-1 decode on H100, A100,
L40S and L4 finds the share falling as peak bandwidth rises ("Batch-1 LLM Decode Underutilizes
HBM Bandwidth", 44 configurations). 0.7 sits below the first and is held against runs on other
GPUs (H100, L4) in the tests, not fitted to them."""
COMPUTE_EFFICIENCY = 0.5
"""Share of the dense tensor-core peak a prefill reaches (model FLOPs utilisation). Assumed,
conservative for GEMM-bound prefill; held in the tests against NVIDIA's published long-prompt
time to first token of Llama 3.1 70B and 405B on GH200 NVL32 within the stated factor."""
ALL_REDUCE_LATENCY_SECONDS = {"nvlink": 10e-6, "pcie": 25e-6, "network": 50e-6}
"""Fixed cost of one small all-reduce. nvlink: vLLM's custom all-reduce on H100 took 8.5-11.8 µs
for messages up to 32 KiB at TP 2/4/8 (sgl-project/sglang#2904, unit benchmark table). pcie:
vLLM turns its custom all-reduce off for more than two PCIe GPUs (vllm/distributed/
device_communicators/custom_all_reduce.py `CustomAllreduce.__init__`, quoted in
vllm-project/vllm#56128), leaving NCCL's ring: 25 µs assumed. network (a TP group across
nodes over RDMA): 50 µs assumed. Decode messages are small, so this term dominates there."""
NETWORK_GB_S = 50.0
"""Bandwidth per GPU between nodes: one 400 Gb/s RDMA NIC per GPU, the usual H100/H200 build
(assumed; the cluster's own figure is not in config)."""
ALL_REDUCES_PER_LAYER = 2
"""One after attention's output projection, one after the MLP (RowParallelLinear
reduce_results in vllm/model_executor/layers/linear.py, used by every decoder layer)."""
ACTIVATION_BYTES = 2
"""Hidden states travel in BF16."""
ASSUMED_PER_TOKEN_MS = 40.0
"""Per-token time when the GPU's throughput facts are unknown (a GPU described by hand) and
nothing is measured: the figure the plan assumed before the roofline."""
ASSUMED_PREFILL_SECONDS = 10
"""Longest prefill in the same case."""
DSA_INDEX_TOPK = 2048
"""Tokens whose latent a DSA layer reads per decode token: config.json index_topk of
DeepSeek-V3.2 and GLM-5 (2048), taken when the facts give none (attention.index_topk). vLLM's
sparse MLA backends attend only to the indexer's top-k slots (vllm/v1/attention/backends/mla/
flashmla_sparse.py and flashinfer_mla_sparse.py: the block table becomes [batch, q_len,
sparse_mla_top_k] of the Indexer's topk_indices_buffer), while the Indexer scores every
cached key of the context (vllm/model_executor/models/deepseek_v2.py `Indexer`)."""
FP8_COMPUTE = ("fp8", "fp8-online", "int8", model_families.FP4_FP8)
"""Weight schemes whose matrix products run on 8-bit tensor cores where the GPU has them
(W8A8 and FP8 kernels); 16-bit and weight-only 4-bit schemes multiply in BF16."""


@dataclasses.dataclass(frozen=True)
class Throughput:
    """Decode and prefill speed of one replica, and the figures the time budgets use."""

    batch: int
    """Sequences decoding at once in a replica: the plan's runnable requests."""
    context_tokens: int
    """Context each of them holds: autoscaling.expectedRequestTokens (at most maxModelLen)."""
    decode_ms: Optional[float]
    """Roofline time per output token at that batch; None without the GPU's throughput facts."""
    prefill_tokens_per_second: Optional[float]
    """Roofline prefill throughput of a replica on maxModelLen-token prompts."""
    per_token_ms: float
    """What the drain and the router use: measured (shutdown.perTokenMs), else the roofline."""
    prefill_seconds: int
    """Longest prompt's prefill the budgets use: measured (shutdown.prefillSeconds), else the
    roofline's, whole seconds up."""
    source: str
    """Where per_token_ms and prefill_seconds come from (measured, roofline or assumed)."""
    reason: str


def experts_read_share(experts: Optional[int], per_token: Optional[int], batch: int) -> float:
    """Share of the routed experts a decode step of `batch` tokens touches = 1 − (1 − k/E)^B
    with routing taken as uniform; 1 when the model is dense or k is not known.
    Example (R1: 8 of 256 experts, 38 tokens): 1 − (248/256)^38 = 0.70."""
    if not experts or not per_token:
        return 1.0
    return 1 - (1 - per_token / experts) ** batch


def micro_batch_tokens(batch: int, layout: Layout) -> int:
    """Decode tokens a stage's MoE layers see at once = ⌈batch / PP⌉, the fullest micro-batch.
    vLLM keeps PP batches in flight (vllm/config/vllm.py `max_concurrent_batches`, v1/engine/
    core.py `step_with_batch_queue`) and schedules a request again only once its step is back
    (v1/core/sched/scheduler.py `schedule`: no new tokens while in flight; with async
    scheduling `next_decode_eligible_step`, PP steps apart), so the replica's running requests
    spread over PP micro-batches. The V2 model runner's PP + 1 batches in flight (from 0.26,
    kv_layout.max_concurrent_batches) do not make PP + 1 micro-batches: its extra batch is the
    async look-ahead, the same requests' next step scheduled before their output is back, and
    AsyncScheduler._update_after_schedule (v1/core/sched/async_scheduler.py) sets a decode's
    next_decode_eligible_step to the current step + PP, so each request still joins one step
    in PP. Data-parallel ranks meet at every MoE layer (the experts span
    TP × DP GPUs, planning/memory.py WEIGHT_ROLES), so DP does not shrink it.
    Example (r1-h100: 95 at PP 2): 48."""
    return math.ceil(batch / layout.pipeline_parallel)


def read_groups(groups: dict[str, float], tie_word_embeddings: bool,
                expert_share: float) -> dict[str, float]:
    """Parameters a decode step reads, by role: the embedding only as the batch's rows (taken as
    none), the head whole (the tied embedding serving as the head), the experts at their share."""
    head = groups["embedding"] if tie_word_embeddings else groups["head"]
    return {**groups, "embedding": 0.0, "head": head,
            "experts": groups["experts"] * expert_share}


def active_parameters(groups: dict[str, float], experts: Optional[int],
                      per_token: Optional[int]) -> float:
    """Parameters one token multiplies through = all but the embedding lookup, the routed
    experts at k/E. Example (R1): 671.0 G − 0.93 G − 653.9 G × 248/256 = 36.6 G."""
    share = per_token / experts if experts and per_token else 1.0
    return sum(groups.values()) - groups["embedding"] - groups["experts"] * (1 - share)


def head_dims(attention: dict, hidden_size: int, decode: bool) -> tuple[int, int]:
    """(query-key, value) dimensions per attention head in a decode step or a prefill: gqa
    head_dim both; mla in decode its latent form, kv_lora_rank + qk_rope and kv_lora_rank, in
    prefill qk_nope + qk_rope and v_head_dim (vLLM 0.33 model_executor/layers/attention/
    mla_attention.py `MLAAttention.forward`: decode tokens to the impl's `forward_mqa`, whose
    query and key are kv_lora_rank + qk_rope_head_dim wide and whose output is the latent
    kv_lora_rank before W_UV; prefill tokens to `forward_mha` on the decompressed heads; the
    absorbed W_UK / W_UV products multiply kv_b_proj's own weights, already in the active
    parameters); otherwise hidden / heads."""
    if model_families.is_gqa(attention):
        return attention["head_dim"], attention["head_dim"]
    if model_families.is_mla(attention) and decode:
        latent = attention["kv_lora_rank"]
        return latent + attention["qk_rope_head_dim"], latent
    if model_families.is_mla(attention):
        return (attention.get("qk_nope_head_dim", 128) + attention["qk_rope_head_dim"],
                attention.get("v_head_dim", 128))
    per_head = hidden_size // attention["heads"]
    return per_head, per_head


def attention_flops_per_token(attention: dict, hidden_size: int, layers: int,
                              context: int, decode: bool) -> float:
    """Attention FLOPs of one token over `context` tokens = 2 × context × heads × (d_qk + d_v)
    × layers (QKᵀ and AV, two FLOPs per multiply-add), with the phase's head_dims. Example
    (Qwen-32B, 8192 tokens): 2 × 8192 × 40 × 256 × 64 = 10.7 GFLOP; R1 decode at 8192:
    2 × 8192 × 128 × (576 + 512) × 61 = 139 GFLOP."""
    qk, v = head_dims(attention, hidden_size, decode)
    return 2 * context * attention["heads"] * (qk + v) * layers


def all_reduce_seconds(tensor_parallel: int, message_bytes: float, latency_seconds: float,
                       link_gb_s: float) -> float:
    """One ring all-reduce = latency + 2 (TP − 1) / TP × message / link bandwidth; 0 at TP 1."""
    if tensor_parallel <= 1:
        return 0.0
    return latency_seconds + 2 * (tensor_parallel - 1) / tensor_parallel * message_bytes / (
        link_gb_s * GB)


def peak_tflops(gpu: GpuFacts, weights_scheme: str) -> float:
    """The dense tensor-core peak the model's matrix products run at: FP8 for 8-bit schemes on a
    GPU with FP8 tensor cores, else BF16."""
    if weights_scheme in FP8_COMPUTE and gpu.fp8_tflops:
        return gpu.fp8_tflops
    return gpu.bf16_tflops


def link(gpu: GpuFacts, layout: Layout) -> tuple[str, float]:
    """(kind, GB/s) of the tensor-parallel all-reduce: between nodes when the TP group spans
    them, else the node's NVLink or PCIe, at one direction's bandwidth (facts/gpus.yaml
    link_gb_s: a ring sends one way on each link while it receives the other way, so half
    of NVIDIA's both-ways NVLink figure)."""
    if layout.nodes > 1 and layout.tensor_parallel > gpu.per_node:
        return "network", NETWORK_GB_S
    return gpu.interconnect, gpu.link_gb_s or NETWORK_GB_S


def has_throughput_facts(gpu: GpuFacts) -> bool:
    """True when the catalogue gives the GPU's bandwidth and compute."""
    return bool(gpu.memory_bandwidth_gb_s and gpu.bf16_tflops)


@dataclasses.dataclass(frozen=True)
class Work:
    """What a decode step or a prefill asks of the replica, independent of the GPU's speed."""

    read_bytes_per_stage: tuple[float, ...]
    """Decode step: what one GPU of each pipeline stage reads, its weights touched + its KV
    share (a prefill: none)."""
    flops: float
    """The replica's matrix products with the weights for the step (decode) or the prompt
    (prefill): 2 × active parameters per token, at the weights' tensor-core rate."""
    attention_flops: float
    """Its attention arithmetic, at the BF16 rate (attention kernels run in 16 bits)."""
    all_reduces: int
    """Tensor-parallel all-reduces on the path of one token through every stage."""
    expert_exchanges: int
    """Expert-parallel dispatches and combines on that path (0 without expert parallelism)."""
    message_bytes: float
    """Size of each all-reduce or exchange."""
    stage_layers: tuple[int, ...] = (1,)
    """Layers on each pipeline stage (memory.pipeline_stage_layers): a stage's share of the
    arithmetic is its layers over all."""


def layer_read_tokens(kind: str, context: int, window: int, chunk: int) -> int:
    """Tokens of a sequence's cache one decode token attends to in a layer of `kind`: a
    sliding-window layer the last min(window, context) (vllm/v1/attention/backends/
    flash_attn.py `FlashAttentionImpl`: window_size (sliding_window − 1, 0) to the kernel), a
    chunked-local layer at most its chunk (vllm/model_executor/layers/attention/
    chunked_local_attention.py: make_local_attention_virtual_batches cuts the context at chunk
    boundaries), full attention and MLA the whole context.
    Example (gpt-oss, 8192 tokens): sliding 128, full 8192."""
    if model_families.keeps_window(kind):
        return min(window, context)
    if model_families.keeps_chunk(kind):
        return min(chunk, context)
    return context


def layer_kv_read_bytes(kind: str, model: ModelFacts, per_layer: float, kv: KvCache,
                        context: int) -> float:
    """KV bytes one sequence's decode token reads from one layer of `kind` on a GPU, the layer
    costing `per_layer` bytes per token: a state layer (linear attention, Mamba2) its one state
    page, per_layer × the block size (its state padded to the attention page, kv_layout
    hybrid_block_size), whatever the context; a DSA layer the indexer keys for the context and
    the latent for min(index_topk, context) tokens; any other its layer_read_tokens; a layer
    without a cache (Nemotron-H's MLP) nothing. Example (V3.2, 788 B a layer, 32768 tokens):
    132 × 32768 + 656 × 2048 = 5.67 MB."""
    if not model_families.keeps_cache(kind):
        return 0.0
    if model_families.keeps_state(kind):
        return per_layer * kv.block_size
    indexer = dsa_indexer_bytes_per_token(model.attention)
    if indexer and not (model_families.keeps_window(kind) or model_families.keeps_chunk(kind)):
        top_k = model.attention.get("index_topk", DSA_INDEX_TOPK)
        return indexer * context + (per_layer - indexer) * min(top_k, context)
    return per_layer * layer_read_tokens(kind, context, model.sliding_window or 0,
                                         model.attention_chunk_size or 0)


def stage_kv_read_bytes(model: ModelFacts, kv: KvCache, stage_layers: list[int],
                        context: int) -> list[float]:
    """KV bytes one sequence's decode token reads on one GPU of each pipeline stage = Σ over
    the stage's layers of layer_kv_read_bytes, each layer costing the KV cache's bytes per
    token (memory.kv_cache: the binding stage's layers) / the binding stage's layers. Layer
    kinds are model.layer_types (every layer full attention without them), the stages
    consecutive runs of stage_layers. Example (r1-h100: 34,560 B on stage 1's 30 layers,
    stages [31, 30], 8192 tokens): [31, 30] × 1152 B × 8192."""
    kinds = model.layer_types or [model_families.FULL_ATTENTION] * model.layers
    per_layer = kv.bytes_per_token / stage_layers[kv.binding_stage]
    reads, start = [], 0
    for count in stage_layers:
        reads.append(sum(layer_kv_read_bytes(kind, model, per_layer, kv, context)
                         for kind in kinds[start:start + count]))
        start += count
    return reads


def kv_read_note(model: ModelFacts, context: int) -> str:
    """The layers whose decode read stops short of the context (layer_kv_read_bytes), for the
    plan's reason; "" when every layer reads the whole context."""
    kinds = model.layer_types or [model_families.FULL_ATTENTION] * model.layers
    count = {kind: kinds.count(kind) for kind in set(kinds)}
    limited = [model_families.SLIDING_ATTENTION, model_families.CHUNKED_ATTENTION,
               model_families.LINEAR_ATTENTION, model_families.NO_CACHE]
    dense = len(kinds) - sum(count.get(kind, 0) for kind in limited)
    parts = []
    if count.get(model_families.SLIDING_ATTENTION):
        parts.append(f"{count[model_families.SLIDING_ATTENTION]} sliding-window layers read "
                     f"the last {min(model.sliding_window or 0, context)} tokens")
    if count.get(model_families.CHUNKED_ATTENTION):
        parts.append(f"{count[model_families.CHUNKED_ATTENTION]} chunked-local layers read at "
                     f"most {min(model.attention_chunk_size or 0, context)} tokens")
    if count.get(model_families.LINEAR_ATTENTION):
        parts.append(f"{count[model_families.LINEAR_ATTENTION]} linear-attention layers read "
                     "one state page")
    if dsa_indexer_bytes_per_token(model.attention) and dense:
        top_k = model.attention.get("index_topk", DSA_INDEX_TOPK)
        parts.append(f"{dense} DSA layers read the indexer keys of all {context} tokens and "
                     f"the latent of the top {min(top_k, context)}")
    return "; of its layers' KV, " + ", ".join(parts) if parts else ""


def decode_work(cfg: StackConfig, model: ModelFacts, layout: Layout, on_gpu: GpuMemory,
                batch: int, context: int) -> Work:
    """One decode step of `batch` sequences at `context` tokens: on one GPU of each pipeline
    stage the weights its micro-batch touches (weight_gib_per_stage of read_groups, the experts
    at the share micro_batch_tokens route to, DeepSeek's dense first layers where they sit)
    plus its layers' share of the batch's KV (batch / (DP × PP) sequences ×
    stage_kv_read_bytes: the window, chunk, state or DSA top-k where the layer reads no more);
    the replica's FLOPs = batch × (2 × active parameters +
    attention); per layer two all-reduces of the stage's micro-batch, and two expert exchanges
    with expert parallelism."""
    groups = model.parameter_groups()
    share = experts_read_share(model.experts, model.experts_per_token,
                               micro_batch_tokens(batch, layout))
    stages = pipeline_stage_layers(model.layers, layout.pipeline_parallel)
    # read_groups reads no embedding (a tied one is the head), so no stage adds one: the
    # weights are placed as untied (weight_gib_per_stage's default).
    weights = weight_gib_per_stage(
        read_groups(groups, model.tie_word_embeddings, share),
        scheme(model.weights_dtype, cfg.model.quantization), model.layers,
        layout.tensor_parallel, layout.pipeline_parallel, layout.data_parallel,
        attention=model.attention, dense_layers=dense_layer_count(model),
        dense_mlp_params=dense_mlp_params(model))
    micro_batch = batch / (layout.data_parallel * layout.pipeline_parallel)
    kv = stage_kv_read_bytes(model, on_gpu.kv, stages, context)
    reads = tuple(gib * GIB + micro_batch * per_sequence
                  for gib, per_sequence in zip(weights, kv))
    active = active_parameters(groups, model.experts, model.experts_per_token)
    attention = batch * attention_flops_per_token(model.attention, model.hidden_size,
                                                  model.layers, context, decode=True)
    exchanges = ALL_REDUCES_PER_LAYER * model.layers if layout.expert_parallel else 0
    return Work(reads, batch * 2 * active, attention,
                ALL_REDUCES_PER_LAYER * model.layers, exchanges,
                micro_batch * model.hidden_size * ACTIVATION_BYTES, tuple(stages))


def compute_seconds(work: Work, gpu: GpuFacts, gpus: int, tflops: float) -> float:
    """The work's arithmetic on `gpus` GPUs = (matrix FLOPs / the weights' peak + attention
    FLOPs / the BF16 peak) / (gpus × COMPUTE_EFFICIENCY)."""
    return (work.flops / tflops + work.attention_flops / gpu.bf16_tflops) / (
        gpus * 1e12 * COMPUTE_EFFICIENCY)


def stage_seconds(work: Work, gpu: GpuFacts, layout: Layout, tflops: float) -> list[float]:
    """Each pipeline stage's step = the longer of its GPU's read at the reachable bandwidth
    and its layers' share of the arithmetic (stage layers / all layers × compute_seconds on
    all GPUs: the micro-batch's FLOPs over the stage's TP × DP GPUs)."""
    compute = compute_seconds(work, gpu, layout.gpus, tflops)
    layers = sum(work.stage_layers)
    return [max(read / (gpu.memory_bandwidth_gb_s * GB * BANDWIDTH_EFFICIENCY),
                compute * stage / layers)
            for read, stage in zip(work.read_bytes_per_stage, work.stage_layers)]


def decode_seconds(work: Work, gpu: GpuFacts, layout: Layout, tflops: float) -> float:
    """Per-token time = Σ over the stages of each stage's step (stage_seconds) + the
    all-reduces: a token passes every stage in turn, each reading its own weights and its
    layers' KV (not PP × the fullest stage: DeepSeek's stage 0 holds dense layers, the last
    the head)."""
    return sum(stage_seconds(work, gpu, layout, tflops)) + communication_seconds(
        work, gpu, layout)


def prefill_work(model: ModelFacts, prompt_tokens: int) -> Work:
    """One prompt of `prompt_tokens`: FLOPs = tokens × (2 × active parameters + causal
    attention at half the prompt on average: attention_flops_per_token(prompt) / 2); per layer
    two all-reduces of the whole prompt's hidden states."""
    groups = model.parameter_groups()
    active = active_parameters(groups, model.experts, model.experts_per_token)
    attention = attention_flops_per_token(model.attention, model.hidden_size, model.layers,
                                          prompt_tokens, decode=False) / 2
    return Work((0.0,), prompt_tokens * 2 * active, prompt_tokens * attention,
                ALL_REDUCES_PER_LAYER * model.layers, 0,
                prompt_tokens * model.hidden_size * ACTIVATION_BYTES)


def prefill_seconds(work: Work, gpu: GpuFacts, layout: Layout, tflops: float) -> float:
    """A prompt's prefill on one data-parallel rank = FLOPs / (TP GPUs × peak × efficiency) +
    its all-reduces at the link's bandwidth. Each stage of a pipeline does its 1/PP of the
    layers on TP GPUs; a prompt's chunks are taken as passing the stages one after another
    (not overlapped: conservative), so PP does not shorten one prompt."""
    return (compute_seconds(work, gpu, layout.tensor_parallel, tflops)
            + communication_seconds(work, gpu, layout))


def communication_seconds(work: Work, gpu: GpuFacts, layout: Layout) -> float:
    """The all-reduces over the TP group plus the expert exchanges over the TP × DP group (each
    costed as an all-reduce of the same message, all_reduce_seconds), on the link the group
    uses: vLLM's EP group is one pipeline stage's DP × TP ranks (vllm/distributed/
    parallel_state.py initialize_model_parallel), so with DP 1 it is the TP group and its link;
    with DP > 1 it spans nodes whenever the replica does."""
    kind, bandwidth = link(gpu, layout)
    reduces = work.all_reduces * all_reduce_seconds(
        layout.tensor_parallel, work.message_bytes, ALL_REDUCE_LATENCY_SECONDS[kind], bandwidth)
    if not work.expert_exchanges:
        return reduces
    if layout.nodes > 1 and layout.data_parallel > 1:
        kind, bandwidth = "network", NETWORK_GB_S
    return reduces + work.expert_exchanges * all_reduce_seconds(
        layout.tensor_parallel * layout.data_parallel, work.message_bytes,
        ALL_REDUCE_LATENCY_SECONDS[kind], bandwidth)


def _decode_reason(work: Work, gpu: GpuFacts, layout: Layout, tflops: float, batch: int,
                   context: int, seconds: float, kv_note: str = "") -> str:
    reads = ", ".join(f"{read / GB:.1f}" for read in work.read_bytes_per_stage)
    steps = ", ".join(f"{step * 1000:.1f}"
                      for step in stage_seconds(work, gpu, layout, tflops))
    compute_ms = compute_seconds(work, gpu, layout.gpus, tflops) * 1000
    talk_ms = communication_seconds(work, gpu, layout) * 1000
    return (f"decode at batch {batch} × {context}-token context: a GPU of each stage reads "
            f"[{reads}] GB (weights its {micro_batch_tokens(batch, layout)}-token micro-batch "
            f"touches + its layers' KV share) at {gpu.memory_bandwidth_gb_s:g} GB/s × "
            f"{BANDWIDTH_EFFICIENCY:g}; {work.flops / 1e12:.2f} TFLOP at {tflops:g} TFLOPS + "
            f"attention {work.attention_flops / 1e12:.2f} TFLOP at {gpu.bf16_tflops:g} on "
            f"{counted(layout.gpus, 'GPU')} × {COMPUTE_EFFICIENCY:g} = {compute_ms:.1f} ms, "
            f"each stage its layers' share; per stage [{steps}] ms (the longer of its read and "
            f"its share), a token through every stage + all-reduces {talk_ms:.1f} ms = "
            f"{seconds * 1000:.1f} ms per token{kv_note}")


def _prefill_reason(work: Work, gpu: GpuFacts, layout: Layout, tflops: float, prompt: int,
                    seconds: float) -> str:
    ranks = f" × DP {layout.data_parallel}" if layout.data_parallel > 1 else ""
    return (f"prefill of a {prompt}-token prompt: ({work.flops / 1e15:.2f} PFLOP at "
            f"{tflops:g} TFLOPS + attention {work.attention_flops / 1e15:.2f} PFLOP at "
            f"{gpu.bf16_tflops:g}) / (TP {layout.tensor_parallel} × {COMPUTE_EFFICIENCY:g}) + "
            f"all-reduces = {seconds:.1f} s, {prompt / seconds:.0f} tokens/s{ranks}")


def roofline(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, layout: Layout,
             on_gpu: GpuMemory, batch: int, context: int) -> tuple[float, float, str]:
    """(decode seconds per token, prefill seconds of a maxModelLen prompt, their arithmetic)."""
    tflops = peak_tflops(gpu, scheme(model.weights_dtype, cfg.model.quantization))
    decode = decode_work(cfg, model, layout, on_gpu, batch, context)
    per_token = decode_seconds(decode, gpu, layout, tflops)
    prompt = cfg.model.max_model_len
    prefill = prefill_work(model, prompt)
    prefill_time = prefill_seconds(prefill, gpu, layout, tflops)
    return per_token, prefill_time, (
        _decode_reason(decode, gpu, layout, tflops, batch, context, per_token,
                       kv_read_note(model, context)) + "; "
        + _prefill_reason(prefill, gpu, layout, tflops, prompt, prefill_time))


def throughput(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts, layout: Layout,
               on_gpu: GpuMemory, runnable_requests: int) -> Throughput:
    """The throughput step of the plan: the roofline at the plan's batch (its runnable requests,
    each at autoscaling.expectedRequestTokens of context), and the figures the time budgets use
    — shutdown.perTokenMs / shutdown.prefillSeconds when measured, else the roofline's (its
    time per token up to the next R20 step, planning/granularity.py: a small change of the KV
    estimate, hence of the batch, leaves the drain in the pod template as it was; else,
    for a GPU without throughput facts, the assumed ASSUMED_PER_TOKEN_MS and
    ASSUMED_PREFILL_SECONDS)."""
    shutdown = cfg.shutdown
    context = min(cfg.autoscaling.expected_request_tokens, cfg.model.max_model_len)
    decode_ms = tokens_per_second = None
    if has_throughput_facts(gpu):
        per_token, prefill, why = roofline(cfg, model, gpu, layout, on_gpu,
                                           runnable_requests, context)
        decode_ms = round(per_token * 1000, 1)
        tokens_per_second = round(cfg.model.max_model_len / prefill * layout.data_parallel, 1)
        # The batch and the KV read move with every refinement of the KV estimate; the drain
        # and the bounds this figure sets are in the pod template (planning/granularity.py).
        # From the unrounded time: the printed 0.1 ms may be below it (45.04 -> 45.0).
        derived_ms, derived_prefill, origin = (stable_ceiling(per_token * 1000),
                                               math.ceil(prefill), "roofline")
        why += (f"; {decode_ms:g} ms up to {STEP} = {derived_ms:g} ms, so a small change of the "
                "KV estimate leaves the pod template as it was")
    else:
        why = (f"{gpu.name} has no bandwidth and compute facts (facts/gpus.yaml): per token = "
               f"{ASSUMED_PER_TOKEN_MS:g} ms and prefill {ASSUMED_PREFILL_SECONDS} s, assumed")
        derived_ms, derived_prefill, origin = (ASSUMED_PER_TOKEN_MS, ASSUMED_PREFILL_SECONDS,
                                               "assumed")
    per_token_ms = shutdown.per_token_ms or derived_ms
    prefill_s = derived_prefill if shutdown.prefill_seconds is None else shutdown.prefill_seconds
    source = (f"perTokenMs {per_token_ms:g} "
              f"({'measured' if shutdown.per_token_ms else origin}), prefillSeconds {prefill_s} "
              f"({origin if shutdown.prefill_seconds is None else 'measured'})")
    return Throughput(runnable_requests, context, decode_ms, tokens_per_second, per_token_ms,
                      prefill_s, source, f"{why}; the budgets use {source}")


def timed(cfg: StackConfig, figures: Throughput) -> StackConfig:
    """`cfg` with the shutdown timings in force (figures.per_token_ms, figures.prefill_seconds),
    for the steps that read them from config: the drain (planning/timing.py), the traffic
    layer's timeouts and router sizing, the admission bounds."""
    shutdown = cfg.shutdown.model_copy(update={"per_token_ms": figures.per_token_ms,
                                               "prefill_seconds": figures.prefill_seconds})
    return cfg.model_copy(update={"shutdown": shutdown})


def gpu_hours_per_million_tokens(gpus: int, batch: int, per_token_ms: float) -> float:
    """GPU-hours a replica spends on a million output tokens at its batch = GPUs × 10⁶ /
    (batch × 1000 / per-token ms) / 3600. Example (prod: 2 GPUs, 38 streams at 56 ms):
    2 × 10⁶ / 679 tokens/s / 3600 = 0.82 GPU-hours."""
    tokens_per_second = batch * 1000 / per_token_ms
    return gpus * 1e6 / tokens_per_second / 3600
