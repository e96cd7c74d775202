"""The plan report runs with Python alone and shows the same figures as the stack outputs."""

from planning.config import parse
from planning.plan import make_plan
from planning.stack_files import stack_values
from tools import plan as plan_tool


def test_plan_report_prints_every_figure_for_both_stacks(capsys):
    assert plan_tool.main(["staging", "prod"]) == 0
    text = capsys.readouterr().out
    for stack in ("staging", "prod"):
        figures = make_plan(parse(stack_values(stack))).outputs()
        assert f"Stack {stack}:" in text
        assert f"{figures['kvCacheTokens']} tokens" in text
        assert f"{figures['startupBudgetSeconds']} s" in text
    for label in ("GPUs", "split", "weights", "KV cache", "concurrency", "memory", "/dev/shm",
                  "start-up", "grace period"):
        assert label in text


def test_plan_report_exits_non_zero_with_reasons_for_an_unknown_stack(capsys):
    assert plan_tool.main(["nosuchstack"]) == 1
    assert "known stacks" in capsys.readouterr().err
