"""docs/architecture.md follows one value from config key to object; its numbers are the
plan's, its quoted report line is what `tools.plan` prints, and the object carries it."""

from __future__ import annotations

import re

from planning.config import parse
from planning.plan import make_plan
from planning.stack_files import stack_values
from tests.harness import ROOT, run_stack
from tools import plan as plan_tool

DOC = ROOT / "docs" / "architecture.md"


def _value_section() -> str:
    text = DOC.read_text(encoding="utf-8")
    return " ".join(text[text.index("## One value's way"):].split())


def test_the_traced_value_is_the_plans_the_reports_and_the_objects(capsys):
    section = _value_section()
    plan = make_plan(parse(stack_values("prod")))
    start = plan.startup
    assert plan_tool.main(["prod"]) == 0
    printed = next(" ".join(line.split()) for line in capsys.readouterr().out.splitlines()
                   if line.strip().startswith("startup probe"))
    assert f"`{printed}`" in section            # the quoted line, as printed
    assert f"failureThreshold: {start.probe_failure_threshold}}}" in section
    assert f"periodSeconds: {start.probe_period_seconds}," in section
    deployment = re.search(r"Deployment `([\w-]+)`", section).group(1)
    objects = [r for r in run_stack("prod").resources if r.name == deployment]
    container = next(c for c in objects[0].inputs["spec"]["template"]["spec"]["containers"]
                     if c["name"] == "vllm")
    assert container["startupProbe"]["failureThreshold"] == start.probe_failure_threshold
    assert container["startupProbe"]["periodSeconds"] == start.probe_period_seconds


def test_every_module_the_doc_names_exists():
    """A path in backticks (`planning/timing.py`, `rendering/kube.py`, `wiring/`) is real."""
    text = DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:facts|planning|rendering|wiring|components|policy|tools|"
                           r"tests)/[\w/.]*)`", text))
    assert {"rendering/kube.py", "wiring/", "planning/timing.py"} <= named
    assert [path for path in sorted(named) if not (ROOT / path).exists()] == []
