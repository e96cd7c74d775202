"""The test suite's own shape: builders live in a folder's conftest.py or a shared helper at
tests/ top level, never in another test module, so each test module can be read, run and moved
on its own."""

import ast
import functools
import pathlib

from tests.conftest import PROCESS_TIER, SLOW_MODULES
from tests.harness import ROOT

TESTS = ROOT / "tests"

def imported_modules(tree: ast.AST, module: str) -> set[str]:
    """Dotted names of every module a file imports, `from package import name` counted as both
    `package` and `package.name` (the name may be a module); relative imports resolved against
    `module`, the file's own dotted name."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[:-node.level]
                base = ".".join(package + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found

def imports_of_test_modules(tests_root: pathlib.Path) -> dict[str, list[str]]:
    """{file: test modules it imports} for every Python file under `tests_root`."""
    offences = {}
    for path in sorted(tests_root.rglob("*.py")):
        relative = path.relative_to(tests_root.parent)
        module = ".".join(relative.with_suffix("").parts)
        imported = imported_modules(ast.parse(path.read_text()), module)
        tests = sorted(name for name in imported
                       if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_"))
        if tests:
            offences[str(relative)] = tests
    return offences

def test_no_test_module_imports_another_test_module():
    """Builders shared by several test modules live in their folder's conftest.py (imported as
    `tests.<folder>.conftest`) or in a helper at tests/ top level (harness.py, tools.py,
    manifest_checks.py, ...): a test module that imports another drags in its tests and breaks
    when that module is moved or split."""
    assert imports_of_test_modules(TESTS) == {}

def test_the_import_check_sees_every_spelling_of_an_import(tmp_path):
    tests = tmp_path / "tests"
    (tests / "policy").mkdir(parents=True)
    spellings = {
        "test_a.py": "from tests.policy.test_rules import deployment\n",
        "test_b.py": "import tests.policy.test_rules\n",
        "test_c.py": "from tests.policy import test_rules\n",
        "test_d.py": "from .test_rules import deployment\n",
        "test_e.py": "def f():\n    from tests.policy.test_rules import stack\n",
        "test_ok.py": "from tests.policy.conftest import deployment\nfrom tests import harness\n",
    }
    for name, text in spellings.items():
        (tests / "policy" / name).write_text(text)
    found = imports_of_test_modules(tests)
    assert sorted(found) == [f"tests/policy/test_{x}.py" for x in "abcde"]
    assert all(any(n.endswith("test_rules") for n in names) for names in found.values())


# --- the two tiers ----------------------------------------------------------------------------

PROCESS_MODULES = {"subprocess", "socket", "socketserver", "http.server", "multiprocessing",
                   "pty", "tests.tools", "tests.openai_stub", "benchmark.router"}
"""Importing one of these is how a test module starts a process or serves a socket: the
standard library's process and server modules, tests/tools.py (side venvs: LiteLLM, checkov,
Envoy; apt-installed promtool and redis-server), tests/openai_stub.py (an HTTP server) and
benchmark/router.py (the real router against a stub engine)."""
PROCESS_CALLS = {"os.system", "os.popen", "os.fork", "asyncio.create_subprocess_exec",
                 "asyncio.create_subprocess_shell"}
PROCESS_CALL_PREFIXES = ("os.exec", "os.spawn", "os.posix_spawn")


def starts_processes(path: pathlib.Path, module: str) -> list[str]:
    """What in a test module starts a process or a server: the process modules it imports and
    the process calls it makes (os.system, os.exec*, ...)."""
    tree = ast.parse(path.read_text())
    found = sorted(imported_modules(tree, module) & PROCESS_MODULES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = ast.unparse(node.func)
            if name in PROCESS_CALLS or name.startswith(PROCESS_CALL_PREFIXES):
                found.append(name)
    return found


@functools.cache
def process_modules(tests_root: pathlib.Path) -> dict[str, list[str]]:
    """{test module: what starts a process in it} for every test_*.py under `tests_root`."""
    found = {}
    for path in sorted(tests_root.rglob("test_*.py")):
        relative = path.relative_to(tests_root.parent)
        reasons = starts_processes(path, ".".join(relative.with_suffix("").parts))
        if reasons:
            found[relative.as_posix()] = reasons
    return found


def test_every_test_module_that_starts_a_process_is_in_the_process_tier():
    """The unit tier (`pytest -m "not process"`) starts nothing: a module that runs a real tool,
    a script or a server is listed in tests/conftest.py PROCESS_TIER, which marks its tests
    `process`."""
    missing = {module: reasons for module, reasons in process_modules(TESTS).items()
               if module not in PROCESS_TIER}
    assert missing == {}, ("add these modules to PROCESS_TIER in tests/conftest.py (or move "
                           f"their process-starting tests to a module that is): {missing}")


def test_the_process_tier_lists_only_modules_that_exist_and_start_processes():
    """A module that no longer starts anything leaves the process tier (unless it is one of the
    few named slow ones), so the quick unit command keeps every test it can run."""
    starting = process_modules(TESTS)
    assert sorted(PROCESS_TIER - set(starting) - SLOW_MODULES) == []
    assert all((ROOT / module).is_file() for module in SLOW_MODULES)


def test_the_tier_is_read_from_a_module_the_way_it_starts_processes(tmp_path):
    tests = tmp_path / "tests"
    (tests / "rendering").mkdir(parents=True)
    files = {
        "test_a.py": "import subprocess\n",
        "test_b.py": "from tests import tools as real_tools\n",
        "test_c.py": "def f():\n    import http.server\n",
        "test_d.py": "from http import server\n",
        "test_e.py": "import os\nos.system('sh -c true')\n",
        "test_f.py": "import os\nos.execvp('sh', ['sh'])\n",
        "test_g.py": "from tests.openai_stub import StubUpstream\n",
        "test_unit.py": "import os\nfrom tests.harness import run_stack\nos.environ.get('X')\n",
    }
    for name, text in files.items():
        (tests / "rendering" / name).write_text(text)
    found = process_modules(tests)
    assert sorted(found) == [f"tests/rendering/test_{x}.py" for x in "abcdefg"]


def test_the_process_marker_is_on_exactly_the_tests_of_the_process_tier(request):
    """tests/conftest.py marks each collected test of a PROCESS_TIER module `process`, and no
    other test (pyproject.toml registers the marker; --strict-markers refuses a misspelt one)."""
    for item in request.session.items:
        module = pathlib.Path(str(item.path)).relative_to(ROOT).as_posix()
        marked = item.get_closest_marker("process") is not None
        assert marked is (module in PROCESS_TIER), item.nodeid
