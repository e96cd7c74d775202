"""Which kernel vLLM runs MXFP4 routed experts (gpt-oss) on, and what that kernel keeps on the
GPU: each backend pads the experts' hidden (H) and per-GPU intermediate (I) sizes its own way,
and only the Triton backend keeps the checkpoint's scales beside its swizzled copy.

Read from vllm/model_executor/layers/quantization/mxfp4.py in the 0.10.1, 0.10.2, 0.11.0,
0.12.0 and 0.13.0 wheels (`Mxfp4MoEMethod.create_weights`, `process_weights_after_loading`,
`_should_use_marlin` / `get_mxfp4_backend`) and the 0.20 oracle the weights step cited before
(fused_moe/oracle/mxfp4.py `mxfp4_round_up_hidden_size_and_intermediate_size`,
`_get_priority_backends_for_gpt_oss`). The version switch is
facts/vllm_features.py HOPPER_MXFP4_TRITON_SINCE.
"""

from __future__ import annotations

from typing import Optional

# Not `from facts import`: facts/__init__ imports vllm_features (no cycle through it).
import facts.vllm_features as vllm_features

MARLIN = "marlin"
TRITON = "triton"
FLASHINFER = "flashinfer"

PAD_MULTIPLES: dict[str, tuple[int, int]] = {
    MARLIN: (256, 128),
    TRITON: (1, 64),
    FLASHINFER: (256, 256),
}
"""(H multiple, I multiple) each backend rounds up to, from create_weights: Marlin "requires
that for each linear n % 256 == 0 and k % 128 == 0" (H to 256, I to 128); FlashInfer (cc 10)
H and I to 256; Triton I to 64 (2 × the 32-wide MXFP4 block), H as it is."""


CONSUMER_BLACKWELL_CAPABILITY = 11.0
"""From compute capability 11 (Thor 11.0; RTX 5090 / RTX PRO 6000 12.0; DGX Spark 12.1) every
release picks Marlin for gpt-oss's experts: FlashInfer's TRT-LLM MXFP4 kernels are for the
10.x family only (`is_device_capability(100)` in 0.10.1–0.19 get_mxfp4_backend,
TrtLlmMxfp4Experts `is_device_capability_family(100)` in the 0.20–0.34 oracle); FlashInfer
CUTLASS takes BF16 activations on 9.0 only (FlashInferExperts._supports_quant_scheme,
0.20–0.34) and its MXFP8 variant is dropped for a checkpoint without an activation scheme
(fused_moe/oracle/mxfp4.py _filter_by_activation); OAI Triton needs
`(9, 0) <= cc < (11, 0)` (0.12–0.31: "SM120 needs this fix: triton-lang/triton#8498";
gpt_oss_triton_kernels_moe.py _triton_kernel_moe_supports_current_device) and from 0.32 is
ranked after Marlin on 12.x (0.34: 11.x too; _get_priority_backends_for_gpt_oss: "MARLIN
prefills ~10% faster"); 0.10.x take Marlin without triton_kernels. Read in the 0.10.1, 0.10.2,
0.11.0, 0.12.0, 0.14–0.20 and 0.26–0.34 wheels."""


def backend(compute_capability: float, version: Optional[vllm_features.Version] = None) -> str:
    """The MoE kernel vLLM picks by default: Marlin from compute capability 11
    (CONSUMER_BLACKWELL_CAPABILITY), FlashInfer on 10.x, Marlin below 9, and on Hopper Triton
    from 0.12.0, Marlin before (vllm_features.hopper_runs_mxfp4_on_triton). Without a
    version, today's choice (Triton on Hopper)."""
    if compute_capability >= CONSUMER_BLACKWELL_CAPABILITY:
        return MARLIN
    if compute_capability >= 10.0:
        return FLASHINFER
    if compute_capability < 9.0:
        return MARLIN
    if version is None or vllm_features.hopper_runs_mxfp4_on_triton(version):
        return TRITON
    return MARLIN


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def padded_sizes(hidden_size: int, intermediate_per_gpu: int, kernel: str) -> tuple[int, int]:
    """(H, I) after the backend's padding (PAD_MULTIPLES). gpt-oss (2880, 2880): Marlin
    (3072, 2944), Triton (2880, 2880), FlashInfer (3072, 3072)."""
    hidden_multiple, intermediate_multiple = PAD_MULTIPLES[kernel]
    return (_round_up(hidden_size, hidden_multiple),
            _round_up(intermediate_per_gpu, intermediate_multiple))


def padding(hidden_size: int, intermediate_per_gpu: int, kernel: str) -> float:
    """How much larger the experts are than in the checkpoint: H_pad × I_pad / (H × I)
    (w13 is 2·I × H, w2 is H × I, both padded). gpt-oss at TP 1 on Marlin: 3072 × 2944 /
    2880² = 1.0904; on Triton at TP 2: 1472 / 1440 = 1.0222."""
    padded_h, padded_i = padded_sizes(hidden_size, intermediate_per_gpu, kernel)
    return padded_h * padded_i / (hidden_size * intermediate_per_gpu)


def keeps_checkpoint_scales(kernel: str) -> bool:
    """True when the loaded E8M0 scales stay resident beside the kernel's own copy: the Triton
    branch of process_weights_after_loading swizzles weights and scales into new tensors and
    deletes only the weights (`del layer.w13_weight`, `del layer.w2_weight`). Marlin
    (prepare_moe_fp4_layer_for_marlin) and FlashInfer replace the scale Parameters in place."""
    return kernel == TRITON


MXFP4_BLOCK = 32
"""Weights per E8M0 scale (mxfp4.py create_weights: `mxfp4_block = 32`)."""
HOPPER_SCALE_ALIGN_ROWS = 2 * 8 * 2 * 8
"""HopperMXScaleLayout.swizzle_data pads the scale rows to SWIZZLE_ALIGN_M = 2 × num_warps ×
2 × 8 = 256 with num_warps 8, the default of _swizzle_mxfp4 and of a non-batched MoE
(vllm/third_party/triton_kernels/tensor_details/layout_details/hopper_scale.py, 0.13.0–0.32.0)."""
HOPPER_SCALE_GROUP_MULTIPLE = 4
"""The scale groups' multiple from vllm_features.HOPPER_MXFP4_SCALE_K_PAD_SINCE."""


def _swizzled_scale_growth(rows: int, groups: int, pad_groups: bool) -> int:
    """Scale bytes the Hopper swizzle adds to one (rows × groups) E8M0 tensor: rows to 256,
    groups to even (SWIZZLE_ALIGN_K 2) or to 4 when the version pads them."""
    multiple = HOPPER_SCALE_GROUP_MULTIPLE if pad_groups else 2
    return (_round_up(rows, HOPPER_SCALE_ALIGN_ROWS) * _round_up(groups, multiple)
            - rows * groups)


def extra_resident_bytes_per_expert(hidden_size: int, intermediate_per_gpu: int, kernel: str,
                                    version: Optional[vllm_features.Version] = None) -> int:
    """Bytes one expert holds on one GPU beyond its padded MXFP4 weights and scales and, on
    Triton, the kept checkpoint scales: what Triton's process_weights_after_loading adds on
    Hopper (0 for Marlin and FlashInfer), with H and I after padded_sizes:
      swizzled scales: w13's (2·I × H/32) and w2's (H × I/32) E8M0 scales, rows padded to 256
        and groups to even (to 4 from 0.26.0) by _swizzle_mxfp4 / HopperMXScaleLayout;
      biases: w13_bias (2·I) and w2_bias (H) re-made in float32 from the checkpoint's BF16
        (`layer.w13_bias.to(torch.float32)`), 2 more bytes each.
    The swizzled weights (HopperMXValueLayout) pad rows to 16 and bytes to 32, which I to 64
    and an H that is a multiple of 64 (gpt-oss's 2880) already meet: not counted.
    gpt-oss at TP 1 on 0.14.1: (5888 − 5760) × 90 + (3072 − 2880) × 90 + 2 × 8640 = 46,080 B."""
    if kernel != TRITON:
        return 0
    hidden, intermediate = padded_sizes(hidden_size, intermediate_per_gpu, kernel)
    pad_groups = version is not None and vllm_features.pads_hopper_mxfp4_scale_groups(version)
    scales = (_swizzled_scale_growth(2 * intermediate, hidden // MXFP4_BLOCK, pad_groups)
              + _swizzled_scale_growth(hidden, intermediate // MXFP4_BLOCK, pad_groups))
    return scales + 2 * (2 * intermediate + hidden)
