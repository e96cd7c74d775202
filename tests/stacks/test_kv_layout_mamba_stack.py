"""A Nemotron-H Mamba2 hybrid, its model.facts written by tools/model_facts from
tests/fixtures/nemotron-nano-9b-v2.config.json, plans and renders on a copy of the staging
stack, and `python -m tools.plan` prints the per-request state bytes with their vLLM source
(planning/kv_layout.py mamba2_state_bytes)."""

import json
import pathlib

from planning.config import parse
from planning.plan import make_plan
from tests.harness import deep_merge, run_stack, stack_config
from tests.k8s_helpers import vllm_container
from tools import model_facts
from tools import plan as plan_tool

FIXTURE = (pathlib.Path(__file__).resolve().parents[1] / "fixtures"
           / "nemotron-nano-9b-v2.config.json")


def _overrides() -> dict:
    facts = model_facts.model_facts(json.loads(FIXTURE.read_text(encoding="utf-8")),
                                    hf_id="nvidia/NVIDIA-Nemotron-Nano-9B-v2")
    facts.update(min_vllm="0.13.0", min_compute_capability=8.0)
    return {"model": {"preset": None, "facts": facts, "servedName": "nano",
                      "maxModelLen": 32768},
            "gpu": {"type": "h100-80gb", "tensorParallel": 1},
            # a 9B model admits many streams at a short per-token time (its Mamba2 layers read one
            # state page each): the router keeps up with 9 replicas
            "traffic": {"router": {"replicas": 9}}}


def test_nemotron_nano_9b_v2_on_staging_plans_and_renders():
    run = run_stack("staging", _overrides())
    assert run.error is None, run.error
    args = vllm_container(run.engine("apps/v1:Deployment"))["args"]
    assert args[0].startswith("/models/NVIDIA-Nemotron-Nano-9B-v2/")


def test_the_plan_report_prints_the_mamba2_state_per_request_with_its_source():
    plan = make_plan(parse(deep_merge(stack_config("staging"), _overrides())))
    # staging pins vLLM 0.33: float32 SSM state (Nemotron-H's pin), prefix caching on (align).
    assert plan.kv.block_size == 1312 and plan.kv.groups == 8
    printed = "\n".join(" ".join(row) for row in plan_tool.rows(plan))
    assert "one mamba2 layer's state 5,316,608 B at TP 1 (conv 2 B, SSM 4 B a value" in printed
    assert "mamba_utils.py mamba2_state_shape" in printed
    assert "linear-attention state per request" in printed
