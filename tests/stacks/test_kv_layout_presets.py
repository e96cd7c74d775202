"""The hybrid (Qwen3-Next) and sliding-window (gpt-oss-120b) presets plan and render on copies
of the real stack files (facts/models.yaml; their KV layout in planning/kv_layout.py)."""

from planning.config import parse
from planning.plan import make_plan
from tests.harness import deep_merge, run_stack, stack_config
from tests.k8s_helpers import server_args, vllm_container

QWEN3_NEXT = {"model": {"preset": "qwen3-next-80b-a3b", "servedName": "next", "maxModelLen": 32768},
              "gpu": {"type": "h100-80gb", "tensorParallel": 4},
              # an H100 engine admits 1024 sequences (vLLM's default), each token quick (its
              # linear-attention layers read one state page): the router keeps up with 8
              # replicas, as the plan's refusal on staging's single router says
              "traffic": {"router": {"replicas": 8}}}
GPT_OSS = {"model": {"preset": "gpt-oss-120b", "servedName": "oss", "maxModelLen": 32768},
           "gpu": {"type": "h100-80gb"}}


def _plan(stack: str, overrides: dict):
    return make_plan(parse(deep_merge(stack_config(stack), overrides)))


def test_qwen3_next_on_staging_with_four_h100s_plans_and_renders():
    run = run_stack("staging", QWEN3_NEXT)
    assert run.error is None, run.error
    args = vllm_container(run.engine("apps/v1:Deployment"))["args"]
    assert args[args.index("--tensor-parallel-size") + 1] == "4"
    assert args[args.index("--tool-call-parser") + 1] == "hermes"
    kv = _plan("staging", QWEN3_NEXT).kv
    assert kv.groups == 4 and kv.block_size == 272


def test_gpt_oss_120b_on_staging_with_one_h100_plans_and_renders():
    run = run_stack("staging", GPT_OSS)
    assert run.error is None, run.error
    args = vllm_container(run.engine("apps/v1:Deployment"))["args"]
    assert args[args.index("--reasoning-parser") + 1] == "openai_gptoss"
    kv = _plan("staging", GPT_OSS).kv
    assert kv.groups == 2 and kv.holds(32768)


def test_decode_context_parallel_renders_its_flag_on_r1_h100():
    # An MLA model at TP 8 (vLLM refuses DCP for prod's GQA model: 8 KV heads at TP 2).
    lws = "leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
    run = run_stack("r1-h100", {"engine": {"decodeContextParallel": 2}})
    assert run.error is None, run.error
    args = server_args(vllm_container(run.engine(lws)))
    assert args[args.index("--decode-context-parallel-size") + 1] == "2"
    assert "--decode-context-parallel-size" not in server_args(vllm_container(
        run_stack("r1-h100").engine(lws)))
