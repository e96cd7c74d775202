"""Runs inside the LiteLLM proxy pod (not imported by the Pulumi program): per-client keys from
mounted Secret files, the per-alias max-tokens cap and a 503 for a local-only alias whose engine
is down, without a database. The body limit is enforced before LiteLLM reads a body, by
vllm_serving_guard.py (loaded next to this file).

The program ships this file in the router's ConfigMap next to `config.yaml`, which names it
twice: `general_settings.custom_auth: vllm_serving_router.user_api_key_auth` and
`litellm_settings.callbacks: [vllm_serving_router.caps]`. Its settings come from
`clients.json` in the same ConfigMap (`VLLM_SERVING_ROUTER_SETTINGS` names the file), and each
client's key from `<VLLM_SERVING_CLIENTS_DIR>/<client>/api-key`, a Secret volume.

Why a custom auth: LiteLLM's own virtual keys need Prisma and a database, and without one a
request with no key or a wrong key answers 500 (its error path imports `prisma`). Raising an
HTTPException here is answered as that status (401, 403) by LiteLLM's auth error handler.
Key files are re-read when they change, so a rotated Secret applies without a restart.

Loading this file also makes LiteLLM's `prometheus` callback a `Metrics`: the same series on
the same /metrics, without building the labels of rate-limit gauges the config's
`prometheus_metrics_config` drops anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pathlib
import threading
from typing import Any, Optional

import httpx
from fastapi import HTTPException, Request
from litellm.integrations.custom_logger import CustomLogger
from litellm import _service_logger
from litellm.integrations.prometheus import PrometheusLogger
from litellm.integrations.prometheus_services import PrometheusServicesLogger
from litellm.litellm_core_utils import litellm_logging
from litellm.proxy._types import UserAPIKeyAuth

SETTINGS_ENV = "VLLM_SERVING_ROUTER_SETTINGS"
KEYS_DIR_ENV = "VLLM_SERVING_CLIENTS_DIR"
KEY_FILE = "api-key"
OPEN_ROUTES = ("/v1/chat/completions", "/chat/completions", "/v1/completions", "/completions",
               "/v1/models", "/models")
"""What a client key may call; admin and management routes are refused (403)."""

_lock = threading.Lock()
_cache: dict[str, Any] = {"settings": None, "stamp": None, "keys": {}}


def _settings_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get(SETTINGS_ENV) or pathlib.Path(__file__).with_name(
        "clients.json"))


def settings() -> dict:
    """clients.json, read once: {clients: [{name, rpm, tpm}], aliases: {name: {maxTokens,
    localOnly}}, maxBodyBytes, engineRetryAfterSeconds}."""
    if _cache["settings"] is None:
        _cache["settings"] = json.loads(_settings_path().read_text())
    return _cache["settings"]


def _key_path(name: str) -> pathlib.Path:
    return pathlib.Path(os.environ[KEYS_DIR_ENV]) / name / KEY_FILE


def _keys() -> dict[str, str]:
    """{client: key}, re-read when any key file changed (the kubelet swaps Secret volumes
    atomically; a stat per request is cheap)."""
    clients = settings()["clients"]
    stamp = []
    for client in clients:
        try:
            info = _key_path(client["name"]).stat()
            stamp.append((client["name"], info.st_mtime_ns, info.st_ino, info.st_size))
        except FileNotFoundError:
            stamp.append((client["name"], None))
    if stamp != _cache["stamp"]:
        with _lock:
            keys = {}
            for client in clients:
                try:
                    key = _key_path(client["name"]).read_text().strip()
                except FileNotFoundError:
                    continue
                if key:
                    keys[client["name"]] = key
            _cache["keys"], _cache["stamp"] = keys, stamp
    return _cache["keys"]


def _refuse(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


def is_open_route(path: str) -> bool:
    """A route client keys may call (OPEN_ROUTES and what is below them)."""
    return any(path == route or path.startswith(route + "/") for route in OPEN_ROUTES)


def client_of(presented: str) -> Optional[str]:
    """The client whose key `presented` is (a leading 'Bearer ' ignored), or None."""
    presented = presented.removeprefix("Bearer ").strip()
    match = None
    for name, key in _keys().items():
        # Compare every key in constant time, so timing does not reveal a prefix.
        if hmac.compare_digest(presented.encode(), key.encode()):
            match = name
    return match


MISSING_KEY = ("missing API key: send 'Authorization: Bearer <your client key>' (README: how a "
               "client gets a key)")
INVALID_KEY = "invalid API key: this key belongs to no client of this router"


async def user_api_key_auth(request: Request, api_key: Optional[str]) -> UserAPIKeyAuth:
    """The client whose key this is, with its limits; 401 for a missing or unknown key, 403
    for a route clients may not call."""
    config = settings()
    path = request.url.path
    if not is_open_route(path):
        raise _refuse(403, f"{path} is not available through this router; it serves "
                           "/v1/chat/completions, /v1/completions and /v1/models")
    if not api_key:
        raise _refuse(401, MISSING_KEY)
    match = client_of(api_key)
    if match is None:
        raise _refuse(401, INVALID_KEY)
    client = next(c for c in config["clients"] if c["name"] == match)
    return UserAPIKeyAuth(
        # A stable, non-secret identity for the limiter's counters (shared through Redis).
        api_key=hashlib.sha256(f"vllm-serving-client:{match}".encode()).hexdigest(),
        key_alias=match, user_id=match,
        rpm_limit=client.get("rpm"), tpm_limit=client.get("tpm"))


def _engine_unreachable(error: BaseException) -> bool:
    """The engine could not be reached (no ready pod behind its Service: refused or timed out
    connecting) or answered 503. LiteLLM 1.108.7 wraps a refused connection as a 500
    InternalServerError whose chain holds httpx.ConnectError (litellm/llms/custom_httpx/
    aiohttp_transport.py AIOHTTP_EXC_MAP), so the chain is walked."""
    seen: set[int] = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (httpx.ConnectError, httpx.ConnectTimeout)) or getattr(
                current, "status_code", None) == 503:
            return True
        current = (current.__cause__ or current.__context__
                   or getattr(current, "original_exception", None))
    return False


class Caps(CustomLogger):
    """Per-alias max-tokens cap: refuse a request that asks for more (400), fill in the cap when
    it asks for nothing, so no request outlasts the timeouts derived from it."""

    async def async_pre_call_hook(self, user_api_key_dict, cache, data: dict, call_type):
        aliases = settings()["aliases"]
        model = data.get("model")
        if model not in aliases:
            return data
        cap = int(aliases[model]["maxTokens"])
        for field in ("max_tokens", "max_completion_tokens"):
            asked = data.get(field)
            if asked is not None and int(asked) > cap:
                raise _refuse(400, f"{field}={asked} is over the cap of model alias {model!r} "
                                   f"({cap}); ask for at most {cap} tokens")
        if data.get("max_tokens") is None and data.get("max_completion_tokens") is None:
            data["max_tokens"] = cap
        return data

    async def async_post_call_failure_hook(self, request_data: dict, original_exception,
                                           user_api_key_dict, traceback_str=None):
        """A local-only alias whose engine is down or rolling: 503 with Retry-After (the
        plan's engineRetryAfterSeconds), not LiteLLM's 500, so a client can tell it from a bug
        and retry. LiteLLM answers an HTTPException returned here in place of the original
        (litellm/proxy/utils.py ProxyLogging.post_call_failure_hook)."""
        config = settings()
        alias = config["aliases"].get(request_data.get("model"))
        if not (alias and alias.get("localOnly") and _engine_unreachable(original_exception)):
            return None
        wait = int(config["engineRetryAfterSeconds"])
        return HTTPException(status_code=503, headers={"Retry-After": str(wait)}, detail=(
            f"the model's engine is unavailable (down or restarting); model alias "
            f"{request_data.get('model')!r} is served only in the cluster, so no other backend "
            f"can answer it: retry after {wait} s"))


caps = Caps()


FILTERED_WRITERS = {
    # litellm/integrations/prometheus.py PrometheusLogger: eight descriptors, each building
    # its labels before the gauge (a no-op when filtered).
    "_set_v3_rate_limit_allowed_and_used_metrics": (
        "litellm_api_key_rate_limit_allowed_metric", "litellm_api_key_rate_limit_used_metric",
        "litellm_team_rate_limit_allowed_metric", "litellm_team_rate_limit_used_metric",
        "litellm_project_model_rate_limit_allowed_metric",
        "litellm_project_model_rate_limit_used_metric"),
    # ... _set_virtual_key_rate_limit_metrics: a key's remaining requests and tokens.
    "_set_virtual_key_rate_limit_metrics": (
        "litellm_remaining_api_key_requests_for_model",
        "litellm_remaining_api_key_tokens_for_model"),
}
"""{PrometheusLogger method run on every success: the only series it writes}. LiteLLM 1.108.7
builds every label of these series before `prometheus_metrics_config` turns the write into a
no-op (about half of the `prometheus` callback's CPU, benchmark/router_profile.md)."""


def _skip_when_filtered(name: str):
    def method(self, *args, **kwargs):
        if name not in self.skipped_writers:
            getattr(PrometheusLogger, name)(self, *args, **kwargs)
    method.__name__ = name
    return method


class Metrics(PrometheusLogger):
    """LiteLLM's `prometheus` callback, serving the same /metrics, that skips the writers of
    FILTERED_WRITERS when the filter drops every series they write."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.skipped_writers = frozenset(
            name for name, series in FILTERED_WRITERS.items()
            if not any(self._is_metric_enabled(s) for s in series))


for _writer in FILTERED_WRITERS:
    setattr(Metrics, _writer, _skip_when_filtered(_writer))


# The one place LiteLLM builds the `prometheus` callback from its name: litellm/
# litellm_core_utils/litellm_logging.py `_init_custom_logger_compatible_class`, through
# `_get_cached_prometheus_logger`, on the first request, after the config loaded this module
# (`custom_auth`, `callbacks`). /metrics stays mounted by the name "prometheus" (proxy/
# common_utils/callback_utils.py initialize_callbacks_on_proxy). Only while nothing is cached:
# LiteLLM loads this file once per config entry, and a class swapped after an instance exists
# would make it build a second one.
if litellm_logging._PrometheusLogger is None:
    litellm_logging._PrometheusLogger = Metrics


class Services(PrometheusServicesLogger):
    """LiteLLM's `prometheus_system` service callback without its observations of every
    successful Redis call and request (litellm/integrations/prometheus_services.py
    `async_service_success_hook`: a latency histogram and a request counter per service, read
    by no alert, 1 % of the router's CPU). What the limiter alert reads stays: the Redis
    breaker's gauge, refreshed on each breaker transition (`redis_breaker_hook`), and the
    failure counters (`async_service_failure_hook`)."""

    async def async_service_success_hook(self, payload):
        return None


# LiteLLM builds `prometheus_system` loggers from this module global (litellm/_service_logger.py
# ServiceLogging.__init__ and `init_prometheus_services_logger_if_none`), lazily for the
# limiter's Redis: it is built before `service_callback` is read (proxy_server.py
# ProxyConfig.load_config: coordination Redis, then litellm_settings), so its logger comes on
# its first Redis call, after this module loaded. Swapped once only (LiteLLM loads this file
# once per config entry).
if _service_logger.PrometheusServicesLogger is PrometheusServicesLogger:
    _service_logger.PrometheusServicesLogger = Services
