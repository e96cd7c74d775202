"""Staging's engine at zero (issue 21, item 1): the real LiteLLM proxy started from the very
files staging renders, with NO engine listening (the engine's address points at a closed port)
and a stub cloud. The fallback alias is answered by the cloud, the local-only alias answers 503
with Retry-After = the plan's wake time, and the router's request counter that wakes the engine
(rendering/promql.py ROUTER_REQUESTS_SERIES) moves for both, with the alias as
requested_model: a cloud-answered or refused request still wakes the engine."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import time

import pytest
import requests
import yaml

from planning import traffic as traffic_plan
from planning.config import parse
from planning.plan import make_plan
from planning.stack_files import stack_values
from planning.traffic import LITELLM_VERSION
from rendering import promql
from rendering import router as render
from tests import tools as real_tools
from tests.harness import run_stack
from tests.openai_stub import StubUpstream, free_port
from tests.router.live import (CLOUD_KEY, ENGINE_KEY, LITELLM, MASTER_KEY,
                                           RecordingProxy, _router_files, _tool, _wait_live,
                                           launch_router, router_inputs)


@pytest.fixture(scope="module")
def staging_router(tmp_path_factory):
    """One router from staging's rendered config; the engine down, the cloud a stub."""
    real_tools.router_venv()
    litellm = _tool(LITELLM, f".venv-router/bin/pip install 'litellm[proxy]=={LITELLM_VERSION}'")
    run = run_stack("staging")
    assert run.error is None, run.error
    files, pod = _router_files(run)
    tmp = tmp_path_factory.mktemp("staging-router")
    cloud = StubUpstream("cloud").start()
    proxy = RecordingProxy()
    engine_port = free_port()          # nothing listens: the engine is at zero
    config = copy.deepcopy(yaml.safe_load(files["config.yaml"]))
    assert "coordination_redis" not in config["general_settings"]
    for deployment in config["model_list"]:
        params = deployment["litellm_params"]
        params["api_base"] = (f"http://127.0.0.1:{engine_port}/v1"
                              if params["model"].startswith("hosted_vllm/") else cloud.base_url)
    secrets = {render.MASTER_KEY_ENV: MASTER_KEY, render.ENGINE_KEY_ENV: ENGINE_KEY,
               render.provider_key_env("cloud"): CLOUD_KEY}
    args, env, keys = router_inputs(files, pod, config, tmp, secrets, proxy.port)
    router = launch_router(litellm, args, env, tmp, "staging-router")
    try:
        _wait_live([router], time.monotonic())
        yield {"url": router["url"], "keys": keys, "cloud": cloud, "files": files,
               "log": router["log"]}
    finally:
        router["process"].terminate()
        try:
            router["process"].wait(timeout=15)
        except subprocess.TimeoutExpired:
            router["process"].kill()
        cloud.stop()


def _chat(router: dict, model: str, **body) -> requests.Response:
    key = router["keys"]["staging-tests"]
    return requests.post(router["url"] + "/v1/chat/completions", timeout=60,
                         headers={"Authorization": f"Bearer {key}"},
                         json={"model": model, "messages": [{"role": "user", "content": "hi"}],
                               **body})


def _requests_counted(router: dict, alias: str) -> float:
    """The router's request counter for `alias`, summed over its label sets."""
    text = requests.get(router["url"] + "/metrics", timeout=10).text
    pattern = re.compile(rf'^{promql.ROUTER_REQUESTS_SERIES}\{{[^}}]*requested_model="'
                         rf'{re.escape(alias)}"[^}}]*\}} (\S+)$', re.M)
    return sum(float(value) for value in pattern.findall(text))


def test_the_staging_plan_gives_the_wake_time_to_the_router():
    cfg = parse(stack_values("staging"))
    plan = make_plan(cfg)
    assert plan.wake is not None
    assert plan.traffic.engine_retry_after_seconds == plan.wake.wake_seconds


def test_engine_at_zero_the_fallback_alias_is_answered_by_the_cloud(staging_router):
    before = _requests_counted(staging_router, "internal-default")
    staging_router["cloud"].reset()
    response = _chat(staging_router, "internal-default")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].startswith("cloud0 ")
    assert staging_router["cloud"].requests[-1].body["model"] == "gpt-5.5"
    # The cloud answered, and the counter that wakes the engine still moved.
    assert _wait_for_count(staging_router, "internal-default", before + 1)


def test_engine_at_zero_the_local_only_alias_is_503_with_retry_after_the_wake_time(
        staging_router):
    plan = make_plan(parse(stack_values("staging")))
    before = _requests_counted(staging_router, "deepseek-r1-7b")
    response = _chat(staging_router, "deepseek-r1-7b")
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == str(plan.wake.wake_seconds)
    assert json.loads(staging_router["files"]["clients.json"])["engineRetryAfterSeconds"] == \
        plan.wake.wake_seconds
    # Refused, and counted: the refusal wakes the engine too.
    assert _wait_for_count(staging_router, "deepseek-r1-7b", before + 1)


def _wait_for_count(router: dict, alias: str, at_least: float) -> bool:
    """The counter is incremented by LiteLLM's logging callbacks after the answer is sent:
    poll /metrics for up to 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _requests_counted(router, alias) >= at_least:
            return True
        time.sleep(0.2)
    return False
