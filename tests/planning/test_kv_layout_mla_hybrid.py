"""An MLA hybrid's attention block (planning/kv_layout.py mla_hybrid_alignment) follows the
vLLM version: 64 tokens from Kimi-Linear's first release to 0.19 (vllm/model_executor/models/
config.py HybridAttentionMambaModelConfig, 0.12.0-0.19.0), the default MLA backend's smallest
kernel block in 0.20-0.26 (vllm/platforms/interface.py _align_hybrid_block_size, cuda.py
_get_backend_priorities), and at least 128 from 0.27."""

import json
import pathlib

import pytest

from facts import parse_version
from planning import kv_layout
from planning.config.model import ModelFacts
from planning.layout import Layout
from planning import memory
from tools import model_facts

FIXTURE = (pathlib.Path(__file__).resolve().parents[1] / "fixtures"
           / "kimi-linear-48b-a3b.config.json")
GIB = 2**30


@pytest.mark.parametrize("version,capability,alignment", [
    ("0.12.0", 8.6, 64), ("0.19.0", 9.0, 64),
    ("0.20.0", 8.6, 16), ("0.26.0", 9.0, 16), ("0.26.0", 10.0, 32),
    # the 0.27.0 wheel's _align_hybrid_block_size already takes max(kernel block, 128) for MLA
    ("0.27.0", 8.6, 128), ("0.31.0", 10.0, 128),
    ("0.32.0", 8.6, 128), ("0.34.0", 10.0, 128)],
    ids=lambda value: str(value))
def test_the_mla_hybrid_alignment_follows_the_vllm_version(version, capability, alignment):
    assert kv_layout.mla_hybrid_alignment(parse_version(version), capability) == alignment


def test_kimi_linear_on_two_rtx_3090_gives_the_logged_960_token_blocks_and_75840_tokens():
    """vllm#28228 (vLLM 0.11.x, TP 2, max_model_len 120,000): "Available KV cache memory:
    2.30 GiB", "GPU KV cache size: 75,840 tokens" = 319 blocks // 4 groups × 960."""
    facts = model_facts.model_facts(json.loads(FIXTURE.read_text(encoding="utf-8")))
    facts.update(hf_id="moonshotai/Kimi-Linear-48B-A3B-Instruct", max_context=131072)
    model = ModelFacts.model_validate(facts)
    layout = Layout(tensor_parallel=2)
    alignment = kv_layout.mla_hybrid_alignment(parse_version("0.12.0"), 8.6)
    specs, _ = memory.kv_layer_specs(model, layout, 2, 16, False, mla_alignment=alignment)
    groups = kv_layout.group_layers(specs)
    pool = kv_layout.pool(groups, 2.30 * GIB, 120000, 8192, concurrency_tokens=False)
    assert (groups[0].spec.block_size, len(groups), pool.num_blocks) == (960, 4, 319)
    assert pool.tokens == 75840
