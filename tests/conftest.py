"""Shared fixtures: one mock run per real stack file, reused by every test that reads it; and
the suite's two tiers (PROCESS_TIER)."""

import pytest

from tests.harness import ROOT, run_stack


def stack_names() -> tuple[str, ...]:
    """Every stack with a `Pulumi.<stack>.yaml` beside Pulumi.yaml, so a stack added as the
    README's "Adding a stack" says is tested without editing any test."""
    return tuple(sorted(path.name[len("Pulumi."):-len(".yaml")]
                        for path in ROOT.glob("Pulumi.*.yaml")))


STACKS = stack_names()

SLOW_MODULES = frozenset({
    # Runs the program once for every mutated leaf of every stack file (about a thousand runs,
    # a fifth of the unit tier's time): it starts no process, but goes with the slow tier.
    "tests/planning/test_config_property.py",
})
PROCESS_TIER = SLOW_MODULES | frozenset({
    "tests/components/test_multinode_drain.py",       # drain scripts under sh, a rendezvous store
    "tests/policy/test_policy_offline_input.py",      # python -m tools.render
    "tests/policy/test_policy_pack_standalone.py",    # the pack booted as Pulumi runs it
    "tests/rendering/test_download_script.py",        # the download script against a fake hub
    "tests/rendering/test_edge_envoy.py",             # Envoy
    "tests/rendering/test_admission_alert.py",        # promtool
    "tests/rendering/test_capacity_wait_alert.py",    # promtool
    "tests/rendering/test_alerting.py",               # amtool
    "tests/rendering/test_logging_config.py",         # python-json-logger in its venv
    "tests/rendering/test_node_cache_staging.py",     # the staging script under sh, HTTPS
    "tests/rendering/test_object_store_streamer.py",  # runai-model-streamer, moto's S3 server
    "tests/rendering/test_promtool.py",               # promtool
    "tests/rendering/test_scale_to_zero.py",          # promtool
    "tests/rendering/test_redis_alert.py",            # promtool
    "tests/rendering/test_weights_revision.py",       # the revision check under sh
    "tests/router/test_blue_green_live.py",           # LiteLLM, stub engines per slot
    "tests/router/test_redis.py",                     # redis-server, LiteLLM, checkov
    "tests/router/test_router_json_logs.py",          # LiteLLM
    "tests/router/test_router_live.py",               # LiteLLM, redis-server, stub upstreams
    "tests/router/test_scale_to_zero_live.py",        # LiteLLM, stub upstreams
    "tests/stacks/test_checkov.py",                   # checkov
    "tests/stacks/test_multinode_launch_scripts.py",  # the launch scripts under sh
    "tests/stacks/test_render_cli.py",                # python -m tools.render
    "tests/tooling/test_dockerfile.py",               # hadolint
    "tests/tooling/test_model_image_tool.py",         # hadolint, sha256sum
    "tests/tooling/test_router_benchmark.py",         # the real router against a stub engine
    "tests/tooling/test_tools_bootstrap.py",          # tests/tools.py's venv and apt steps
})
"""Test modules that start real processes or servers, and SLOW_MODULES: their tests carry the
`process` marker (registered in pyproject.toml), so `pytest -m "not process"` is the quick unit
tier and `pytest -m process` the rest; plain `pytest` runs both. A module that starts a process
and is not listed here fails tests/architecture/test_tests_layout.py."""


@pytest.hookimpl(tryfirst=True)   # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.relative_to(ROOT).as_posix() in PROCESS_TIER:
            item.add_marker(pytest.mark.process)


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
