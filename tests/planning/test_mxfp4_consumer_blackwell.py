"""gpt-oss on consumer Blackwell (compute capability 12.x: RTX 5090, RTX PRO 6000) runs its
MXFP4 experts on Marlin in every vLLM release (facts/mxfp4_moe.py backend): the weights take
Marlin's padding (hidden to 256, the per-GPU intermediate to 128) and the fused-MoE workspace
is MarlinExperts.workspace_shapes (vllm/model_executor/layers/fused_moe/experts/marlin_moe.py,
0.33.0 and 0.34.0): (M·topk, max(I, K)) + (M·topk·max(2I, K),) in BF16, with I the padded
intermediate per GPU (marlin_moe_intermediate_size) and K the padded hidden size the runner
pads activations to (runner/moe_runner.py _maybe_pad_hidden_states). No MXFP8 activations and
no FlashInfer CUTLASS workspace: those backends are not chosen there by default."""

import pytest

from benchmark.cases import load_stack_facts
from facts.vllm_features import parse as V
from planning import config, memory
from planning.plan import make_plan

GIB = 2**30


def _plan(gpu="rtx-5090", version="0.34.0"):
    facts = dict(load_stack_facts()["models"]["gpt-oss-20b"])
    return make_plan(config.parse({
        "vllmVersion": version,
        "model": {"facts": facts, "revision": "main", "servedName": "oss",
                  "maxModelLen": 32768},
        "gpu": {"type": gpu, "tensorParallel": 1},
        "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                    "readMibPerSecond": 1000},
        "network": {"gatewayNamespaces": ["gateway"]}}))


@pytest.mark.parametrize("version", ["0.33.0", "0.34.0"])
def test_gpt_oss_on_an_rtx_5090_is_sized_with_marlins_padding(version):
    # 32 experts × (w13 2·I × H + w2 H × I) at 4.25 bits (MXFP4 + one E8M0 scale per 32):
    # Marlin (3072, 2944), where FlashInfer's (3072, 3072) was counted before.
    plan = _plan(version=version)
    marlin = 3072 * 2944 / 2880**2
    assert memory.mxfp4_resident_factor(2880, 2880, 12.0, V(version)) == pytest.approx(marlin)
    ampere = _plan(gpu="a100-80gb", version=version)          # Marlin there too
    assert plan.weights.per_gpu_gib == pytest.approx(ampere.weights.per_gpu_gib)
    assert "marlin kernels" in plan.activations.reason


def test_marlins_workspace_is_its_two_buffers_at_the_padded_sizes():
    # M·topk rows × (max(I, K) + max(2I, K)) × 2 B with I = 2944, K = 3072.
    gib = memory.moe_workspace_gib(2048, 4, 2944, 3072, 1, "marlin")
    assert gib == pytest.approx(2048 * 4 * (3072 + 5888) * 2 / GIB)
    # Narrow experts under TP: I = 768 (720 padded), K = 3072: the hidden size dominates both.
    narrow = memory.moe_workspace_gib(2048, 4, 768, 3072, 1, "marlin")
    assert narrow == pytest.approx(2048 * 4 * (3072 + 3072) * 2 / GIB)


def test_the_plan_keeps_marlins_workspace_for_gpt_oss_on_an_rtx_5090():
    plan = _plan()
    tokens = plan.engine.max_num_batched_tokens              # 2048: a GPU under 70 GiB
    assert plan.activations.moe_workspace_gib == pytest.approx(
        tokens * 4 * (3072 + 5888) * 2 / GIB)


@pytest.mark.parametrize("capability, version, backend", [
    (12.0, "0.34.0", "marlin"),
    (12.0, "0.20.0", "marlin"),
    (8.0, "0.34.0", "marlin"),       # Ampere: Marlin on every version
    (9.0, "0.10.1", "marlin"),       # Hopper before 0.12
    (9.0, "0.12.0", "oai_triton"),
    (10.0, "0.34.0", "oai_triton"),  # FlashInfer's own workspace is not modelled
])
def test_mxfp4_experts_take_the_workspace_of_the_kernel_they_run_on(capability, version,
                                                                     backend):
    assert memory.moe_backend("mxfp4", False, capability, V(version)) == backend


def test_marlins_workspace_keeps_whole_experts_under_expert_parallelism():
    from planning.config import ModelFacts
    from planning.layout import Layout
    model = ModelFacts.model_validate(load_stack_facts()["models"]["gpt-oss-20b"])
    assert memory.marlin_workspace_sizes(model, Layout(1, 1, 2, True)) == (2944, 3072, 1)
    assert memory.marlin_workspace_sizes(model, Layout(1, 1, 2, False)) == (1536, 3072, 1)
