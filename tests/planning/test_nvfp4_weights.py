"""NVFP4 checkpoints (issue 18 item 2): TensorRT Model Optimizer's `quant_algo: NVFP4` and
compressed-tensors' nvfp4-pack-quantized. vLLM holds each quantized linear and expert as packed
4-bit weights (uint8, two per byte) + one FP8 E4M3 block scale per 16 weights + FP32 global
scales per tensor (vllm/model_executor/layers/quantization/modelopt.py
ModelOptNvFp4LinearMethod.create_weights, 0.24.0 and 0.34.0); the excluded modules stay 16-bit."""

import json
import pathlib

import pytest

from planning import config, memory
from planning.layout import Layout
from planning.plan import make_plan
from tests.planning.conftest import SMALL_7B, configured
from tools import model_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
QWEN3_NVFP4 = FIXTURES / "qwen3-30b-a3b-nvfp4.config.json"


def _facts():
    facts = model_facts.model_facts(json.loads(QWEN3_NVFP4.read_text(encoding="utf-8")),
                                    hf_id="nvidia/Qwen3-30B-A3B-NVFP4")
    # min_compute_capability left at 7.0: the NVFP4 rule, not the facts, refuses older GPUs.
    return {**facts, "min_vllm": "0.10.2", "min_compute_capability": 7.0}


def _stack(gpu: dict, version: str = "0.24.0") -> config.StackConfig:
    return configured(SMALL_7B, vllmVersion=version, gpu=gpu,
                      model={"preset": None, "facts": _facts(), "maxModelLen": 8192})


def test_an_nvfp4_weight_costs_half_a_byte_plus_one_fp8_scale_per_16():
    assert memory.NVFP4_BYTES == pytest.approx(0.5 + 1 / 16)
    assert memory.quantized_bytes_per_param("nvfp4") == pytest.approx(0.5625)


def test_nvfp4_quantizes_the_linears_and_experts_and_keeps_the_rest_16_bit():
    widths = memory.ROLE_BYTES["nvfp4"]
    assert {role: widths[role] for role in ("embedding", "head", "norms_and_gates")} == \
        dict.fromkeys(("embedding", "head", "norms_and_gates"), 2.0)
    assert {widths[role] for role in ("replicated_linear", "sharded_linear", "experts")} == \
        {0.5 + 1 / 16}


def test_an_nvfp4_qwen3_moe_plans_its_weights_per_gpu_from_the_rule():
    cfg = _stack({"type": "h100-80gb"})
    model = cfg.model.shape
    groups = model.parameter_groups()
    step = memory.weights(cfg, model, Layout(1), cfg.gpu.resolved())
    quantized = groups["sharded_linear"] + groups["experts"] + groups["replicated_linear"]
    kept = groups["embedding"] + groups["head"] + groups["norms_and_gates"]
    expected = (quantized * (0.5 + 1 / 16) + kept * 2) / 2**30
    assert step.per_gpu_gib == pytest.approx(expected + memory.rotary_cache_gib(model),
                                             rel=1e-6)
    assert 15 < step.per_gpu_gib < 18          # 30.5 G params, a quarter of BF16's 57 GiB


def test_an_nvfp4_stack_plans_and_renders_on_a_blackwell_gpu():
    plan = make_plan(_stack({"type": "b200"}))
    assert plan.model.weights_dtype == "nvfp4"


def test_a_gpu_older_than_vllms_nvfp4_kernels_is_refused():
    # ModelOptNvFp4Config.get_min_capability and CompressedTensorsW4A4Fp4's return 75 in
    # 0.24.0 and 0.34.0 (Marlin FP4, marlin_utils_fp4.is_fp4_marlin_supported: 75).
    with pytest.raises(config.ConfigError) as error:
        make_plan(_stack({"type": "a100-80gb", "computeCapability": 7.0}))
    assert str(error.value).splitlines()[-1] == (
        "  - gpu.type: vLLM 0.24.0 runs NVFP4 checkpoints (nvidia/Qwen3-30B-A3B-NVFP4) on compute "
        "capability 7.5 or newer (its FP4 kernels: CUTLASS/FlashInfer on 10.x/12.x, Marlin "
        "below), NVIDIA A100 80GB has 7.0; choose a newer GPU generation")


def test_vllm_0_10_needs_compute_capability_8_for_nvfp4():
    # 0.10.2: ModelOptNvFp4Config.get_min_capability 80; compressed-tensors W4A16Fp4 80.
    with pytest.raises(config.ConfigError) as error:
        make_plan(_stack({"type": "a100-80gb", "computeCapability": 7.5}, version="0.10.2"))
    assert "vLLM 0.10.2 runs NVFP4 checkpoints" in str(error.value)
    assert "compute capability 8.0 or newer" in str(error.value)
    make_plan(_stack({"type": "a100-80gb", "computeCapability": 7.5}, version="0.24.0"))
