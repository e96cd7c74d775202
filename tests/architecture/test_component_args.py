"""A component is handed whole rendered objects, names and Pulumi inputs, never the stack's config
or its plan (issue 17: "components never import config or planning"): whatever wiring/ builds for
a component, on every stack, holds no config model and no plan object."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect

import pulumi
import pydantic
import pytest

from tests.conftest import STACKS
from tests.harness import ROOT, run_stack

VARIANTS = [(stack, {}) for stack in STACKS] + [
    ("prod", {"traffic": {"router": {"redis": None}}}),
    ("prod", {"image": {"build": True, "registry": "registry.example.com/ml"}}),
]


def config_or_plan(value, path: str = "args") -> list[str]:
    """Paths inside `value` that hold a pydantic model or an object of a planning/ class."""
    if isinstance(value, pulumi.Output):
        return []
    if isinstance(value, pydantic.BaseModel) or type(value).__module__.startswith("planning"):
        return [f"{path}: {type(value).__module__}.{type(value).__name__}"]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [bad for field in dataclasses.fields(value)
                for bad in config_or_plan(getattr(value, field.name), f"{path}.{field.name}")]
    if isinstance(value, dict):
        return [bad for key, item in value.items() for bad in config_or_plan(item, f"{path}[{key!r}]")]
    if isinstance(value, (list, tuple)):
        return [bad for i, item in enumerate(value) for bad in config_or_plan(item, f"{path}[{i}]")]
    return []


def _record_wiring(monkeypatch) -> dict[str, list]:
    """Wrap every public function of wiring/; returns {function: [what it returned]}."""
    built: dict[str, list] = {}
    for path in sorted((ROOT / "wiring").glob("*.py")):
        module = importlib.import_module(f"wiring.{path.stem}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_"):
                continue

            @functools.wraps(function)
            def recorded(*args, _function=function, _key=f"{module.__name__}.{name}", **kwargs):
                result = _function(*args, **kwargs)
                built.setdefault(_key, []).append(result)
                return result
            monkeypatch.setattr(module, name, recorded)
    return built


@pytest.mark.parametrize("stack,override", VARIANTS, ids=lambda v: str(v) if v else "as filed")
def test_what_wiring_hands_a_component_holds_no_config_or_plan(stack, override, monkeypatch):
    built = _record_wiring(monkeypatch)
    run = run_stack(stack, override)
    assert run.error is None, run.error
    args = {name: results for name, results in built.items() if name.endswith("_args")}
    assert args, "no component args were built through wiring/"
    offences = [bad for name, results in args.items() for result in results
                for bad in config_or_plan(result, name)]
    assert offences == []
