"""Shared fixtures: one mock run per real stack file, reused by every test that reads it."""

import pytest

from tests.harness import ROOT, run_stack


def stack_names() -> tuple[str, ...]:
    """Every stack with a `Pulumi.<stack>.yaml` beside Pulumi.yaml, so a stack added as the
    README's "Adding a stack" says is tested without editing any test."""
    return tuple(sorted(path.name[len("Pulumi."):-len(".yaml")]
                        for path in ROOT.glob("Pulumi.*.yaml")))


STACKS = stack_names()


@pytest.fixture(scope="session")
def runs():
    """{stack: Run} for every real stack file, run once per test session."""
    results = {stack: run_stack(stack) for stack in STACKS}
    for stack, run in results.items():
        assert run.error is None, f"{stack} failed: {run.error}"
    return results


@pytest.fixture(params=STACKS)
def run(request, runs):
    """Each real stack's run in turn."""
    return runs[request.param]
