"""Property: every leaf of every stack file, mutated, is either refused cleanly before any
resource exists (a ConfigError naming the key, printed as a plain message) or accepted with a
value the whole program renders under the mocks.

Mutations per leaf: wrong type (a list, a mapping, a boolean), negative, huge (10^12), empty,
a nonsense string, and a number written as a string. Stacks are every `Pulumi.<stack>.yaml`.
What each must do:

- wrong type: refused (pydantic's lax mode would read `true` as 1);
- a number written as a string: accepted as the same config (`pulumi config set --path`
  writes strings);
- huge: refused, except where HUGE_IS_HARMLESS says why not;
- anything accepted renders, every number in every rendered Kubernetes object fits the API's
  int32 and is not negative, and every built-in object the mutation changed passes
  kubernetes-validate (strict) for the newest release it knows;
- anything refused: a `ConfigError` naming the key, no traceback, no resource; never another
  exception.

Cost (measured): ~700 mutations, about 3 ms each to validate, and a full mock run (0.1-0.2 s)
only for the few accepted ones that change the config.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any, Iterator

import pulumi
import pytest

from planning import config
from tests.conftest import STACKS
from tests.harness import run_program, run_stack, stack_config
from tests.manifest_checks import NEWEST_VERSION, builtin_problems, is_builtin
from tools import render
from tools.mockrun import cluster_config

Path = tuple[Any, ...]
REFUSAL = "The stack configuration is invalid; nothing was created."
INT32_MAX = 2**31 - 1
KINDS = ("a list", "a mapping", "a boolean", "negative", "huge", "empty", "nonsense",
         "as a string")
WRONG_TYPE = ("a list", "a mapping", "a boolean")
TEXT_KEYS = ("vllmVersion", "namespace")
"""Top-level keys the program reads as the CLI's text (planning/config/runtime.py from_pulumi_config):
`namespace: true` is the namespace "true", which Kubernetes accepts."""
HUGE_IS_HARMLESS = {
    "tokensPerMinute": "a router limit: 10^12 tokens a minute means no limit, which LiteLLM "
                       "counts in Python integers",
}


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, value) of every scalar (and every empty list or mapping) in a stack's config."""
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from leaves(inner, (*path, key))
    elif isinstance(value, list) and value:
        for index, inner in enumerate(value):
            yield from leaves(inner, (*path, index))
    else:
        yield path, value


def mutation(kind: str, value: Any) -> Any:
    """The mutated value, or None where the mutation does not apply to this leaf."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return {"a list": [value], "a mapping": {"value": value},
            "a boolean": None if isinstance(value, bool) else True,
            "negative": -1, "huge": 10**12, "empty": "", "nonsense": "§ not-a-value §",
            "as a string": str(value) if is_number else None}[kind]


def replaced(values: dict[str, Any], path: Path, new: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(values)
    target = mutated
    for piece in path[:-1]:
        target = target[piece]
    target[path[-1]] = new
    return mutated


def key_name(path: Path) -> str:
    """The config key as a message names it (`traffic.clients[0].name`)."""
    text = ""
    for piece in path:
        text += f"[{piece}]" if isinstance(piece, int) else (f".{piece}" if text else piece)
    return text


def parsed(values: dict[str, Any]) -> Any:
    """The validated config the program would see, or None when config refuses it."""
    try:
        return config.parse(json.loads(json.dumps(values)))
    except config.ConfigError:
        return None


@functools.cache
def original(stack: str) -> tuple[dict[str, Any], Any]:
    values = stack_config(stack)
    return values, parsed(values)


@functools.cache
def rendered(stack: str) -> tuple[str, ...]:
    """The stack's own objects as YAML, to tell which ones a mutation changed."""
    return tuple(render.render_run(run_stack(stack), stack).values())


def changed_builtin_problems(stack: str, run: Any) -> list[str]:
    """kubernetes-validate's findings on the built-in objects a mutation changed (custom
    resources are validated against their CRD schemas by tests/stacks/test_rendered_manifests.py)."""
    before = set(rendered(stack))
    return [problem for manifest in render.manifests(run)
            if render.to_yaml(manifest, stack) not in before
            and is_builtin(manifest.obj["apiVersion"], manifest.kind)
            for problem in builtin_problems(manifest.obj, NEWEST_VERSION)]


def numbers(value: Any) -> Iterator[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from numbers(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from numbers(inner)


def outcome(stack: str, path: Path, kind: str, new: Any) -> str | None:
    """What is wrong with how the program met this mutation, or None."""
    values, before = original(stack)
    mutated = replaced(values, path, new)
    after = parsed(mutated)
    if kind == "as a string":
        return None if after == before else "a number written as a string changed the config"
    if after is not None and after == before:
        return None
    last_key = next(piece for piece in reversed(path) if isinstance(piece, str))
    run = run_program(stack, {**mutated, **cluster_config(stack)})
    if run.error is None:
        if kind in WRONG_TYPE and path[0] not in TEXT_KEYS:
            return f"accepted {new!r} of the wrong type"
        if kind == "huge" and last_key not in HUGE_IS_HARMLESS and path[0] not in TEXT_KEYS:
            return "accepted 10^12"
        if not run.resources:
            return "accepted but rendered nothing"
        wild = [n for r in run.resources if r.type.startswith("kubernetes:")
                for n in numbers(r.inputs) if not 0 <= n <= INT32_MAX]
        if wild:
            return f"rendered numbers Kubernetes refuses: {wild[:3]}"
        invalid = changed_builtin_problems(stack, run)
        return f"rendered objects Kubernetes refuses: {invalid[:3]}" if invalid else None
    message = str(run.error)
    if not isinstance(run.error, pulumi.RunError) or not message.startswith(REFUSAL):
        return f"failed with {run.error!r}, not a config refusal"
    if run.resources or "Traceback" in message:
        return "refused after creating resources, or with a traceback"
    return None if last_key in message else f"refused without naming {last_key}: {message}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stack", STACKS)
def test_every_leaf_mutated_is_refused_naming_its_key_or_renders_a_valid_stack(stack, kind):
    values, before = original(stack)
    assert before is not None
    problems = []
    for path, value in leaves(values):
        new = mutation(kind, value)
        if new is not None:
            problem = outcome(stack, path, kind, new)
            if problem:
                problems.append(f"{key_name(path)} = {new!r}: {problem}")
    assert problems == []
