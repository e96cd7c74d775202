"""Run the Pulumi program (or one component) under mocks, the way the CLI would.

The runner lives in `tools/mockrun.py` (shared with `python -m tools.render`); this module
keeps the names the tests import.

`run_stack("prod")` loads Pulumi.yaml's declared defaults and Pulumi.prod.yaml's values (as the
CLI hands them to the program: strings, with objects and numbers as JSON text), runs
__main__.py with `preview=False` mocks, and returns every registered resource with its inputs.
`render_component(build, outputs)` does the same for a single component.
"""

from typing import Any, Callable

import pulumi

from tools.mockrun import (  # noqa: F401  (re-exported for the tests)
    FAKE_API_KEY,
    FAKE_DIGEST,
    PROJECT,
    ROOT,
    Resource,
    Run,
    deep_merge,
    run_program,
    run_stack,
    run_under_mocks,
    stack_config,
)

__all__ = ["FAKE_API_KEY", "FAKE_DIGEST", "PROJECT", "ROOT", "Resource", "Run", "deep_merge",
           "render_component", "run_program", "run_stack", "run_under_mocks", "stack_config"]


def render_component(
    build: Callable[[], pulumi.ComponentResource], output_names: tuple[str, ...]
) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """Create a component under mocks; return its resources by kind (inputs camelCase, numbers
    as floats) and the named outputs' values."""
    outputs: dict[str, Any] = {}

    def program() -> None:
        component = build()
        for name in output_names:
            getattr(component, name).apply(lambda v, name=name: outputs.__setitem__(name, v))

    run = run_under_mocks(program)
    if run.error is not None:
        raise run.error
    by_kind: dict[str, list[dict]] = {}
    for resource in run.resources:
        by_kind.setdefault(resource.kind, []).append({"name": resource.name, **resource.inputs})
    return by_kind, outputs


def assert_refused_before_any_resource(stack: str, override: dict, expected: list[str]) -> str:
    """Run `stack` with `override`: it must stop as `pulumi preview` would on bad config — a
    plain RunError (no traceback) that opens with the config banner and holds every fragment of
    `expected` — with nothing created. Returns the message."""
    run = run_stack(stack, override)
    assert isinstance(run.error, pulumi.RunError), run.error
    message = str(run.error)
    assert message.startswith("The stack configuration is invalid; nothing was created.")
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "Traceback" not in message
    assert run.resources == []
    return message
