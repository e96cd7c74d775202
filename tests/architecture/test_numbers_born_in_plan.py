"""A derived number is born in planning/ and only read elsewhere: rendering and components take
the plan's figures as they are, so a formula and its printed reason cannot drift apart (issue
17, "the plan is the only place a number is born")."""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib

import pytest

from tests.harness import ROOT

READERS = ("rendering", "components")
ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def _modules() -> list[pathlib.Path]:
    return sorted(path for package in READERS for path in (ROOT / package).glob("*.py"))


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant)
                                               and isinstance(node.value, str))


def _reads_plan(node: ast.AST) -> bool:
    """True when `node` reads a plan attribute: plan.x…, or something.plan.x…."""
    for inner in ast.walk(node):
        chain, root = [], inner
        while isinstance(root, ast.Attribute):
            chain.append(root.attr)
            root = root.value
        if chain and isinstance(root, ast.Name) and (root.id == "plan" or "plan" in chain[1:]):
            return True
    return False


def plan_arithmetic(tree: ast.AST) -> list[str]:
    """Arithmetic (not text concatenation) with a plan figure as an operand."""
    return [f"{node.lineno}: {ast.unparse(node)}" for node in ast.walk(tree)
            if isinstance(node, ast.BinOp) and isinstance(node.op, ARITHMETIC)
            and not (_is_text(node.left) or _is_text(node.right))
            and (_reads_plan(node.left) or _reads_plan(node.right))]


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
                elif inspect.isfunction(value):
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


@pytest.mark.parametrize("path", _modules(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_rendering_and_components_read_plan_figures_and_derive_none(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert plan_arithmetic(tree) + planning_function_calls(tree) == []


def test_the_scan_finds_a_figure_computed_from_the_plan():
    """The checks above can fail: each recognises the shape it forbids."""
    derived = ast.parse("from planning.sizing import startup_failure_threshold\n"
                        "from planning import scaling as math_\n"
                        "a = plan.startup.budget_seconds // period\n"
                        "b = startup_failure_threshold(budget, 10)\n"
                        "c = math_.scale_up_stabilization_seconds(budget)\n"
                        "d = f'{x}' + args.plan.layout.describe()\n")
    assert plan_arithmetic(derived) == ["3: plan.startup.budget_seconds // period"]
    assert planning_function_calls(derived) == [
        "4: startup_failure_threshold(budget, 10)",
        "5: math_.scale_up_stabilization_seconds(budget)"]
