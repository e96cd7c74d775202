"""gpt-oss's MXFP4 experts are sized for the kernel vLLM runs them on at the pinned version and
GPU (facts/mxfp4_moe.py): Marlin on Hopper before 0.12.0, Triton from 0.12.0."""

import pytest

from facts import mxfp4_moe, vllm_features

V = vllm_features.parse


def test_hopper_runs_mxfp4_experts_on_marlin_before_0_12():
    # is23278 (0.10.1, H100) logs Marlin's "Weight-only FP4 compression" warning; 0.10.2 and
    # 0.11.0 wheels do not ship triton_kernels, so their default is Marlin too.
    for version in ("0.10.1", "0.10.2", "0.11.0", "0.11.2"):
        assert mxfp4_moe.backend(9.0, V(version)) == mxfp4_moe.MARLIN, version


def test_hopper_runs_mxfp4_experts_on_triton_from_0_12():
    # is33155 (0.14.1, H100) logs "Using Triton backend".
    for version in ("0.12.0", "0.14.1", "0.20.0", "0.34.0"):
        assert mxfp4_moe.backend(9.0, V(version)) == mxfp4_moe.TRITON, version
    assert mxfp4_moe.backend(9.0) == mxfp4_moe.TRITON


def test_ampere_runs_marlin_and_blackwell_flashinfer_on_every_version():
    for version in (V("0.10.1"), V("0.20.0"), None):
        assert mxfp4_moe.backend(8.0, version) == mxfp4_moe.MARLIN
        assert mxfp4_moe.backend(8.9, version) == mxfp4_moe.MARLIN
        assert mxfp4_moe.backend(10.0, version) == mxfp4_moe.FLASHINFER


def test_marlin_pads_hidden_to_256_and_intermediate_to_128():
    assert mxfp4_moe.padded_sizes(2880, 2880, mxfp4_moe.MARLIN) == (3072, 2944)
    assert mxfp4_moe.padding(2880, 2880, mxfp4_moe.MARLIN) == pytest.approx(
        3072 * 2944 / 2880**2)
    assert mxfp4_moe.padded_sizes(2880, 1440, mxfp4_moe.MARLIN) == (3072, 1536)


def test_triton_pads_only_the_intermediate_size_to_64():
    assert mxfp4_moe.padded_sizes(2880, 2880, mxfp4_moe.TRITON) == (2880, 2880)
    assert mxfp4_moe.padding(2880, 1440, mxfp4_moe.TRITON) == pytest.approx(1472 / 1440)
    assert mxfp4_moe.padded_sizes(2880, 720, mxfp4_moe.TRITON) == (2880, 768)


def test_flashinfer_pads_both_sizes_to_256():
    assert mxfp4_moe.padded_sizes(2880, 2880, mxfp4_moe.FLASHINFER) == (3072, 3072)
    assert mxfp4_moe.padded_sizes(2816, 1280, mxfp4_moe.FLASHINFER) == (2816, 1280)


def test_only_triton_keeps_the_checkpoints_scales_beside_its_swizzled_copy():
    assert mxfp4_moe.keeps_checkpoint_scales(mxfp4_moe.TRITON)
    assert not mxfp4_moe.keeps_checkpoint_scales(mxfp4_moe.MARLIN)
    assert not mxfp4_moe.keeps_checkpoint_scales(mxfp4_moe.FLASHINFER)


def test_hoppers_triton_swizzle_pads_scale_rows_to_256_and_makes_the_biases_float32():
    # gpt-oss, TP 1, 0.14.1: w13 scales 5760 → 5888 rows × 90 groups, w2 scales 2880 → 3072
    # rows × 90; biases (5760 + 2880) × 2 more bytes.
    assert mxfp4_moe.extra_resident_bytes_per_expert(
        2880, 2880, mxfp4_moe.TRITON, V("0.14.1")) == 128 * 90 + 192 * 90 + 2 * 8640
    # TP 2, 0.19.0: I 1440 → 1472; w13 2944 → 3072 rows × 90, w2 3072 rows × 46 groups.
    assert mxfp4_moe.extra_resident_bytes_per_expert(
        2880, 1440, mxfp4_moe.TRITON, V("0.19.0")) == 128 * 90 + 192 * 46 + 2 * (2944 + 2880)


def test_from_0_26_the_scale_groups_are_padded_to_4_as_well():
    # 90 groups → 92: w13 5888 × 92 − 5760 × 90, w2 3072 × 92 − 2880 × 90.
    assert mxfp4_moe.extra_resident_bytes_per_expert(
        2880, 2880, mxfp4_moe.TRITON, V("0.26.0")) == (5888 * 92 - 5760 * 90
                                                      + 3072 * 92 - 2880 * 90 + 2 * 8640)
    assert mxfp4_moe.extra_resident_bytes_per_expert(
        2880, 2880, mxfp4_moe.TRITON, V("0.20.0")) == mxfp4_moe.extra_resident_bytes_per_expert(
        2880, 2880, mxfp4_moe.TRITON, V("0.14.1"))


def test_the_extra_bytes_are_whole_bytes_of_whole_scale_groups():
    # H and I are multiples of the 32-weight block: groups are counted, never fractions.
    extra = mxfp4_moe.extra_resident_bytes_per_expert(2880, 1440, mxfp4_moe.TRITON, V("0.26.0"))
    assert type(extra) is int


def test_marlin_and_flashinfer_keep_nothing_beyond_their_padded_experts():
    for kernel in (mxfp4_moe.MARLIN, mxfp4_moe.FLASHINFER):
        assert mxfp4_moe.extra_resident_bytes_per_expert(2880, 2880, kernel, V("0.20.0")) == 0


@pytest.mark.parametrize("version", ["0.10.1", "0.11.0", "0.12.0", "0.19.0", "0.20.0", "0.26.0",
                                     "0.31.0", "0.32.0", "0.33.0", "0.34.0", None])
@pytest.mark.parametrize("capability", [12.0, 12.1, 11.0])
def test_consumer_blackwell_and_thor_run_mxfp4_experts_on_marlin_on_every_version(version,
                                                                                  capability):
    # RTX 5090 / RTX PRO 6000 (12.0), DGX Spark (12.1), Thor (11.0): FlashInfer's TRT-LLM
    # kernels are for the 10.x family only, FlashInfer CUTLASS takes BF16 activations on 9.0
    # only, OAI Triton is gated to (9, 0) <= cc < (11, 0) before 0.32 and ranked behind
    # Marlin on 11.x / 12.x from 0.32 (fused_moe/oracle/mxfp4.py
    # _get_priority_backends_for_gpt_oss).
    assert mxfp4_moe.backend(capability, V(version) if version else None) == mxfp4_moe.MARLIN
