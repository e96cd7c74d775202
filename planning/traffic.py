"""The traffic layer's derived numbers (pure), beside its typed config (`vllm-serving:traffic`).

In front of the engine: a LiteLLM router (model aliases, a key per client, per-client limits,
max-tokens caps, local first then cloud) behind a Gateway API route (TLS at the listener;
Envoy Gateway policies for the body limit and timeouts). The numbers the edge and the router
need come from the model and the plan, each in one function below whose docstring shows the
arithmetic: the body limit from `model.maxModelLen`, the timeouts from the longest request.

The models are declared in `planning/config/traffic.py` (config is declared once) and re-exported
here for the modules that read them beside the numbers; `traffic_layer` is a step of
`make_plan` (planning/plan.py), so the figures are `plan.traffic` and their problems are checked
with the plan's (planning/checks.py).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from planning import admission, wake

from planning.config.traffic import (  # noqa: F401 - re-exported: callers read them here
    LITELLM_VERSION, COMPROMISED_LITELLM, ROUTER_IMAGE, ROUTER_PORT, NAME, ALIAS, ClientConfig,
    ProviderConfig, CloudTarget, AliasConfig, REDIS_IMAGE, REDIS_VERSION, REDIS_PORT,
    RedisConfig, RouterConfig, ParentRef, TlsConfig, GatewayConfig, TrafficConfig, Encrypted,
    SecretText, TrafficSecrets, secret_problems)
from planning.config import StackConfig
from planning.timing import Drain
from planning import admission, router_sizing, wake
from planning.router_sizing import RouterSizing


# ------------------------------------------------------------------ derived numbers

ASSUMED_BYTES_PER_TOKEN = 12
"""Bytes a prompt token takes on the wire when `traffic.bytesPerToken` is not measured: ~4
for English, but a token of CJK text is one or two characters and JSON escapes each as
`\\uXXXX` (6 bytes), so 12. Conservative, not a bound: a run of repeated punctuation can be
one token of 16 characters; measure with the stack's own prompts (README, "The traffic
layer")."""
BYTES_PER_TOKEN = ASSUMED_BYTES_PER_TOKEN
"""The old name of the assumed figure."""
JSON_OVERHEAD_BYTES = 64 * 1024
"""Roles, tool schemas and parameters around the prompt."""
EDGE_MARGIN_SECONDS = 10
"""The edge waits longer than the router, so the router's clear error reaches the client."""
GRACE_MARGIN_SECONDS = 15
CLIENT_MAX_RETRY_AFTER_SECONDS = 120
"""The OpenAI SDK waits out a Retry-After of at most 120 s and does not retry at all above it
(openai-python `_constants.py` MAX_RETRY_AFTER_DELAY, `_base_client.py` `_should_retry`)."""
PROBE_PERIOD_SECONDS = 10
"""periodSeconds of the router's probes (rendering/router.py)."""


def max_body_bytes(max_model_len: int, bytes_per_token: float = ASSUMED_BYTES_PER_TOKEN) -> int:
    """Largest request body = maxModelLen × bytes per token + 64 KiB of JSON, in whole KiB.

    Example (prod, 32,768 tokens, 12 bytes assumed): 32,768 × 12 + 65,536 = 458,752 bytes
    (448 KiB) — fourteen times Envoy's 32 KiB default, which answers 413 to any long prompt.
    """
    return math.ceil((max_model_len * bytes_per_token + JSON_OVERHEAD_BYTES) / 1024) * 1024


def router_timeout_seconds(longest_request_seconds: int, queue_seconds: int) -> int:
    """The router's timeout for one attempt = the longest request + its wait in vLLM's queue.

    Example (prod): 338 s (10 + 8,192 × 40 ms) + 60 s = 398 s.
    """
    return longest_request_seconds + queue_seconds


def stream_idle_seconds(prefill_seconds: int, queue_seconds: int) -> int:
    """The router's stream timeout: longest wait for the first streamed byte = queue wait +
    prefill of a max-length prompt (later tokens come every few tens of ms).

    Example (prod): 60 + 10 = 70 s.
    """
    return queue_seconds + prefill_seconds


def cloud_attempt_seconds(traffic: TrafficConfig, router_timeout: int) -> int:
    """How long the router may spend on the cloud after the local attempt failed: its timeout
    for the cloud deployment when an alias falls back from the engine to the cloud, else 0.

    Example (prod, internal-default: local then cloud): 398 s.
    """
    falls_back = any(alias.local and alias.cloud for alias in traffic.aliases)
    return router_timeout if falls_back else 0


def edge_timeout_seconds(local_attempt: int, cloud_attempt: int = 0) -> int:
    """The route's request timeout = the local attempt + the cloud attempt after it + 10 s, so
    a fallback that starts when the local attempt times out still reaches the client.

    Example (prod): 398 + 398 + 10 = 806 s; Envoy Gateway's default (15 s) would cut every long
    stream.
    """
    return local_attempt + cloud_attempt + EDGE_MARGIN_SECONDS


def edge_idle_seconds(edge_timeout: int) -> int:
    """The route's idle timeout = its request timeout. The router sends no byte, not even
    headers, until the engine (or the cloud) answers, so a non-streamed request is silent for
    its whole life, and when the route's idle timer fires first Envoy answers 504 "stream
    timeout" (408 while the request body is still arriving: envoy conn_manager_impl.cc
    `onIdleTimeout`, utility.cc `maybeRequestTimeoutCode`); Envoy Gateway makes
    `streamIdleTimeout` that timer (internal/xds/translator/route.go `idleTimeout`). A stalled
    stream is the router's to cut (its stream timeout), not the edge's.

    Example (prod): 806 s.
    """
    return edge_timeout


def router_grace_seconds(pre_stop_seconds: int, router_timeout: int,
                         cloud_attempt: int = 0) -> int:
    """terminationGracePeriodSeconds of a router pod = preStop + the local attempt + the cloud
    attempt after it + 15 s, so a draining router finishes its longest request, fallback
    included.

    Example (prod): 15 + 398 + 398 + 15 = 826 s.
    """
    return pre_stop_seconds + router_timeout + cloud_attempt + GRACE_MARGIN_SECONDS


def engine_retry_after_seconds(readiness_period_seconds: int) -> int:
    """Retry-After of the 503 a local-only alias answers while the engine is down or rolling =
    the engine's readiness probe period (an engine that is ready again joins the Service within
    one period, so no retry sooner can find it), at most 120 s (above that the OpenAI SDK does
    not retry at all).

    Example (prod): min(10, 120) = 10 s.
    """
    return min(readiness_period_seconds, CLIENT_MAX_RETRY_AFTER_SECONDS)


REDIS_SOCKET_TIMEOUT_SECONDS = 1
"""The router's Redis read and connect timeout (`socket_timeout`, `socket_connect_timeout` in
`coordination_redis`). An in-cluster Redis answers a counter update in well under a
millisecond; LiteLLM's default (5 s, `litellm/constants.py` REDIS_SOCKET_TIMEOUT) turns a Redis
that accepts but never answers into a 130 s start-up (measured)."""
REDIS_ATTEMPTS = 11
"""redis-py 8.2 retries a timed-out call 10 times (`redis/client.py` `Redis.__init__`: default
`retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=1), 10)`); the config cannot change it
(LiteLLM's `_redis.py` keeps `retry` out of the kwargs it passes on)."""
REDIS_BACKOFF_CAP_SECONDS = 1
REDIS_STARTUP_CALLS = 2
"""Calls that block the router's start-up: LiteLLM's `RedisCache.__init__`
(`litellm/caching/redis_cache.py`) runs a synchronous `info()` and, in `_setup_health_pings`,
a synchronous `ping()`, before the app answers /health/liveliness."""
ROUTER_IMPORT_SECONDS = 120
"""Start-up allowance without Redis: LiteLLM imports its whole proxy (about 10 s measured on a
shared two-core machine); two minutes for a slow node."""
REDIS_MEMORY_SHARE = 0.75
"""maxmemory as a share of the deployed Redis's memory limit: the rest for client buffers,
Lua and allocator fragmentation, so Redis evicts before the kubelet kills it."""


def redis_stall_seconds(socket_timeout: int = REDIS_SOCKET_TIMEOUT_SECONDS) -> int:
    """Longest a Redis that accepts but never answers holds the router's start-up = blocking
    calls × attempts × (socket timeout + largest backoff).

    Example: 2 × 11 × (1 + 1) = 44 s (measured: 47 s to live with 10 s of import; 130 s with
    LiteLLM's 5 s default timeout).
    """
    return REDIS_STARTUP_CALLS * REDIS_ATTEMPTS * (socket_timeout + REDIS_BACKOFF_CAP_SECONDS)


def router_startup_failures(uses_redis: bool, period_seconds: int) -> int:
    """failureThreshold of the router's startup probe = ⌈(import allowance + Redis stall when
    the router uses Redis) ÷ probe period⌉, so a Redis that hangs delays the router instead of
    crash-looping it.

    Example (prod, Redis): ⌈(120 + 44) / 10⌉ = 17 (170 s); without Redis ⌈120 / 10⌉ = 12.
    """
    stall = redis_stall_seconds() if uses_redis else 0
    return math.ceil((ROUTER_IMPORT_SECONDS + stall) / period_seconds)


def redis_maxmemory_mib(memory_mi: int) -> int:
    """The deployed Redis's maxmemory = its memory limit × 0.75, in whole MiB.

    Example (default 128 Mi): ⌊128 × 0.75⌋ = 96 MiB — room for about a million limit counters
    (a client uses a few keys a minute window).
    """
    return math.floor(memory_mi * REDIS_MEMORY_SHARE)


@dataclasses.dataclass(frozen=True)
class TrafficPlan:
    """The traffic layer's derived figures (seconds and bytes), each with its reason."""

    max_body_bytes: int
    router_timeout_seconds: int
    stream_idle_seconds: int
    edge_timeout_seconds: int
    router_grace_seconds: int
    pre_stop_seconds: int
    longest_request_seconds: int
    engine_retry_after_seconds: int
    cloud_attempt_seconds: int = 0
    edge_idle_seconds: int = 0
    bytes_per_token: float = ASSUMED_BYTES_PER_TOKEN
    reasons: dict = dataclasses.field(default_factory=dict)
    router_startup_failures: int = 12
    redis_maxmemory_mib: Optional[int] = None
    """Set when the program deploys the Redis."""
    router_sizing: Optional[RouterSizing] = None
    """The router's load at the engines' peak and the replicas it needs (router_sizing.py)."""
    client_in_flight: dict = dataclasses.field(default_factory=dict)
    """{client: requests it can have in flight} (router_sizing.client_in_flight)."""
    allowed_503s_per_minute: int = 1
    """503s the router takes from a deployment in a minute before cooling it down
    (planning/admission.py `with_router_admission`)."""


def derive(traffic: TrafficConfig, max_model_len: int, longest_request_seconds: int,
           prefill_seconds: int, pre_stop_seconds: int,
           readiness_period_seconds: int) -> TrafficPlan:
    """Every derived number of the traffic layer, from the model and the engine's plan; each
    reason is written from the same names as its arithmetic."""
    queue = traffic.router.queue_seconds
    per_token = traffic.bytes_per_token or ASSUMED_BYTES_PER_TOKEN
    measured = "measured" if traffic.bytes_per_token else "assumed"
    body = max_body_bytes(max_model_len, per_token)
    local = router_timeout_seconds(longest_request_seconds, queue)
    first_byte = stream_idle_seconds(prefill_seconds, queue)
    cloud = cloud_attempt_seconds(traffic, local)
    edge = edge_timeout_seconds(local, cloud)
    idle = edge_idle_seconds(edge)
    grace = router_grace_seconds(pre_stop_seconds, local, cloud)
    retry_after = engine_retry_after_seconds(readiness_period_seconds)
    redis = traffic.router.shared_redis()
    reasons = {
        "body limit": f"maxModelLen {max_model_len} × {per_token:g} bytes per token "
                      f"({measured}, traffic.bytesPerToken) + {JSON_OVERHEAD_BYTES} bytes of "
                      f"JSON = {body} bytes (whole KiB)",
        "router attempt": f"longest request {longest_request_seconds} + queue {queue} = {local} s",
        "router first byte": f"queue {queue} + prefill {prefill_seconds} = {first_byte} s",
        "cloud attempt": (f"an alias falls back from the engine to the cloud: = router "
                          f"attempt {local} s" if cloud
                          else "no alias falls back to the cloud: = 0 s"),
        "edge request": f"router attempt {local} + cloud attempt {cloud} + margin "
                        f"{EDGE_MARGIN_SECONDS} = {edge} s",
        "edge idle": f"= edge request {edge} s: the router sends no byte until an answer "
                     "starts, so a non-streamed request is silent throughout",
        "router grace": f"preStop {pre_stop_seconds} + router attempt {local} + cloud "
                        f"attempt {cloud} + margin {GRACE_MARGIN_SECONDS} = {grace} s",
        "engine retry-after": f"min(readiness period {readiness_period_seconds}, client "
                              f"retry cap {CLIENT_MAX_RETRY_AFTER_SECONDS}) = {retry_after} s",
    }
    return TrafficPlan(
        max_body_bytes=body, router_timeout_seconds=local, stream_idle_seconds=first_byte,
        edge_timeout_seconds=edge, router_grace_seconds=grace,
        pre_stop_seconds=pre_stop_seconds, longest_request_seconds=longest_request_seconds,
        engine_retry_after_seconds=retry_after,
        cloud_attempt_seconds=cloud, edge_idle_seconds=idle, bytes_per_token=per_token,
        reasons=reasons,
        router_startup_failures=router_startup_failures(redis is not None, PROBE_PERIOD_SECONDS),
        redis_maxmemory_mib=(redis_maxmemory_mib(redis.memory_mi)
                             if redis is not None and not redis.external else None))


def traffic_layer(cfg: StackConfig, drain: Drain, runnable_requests: int,
                  max_replicas: int, woken: Optional[wake.Wake] = None) -> Optional[TrafficPlan]:
    """The traffic step of `make_plan`: `derive` from the stack's config and the engine's drain
    (its longest request and preStop), the router sized for the engines' peak (every replica
    running its runnable requests), a local-only alias's Retry-After the wake time when the
    engine scales to zero, the router's 503 allowance (admission.py); None when
    `traffic.enabled` is false."""
    if not cfg.traffic.enabled:
        return None
    derived = derive(cfg.traffic, cfg.model.max_model_len, drain.longest_request_seconds,
                     cfg.shutdown.prefill_seconds, drain.pre_stop_seconds,
                     cfg.probes.period_seconds)
    derived = admission.with_router_admission(wake.with_wake_retry_after(derived, woken),
                                              cfg.traffic)
    return dataclasses.replace(
        derived, router_sizing=router_sizing.size(cfg, runnable_requests, max_replicas),
        client_in_flight=router_sizing.in_flight(cfg, derived.router_timeout_seconds))


def figures(plan: TrafficPlan) -> list[tuple[str, str, str]]:
    """(figure, value, reason) of every derived traffic number, in request order."""
    values = {"body limit": f"{plan.max_body_bytes} bytes ({plan.max_body_bytes // 1024} KiB)",
              "router attempt": f"{plan.router_timeout_seconds} s",
              "router first byte": f"{plan.stream_idle_seconds} s",
              "cloud attempt": f"{plan.cloud_attempt_seconds} s",
              "edge request": f"{plan.edge_timeout_seconds} s",
              "edge idle": f"{plan.edge_idle_seconds} s",
              "router grace": f"{plan.router_grace_seconds} s",
              "engine retry-after": f"{plan.engine_retry_after_seconds} s"}
    return [(name, value, plan.reasons.get(name, "")) for name, value in values.items()]


def assumed_inputs(per_token_ms: float, per_token_measured: bool,
                   traffic: TrafficConfig) -> list[tuple[str, str, str]]:
    """(config key, value, 'assumed' or 'measured') for the inputs the budgets rest on that the
    program cannot derive yet: decode time per output token and body bytes per token."""
    def state(measured: bool) -> str:
        return "measured" if measured else "assumed: measure it and set the key"
    per_token = traffic.bytes_per_token or ASSUMED_BYTES_PER_TOKEN
    return [("shutdown.perTokenMs", f"{per_token_ms:g} ms", state(per_token_measured)),
            ("traffic.bytesPerToken", f"{per_token:g} bytes",
             state(traffic.bytes_per_token is not None))]


def redis_rows(traffic: TrafficConfig, plan: TrafficPlan) -> list[tuple[str, str, str]]:
    """(figure, value, reason) of the router's start-up and its Redis, for tools/plan.py."""
    redis = traffic.router.shared_redis()
    stall = redis_stall_seconds() if redis is not None else 0
    rows = [("router start-up",
             f"{plan.router_startup_failures * PROBE_PERIOD_SECONDS} s startup probe",
             f"⌈(import {ROUTER_IMPORT_SECONDS} s + Redis stall {stall} s) / period "
             f"{PROBE_PERIOD_SECONDS} s⌉ = {plan.router_startup_failures} probes × "
             f"{PROBE_PERIOD_SECONDS} s = {plan.router_startup_failures * PROBE_PERIOD_SECONDS} s")]
    if redis is None:
        rows.append(("limit counters", "in the router process",
                     "one replica counts exactly; set traffic.router.redis to share them"))
        return rows
    rows.append(("Redis stall", f"{stall} s at the most",
                 f"{REDIS_STARTUP_CALLS} blocking calls × {REDIS_ATTEMPTS} attempts × "
                 f"(socket timeout {REDIS_SOCKET_TIMEOUT_SECONDS} s + backoff "
                 f"{REDIS_BACKOFF_CAP_SECONDS} s) = {stall} s"))
    if redis.external:
        rows.append(("limit counters", f"existing Redis {redis.host}:{redis.port}",
                     "traffic.router.redis.host"))
    else:
        rows.append(("limit counters",
                     f"deployed Redis, maxmemory {plan.redis_maxmemory_mib} MiB",
                     f"memoryMi {redis.memory_mi} × {REDIS_MEMORY_SHARE} = "
                     f"{plan.redis_maxmemory_mib} MiB, allkeys-lru, no persistence"))
    return rows
