"""A tiny OpenAI-compatible upstream for the router tests (standard library only).

`StubUpstream("local")` serves `/v1/chat/completions` (JSON or SSE), `/v1/models` and
`/health` on 127.0.0.1 in a thread. Each answer names the upstream (`served-by-<name>`), so a
test can tell which one the router picked. `status` makes it fail every completion (429, 503,
...), `token_delay` spaces streamed tokens, `delay` keeps it silent that long before the answer
(a busy engine: before the status line of a JSON answer, after the headers of a stream, as vLLM
sends them), and `requests` records what arrived (path, headers, body), so tests can check which
key the router sent upstream. `hangups` records when (time.monotonic()) a caller closed its
connection before the answer was complete: the moment an engine would free the request's slot.
"""

from __future__ import annotations

import dataclasses
import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional


@dataclasses.dataclass
class Seen:
    """One request the stub received."""

    path: str
    headers: dict[str, str]   # names lower-cased
    body: dict[str, Any]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StubUpstream:
    """An OpenAI-compatible server in a thread; `stop()` closes its port (connection refused)."""

    def __init__(self, name: str, port: Optional[int] = None, tokens: int = 5):
        self.name = name
        self.port = port or free_port()
        self.tokens = tokens
        self.status: Optional[int] = None
        self.failures: Optional[int] = None
        """With `status`: how many completions fail with it before the stub answers again
        (None: every one)."""
        self.token_delay = 0.0
        self.delay = 0.0
        self.requests: list[Seen] = []
        self.hangups: list[float] = []
        self._server: Optional[ThreadingHTTPServer] = None
        self._connections: set[socket.socket] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def answer(self, index: int) -> str:
        """Token `index` of every answer: names the upstream, so tests see who served it."""
        return f"{self.name}{index} "

    def start(self) -> "StubUpstream":
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def setup(self):
                super().setup()
                # Headers and body are two writes: without this, Nagle plus delayed ACKs add
                # 40 ms to every answer and would swamp the latency measurement.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                stub._connections.add(self.connection)

            def finish(self):
                stub._connections.discard(self.connection)
                super().finish()

            def _wait(self, seconds: float) -> bool:
                """Sleep `seconds`, watching the connection: False (and a hang-up recorded) as
                soon as the caller closes it."""
                deadline = time.monotonic() + seconds
                while (left := deadline - time.monotonic()) > 0:
                    readable, _, _ = select.select([self.connection], [], [], min(left, 0.02))
                    try:
                        gone = bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
                    except OSError:
                        gone = True
                    if gone:
                        stub.hangups.append(time.monotonic())
                        return False
                return True

            def _json(self, status: int, payload: dict, headers: Optional[dict] = None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [
                        {"id": f"served-by-{stub.name}", "object": "model", "owned_by": "stub"}]})
                else:
                    self._json(200, {"status": "ok"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                stub.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if stub.status is not None and stub.failures is not None:
                    if stub.failures <= 0:
                        stub.status = stub.failures = None
                    else:
                        stub.failures -= 1
                if stub.status is not None:
                    self._json(stub.status, {"error": {
                        "message": f"{stub.name} is failing with {stub.status}",
                        "type": "stub_error", "code": stub.status}},
                        {"Retry-After": "1"} if stub.status == 429 else None)
                    return
                model = body.get("model", "?")
                asked = body.get("max_tokens") or body.get("max_completion_tokens")
                count = min(stub.tokens, int(asked or stub.tokens))
                created = int(time.time())
                usage = {"prompt_tokens": 7, "completion_tokens": count,
                         "total_tokens": 7 + count}
                if not body.get("stream"):
                    if stub.delay and not self._wait(stub.delay):
                        self.close_connection = True
                        return
                    text = "".join(stub.answer(i) for i in range(count))
                    self._json(200, {
                        "id": f"chatcmpl-{stub.name}", "object": "chat.completion",
                        "created": created, "model": f"served-by-{stub.name}",
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {
                            "role": "assistant", "content": text}}],
                        "usage": usage})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()

                def event(delta: dict, finish: Optional[str] = None, extra: Optional[dict] = None):
                    chunk = {"id": f"chatcmpl-{stub.name}", "object": "chat.completion.chunk",
                             "created": created, "model": f"served-by-{stub.name}",
                             "choices": [{"index": 0, "delta": delta,
                                          "finish_reason": finish}], **(extra or {})}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()

                try:
                    self.wfile.flush()
                    if stub.delay and not self._wait(stub.delay):
                        self.close_connection = True
                        return
                    event({"role": "assistant", "content": ""})
                    for i in range(count):
                        if stub.token_delay and not self._wait(stub.token_delay):
                            break
                        event({"content": stub.answer(i)})
                    else:
                        event({}, "stop", {"usage": usage})
                        self.wfile.write(b"data: [DONE]\n\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    stub.hangups.append(time.monotonic())
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the port and every kept-alive connection: the upstream is down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in list(self._connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def reset(self) -> None:
        self.status, self.token_delay, self.delay, self.requests = None, 0.0, 0.0, []
        self.hangups, self.failures = [], None
