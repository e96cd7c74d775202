"""A copy of a stack pinned to vLLM 0.34.0 plans and renders with 0.34's own KV rule
(planning/memory.py _kv_budget, tests/planning/test_measured_kv_sizing.py)."""

from tests.harness import run_stack
from tests.k8s_helpers import vllm_container


def test_vllm_0_34_renders_and_leaves_the_utilization_to_vllm_unless_set():
    # A copy of the staging stack pinned to 0.34.0: it plans and renders. Without
    # engine.gpuMemoryUtilization the flag is left out, so vLLM resolves its own default
    # (1.0 measured, or 0.92 if it falls back to the estimate where the driver lacks VMM);
    # rendering the plan's 1.0 would make that fallback ask for all of the GPU and fail.
    run = run_stack("staging", {"vllmVersion": "0.34.0"})
    assert run.error is None, run.error
    args = vllm_container(run.engine("apps/v1:Deployment"))["args"]
    assert "--gpu-memory-utilization" not in args
    assert args[0].startswith("/") and "--max-model-len" in args
    run = run_stack("staging", {"vllmVersion": "0.34.0", "engine": {"gpuMemoryUtilization": 0.95}})
    args = vllm_container(run.engine("apps/v1:Deployment"))["args"]
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.95"
    run = run_stack("staging", {"vllmVersion": "0.33.0"})
    args = vllm_container(run.engine("apps/v1:Deployment"))["args"]
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.92"


def test_deepseek_v3_2_on_one_h200_node_renders_on_vllm_0_34():
    # A copy of the multi-node stack switched to the V3.2 preset on H200: one node holds it
    # (facts/models.yaml deepseek-v3.2), so a Deployment, not a group, with V3.2's parser.
    run = run_stack("r1-h100", {"vllmVersion": "0.34.0", "gpu": {"type": "h200"},
                                "model": {"preset": "deepseek-v3.2", "servedName": "v32"}})
    assert run.error is None, run.error
    args = vllm_container(run.engine("apps/v1:Deployment"))["args"]
    assert args[args.index("--tensor-parallel-size") + 1] == "8"
    assert args[args.index("--tool-call-parser") + 1] == "deepseek_v32"
