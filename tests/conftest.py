"""Shared fixtures: one mock run per real stack file, reused by every test that reads it."""

import pytest

from tests.harness import run_stack

STACKS = ("staging", "prod", "r1-h100")


@pytest.fixture(scope="session")
def runs():
    """{stack: Run} for both real stack files, run once per test session."""
    results = {stack: run_stack(stack) for stack in STACKS}
    for stack, run in results.items():
        assert run.error is None, f"{stack} failed: {run.error}"
    return results


@pytest.fixture(params=STACKS)
def run(request, runs):
    """Each real stack's run in turn."""
    return runs[request.param]
