"""The plan report runs with Python alone, shows the same figures as the stack outputs, and
draws each GPU's memory so a reviewer takes the plan in at a glance."""

import re

import pytest

from planning.config import parse
from planning.plan import make_plan
from planning.stack_files import stack_values
from tests.conftest import STACKS
from tools import plan as plan_tool


def _plan(stack):
    return make_plan(parse(stack_values(stack)))


def test_plan_report_prints_every_figure_for_every_stack(capsys):
    assert plan_tool.main(list(STACKS)) == 0
    text = capsys.readouterr().out
    for stack in STACKS:
        plan = _plan(stack)
        figures = plan.outputs()
        assert f"Stack {stack}:" in text
        assert f"{figures['kvCacheTokens']} tokens" in text
        assert f"{figures['startupBudgetSeconds']} s budget" in text
        assert f"{figures['terminationGraceSeconds']} s" in text
        for step in (plan.layout, plan.weights, plan.kv, plan.startup, plan.drain,
                     plan.rollout, plan.autoscaling):
            assert step.reason in text
    for label in ("layout", "weights", "activations", "KV cache", "host", "start-up",
                  "grace period", "rollout wait", "storage", "autoscaler"):
        assert re.search(rf"^  {re.escape(label)}\s", text, re.M), label


@pytest.mark.parametrize("as_markdown", [False, True], ids=["text", "markdown"])
def test_plan_report_prints_the_scaling_windows_probe_threshold_and_launcher(capsys, as_markdown):
    """Every figure the autoscaler, the startup probe and the multi-node launch read is printed
    with its reason, in both forms."""
    assert plan_tool.main(list(STACKS) + (["--markdown"] if as_markdown else [])) == 0
    text = capsys.readouterr().out
    for stack in STACKS:
        plan = _plan(stack)
        windows, start = plan.scaling, plan.startup
        assert (f"up after {windows.scale_up_window_seconds} s, one per "
                f"{windows.scale_up_period_seconds} s; down after "
                f"{windows.scale_down_window_seconds} s, one per "
                f"{windows.scale_down_period_seconds} s; fallback "
                f"{windows.fallback_replicas}") in text
        assert f"failureThreshold {start.probe_failure_threshold}" in text
        for reason in (windows.reason, start.probe_reason, plan.launcher_reason):
            assert plan_tool._cell(reason) in text if as_markdown else reason in text
        assert f"launcher | {plan.launcher} |" in text if as_markdown else \
            re.search(rf"^  launcher\s+{plan.launcher}\s", text, re.M)


@pytest.mark.parametrize("stack", STACKS)
def test_the_memory_bar_splits_the_whole_gpu_in_accounting_order(stack):
    plan = _plan(stack)
    bar = plan_tool.memory_bar(plan)
    assert len(bar) == plan_tool.BAR_WIDTH
    assert re.fullmatch(r"W+A+N+K+\.+", bar), bar      # every segment shows, in order
    segments = dict(plan_tool.memory_segments(plan))
    assert sum(segments.values()) == pytest.approx(plan.gpu.memory_gib)
    assert segments["weights"] == pytest.approx(plan.weights.per_gpu_gib)
    assert segments["KV cache"] == pytest.approx(plan.kv.budget_gib)
    # The free part is vLLM's margin: total × (1 − utilization).
    assert segments["left free"] == pytest.approx(
        plan.gpu.memory_gib * (1 - plan.engine.gpu_memory_utilization))
    # Characters follow the sizes: the weights' share of the bar is their share of the GPU.
    assert bar.count("W") == pytest.approx(
        plan.weights.per_gpu_gib / plan.gpu.memory_gib * plan_tool.BAR_WIDTH, abs=1.5)


def test_a_tiny_segment_still_gets_one_character():
    plan = _plan("staging")
    narrow = plan_tool.memory_bar(plan, width=12)
    assert len(narrow) == 12 and set(narrow) == set("WANK.")


def test_markdown_form_is_a_pull_request_comment(capsys):
    assert plan_tool.main(["prod", "--markdown"]) == 0
    text = capsys.readouterr().out
    plan = _plan("prod")
    assert text.startswith("### Stack `prod`:")
    assert f"[{plan_tool.memory_bar(plan)}]" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0] == "| figure | value | why |"
    assert len(table) == 1 + len(plan_tool.rows(plan))
    # The traffic layer's figures follow as a list, the router's start-up and Redis among them.
    assert "- **router start-up** 170 s startup probe" in text
    assert "- **limit counters** existing Redis redis.llm-serving.svc:6379" in text
    # Pipes inside a reason are escaped, so every row has exactly three cells.
    assert all(len(re.split(r"(?<!\\)\|", row)) == 5 for row in table)


def test_plan_report_exits_non_zero_with_reasons_for_an_unknown_stack(capsys):
    assert plan_tool.main(["nosuchstack"]) == 1
    assert "known stacks" in capsys.readouterr().err


ONE_OF_MANY = re.compile(r"(?<![\d.,])1 (GPUs|replicas|rounds|revisions|workers|nodes|groups)\b")


@pytest.mark.parametrize("changes", [{}, {"replicas": 1, "autoscaling": {"enabled": False}},
                                     {"replicas": 3, "autoscaling": {"enabled": False}}])
def test_the_report_says_one_gpu_and_counts_the_rest_in_plural(capsys, changes):
    for stack in STACKS:
        plan = make_plan(parse({**stack_values(stack), **changes}))
        text = plan_tool.report(stack, plan)
        assert ONE_OF_MANY.findall(text) == [], text
        assert "at the most replicas" not in text
        gpus, total = plan.layout.gpus, plan.gpus_total
        assert f"{gpus} GPU{'s' if gpus != 1 else ''} per replica" in text
        assert f"{total} GPU{'s' if total != 1 else ''} in all at " in text
