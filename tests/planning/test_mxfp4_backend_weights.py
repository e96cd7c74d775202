"""The weights step sizes gpt-oss's MXFP4 experts for the kernel vLLM runs them on at the
pinned version (facts/mxfp4_moe.py): on an H100, Marlin before 0.12.0 (hidden padded to 3072,
the intermediate to 2944, one copy of the scales), Triton from 0.12.0 (no padding at TP 1,
the checkpoint's scales kept beside the swizzled copy)."""

import pytest

from planning import memory
from planning.layout import Layout
from tests.planning.conftest import SMALL_7B, configured

GPT_OSS = {"preset": "gpt-oss-120b", "servedName": "oss", "maxModelLen": 16384}


def _per_gpu(version):
    cfg = configured(SMALL_7B, model=GPT_OSS, vllmVersion=version)
    return memory.gpu_memory(cfg, cfg.model.shape, cfg.gpu.resolved(),
                             memory.vllm_features.parse(version), Layout(1)).weights.per_gpu_gib


def test_gpt_oss_on_an_h100_at_0_10_1_is_sized_with_marlins_padding():
    # is23278 (0.10.1, H100, Marlin warning in the log): 65.97 GiB logged; with RoPE's
    # cos/sin cache (131,072 × 64 × 2 B = 0.02 GiB).
    assert _per_gpu("0.10.1") == pytest.approx(65.91, abs=0.01)


def test_gpt_oss_on_an_h100_from_0_12_is_sized_with_what_tritons_swizzle_keeps():
    # is33155 (0.14.1, "Using Triton backend"): 64.38 GiB logged; the kept checkpoint scales,
    # the swizzled scales' padding and the float32 biases (facts/mxfp4_moe.py).
    assert _per_gpu("0.14.1") == pytest.approx(64.32, abs=0.01)
    assert _per_gpu("0.12.0") == _per_gpu("0.14.1") < _per_gpu("0.11.0")


def test_the_resident_factor_follows_the_version_on_hopper_only():
    marlin = 3072 * 2944 / 2880**2
    assert memory.mxfp4_resident_factor(2880, 2880, 9.0, memory.vllm_features.parse(
        "0.10.1")) == pytest.approx(marlin)
    assert memory.mxfp4_resident_factor(2880, 2880, 8.0, memory.vllm_features.parse(
        "0.20.0")) == pytest.approx(marlin)
    assert memory.mxfp4_resident_factor(2880, 2880, 9.0) == pytest.approx(
        1 + memory.MXFP4_SCALE_BYTES / memory.MXFP4_BYTES
        + 46_080 / (3 * 2880**2 * memory.MXFP4_BYTES))
    # 0.26 pads the 90 scale groups to 92 as well (64,000 B per expert).
    assert memory.mxfp4_resident_factor(2880, 2880, 9.0, memory.vllm_features.parse(
        "0.26.0")) == pytest.approx(1 + memory.MXFP4_SCALE_BYTES / memory.MXFP4_BYTES
                                    + 64_000 / (3 * 2880**2 * memory.MXFP4_BYTES))
