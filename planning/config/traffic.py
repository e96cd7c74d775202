"""`traffic` and `trafficSecrets`: the router and gateway in front of the engine, as the
stack file declares them (planning/traffic.py derives their numbers)."""

from __future__ import annotations

import re
from typing import Literal, Optional, Union

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.alias_generators import to_camel

from planning.config.base import SecretRef, _Model


LITELLM_VERSION = "1.108.7"
"""The router's LiteLLM release (PyPI `litellm[proxy]` in tests, the image tag in the cluster)."""
COMPROMISED_LITELLM = ("1.82.7", "1.82.8")
"""Releases that shipped a credential stealer (BerriAI/litellm#24512): never run them."""
ROUTER_IMAGE = "ghcr.io/berriai/litellm"
ROUTER_PORT = 4000
NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ALIAS = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
"""A model alias clients send as `model` (e.g. internal-default, gpt-5.5)."""


class ClientConfig(_Model):
    """One client of the router: its key (generated, or an existing Secret) and its limits."""

    name: str = Field(pattern=NAME, max_length=40)
    requests_per_minute: int = Field(gt=0, le=100_000)
    tokens_per_minute: int = Field(gt=0)
    existing_secret: Optional[SecretRef] = None
    key_version: int = Field(default=1, ge=1, description="Raise it to rotate a generated key")


class ProviderConfig(_Model):
    """An OpenAI-compatible cloud API. Its key: a `pulumi config set --secret` value
    (`trafficSecrets.providers.<name>`, the program makes the Secret) or an existing Secret
    (`apiKeySecret`); exactly one (`secret_problems`)."""

    name: str = Field(pattern=NAME, max_length=30)
    api_base: str = Field(pattern=r"^https://[^\s/]+(/\S*)?$",
                          description="https URL of the OpenAI-compatible API, e.g. "
                                      "https://api.openai.com/v1")
    api_key_secret: Optional[SecretRef] = None


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
    password_secret: Optional[SecretRef] = Field(
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

    replicas: int = Field(default=1, ge=1, le=20,
        description="Replicas of the LiteLLM Deployment")
    image_tag: str = Field(default=f"main-v{LITELLM_VERSION}",
                           description="Tag of ghcr.io/berriai/litellm; must name "
                                       f"{LITELLM_VERSION}")
    image_digest: Optional[str] = Field(
        default=None, pattern=r"^sha256:[0-9a-f]{64}$",
        description="Pinned digest of the tag (required with production); when unset the "
                    "tag runs as written, never looked up (planning/pins.py)")
    cpu: str = Field(
        default="1",
        description="The router's CPU request and limit")
    memory_mi: int = Field(default=1024, ge=512,
        description="The router's memory request and limit, in MiB")
    redis: Optional[RedisConfig] = Field(
        default=None,
        description="Shared limit counters: memoryMi and cpu for a Redis the program deploys (the "
                    "default with replicas > 1), or host, port and passwordSecret of an existing "
                    "one (see \"The traffic layer\")")
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

    enabled: bool = Field(
        default=False,
        description="Put the router and the edge in front of the engine (see \"The traffic "
                    "layer\")")
    router: RouterConfig = Field(default_factory=RouterConfig)
    clients: list[ClientConfig] = Field(default_factory=list,
        description="Who may call, and their limits")
    providers: list[ProviderConfig] = Field(default_factory=list,
        description="Cloud OpenAI-compatible APIs (apiBase https; apiKeySecret unless "
                    "trafficSecrets.providers.<name> is set); keys only from Secrets")
    aliases: list[AliasConfig] = Field(default_factory=list,
        description="Model names clients send; local first, cloud in order")
    gateway: Optional[GatewayConfig] = Field(
        default=None,
        description="The edge: attach to the cluster's Gateway (parentRefs) or create one with "
                    "TLS (its releases: clusterVersions.envoyGateway, clusterVersions.gatewayApi)")
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

    providers: dict[str, SecretText] = Field(default_factory=dict,
        description="A provider's key (secret: pulumi config set --secret --path "
                    "trafficSecrets.providers.<provider> ...); the program makes the Secret")
    redis_password: Optional[SecretText] = Field(
        default=None,
        description="An existing Redis's password (secret: pulumi config set --secret --path "
                    "trafficSecrets.redisPassword ...); the program makes the Secret")


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
