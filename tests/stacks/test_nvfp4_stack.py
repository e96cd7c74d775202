"""An NVFP4 checkpoint (nvidia/Qwen3-30B-A3B-NVFP4, its model.facts written by tools/model_facts
from tests/fixtures/qwen3-30b-a3b-nvfp4.config.json) plans and renders on a copy of the staging
stack on one B200, and `python -m tools.plan` prints its weights at NVFP4's bytes per parameter
(planning/memory.py NVFP4_BYTES)."""

import json
import pathlib

import pytest

from planning.config import parse
from planning.plan import make_plan
from tests.harness import deep_merge, run_stack, stack_config
from tests.k8s_helpers import vllm_container
from tools import model_facts

FIXTURE = (pathlib.Path(__file__).resolve().parents[1] / "fixtures"
           / "qwen3-30b-a3b-nvfp4.config.json")


def _overrides() -> dict:
    facts = model_facts.model_facts(json.loads(FIXTURE.read_text(encoding="utf-8")),
                                    hf_id="nvidia/Qwen3-30B-A3B-NVFP4")
    facts.update(min_vllm="0.10.2", min_compute_capability=7.5)
    return {"model": {"preset": None, "facts": facts, "servedName": "qwen3-nvfp4",
                      "maxModelLen": 32768},
            "gpu": {"type": "b200", "tensorParallel": 1},
            "traffic": {"router": {"replicas": 6}}}


def test_qwen3_30b_a3b_nvfp4_on_staging_plans_and_renders():
    run = run_stack("staging", _overrides())
    assert run.error is None, run.error
    args = vllm_container(run.engine("apps/v1:Deployment"))["args"]
    assert args[0].startswith("/models/Qwen3-30B-A3B-NVFP4/")


def test_the_plan_sizes_the_nvfp4_weights_at_a_quarter_of_bf16_plus_scales():
    plan = make_plan(parse(deep_merge(stack_config("staging"), _overrides())))
    # 29.897 G linear and expert params × (0.5 + 1/16) B + 0.635 G embeddings, head, norms and
    # routers × 2 B = 16.845 GiB (a quarter of BF16's 56.9 GiB and the scales).
    assert plan.weights.total_gib == pytest.approx(
        (29_896_998_912 * (0.5 + 1 / 16) + 635_123_712 * 2) / 2**30)
    assert round(plan.weights.total_gib, 3) == 16.845
