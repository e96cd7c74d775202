"""The caches vLLM reuses across restarts (facts/warm_caches.py), read from the released wheels:
which phases a kept cache shortens, on which versions, and `vllm download-kernels`' floor."""

from __future__ import annotations

import pytest

from facts import warm_caches
from facts.vllm_features import parse


def test_without_the_compile_cache_claim_no_phase_is_credited():
    assert warm_caches.credited_phases(parse("0.33.0"), configured=False) == frozenset()


@pytest.mark.parametrize("version, phases", [
    ("0.33.0", {"compile", "deepgemm"}),
    ("0.10.2", {"compile", "deepgemm"}),
    ("0.10.1", set()),
    ("0.8.5", set()),
], ids=["0.33", "oldest-read", "before-oldest-read", "0.8"])
def test_a_configured_cache_is_credited_only_where_the_wheels_show_it_reused(version, phases):
    assert warm_caches.credited_phases(parse(version), configured=True) == phases


def test_every_cache_lives_under_the_root_the_claim_is_mounted_at():
    """Relative directories: under VLLM_CACHE_ROOT, FlashInfer's once the pod moves its base."""
    assert [c.name for c in warm_caches.CACHES if c.directory.startswith(("/", "~"))] == []


def test_every_cache_names_its_variable_and_source():
    assert all(c.env and ("vllm/" in c.source or "flashinfer/" in c.source)
               for c in warm_caches.CACHES)


def test_the_flashinfer_autotune_cache_is_reused_from_0_26():
    autotune = next(c for c in warm_caches.CACHES if c.name == "flashinfer autotune")
    assert not warm_caches.reused(autotune, parse("0.20.0"))
    assert warm_caches.reused(autotune, parse("0.26.0"))


@pytest.mark.parametrize("version, has", [("0.31.0", False), ("0.32.0", True), ("0.34.0", True)])
def test_download_kernels_exists_from_0_32(version, has):
    assert warm_caches.has_download_kernels(parse(version)) is has
