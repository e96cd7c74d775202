"""Each pipeline stage is sized on its own, as vLLM sizes each worker: its own layers' weights
(DeepSeek's first layers dense, without experts), its own activation peak (the sampler only on
the last stage, vllm/v1/worker/gpu_model_runner.py profile_run), its own KV bytes per block,
and the replica's blocks are the fewest any stage holds (vllm/v1/core/kv_cache_planning.py
get_kv_cache_configs, 0.33.0: "Change the num_blocks of each rank to the smallest")."""

import pytest

import facts
from benchmark import cases as bench_cases
from benchmark import predict
from facts import vllm_features
from facts.vllm_features import parse as V
from planning import memory
from planning.config import ModelFacts

GIB = 2**30


def _preset(name: str) -> ModelFacts:
    return ModelFacts.model_validate(facts.models()[name])


@pytest.mark.parametrize("preset, dense", [
    ("deepseek-v2-lite", 1),        # config.json first_k_dense_replace 1
    ("deepseek-r1", 3),             # first_k_dense_replace 3
    ("kimi-k2-thinking", 1),        # first_k_dense_replace 1
    ("gpt-oss-120b", 0),            # every layer MoE
    ("qwen3-next-80b-a3b", 0),
    ("deepseek-r1-distill-qwen-7b", 0),   # dense model: no experts at all
])
def test_dense_layers_are_the_layers_the_experts_parameter_count_leaves(preset, dense):
    assert memory.dense_layer_count(_preset(preset)) == dense


def test_an_expert_count_that_is_not_whole_layers_counts_every_layer_alike():
    shape = _preset("deepseek-v2-lite")
    odd = shape.model_copy(update={"parameters": shape.parameters.model_copy(
        update={"experts": shape.parameters.experts + 1})})
    assert memory.dense_layer_count(odd) == 0


V2_LITE = _preset("deepseek-v2-lite")


def test_the_stage_holding_the_dense_first_layer_holds_one_layer_of_experts_less():
    # DeepSeek-V2-Lite at TP 2 × PP 2: vLLM splits 27 layers [14, 13]; layer 0 is dense
    # (first_k_dense_replace 1), so each stage holds 13 of the 26 MoE layers' experts, and
    # stage 0 holds the dense MLP (3 × 2048 × 10944) instead; bf16 everywhere.
    groups = V2_LITE.parameter_groups()
    per_moe_layer = groups["experts"] * 2 / 26
    dense_mlp = 3 * 2048 * 10944 * 2
    spread = (groups["norms_and_gates"] * 2 + groups["replicated_linear"] * 2
              + (groups["sharded_linear"] * 2 - dense_mlp) / 2)
    mla = 512 * 16 / 2 * (128 + 128) * 2
    stage0 = (groups["embedding"] * 2 / 2 + 14 / 27 * spread + dense_mlp / 2
              + 13 * per_moe_layer / 2 + 14 * mla)
    stage1 = groups["head"] * 2 / 2 + 13 / 27 * spread + 13 * per_moe_layer / 2 + 13 * mla
    stages = memory.weight_gib_per_stage(
        groups, "bf16", 27, 2, 2, attention=V2_LITE.attention, dense_layers=1,
        dense_mlp_params=3 * 2048 * 10944)
    assert stages == pytest.approx([stage0 / GIB, stage1 / GIB])
    # The uniform split put 14/27 of the experts on stage 0: half a GiB too much.
    uniform = memory.weight_gib_per_stage(groups, "bf16", 27, 2, 2, attention=V2_LITE.attention)
    assert uniform[0] - stages[0] == pytest.approx(
        (14 / 27 * 26 - 13) * per_moe_layer / 2 / GIB - dense_mlp / 2 / GIB
        + 14 / 27 * dense_mlp / 2 / GIB)


def test_r1_over_two_stages_is_fullest_on_the_stage_without_dense_layers():
    # DeepSeek-R1 at TP 8 × PP 2: [31, 30] layers; stage 0 holds layers 0–2 dense and 28 MoE
    # layers, stage 1 30 MoE layers and the head: the fullest GPU is stage 1's, with 30 of 58
    # MoE layers' experts (more than 30/61 of them).
    shape = _preset("deepseek-r1")
    layout = memory.Layout(8, 2, nodes=2)
    weights = memory.weights(_r1_config(), shape, layout)
    stage0, stage1 = weights.per_stage_gib
    assert weights.per_gpu_gib == stage1 > stage0
    experts = shape.parameter_groups()["experts"] * (1 + memory.FP8_BLOCK_SCALE_BYTES)
    uniform = memory.weight_gib_per_stage(shape.parameter_groups(), "fp8", 61, 8, 2,
                                          attention=shape.attention)[1]
    assert stage1 - uniform == pytest.approx(
        (30 / 58 - 30 / 61) * experts / 8 / GIB - 30 / 61 * 3 * _dense_mlp(shape) / 8 / GIB,
        rel=1e-6)
    assert "layers 0–2 dense" in weights.reason


def _dense_mlp(shape: ModelFacts) -> float:
    """One dense layer's MLP in bytes at R1's FP8 linear width."""
    return 3 * shape.hidden_size * shape.intermediate_size * (1 + memory.FP8_BLOCK_SCALE_BYTES)


def _r1_config():
    from planning.config import parse
    from planning.stack_files import stack_values
    return parse(stack_values("r1-h100"))


@pytest.fixture(scope="module")
def tp2pp2():
    """The benchmark's DeepSeek-V2-Lite case on 4 × L4 at TP 2 × PP 2 (vLLM PR 20665's log),
    predicted by the plan's steps."""
    (case,) = [case for case in bench_cases.load_cases()
               if case.id == "pr20665-deepseek-v2-lite-l4x4-tp2pp2"]
    return case, predict.predict(case)


def test_only_the_last_stage_profiles_the_sampler(tp2pp2):
    case, pred = tp2pp2
    act, engine = pred.memory.activations, pred.memory.engine
    tokens, seqs = engine.max_num_batched_tokens, engine.max_num_seqs
    forward = (tokens * 3 * 10944 / 2 * 2 + tokens * 4 * 2048 * 2) / GIB
    sampler = seqs * 102400 * vllm_features.sampler_bytes_per_logit(case.version) / GIB
    workspace = act.moe_workspace_gib
    assert act.stage_peaks_gib == pytest.approx(
        (forward + workspace, max(forward, sampler) + workspace))
    assert act.peak_gib == pytest.approx(max(act.stage_peaks_gib))
    assert "sampler on the last stage only" in act.reason


def test_each_stage_has_its_own_kv_budget_and_the_fewest_blocks_set_the_tokens(tp2pp2):
    case, pred = tp2pp2
    mem = pred.memory
    total = case.config.gpu.resolved().memory_gib * mem.engine.gpu_memory_utilization
    budgets = [total - weights - peak - mem.activations.non_torch_gib
               for weights, peak in zip(mem.weights.per_stage_gib,
                                        mem.activations.stage_peaks_gib)]
    assert mem.kv.stage_budgets_gib == pytest.approx(tuple(budgets))
    per_block = [layers * 576 * 2 * mem.kv.block_size for layers in (14, 13)]
    blocks = [int(budget * GIB // size) for budget, size in zip(budgets, per_block)]
    binding = blocks.index(min(blocks))
    assert mem.kv.binding_stage == binding
    assert mem.kv.budget_gib == pytest.approx(budgets[binding])
    assert mem.kv.tokens_per_rank == min(blocks) * mem.kv.block_size
    assert mem.kv.bytes_per_token == pytest.approx(per_block[binding] / mem.kv.block_size)
    assert f"stage {binding + 1} of 2 binds" in mem.kv.reason  # counted from 1


def test_one_stage_is_the_whole_model():
    shape = _preset("deepseek-r1-distill-qwen-7b")
    layout = memory.Layout(1)
    weights = memory.weights(_r1_config(), shape, layout)
    assert weights.per_stage_gib == (weights.per_gpu_gib,)


def test_an_mxfp4_model_sizes_the_openai_triton_workspace():
    # gpt-oss keeps its experts in MXFP4 without block scales: OAI's triton kernels
    # (memory.moe_backend), whose first buffer is the activation alone.
    shape = _preset("gpt-oss-120b")
    cfg = _r1_config()
    gpu = cfg.gpu.resolved()
    version = V("0.20.0")
    engine = memory.engine_limits(cfg, gpu, version)
    act = memory.activations(cfg, shape, gpu, version, memory.Layout(1), engine)
    assert "oai_triton kernels" in act.reason
    assert act.moe_workspace_gib == pytest.approx(memory.moe_workspace_gib(
        engine.max_num_batched_tokens, 4, shape.moe_intermediate_size, shape.hidden_size, 1,
        "oai_triton"))


def test_a_model_without_experts_has_no_dense_first_layers_whatever_its_parameters_say():
    assert memory.dense_layer_count(V2_LITE.model_copy(update={"experts": None})) == 0
    assert memory.dense_layer_count(
        V2_LITE.model_copy(update={"moe_intermediate_size": None})) == 0


@pytest.mark.parametrize("experts_params, dense", [
    (64 * 3 * 2048 * 1408, 26),         # one MoE layer's experts: 26 dense layers
    (0, 0),                             # no expert parameters: no MoE layer to count
])
def test_the_moe_layer_count_is_whole_layers_of_experts(experts_params, dense):
    shape = V2_LITE.model_copy(update={"parameters": V2_LITE.parameters.model_copy(
        update={"experts": experts_params})})
    assert memory.dense_layer_count(shape) == dense


def test_dense_layers_fill_the_first_stages_in_layer_order():
    # 6 layers over 3 stages [2, 2, 2], the first 3 dense (an MLP of D each), the experts E
    # spread over the 3 MoE layers; TP 1, bf16, nothing else.
    dense_mlp, experts = 1000.0, 3 * 7000.0
    groups = {"embedding": 0, "head": 0, "norms_and_gates": 0, "replicated_linear": 0,
              "sharded_linear": 3 * dense_mlp, "experts": experts}
    stages = memory.weight_gib_per_stage(groups, "bf16", 6, 1, 3, dense_layers=3,
                                         dense_mlp_params=dense_mlp)
    assert [gib * GIB for gib in stages] == pytest.approx(
        [2 * dense_mlp * 2, dense_mlp * 2 + experts * 2 / 3, 2 * experts * 2 / 3])
    # Without the MLP's size the sharded linears spread over every layer alike.
    assert memory.weight_gib_per_stage(groups, "bf16", 6, 1, 3, dense_layers=3)[0] * GIB \
        == pytest.approx(2 / 6 * 3 * dense_mlp * 2)


def test_one_stage_is_the_default_split():
    groups = V2_LITE.parameter_groups()
    assert len(memory.weight_gib_per_stage(groups, "bf16", 27, 2)) == 1


def test_a_stage_of_dense_layers_alone_keeps_no_expert_workspace():
    assert memory._stages_with_experts([2, 2, 2], 2) == [False, True, True]
    assert memory._stages_with_experts([2, 2, 2], 0) == [True, True, True]


def test_r1_over_two_stages_takes_its_blocks_from_the_last_stage():
    from planning.plan import make_plan
    plan = make_plan(_r1_config())
    assert plan.kv.binding_stage == 1
    assert plan.kv.bytes_per_token == pytest.approx(30 * (512 + 64) * 2)   # its 30 layers
    assert plan.kv.budget_gib == plan.kv.stage_budgets_gib[1]


def test_when_no_stage_has_blocks_the_one_furthest_below_zero_is_named():
    shape = _preset("deepseek-r1")
    cfg = _r1_config()
    gpu, version = cfg.gpu.resolved(), V("0.20.0")
    layout = memory.Layout(8, 2, nodes=2)
    engine = memory.engine_limits(cfg, gpu, version)
    heavy = memory.Weights(900.0, 100.0, 641.0, "", (90.0, 100.0))
    act = memory.Activations(1.0, 1.0, "", 0.0, (1.0, 1.0))
    specs, stages = memory.kv_layer_specs(shape, layout, 2, 16)
    groups = memory.kv_layout.group_layers(specs)
    budgets, binding = memory.stage_budgets(cfg, gpu, version, engine, heavy, act, groups,
                                            stages)
    assert binding == 1 and budgets[1][0] < budgets[0][0] < 0
