"""What each vLLM release does differently: every version switch the program and the policy
pack make, in one place.

Shared by planning (what may be configured, how memory and time are sized), rendering (which
flags to pass) and the policy pack. Each switch is a named first version with its source, and a
predicate that reads it; nothing else in the code compares vLLM versions. Version facts are
from ../shared/reference/vllm.md unless a comment cites vLLM's source.
"""

from __future__ import annotations

from typing import Optional

from packaging.version import InvalidVersion, Version

# Not `from facts import`: facts/__init__ imports this module (tests/architecture: no cycle).
import facts.vllm_cli as vllm_cli


def parse(text: str) -> Version:
    """A vLLM version as PEP 440 orders it (packaging.version): '0.18.0rc0' < '0.18.0' <
    '0.18.0.post1'; a leading 'v' (an image tag) is dropped. Every version comparison in the
    program and the policy pack goes through this, never through hand-split tuples."""
    try:
        return Version(text.strip().removeprefix("v"))
    except InvalidVersion:
        raise ValueError(f"{text!r} is not a version (x.y.z, e.g. 0.33.0)") from None

# --- Supported range ------------------------------------------------------------------------

V1_ENGINE_SINCE: Version = parse("0.8.0")
"""The V1 engine is the default from 0.8.0 (its metrics, profiling and scheduler defaults are
what the program models); older pins are refused in planning/config/stack.py."""

# --- Parsers --------------------------------------------------------------------------------

PARSER_SINCE: dict[str, Version] = {
    "deepseek_r1": parse("0.7.2"),   # reasoning parser, vllm PR #12473 (released in 0.7.2)
    "deepseek_v3": parse("0.8.3"),   # tool-call parser for DeepSeek V3 / R1-0528
    "deepseek_v4": parse("0.20.0"),  # V4 support starts at 0.20.0
    # Tool-call parsers, read from the PyPI wheels' vllm/entrypoints/openai/tool_parsers/:
    # deepseek_v31 is registered in 0.10.2 (earlier releases not checked); deepseek_v32 is
    # absent from 0.11.0 and registered in 0.20.0 (releases between not checked).
    "deepseek_v31": parse("0.10.2"),
    "deepseek_v32": parse("0.20.0"),
}
"""First vLLM release that ships each DeepSeek parser; older pins run without it."""

ENABLE_REASONING_REMOVED: Version = parse("0.9.0")
"""Before 0.9.0 --reasoning-parser needed --enable-reasoning (vllm PR #17452, #18404)."""


def parser_available(parser: str, version: Version) -> bool:
    """True when the pinned vLLM ships `parser` (unknown names are trusted to the operator)."""
    return version >= PARSER_SINCE.get(parser, parse("0.0.0"))


def needs_enable_reasoning(version: Version) -> bool:
    """--reasoning-parser also needs --enable-reasoning before 0.9.0."""
    return version < ENABLE_REASONING_REMOVED


# --- Shutdown and request logging -----------------------------------------------------------

SHUTDOWN_TIMEOUT_SINCE: Version = parse("0.18.0")
"""--shutdown-timeout N: on SIGTERM vLLM stops accepting and drains running requests for up
to N s. Before 0.18 SIGTERM cuts in-flight requests, so the preStop hook must wait for them."""


def drains_on_sigterm(version: Version) -> bool:
    """True when vLLM itself drains on SIGTERM (--shutdown-timeout exists)."""
    return version >= SHUTDOWN_TIMEOUT_SINCE


REQUEST_LOGGING_DEFAULT_OFF: Version = parse("0.10.1")
"""From 0.10.1 requests are not logged unless --enable-log-requests; --disable-log-requests,
needed before, is removed in 0.17.0."""


def needs_disable_log_requests(version: Version) -> bool:
    """Prompts reach the logs unless --disable-log-requests before 0.10.1."""
    return version < REQUEST_LOGGING_DEFAULT_OFF


# --- JSON logs (rendering/vllm_args.py logging_config) ---------------------------------------

JSON_LOGGING_SINCE: Version = parse("0.10.2")
"""vLLM loads VLLM_LOGGING_CONFIG_PATH as a logging.config.dictConfig JSON (vllm/envs.py;
vllm/logger.py `_configure_vllm_root_logger`: "a custom dictConfig is authoritative"), and the
wheel requires python-json-logger (METADATA Requires-Dist), so the image has the JSON formatter
vLLM's own `--logging-config.formatter json` uses. Both read in the released wheels 0.10.2,
0.11.0, 0.16.0, 0.21.0 and 0.33.0; 0.10.2 is the oldest read, so earlier versions keep text."""

REQUEST_LOG_INFO_WITHOUT_PROMPT_SINCE: Version = parse("0.16.0")
"""RequestLogger.log_inputs (vllm/entrypoints/logger.py; serve/utils/request_logger.py in 0.33)
logs "Received request %s: prompt: %r, ..." at INFO in 0.10.2 and 0.11.0, and from the 0.16.0
wheel "Received request %s: params: ..." at INFO with the prompt only at DEBUG. The releases
between 0.11.0 and 0.16.0 are not read: 0.16.0 is the conservative bound."""

REQUEST_LOGGERS = ("vllm.entrypoints.logger", "vllm.entrypoints.serve.utils.request_logger")
"""Logger names of RequestLogger: vllm/entrypoints/logger.py (0.10.2 .. 0.21.0 wheels) and
vllm/entrypoints/serve/utils/request_logger.py (0.33.0 wheel)."""


def json_logging(version: Version) -> bool:
    """True when the engine can log JSON through a mounted dictConfig file."""
    return version >= JSON_LOGGING_SINCE


def request_log_info_has_prompt(version: Version) -> bool:
    """True when the request logger's INFO line carries the prompt."""
    return version < REQUEST_LOG_INFO_WITHOUT_PROMPT_SINCE

# --- Memory profiling (planning/memory.py) --------------------------------------------------

DEFAULT_GPU_MEMORY_UTILIZATION: dict[Version, float] = {parse("0.0.0"): 0.9,
                                                         parse("0.20.0"): 0.92}
"""vLLM's default --gpu-memory-utilization by first version."""


def default_gpu_memory_utilization(version: Version, measured_kv: bool = False) -> float:
    """vLLM's own default for the pinned version: 0.9, and 0.92 from 0.20.0 (CacheConfig in
    the 0.19.0 and 0.20.0 wheels); 1.0 when 0.34's extensible cache sizes the KV cache from
    measured memory (`measured_kv`, sizes_kv_from_measured_memory)."""
    if measured_kv:
        return EXTENSIBLE_KV_CACHE_DEFAULT_UTILIZATION
    return max((v, u) for v, u in DEFAULT_GPU_MEMORY_UTILIZATION.items() if v <= version)[1]


TRITON_SAMPLER_SINCE: Version = parse("0.17.0")
"""0.17.0 replaced the torch.sort top-k/top-p sampler (~28 bytes per logit element in the
profiling run) with a Triton kernel (~14 bytes); vllm/v1/sample/ops/topk_topp_triton.py."""


def sampler_bytes_per_logit(version: Version) -> int:
    """Bytes per logit element of vLLM's dummy sampler run: 28 before 0.17, 14 from 0.17 (bf16
    logits 2 + fp32 copy 4 + probabilities 4 + noise 4; 0.33's FlashInfer sampler needs less,
    14 is kept there as an upper estimate)."""
    return 28 if version < TRITON_SAMPLER_SINCE else 14


CUDA_GRAPH_ESTIMATE_SINCE: Version = parse("0.20.0")
"""VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS defaults on from 0.20.0 (vllm/envs.py): the
CUDA-graph pool is subtracted from the KV budget. Earlier releases capture graphs after sizing
the cache, inside the 1 − utilization margin."""


def subtracts_cuda_graphs(version: Version) -> bool:
    """True when vLLM subtracts its CUDA-graph estimate from the KV budget.

    Checked in the PyPI wheels: vllm/envs.py defaults VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS
    to "0" in 0.19.0 and to "1" in 0.20.0, 0.21.0, 0.33.0 and 0.34.0, and
    vllm/v1/worker/gpu_worker.py Worker.determine_available_memory subtracts the estimate from
    the KV budget whenever it is on. vLLM's own log line says "the default as of v0.21.0"; the
    0.20.0 wheel already has it on, so the program counts it from 0.20.0."""
    return version >= CUDA_GRAPH_ESTIMATE_SINCE


KV_BUDGET_FROM_INIT_SNAPSHOT_SINCE: Version = parse("0.9.1")
"""From 0.9.1 the V1 worker measures the KV budget against a snapshot it takes in
Worker.init_device once the CUDA context exists (`self.init_snapshot = MemorySnapshot()`;
determine_available_memory: `requested_memory − memory_profiling(self.init_snapshot, …)
.non_kv_cache_memory`, vllm/utils.py): the weights as load_model measured them, torch's peak
increase over the profile run and the non-torch memory that grew since the snapshot. The
0.8.0–0.9.0.1 wheels' determine_available_memory has no baseline: `total × utilization −
(allocated_bytes.all.peak + mem_get_info used − allocated_bytes.all.current)` after the profile
run, which also counts what the GPU held before the weights loaded: the CUDA context and the
model runner's persistent input buffers (GPUModelRunner.__init__, built in init_device before
load_model). Both releases take their reference before init_worker_distributed_environment,
so NCCL and custom all-reduce memory count in both."""


def sizes_kv_without_init_snapshot(version: Version) -> bool:
    """True when the pinned vLLM's KV budget counts everything on the GPU, including what
    it held before the weights loaded: V1 releases before KV_BUDGET_FROM_INIT_SNAPSHOT_SINCE
    (read in every PyPI wheel 0.8.0–0.9.1). The V0 worker (vllm/worker/worker.py) measures
    from a snapshot taken in init_device, as 0.9.1's V1 worker does: False before 0.8.0."""
    return V1_ENGINE_SINCE <= version < KV_BUDGET_FROM_INIT_SNAPSHOT_SINCE


# --- 0.34: the KV cache sized from memory measured after CUDA-graph capture ----------------

EXTENSIBLE_KV_CACHE_SINCE: Version = parse("0.34.0")
"""`--enable-extensible-kv-cache` (vllm/config/cache.py CacheConfig.enable_extensible_kv_cache,
new in 0.34.0, absent from 0.33.0's arg_utils.py): reserve the cache's address range, commit
physical pages after warm-up, "so the cache is sized from the memory actually free after CUDA
graph capture rather than from a profiling estimate". Unset, vLLM turns it on on CUDA and
ROCm (vllm/config/vllm.py VllmConfig._resolve_extensible_kv_cache) unless one of
EXTENSIBLE_KV_CACHE_OFF_FLAGS is given; then --gpu-memory-utilization defaults to 1.0, not
0.92 (CacheConfig.resolved_gpu_memory_utilization). The arithmetic is planning/memory.py
measured_kv_budget_gib."""

EXTENSIBLE_KV_CACHE_FLAG = "--enable-extensible-kv-cache"

EXTENSIBLE_KV_CACHE_OFF_FLAGS: dict[str, str] = {
    "--kv-cache-memory-bytes": "kv_cache_memory_bytes overrides the measured size",
    "--num-gpu-blocks-override": "num_gpu_blocks_override overrides the measured size",
    "--enable-elastic-ep": "elastic EP scale-up skips the warm-up that measures",
}
"""Flags with which vLLM 0.34 cannot size the cache from measured memory
(VllmConfig._resolve_extensible_kv_cache: unset, it stays off; asked for, vLLM raises)."""

EXTENSIBLE_KV_CACHE_MAYBE_OFF_FLAGS = ("--kv-transfer-config",)
"""A KV connector may turn it off (LMCacheMPConnector's legacy CUDA IPC, a connector memory
pool, NIXL without an IMEX channel: _resolve_extensible_kv_cache), which the program cannot see
from the flags; unless it is asked for explicitly, the plan then sizes by the estimate, which
gives the cache less (the safe side)."""

EXTENSIBLE_KV_CACHE_DEFAULT_UTILIZATION = 1.0
"""CacheConfig.resolved_gpu_memory_utilization with the extensible cache and no
--gpu-memory-utilization (0.34.0)."""


def _extensible_kv_cache_request(extra_args: list[str]) -> tuple[Optional[bool], set[str]]:
    """What extraArgs say about the extensible cache: asked for (True), refused (False) or
    left to vLLM (None) — the last spelling wins, as with argparse's BooleanOptionalAction —
    and which flags that turn it off they carry (read as vLLM's parser reads them)."""
    guarded = {EXTENSIBLE_KV_CACHE_FLAG, *EXTENSIBLE_KV_CACHE_OFF_FLAGS,
               *EXTENSIBLE_KV_CACHE_MAYBE_OFF_FLAGS}
    requested, present = None, set()
    for arg in extra_args:
        flag = vllm_cli.canonical_flag(arg, guarded)
        if flag == EXTENSIBLE_KV_CACHE_FLAG:
            requested = True
        elif flag == "--no-" + EXTENSIBLE_KV_CACHE_FLAG[2:]:
            requested = False
        elif flag in guarded:
            present.add(flag)
    return requested, present


def sizes_kv_from_measured_memory(version: Version, extra_args: list[str]) -> bool:
    """True when the pinned vLLM sizes the KV cache from memory measured after CUDA-graph
    capture (0.34.0 and newer, unless a flag turns it off)."""
    if version < EXTENSIBLE_KV_CACHE_SINCE:
        return False
    requested, present = _extensible_kv_cache_request(extra_args)
    if requested is not None:
        return requested
    return not present


def extensible_kv_cache_conflict(version: Version, extra_args: list[str]) -> Optional[str]:
    """Why vLLM would refuse these extraArgs at start, or None: --enable-extensible-kv-cache
    before 0.34 (argparse rejects it) or beside a flag that overrides the measured size
    (VllmConfig._resolve_extensible_kv_cache raises "enable_extensible_kv_cache: …")."""
    requested, present = _extensible_kv_cache_request(extra_args)
    if requested is None:
        return None
    if version < EXTENSIBLE_KV_CACHE_SINCE:
        return (f"{EXTENSIBLE_KV_CACHE_FLAG} is new in vLLM {EXTENSIBLE_KV_CACHE_SINCE}; the "
                f"pinned {version} would refuse it at start: raise vllmVersion or remove it")
    clash = sorted(present & set(EXTENSIBLE_KV_CACHE_OFF_FLAGS))
    if requested and clash:
        return (f"{EXTENSIBLE_KV_CACHE_FLAG} with {clash[0]}: vLLM raises at start because "
                f"{EXTENSIBLE_KV_CACHE_OFF_FLAGS[clash[0]]}; remove one of the two")
    return None


# --- Flags vLLM removed (argparse then rejects them and the pod crash-loops) ---------------

REMOVED_FLAGS: dict[str, tuple[Version, str]] = {
    # vllm/engine/arg_utils.py AsyncEngineArgs.add_cli_args adds it in 0.16.0, not in 0.17.0.
    "--disable-log-requests": (parse("0.17.0"), "requests are not logged unless "
                               "--enable-log-requests, so leave it out"),
    # CacheConfig.swap_space and EngineArgs' --swap-space are in 0.17.0, not in 0.18.0.
    "--swap-space": (parse("0.18.0"), "the V1 engine has no CPU swap space; leave it out "
                     "(--kv-offloading-size offloads KV blocks to host memory)"),
}
"""Flags a vLLM release stopped accepting, with the first release without them (read from
the PyPI wheels 0.16.0, 0.17.0, 0.18.0, 0.19.0, 0.20.0, 0.33.0 and 0.34.0). 0.34.0 removed
no flag 0.33.0 had (the option strings of engine/arg_utils.py and entrypoints/ compared)."""


def removed_flag(flag: str, version: Version) -> Optional[str]:
    """Why `flag` no longer exists in `version`, or None when the version still takes it."""
    removed = REMOVED_FLAGS.get(flag)
    if removed is None or version < removed[0]:
        return None
    return f"was removed in vLLM {removed[0]}: {removed[1]}"


FLASH_ATTN_MLA_SINCE: Version = parse("0.15.0")
"""From 0.15 FLASH_ATTN_MLA (16-token blocks) heads the sm90 backend list
(vllm/platforms/cuda.py _get_backend_priorities); before, FlashMLA forced 64-token blocks."""


DEFAULT_BLOCK_SIZE_64_SINCE: Version = parse("0.34.0")
"""vllm/config/cache.py CacheConfig.DEFAULT_BLOCK_SIZE is 64 from 0.34.0 (16 in the 0.19.0-0.33.0
wheels; 0.33.0 is the last release before). Platform.update_block_size_for_backend
(platforms/interface.py) keeps the default unless --block-size is given or a backend rejects
it (_preferred_block_size_for_backends -> AttentionBackend.get_preferred_block_size: the
smallest supported size then). 0.34.0's default CUDA backends all accept 64: FLASH_ATTN,
TRITON_ATTN, FLASH_ATTN_MLA and TRITON_MLA take MultipleOf(16), FLASHINFER 16/32/64 (and up
to 1024 for trtllm-gen), FLASHMLA 64, FLASHINFER_MLA 32/64."""


def default_block_size(version: Version) -> int:
    """Tokens per cache block vLLM picks without --block-size for a backend that accepts its
    default (CacheConfig.DEFAULT_BLOCK_SIZE): 64 from 0.34.0, 16 before."""
    return 64 if version >= DEFAULT_BLOCK_SIZE_64_SINCE else 16


FLASHINFER_MLA_SINCE: Version = parse("0.15.0")
"""From 0.15 FLASHINFER_MLA heads the MLA list on capability 10.x (vllm/platforms/cuda.py
_get_backend_priorities, `device_capability.major == 10`, unchanged through 0.34.0); 0.15-0.17
also force it in CudaPlatform.check_and_update_config for qk_nope_head_dim 128 (DeepSeek V3/R1
and its kin). Before, 0.11-0.14's check_and_update_config forced CUTLASS_MLA on Blackwell
(is_device_capability(100) in 0.11/0.12, the 10.x family from 0.13)."""
BLACKWELL_MLA_FAMILY_SINCE: Version = parse("0.13.0")
"""0.11.0/0.12.0 force CUTLASS_MLA only on exactly 10.0 (Platform.is_device_capability(100));
0.13.0 widened it to the 10.x family (is_device_capability_family(100))."""
CUTLASS_MLA_BLOCK_SIZE = 128
"""check_and_update_config (0.11-0.14) sets block_size 128 unless it is a multiple of 128."""
FLASHINFER_MLA_BLOCK_SIZES = (32, 64)
"""FlashInferMLABackend.get_supported_kernel_block_sizes (v1/attention/backends/mla/
flashinfer_mla.py) returns [32, 64] in every wheel 0.15.0-0.34.0; supports_compute_capability
is `major == 10`, so sm120 (12.x) falls through to TRITON_MLA (MultipleOf(16)), the default."""
MLA_PREFERRED_BLOCK_SINCE: Version = parse("0.18.0")
"""0.15-0.17 check_and_update_config turn a block that is neither 32 nor a multiple of 64 into
64 for FLASHINFER_MLA (16 -> 64); from 0.18 Platform.update_block_size_for_backend
(platforms/interface.py) keeps the default only if the backend supports it, else
AttentionBackend.get_preferred_block_size returns the smallest supported size (16 -> 32)."""


def _blackwell_mla_block_size(compute_capability: float, version: Version) -> int:
    """Blackwell (10.x): CUTLASS_MLA's 128 before 0.15, then FLASHINFER_MLA's 64 (0.15-0.17,
    forced), its smallest size 32 (0.18-0.33), vLLM's default 64 from 0.34 (it accepts it)."""
    if version < FLASHINFER_MLA_SINCE:
        if version < BLACKWELL_MLA_FAMILY_SINCE and compute_capability != 10.0:
            return default_block_size(version)  # FlashMLA needs major 9: no forcing
        return CUTLASS_MLA_BLOCK_SIZE
    if version < MLA_PREFERRED_BLOCK_SINCE:
        return max(FLASHINFER_MLA_BLOCK_SIZES)
    default = default_block_size(version)
    return default if default in FLASHINFER_MLA_BLOCK_SIZES else min(FLASHINFER_MLA_BLOCK_SIZES)


def mla_block_size(compute_capability: float, version: Version) -> int:
    """Tokens per MLA cache block for the MLA backend vLLM puts first: on Hopper (9.x) 64
    before 0.15 (FlashMLA), then FLASH_ATTN_MLA's MultipleOf(16) keeps the default; on
    Blackwell (10.x) _blackwell_mla_block_size; elsewhere (8.x, sm120 12.x: TRITON_MLA,
    MultipleOf(16)) vLLM's default block (default_block_size: 16, 64 from 0.34)."""
    if int(compute_capability) == 10:
        return _blackwell_mla_block_size(compute_capability, version)
    if int(compute_capability) == 9 and version < FLASH_ATTN_MLA_SINCE:
        return 64
    return default_block_size(version)


# DSA (sparse MLA) cache format switches, read in the 0.11.0-0.34.0 wheels; the rule that uses
# them is facts/sparse_mla.py cache_format.
DSA_AUTO_CACHE_DS_MLA_UNTIL: Version = parse("0.12.0")
"""0.11.0's DeepseekV32ForCausalLM.verify_and_update_config (models/config.py) turns an `auto`
cache into fp8_ds_mla as well as an fp8 one; 0.12.0's only an fp8 one."""
DSA_BACKEND_CONVERTS_SINCE: Version = parse("0.18.0")
"""Before 0.18.0 only the V3.2 architecture's config hook converts (fp8 -> fp8_ds_mla, before a
backend is chosen); from 0.18.0 the hook keeps fp8 and MLAAttention.__init__
(layers/attention/mla_attention.py) converts where the chosen backend is FLASHMLA_SPARSE."""
SPARSE_FLASHINFER_FP8_SINCE: Version = parse("0.18.0")
"""FLASHINFER_MLA_SPARSE (Blackwell) lists fp8 in supported_kv_cache_dtypes from 0.18.0 (0.17.0:
auto and bfloat16 only); its supports_combination wants qk_nope_head_dim 128."""
SPARSE_FLASHINFER_NOPE_192_SINCE: Version = parse("0.19.0")
"""FLASHINFER_MLA_SPARSE accepts qk_nope_head_dim 192 (GLM-5) too from 0.19.0."""
SPARSE_FLASHINFER_FIRST_FOR_FP8_SINCE: Version = parse("0.19.0")
"""vllm/platforms/cuda.py _get_backend_priorities on capability 10: an fp8 cache puts
FLASHINFER_MLA_SPARSE first from 0.19.0; before, it is first only at <= 16 heads per GPU."""
SPARSE_FLASHINFER_HEADS_MAX = 16
"""The heads per GPU up to which 0.17-0.18 (and 16-bit caches later) prefer FlashInfer on
Blackwell ("FlashMLA uses padding")."""
SPARSE_SM120_SINCE: Version = parse("0.24.0")
"""Capability 12 gets FLASHINFER_MLA_SPARSE_SM120 from 0.24.0 (cuda.py), which stores auto and
fp8 caches as fp8_ds_mla (mla_attention.py _canonicalize_sparse_mla_kv_cache_dtype); before,
no sparse backend supports capability 12."""
GLM_DSA_FP8_ON_BLACKWELL_SINCE: Version = parse("0.32.0")
"""GlmMoeDsaForCausalLM.verify_and_update_config (models/config.py) turns an `auto` cache into
fp8_e4m3 on capability 10.x from 0.32.0 (0.31.0: DCP defaults only)."""
DSA_SHARED_INDEXER_SINCE: Version = parse("0.24.0")
"""A DSA layer whose top-k is shared (index_topk_freq / index_topk_pattern) builds no Indexer,
and so no indexer cache, from 0.24.0 (deepseek_v2.py DeepseekV2MLAAttention.__init__: `if
self.is_v32 and (not _skip_topk or is_mtp_layer)`); 0.21.0 and 0.23.0 compute the skip but
build the Indexer on every layer. 0.34.0 reads config.json indexer_types first
(models/utils.py compute_skip_topk_layers, called by models/deepseek_v32/attention.py); 0.33.0
does not read it."""


def fp8_kv_falls_back_to_v0(compute_capability: float, version: Version) -> bool:
    """fp8 KV cache below compute capability 8.9 made vLLM fall back to V0 before 0.9.0."""
    return compute_capability < 8.9 and version < parse("0.9.0")


ONLINE_FP8_REMOVED: Version = parse("0.31.0")
"""`--quantization fp8` on a 16-bit checkpoint raises from 0.31.0 ("The `fp8` quantization
method no longer supports online quantization. Please use `--quantization fp8_per_tensor`",
vllm/model_executor/layers/quantization/fp8.py Fp8Config.__init__); bisected over the PyPI
sdists: 0.20.0, 0.25.1, 0.28.0 and 0.30.0 still quantize online, 0.31.0, 0.32.0 and 0.33.0
raise."""

FP8_PER_TENSOR_SINCE: Version = parse("0.20.0")
"""`--quantization fp8_per_tensor`, the online FP8 shorthand (QuantizationMethods in
vllm/model_executor/layers/quantization/__init__.py), is in every release checked from 0.20.0
to 0.33.0; older releases were not checked, so the program offers it from 0.20.0."""


def online_fp8_available(version: Version) -> bool:
    """True when `--quantization fp8` still quantizes a 16-bit checkpoint at load time."""
    return version < ONLINE_FP8_REMOVED


def fp8_per_tensor_available(version: Version) -> bool:
    """True when `--quantization fp8_per_tensor` quantizes a 16-bit checkpoint at load time."""
    return version >= FP8_PER_TENSOR_SINCE


def online_fp8_method(version: Version) -> str:
    """The --quantization value that quantizes a 16-bit checkpoint to FP8 on this version."""
    return "fp8" if online_fp8_available(version) else "fp8_per_tensor"


FUSED_MOE_CHUNK_16K_SINCE: Version = parse("0.12.0")
FUSED_MOE_UNCHUNKED_SINCE: Version = parse("0.18.0")
"""The fused-MoE modular kernel runs its experts in chunks of VLLM_FUSED_MOE_CHUNK_SIZE tokens
and sizes its workspace for one chunk (fused_moe/modular_kernel.py `_chunk_info`): default
"32768" in the 0.8.2, 0.10.1 and 0.11.0 wheels' envs.py, 16 × 1024 in 0.12.0, 0.13.0, 0.15.0
and 0.17.0; the variable and the chunking are gone from 0.18.0 (0.18.0, 0.19.0, 0.20.0, 0.26.0,
0.28.0, 0.32.0 and 0.33.0 checked: `_allocate_buffers` sizes for every token at once)."""


def fused_moe_chunk_tokens(version: Version) -> Optional[int]:
    """Most tokens one fused-MoE call sizes its workspace for: 32,768 before 0.12, 16,384
    from 0.12, no cap (None) from 0.18."""
    if version >= FUSED_MOE_UNCHUNKED_SINCE:
        return None
    return 16 * 1024 if version >= FUSED_MOE_CHUNK_16K_SINCE else 32768


BATCHED_DP_MOE_FROM_SCHEDULER_SINCE: Version = parse("0.20.0")
"""With a batched all-to-all (ParallelConfig.use_batched_dp_moe: all2all_backend
deepep_low_latency or nixl_ep, expert parallelism, DP > 1) the MoE layer declares
FusedMoEConfig.max_num_tokens = scheduler_config.max_num_batched_tokens from 0.20.0, and
EngineArgs._set_default_max_num_seqs_and_batched_tokens_args then defaults that to
SchedulerConfig.DEFAULT_MAX_NUM_BATCHED_TOKENS_FOR_BATCHED_DP (256); the 0.14.0–0.19.0 wheels
declare envs.VLLM_MOE_DP_CHUNK_SIZE (default 256) and have no batched default
(fused_moe/layer.py FusedMoE.__init__; read in the 0.14–0.20, 0.26–0.34 wheels)."""


def sizes_batched_moe_by_scheduler(version: Version) -> bool:
    """True when a batched all-to-all's MoE tokens are max_num_batched_tokens, defaulting to
    256 for it; False: VLLM_MOE_DP_CHUNK_SIZE."""
    return version >= BATCHED_DP_MOE_FROM_SCHEDULER_SINCE


SPARSE_GRAPH_SIZES_SINCE: Version = parse("0.15.0")
"""From 0.15 CUDA graphs are captured every 8 batch sizes below 256 and every 16 above (51
sizes up to 512; 67 before, every 8): vllm/config/vllm.py _set_cudagraph_sizes."""


def sparse_graph_sizes(version: Version) -> bool:
    """True when vLLM captures every 16th batch size above 256."""
    return version >= SPARSE_GRAPH_SIZES_SINCE


HOPPER_BLOCK_FP8_TRITON_SINCE: Version = parse("0.17.0")
"""From 0.17.0 vLLM's FP8 MoE oracle puts Triton first for block-FP8 experts on compute
capability 9.0 when they are tensor-parallel (ep_size 1), FlashInfer CUTLASS when they are
expert-parallel: vllm/model_executor/layers/fused_moe/oracle/fp8.py _get_priority_backends,
"On Hopper for Block Fp8, prefer Triton for TP and FI CUTLASS for EP" (in the 0.17.0, 0.18.0,
0.19.0, 0.20.0, 0.26.0, 0.32.0 and 0.33.0 wheels; not in 0.14.0, 0.15.0 or 0.16.0, whose
order puts DeepGEMM before Triton). TritonExperts accepts the 128-block FP8 scheme
(_supports_quant_scheme)."""


def runs_block_fp8_experts_on_triton(version: Version, compute_capability: float,
                                     expert_parallel: bool) -> bool:
    """True when vLLM picks TritonExperts for block-FP8 experts: Hopper (9.0 exactly),
    tensor-parallel experts, vLLM ≥ 0.17.0 (HOPPER_BLOCK_FP8_TRITON_SINCE)."""
    return (version >= HOPPER_BLOCK_FP8_TRITON_SINCE and compute_capability == 9.0
            and not expert_parallel)


DEEP_GEMM_DEFAULT_SINCE: Version = parse("0.11.0")
"""VLLM_USE_DEEP_GEMM defaults to 1 in 0.11.0 (0 in 0.8.5; the release between that flipped
it was not bisected, so 0.11.0 is the first the program counts the warm-up for)."""


def warms_up_deep_gemm(version: Version, compute_capability: float, block_fp8: bool) -> bool:
    """True when vLLM JIT-compiles DeepGEMM's FP8 block kernels at start: FP8 block weights
    on Hopper or newer with vLLM ≥ 0.11 (envs.py VLLM_DEEP_GEMM_WARMUP)."""
    return block_fp8 and compute_capability >= 9.0 and version >= DEEP_GEMM_DEFAULT_SINCE


NATIVE_MULTI_NODE_SINCE: Version = parse("0.11.1")
"""vLLM's own multi-node launch for one replica (--nnodes, --node-rank, --master-addr,
--master-port, --headless on the other nodes; multiprocessing executor), vllm PR #23691. Older
releases need Ray for a replica that spans nodes (reference/multinode.md 1.3)."""


def native_multi_node(version: Version) -> bool:
    """True when vLLM launches a multi-node replica without Ray."""
    return version >= NATIVE_MULTI_NODE_SINCE


RAY_DEPENDENCY_REMOVED: Version = parse("0.18.0")
"""vLLM's wheels require ray[cgraph] up to 0.17.x and not from 0.18.0 (Requires-Dist in the
PyPI wheel metadata of 0.10.0, 0.11.0, 0.17.0, 0.17.1 vs 0.18.0, 0.19.0), so the
vllm/vllm-openai image has Ray only before 0.18.0."""


def image_has_ray(version: Version) -> bool:
    """True when the stock vllm/vllm-openai image of `version` ships Ray."""
    return version < RAY_DEPENDENCY_REMOVED


ENGINE_READY_TIMEOUT_SINCE: Version = parse("0.14.0")
"""VLLM_ENGINE_READY_TIMEOUT_S (default 600 s) bounds an API server's poll for each engine's
first message on its input socket (vllm/v1/engine/core_client.py MPClient.__init__);
configurable from 0.14.0 (vllm/envs.py, PR #27444), hard-coded `poll(timeout=600_000)` before.
When that poll bounds the engine's start: see engine_ready_deadline_binds."""
ENGINE_READY_DEFAULT_SECONDS = 600


def engine_ready_timeout_configurable(version: Version) -> bool:
    """True when VLLM_ENGINE_READY_TIMEOUT_S can raise the engine's start deadline."""
    return version >= ENGINE_READY_TIMEOUT_SINCE


def engine_ready_deadline_binds(version: Version, api_servers: int) -> bool:
    """True when the fixed 600 s poll can end a start that is still loading: before 0.14.0, in
    a pod running more than one API server.

    Read in the 0.11.0, 0.12.0 and 0.13.0 wheels. One API server launches its engines itself:
    MPClient.__init__ enters `launch_core_engines` (vllm/v1/engine/utils.py), whose exit runs
    `wait_for_engine_startup`, a loop on `poller.poll(STARTUP_POLL_PERIOD_MS)` with no deadline
    until every engine sends READY; an engine sends READY when its handshake context exits
    (vllm/v1/engine/core.py EngineCoreProc.__init__ / `_perform_handshake`), after the model is
    loaded and profiled and after its input thread has sent its first message, so the 600 s
    poll that follows returns at once. That holds for every launch the program renders: the
    Ray executor and the mp `--nnodes` leader build their executor inside the engine's
    handshake (a `--headless` node runs only a MultiprocExecutor, no client), and each pod of
    the hybrid data-parallel group runs one API server that launches its local engines. The
    poll binds only where the API server does not launch the engines: `--api-server-count`
    > 1 (vllm/entrypoints/cli/serve.py `run_multi_api_server`: the parent launches them, each
    API server process polls 600 s while they load) and `--data-parallel-backend ray` (utils.py
    `launch_core_engines` yields without waiting); the program renders neither (both are
    managed extraArgs, planning/config/engine.py)."""
    return not engine_ready_timeout_configurable(version) and api_servers > 1


API_SERVERS_FOLLOW_DATA_PARALLEL_SINCE: Version = parse("0.15.0")
"""From 0.15.0 `--api-server-count` defaults to None and `vllm serve` (internal load balancing)
sets it to --data-parallel-size (vllm/entrypoints/cli/serve.py ServeSubcommand.cmd, the same in
0.34.0, where hybrid LB takes --data-parallel-size-local); in 0.11.0-0.14.0 the flag's default
is 1 (vllm/entrypoints/openai/cli_args.py). The flag came with PR #17546 (mid-2025, before
0.11.0; the first release that has it was not read)."""


def default_api_servers(version: Version, data_parallel: int) -> int:
    """API server processes a single-node `vllm serve` starts without --api-server-count."""
    return data_parallel if version >= API_SERVERS_FOLLOW_DATA_PARALLEL_SINCE else 1


DISTRIBUTED_TIMEOUT_FLAG_SINCE: Version = parse("0.20.0")
"""--distributed-timeout-seconds (torch init_process_group's timeout; PyTorch's NCCL default is
600 s) is in vllm/engine/arg_utils.py of 0.20.0 and 0.33.0, not of 0.15.0; the release in
between that added it was not checked, so 0.20.0 is the first the program passes it on."""


def distributed_timeout_flag(version: Version) -> bool:
    """True when `--distributed-timeout-seconds` can raise NCCL's 600 s rendezvous wait."""
    return version >= DISTRIBUTED_TIMEOUT_FLAG_SINCE


# --- What the API key guards (the engine fence, the policy's route rule) -------------------

API_KEY_GUARDED_PREFIXES: dict[Version, tuple[str, ...]] = {
    # 0.8.0: the `authentication` middleware in vllm/entrypoints/openai/api_server.py skips
    # paths that do not start with "/v1"; 0.11.0 the AuthenticationMiddleware class there,
    # 0.20.0 and 0.21.0 the same class in vllm/entrypoints/openai/server_utils.py.
    parse("0.8.0"): ("/v1",),
    # 0.22.0: GUARDED_PREFIX in vllm/entrypoints/openai/server_utils.py; 0.23.0-0.26.0 in
    # vllm/entrypoints/serve/utils/server_utils.py.
    parse("0.22.0"): ("/v1", "/v2", "/inference"),
    # 0.27.0 and 0.28.0: vllm/entrypoints/serve/utils/server_utils.py; 0.29.0-0.34.0:
    # vllm/entrypoints/serve/middleware/authenticate.py (GUARDED_PREFIX).
    parse("0.27.0"): ("/v1", "/v2", "/inference", "/cohere"),
}
"""Path prefixes vLLM's API key guards, by first release (read from the PyPI wheels 0.8.0,
0.11.0, 0.20.0, 0.21.0, 0.22.0, 0.23.0, 0.26.0, 0.27.0, 0.28.0, 0.29.0, 0.32.0, 0.33.0,
0.34.0; patch releases in between were not read). The middleware checks
`url_path.startswith(GUARDED_PREFIX)`, a string prefix. Every other path answers without a
key: /invocations (the SageMaker route, vllm/entrypoints/serve/sagemaker/api_router.py in 0.33,
full inference like /v1; 0.33's --api-key help in entrypoints/common/cli_args.py says so),
/tokenize, /detokenize, /metrics, /health, /ping, /version, /load, the dev and profiling
endpoints. So only the NetworkPolicy keeps them in the cluster, and a route from outside
must match guarded paths only."""

API_KEY_GUARDED_EVERYWHERE: tuple[str, ...] = tuple(
    prefix for prefix in API_KEY_GUARDED_PREFIXES[min(API_KEY_GUARDED_PREFIXES)]
    if all(prefix in guarded for guarded in API_KEY_GUARDED_PREFIXES.values()))
"""What every supported release guards: the prefixes to hold a route to when the version is
not known."""


def api_key_guarded_prefixes(version: Version) -> tuple[str, ...]:
    """The path prefixes the API key guards in `version`."""
    return max((v, p) for v, p in API_KEY_GUARDED_PREFIXES.items() if v <= version)[1]


def api_key_guards(path: str, version: Version) -> bool:
    """True when vLLM `version` asks for the key on `path` (a string prefix, as it checks)."""
    return path.startswith(api_key_guarded_prefixes(version))


# --- Admission limits (planning/admission.py) -------------------------------------------------

ADMISSION_LIMITS_SINCE: Version = parse("0.29.0")
"""--max-num-queued-reqs / --max-num-queued-tokens: a request over either bound is refused with
HTTP 503 before it queues (vllm/engine/arg_utils.py `add_cli_args`, vllm/config/scheduler.py
`SchedulerConfig.max_num_queued_reqs`, vllm/v1/engine/async_llm.py `check_admission`). Read
from the released wheels: absent in 0.28.0 (and 0.26.0), present in 0.29.0 (and 0.30.0-0.33.0)."""

ADMISSION_METRIC_SINCE: Version = parse("0.32.0")
"""The counter `vllm:admission_rejections{model_name, reason}` (reason max_num_queued_reqs |
max_num_queued_tokens; no `engine` label), exported by prometheus_client as
`vllm:admission_rejections_total` (vllm/v1/metrics/loggers.py `ADMISSION_REASONS`). Read from
the released wheels: absent in 0.30.0 and 0.31.0, present in 0.32.0 and 0.33.0."""

ADMISSION_REJECTIONS_SERIES = "vllm:admission_rejections_total"


def has_admission_limits(version: Version) -> bool:
    """True when vLLM can bound its queue (refusing excess work with 503)."""
    return version >= ADMISSION_LIMITS_SINCE


def exports_admission_rejections(version: Version) -> bool:
    """True when vLLM counts the requests its admission limits refused."""
    return version >= ADMISSION_METRIC_SINCE


# --- Model loaders (--load-format) and what each rank reads ---------------------------------
# Read from the PyPI wheels' vllm/model_executor/model_loader/__init__.py (the loader registry)
# and vllm/config/load.py: 0.8.0, 0.8.1, 0.8.2, 0.8.5, 0.9.0, 0.10.0, 0.10.1, 0.10.2, 0.11.0,
# 0.16.0-0.21.0, 0.26.0, 0.28.0-0.34.0.

LOADER_SINCE: dict[str, Version] = {
    "auto": V1_ENGINE_SINCE,
    "safetensors": V1_ENGINE_SINCE,
    "runai_streamer": V1_ENGINE_SINCE,       # in the 0.8.0 wheel (the oldest supported pin)
    "fastsafetensors": parse("0.8.2"),       # absent in 0.8.1, registered in 0.8.2 (PR #10647)
    "runai_streamer_sharded": parse("0.8.5"),  # absent in 0.8.4, registered in 0.8.5
    "instanttensor": parse("0.18.0"),        # absent in 0.17.0, registered in 0.18.0
}
"""First vLLM release whose `--load-format` accepts each loader engine.loadFormat names."""


def loader_available(load_format: str, version: Version) -> bool:
    """True when the pinned vLLM has `load_format`."""
    return version >= LOADER_SINCE[load_format]


RUNAI_GCS_SINCE: Version = parse("0.10.2")
"""runai_streamer reads gs:// from 0.10.2 (vllm/transformers_utils/runai_utils.py and the
`runai-model-streamer-gcs` extra appear there; 0.10.1's wheel knows s3:// only)."""


def streamer_reads(scheme: str, version: Version) -> bool:
    """True when the pinned vLLM's runai_streamer opens `scheme` ('s3' or 'gs') URIs."""
    return scheme == "s3" or version >= RUNAI_GCS_SINCE


NFS_AUTO_PREFETCH_SINCE: Version = parse("0.19.0")
"""From 0.19.0, with no --safetensors-load-strategy, vLLM reads the checkpoint files into the
page cache ahead of the loader (8 threads) when they lie on NFS (0.20: NFS or Lustre) and fit
in 90 % of the free RAM (model_loader/weight_utils.py `safetensors_weights_iterator`,
`_is_nfs_path`/`_get_fs_type`); --safetensors-load-strategy prefetch exists from 0.18.0
(config/load.py)."""


def prefetches_nfs(version: Version) -> bool:
    """True when the default loader prefetches a checkpoint on NFS by itself."""
    return version >= NFS_AUTO_PREFETCH_SINCE


SPLIT_READ_LOADERS = ("fastsafetensors", "instanttensor", "runai_streamer_sharded")
"""Loaders whose ranks each read a share of the checkpoint, not all of it:
fastsafetensors hands its ParallelLoader the WORLD process group, which splits the files over
the ranks and broadcasts the tensors (weight_utils.py `fastsafetensors_weights_iterator`);
instanttensor loads collectively over the world group's device group
(`instanttensor_weights_iterator`); runai_streamer_sharded reads each rank's own pre-sharded
file (sharded_state / runai_streamer_sharded loaders). The default loader's ranks each read
every tensor (lazy safetensors: `get_tensor` reads the whole tensor before the shard is cut),
sharing the node's page cache; runai_streamer's ranks each stream every selected file unless
--model-loader-extra-config sets "distributed" (runai_streamer_loader.py, default False)."""


EP_LOCAL_EXPERTS_SINCE: Version = parse("0.18.0")
"""With expert parallelism the default loader skips the experts other ranks hold before
reading them (model_loader/default_loader.py `local_expert_ids` from
ep_weight_filter.compute_local_expert_ids, passed to `safetensors_weights_iterator`): absent
in 0.17.0, present from 0.18.0."""


def reads_local_experts_only(version: Version) -> bool:
    """True when a rank under expert parallelism reads only its own experts' tensors."""
    return version >= EP_LOCAL_EXPERTS_SINCE
KV_TOKENS_FROM_CONCURRENCY_SINCE: Version = parse("0.26.0")
"""From 0.26.0 "GPU KV cache size: N tokens" is int(max concurrency × max_model_len)
(vllm/v1/core/kv_cache_utils.py get_kv_cache_capacity, read in the 0.26.0–0.32.0 wheels);
0.19.0 still logged num_blocks // KV-cache groups × block size (the lldp2-gpt-oss-20b
benchmark log: 323,972 blocks, 2 groups → 2,591,776 tokens beside "316.07x"). A bracket:
0.20–0.25 were not read, so they count as the older report."""


def reports_kv_tokens_from_concurrency(version: Version) -> bool:
    """True when vLLM's logged KV token count is concurrency × max_model_len."""
    return version >= KV_TOKENS_FROM_CONCURRENCY_SINCE


IN_FLIGHT_BATCHES_SINCE: Version = parse("0.26.0")
"""From 0.26.0 a sliding-window or chunked-local layer reserves, beyond its window or chunk,
VllmConfig.max_in_flight_tokens = max_concurrent_batches × max_num_batched_tokens
(vllm/v1/kv_cache_interface.py max_admission_blocks_per_request, vllm/config/vllm.py, read in
the 0.26.0 and 0.33.0 wheels); the 0.20.0, 0.22.0, 0.24.0 and 0.25.0 wheels reserve one
max_num_batched_tokens (`self.sliding_window - 1 + max_num_batched_tokens`)."""


def reserves_in_flight_batches(version: Version) -> bool:
    """True when a window or chunk reserves every concurrent batch's tokens, not one batch."""
    return version >= IN_FLIGHT_BATCHES_SINCE


V2_RUNNER_FOR_EVERY_MODEL_SINCE: Version = parse("0.29.0")
"""From 0.29.0 VllmConfig.use_v2_model_runner is on by default for every model on CUDA
(with Triton and none of `_get_v2_model_runner_unsupported_features`: stock torch.compile,
sequence parallelism, custom logits processors, … none on by default); 0.34.0 has no V1
runner (vllm/v1/worker/gpu/ only) and its max_concurrent_batches no longer asks. In 0.26.0–0.28.0
`_is_default_v2_model_runner_model` takes generate models that are neither hybrid nor
attention-free, and dense or one of V2_RUNNER_MOE_ARCHITECTURES (vllm/config/vllm.py, read in
each wheel). Earlier versions were not read: their windows reserve one batch whatever the
runner (IN_FLIGHT_BATCHES_SINCE)."""
V2_RUNNER_MOE_ARCHITECTURES: dict[str, Version] = {
    "DeepseekV2ForCausalLM": parse("0.26.0"),
    "GraniteMoeForCausalLM": parse("0.26.0"),
    "InklingForCausalLM": parse("0.26.0"),
    "InklingForConditionalGeneration": parse("0.26.0"),
    "LongcatFlashNgramForCausalLM": parse("0.26.0"),
    "Qwen2MoeForCausalLM": parse("0.26.0"),
    "KimiK3ForConditionalGeneration": parse("0.27.0"),
    "DeepseekV4ForCausalLM": parse("0.28.0"),
}
"""DEFAULT_V2_MODEL_RUNNER_ARCHITECTURES (vllm/config/vllm.py) and the wheel that added each."""


def runs_v2_model_runner(version: Version, architecture: str, moe: bool, hybrid: bool) -> bool:
    """True when vLLM runs the model on its V2 model runner by default (from 0.26.0, where the
    runner enters the plan through max_concurrent_batches)."""
    if version >= V2_RUNNER_FOR_EVERY_MODEL_SINCE:
        return True
    if hybrid:
        return False
    added = V2_RUNNER_MOE_ARCHITECTURES.get(architecture)
    return not moe or (added is not None and version >= added)


HOPPER_MXFP4_TRITON_SINCE: Version = parse("0.12.0")
"""From 0.12.0 gpt-oss's MXFP4 experts run on the Triton backend on Hopper by default; before,
on Marlin. The choice (vllm/model_executor/layers/quantization/mxfp4.py: 0.10.1
Mxfp4MoEMethod._should_use_marlin, 0.10.2–0.12.0 get_mxfp4_backend) takes Marlin below
compute capability 9, or when `triton_kernels` is not importable, or torch < 2.8.0. The
0.10.1 wheel pins torch 2.7.1 (Marlin on every Hopper; the is23278 log warns "Weight-only FP4
compression will be used leveraging the Marlin kernel"); 0.10.2 and 0.11.0 pin torch 2.8.0 but
do not ship or require `triton_kernels` (utils has_triton_kernels: `_has_module("triton_kernels")`;
vllm issue #26582 on installing it beside 0.11.0); 0.12.0 bundles it as
vllm/third_party/triton_kernels and has_triton_kernels also finds that copy
(utils/import_utils.py). An image that installs triton_kernels beside 0.10.2–0.11.x runs
Triton; the pip wheel's default is counted, Marlin's padding being the larger."""


def hopper_runs_mxfp4_on_triton(version: Version) -> bool:
    """True when vLLM's default MXFP4 MoE backend on Hopper is Triton (≥ 0.12.0), not Marlin."""
    return version >= HOPPER_MXFP4_TRITON_SINCE


HOPPER_MXFP4_SCALE_K_PAD_SINCE: Version = parse("0.26.0")
"""On Hopper the Triton MXFP4 path pads each expert's scale groups (the last dimension of
w13/w2 weight_scale) to a multiple of 4 before swizzling ("Patches #47303: pad K (num scale
groups) to 0 mod 4", vllm/model_executor/layers/quantization/utils/mxfp4_utils.py
_swizzle_mxfp4): in the 0.26.0, 0.28.0–0.32.0 wheels, not in 0.19.0 or 0.20.0. A bracket:
0.21–0.25 were not read, so they count as without the pad."""


def pads_hopper_mxfp4_scale_groups(version: Version) -> bool:
    """True when Hopper's Triton MXFP4 path pads the scale groups to a multiple of 4."""
    return version >= HOPPER_MXFP4_SCALE_K_PAD_SINCE


NVFP4_ON_TURING_SINCE: Version = parse("0.24.0")
"""The lowest compute capability vLLM serves an NVFP4 checkpoint on: 8.0 in 0.10.2
(quantization/modelopt.py ModelOptNvFp4Config.get_min_capability 80; compressed-tensors'
W4A4Fp4 100 but falling back to W4A16Fp4, 80), 7.5 in 0.24.0 and 0.34.0 (both 75: the Marlin
FP4 kernel, utils/marlin_utils_fp4.py is_fp4_marlin_supported). Releases between 0.10.2 and
0.24.0 are not read: 0.24.0 is the conservative bound."""


def nvfp4_min_compute_capability(version: Version) -> float:
    """The oldest GPU generation vLLM `version` runs NVFP4 weights on (NVFP4_ON_TURING_SINCE)."""
    return 7.5 if version >= NVFP4_ON_TURING_SINCE else 8.0
