"""pytest plugin for mutmut 3's stats run only (a no-op otherwise).

mutmut maps each mutated function to the tests that call it by clearing its hit set at every
test's teardown. Work done once for many tests -- session/module/class-scoped fixtures
(tests/conftest.py `runs`: both stacks under Pulumi mocks) and module-level code run at
collection -- would be credited to the first test only, so mutants in code reached only
through such a fixture would be checked against that one test. This plugin records the hits
of each higher-scoped fixture setup and of each test module's import, and credits them to
every test that uses that fixture or lives in that module.
"""

import os

import pytest

_fixture_hits: dict[int, set[str]] = {}
_module_hits: dict[str, set[str]] = {}


def _active() -> bool:
    return os.environ.get("MUTANT_UNDER_TEST") == "stats"


def _stats() -> set[str]:
    from mutmut.state import state
    return state()._stats


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    if not _active() or fixturedef.scope == "function":
        yield
        return
    stats = _stats()
    saved = set(stats)
    stats.clear()
    try:
        yield
    finally:
        _fixture_hits.setdefault(id(fixturedef), set()).update(stats)
        stats.update(saved)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    if not _active() or not isinstance(collector, pytest.Module):
        yield
        return
    stats = _stats()
    saved = set(stats)
    stats.clear()
    try:
        yield
    finally:
        _module_hits.setdefault(collector.nodeid, set()).update(stats)
        stats.clear()
        stats.update(saved)


def pytest_collection_finish(session):
    if _active():
        _stats().clear()  # what collection hit is credited per module, not to the first test


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    if not _active():
        return
    stats = _stats()
    module = item.nodeid.split("::", 1)[0]
    stats.update(_module_hits.get(module, ()))
    for defs in item._fixtureinfo.name2fixturedefs.values():
        for fixturedef in defs:
            stats.update(_fixture_hits.get(id(fixturedef), ()))


def _mutant_run() -> bool:
    return os.environ.get("MUTANT_UNDER_TEST", "") not in ("", "stats", "fail", "mutant_generation")


def pytest_collection_modifyitems(session, config, items):
    """In a mutant's run only (verdicts unchanged: mutmut runs with -x and any failure kills):
    cheap tests first, whole modules kept together so module fixtures are set up once."""
    if not _mutant_run():
        return
    import json
    try:
        with open("mutmut-stats.json") as f:
            duration = json.load(f)["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    by_module: dict[str, list] = {}
    for item in items:
        by_module.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def heavy(item) -> bool:
        return any(d.scope != "function" for defs in item._fixtureinfo.name2fixturedefs.values()
                   for d in defs)

    def module_key(module: str):
        group = by_module[module]
        return (any(heavy(i) for i in group), sum(duration.get(i.nodeid, 0.0) for i in group))

    items[:] = [item for module in sorted(by_module, key=module_key)
                for item in sorted(by_module[module], key=lambda i: duration.get(i.nodeid, 0.0))]
