"""Staging's blue-green switch through the real router (issue 21, item 3): LiteLLM 1.108.7
started from the very files staging renders in each phase (tests/blue_green.py), each slot's
Service address pointed at a stub engine of its own. Phase 1 sends every request to blue (the
old revision) and, once blue fails, to green (both sit at order 1); phase 2 every request to
green."""

from __future__ import annotations

import copy
import subprocess
import time

import pytest
import requests
import yaml

from planning.traffic import LITELLM_VERSION
from rendering import router as render
from tests import tools as real_tools
from tests.blue_green import PHASE_1, PHASE_2
from tests.harness import run_stack
from tests.openai_stub import StubUpstream
from tests.router.live import (CLOUD_KEY, ENGINE_KEY, LITELLM, MASTER_KEY, RecordingProxy,
                               _router_files, _tool, _wait_live, launch_router, router_inputs)

REQUESTS = 24
LOCAL_ONLY = "deepseek-r1-7b"


def _slot_upstreams(config: dict, slots: dict[str, StubUpstream], cloud: StubUpstream) -> None:
    """Each engine deployment to its slot's stub (by the Service name in its api_base), every
    cloud deployment to the cloud stub."""
    for deployment in config["model_list"]:
        params = deployment["litellm_params"]
        if not params["model"].startswith("hosted_vllm/"):
            params["api_base"] = cloud.base_url
            continue
        slot = "green" if "-green." in params["api_base"] else "blue"
        params["api_base"] = slots[slot].base_url


@pytest.fixture(scope="module")
def start_router(tmp_path_factory):
    """A router for a phase's overlay, with its own blue, green and cloud stubs; stopped at the
    module's end."""
    real_tools.router_venv()
    litellm = _tool(LITELLM, f".venv-router/bin/pip install 'litellm[proxy]=={LITELLM_VERSION}'")
    started, proxy = [], RecordingProxy()

    def start(overlay: dict) -> dict:
        run = run_stack("staging", overlay)
        assert run.error is None, run.error
        files, pod = _router_files(run)
        slots = {name: StubUpstream(name).start() for name in ("blue", "green")}
        cloud = StubUpstream("cloud").start()
        config = copy.deepcopy(yaml.safe_load(files["config.yaml"]))
        _slot_upstreams(config, slots, cloud)
        secrets = {render.MASTER_KEY_ENV: MASTER_KEY, render.ENGINE_KEY_ENV: ENGINE_KEY,
                   render.provider_key_env("cloud"): CLOUD_KEY}
        tmp = tmp_path_factory.mktemp("blue-green-router")
        args, env, keys = router_inputs(files, pod, config, tmp, secrets, proxy.port)
        router = launch_router(litellm, args, env, tmp, "router")
        started.append((router, [*slots.values(), cloud]))
        _wait_live([router], time.monotonic())
        return {"url": router["url"], "keys": keys, "slots": slots, "cloud": cloud}

    yield start
    for router, stubs in started:
        router["process"].terminate()
        try:
            router["process"].wait(timeout=15)
        except subprocess.TimeoutExpired:
            router["process"].kill()
        for stub in stubs:
            stub.stop()


def _post(router: dict) -> requests.Response:
    return requests.post(
        router["url"] + "/v1/chat/completions", timeout=60,
        headers={"Authorization": f"Bearer {router['keys']['staging-tests']}"},
        json={"model": LOCAL_ONLY, "messages": [{"role": "user", "content": "hi"}]})


def _send(router: dict, count: int = REQUESTS) -> None:
    for _ in range(count):
        response = _post(router)
        assert response.status_code == 200, response.text


def _answered(router: dict) -> dict[str, int]:
    return {name: len(stub.requests) for name, stub in router["slots"].items()}


def test_phase_1_sends_every_request_to_the_old_slot_and_the_new_one_stands_by(start_router):
    """Blue (weight 100) answers everything; once it fails, LiteLLM cools it down and green
    (weight 0, the same order) answers: simple-shuffle falls back to `random.choice` of the
    healthy deployments when no healthy one has a weight."""
    router = start_router(PHASE_1)
    _send(router)
    assert _answered(router) == {"blue": REQUESTS, "green": 0}
    router["slots"]["blue"].status = 500
    codes = [_post(router).status_code for _ in range(REQUESTS)]
    assert codes[-REQUESTS // 2:] == [200] * (REQUESTS // 2), codes
    assert _answered(router)["green"] >= REQUESTS // 2


def test_phase_2_sends_every_request_to_the_new_slot(start_router):
    router = start_router(PHASE_2)
    _send(router)
    assert _answered(router) == {"blue": 0, "green": REQUESTS}
