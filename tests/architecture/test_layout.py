"""The layout shows the architecture: data flows one way, facts → planning → rendering →
components → __main__.py, with the policy pack beside, reading only facts."""

import ast
import pathlib

import pytest

from tests.harness import ROOT

LAYERS = ("facts", "planning", "rendering", "components")
MAY_IMPORT = {
    "facts": set(),
    "planning": {"facts"},
    "rendering": {"facts", "planning"},
    "components": {"facts", "rendering"},
    "wiring": {"facts", "planning", "rendering", "components"},
    "policy": {"facts", "policy"},
}
PROJECT_PACKAGES = set(LAYERS) | {"wiring", "policy", "tools", "benchmark", "tests"}


def project_imports(path: pathlib.Path) -> set[str]:
    """Top-level project packages a module imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & PROJECT_PACKAGES


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_each_layer_imports_only_the_layers_beneath_it(package):
    modules = sorted((ROOT / package).rglob("*.py"))   # sub-packages too (planning/config/)
    assert modules, f"{package}/ has no modules"
    offences = {str(m.relative_to(ROOT)): sorted(project_imports(m) - MAY_IMPORT[package] - {package})
                for m in modules}
    assert {m: bad for m, bad in offences.items() if bad} == {}


def test_components_hold_only_component_resources():
    """Every public class in components/ is a ComponentResource or its args; no pure helpers
    beyond small ones that build that component's own objects."""
    for module in sorted((ROOT / "components").glob("*.py")):
        tree = ast.parse(module.read_text())
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
        components = [c for c in classes if any(
            ast.unparse(base) == "pulumi.ComponentResource" for base in c.bases)]
        if module.name == "__init__.py":
            assert not classes
            continue
        assert components, f"{module.name} defines no ComponentResource"
        others = [c.name for c in classes if c not in components and not c.name.endswith("Args")]
        assert others == [], f"{module.name}: non-component classes {others}"


def module_graph() -> dict[str, set[str]]:
    """{module: project modules it imports} over every layer and the policy pack."""
    graph = {}
    for package in MAY_IMPORT:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            targets = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    base = node.module
                    targets |= {f"{base}.{a.name}" for a in node.names} | {base}
                elif isinstance(node, ast.Import):
                    targets |= {a.name for a in node.names}
            graph[name] = targets
    return {name: {t for t in targets if t in graph and t != name}
            for name, targets in graph.items()}


def test_no_import_cycle():
    graph, state, cycles = module_graph(), {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_make_plan_reads_as_a_list_of_steps():
    tree = ast.parse((ROOT / "planning" / "plan.py").read_text())
    make_plan = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "make_plan")
    assert make_plan.end_lineno - make_plan.lineno + 1 <= 60


def test_only_facts_compares_vllm_versions():
    """Every version switch lives in facts/vllm_features.py: no other module compares a
    version with a literal release tuple."""
    import re
    pattern = re.compile(r"(version\w*|\))\s*[<>]=?\s*\(\d+, \d+, \d+\)")
    offenders = [str(path.relative_to(ROOT)) for package in ("planning", "rendering", "components")
                 for path in (ROOT / package).rglob("*.py") if pattern.search(path.read_text())]
    assert offenders == []


def test_every_module_mutmut_mutates_exists():
    """pyproject.toml's `only_mutate` names files by path: a module that moved (planning/config.py
    became the planning/config/ package) must move there too, or mutmut silently skips it."""
    import tomllib
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]["only_mutate"]
    assert [path for path in listed if not (ROOT / path).is_file()] == []
