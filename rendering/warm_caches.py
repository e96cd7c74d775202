"""The engine pod's warm caches (facts/warm_caches.py): vLLM keeps torch.compile, Inductor,
Triton, DeepGEMM and FlashInfer-autotune caches under VLLM_CACHE_ROOT, where the compile-cache
claim is mounted; FlashInfer's own JIT and cubin cache follows them there only when
FLASHINFER_WORKSPACE_BASE says so (its default is HOME, an emptyDir lost on every restart)."""

from __future__ import annotations

from facts import warm_caches


def cache_env(cache_root: str) -> list[dict]:
    """The env that puts every cache on the claim mounted at `cache_root` (VLLM_CACHE_ROOT)."""
    return [{"name": warm_caches.FLASHINFER_BASE_ENV,
             "value": f"{cache_root}/{warm_caches.FLASHINFER_BASE_DIR}"}]
