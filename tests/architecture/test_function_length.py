"""No function outside the tests is over 60 lines (issue 17, "Done when"): a longer one is doing
two things and is split into named pieces, the way `planning/checks.py` is a list of small
checks. The length is `end_lineno - lineno + 1` of its `def` (decorators not counted)."""

from __future__ import annotations

import ast
import pathlib

from tests.architecture.program import program_modules
from tests.harness import ROOT

MAX_LINES = 60

def function_lengths(path: pathlib.Path) -> dict[str, int]:
    """{"file:Class.function": lines} for every function and method of one module."""
    relative = path.relative_to(ROOT).as_posix()
    lengths = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                lengths[f"{relative}:{name}"] = child.end_lineno - child.lineno + 1
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(), filename=relative), "")
    return lengths


def all_function_lengths() -> dict[str, int]:
    return {name: length for module in program_modules()
            for name, length in function_lengths(module).items()}


def test_the_walk_finds_every_package_of_the_program():
    packages = {m.relative_to(ROOT).parts[0] for m in program_modules()}
    assert {"planning", "facts", "rendering", "components", "wiring", "policy", "tools",
            "benchmark", "router", "__main__.py"} <= packages
    assert not packages & {"tests", "venv", ".git"}


def test_no_function_outside_the_tests_is_over_60_lines():
    too_long = {name: length for name, length in all_function_lengths().items()
                if length > MAX_LINES}
    assert too_long == {}, "split these into named pieces (file:function: lines): " + ", ".join(
        f"{name}: {length}" for name, length in sorted(too_long.items()))
