"""Which device memory vLLM's KV budget counts, by release: the V1 worker of 0.8.0–0.9.0.1
counts everything the GPU holds after profiling, the CUDA context and the buffers made before
the weights included; from 0.9.1 only what grew since the worker's init snapshot (read in the
PyPI wheels' vllm/v1/worker/gpu_worker.py Worker.init_device and
determine_available_memory)."""

import pytest

from facts import vllm_features
from facts.vllm_features import parse as V


@pytest.mark.parametrize("version, counts", [
    ("0.7.2", False),       # the V0 worker measures from its own init snapshot
    ("0.8.0", True),        # V1: torch peak + mem_get_info used − torch current
    ("0.8.4", True),
    ("0.8.5.post1", True),
    ("0.9.0", True),
    ("0.9.0.1", True),      # the last release without the init snapshot
    ("0.9.1", False),       # memory_profiling(self.init_snapshot, …)
    ("0.10.1", False),
    ("0.34.0", False),
])
def test_only_v1_releases_before_0_9_1_size_the_kv_cache_without_an_init_snapshot(
        version, counts):
    assert vllm_features.sizes_kv_without_init_snapshot(V(version)) is counts


def test_the_switch_names_the_release_that_introduced_the_init_snapshot():
    assert vllm_features.KV_BUDGET_FROM_INIT_SNAPSHOT_SINCE == V("0.9.1")
