"""The plan report runs with Python alone, shows the same figures as the stack outputs, and
draws each GPU's memory so a reviewer takes the plan in at a glance."""

import dataclasses
import re
import typing

import pytest

from planning.config import parse
from planning.plan import Plan, make_plan
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


# ------------------------------------------- every derived figure printed with its reason

NOT_DERIVED = {"model", "gpu", "version", "replicas"}
"""Plan fields that are facts or config as given (the report's header names model and GPU)."""


def _is_reason(name: str) -> bool:
    return name in ("reason", "reasons") or name.endswith("_reason")


def _field_paths(cls: type, prefix: str = "") -> list[str]:
    """Every leaf field of `cls`, walking into the dataclasses it holds (Optional ones too),
    by type, so a section that is None on every stack is still walked."""
    paths = []
    for name, hint in typing.get_type_hints(cls).items():
        if _is_reason(name) or (not prefix and name in NOT_DERIVED):
            continue
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        section = hint if dataclasses.is_dataclass(hint) else (
            inner[0] if len(inner) == 1 and dataclasses.is_dataclass(inner[0]) else None)
        paths += (_field_paths(section, f"{prefix}{name}.") if section
                  else [f"{prefix}{name}"])
    return paths


def _value(plan, path: str):
    for name in path.split("."):
        plan = getattr(plan, name)
    return plan


def _shown(value, line: str) -> bool:
    """True when `value` (a number, text, or a dict of numbers) is printed on `line`."""
    if isinstance(value, dict):
        return all(_shown(inner, line) for inner in value.values())
    if isinstance(value, (tuple, list)):
        return all(_shown(inner, line) for inner in value)
    if value is None or isinstance(value, bool):
        return True                     # claimed by its row; the row's words say which
    if isinstance(value, str):
        return value in line
    texts = {f"{value:g}", str(value)} | ({f"{value:.2f}", f"{value:.1f}"}
                                          if isinstance(value, float) else set())
    return any(re.search(rf"(?<![\d.]){re.escape(text)}(?!\d)", line) for text in texts)


def _every_declared_field() -> set[str]:
    declared = {path for stack in STACKS for row in plan_tool.figures(_plan(stack))
                for path in row.fields}
    return declared | {path for paths in plan_tool.TRAFFIC_FIELDS.values() for path in paths}


def test_every_derived_field_of_the_plan_has_a_printed_row():
    """Walks Plan through its dataclasses: a figure added to a step and not printed fails."""
    missing = [path for path in _field_paths(Plan)
               if not any(path == shown or path.startswith(shown + ".")
                          for shown in _every_declared_field())]
    assert missing == []


def test_the_field_walk_reaches_into_every_step():
    """The walk above can fail: it sees nested and optional sections, skips only reasons."""
    paths = _field_paths(Plan)
    for path in ("layout.nodes", "startup.engine_phases", "host.cpu_limit",
                 "traffic.redis_maxmemory_mib", "scaling.polling_seconds"):
        assert path in paths
    assert not [path for path in paths if _is_reason(path.rsplit(".", 1)[-1])]
    assert not [path for path in paths if path.split(".")[0] in NOT_DERIVED]


DEPLOYED_REDIS = "prod, Redis deployed by the program"


def _stack_values(stack: str) -> dict:
    if stack != DEPLOYED_REDIS:
        return stack_values(stack)
    values = stack_values("prod")
    router = {k: v for k, v in values["traffic"]["router"].items() if k != "redis"}
    providers = [{k: v for k, v in p.items() if k != "apiKeySecret"}
                 for p in values["traffic"]["providers"]]
    return {**values, "traffic": {**values["traffic"], "router": router,
                                  "providers": providers},
            "trafficSecrets": {"providers": {"cloud": "sk-test"}}}


@pytest.mark.parametrize("as_markdown", [False, True], ids=["text", "markdown"])
@pytest.mark.parametrize("stack", STACKS + (DEPLOYED_REDIS,))
def test_every_row_prints_the_values_of_its_fields_with_its_reason(capsys, monkeypatch,
                                                                   stack, as_markdown):
    monkeypatch.setattr(plan_tool, "stack_values", _stack_values)
    assert plan_tool.main([stack] + (["--markdown"] if as_markdown else [])) == 0
    lines = capsys.readouterr().out.splitlines()
    cfg = parse(_stack_values(stack))
    plan = make_plan(cfg)
    for row in plan_tool.figures(plan) + plan_tool.traffic_figures(cfg, plan):
        reason = plan_tool._cell(row.reason) if as_markdown else row.reason
        line = next((line for line in lines if row.name in line and reason in line), None)
        assert row.reason and line is not None, row
        unshown = [path for path in row.fields if not _shown(_value(plan, path), line)]
        assert unshown == [], line


CHOICES = {"layout", "launcher", "engine", "limit counters"}
"""Rows whose reason says why a choice was made, not arithmetic ending in a number."""
NUMBER = r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])"


@pytest.mark.parametrize("stack", STACKS + (DEPLOYED_REDIS,))
def test_each_reason_ends_its_arithmetic_at_the_figure_the_row_shows(stack):
    """The first figure a row shows is what its reason's arithmetic comes to ('= N'), at the
    same precision, so a formula and the sentence that explains it cannot drift apart."""
    cfg = parse(_stack_values(stack))
    plan = make_plan(cfg)
    drifted = []
    for row in plan_tool.figures(plan) + plan_tool.traffic_figures(cfg, plan):
        if row.name in CHOICES:
            continue
        shown = float(re.search(NUMBER, row.value).group())
        results = [float(n) for n in re.findall(rf"= (?:[a-z -]+ )?({NUMBER})", row.reason)]
        if shown not in results:
            drifted.append((row.name, shown, results))
    assert drifted == []
