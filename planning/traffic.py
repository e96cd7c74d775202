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
from typing import Literal, Optional

from pydantic import ConfigDict, Field, field_validator, model_validator
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
    """An OpenAI-compatible cloud API; its key only from a Secret."""

    name: str = Field(pattern=NAME, max_length=30)
    api_base: str = Field(pattern=r"^https://[^\s/]+(/\S*)?$",
                          description="https URL of the OpenAI-compatible API, e.g. "
                                      "https://api.openai.com/v1")
    api_key_secret: KeyRef


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


class RedisConfig(_Model):
    """An existing Redis the router replicas share limit counters through."""

    host: str = Field(min_length=1)
    port: int = Field(default=6379, gt=0, le=65535)
    password_secret: Optional[KeyRef] = None


class RouterConfig(_Model):
    """The LiteLLM proxy Deployment."""

    replicas: int = Field(default=1, ge=1, le=20)
    image_tag: str = Field(default=f"main-v{LITELLM_VERSION}",
                           description="Tag of ghcr.io/berriai/litellm; must name "
                                       f"{LITELLM_VERSION}")
    image_digest: Optional[str] = Field(
        default=None, pattern=r"^sha256:[0-9a-f]{64}$",
        description="Pinned digest of the tag; when unset it is resolved from the registry "
                    "at `pulumi up` (never invented)")
    cpu: str = "1"
    memory_mi: int = Field(default=1024, ge=512)
    redis: Optional[RedisConfig] = None
    queue_seconds: int = Field(default=60, ge=0, le=600,
                               description="How long a request may wait for the engine "
                                           "before it starts (vLLM's queue)")
    cooldown_seconds: int = Field(default=30, ge=1, le=600,
                                  description="How long a failing deployment is skipped")

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
        if self.router.replicas > 1 and self.router.redis is None:
            problems.append(
                f"traffic.router.replicas is {self.router.replicas} without traffic.router."
                "redis: each replica would count limits on its own, letting a client through "
                f"{self.router.replicas} times its limit; set traffic.router.redis.host, or "
                "replicas: 1")
        if problems:
            raise ValueError("; ".join(problems))
        return self


# ------------------------------------------------------------------ derived numbers

BYTES_PER_TOKEN = 6
"""Worst case of a prompt token on the wire: ~4 bytes of English, but CJK text sent as
`\\uXXXX` escapes takes 6+ bytes a character (reference/gateway.md §5.2)."""
JSON_OVERHEAD_BYTES = 64 * 1024
"""Roles, tool schemas and parameters around the prompt."""
EDGE_MARGIN_SECONDS = 10
"""The edge waits longer than the router, so the router's clear error reaches the client."""
GRACE_MARGIN_SECONDS = 15


def max_body_bytes(max_model_len: int) -> int:
    """Largest request body = maxModelLen × 6 bytes per token + 64 KiB of JSON, in whole KiB.

    Example (prod, 32,768 tokens): 32,768 × 6 + 65,536 = 262,144 bytes (256 KiB) — eight times
    Envoy's 32 KiB default, which answers 413 to any long prompt.
    """
    return math.ceil((max_model_len * BYTES_PER_TOKEN + JSON_OVERHEAD_BYTES) / 1024) * 1024


def router_timeout_seconds(longest_request_seconds: int, queue_seconds: int) -> int:
    """The router's total request timeout = the longest request + its wait in vLLM's queue.

    Example (prod): 338 s (10 + 8,192 × 40 ms) + 60 s = 398 s.
    """
    return longest_request_seconds + queue_seconds


def stream_idle_seconds(prefill_seconds: int, queue_seconds: int) -> int:
    """Longest silence on a stream = queue wait + prefill of a max-length prompt (the time to
    first token; later tokens come every few tens of ms).

    Example (prod): 60 + 10 = 70 s.
    """
    return queue_seconds + prefill_seconds


def edge_timeout_seconds(router_timeout: int) -> int:
    """The route's request timeout = the router's + 10 s.

    Example (prod): 398 + 10 = 408 s; Envoy Gateway's default (15 s) would cut every long
    stream.
    """
    return router_timeout + EDGE_MARGIN_SECONDS


def router_grace_seconds(pre_stop_seconds: int, router_timeout: int) -> int:
    """terminationGracePeriodSeconds of a router pod = preStop + the router timeout + 15 s, so
    a draining router finishes its longest stream.

    Example (prod): 15 + 398 + 15 = 428 s.
    """
    return pre_stop_seconds + router_timeout + GRACE_MARGIN_SECONDS


@dataclasses.dataclass(frozen=True)
class TrafficPlan:
    """The traffic layer's derived figures (seconds and bytes)."""

    max_body_bytes: int
    router_timeout_seconds: int
    stream_idle_seconds: int
    edge_timeout_seconds: int
    router_grace_seconds: int
    pre_stop_seconds: int
    longest_request_seconds: int


def derive(traffic: TrafficConfig, max_model_len: int, longest_request_seconds: int,
           prefill_seconds: int, pre_stop_seconds: int) -> TrafficPlan:
    """Every derived number of the traffic layer, from the model and the engine's plan."""
    router_timeout = router_timeout_seconds(longest_request_seconds, traffic.router.queue_seconds)
    return TrafficPlan(
        max_body_bytes=max_body_bytes(max_model_len),
        router_timeout_seconds=router_timeout,
        stream_idle_seconds=stream_idle_seconds(prefill_seconds, traffic.router.queue_seconds),
        edge_timeout_seconds=edge_timeout_seconds(router_timeout),
        router_grace_seconds=router_grace_seconds(pre_stop_seconds, router_timeout),
        pre_stop_seconds=pre_stop_seconds, longest_request_seconds=longest_request_seconds)


def problems(traffic: TrafficConfig, engine_max_tokens: int) -> list[str]:
    """What the traffic config contradicts in the engine's config (empty when it fits)."""
    if not traffic.enabled:
        return []
    return [f"traffic.aliases {alias.name!r}: maxTokens {alias.max_tokens} is over "
            f"shutdown.maxTokens ({engine_max_tokens}), from which the timeouts and the drain "
            "are derived, so such a request could be cut; lower the alias's maxTokens or raise "
            "shutdown.maxTokens"
            for alias in traffic.aliases if alias.local and alias.max_tokens > engine_max_tokens]
