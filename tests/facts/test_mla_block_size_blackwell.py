"""Which MLA backend vLLM picks first, and so its KV block, per compute capability and release
(read in the 0.11.0-0.34.0 wheels, vllm/platforms/cuda.py): Hopper (9.x) FlashMLA 64 before
0.15, FLASH_ATTN_MLA (MultipleOf 16) after; Blackwell (10.x) CUTLASS_MLA 128 before 0.15,
FLASHINFER_MLA (32 or 64) from 0.15 - forced to 64 by check_and_update_config until 0.17,
the smallest supported size (32) by update_block_size_for_backend from 0.18, the 64 default
from 0.34; sm120 (12.x) TRITON_MLA (MultipleOf 16), vLLM's default block."""

import pytest

from facts import vllm_features
from facts.vllm_features import parse as V

VERSIONS = [f"0.{minor}.0" for minor in range(11, 35)]


def _expected(capability, version):
    v = V(version)
    if capability == 9.0:
        return 64 if v < V("0.15.0") else (64 if v >= V("0.34.0") else 16)
    if capability == 10.0:
        if v < V("0.15.0"):
            return 128
        if v < V("0.18.0"):
            return 64
        return 64 if v >= V("0.34.0") else 32
    return 64 if v >= V("0.34.0") else 16


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("capability", [9.0, 10.0, 12.0])
def test_mla_block_follows_the_first_mla_backend_of_the_capability_and_release(capability, version):
    assert vllm_features.mla_block_size(capability, V(version)) == _expected(capability, version)


def test_flashinfer_mla_leads_on_blackwell_and_takes_only_32_or_64_token_blocks_from_0_15():
    assert vllm_features.FLASHINFER_MLA_SINCE == V("0.15.0")
    assert vllm_features.FLASHINFER_MLA_BLOCK_SIZES == (32, 64)
    assert vllm_features.MLA_PREFERRED_BLOCK_SINCE == V("0.18.0")
    assert vllm_features.CUTLASS_MLA_BLOCK_SIZE == 128


def test_a_b300_class_10_3_gpu_is_blackwell_for_mla_from_0_13():
    # 0.13+ checks the 10.x family (is_device_capability_family(100)); 0.11/0.12 only 10.0.
    assert vllm_features.mla_block_size(10.3, V("0.33.0")) == 32
    assert vllm_features.mla_block_size(10.3, V("0.13.0")) == 128
    assert vllm_features.mla_block_size(10.3, V("0.12.0")) == 16
