"""Runs inside the LiteLLM proxy pod (not imported by the Pulumi program): an ASGI wrapper around
LiteLLM's whole app that does what LiteLLM 1.108.7 cannot do for a router without a licence.

1. Refuses a request before its body is read: 401 on an LLM route when no header carries a
   client key, 413 when Content-Length is over the body limit. LiteLLM reads the whole body
   before any auth runs (a chunked 400 MiB body with no key took a router from 326 to 730 MiB
   before its 401), and its own RequestSizeLimitMiddleware runs only for premium users
   (litellm/proxy/proxy_server.py: `is_request_size_limit_enabled=lambda: premium_user is
   True`).
2. Reads the body itself, counting the bytes of every `http.request` message (chunked bodies
   carry no Content-Length), and answers 413 as soon as they pass the limit, so a request
   holds at most the limit plus one chunk.
3. Cancels the request when the client leaves before its answer is complete. LiteLLM's
   non-streamed handler never listens for the disconnect and a stream notices it only at its
   next chunk, so the request to the engine stayed open (an engine slot held) until the engine
   answered; cancelling closes that connection at once, and vLLM aborts a request whose
   connection closes (vllm/entrypoints/utils.py `with_cancellation`), freeing its slot.

Loaded by LiteLLM's worker start-up hook (`LITELLM_WORKER_STARTUP_HOOKS=vllm_serving_guard:
install`, run in litellm/proxy/proxy_server.py proxy_startup_event before the server accepts
a connection); the ConfigMap's directory is on PYTHONPATH. The hook runs inside the app's
lifespan, after Starlette has built its middleware stack (Starlette.__call__ builds it on the
first message), when `add_middleware` is refused, so the guard wraps the built stack.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

import anyio

import vllm_serving_router as auth

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
KEY_HEADERS = (b"authorization", b"api-key", b"x-api-key", b"x-goog-api-key")
"""Headers LiteLLM takes a key from (litellm/proxy/auth/user_api_key_auth.py: api_key_header,
azure_api_key_header, anthropic_api_key_header, google_ai_studio_api_key_header)."""


class BodyTooLarge(Exception):
    """The body passed the limit while it was read."""


async def _answer(send: Send, status: int, message: str) -> None:
    """An OpenAI-shaped error like LiteLLM's own (`auth_error` for 401), closing the
    connection (the unread body cannot be skipped)."""
    kind = "auth_error" if status == 401 else "invalid_request_error"
    body = json.dumps({"error": {"message": message, "type": kind, "param": None,
                                 "code": str(status)}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _too_large(size: str, limit: int) -> str:
    return (f"request body is {size}, over this router's limit of {limit} bytes (derived from "
            "the model's context length); send a shorter prompt")


def refusal(scope: Message, limit: int) -> tuple[int, str] | None:
    """(status, message) when the request can be refused from its headers alone."""
    headers = dict(scope.get("headers") or [])
    if auth.is_open_route(scope.get("path", "")):
        presented = [headers[name].decode("latin-1") for name in KEY_HEADERS if name in headers]
        if not presented:
            return 401, auth.MISSING_KEY
        if not any(auth.client_of(value) for value in presented):
            return 401, auth.INVALID_KEY
    length = headers.get(b"content-length", b"")
    if length.isdigit() and int(length) > limit:
        return 413, _too_large(f"{int(length)} bytes", limit)
    return None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when the client left first; BodyTooLarge past `limit`."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            raise BodyTooLarge
        if not message.get("more_body", False):
            return bytes(body)


async def serve(app: Callable, scope: Message, body: bytes, receive: Receive,
                send: Send) -> None:
    """Run `app` on the read body; cancel it if the client leaves before the answer is
    complete (after that, background work after the answer runs on)."""
    left = anyio.Event()
    state = {"delivered": False, "complete": False}

    async def app_receive() -> Message:
        if not state["delivered"]:
            state["delivered"] = True
            return {"type": "http.request", "body": body, "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    async def app_send(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            state["complete"] = True   # before the write, so a disconnect it causes is no cancel
        await send(message)

    async with anyio.create_task_group() as group:
        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            left.set()
            if not state["complete"]:
                group.cancel_scope.cancel()

        group.start_soon(watch)
        await app(scope, app_receive, app_send)
        group.cancel_scope.cancel()


class Guard:
    """The ASGI wrapper: refusals from the headers, the counted body, the cancel on leave."""

    def __init__(self, app: Callable, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        refused = refusal(scope, limit)
        if refused is not None:
            await _answer(send, *refused)
            return
        try:
            body = await read_body(receive, limit)
        except BodyTooLarge:
            await _answer(send, 413, _too_large(f"over {limit} bytes", limit))
            return
        if body is not None:
            await serve(self.app, scope, body, receive, send)


def install() -> None:
    """The start-up hook: wrap LiteLLM's built middleware stack in the Guard."""
    from litellm.proxy.proxy_server import app

    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    if not isinstance(app.middleware_stack, Guard):
        app.middleware_stack = Guard(app.middleware_stack,
                                     lambda: int(auth.settings()["maxBodyBytes"]))
