"""Fixtures of the router tests."""

from __future__ import annotations

import pytest

from tests.harness import run_stack


@pytest.fixture(scope="module")
def prod():
    """prod's rendered router: its ConfigMap's files and its pod spec."""
    run = run_stack("prod")
    assert run.error is None, run.error
    config_map = next(r for r in run.of_type("core/v1:ConfigMap")
                      if r.name.endswith("-router-config"))
    deployment = next(r for r in run.of_type("apps/v1:Deployment") if r.name.endswith("-router"))
    return config_map.inputs["data"], deployment.inputs["spec"]["template"]["spec"]
