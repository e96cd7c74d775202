"""The plan sizes Llama 4's chunked local attention as vLLM does (planning/memory.py kv_cache
with planning/kv_layout.py): from vLLM 0.14 the chunked layers are their own KV-cache groups
holding only the chunk and the tokens in flight; before 0.14 they are full attention
(the hybrid manager is off by default for a model with attention_chunk_size)."""

from __future__ import annotations

import facts
from benchmark import cases as bench_cases
from planning import memory
from planning.layout import Layout


def _kv(version: str, max_model_len: int):
    """Llama-4-Scout at TP 4 on H100 (benchmark case lldp2-llama4-scout-tp4) at another
    version and length."""
    case = next(c for c in bench_cases.load_cases(usable_only=False)
                if c.id == "lldp2-llama4-scout-tp4")
    model = case.config.model.model_copy(update={"max_model_len": max_model_len})
    cfg = case.config.model_copy(update={"vllm_version": version, "model": model})
    layout = Layout(tensor_parallel=4, pipeline_parallel=1, data_parallel=1,
                    expert_parallel=False, nodes=1, reason="TP 4")
    return memory.gpu_memory(cfg, cfg.model.shape, cfg.gpu.resolved(),
                             facts.parse_version(version), layout).kv


def test_from_vllm_0_14_chunked_layers_form_their_own_groups():
    kv = _kv("0.19.0", 131072)
    assert kv.groups == 4


def test_before_vllm_0_14_chunked_layers_are_full_attention_in_one_group():
    kv = _kv("0.13.0", 131072)
    assert kv.groups == 1


def test_beyond_the_chunk_a_request_takes_fewer_blocks_on_the_hybrid_manager():
    hybrid, as_full = _kv("0.19.0", 131072), _kv("0.13.0", 131072)
    assert hybrid.request_gib < as_full.request_gib / 2
