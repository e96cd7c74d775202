"""The start-up budget credits a warm cache only when the compile-cache claim is configured and
the pinned vLLM reuses that cache (facts/warm_caches.py): torch.compile's artefacts (the compile
phase) and DeepGEMM's JIT kernels (the deepgemm warm-up)."""

from __future__ import annotations

import copy

import pytest

from planning import config, timing
from planning.plan import make_plan
from planning.stack_files import stack_values
from tests.planning.conftest import SMALL_7B, with_changes

CACHE = {"compileCacheGib": 20, "compileCacheStorageClass": "fast-rwx"}


def _phases(base: dict, **changes) -> dict[str, int]:
    return make_plan(config.parse(with_changes(copy.deepcopy(base), **changes))
                     ).startup.engine_phases


@pytest.mark.parametrize("version, warm", [("0.33.0", True), ("0.10.2", True),
                                           ("0.10.1", False)])
def test_the_compile_phase_is_warm_only_where_the_wheels_show_the_cache_reused(version, warm):
    layers = 28   # DeepSeek-R1-Distill-Qwen-7B
    phases = _phases(SMALL_7B, vllmVersion=version, engine=CACHE)
    per_layer = (timing.COMPILE_WARM_SECONDS_PER_LAYER if warm
                 else timing.COMPILE_COLD_SECONDS_PER_LAYER)
    assert phases["compile"] == -(-per_layer * layers // 1)


def test_without_the_claim_the_compile_phase_is_cold():
    phases = _phases(SMALL_7B, vllmVersion="0.33.0")
    assert phases["compile"] == timing.COMPILE_COLD_SECONDS_PER_LAYER * 28


def test_a_kept_deepgemm_cache_shortens_the_warm_up_of_fp8_block_kernels():
    r1 = stack_values("r1-h100")
    cold = _phases(r1)
    warm = _phases(r1, engine=CACHE)
    assert cold["deepgemm"] == timing.DEEP_GEMM_WARMUP_SECONDS
    assert warm["deepgemm"] == timing.DEEP_GEMM_WARM_SECONDS < timing.DEEP_GEMM_WARMUP_SECONDS


def test_the_phase_arithmetic_takes_the_cached_deepgemm_kernels():
    phases = timing.engine_start_seconds(61, 51, True, False, deep_gemm=True,
                                         deep_gemm_cached=True)
    assert phases["deepgemm"] == timing.DEEP_GEMM_WARM_SECONDS
    assert timing.engine_start_seconds(61, 51, True, False, deep_gemm=True)["deepgemm"] == (
        timing.DEEP_GEMM_WARMUP_SECONDS)
