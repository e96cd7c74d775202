"""The real LiteLLM proxy, started with the very files prod renders, in front of two stub
upstreams ("local vLLM" and "cloud") and a real Redis.

The router's ConfigMap (config.yaml, clients.json, the auth module), its container args and
its environment are taken from a mock run of Pulumi.prod.yaml (plus one low-limit client for
the 429 test); only the upstream URLs and the Redis address are pointed at the test's servers,
the mount paths at temporary directories, and the Secret values at test values. Two router
processes run (prod has two replicas) and share their limit counters through `redis-server`.
Everything is started once for the module. Missing tools fail, never skip: `.ci/run` installs
`litellm[proxy]==1.108.7` into `.venv-router/` and Debian's `redis-server`.

Every outbound connection the routers try goes through a recording proxy (HTTPS_PROXY): the
start-up test proves they downloaded nothing.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import yaml

from planning.traffic import LITELLM_VERSION
from rendering import promql
from rendering import router as render
from tests.harness import ROOT, Run, run_stack, stack_config
from tests import tools as real_tools
from tests.openai_stub import StubUpstream, free_port

from tests.router.live import (  # noqa: F401 - the launch pieces this module's tests use
    ROUTER_VENV, LITELLM, ENGINE_KEY, CLOUD_KEY, MASTER_KEY, REDIS_PASSWORD, LIMITED, SHARED, BENCH, TOKENS, CONCURRENT, START_SECONDS, _tool, RecordingProxy, _router_files, router_inputs, launch_router, _wait_live)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Stubs, Redis and two routers started from prod's rendered router; torn down after."""
    real_tools.router_venv()      # created from router/requirements.txt on first use
    litellm = _tool(LITELLM, "python3 -m venv .venv-router && "
                             f".venv-router/bin/pip install 'litellm[proxy]=={LITELLM_VERSION}'")
    redis_server = real_tools.system_tool("redis-server")
    prod = stack_config("prod")
    traffic = copy.deepcopy(prod["traffic"])
    traffic["clients"] = traffic["clients"] + [LIMITED, SHARED, BENCH, TOKENS]
    run = run_stack("prod", {"traffic": traffic})
    assert run.error is None, run.error
    files, pod = _router_files(run)
    tmp = tmp_path_factory.mktemp("router")

    local = StubUpstream("local").start()
    cloud = StubUpstream("cloud").start()
    proxy = RecordingProxy()
    redis_port = free_port()
    redis = subprocess.Popen(
        [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--requirepass", REDIS_PASSWORD],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # The ConfigMap's files, only the upstreams and Redis pointed at the test's servers.
    rendered = yaml.safe_load(files["config.yaml"])
    config = copy.deepcopy(rendered)
    for deployment in config["model_list"]:
        params = deployment["litellm_params"]
        params["api_base"] = local.base_url if params["model"].startswith("hosted_vllm/") \
            else cloud.base_url
    config["general_settings"]["coordination_redis"].update(host="127.0.0.1", port=redis_port)
    secret_values = {render.MASTER_KEY_ENV: MASTER_KEY, render.ENGINE_KEY_ENV: ENGINE_KEY,
                     render.REDIS_PASSWORD_ENV: REDIS_PASSWORD,
                     render.provider_key_env("cloud"): CLOUD_KEY}
    args, env, keys = router_inputs(files, pod, config, tmp, secret_values, proxy.port)
    routers = [launch_router(litellm, args, env, tmp, f"router-{index}") for index in range(2)]
    extra: list[dict] = []

    def launch(name: str, config: pathlib.Path) -> dict:
        """One more router from the rendered args, its config directory replaced."""
        return launch_router(litellm, args, env, tmp, name, config)

    started = time.monotonic()
    try:
        _wait_live(routers, started)
        start_seconds = time.monotonic() - started
        yield {"routers": routers, "url": routers[0]["url"], "keys": keys, "local": local,
               "cloud": cloud, "proxy": proxy, "rendered": rendered, "files": files,
               "redis_port": redis_port, "start_seconds": start_seconds, "tmp": tmp,
               "launch": launch, "extra": extra, "config": config}
    finally:
        for router in routers + extra:
            router["process"].terminate()
        for router in routers + extra:
            try:
                router["process"].wait(timeout=15)
            except subprocess.TimeoutExpired:
                router["process"].kill()
        redis.terminate()
        redis.wait(timeout=10)
        local.stop()
        cloud.stop()


def chat(stack, client: str | None, model: str = "internal-default", url: str | None = None,
         key: str | None = None, timeout: float = 60, **body) -> requests.Response:
    headers = {}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    elif client is not None:
        headers["Authorization"] = f"Bearer {stack['keys'][client]}"
    payload = {"model": model, "messages": [{"role": "user", "content": "hello"}], **body}
    return requests.post((url or stack["url"]) + "/v1/chat/completions", json=payload,
                         headers=headers, timeout=timeout, stream=bool(body.get("stream")))


def sse_events(response: requests.Response) -> list[Any]:
    events = []
    for line in response.iter_lines(decode_unicode=True):
        if line and line.startswith("data: "):
            data = line[len("data: "):]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def streamed_text(events: list[Any]) -> str:
    return "".join((e["choices"][0]["delta"].get("content") or "") for e in events
                   if e != "[DONE]" and e.get("choices"))


# ---------------------------------------------------------------- start-up

def test_the_router_starts_offline_from_the_rendered_config(stack):
    assert stack["proxy"].seen == [], f"the router tried to reach {stack['proxy'].seen}"
    assert stack["rendered"]["general_settings"]["custom_auth"] == \
        f"{render.AUTH_MODULE}.user_api_key_auth"
    assert "database_url" not in stack["rendered"]["general_settings"]


# ---------------------------------------------------------------- keys

def test_a_request_without_a_key_is_401(stack):
    response = chat(stack, None)
    assert response.status_code == 401, response.text
    assert "missing API key" in response.json()["error"]["message"]


def test_a_wrong_key_is_401(stack):
    response = chat(stack, None, key="sk-not-a-client-key-0123456789")
    assert response.status_code == 401, response.text
    assert "invalid API key" in response.json()["error"]["message"]


def test_a_client_key_is_served_by_the_local_engine_with_the_engine_key(stack):
    stack["local"].reset()
    response = chat(stack, "code-review")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].startswith("local0 ")
    seen = stack["local"].requests[-1]
    assert seen.headers["authorization"] == f"Bearer {ENGINE_KEY}"
    assert seen.body["model"] == "deepseek-r1-32b"


def test_admin_routes_are_refused_to_clients(stack):
    response = requests.post(stack["url"] + "/key/generate", json={}, timeout=10, headers={
        "Authorization": f"Bearer {stack['keys']['code-review']}"})
    assert response.status_code == 403, response.text


# ---------------------------------------------------------------- streaming

def test_a_stream_passes_through_intact(stack):
    stack["local"].reset()
    with chat(stack, "code-review", stream=True, max_tokens=5) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    assert events[-1] == "[DONE]"
    assert streamed_text(events) == "".join(stack["local"].answer(i) for i in range(5))


def test_a_slow_stream_under_the_idle_timeout_is_not_cut(stack):
    """Tokens 0.4 s apart for ~3 s: far over what a short total timeout would allow, each gap
    far under the derived stream-idle timeout (stream_timeout)."""
    local = stack["local"]
    local.reset()
    local.token_delay, local.tokens = 0.4, 8
    try:
        started = time.monotonic()
        arrivals = []
        with chat(stack, "code-review", stream=True, max_tokens=8) as response:
            assert response.status_code == 200
            events = []
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("data: "):
                    arrivals.append(time.monotonic() - started)
                    data = line[6:]
                    events.append(data if data == "[DONE]" else json.loads(data))
        assert streamed_text(events) == "".join(local.answer(i) for i in range(8))
        assert arrivals[-1] >= 3.0
        # Tokens arrive as they are made, not buffered to the end.
        assert arrivals[len(arrivals) // 2] < arrivals[-1] - 1.0
        assert stack["rendered"]["router_settings"]["stream_timeout"] > 0.4
    finally:
        local.token_delay, local.tokens = 0.0, 5


# ---------------------------------------------------------------- limits and caps

def test_over_the_client_limit_is_429_with_retry_after(stack):
    answers = [chat(stack, "limited") for _ in range(LIMITED["requestsPerMinute"] + 1)]
    assert [a.status_code for a in answers[:-1]] == [200] * LIMITED["requestsPerMinute"]
    last = answers[-1]
    assert last.status_code == 429, last.text
    assert 0 < int(last.headers["Retry-After"]) <= 120
    # Other clients are not affected.
    assert chat(stack, "doc-gen").status_code == 200


def test_a_client_far_under_its_token_budget_is_not_refused_for_concurrency(stack):
    """doc-gen (200k tokens a minute) sends 30 short requests at once, none asking for
    max_tokens (the caps hook fills in the alias's 8,192): all pass, because the limiter counts
    the tokens an answer really used instead of reserving max_tokens up front (LiteLLM
    1.108.7 reserves input + max_tokens per request, parallel_request_limiter_v3.py
    `async_pre_call_hook` / `reserve_tpm_tokens`, which refused the 25th: 200,000 / 8,192)."""
    local = stack["local"]
    local.reset()
    local.delay = 2.0   # every request is in flight at once
    tpm = next(c for c in stack_config("prod")["traffic"]["clients"]
               if c["name"] == "doc-gen")["tokensPerMinute"]
    assert CONCURRENT * 8_192 > tpm   # what reserving max_tokens would have refused
    try:
        with ThreadPoolExecutor(CONCURRENT) as pool:
            answers = list(pool.map(lambda index: chat(
                stack, "doc-gen", model="deepseek-r1-32b",
                url=stack["routers"][index % 2]["url"]), range(CONCURRENT)))
        served = len(local.requests)
    finally:
        local.reset()
    codes = [a.status_code for a in answers]
    assert codes == [200] * CONCURRENT, [a.text[:300] for a in answers if a.status_code != 200]
    assert served == CONCURRENT


def test_a_client_whose_tokens_are_used_up_is_429(stack):
    """The token budget still holds: `tokens` (40 a minute) is refused with 429 once its
    answers (12 tokens each, counted after they are served) used it up."""
    codes = []
    for _ in range(10):
        codes.append(chat(stack, "tokens", model="deepseek-r1-32b", max_tokens=5).status_code)
        if codes[-1] == 429:
            break
        time.sleep(0.2)   # the count lands after the answer (a success callback)
    assert codes[0] == 200 and codes[-1] == 429, codes
    assert set(codes[:-1]) == {200}, codes


def test_replicas_share_the_limit_through_redis(stack):
    first, second = (r["url"] for r in stack["routers"])
    urls = [first, second] * 3
    codes = [chat(stack, "shared", url=url).status_code for url in urls]
    # 4 a minute in total, not 4 per replica.
    assert codes[:SHARED["requestsPerMinute"]] == [200] * SHARED["requestsPerMinute"]
    assert set(codes[SHARED["requestsPerMinute"]:]) == {429}, codes
    keys = subprocess.run(["redis-cli", "-p", str(stack["redis_port"]), "--no-auth-warning",
                           "-a", REDIS_PASSWORD, "--scan"], capture_output=True, text=True,
                          check=True).stdout
    assert keys.strip(), "no limit counters in Redis"


def test_over_the_max_tokens_cap_is_400_naming_the_cap(stack):
    cap = json.loads(stack["files"]["clients.json"])["aliases"]["internal-default"]["maxTokens"]
    response = chat(stack, "code-review", max_tokens=cap + 1)
    assert response.status_code == 400, response.text
    assert f"at most {cap}" in response.json()["error"]["message"]


def test_a_request_without_max_tokens_gets_the_cap(stack):
    stack["local"].reset()
    assert chat(stack, "code-review").status_code == 200
    cap = json.loads(stack["files"]["clients.json"])["aliases"]["internal-default"]["maxTokens"]
    assert stack["local"].requests[-1].body["max_tokens"] == cap


def test_a_body_over_the_size_limit_is_413(stack):
    limit = json.loads(stack["files"]["clients.json"])["maxBodyBytes"]
    response = requests.post(stack["url"] + "/v1/chat/completions", timeout=30, headers={
        "Authorization": f"Bearer {stack['keys']['code-review']}"}, json={
        "model": "internal-default", "messages": [{"role": "user", "content": "x" * limit}]})
    assert response.status_code == 413, response.text
    assert str(limit) in response.json()["error"]["message"]


def test_a_long_prompt_under_the_limit_passes(stack):
    """A 32k-token prompt's worth of text (the size Envoy's 32 KiB default refuses)."""
    response = chat(stack, "code-review", messages=[{"role": "user", "content": "y" * 200_000}])
    assert response.status_code == 200, response.text


def test_metrics_are_served_for_prometheus_without_a_key(stack):
    """The ServiceMonitor scrapes /metrics unauthenticated (the NetworkPolicy admits only the
    gateway's and Prometheus' namespaces); the requests above show up as series."""
    response = requests.get(stack["url"] + "/metrics", timeout=10)
    assert response.status_code == 200, response.text[:500]
    assert "litellm_" in response.text
    # The router's alerts (rendering/router.py ROUTER_ALERTS) read these series.
    refused = [line for line in response.text.splitlines()
               if line.startswith("litellm_proxy_failed_requests_metric_total{")
               and 'exception_status="429"' in line]
    assert refused, [l for l in response.text.splitlines() if "failed_requests" in l][:5]
    assert "litellm_proxy_total_requests_metric_total{" in response.text


def _samples(text: str, prefix: str) -> list[float]:
    return [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith(prefix)]


def test_metrics_serve_every_series_the_alerts_read_and_no_per_redis_call_histogram(stack):
    """After the requests above: the router alerts' series (rendering/router.py alert_rules)
    and the limiter alert's breaker gauge are on /metrics, while `prometheus_system` observes
    no Redis call one by one (router/vllm_serving_router.py Services; issue 19)."""
    chat(stack, "doc-gen")
    text = requests.get(stack["url"] + "/metrics", timeout=10).text
    for series in ("litellm_proxy_total_requests_metric_total{",
                   "litellm_request_queue_time_seconds_bucket{",
                   f"{promql.LIMITER_BREAKER_SERIES}{{"):
        assert _samples(text, series), series
    assert _samples(text, f'{promql.LIMITER_BREAKER_SERIES}{{state="closed"}}') == [1.0]
    for per_call in ("litellm_redis_latency_count", "litellm_redis_total_requests_total"):
        assert not any(_samples(text, per_call)), (per_call, _samples(text, per_call))


def _requests_counted(stack, after: float) -> float:
    """The router's litellm_proxy_total_requests_metric once it passes `after` (the callback
    runs after the answer), or its value after 15 s."""
    deadline = time.monotonic() + 15
    while True:
        text = requests.get(stack["url"] + "/metrics", timeout=10).text
        total = sum(_samples(text, "litellm_proxy_total_requests_metric_total{"))
        if total > after or time.monotonic() > deadline:
            return total
        time.sleep(0.2)


def test_a_client_cannot_keep_its_request_out_of_the_alert_series_with_no_log(stack):
    """LiteLLM skips its logging callbacks for a request whose body says `"no-log": true`
    (litellm_logging.py Logging.should_run_callback) unless `global_disable_no_log_param`:
    a client would hide its requests from the series the router alerts read."""
    assert chat(stack, "doc-gen").status_code == 200
    counted = _requests_counted(stack, 0)
    response = chat(stack, "doc-gen", **{"no-log": True})
    assert response.status_code == 200, response.text
    assert _requests_counted(stack, counted) == counted + 1


# ---------------------------------------------------------------- the client example

def test_the_client_example_streams_through_an_alias(stack):
    env = {**os.environ, "LLM_BASE_URL": stack["url"] + "/v1",
           "LLM_API_KEY": stack["keys"]["doc-gen"], "LLM_MAX_TOKENS": "5",
           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    done = subprocess.run([str(ROUTER_VENV / "bin" / "python"), str(ROOT / "examples" /
                                                                     "client.py"),
                           "doc_gen", "hello"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "".join(stack["local"].answer(i) for i in range(5)).strip()


# ---------------------------------------------------------------- added latency

def _timed(call, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        assert response.status_code == 200, response.text
        times.append(time.perf_counter() - started)
    return times


def test_the_router_adds_little_latency(stack):
    """Median and p99 of 200 non-streamed requests, router vs the local stub directly
    (loopback). Printed for the README; bounded loosely so a slow CI box still passes."""
    local = stack["local"]
    session = requests.Session()
    body = {"model": "deepseek-r1-32b", "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 5}
    auth = {"Authorization": f"Bearer {stack['keys']['bench']}"}
    for _ in range(10):   # warm both paths
        session.post(local.base_url + "/chat/completions", json=body, timeout=10)
        session.post(stack["url"] + "/v1/chat/completions", json=body, headers=auth, timeout=10)
    direct = _timed(lambda: session.post(local.base_url + "/chat/completions", json=body,
                                         timeout=10), 200)
    routed = _timed(lambda: session.post(stack["url"] + "/v1/chat/completions", json=body,
                                         headers=auth, timeout=10), 200)

    def p99(values):
        return sorted(values)[int(len(values) * 0.99) - 1]

    added_median = (statistics.median(routed) - statistics.median(direct)) * 1000
    added_p99 = (p99(routed) - p99(direct)) * 1000
    report = (f"router added latency over loopback: median {added_median:.1f} ms, p99 "
              f"{added_p99:.1f} ms (router median {statistics.median(routed) * 1000:.1f} ms, "
              f"p99 {p99(routed) * 1000:.1f} ms; direct median "
              f"{statistics.median(direct) * 1000:.1f} ms, p99 {p99(direct) * 1000:.1f} ms; "
              f"start-up {stack['start_seconds']:.1f} s for two routers)")
    print("\n" + report)
    (ROOT / ".pytest_cache").mkdir(exist_ok=True)
    (ROOT / ".pytest_cache" / "router-latency.txt").write_text(report + "\n")
    assert added_median < 250


# ---------------------------------------------------------------- a client that leaves

def _post_and_leave(stack, stream: bool) -> float:
    """Send a local-only request on a raw socket, wait until the engine has it, close the
    socket; the time (time.monotonic()) the client left."""
    local = stack["local"]
    body = json.dumps({"model": "deepseek-r1-32b", "stream": stream, "max_tokens": 5,
                       "messages": [{"role": "user", "content": "hello"}]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {stack['keys']['code-review']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    port = int(stack["url"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(head.encode() + body)
        deadline = time.monotonic() + 10
        while not local.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert local.requests, "the request never reached the engine"
        time.sleep(0.2)
    return time.monotonic()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_client_that_leaves_frees_its_engine_request_within_a_second(stack, stream):
    """The engine is silent for 8 s (a queue wait or a long prefill); the client gives up
    after it has the request. The router must close its request to the engine at once, not
    hold the engine's slot until the answer comes (issue 16, item 3)."""
    local = stack["local"]
    local.reset()
    local.delay = 8.0
    try:
        left = _post_and_leave(stack, stream)
        deadline = left + 3
        while not local.hangups and time.monotonic() < deadline:
            time.sleep(0.02)
        assert local.hangups, "the router kept its engine request open after the client left"
        latency = local.hangups[0] - left
        print(f"\nengine request closed {latency * 1000:.0f} ms after the client left "
              f"({'streamed' if stream else 'non-streamed'})")
        assert latency < 1.0
    finally:
        local.reset()


# ---------------------------------------------------------------- answers slower than the idle timeout

SCALED_STREAM_TIMEOUT = 2
"""The scaled-down router's stream_timeout (prod: the derived stream-idle timeout, 70 s)."""


@pytest.fixture(scope="module")
def scaled_router(stack):
    """A third router from the same rendered files, every timeout scaled down so that
    stream_timeout is SCALED_STREAM_TIMEOUT s (the total timeout keeps its ratio to it)."""
    config = copy.deepcopy(stack["config"])
    factor = SCALED_STREAM_TIMEOUT / config["router_settings"]["stream_timeout"]
    scaled = lambda seconds: max(1, round(seconds * factor))
    for params in [d["litellm_params"] for d in config["model_list"]] + [
            config["router_settings"]]:
        params["timeout"], params["stream_timeout"] = (scaled(params["timeout"]),
                                                       scaled(params["stream_timeout"]))
    config["litellm_settings"]["request_timeout"] = scaled(
        config["litellm_settings"]["request_timeout"])
    directory = stack["tmp"] / "scaled-config"
    shutil.copytree(stack["tmp"] / "config", directory)
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    router = stack["launch"]("router-scaled", directory)
    stack["extra"].append(router)
    _wait_live([router], time.monotonic())
    return {**router, "config": config}


def test_a_non_streamed_answer_slower_than_the_stream_idle_timeout_is_served(stack,
                                                                              scaled_router):
    """A non-streamed answer sends nothing until it is whole: one that takes twice the
    router's stream-idle timeout is still the engine's answer (the total timeout governs it),
    not cut, and not sent to the cloud."""
    local, cloud = stack["local"], stack["cloud"]
    local.reset(), cloud.reset()
    config = scaled_router["config"]
    local.delay = 2 * SCALED_STREAM_TIMEOUT
    assert local.delay < config["router_settings"]["timeout"]
    try:
        started = time.monotonic()
        response = chat(stack, "code-review", url=scaled_router["url"], max_tokens=3)
        took = time.monotonic() - started
    finally:
        local.reset()
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "local0 local1 local2 "
    assert took >= 2 * SCALED_STREAM_TIMEOUT
    assert cloud.requests == []


# ---------------------------------------------------------------- bodies nobody should read

def _vm_kib(pid: int, field: str) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _send_chunked(url: str, headers: dict[str, str], total: int,
                  chunk: int = 1 << 20) -> tuple[int, str, int]:
    """POST `total` bytes as a chunked body (no Content-Length), stopping when the router
    answers or hangs up; (status, body, bytes sent)."""
    port = int(url.rsplit(":", 1)[1])
    answer: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        def read() -> None:
            try:
                while data := sock.recv(65536):
                    answer.append(data)
            except OSError:
                pass
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        lines = [f"POST /v1/chat/completions HTTP/1.1", "Host: 127.0.0.1",
                 "Content-Type: application/json", "Transfer-Encoding: chunked",
                 *(f"{k}: {v}" for k, v in headers.items())]
        sent = 0
        piece = b"x" * chunk
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            prefix = b'{"model": "internal-default", "messages": [{"role": "user", "content": "'
            sock.sendall(f"{len(prefix):x}\r\n".encode() + prefix + b"\r\n")
            while sent < total and not answer:
                sock.sendall(f"{chunk:x}\r\n".encode() + piece + b"\r\n")
                sent += chunk
            if not answer:
                tail = b'"}]}'
                sock.sendall(f"{len(tail):x}\r\n".encode() + tail + b"\r\n0\r\n\r\n")
        except OSError:
            pass
        reader.join(timeout=60)
    raw = b"".join(answer).decode(errors="replace")
    assert raw.startswith("HTTP/1.1 "), f"no answer after {sent} bytes: {raw[:200]!r}"
    head, _, body = raw.partition("\r\n\r\n")
    return int(head.split()[1]), body, sent


OVERSIZE_BYTES = 128 << 20
"""A 128 MiB body: the issue's attack (400 MiB) scaled to what a test box sends quickly."""


@pytest.mark.parametrize("keyed", [False, True], ids=["no-key", "client-key"])
def test_an_oversize_chunked_body_is_refused_before_the_router_holds_it(stack, keyed):
    """A chunked body (no Content-Length) far over the body limit: refused (401 without a
    key, 413 with one) after the router read at most the limit, so its resident memory does
    not grow with the body (issue 16, item 6: LiteLLM reads the whole body before auth)."""
    pid = stack["routers"][0]["process"].pid
    limit = json.loads(stack["files"]["clients.json"])["maxBodyBytes"]
    pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")   # reset the peak (VmHWM)
    before = _vm_kib(pid, "VmRSS")
    headers = {"Authorization": f"Bearer {stack['keys']['code-review']}"} if keyed else {}
    status, body, sent = _send_chunked(stack["url"], headers, OVERSIZE_BYTES)
    peak = _vm_kib(pid, "VmHWM")
    print(f"\nrouter RSS {before / 1024:.0f} MiB before, peak {peak / 1024:.0f} MiB during a "
          f"{OVERSIZE_BYTES >> 20} MiB chunked body ({'with' if keyed else 'without'} a key; "
          f"answered {status} after {sent >> 20} MiB sent)")
    assert status == (413 if keyed else 401), body
    if keyed:
        assert str(limit) in body
    assert sent < OVERSIZE_BYTES
    assert peak - before < 32 * 1024, f"RSS grew {(peak - before) / 1024:.0f} MiB"


def test_a_declared_length_over_the_limit_is_413_before_any_body(stack):
    """Content-Length over the limit: refused at once, while the client has sent no byte of
    the body."""
    limit = json.loads(stack["files"]["clients.json"])["maxBodyBytes"]
    port = int(stack["url"].rsplit(":", 1)[1])
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {stack['keys']['code-review']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(head.encode())
        answer = ""
        try:
            while data := client.recv(65536):   # the router closes after its answer
                answer += data.decode()
        except socket.timeout:
            pytest.fail(f"the router waited for a body it should refuse: {answer!r}")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert str(limit) in answer


# ---------------------------------------------------------------- fallbacks (local broken)

def test_an_admission_503_is_retried_once_on_the_engine_service(stack):
    """vLLM refuses work over its queue bounds with 503 (planning/admission.py); the router
    tries the engine's Service once more (it may pick another pod) before the cloud."""
    local, cloud = stack["local"], stack["cloud"]
    local.reset(), cloud.reset()
    local.status, local.failures = 503, 1
    response = chat(stack, "doc-gen", url=stack["routers"][0]["url"])
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].startswith("local0 ")
    assert len(local.requests) == 2 and cloud.requests == []


def test_admission_503s_do_not_send_the_fallback_alias_to_the_cloud_for_the_cooldown(stack):
    """Two refused attempts fall back to the cloud, but the engine is not cooled down: the
    next request is the engine's again (today one failure would send the alias to the cloud
    for traffic.router.cooldownSeconds)."""
    local, cloud = stack["local"], stack["cloud"]
    local.reset(), cloud.reset()
    local.status, local.failures = 503, 2
    first = chat(stack, "doc-gen", url=stack["routers"][1]["url"])
    assert first.status_code == 200, first.text
    assert first.json()["choices"][0]["message"]["content"].startswith("cloud0 ")
    second = chat(stack, "doc-gen", url=stack["routers"][1]["url"])
    assert second.status_code == 200, second.text
    assert second.json()["choices"][0]["message"]["content"].startswith("local0 ")


@pytest.mark.parametrize("status", [503, 429, 500])
def test_a_local_5xx_or_429_falls_back_to_the_cloud(stack, status):
    local, cloud = stack["local"], stack["cloud"]
    local.reset(), cloud.reset()
    local.status = status
    try:
        response = chat(stack, "doc-gen", url=stack["routers"][1]["url"])
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"].startswith("cloud0 ")
        assert cloud.requests[-1].headers["authorization"] == f"Bearer {CLOUD_KEY}"
        assert cloud.requests[-1].body["model"] == "gpt-5.5"
    finally:
        local.status = None


@pytest.mark.parametrize("status", [503, 500])
def test_a_local_only_alias_passes_an_engine_bug_as_500_and_unavailability_as_503(stack,
                                                                                  status):
    """The engine answering 503 (unavailable) reaches the client as 503 with the plan's
    Retry-After; the engine's own 500 (a bug) stays a 500 without one."""
    local = stack["local"]
    local.reset()
    local.status = status
    try:
        response = chat(stack, "doc-gen", model="deepseek-r1-32b", timeout=30)
    finally:
        local.status = None
    assert response.status_code == status, response.text
    retry_after = json.loads(stack["files"]["clients.json"])["engineRetryAfterSeconds"]
    assert response.headers.get("Retry-After") == (str(retry_after) if status == 503 else None)


def test_local_down_the_alias_is_served_by_the_cloud_even_streamed(stack):
    local, cloud = stack["local"], stack["cloud"]
    local.stop()
    cloud.reset()
    response = chat(stack, "doc-gen")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].startswith("cloud0 ")
    with chat(stack, "doc-gen", stream=True, max_tokens=3) as streamed:
        assert streamed.status_code == 200
        assert streamed_text(sse_events(streamed)) == "cloud0 cloud1 cloud2 "


def test_local_down_a_local_only_alias_is_503_with_retry_after(stack):
    """The engine down (or rolling): a local-only alias answers 503 with the plan's
    Retry-After, quickly and every time (also while the router cools the engine down), so a
    client can tell it from a bug (500) and retry (issue 16, item 16)."""
    for attempt in range(3):
        started = time.monotonic()
        response = chat(stack, "doc-gen", model="deepseek-r1-32b", timeout=30)
        assert response.status_code == 503, (attempt, response.text)
        retry_after = json.loads(stack["files"]["clients.json"])["engineRetryAfterSeconds"]
        assert response.headers["Retry-After"] == str(retry_after)
        assert time.monotonic() - started < 10
        assert "engine" in response.json()["error"]["message"].lower()
    with chat(stack, "doc-gen", model="deepseek-r1-32b", stream=True, timeout=30) as streamed:
        assert streamed.status_code == 503, streamed.text
        assert streamed.headers["Retry-After"] == str(retry_after)


def test_no_key_ever_reaches_the_router_logs(stack):
    logs = "".join(r["log"].read_text() for r in stack["routers"])
    assert logs, "the routers logged nothing"
    for secret in (CLOUD_KEY, ENGINE_KEY, MASTER_KEY, REDIS_PASSWORD, *stack["keys"].values()):
        assert secret not in logs


# ---------------------------------------------------------------- a Redis that never answers

class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers (a hung Redis)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return   # closed by stop()

    def stop(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def _breaker_states(url: str) -> dict[str, float]:
    text = requests.get(url + "/metrics", timeout=30).text
    states = {}
    for line in text.splitlines():
        if line.startswith("litellm_redis_circuit_breaker_state{"):
            labels, value = line.rsplit(" ", 1)
            states[labels.split('state="')[1].split('"')[0]] = float(value)
    return states


def test_a_hung_redis_delays_the_router_less_than_its_startup_probe(tmp_path):
    """prod's router with its Redis accepting connections and never answering: live within the
    startup probe's budget (before the short socket timeouts: 130 s against 120 s, a crash
    loop), and LiteLLM's breaker series the limiter alert reads reports the Redis open."""
    real_tools.router_venv()
    litellm = _tool(LITELLM, "python3 -m venv .venv-router && .venv-router/bin/pip install "
                             "-r router/requirements.txt")
    run = run_stack("prod")
    assert run.error is None, run.error
    files, pod = _router_files(run)
    probe = pod["containers"][0]["startupProbe"]
    budget = probe["periodSeconds"] * probe["failureThreshold"]
    config = yaml.safe_load(files["config.yaml"])
    hung = SilentServer()
    config["general_settings"]["coordination_redis"].update(host="127.0.0.1", port=hung.port)
    for deployment in config["model_list"]:   # no upstream: a closed port answers at once
        deployment["litellm_params"]["api_base"] = f"http://127.0.0.1:{free_port()}/v1"
    proxy = RecordingProxy()
    secret_values = {render.MASTER_KEY_ENV: MASTER_KEY, render.ENGINE_KEY_ENV: ENGINE_KEY,
                     render.REDIS_PASSWORD_ENV: REDIS_PASSWORD,
                     render.provider_key_env("cloud"): CLOUD_KEY}
    args, env, keys = router_inputs(files, pod, config, tmp_path, secret_values, proxy.port)
    started = time.monotonic()
    router = launch_router(litellm, args, env, tmp_path, "router-hung-redis")
    try:
        live = _seconds_to_live(router, started, budget + 30)
        print(f"\nlive after {live} s with a Redis that never answers (startup probe: "
              f"{budget} s)")
        assert live is not None and live < budget, (live, budget)
        _trip_the_breaker(router, keys["code-review"])
    finally:
        _stop(router)
        hung.stop()


def _seconds_to_live(router: dict, started: float, limit: float):
    """Seconds from `started` until /health/liveliness answers (None after `limit`)."""
    while time.monotonic() - started < limit:
        assert router["process"].poll() is None, router["log"].read_text()[-4000:]
        try:
            if requests.get(router["url"] + "/health/liveliness", timeout=2).ok:
                return time.monotonic() - started
        except requests.RequestException:
            time.sleep(0.5)
    return None


def _trip_the_breaker(router: dict, key: str) -> None:
    """Requests until LiteLLM's Redis circuit breaker reports open on /metrics (the series
    the limiter alert reads)."""
    deadline = time.monotonic() + 120
    while _breaker_states(router["url"]).get("open", 0) < 1:
        assert time.monotonic() < deadline, _breaker_states(router["url"])
        chat({"url": router["url"]}, None, key=key, model="deepseek-r1-32b", timeout=60)


def _stop(router: dict) -> None:
    router["process"].terminate()
    try:
        router["process"].wait(timeout=15)
    except subprocess.TimeoutExpired:
        router["process"].kill()


def test_missing_secrets_the_stack_names_leave_the_router_serving(tmp_path):
    """prod names `router-redis` and `cloud-llm-key`, referenced `optional: true`: when they do
    not exist the kubelet starts the pod without those variables. The real router then starts,
    serves the local engine, and reports Redis (which refuses it without the password) through
    the open breaker the limiter alert reads."""
    real_tools.router_venv()
    litellm = _tool(LITELLM, "python3 -m venv .venv-router && .venv-router/bin/pip install "
                             "-r router/requirements.txt")
    redis_server = real_tools.system_tool("redis-server")
    run = run_stack("prod")
    assert run.error is None, run.error
    files, pod = _router_files(run)
    optional = {e["name"] for e in pod["containers"][0]["env"]
                if e.get("valueFrom", {}).get("secretKeyRef", {}).get("optional")}
    assert optional == {render.REDIS_PASSWORD_ENV, render.provider_key_env("cloud")}
    local = StubUpstream("local").start()
    redis_port = free_port()
    redis = subprocess.Popen([redis_server, "--port", str(redis_port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--requirepass",
                              REDIS_PASSWORD], stdout=subprocess.DEVNULL)
    config = yaml.safe_load(files["config.yaml"])
    config["general_settings"]["coordination_redis"].update(host="127.0.0.1", port=redis_port)
    for deployment in config["model_list"]:
        params = deployment["litellm_params"]
        params["api_base"] = local.base_url if params["model"].startswith("hosted_vllm/") \
            else f"http://127.0.0.1:{free_port()}/v1"
    proxy = RecordingProxy()
    secret_values = {render.MASTER_KEY_ENV: MASTER_KEY, render.ENGINE_KEY_ENV: ENGINE_KEY,
                     **{name: "absent" for name in optional}}
    args, env, keys = router_inputs(files, pod, config, tmp_path, secret_values, proxy.port)
    for name in optional:
        del env[name]
    started = time.monotonic()
    router = launch_router(litellm, args, env, tmp_path, "router-missing-secrets")
    try:
        assert _seconds_to_live(router, started, START_SECONDS) is not None
        response = chat({"url": router["url"]}, None, key=keys["code-review"])
        assert response.status_code == 200, response.text
        _trip_the_breaker(router, keys["code-review"])
    finally:
        _stop(router)
        redis.terminate()
        redis.wait(timeout=10)
        local.stop()


# ---------------------------------------------------------------- the prometheus callback

METRICS_PROBE = '''
import asyncio, json, sys
import litellm
from litellm.integrations import prometheus
from litellm.integrations.prometheus import PrometheusLogger, UserAPIKeyLabelValues
from litellm.litellm_core_utils import litellm_logging
from litellm.proxy import proxy_server
from prometheus_client import REGISTRY

built = []
counted = prometheus.prometheus_label_factory


def counting(*args, **kwargs):
    built.append(1)
    return counted(*args, **kwargs)


def inputs():
    """What the writers read: a key's limits in the limiter's v3 headers and its metadata."""
    headers = {f"x-ratelimit-{d}-{kind}-{t}": 100 if kind == "limit" else 40
               for d in ("api_key", "team", "model_per_project", "model_per_project_itpm",
                         "model_per_project_otpm")
               for kind in ("limit", "remaining") for t in ("requests", "tokens")}
    payload = {"hidden_params": {"additional_headers": headers}, "metadata": {}}
    values = UserAPIKeyLabelValues(hashed_api_key="h", api_key_alias="doc-gen",
                                   model="m", model_group="m", model_id="m--local")
    kwargs = {"litellm_params": {"metadata": {"model_group": "m"}},
              "standard_logging_object": payload}
    return {"_set_v3_rate_limit_allowed_and_used_metrics":
                {"standard_logging_payload": payload, "enum_values": values},
            "_set_virtual_key_rate_limit_metrics":
                {"user_api_key": "h", "user_api_key_alias": "doc-gen", "kwargs": kwargs,
                 "metadata": {"litellm-key-remaining-requests-m": 4,
                              "litellm-key-remaining-tokens-m": 40}, "model_id": "m"}}


def families():
    """LiteLLM's samples (the process collector's CPU and memory move on their own)."""
    return {(m.name, s.name, tuple(sorted(s.labels.items())), s.value)
            for m in REGISTRY.collect() if m.name.startswith("litellm_") for s in m.samples}


async def main(config, rendered):
    if rendered:
        # LiteLLM's own start-up on the rendered config (proxy_server.initialize), then the
        # callback it builds from the name "prometheus" on the first request.
        await proxy_server.initialize(config=config)
    logger = litellm_logging._init_custom_logger_compatible_class(
        "prometheus", internal_usage_cache=None, llm_router=None)
    import vllm_serving_router as router
    prometheus.prometheus_label_factory = counting
    out = {"class": type(logger).__name__, "skipped": sorted(logger.skipped_writers),
           "declared": {k: list(v) for k, v in router.FILTERED_WRITERS.items()}, "wrote": {},
           "labels_built": {}, "labels_built_by_litellm": {}}
    for name, arguments in inputs().items():
        before, built[:] = families(), []
        getattr(logger, name)(**arguments)
        out["labels_built"][name] = len(built)
        out["wrote"][name] = sorted({f[0] for f in families() - before})
        built[:] = []
        getattr(PrometheusLogger, name)(logger, **arguments)
        out["labels_built_by_litellm"][name] = len(built)
    print("PROBE" + json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2] == "rendered"))
'''


def _metrics_probe(tmp_path: pathlib.Path, rendered: bool) -> dict:
    """The `prometheus` callback the real LiteLLM builds with the router's module loaded:
    `rendered`: after LiteLLM's start-up on prod's rendered config (its Redis left out: the
    probe serves nothing), else with no metrics filter."""
    run = run_stack("prod")
    assert run.error is None, run.error
    files, pod = _router_files(run)
    config = yaml.safe_load(files["config.yaml"])
    config["general_settings"].pop("coordination_redis")
    if not rendered:
        config["litellm_settings"].pop("prometheus_metrics_config")
    secrets = {render.MASTER_KEY_ENV: MASTER_KEY, render.ENGINE_KEY_ENV: ENGINE_KEY,
               render.REDIS_PASSWORD_ENV: REDIS_PASSWORD,
               render.provider_key_env("cloud"): CLOUD_KEY}
    args, env, _ = router_inputs(files, pod, config, tmp_path, secrets, free_port())
    config_path = args[args.index("--config") + 1]
    # Unfiltered, nothing loads the module before the callback is built: import it first.
    script = ("" if rendered else "import vllm_serving_router\n") + METRICS_PROBE
    done = subprocess.run([str(ROUTER_VENV / "bin" / "python"), "-c", script, config_path,
                           "rendered" if rendered else "unfiltered"],
                          env=env, cwd=tmp_path / "tmp", capture_output=True, text=True,
                          timeout=300)
    lines = [l for l in done.stdout.splitlines() if l.startswith("PROBE")]
    assert done.returncode == 0 and lines, (done.stdout + done.stderr)[-4000:]
    return json.loads(lines[0][len("PROBE"):])


def test_litellm_builds_the_prometheus_callback_that_skips_the_gauges_the_filter_drops(
        tmp_path):
    """With the rendered filter the rate-limit gauges' writers build no labels at all (LiteLLM's
    own writer builds them for a no-op gauge: half the callback's CPU, issue 19)."""
    probe = _metrics_probe(tmp_path, rendered=True)
    assert probe["class"] == "Metrics", probe
    assert probe["skipped"] == sorted(probe["declared"])
    assert set(probe["declared"]).isdisjoint(render.ALERT_SERIES)
    for name in probe["declared"]:
        assert probe["labels_built"][name] == 0, (name, probe)
        assert probe["labels_built_by_litellm"][name] > 0, (name, probe)
        assert probe["wrote"][name] == [], (name, probe)


def test_each_skipped_writer_writes_only_the_series_it_is_skipped_for(tmp_path):
    """Without a filter the router's callback runs every writer, and each writes only series
    its FILTERED_WRITERS entry names (none an alert reads): skipping it drops nothing else."""
    probe = _metrics_probe(tmp_path, rendered=False)
    assert probe["skipped"] == [], probe
    for name, series in probe["declared"].items():
        wrote = {family.removesuffix("_total") for family in probe["wrote"][name]}
        assert wrote and wrote <= set(series), (name, wrote, series)
