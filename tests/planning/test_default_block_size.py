"""vLLM 0.34.0 raised CacheConfig.DEFAULT_BLOCK_SIZE from 16 (0.19.0-0.33.0 wheels) to 64
(vllm/config/cache.py); Platform.update_block_size_for_backend (vllm/platforms/interface.py)
keeps it unless the backend rejects it (_preferred_block_size_for_backends ->
AttentionBackend.get_preferred_block_size). Every default CUDA backend accepts 64, so a
plain-attention or MLA stack plans 64-token blocks on 0.34 and 16-token blocks on 0.33."""

import pytest

import facts
from facts import vllm_features
from facts.vllm_features import parse as V
from planning import memory
from planning.plan import make_plan
from tests.planning.conftest import SMALL_7B, configured


@pytest.mark.parametrize("version, block", [("0.33.0", 16), ("0.34.0", 64)])
def test_a_llama_style_stack_plans_vllms_default_block_of_its_version(version, block):
    plan = make_plan(configured(SMALL_7B, vllmVersion=version))
    assert plan.kv.block_size == block
    assert plan.kv.tokens_per_rank % block == 0


@pytest.mark.parametrize("version, block", [("0.33.0", 16), ("0.34.0", 64)])
def test_an_mla_stack_on_hopper_plans_vllms_default_block_of_its_version(version, block):
    plan = make_plan(configured(SMALL_7B, vllmVersion=version,
                                model={"preset": "deepseek-r1", "maxModelLen": 32768},
                                gpu={"type": "h200"}))
    assert plan.kv.block_size == block
    assert plan.kv.tokens_per_rank % block == 0


@pytest.mark.parametrize("capability", [8.0, 9.0, 10.0])
def test_every_default_cuda_backend_keeps_the_64_token_default_from_vllm_0_34(capability):
    # FLASH_ATTN / TRITON_ATTN / FLASH_ATTN_MLA / TRITON_MLA: MultipleOf(16); FLASHINFER:
    # 16, 32, 64; FLASHMLA: 64; FLASHINFER_MLA: 32, 64 - all accept 64 (0.34.0 wheel).
    llama = {"kind": "gqa", "heads": 32, "kv_heads": 8, "head_dim": 128}
    r1 = facts.models()["deepseek-r1"]["attention"]
    assert memory.kv_block_size(llama, capability, V("0.34.0")) == 64
    assert memory.kv_block_size(r1, capability, V("0.34.0")) == 64
    assert memory.kv_block_size(llama, capability, V("0.33.0")) == 16


def test_the_default_block_changed_in_vllm_0_34_only():
    assert vllm_features.DEFAULT_BLOCK_SIZE_64_SINCE == V("0.34.0")
    assert vllm_features.default_block_size(V("0.33.0")) == 16
    assert vllm_features.default_block_size(V("0.34.0")) == 64


def test_a_hybrid_stack_on_vllm_0_34_aligns_its_attention_page_to_the_64_token_default():
    # _align_hybrid_block_size (0.34.0 platforms/interface.py) aligns to max(the backend's
    # smallest kernel block, cache_config.block_size), now 64 (lcm with the GDN FlashInfer
    # checkpoint alignment, 64, leaves it there): Qwen3-Next at TP 4, one layer's 274,432
    # state bytes over 1,024 attention bytes per token: 64 × cdiv(274,432, 64 × 1,024) = 320.
    plan = make_plan(configured(SMALL_7B, vllmVersion="0.34.0",
                                model={"preset": "qwen3-next-80b-a3b", "maxModelLen": 32768}))
    assert plan.layout.tensor_parallel == 4
    assert plan.kv.block_size == 320
