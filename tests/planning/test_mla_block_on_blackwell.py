"""An R1 (MLA) stack on a B200 plans the KV block of the MLA backend vLLM picks first on
capability 10.x, FLASHINFER_MLA (32 or 64 tokens; facts/vllm_features.py mla_block_size), and
a whole number of those blocks per rank."""

import pytest

from planning.plan import make_plan
from tests.planning.conftest import SMALL_7B, configured


@pytest.mark.parametrize("version, block", [("0.17.0", 64), ("0.20.0", 32), ("0.33.0", 32),
                                            ("0.34.0", 64)])
def test_an_r1_stack_on_b200_plans_flashinfer_mlas_block_and_whole_blocks(version, block):
    plan = make_plan(configured(SMALL_7B, vllmVersion=version,
                                model={"preset": "deepseek-r1", "maxModelLen": 32768},
                                gpu={"type": "b200"}))
    assert plan.kv.block_size == block
    assert plan.kv.tokens_per_rank % block == 0
