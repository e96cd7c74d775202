"""RoPE's cos/sin cache is GPU memory loaded with the weights ("Model loading took N GiB"):
planning/memory.py rotary_cache_gib, from vllm/model_executor/layers/rotary_embedding/base.py
RotaryEmbedding.__init__ (max_position_embeddings × rotary_dim in the model dtype, one buffer
shared by every layer through get_rope's _ROPE_DICT)."""

from __future__ import annotations

from benchmark import cases as bench_cases
from planning import memory
from planning.layout import Layout

GIB = 2**30


def _scout():
    return next(c for c in bench_cases.load_cases(usable_only=False)
                if c.id == "lldp2-llama4-scout-tp4").config.model.shape


def test_a_ten_million_position_rope_cache_takes_two_and_a_half_gib_on_every_gpu():
    """Llama-4-Scout-Instruct: 10,485,760 positions × 128 × 2 B = 2.5 GiB; its TP 4 log says
    "Model loading took 53.12 GiB" where the parameters alone are 50.60 GiB per GPU."""
    assert memory.rotary_cache_gib(_scout()) == 10_485_760 * 128 * 2 / GIB == 2.5


def test_the_rope_cache_is_counted_in_the_weights_per_gpu_whatever_the_tensor_parallel():
    model = _scout()
    without = memory.weight_gib_per_gpu(
        model.parameter_groups(), "bf16", model.layers, 4, 1, 1, False, model.attention, 1.0,
        memory.role_widths("bf16", None))
    case = next(c for c in bench_cases.load_cases(usable_only=False)
                if c.id == "lldp2-llama4-scout-tp4")
    layout = Layout(tensor_parallel=4, pipeline_parallel=1, data_parallel=1,
                    expert_parallel=False, nodes=1, reason="TP 4")
    weights = memory.weights(case.config, model, layout)
    assert abs(weights.per_gpu_gib - (without + 2.5)) < 1e-9
