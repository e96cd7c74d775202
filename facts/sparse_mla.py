"""How vLLM stores the latent cache of a model with DeepSeek's sparse attention (DSA:
DeepSeek-V3.2, GLM-5.x), and what a token costs in it per layer.

An MLA layer caches kv_lora_rank + qk_rope_head_dim values per token (576), two bytes each for
a 16-bit cache, one for plain fp8. FlashMLA's sparse kernel reads an fp8 cache only in
DeepSeek's `fp8_ds_mla` row instead: 512 fp8 latent values, 4 fp32 scales (one per 128) and the
64 rope values in BF16 = 656 bytes (vllm/v1/attention/backends/mla/flashmla_sparse.py, the
format's description; vllm/v1/kv_cache_interface.py MLAAttentionSpec.real_page_size_bytes:
block_size × 656 in 0.11.0-0.27.0; from 0.28.0 the layer's state_content_bytes 656, in
layers/attention/mla_attention.py get_kv_cache_spec). The indexer's own key cache (132 B,
planning/memory.py dsa_indexer_bytes_per_token: head_dim + head_dim // 128 × 4 uint8) is the
same in every release read; from 0.24.0 a config's index_topk_freq / index_topk_pattern
(IndexCache) or indexer_types (GLM-5.2, read from 0.34.0) leaves some layers without an indexer
(model.facts shared_indexer_layers; shared_indexer_layers below).

Which format a run gets depends on the release, the architecture, the GPU generation and the
heads per GPU; read in the 0.11.0-0.34.0 wheels (models/config.py verify_and_update_config,
mla_attention.py MLAAttention.__init__, platforms/cuda.py _get_backend_priorities, each sparse
backend's supported_kv_cache_dtypes and supports_combination). The version switches are
facts/vllm_features.py DSA_* and SPARSE_*.
"""

from __future__ import annotations

from typing import Optional, Sequence

# Not `from facts import`: facts/__init__ imports vllm_features (no cycle through it).
import facts.vllm_features as vllm_features

V32_ARCHITECTURE = "DeepseekV32ForCausalLM"
GLM_DSA_ARCHITECTURE = "GlmMoeDsaForCausalLM"

AUTO, FP8, FP8_DS_MLA = "auto", "fp8", "fp8_ds_mla"
FP8_DS_MLA_BYTES_PER_TOKEN = 512 * 1 + 4 * 4 + 64 * 2
"""fp8_ds_mla's row: 512 fp8 latent values, 4 fp32 scales, 64 BF16 rope values = 656 B."""

FLASHMLA_SPARSE = "FLASHMLA_SPARSE"
FLASHINFER_MLA_SPARSE = "FLASHINFER_MLA_SPARSE"
FLASHINFER_MLA_SPARSE_SM120 = "FLASHINFER_MLA_SPARSE_SM120"
INDEXER_BLOCK_SIZE = 64
"""Tokens per cache block of a DSA model on CUDA, whichever sparse backend runs: 0.11.0-0.16.0
platforms/cuda.py check_and_update_config forces 64 for a sparse model (`use_sparse`), 0.17.0
forces 64 for FLASHMLA_SPARSE and for FLASHINFER_MLA_SPARSE off 32/64 (the default 16); from
0.18.0 Platform.update_block_size_for_backend (platforms/interface.py) takes the first attention
layer's get_preferred_block_size, and layer 0's Indexer registers its DeepseekV32IndexerCache
before the MLA layer (models/deepseek_v2.py DeepseekV2MLAAttention.__init__), whose backend
(v1/attention/backends/mla/indexer.py DeepseekV32IndexerBackend) supports only 64 on CUDA —
so FlashInfer's own 32 never decides. Read in the 0.11.0-0.34.0 wheels; the batch-189 log:
"Setting kv cache block size to 64 for DEEPSEEK_V32_INDEXER backend"."""
FLASHINFER_NOPE_HEAD_DIMS = (128, 192)
"""qk_nope_head_dim FLASHINFER_MLA_SPARSE's kernel takes (only 128 before 0.19.0)."""


def _flashinfer_takes_fp8(version: vllm_features.Version, heads_per_gpu: int,
                          qk_nope_head_dim: int) -> bool:
    """Blackwell: FLASHINFER_MLA_SPARSE comes before FLASHMLA_SPARSE for an fp8 cache (from
    0.19, or at <= 16 heads per GPU) and accepts it (fp8 from 0.18, the model's
    qk_nope_head_dim)."""
    if version < vllm_features.SPARSE_FLASHINFER_FP8_SINCE:
        return False
    dims = (FLASHINFER_NOPE_HEAD_DIMS
            if version >= vllm_features.SPARSE_FLASHINFER_NOPE_192_SINCE
            else FLASHINFER_NOPE_HEAD_DIMS[:1])
    first = (version >= vllm_features.SPARSE_FLASHINFER_FIRST_FOR_FP8_SINCE
             or heads_per_gpu <= vllm_features.SPARSE_FLASHINFER_HEADS_MAX)
    return first and qk_nope_head_dim in dims


def has_sparse_backend(compute_capability: float, version: vllm_features.Version) -> bool:
    """Whether any sparse MLA backend of `version` runs on this GPU: FLASHMLA_SPARSE on
    capability 9 and 10 (FLASHINFER_MLA_SPARSE on 10 too), FLASHINFER_MLA_SPARSE_SM120 on 12
    from 0.24 (each backend's supports_compute_capability; cuda.py's lists)."""
    major = int(compute_capability)
    return major in (9, 10) or (major == 12 and version >= vllm_features.SPARSE_SM120_SINCE)


def fp8_backend(compute_capability: float, version: vllm_features.Version,
                heads_per_gpu: int, qk_nope_head_dim: int) -> Optional[str]:
    """The sparse MLA backend vLLM picks for an fp8 cache (None: no sparse backend runs on this
    GPU, and vLLM refuses to start). Hopper: FLASHMLA_SPARSE (FLASH_ATTN_MLA_SPARSE, first from
    0.25, takes 16-bit caches only; FLASHINFER_MLA_SPARSE_SM90, from 0.32, comes after FlashMLA
    for a 576-wide head). Blackwell: FlashInfer where _flashinfer_takes_fp8, else FlashMLA.
    Capability 12 from 0.24: FLASHINFER_MLA_SPARSE_SM120."""
    if not has_sparse_backend(compute_capability, version):
        return None
    major = int(compute_capability)
    if major == 12:
        return FLASHINFER_MLA_SPARSE_SM120
    if major == 10 and _flashinfer_takes_fp8(version, heads_per_gpu, qk_nope_head_dim):
        return FLASHINFER_MLA_SPARSE
    return FLASHMLA_SPARSE


def _requested(architecture: str, configured: str, compute_capability: float,
               version: vllm_features.Version) -> str:
    """The cache dtype after the architecture's config hook: GLM-5's turns `auto` into fp8 on
    Blackwell from 0.32 (fp8_e4m3, one byte like fp8)."""
    if (architecture == GLM_DSA_ARCHITECTURE and configured == AUTO
            and int(compute_capability) == 10
            and version >= vllm_features.GLM_DSA_FP8_ON_BLACKWELL_SINCE):
        return FP8
    return configured


def cache_format(architecture: str, attention: dict, configured: str,
                 compute_capability: float, version: vllm_features.Version,
                 tensor_parallel: int, chosen: Optional[str] = None) -> str:
    """The DSA latent cache's format: fp8_ds_mla, fp8 or auto (16-bit).
    - before 0.18 the V3.2 architecture's hook turns fp8 (and in 0.11 also auto) into
      fp8_ds_mla on every GPU; other architectures keep what is configured (GLM-5 with fp8 in
      0.16-0.17 finds no sparse backend that takes it and vLLM refuses; not modelled here);
    - from 0.18 the backend decides: FLASHMLA_SPARSE stores fp8 as fp8_ds_mla, the SM120
      backend (0.24+) stores auto and fp8 as fp8_ds_mla, FlashInfer keeps plain fp8.
    Heads per GPU are the attention heads over TP (DeepseekV2MLAAttention.num_local_heads).
    `chosen`: an --attention-backend name, which vLLM uses as it is instead of its priority
    list (platforms/cuda.py get_attn_backend_cls; config/attention.py upper-cases it, "auto"
    is no choice)."""
    if version < vllm_features.DSA_BACKEND_CONVERTS_SINCE:
        converts = configured == FP8 or version < vllm_features.DSA_AUTO_CACHE_DS_MLA_UNTIL
        return FP8_DS_MLA if architecture == V32_ARCHITECTURE and converts else configured
    requested = _requested(architecture, configured, compute_capability, version)
    heads_per_gpu = attention["heads"] // tensor_parallel
    backend = fp8_backend(compute_capability, version, heads_per_gpu,
                          attention["qk_nope_head_dim"])
    if chosen and chosen.upper() != "AUTO":
        backend = chosen.upper()
    if backend == FLASHINFER_MLA_SPARSE_SM120 or (backend == FLASHMLA_SPARSE
                                                   and requested == FP8):
        return FP8_DS_MLA
    return requested


def format_bytes_per_token(attention: dict, fmt: str) -> int:
    """Latent cache bytes per token and layer in `fmt` (the indexer's keys aside)."""
    if fmt == FP8_DS_MLA:
        return FP8_DS_MLA_BYTES_PER_TOKEN
    values = attention["kv_lora_rank"] + attention["qk_rope_head_dim"]
    return values * (1 if fmt == FP8 else 2)


def latent_bytes_per_token(architecture: str, attention: dict, configured: str,
                           compute_capability: float, version: vllm_features.Version,
                           tensor_parallel: int, chosen: Optional[str] = None) -> Optional[int]:
    """A DSA model's latent bytes per token and layer as vLLM stores them; None for any other
    model (no index_head_dim), whose bytes the plan counts itself. `chosen`: as cache_format."""
    if not attention.get("index_head_dim"):
        return None
    fmt = cache_format(architecture, attention, configured, compute_capability, version,
                       tensor_parallel, chosen)
    return format_bytes_per_token(attention, fmt)


def shared_indexer_layers(layers: Optional[Sequence[int]],
                          version: vllm_features.Version) -> frozenset[int]:
    """The layers that keep no indexer cache on `version`: the facts' shared layers from
    vllm_features.DSA_SHARED_INDEXER_SINCE (vLLM builds no Indexer on them), none before (every
    DSA layer builds one)."""
    if version < vllm_features.DSA_SHARED_INDEXER_SINCE:
        return frozenset()
    return frozenset(layers or ())



def gpu_without_sparse_backend(compute_capability: float,
                               version: vllm_features.Version) -> Optional[str]:
    """Why no sparse MLA backend runs on this GPU, so that vLLM stops at start-up ("No valid
    attention backend found"), or None: FLASHMLA_SPARSE runs on capability 9 and 10,
    FLASHINFER_MLA_SPARSE on 10, the SM120 backend on 12 from 0.24; nothing else."""
    if not has_sparse_backend(compute_capability, version):
        return (f"no sparse MLA backend of vLLM {version} runs on compute capability "
                f"{compute_capability} (FlashMLA: 9 and 10; FLASHINFER_MLA_SPARSE_SM120: 12 "
                f"from {vllm_features.SPARSE_SM120_SINCE})")
    return None


def fp8_without_sparse_backend(architecture: str, configured: str,
                               version: vllm_features.Version) -> Optional[str]:
    """Why no sparse MLA backend takes this fp8 cache, or None: before 0.18 an fp8 cache reaches
    backend selection as fp8 unless the V3.2 architecture's hook made it fp8_ds_mla, and no
    sparse backend of those releases takes plain fp8 (FLASHMLA_SPARSE: auto, bfloat16,
    fp8_ds_mla; 0.17's FLASHINFER_MLA_SPARSE: auto, bfloat16)."""
    if (configured == FP8 and architecture != V32_ARCHITECTURE
            and version < vllm_features.DSA_BACKEND_CONVERTS_SINCE):
        return (f"vLLM {version} stores an fp8 sparse MLA cache only as fp8_ds_mla, which it "
                f"sets for {V32_ARCHITECTURE} alone; from "
                f"{vllm_features.DSA_BACKEND_CONVERTS_SINCE} FLASHMLA_SPARSE converts any fp8 "
                "cache")
    return None
