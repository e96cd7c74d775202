"""`__main__.py` only wires: config → plan → names → components → exports. It derives no
number and no name and spells no literal figure; those live in planning/ and rendering/."""

from __future__ import annotations

import ast

from tests.harness import ROOT

MAIN = ROOT / "__main__.py"
NAME_MAKERS = {"release_name", "workload_name", "common_labels", "router_labels",
               "hpa_name_for", "model_directory", "selector_of", "server_args", "workload"}
"""Functions that derive a shared name, label set or the vLLM arguments (rendering/naming.py
calls them, once)."""


def test_the_composition_root_is_under_60_lines():
    assert len(MAIN.read_text().splitlines()) < 60


def test_the_composition_root_has_no_arithmetic_and_no_numeric_literal():
    tree = ast.parse(MAIN.read_text())
    arithmetic = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.BinOp)]
    numbers = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
               and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)]
    assert (arithmetic, numbers) == ([], [])


def test_the_composition_root_derives_no_name():
    tree = ast.parse(MAIN.read_text())
    called = {n.func.id if isinstance(n.func, ast.Name) else n.func.attr
              for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, (ast.Name, ast.Attribute))}
    assert called & NAME_MAKERS == set()
