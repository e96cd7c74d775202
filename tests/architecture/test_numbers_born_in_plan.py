"""A derived number is born in planning/ and only read elsewhere: rendering and components take
the plan's figures as they are, so a formula and its printed reason cannot drift apart (issue
17, "the plan is the only place a number is born")."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pathlib
import re

import pytest

from tests.harness import ROOT

READERS = ("rendering", "components", "wiring")
"""Every layer past planning/: its packages, recursively, and the composition root."""
ROOT_MODULES = ("__main__.py",)
ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def _modules() -> list[pathlib.Path]:
    return sorted([path for package in READERS for path in (ROOT / package).rglob("*.py")]
                  + [ROOT / name for name in ROOT_MODULES])


def test_the_scan_reads_every_layer_past_planning():
    """A module added to any reader (or a subpackage of one) is scanned without editing this."""
    scanned = {path.relative_to(ROOT).as_posix() for path in _modules()}
    assert {"__main__.py", "wiring/__init__.py", "rendering/pod.py",
            "components/inference.py"} <= scanned
    outside = {path.relative_to(ROOT).parts[0] for path in ROOT.glob("*/*.py")} - {
        "planning", "facts", "policy", "tools", "tests", "benchmark", "router", "docker",
        "examples", "venv", *READERS}
    assert outside == set(), "a new top-level package: decide whether it reads the plan"


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant)
                                               and isinstance(node.value, str))


PLANNING_STEPS = ("planning.figures", "planning.memory", "planning.timing",
                  "planning.capacity", "planning.scaling", "planning.traffic", "planning.layout")


def plan_types() -> set[str]:
    """Names of the plan's section types (Plan, Startup, TrafficPlan, …): a parameter annotated
    with one holds plan figures whatever it is called."""
    return {name for module in PLANNING_STEPS
            for name, value in vars(importlib.import_module(module)).items()
            if inspect.isclass(value) and value.__module__ == module
            and dataclasses.is_dataclass(value)}


def _plan_names(tree: ast.AST) -> set[str]:
    """Names that hold plan figures: `plan`, parameters annotated with a plan section type, and
    (to a fixed point) names bound to one read as it is (`drain = plan.drain`,
    `failures = drain.grace_seconds`); a list or a call built from figures is not a figure."""
    types, names = plan_types(), {"plan"}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for arg in node.args.args + node.args.kwonlyargs:
                shown = {n.id for n in ast.walk(arg.annotation) if isinstance(n, ast.Name)} \
                    if arg.annotation else set()
                if arg.annotation is not None and isinstance(arg.annotation, ast.Constant):
                    shown = set(re.findall(r"\w+", str(arg.annotation.value)))
                if shown & types:
                    names.add(arg.arg)
    assigned = [(node.targets if isinstance(node, ast.Assign) else [node.target], node.value)
                for node in ast.walk(tree)
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None]
    while True:
        more = {target.id for targets, value in assigned for target in targets
                if isinstance(target, ast.Name)
                and isinstance(value, (ast.Attribute, ast.Name)) and _reads_plan(value, names)
                } - names
        if not more:
            return names
        names |= more


def _reads_plan(node: ast.AST, names: set[str]) -> bool:
    """True when `node` reads a plan figure: a plan name (plan.x…, startup_failures) or
    something.plan.x…."""
    for inner in ast.walk(node):
        chain, root = [], inner
        while isinstance(root, ast.Attribute):
            chain.append(root.attr)
            root = root.value
        if not isinstance(root, ast.Name):
            continue
        if chain and "plan" in chain[1:]:
            return True
        if root.id in names and (chain or root.id != "plan"):
            return True
    return False


def plan_arithmetic(tree: ast.AST) -> list[str]:
    """Arithmetic (not text concatenation) with a plan figure as an operand."""
    names = _plan_names(tree)
    return [f"{node.lineno}: {ast.unparse(node)}" for node in ast.walk(tree)
            if isinstance(node, ast.BinOp) and isinstance(node.op, ARITHMETIC)
            and not (_is_text(node.left) or _is_text(node.right))
            and (_reads_plan(node.left, names) or _reads_plan(node.right, names))]


ENTRY_POINTS = {("planning.load", "load_stack")}
"""The composition root's one call into planning: the stack's config and its whole plan,
checked before any resource exists. Every other planning function is a step or a formula."""


def planning_function_calls(tree: ast.AST) -> list[str]:
    """Calls of a function defined in planning/ (a formula or a step), by its imported name or
    through an imported planning module."""
    functions, modules = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "planning":
            source = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(source, alias.name)
                local = alias.asname or alias.name
                if inspect.ismodule(value):
                    modules[local] = value
                elif inspect.isfunction(value) and (value.__module__,
                                                    value.__name__) not in ENTRY_POINTS:
                    functions.add(local)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in functions:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
              and func.value.id in modules
              and inspect.isfunction(getattr(modules[func.value.id], func.attr, None))):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", _modules(),
                         ids=lambda path: path.relative_to(ROOT).as_posix())
def test_rendering_components_wiring_and_main_read_plan_figures_and_derive_none(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert plan_arithmetic(tree) + planning_function_calls(tree) == []


def test_the_scan_finds_a_figure_computed_from_the_plan():
    """The checks above can fail: each recognises the shape it forbids."""
    derived = ast.parse("from planning.timing import startup_failure_threshold\n"
                        "from planning import scaling as math_\n"
                        "a = plan.startup.budget_seconds // period\n"
                        "b = startup_failure_threshold(budget, 10)\n"
                        "c = math_.scale_up_stabilization_seconds(budget)\n"
                        "d = f'{x}' + args.plan.layout.describe()\n"
                        "from planning.load import load_stack\n"
                        "e = load_stack(name)\n")
    assert plan_arithmetic(derived) == ["3: plan.startup.budget_seconds // period"]
    renamed = ast.parse("def probes(start: Startup, traffic: 'Optional[TrafficPlan]', n: int):\n"
                        "    failures = start.budget_seconds\n"
                        "    grace = traffic.edge_timeout_seconds\n"
                        "    args = ['--x', str(failures)]\n"
                        "    return failures // 10, grace + 15, args + extra, n * 2\n")
    assert plan_arithmetic(renamed) == ["5: failures // 10", "5: grace + 15"]
    assert planning_function_calls(derived) == [
        "4: startup_failure_threshold(budget, 10)",
        "5: math_.scale_up_stabilization_seconds(budget)"]
