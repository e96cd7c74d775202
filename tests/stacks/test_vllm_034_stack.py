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
