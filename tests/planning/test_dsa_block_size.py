"""DSA (DeepSeek-V3.2, GLM-5.x) caches live in 64-token blocks on CUDA in every vLLM read
(0.11.0-0.34.0): before 0.18 platforms/cuda.py forces 64 for a sparse model; from 0.18
update_block_size_for_backend takes the first attention layer's preferred block, which is
layer 0's indexer cache (DEEPSEEK_V32_INDEXER, kernel blocks [64]) — the batch-189 log says
"Setting kv cache block size to 64 for DEEPSEEK_V32_INDEXER backend"."""

import pytest

import facts
from benchmark import cases as bench_cases
from benchmark import predict
from planning import memory
from facts.vllm_features import parse as V


@pytest.mark.parametrize("version", ["0.11.0", "0.14.0", "0.15.0", "0.17.0", "0.18.0",
                                     "0.19.0", "0.20.0", "0.25.0", "0.32.0", "0.34.0"])
@pytest.mark.parametrize("capability", [9.0, 10.0, 12.0])
@pytest.mark.parametrize("attention", [
    facts.models()["deepseek-v3.2"]["attention"],
    bench_cases.load_stack_facts()["models"]["glm-5.1"]["attention"]], ids=["v3.2", "glm-5.1"])
def test_a_dsa_cache_uses_the_indexers_64_token_blocks(attention, capability, version):
    assert memory.kv_block_size(attention, capability, V(version)) == 64


def test_plain_mla_keeps_its_16_token_blocks_from_vllm_0_15():
    attention = facts.models()["deepseek-r1"]["attention"]
    assert memory.kv_block_size(attention, 9.0, V("0.19.0")) == 16


@pytest.mark.parametrize("case_id", ["gh-glm51-fp8-h200-tp8-v0.19.1dev312",
                                     "gh-glm51-fp8-h200-tp8-v0.20.0-patched",
                                     "gh-glm51-h100-tp8-pp2-2nodes-v0.19.0"])
def test_the_batch_189_glm_5_1_tokens_are_whole_64_token_blocks_as_logged(case_id):
    (case,) = [case for case in bench_cases.load_cases() if case.id == case_id]
    prediction = predict.predict(case)
    assert prediction.block_size == 64
    assert prediction.kv_tokens % 64 == 0
