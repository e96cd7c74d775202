"""Model-family special cases are facts (issue 17): DeepSeek-V4's cache, MLA, the MXFP4 and
FP4/FP8 checkpoints are named once in facts/model_families.py, with a source and a predicate
that planning, rendering and the policy read; no module outside facts/ spells a family or
compares an attention kind itself."""

from __future__ import annotations

import ast
import pathlib

from facts import model_families
from tests.architecture.program import outside
from tests.harness import ROOT

FAMILIES = frozenset({model_families.GQA, model_families.MLA, model_families.DEEPSEEK_V4,
                      model_families.MXFP4, model_families.FP4_FP8})


def family_literals(tree: ast.AST) -> list[str]:
    """String constants that are exactly a family's name, by line."""
    return [f"{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and node.value in FAMILIES]


def _reads_attention_kind(node: ast.AST) -> bool:
    """`<…attention…>["kind"]` or `<…attention…>.get("kind")`."""
    if isinstance(node, ast.Subscript):
        owner, key = node.value, node.slice
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "get" and node.args:
        owner, key = node.func.value, node.args[0]
    else:
        return False
    return (isinstance(key, ast.Constant) and key.value == "kind"
            and "attention" in ast.unparse(owner).lower())


def attention_kind_comparisons(tree: ast.AST) -> list[str]:
    return [f"{node.lineno}: {ast.unparse(node)}" for node in ast.walk(tree)
            if isinstance(node, ast.Compare)
            and any(_reads_attention_kind(side) for side in (node.left, *node.comparators))]


def _offences(find) -> dict[str, list[str]]:
    found = {str(path.relative_to(ROOT)): find(ast.parse(path.read_text()))
             for path in outside("facts")}
    return {path: lines for path, lines in found.items() if lines}


def test_no_module_outside_facts_spells_a_model_family():
    assert _offences(family_literals) == {}


def test_no_module_outside_facts_compares_an_attention_kind():
    assert _offences(attention_kind_comparisons) == {}


def test_the_finders_see_what_they_forbid():
    """Each finder catches the line it exists for (so an empty answer above means something)."""
    written = ast.parse('if model.attention["kind"] == "deepseek_v4": x = f"{n} MLA cache"\n'
                        'y = attention.get("kind") != kind\n')
    assert family_literals(written) == ["1: 'deepseek_v4'"]
    assert attention_kind_comparisons(written) == [
        "1: model.attention['kind'] == 'deepseek_v4'", "2: attention.get('kind') != kind"]


def test_every_family_fact_has_a_predicate_and_a_source():
    """A family constant is read through an `is_…`/`…` predicate of facts/model_families.py and
    documented where it is defined (its docstring names where vLLM does it)."""
    source = pathlib.Path(model_families.__file__).read_text()
    tree = ast.parse(source)
    predicates = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    for constant in ("GQA", "MLA", "DEEPSEEK_V4", "MXFP4"):
        assert any(constant in ast.unparse(function) for function in predicates), constant
    documented = {target.id for node, after in zip(tree.body, tree.body[1:])
                  if isinstance(node, ast.Assign) and isinstance(after, ast.Expr)
                  and isinstance(after.value, ast.Constant) for target in node.targets
                  if isinstance(target, ast.Name)}
    assert {"GQA", "MLA", "DEEPSEEK_V4", "MXFP4", "FP4_FP8"} <= documented
