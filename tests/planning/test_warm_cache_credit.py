"""A warm restart is credited with a cache only when the compile-cache claim is configured and
the pinned vLLM reuses that cache (facts/warm_caches.py): torch.compile's artefacts (the compile
phase) and DeepGEMM's JIT kernels (the deepgemm warm-up). The startup probe's budget stays cold:
the first pod after a change of model, vLLM or flags finds no entry under the cache's hash."""

from __future__ import annotations

import copy

import pytest

from planning import config, timing
from planning.plan import make_plan
from planning.stack_files import stack_values
from tests.planning.conftest import SMALL_7B, with_changes

CACHE = {"compileCacheGib": 20, "compileCacheStorageClass": "fast-rwx"}


def _startup(base: dict, **changes):
    return make_plan(config.parse(with_changes(copy.deepcopy(base), **changes))).startup


@pytest.mark.parametrize("version, warm", [("0.33.0", True), ("0.10.2", True),
                                           ("0.10.1", False)])
def test_the_compile_phase_is_warm_only_where_the_wheels_show_the_cache_reused(version, warm):
    layers = 28   # DeepSeek-R1-Distill-Qwen-7B
    start = _startup(SMALL_7B, vllmVersion=version, engine=CACHE)
    cold = timing.COMPILE_COLD_SECONDS_PER_LAYER * layers
    warm_compile = -(-timing.COMPILE_WARM_SECONDS_PER_LAYER * layers // 1)
    assert start.engine_phases["compile"] == cold
    assert start.estimated_seconds - start.warm_restart_seconds == (
        cold - warm_compile if warm else 0)


def test_without_the_claim_a_restart_is_as_cold_as_the_estimate():
    start = _startup(SMALL_7B, vllmVersion="0.33.0")
    assert start.engine_phases["compile"] == timing.COMPILE_COLD_SECONDS_PER_LAYER * 28
    assert start.warm_restart_seconds == start.estimated_seconds


def test_the_probe_allows_the_cold_start_of_the_first_pod_after_a_change():
    cold, cached = _startup(SMALL_7B, vllmVersion="0.33.0"), _startup(
        SMALL_7B, vllmVersion="0.33.0", engine=CACHE)
    assert cached.budget_seconds == cold.budget_seconds
    assert cached.first_start_budget_seconds == cold.first_start_budget_seconds
    assert "finds no compile-cache entry" in cached.reason


def test_a_kept_deepgemm_cache_shortens_the_warm_restart_of_fp8_block_kernels():
    r1 = stack_values("r1-h100")
    cold, warm = _startup(r1), _startup(r1, engine=CACHE)
    assert cold.engine_phases["deepgemm"] == warm.engine_phases["deepgemm"] == (
        timing.DEEP_GEMM_WARMUP_SECONDS)
    compile_saving = 61 - -(-timing.COMPILE_WARM_SECONDS_PER_LAYER * 61 // 1)
    assert warm.estimated_seconds - warm.warm_restart_seconds == compile_saving + (
        timing.DEEP_GEMM_WARMUP_SECONDS - timing.DEEP_GEMM_WARM_SECONDS)


def test_the_phase_arithmetic_takes_the_cached_deepgemm_kernels():
    phases = timing.engine_start_seconds(61, 51, True, False, deep_gemm=True,
                                         deep_gemm_cached=True)
    assert phases["deepgemm"] == timing.DEEP_GEMM_WARM_SECONDS
    assert timing.engine_start_seconds(61, 51, True, False, deep_gemm=True)["deepgemm"] == (
        timing.DEEP_GEMM_WARMUP_SECONDS)
