"""Every number the program derives, as pure functions with the arithmetic in the docstring.

Inputs are model facts (facts/models.yaml or the stack's `model.facts`), GPU facts
(facts/gpus.yaml) and the stack's config. Nothing here talks to Pulumi or Kubernetes, so each
function is tested on its own (tests/planning/test_sizing.py) and the plan report shows the same figures.

Units: GiB = 2**30 bytes; sizes handed to Kubernetes are whole MiB or GiB.
"""

from __future__ import annotations

import math
from typing import Optional

from facts import model_families, vllm_features

GIB = 2**30
MIB = 2**20

# --- Weights ------------------------------------------------------------------------------

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
- fp4-fp8 (DeepSeek V4): experts MXFP4, other linears FP8 with E8M0 block scales."""


def scheme(weights_dtype: str, quantization: str | None) -> str:
    """The checkpoint's storage scheme in GPU memory: `--quantization fp8` of a 16-bit model
    is fp8-online; anything else is the checkpoint's own dtype."""
    if quantization in ("fp8", "fp8_per_tensor") and model_families.is_sixteen_bit(weights_dtype):
        return "fp8-online"
    if weights_dtype not in ROLE_BYTES:
        raise ValueError(f"no bytes-per-parameter figures for weights dtype {weights_dtype!r}")
    return weights_dtype


def default_parameter_groups(params_b: float, vocab_size: int, hidden_size: int,
                             tie_word_embeddings: bool = False) -> dict[str, float]:
    """Parameter roles when the facts give only the total: embedding = vocab × hidden, head =
    the same unless tied, everything else TP-sharded linears (norms are < 0.01 %).
    Example (Llama-3.1-8B): 525.3 M + 525.3 M + 6,979.6 M."""
    embedding = vocab_size * hidden_size
    head = 0 if tie_word_embeddings else embedding
    rest = params_b * 1e9 - embedding - head
    if rest < 0:
        raise ValueError(f"params_b {params_b} is smaller than the embeddings alone")
    return {"embedding": embedding, "head": head, "norms_and_gates": 0,
            "replicated_linear": 0, "sharded_linear": rest, "experts": 0}


def weight_gib(groups: dict[str, float], weights_scheme: str) -> float:
    """Weight memory of the whole model in GiB = Σ roles params × bytes per param (ROLE_BYTES).

    Example (DeepSeek-R1, fp8, MTP excluded): 1.961 G 16-bit params × 2 + 669.07 G FP8 × (1 +
    4/16384) = 626.9 GiB (the checkpoint's own BF16 / F8_E4M3 / F32 counts give the same).
    """
    widths = ROLE_BYTES[weights_scheme]
    return sum(groups[role] * widths[role] for role in WEIGHT_ROLES) / GIB


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def expert_intermediate_per_gpu(intermediate_size: int, tensor_parallel: int,
                                data_parallel: int, expert_parallel: bool) -> int:
    """An expert's intermediate size on one GPU: whole experts with expert parallelism, else
    split over TP × DP (vLLM's FusedMoE flattens TP across DP). 2880 at TP 2 → 1440."""
    return intermediate_size if expert_parallel else intermediate_size // (
        tensor_parallel * data_parallel)


def mxfp4_expert_padding(hidden_size: int, intermediate_per_gpu: int,
                         compute_capability: float) -> float:
    """How much larger MXFP4 experts are in GPU memory than in the checkpoint: vLLM pads each
    expert's hidden (H) and intermediate (I, per GPU) sizes for its MoE kernel
    (vllm/model_executor/layers/fused_moe/oracle/mxfp4.py, 0.20:
    `mxfp4_round_up_hidden_size_and_intermediate_size`), and picks the kernel by GPU
    (`_get_priority_backends_for_gpt_oss`): FlashInfer TRT-LLM on compute capability 10+
    (H and I to multiples of 256), Triton on Hopper (I to 64), Marlin below (I to 128, H to 256).
    factor = H_pad × I_pad / (H × I) (w13 is 2·I × H, w2 H × I).
    Example (gpt-oss, H = I = 2880): Hopper at TP 2: 1472 / 1440 = 1.022; A100: 3072 × 2944 /
    2880² = 1.090.
    """
    if compute_capability >= 10.0:
        padded_h, padded_i = _round_up(hidden_size, 256), _round_up(intermediate_per_gpu, 256)
    elif compute_capability >= 9.0:
        padded_h, padded_i = hidden_size, _round_up(intermediate_per_gpu, 64)
    else:
        padded_h, padded_i = _round_up(hidden_size, 256), _round_up(intermediate_per_gpu, 128)
    return padded_h * padded_i / (hidden_size * intermediate_per_gpu)


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


def weight_gib_per_gpu(groups: dict[str, float], weights_scheme: str, layers: int,
                       tensor_parallel: int, pipeline_parallel: int = 1,
                       data_parallel: int = 1, tie_word_embeddings: bool = False,
                       attention: Optional[dict] = None, expert_padding: float = 1.0) -> float:
    """Weights the fullest GPU holds, the largest over pipeline stages.

    Stage s with n_s of L layers, on each of its TP × DP GPUs:
      embedding / TP           on the first stage (and the last when tied)
      + head / TP              on the last stage
      + n_s / L × (norms_and_gates + replicated_linear)      full on every TP rank
      + n_s / L × sharded_linear / TP
      + n_s / L × experts / (TP × DP)                        experts spread over TP × DP
      + n_s × MLA BF16 copies (mla_decompressed_bytes_per_layer)
    each role at its bytes per parameter, the experts × expert_padding (MXFP4 kernels). Every DP rank holds its own copy of all but the
    experts. Example (Qwen-32B, TP 2): (0.779 G + 0.779 G + 31.206 G) × 2 / 2 = 30.5 GiB.
    """
    widths = ROLE_BYTES[weights_scheme]
    size = {role: groups[role] * widths[role] for role in WEIGHT_ROLES}
    size["experts"] *= expert_padding
    stages = pipeline_stage_layers(layers, pipeline_parallel)
    mla = mla_decompressed_bytes_per_layer(attention or {}, tensor_parallel)
    per_stage = []
    for index, stage_layers in enumerate(stages):
        first, last = index == 0, index == len(stages) - 1
        share = stage_layers / layers
        held = share * (size["norms_and_gates"] + size["replicated_linear"]
                        + size["sharded_linear"] / tensor_parallel
                        + size["experts"] / (tensor_parallel * data_parallel))
        if first or (last and tie_word_embeddings):
            held += size["embedding"] / tensor_parallel
        if last:
            held += size["head"] / tensor_parallel
        per_stage.append(held + stage_layers * mla)
    return max(per_stage) / GIB


# --- KV cache -----------------------------------------------------------------------------

def kv_dtype_bytes(kv_cache_dtype: str) -> int:
    """Bytes per cached element: 2 for `auto` (the 16-bit activation dtype), 1 for fp8."""
    return 1 if kv_cache_dtype == "fp8" else 2


def kv_bytes_per_token_per_layer(attention: dict, layers: int, tensor_parallel: int,
                                 dtype_bytes: int) -> float:
    """Cache bytes one token costs in one layer on one GPU, as vLLM allocates it.

    - gqa (MHA/GQA): 2 (K and V) × max(1, kv_heads / TP) × head_dim × dtype_bytes; KV heads are
      split by TP and replicated when TP exceeds them.
    - mla (DeepSeek V2/V3/R1): (kv_lora_rank + qk_rope_head_dim) × dtype_bytes, NOT split by TP:
      every TP rank holds the whole latent cache.
    - deepseek_v4: the whole-model figure in the facts (compressed fp8 cache) / layers; one KV
      head, so TP does not split it either.
    Example: Qwen-32B at TP 2: 2 × 4 × 128 × 2 = 2048 bytes.
    """
    if model_families.is_gqa(attention):
        heads_per_gpu = max(1, attention["kv_heads"] // tensor_parallel)
        return 2 * heads_per_gpu * attention["head_dim"] * dtype_bytes
    if model_families.is_mla(attention):
        return (attention["kv_lora_rank"] + attention["qk_rope_head_dim"]) * dtype_bytes
    if model_families.is_deepseek_v4(attention):
        return attention["kv_bytes_per_token"] / layers
    raise ValueError(f"unknown attention kind {attention['kind']!r}")


def kv_bytes_per_token_per_gpu(attention: dict, layers: int, tensor_parallel: int,
                               pipeline_parallel: int, dtype_bytes: int) -> float:
    """Cache bytes per token on one GPU = per-layer bytes × ceil(layers / PP)."""
    per_layer = kv_bytes_per_token_per_layer(attention, layers, tensor_parallel, dtype_bytes)
    return per_layer * math.ceil(layers / pipeline_parallel)


def default_scheduler_limits(memory_gib: float, compute_capability: float) -> tuple[int, int]:
    """vLLM V1's defaults for the OpenAI server: (max_num_batched_tokens, max_num_seqs).

    vllm/engine/arg_utils.py (_set_default_args for V1): GPUs with at least 70 GiB that are not
    A100 (H100/H200 class) get 8192 tokens and 1024 sequences; everything else 2048 and 256.
    """
    if memory_gib >= 70 and compute_capability >= 9.0:
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
                        version: vllm_features.Version = vllm_features.parse("0.20.0")) -> float:
    """Peak activation memory of vLLM's profiling on one GPU.

    vLLM's profile_run (vllm/v1/worker/gpu_model_runner.py) runs one forward pass of
    max_num_batched_tokens (T) tokens, frees it, then the sampler on max_num_seqs (S) rows, so
    the peak is the larger of the two, not their sum:
      forward: MLP gate_up 2 × I/TP plus the activated I/TP per token -> T × 3 × I/TP × 2 bytes
               + residual, norm, attention in/out per token           -> T × 4 × H × 2 bytes
      sampler: S × V × bytes per logit (facts/vllm_features.py sampler_bytes_per_logit: 28
               before 0.17, 14 from 0.17; not split by TP)
    Example (Qwen-32B, TP 2, T 2048, S 256, 0.20): max(0.16 + 0.08, 0.51) = 0.51 GiB.
    """
    forward = (max_num_batched_tokens * 3 * (intermediate_size / tensor_parallel) * 2
               + max_num_batched_tokens * 4 * hidden_size * 2)
    sampler = max_num_seqs * vocab_size * vllm_features.sampler_bytes_per_logit(version)
    return max(forward, sampler) / GIB


def non_torch_gib(tensor_parallel: int, version: vllm_features.Version,
                  interconnect: str = "nvlink", enforce_eager: bool = False) -> float:
    """Memory outside the torch allocator that vLLM subtracts from the KV budget.

    = 0.25 GiB (workspaces)
      + all-reduce buffers with TP > 1: 1.8 GiB NVLink, 0.5 GiB PCIe (pipeline stages only
        pass activations point to point: ~0.07 GiB, ignored)
      + 1.0 GiB CUDA-graph estimate from vLLM 0.20.0, unless --enforce-eager (earlier releases
        capture graphs after sizing the cache, inside the 1 − utilization margin).
    """
    total = NON_TORCH_GIB
    if tensor_parallel > 1:
        total += COMMUNICATION_GIB[interconnect]
    if vllm_features.subtracts_cuda_graphs(version) and not enforce_eager:
        total += CUDA_GRAPH_GIB
    return total


def kv_budget_gib(memory_gib: float, utilization: float, weights_per_gpu_gib: float,
                  activation_gib: float, non_torch: float) -> float:
    """KV-cache memory per GPU, the way vLLM sizes it.

    = total memory × gpu_memory_utilization − weights − activation peak − non-torch memory.
    Example (Qwen-32B on 2 × A100 80 GB): 79.15 × 0.9 − 30.5 − 0.54 − 0.75 = 39.4 GiB.
    Negative means the weights alone do not fit.
    """
    return memory_gib * utilization - weights_per_gpu_gib - activation_gib - non_torch


def kv_block_size(attention: dict, compute_capability: float,
                  version: vllm_features.Version = vllm_features.parse("0.20.0")) -> int:
    """Tokens per cache block: 256 for DeepSeek V4; 64 for MLA on Hopper with FlashMLA before
    vLLM 0.15 (from 0.15 FLASH_ATTN_MLA, 16-token blocks, comes first in
    vllm/platforms/cuda.py _get_backend_priorities); 16 otherwise."""
    if model_families.is_deepseek_v4(attention):
        return model_families.DEEPSEEK_V4_BLOCK_SIZE
    if model_families.is_mla(attention):
        return vllm_features.mla_block_size(compute_capability, version)
    return 16


def kv_cache_tokens(budget_gib: float, bytes_per_token: float, block_size: int) -> int:
    """Tokens the cache of one GPU holds (what vLLM logs as "GPU KV cache size: N tokens").

    = floor(budget bytes / bytes per token / block size) × block size; 0 when the budget is
    negative. Example: 39.4 GiB / 131072 B = 322,764 → 322,752 tokens (16-token blocks).
    """
    if budget_gib <= 0:
        return 0
    blocks = math.floor(budget_gib * GIB / bytes_per_token / block_size)
    return blocks * block_size


def max_concurrency(tokens_per_rank: int, data_parallel: int, max_model_len: int) -> float:
    """Full-length requests a replica holds at once = tokens × DP ranks / max_model_len.

    Each DP rank has its own cache; TP ranks of one DP rank share one token count.
    """
    return tokens_per_rank * data_parallel / max_model_len


# --- Host memory and shared memory ------------------------------------------------------

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


# --- Time budgets -------------------------------------------------------------------------

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
                         enforce_eager: bool, deep_gemm: bool) -> dict[str, int]:
    """The engine's start after its weights are in GPU memory, by phase (whole seconds):
      process: 30 s (imports, processes, NCCL, API server)
      profile: 10 s (profiling forward pass, KV allocation)
      compile: 1 s per layer cold, 0.25 s warm (a compile cache volume), 0 with --enforce-eager
      graphs:  0.012 s × captured batch sizes × layers, 0 with --enforce-eager
      deepgemm: 180 s for FP8 block kernels on Hopper (deep_gemm), else 0.
    Example (32 layers, 51 sizes, cold): 30 + 10 + 32 + 20 = 92 s.
    """
    phases = {"process": PROCESS_START_SECONDS, "profile": PROFILE_RUN_SECONDS}
    if not enforce_eager:
        per_layer = COMPILE_WARM_SECONDS_PER_LAYER if compile_cache else (
            COMPILE_COLD_SECONDS_PER_LAYER)
        phases["compile"] = math.ceil(per_layer * layers)
        phases["graphs"] = math.ceil(GRAPH_CAPTURE_SECONDS_PER_SIZE_LAYER * graph_sizes * layers)
    if deep_gemm:
        phases["deepgemm"] = DEEP_GEMM_WARMUP_SECONDS
    return phases


def weight_load_seconds(weights_gib_total: float, read_mib_per_second: int) -> int:
    """Seconds to read the weights = weights GiB × 1024 / storage read MiB/s, rounded up.

    Every pod reads the whole model (all ranks' shards) through one storage path.
    Example: 61 GiB at 400 MiB/s = 157 s.
    """
    return math.ceil(weights_gib_total * 1024 / read_mib_per_second)


STREAMING_LOADERS = ("runai_streamer", "fastsafetensors")
"""Load formats that read many tensors concurrently instead of one file after another."""


def effective_read_mib_per_second(load_format: str, read_mib_per_second: int,
                                  streaming_read_mib_per_second: int | None) -> int:
    """Bandwidth the weight load runs at: the storage's measured streaming rate when a
    streaming loader is configured and that rate is given, else its plain read rate (no
    speed-up is assumed without a measurement)."""
    if load_format in STREAMING_LOADERS and streaming_read_mib_per_second:
        return streaming_read_mib_per_second
    return read_mib_per_second


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


# --- Autoscaling --------------------------------------------------------------------------

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


CLAIM_RELEASE_MARGIN_SECONDS = 300
"""Time for the last old pods to unmount a replaced claim after their grace period."""


def claim_release_seconds(grace_seconds: int) -> int:
    """How long Pulumi waits to delete a replaced claim = the pods' grace period + 300 s.

    A claim is deleted after the Deployment's rollout, while its last old pods may still be
    draining; kubernetes.io/pvc-protection holds the delete until they are gone and unmounted.
    """
    return grace_seconds + CLAIM_RELEASE_MARGIN_SECONDS
