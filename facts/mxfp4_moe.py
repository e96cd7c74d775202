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


def backend(compute_capability: float, version: Optional[vllm_features.Version] = None) -> str:
    """The MoE kernel vLLM picks by default: FlashInfer on compute capability 10+, Marlin below
    9, and on Hopper Triton from 0.12.0, Marlin before (vllm_features.hopper_runs_mxfp4_on_triton).
    Without a version, today's choice (Triton on Hopper)."""
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
