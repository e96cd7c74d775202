"""The traffic layer's typed config (`vllm-serving:traffic`) and its derived numbers (pure).

In front of the engine: a LiteLLM router (model aliases, a key per client, per-client limits,
max-tokens caps, local first then cloud) behind a Gateway API route (TLS at the listener;
Envoy Gateway policies for the body limit and timeouts). The numbers the edge and the router
need come from the model and the plan, each in one function below whose docstring shows the
arithmetic: the body limit from `model.maxModelLen`, the timeouts from the longest request.

Kept apart from `planning/config.py` (which only adds the `traffic` field), so the two evolve
independently; `derive(...)` is called by `__main__.py` with the plan's figures.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Literal, Optional, Union

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic.alias_generators import to_camel

from planning.strict import NoBoolForNumbers

LITELLM_VERSION = "1.108.7"
"""The router's LiteLLM release (PyPI `litellm[proxy]` in tests, the image tag in the cluster)."""
COMPROMISED_LITELLM = ("1.82.7", "1.82.8")
"""Releases that shipped a credential stealer (BerriAI/litellm#24512): never run them."""
ROUTER_IMAGE = "ghcr.io/berriai/litellm"
ROUTER_PORT = 4000
NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ALIAS = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
"""A model alias clients send as `model` (e.g. internal-default, gpt-5.5)."""


class _Model(NoBoolForNumbers):
    """camelCase keys, unknown keys rejected, no boolean where a number belongs (like
    planning/config.py's models)."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True,
                              frozen=True)


class KeyRef(_Model):
    """A key in an existing Kubernetes Secret in the stack's namespace."""

    name: str = Field(pattern=NAME, max_length=63)
    # IsConfigMapKey, as the API server checks a secretKeyRef (facts/k8s_names.py).
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class ClientConfig(_Model):
    """One client of the router: its key (generated, or an existing Secret) and its limits."""

    name: str = Field(pattern=NAME, max_length=40)
    requests_per_minute: int = Field(gt=0, le=100_000)
    tokens_per_minute: int = Field(gt=0)
    existing_secret: Optional[KeyRef] = None
    key_version: int = Field(default=1, ge=1, description="Raise it to rotate a generated key")


class ProviderConfig(_Model):
    """An OpenAI-compatible cloud API. Its key: a `pulumi config set --secret` value
    (`trafficSecrets.providers.<name>`, the program makes the Secret) or an existing Secret
    (`apiKeySecret`); exactly one (`secret_problems`)."""

    name: str = Field(pattern=NAME, max_length=30)
    api_base: str = Field(pattern=r"^https://[^\s/]+(/\S*)?$",
                          description="https URL of the OpenAI-compatible API, e.g. "
                                      "https://api.openai.com/v1")
    api_key_secret: Optional[KeyRef] = None


class CloudTarget(_Model):
    """A provider and the model name it knows."""

    provider: str
    model: str = Field(min_length=1)


class AliasConfig(_Model):
    """A model name clients ask for: the local engine first (when `local`), then each cloud
    target in order, on connection failure, 429 or 5xx before the first streamed byte."""

    name: str = Field(pattern=ALIAS)
    local: bool = True
    cloud: list[CloudTarget] = Field(default_factory=list)
    max_tokens: int = Field(default=4096, gt=0,
                            description="Cap on max_tokens; also filled in when a request "
                                        "asks for none")

    @model_validator(mode="after")
    def _serves_something(self) -> "AliasConfig":
        if not self.local and not self.cloud:
            raise ValueError(f"alias {self.name!r} has local: false and no cloud targets, so "
                             "nothing could serve it; set local: true or list cloud targets")
        return self


REDIS_IMAGE = ("docker.io/library/redis:7.2.11@sha256:"
               "76dc61f6ca42748060aa86080ef8393d0c118660db0a1dead26c2b8e94bf601b")
"""The Redis the program deploys: the official image's 7.2.11 index (every platform), as
docker-library/repo-info lists it (`repos/redis/remote/7.2.11.md`, seen in the mirror
maxmood96/repo-info at 0e48a8e0dd486653f8b495b4b082fb8a626dbe37). 7.2 is the last BSD-licensed
line; 7.2.11 carries the fix for CVE-2025-49844. The tests run Debian's redis-server (7.0) with
the same rendered redis.conf."""
REDIS_VERSION = "7.2.11"
REDIS_PORT = 6379


class RedisConfig(_Model):
    """Where the router replicas share their limit counters.

    Without `host` the program deploys a Redis of its own (password generated, no persistence,
    reachable only from the router); with `host`, an existing Redis (e.g. a managed one)."""

    host: Optional[str] = Field(default=None, min_length=1)
    port: int = Field(default=REDIS_PORT, gt=0, le=65535)
    password_secret: Optional[KeyRef] = Field(
        default=None, description="External Redis only: its password in an existing Secret "
                                  "(or set trafficSecrets.redisPassword)")
    memory_mi: int = Field(default=128, ge=32, le=65536,
                           description="Deployed Redis only: its memory request and limit")
    cpu: str = Field(default="250m", pattern=r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$",
                     description="Deployed Redis only: its CPU request and limit")

    @property
    def external(self) -> bool:
        return self.host is not None

    @model_validator(mode="after")
    def _one_kind(self) -> "RedisConfig":
        sized = sorted({"memory_mi", "cpu"} & self.model_fields_set)
        if self.host is not None and sized:
            raise ValueError(f"{', '.join(to_camel(k) for k in sized)} size the Redis the "
                             f"program deploys, but host is set ({self.host!r}: an existing "
                             "Redis); remove them, or remove host to deploy one")
        if self.host is None and self.password_secret is not None:
            raise ValueError("passwordSecret is for an existing Redis (set host); the Redis "
                             "the program deploys gets a generated password: remove "
                             "passwordSecret")
        if self.host is None and "port" in self.model_fields_set and self.port != REDIS_PORT:
            raise ValueError(f"port is for an existing Redis (set host); the Redis the program "
                             f"deploys listens on {REDIS_PORT}: remove port")
        return self


class RouterConfig(_Model):
    """The LiteLLM proxy Deployment."""

    replicas: int = Field(default=1, ge=1, le=20)
    image_tag: str = Field(default=f"main-v{LITELLM_VERSION}",
                           description="Tag of ghcr.io/berriai/litellm; must name "
                                       f"{LITELLM_VERSION}")
    image_digest: Optional[str] = Field(
        default=None, pattern=r"^sha256:[0-9a-f]{64}$",
        description="Pinned digest of the tag (required with production); when unset the "
                    "tag runs as written, never looked up (planning/pins.py)")
    cpu: str = "1"
    memory_mi: int = Field(default=1024, ge=512)
    redis: Optional[RedisConfig] = None
    queue_seconds: int = Field(default=60, ge=0, le=600,
                               description="How long a request may wait for the engine "
                                           "before it starts (vLLM's queue)")
    cooldown_seconds: int = Field(default=30, ge=1, le=600,
                                  description="How long a failing deployment is skipped")

    def shared_redis(self) -> Optional[RedisConfig]:
        """The Redis the replicas count limits in: the configured one; with more than one
        replica and none configured, one the program deploys (each replica counting alone
        would let a client through `replicas` times its limit); with one replica and none
        configured, none (one process counts exactly)."""
        if self.redis is not None:
            return self.redis
        return RedisConfig() if self.replicas > 1 else None

    @field_validator("image_tag")
    @classmethod
    def _tag_names_the_version(cls, tag: str) -> str:
        if LITELLM_VERSION not in tag or any(bad in tag for bad in COMPROMISED_LITELLM):
            raise ValueError(f"must be a tag of LiteLLM {LITELLM_VERSION} (the version the "
                             f"tests run), e.g. main-v{LITELLM_VERSION}; never "
                             f"{' or '.join(COMPROMISED_LITELLM)}, which were malicious")
        return tag


class ParentRef(_Model):
    """A Gateway (and listener) the route attaches to."""

    name: str = Field(pattern=NAME, max_length=253)
    namespace: Optional[str] = Field(default=None, pattern=NAME)
    section_name: Optional[str] = Field(default=None, pattern=NAME)


class TlsConfig(_Model):
    """The listener's certificate: from a cert-manager issuer, or an existing TLS Secret."""

    issuer: Optional[str] = Field(default=None, pattern=NAME)
    issuer_kind: Literal["ClusterIssuer", "Issuer"] = "ClusterIssuer"
    existing_secret: Optional[str] = Field(default=None, pattern=NAME)

    @model_validator(mode="after")
    def _one_source(self) -> "TlsConfig":
        if (self.issuer is None) == (self.existing_secret is None):
            raise ValueError("set exactly one of gateway.tls.issuer (a cert-manager "
                             "ClusterIssuer or Issuer) or gateway.tls.existingSecret (a "
                             "kubernetes.io/tls Secret in the stack's namespace)")
        return self


class GatewayConfig(_Model):
    """The edge: an HTTPRoute on a Gateway (the cluster's, or one the program creates)."""

    hostnames: list[str] = Field(min_length=1)
    create: bool = Field(default=False, description="Create a Gateway with an HTTPS "
                                                    "listener in the stack's namespace")
    # A GatewayClass name: a DNS-1123 subdomain (Gateway API ObjectName).
    class_name: str = Field(default="envoy-gateway", min_length=1, max_length=253,
                            pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                                    r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    envoy_gateway: bool = Field(default=True, description="The class is Envoy Gateway: add "
                                                          "its body-limit and timeout policies")
    parent_refs: list[ParentRef] = Field(default_factory=list)
    tls: Optional[TlsConfig] = None
    requests_per_minute_per_ip: Optional[int] = Field(
        default=None, gt=0, description="Envoy Gateway local rate limit per client address")

    @field_validator("hostnames")
    @classmethod
    def _hostnames(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not re.fullmatch(
            r"(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+", n)]
        if bad:
            raise ValueError(f"{bad} are not DNS names (e.g. llm.example.com)")
        return names

    @model_validator(mode="after")
    def _attached(self) -> "GatewayConfig":
        if self.create and self.parent_refs:
            raise ValueError("gateway.create is true, so the route attaches to the Gateway the "
                             "program creates; remove gateway.parentRefs (or set create: false "
                             "to attach to the cluster's Gateway)")
        if not self.create and not self.parent_refs:
            raise ValueError("gateway.parentRefs is empty: name the cluster's Gateway (and "
                             "listener) the route attaches to, or set gateway.create: true")
        if self.create and self.tls is None:
            raise ValueError("gateway.create is true: set gateway.tls.issuer (cert-manager) or "
                             "gateway.tls.existingSecret for the HTTPS listener")
        if not self.create and self.tls is not None:
            raise ValueError("gateway.tls configures the listener the program creates; with "
                             "create: false TLS is the cluster Gateway's; remove gateway.tls")
        return self


class TrafficConfig(_Model):
    """`vllm-serving:traffic`: off by default (the engine stays an internal Service)."""

    enabled: bool = False
    router: RouterConfig = Field(default_factory=RouterConfig)
    clients: list[ClientConfig] = Field(default_factory=list)
    providers: list[ProviderConfig] = Field(default_factory=list)
    aliases: list[AliasConfig] = Field(default_factory=list)
    gateway: Optional[GatewayConfig] = None
    bytes_per_token: Optional[float] = Field(
        default=None, gt=0, le=64, description="Measured request-body bytes per prompt token "
        "(body ÷ prompt_tokens of the stack's largest real prompts); unset, "
        "12 bytes are assumed (ASSUMED_BYTES_PER_TOKEN)")

    @field_validator("bytes_per_token", mode="before")
    @classmethod
    def _not_a_flag(cls, value):
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number of bytes; write a measured figure "
                             "such as 7.5, or leave the key out for the assumed 12")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "TrafficConfig":
        if not self.enabled:
            ignored = sorted(TrafficConfig.model_fields[name].alias or name
                             for name in self.model_fields_set - {"enabled"})
            if ignored:
                # A block that says what to deploy but is switched off would deploy nothing
                # without a word; say so instead of guessing which of the two was meant.
                raise ValueError(
                    "traffic.enabled is false, so " + ", ".join(f"traffic.{k}" for k in ignored)
                    + " would be ignored; set traffic.enabled: true to deploy the router and "
                    "the edge, or remove those keys")
            return self
        problems = []
        if not self.clients:
            problems.append("traffic.clients is empty, so no request could authenticate; add a "
                            "client (name, requestsPerMinute, tokensPerMinute)")
        if not self.aliases:
            problems.append("traffic.aliases is empty; add one, e.g. {name: internal-default, "
                            "local: true}")
        for label, names in (("clients", [c.name for c in self.clients]),
                             ("providers", [p.name for p in self.providers]),
                             ("aliases", [a.name for a in self.aliases])):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                problems.append(f"traffic.{label}: {repeated} appear more than once")
        known = {p.name for p in self.providers}
        for alias in self.aliases:
            for target in alias.cloud:
                if target.provider not in known:
                    problems.append(
                        f"traffic.aliases {alias.name!r}: provider {target.provider!r} is not "
                        f"in traffic.providers ({sorted(known) or 'none'}); add it there")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Encrypted(_Model):
    """A `secure:` value as the stack file holds it (the plan and render tools cannot decrypt
    it; the Pulumi CLI hands the program the plain text)."""

    secure: str = Field(min_length=1)


SecretText = Union[SecretStr, Encrypted]


class TrafficSecrets(_Model):
    """`vllm-serving:trafficSecrets`: keys the router needs, from `pulumi config set --secret
    --path trafficSecrets.providers.<provider> <key>` and `... trafficSecrets.redisPassword
    <password>` (an existing Redis). The program makes a Secret of each, so no router pod waits
    on a Secret someone had to create by hand. Kept out of `traffic`: a config error there
    quotes the value given, and must never quote a key."""

    providers: dict[str, SecretText] = Field(default_factory=dict)
    redis_password: Optional[SecretText] = None


def secret_problems(traffic: "TrafficConfig", secrets: TrafficSecrets) -> list[str]:
    """Where the router's keys come from: each provider from exactly one of
    trafficSecrets.providers.<name> and apiKeySecret; a Redis password only for an existing
    Redis, from one place."""
    if not traffic.enabled:
        return []
    out = []
    names = {p.name for p in traffic.providers}
    for provider in traffic.providers:
        given = provider.name in secrets.providers
        if given and provider.api_key_secret is not None:
            out.append(f"traffic.providers {provider.name!r}: the key is set twice, in "
                       f"trafficSecrets.providers.{provider.name} and in apiKeySecret; keep one")
        elif not given and provider.api_key_secret is None:
            out.append(f"traffic.providers {provider.name!r} has no key: run `pulumi config "
                       f"set --secret --path trafficSecrets.providers.{provider.name} <key>` "
                       "(the program makes the Secret), or name an existing Secret with "
                       "apiKeySecret {name, key}")
    for unknown in sorted(set(secrets.providers) - names):
        out.append(f"trafficSecrets.providers.{unknown}: no provider of that name in "
                   f"traffic.providers ({sorted(names) or 'none'}); remove it or fix the name")
    redis = traffic.router.shared_redis()
    if secrets.redis_password is not None:
        if redis is None or not redis.external:
            out.append("trafficSecrets.redisPassword is for an existing Redis "
                       "(traffic.router.redis.host); the Redis the program deploys gets a "
                       "generated password: remove it")
        elif redis.password_secret is not None:
            out.append("the Redis password is set twice, in trafficSecrets.redisPassword and "
                       "in traffic.router.redis.passwordSecret; keep one")
    return out


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
        "cloud attempt": (f"an alias falls back from the engine to the cloud: the router's "
                          f"timeout {local} s" if cloud else "no alias falls back to the cloud: 0"),
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


def for_stack(cfg, plan) -> TrafficPlan:
    """`derive` with a stack's config and engine plan (what `__main__` and `tools.plan` use)."""
    return derive(cfg.traffic, cfg.model.max_model_len, plan.drain.longest_request_seconds,
                  cfg.shutdown.prefill_seconds, cfg.shutdown.pre_stop_seconds,
                  cfg.probes.period_seconds)


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
             f"{PROBE_PERIOD_SECONDS} s⌉ = {plan.router_startup_failures} probes")]
    if redis is None:
        rows.append(("limit counters", "in the router process",
                     "one replica counts exactly; set traffic.router.redis to share them"))
        return rows
    rows.append(("Redis stall", f"{stall} s at the most",
                 f"{REDIS_STARTUP_CALLS} blocking calls × {REDIS_ATTEMPTS} attempts × "
                 f"(socket timeout {REDIS_SOCKET_TIMEOUT_SECONDS} s + backoff "
                 f"{REDIS_BACKOFF_CAP_SECONDS} s)"))
    if redis.external:
        rows.append(("limit counters", f"existing Redis {redis.host}:{redis.port}",
                     "traffic.router.redis.host"))
    else:
        rows.append(("limit counters",
                     f"deployed Redis, maxmemory {plan.redis_maxmemory_mib} MiB",
                     f"memoryMi {redis.memory_mi} × {REDIS_MEMORY_SHARE} = "
                     f"{plan.redis_maxmemory_mib} MiB, allkeys-lru, no persistence"))
    return rows


def problems(traffic: TrafficConfig, engine_max_tokens: int) -> list[str]:
    """What the traffic config contradicts in the engine's config (empty when it fits)."""
    if not traffic.enabled:
        return []
    return [f"traffic.aliases {alias.name!r}: maxTokens {alias.max_tokens} is over "
            f"shutdown.maxTokens ({engine_max_tokens}), from which the timeouts and the drain "
            "are derived, so such a request could be cut; lower the alias's maxTokens or raise "
            "shutdown.maxTokens"
            for alias in traffic.aliases if alias.local and alias.max_tokens > engine_max_tokens]
