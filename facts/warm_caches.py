"""The caches a vLLM start writes and the next start reuses, read from the released wheels on
PyPI (0.10.2, 0.11.0, 0.16.0, 0.17.0, 0.20.0, 0.26.0, 0.29.0–0.34.0), and the kernels an image
build can pre-stage for an offline start.

A cache is worth keeping across restarts only where the pinned vLLM both writes it under a
directory the pod can keep (a claim) and reads it back on the next start with the same model,
config and code. The start-up budget credits a cache only when it is configured (the
compile-cache claim, engine.compileCacheGib, mounted at VLLM_CACHE_ROOT) and its entry here
says the pinned version reuses it (`reused`). "since" is the oldest wheel read that has it (the
releases before were not read, so nothing is credited there).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from facts.vllm_features import Version, parse


@dataclasses.dataclass(frozen=True)
class WarmCache:
    """One cache: where it lives, the variable that moves it, since which release it is reused
    from there, the start-up phase it shortens, and the source that shows it."""

    name: str
    directory: str
    """Relative to VLLM_CACHE_ROOT where it lives under it; else absolute, `~` the pod's HOME."""
    env: str
    since: Version
    phase: Optional[str]
    source: str


VLLM_CACHE_ROOT_ENV = "VLLM_CACHE_ROOT"
"""The root vLLM keeps its caches under (vllm/envs.py: `~/.cache/vllm`, or XDG_CACHE_HOME/vllm);
the compile-cache claim is mounted there (rendering/pod.py)."""
FLASHINFER_BASE_ENV = "FLASHINFER_WORKSPACE_BASE"
FLASHINFER_BASE_DIR = "flashinfer"
"""Where the pod points FLASHINFER_WORKSPACE_BASE when the claim is mounted: under
VLLM_CACHE_ROOT, so FlashInfer's JIT and cubin cache lands on the claim too."""

CACHES: tuple[WarmCache, ...] = (
    WarmCache("torch.compile", "torch_compile_cache/<hash>", VLLM_CACHE_ROOT_ENV, parse("0.10.2"),
              "compile",
              "vllm/compilation/backends.py VllmBackend: cache_dir = VLLM_CACHE_ROOT/"
              "torch_compile_cache/<sha256 of env, config, code and compiler hashes>[:10], so "
              "the same stack's next start finds its artefacts (0.10.2 … 0.34.0)"),
    WarmCache("inductor", "torch_compile_cache/<hash>/…/inductor_cache", "TORCHINDUCTOR_CACHE_DIR",
              parse("0.10.2"), "compile",
              "vllm/compilation/compiler_interface.py: vLLM sets TORCHINDUCTOR_CACHE_DIR inside "
              "the torch.compile cache directory (InductorAdaptor; initialize_inductor_cache "
              "from 0.33)"),
    WarmCache("triton", "torch_compile_cache/<hash>/…/triton_cache", "TRITON_CACHE_DIR",
              parse("0.10.2"), "compile",
              "vllm/compilation/compiler_interface.py: TRITON_CACHE_DIR beside the inductor "
              "cache unless the caller sets it (so the pod leaves it unset); autotuning results "
              "cached there too (vllm/env_override.py TRITON_CACHE_AUTOTUNING=1, 0.33)"),
    WarmCache("deepgemm", "deep_gemm", "DG_JIT_CACHE_DIR", parse("0.10.2"), "deepgemm",
              "vllm/utils/deep_gemm.py: DG_JIT_CACHE_DIR = VLLM_CACHE_ROOT/deep_gemm unless "
              "set (0.10.2 … 0.34.0); the warm-up then runs cached kernels instead of "
              "compiling them"),
    WarmCache("flashinfer autotune", "flashinfer_autotune_cache",
              "VLLM_FLASHINFER_AUTOTUNE_CACHE_DIR", parse("0.26.0"), None,
              "vllm/model_executor/warmup/flashinfer_autotune_cache.py "
              "flashinfer_autotune_root: VLLM_CACHE_ROOT/flashinfer_autotune_cache (absent "
              "from the 0.20.0 wheel)"),
    WarmCache("flashinfer jit", f"{FLASHINFER_BASE_DIR}/.cache/flashinfer", FLASHINFER_BASE_ENV,
              parse("0.10.2"), None,
              "flashinfer/jit/env.py: FLASHINFER_CACHE_DIR = FLASHINFER_WORKSPACE_BASE (default "
              "HOME)/.cache/flashinfer holds JIT-built ops (cached_ops) and downloaded cubins; "
              "the pod points the base under VLLM_CACHE_ROOT, else HOME's emptyDir loses it"),
)
"""Every cache the pinned vLLM (or a library it drives) reuses, in the order a start meets
them. All live under VLLM_CACHE_ROOT once the pod sets FLASHINFER_WORKSPACE_BASE there."""


def reused(cache: WarmCache, version: Version) -> bool:
    """True when the pinned vLLM reads `cache` back from its directory on the next start."""
    return version >= cache.since


def credited_phases(version: Version, configured: bool) -> frozenset[str]:
    """The start-up phases a warm cache shortens: none without the compile-cache claim, else
    each phase whose caches the pinned version all reuse."""
    if not configured:
        return frozenset()
    phases = {cache.phase for cache in CACHES if cache.phase is not None}
    return frozenset(phase for phase in phases
                     if all(reused(cache, version) for cache in CACHES if cache.phase == phase))


DOWNLOAD_KERNELS_SINCE: Version = parse("0.32.0")
"""`vllm download-kernels`: "Installs the precompiled kernels that vLLM's dependencies would
otherwise download or compile at startup. Run it after installing or upgrading vLLM"
(vllm/entrypoints/cli/download_kernels.py; registered in vllm/entrypoints/cli/main.py). Absent
from the 0.31.0 wheel, present in 0.32.0, 0.33.0 and 0.34.0. It runs FlashInfer's own CLI
(`python -m flashinfer download-kernels`, or `install-cubin-wheel` where no jit-cache wheel
exists for the CUDA version): pip-installs flashinfer-jit-cache / flashinfer-cubin matching the
installed FlashInfer, from FlashInfer's index, so the build needs that network, the pod not."""


def has_download_kernels(version: Version) -> bool:
    """True when the pinned vLLM has `vllm download-kernels`."""
    return version >= DOWNLOAD_KERNELS_SINCE
