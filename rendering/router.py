"""The LiteLLM router as plain data: its config.yaml, its settings file, its pod template.

Everything the router pod runs comes from here, and the tests start the real LiteLLM proxy with
exactly these files (only the upstream and Redis addresses pointed at test servers). Secrets
never appear in the config: LiteLLM reads `os.environ/<NAME>` values from the environment, which
the pod fills from Secrets (secretKeyRef); client keys are files of a Secret volume.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
from typing import Any, Optional

import yaml

from facts import conventions
from planning import admission
from planning.config import NetworkConfig
from planning.traffic import PROBE_PERIOD_SECONDS, REDIS_SOCKET_TIMEOUT_SECONDS, ROUTER_IMAGE, \
    ROUTER_PORT, Encrypted, TrafficConfig, TrafficPlan
from rendering import kube
from rendering import network as fence
from rendering import promql
from rendering.pod import container_security_context, pod_security_context

AUTH_MODULE = "vllm_serving_router"
AUTH_SOURCE = pathlib.Path(__file__).resolve().parents[1] / "router" / f"{AUTH_MODULE}.py"
GUARD_MODULE = "vllm_serving_guard"
GUARD_SOURCE = AUTH_SOURCE.with_name(f"{GUARD_MODULE}.py")
"""The ASGI wrapper in front of LiteLLM's app: the body limit before LiteLLM reads a body, the
key check before the body, the engine request closed when its client leaves."""
CONFIG_DIR = "/etc/litellm"
KEYS_DIR = "/var/run/vllm-serving/clients"
CLIENT_KEY_FILE = "api-key"
"""Each client's key is `<KEYS_DIR>/<client>/api-key` (router/vllm_serving_router.py)."""
CONTAINER = "router"
PORT_NAME = "http"
ENGINE_KEY_ENV = "VLLM_SERVING_ENGINE_KEY"
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
REDIS_PASSWORD_ENV = "VLLM_SERVING_REDIS_PASSWORD"
CHECKOV_WAIVERS = {
    "checkov.io/skip1": "CKV_K8S_35=LiteLLM reads the master, engine and provider keys only "
                        "from environment variables (os.environ/ references in its config); a "
                        "secretKeyRef keeps them out of the spec and the config",
}
"""On the router Deployment's metadata (tests/stacks/test_checkov.py lists the reason)."""
OFFLINE_ENV = {
    # The model cost map ships in the package; without this LiteLLM fetches it from GitHub at
    # start-up (and on every reload).
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "DO_NOT_TRACK": "1",
    "HOME": "/tmp",
}
"""Environment that keeps the router from reaching the internet at start-up (tests prove it
with a recording proxy)."""
GUARD_ENV = {
    # LiteLLM runs this hook in each worker's start-up, before the server accepts a connection
    # (litellm/proxy/proxy_server.py proxy_startup_event); it imports the guard from the
    # ConfigMap's directory, which is not on sys.path otherwise.
    "LITELLM_WORKER_STARTUP_HOOKS": f"{GUARD_MODULE}:install",
    "PYTHONPATH": CONFIG_DIR,
}

LIMITER_ENV = {
    # Count a client's tokens from each answer's usage instead of reserving input + max_tokens
    # before the request (litellm/proxy/hooks/parallel_request_limiter_v3.py:
    # `tpm_reservation_enabled` in `__init__`, read by `async_pre_call_hook`): the caps hook
    # fills in the alias's max_tokens, so a reservation capped a client's concurrency at
    # tokensPerMinute / maxTokens whatever it really used, and cost a Redis round trip.
    "LITELLM_TPM_TOKEN_RESERVATION_ENABLED": "false",
}
"""The router's limiter mode (planning/traffic.py client_in_flight says what it allows)."""
ALERT_SERIES = ("litellm_proxy_total_requests_metric", "litellm_proxy_failed_requests_metric",
                "litellm_request_queue_time_seconds")
"""The `prometheus` callback's series that alert_rules and the scale-to-zero wake trigger
read; LiteLLM makes the others no-ops when `prometheus_metrics_config` lists these
(litellm/integrations/prometheus.py `PrometheusLogger._parse_prometheus_config`, names from
types/integrations/prometheus.py).
The limiter alert's breaker series comes from `prometheus_system`, which this does not touch."""
LOG_CONFIG_FILE = "uvicorn-logging.json"
UVICORN_LOGGING = {
    "version": 1, "disable_existing_loggers": False,
    "formatters": {"default": {"()": "uvicorn.logging.DefaultFormatter",
                               "fmt": "%(levelprefix)s %(message)s", "use_colors": False}},
    "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "default",
                             "stream": "ext://sys.stderr"}},
    "loggers": {"uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
                "uvicorn.error": {"level": "INFO"},
                # No handler and no propagation: uvicorn's protocol then skips the access line
                # altogether (uvicorn/protocols/http/httptools_impl.py: access_log =
                # access_logger.hasHandlers()); LiteLLM passes no access_log switch.
                "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False}},
}
"""uvicorn's logging (`litellm --log_config`, uvicorn/config.py `configure_logging`): its own
default, the access log off (a line per request, and CPU, nobody reads)."""
ZERO_PRICING = {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}
"""The local engine costs nothing per token. Said explicitly in `model_info` (registered once
per deployment, litellm/router.py `Router._register_deployment_pricing`), LiteLLM finds a
price; without it, it walks its pricing tables on every request to explain a $0 cost (16 % of
the router's CPU, issue 19); in `litellm_params` it would register the model again on every
request."""


def provider_key_env(provider: str) -> str:
    """`VLLM_SERVING_KEY_<PROVIDER>`: the env var a cloud provider's key is read from."""
    return "VLLM_SERVING_KEY_" + provider.upper().replace("-", "_")


def local_api_base(service: str, namespace: str, port: int) -> str:
    """The engine's OpenAI base URL inside the cluster."""
    return f"http://{service}.{namespace}.svc:{port}/v1"


def model_list(traffic: TrafficConfig, plan: TrafficPlan, served_name: str,
               engine_base: str, slots: Optional[list] = None) -> list[dict]:
    """Deployments per alias: the engine first (`order: 1`), then each cloud target in order.
    LiteLLM tries the lowest order and moves to the next on connection failure, 429 or 5xx
    before the first streamed byte. `slots`: during a blue-green switch, both engine slots
    (rendering/revisions.py `local_slots`), at order 1 with their weights."""
    providers = {p.name: p for p in traffic.providers}
    out = []
    for alias in traffic.aliases:
        order = 1
        if alias.local:
            out += local_deployments(alias.name, served_name, engine_base, plan, slots)
            order += 1
        for target in alias.cloud:
            provider = providers[target.provider]
            out.append({"model_name": alias.name, "litellm_params": {
                "model": f"openai/{target.model}", "api_base": provider.api_base,
                "api_key": f"os.environ/{provider_key_env(provider.name)}", "order": order,
                "timeout": plan.router_timeout_seconds,
                "stream_timeout": plan.stream_idle_seconds, "max_retries": 0},
                "model_info": {"id": f"{alias.name}--{provider.name}-{order}"}})
            order += 1
    return out


def local_deployments(alias: str, served_name: str, engine_base: str, plan: TrafficPlan,
                      slots: Optional[list] = None) -> list[dict]:
    """The alias's engine deployment, or one per blue-green slot, each with its `weight`.
    Both share order 1, so LiteLLM keeps both (utils.py `get_order_filtered_deployments`:
    the lowest order among healthy deployments) and simple-shuffle picks one by `weight`
    (router_strategy/simple_shuffle.py `simple_shuffle`: weights over the largest, then
    `random.choices`): weight 0 is never picked while the other slot is healthy, and is picked
    (`random.choice` of the healthy ones) when the other is cooling down."""
    def deployment(api_base: str, suffix: str, weight: Optional[int]) -> dict:
        params = {"model": f"hosted_vllm/{served_name}", "api_base": api_base,
                  "api_key": f"os.environ/{ENGINE_KEY_ENV}", "order": 1,
                  "timeout": plan.router_timeout_seconds,
                  "stream_timeout": plan.stream_idle_seconds, "max_retries": 0}
        if weight is not None:
            params["weight"] = weight
        return {"model_name": alias, "litellm_params": params,
                "model_info": {"id": f"{alias}--local{suffix}", **ZERO_PRICING}}

    if not slots or len(slots) == 1:
        return [deployment(slots[0].api_base if slots else engine_base, "", None)]
    return [deployment(s.api_base, f"-{s.slot}", s.weight) for s in slots]


@dataclasses.dataclass(frozen=True)
class RedisTarget:
    """The Redis the router counts limits in, as its config file names it."""

    host: str
    port: int
    password: bool
    """Whether the router sends a password (read from REDIS_PASSWORD_ENV)."""


def coordination_redis(target: RedisTarget) -> dict:
    """Shared limit counters: every replica counts in the same Redis keys. Short socket
    timeouts, so a Redis that hangs delays start-up by at most `redis_stall_seconds` (LiteLLM
    passes extra keys of this block to redis-py: `CoordinationRedisParams` allows them,
    `_redis.py` `_get_redis_kwargs` lists `socket_timeout` and `socket_connect_timeout`)."""
    block: dict[str, Any] = {"host": target.host, "port": target.port}
    if target.password:
        block["password"] = f"os.environ/{REDIS_PASSWORD_ENV}"
    block["socket_timeout"] = REDIS_SOCKET_TIMEOUT_SECONDS
    block["socket_connect_timeout"] = REDIS_SOCKET_TIMEOUT_SECONDS
    return block


def litellm_config(traffic: TrafficConfig, plan: TrafficPlan, served_name: str,
                   engine_base: str, redis: Optional[RedisTarget] = None,
                   slots: Optional[list] = None) -> dict:
    """The proxy's config.yaml as a dict. `redis`: where the replicas share their counters
    (None: each process counts alone, right for one replica)."""
    general: dict[str, Any] = {
        "master_key": f"os.environ/{MASTER_KEY_ENV}",
        "custom_auth": f"{AUTH_MODULE}.user_api_key_auth",
        # No database: keys and limits come from clients.json and the Secret volume.
        "disable_spend_logs": True,
        "disable_adding_master_key_hash_to_db": True,
    }
    settings: dict[str, Any] = {}
    if redis is not None:
        general["coordination_redis"] = coordination_redis(redis)
        # LiteLLM's own Redis health series, e.g. litellm_redis_circuit_breaker_state: the
        # limiter alert reads it (rendering/promql.py limiter_alert). The router module skips
        # its per-call success histograms (router/vllm_serving_router.py Services).
        settings["service_callback"] = ["prometheus_system"]
    return {
        "model_list": model_list(traffic, plan, served_name, engine_base, slots),
        "router_settings": {
            "routing_strategy": "simple-shuffle",
            # One retry, of a 503 only (vLLM's admission refusal; the Service may pick another
            # pod): LiteLLM reads retry_policy only when num_retries is not 0 (router.py
            # `async_function_with_retries`), DefaultRetries 0 keeps every other error at one
            # attempt (router_utils/get_retry_from_policy.py).
            "num_retries": admission.ADMISSION_RETRIES,
            "retry_policy": {"ServiceUnavailableErrorRetries": admission.ADMISSION_RETRIES,
                             "DefaultRetries": 0},
            "timeout": plan.router_timeout_seconds,
            "stream_timeout": plan.stream_idle_seconds,
            "allowed_fails": 1,
            # Admission 503s never cool the engine down (planning/admission.py).
            "allowed_fails_policy": {"ServiceUnavailableErrorAllowedFails":
                                     plan.allowed_503s_per_minute},
            "cooldown_time": traffic.router.cooldown_seconds,
        },
        "general_settings": general,
        "litellm_settings": {
            "callbacks": [f"{AUTH_MODULE}.caps", "prometheus"],
            "require_auth_for_metrics_endpoint": False,
            "request_timeout": plan.router_timeout_seconds,
            "telemetry": False,
            "drop_params": False,
            "turn_off_message_logging": True,
            "redact_messages_in_exceptions": True,
            "prometheus_metrics_config": [{"group": "router-alerts",
                                           "metrics": list(ALERT_SERIES)}],
            # A client's `"no-log": true` cannot hide its request from the alert series, and no
            # callback asks per request if a header disabled it (an enterprise feature: litellm_
            # logging.py Logging.should_run_callback returns first; litellm_enterprise).
            "global_disable_no_log_param": True,
            # JSON log lines from the config too (proxy_cli.py: litellm.turn_on_json());
            # router_env sets JSON_LOGS for the lines written before the config is read.
            "json_logs": True,
            **settings,
        },
    }


def router_settings(traffic: TrafficConfig, plan: TrafficPlan) -> dict:
    """clients.json: the clients and their limits, the aliases' caps and the body limit (no
    keys: those are files of the Secret volume)."""
    return {
        "clients": [{"name": c.name, "rpm": c.requests_per_minute, "tpm": c.tokens_per_minute}
                    for c in traffic.clients],
        "aliases": {a.name: {"maxTokens": a.max_tokens, "localOnly": a.local and not a.cloud}
                    for a in traffic.aliases},
        "maxBodyBytes": plan.max_body_bytes,
        "engineRetryAfterSeconds": plan.engine_retry_after_seconds,
    }


def config_files(traffic: TrafficConfig, plan: TrafficPlan, served_name: str,
                 engine_base: str, redis: Optional[RedisTarget] = None,
                 slots: Optional[list] = None) -> dict[str, str]:
    """The ConfigMap's data: config.yaml, clients.json, the auth module and the guard, side by
    side (LiteLLM loads `custom_auth` from the config file's directory)."""
    return {
        "config.yaml": yaml.safe_dump(litellm_config(traffic, plan, served_name, engine_base,
                                                     redis, slots),
                                      sort_keys=False),
        "clients.json": json.dumps(router_settings(traffic, plan), indent=2, sort_keys=True),
        f"{AUTH_MODULE}.py": AUTH_SOURCE.read_text(),
        f"{GUARD_MODULE}.py": GUARD_SOURCE.read_text(),
        LOG_CONFIG_FILE: json.dumps(UVICORN_LOGGING, indent=2, sort_keys=True),
    }


def config_checksum(files: dict[str, str]) -> str:
    """SHA-256 over the ConfigMap's data: a new config rolls the router pods."""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def image_reference(tag: str, digest: str) -> str:
    """`ghcr.io/berriai/litellm:<tag>@<digest>`: the tag for people, the digest for the kubelet."""
    return f"{ROUTER_IMAGE}:{tag}@{digest}"


def container_args() -> list[str]:
    """`litellm` arguments: the mounted config, the port, one worker per pod (scale with
    replicas, so limits and probes see one process), uvicorn's logging without access log."""
    return ["--config", f"{CONFIG_DIR}/config.yaml", "--host", "0.0.0.0", "--port",
            str(ROUTER_PORT), "--num_workers", "1",
            "--log_config", f"{CONFIG_DIR}/{LOG_CONFIG_FILE}"]


def key_ref(secret: Any, key: str, optional: bool = False) -> dict:
    """An env value from a Secret. `optional`: a Secret the stack names but the program does not
    create; if it is missing the pod still starts (instead of waiting in
    CreateContainerConfigError until `pulumi up` times out) and what needs it fails visibly: the
    cloud provider answers 401, Redis refuses the connection and the limiter alert fires."""
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"secretKeyRef": ref}


def router_env(traffic: TrafficConfig, engine_secret: Any, engine_secret_key: str,
               master_secret: Any, master_secret_key: str,
               provider_keys: Optional[dict[str, dict]] = None,
               redis_password: Optional[dict] = None) -> list[dict]:
    """The router container's environment: every key through secretKeyRef. `provider_keys`:
    {provider: key_ref(...)} of the keys the program keeps (default: each provider's
    apiKeySecret, optional); `redis_password`: key_ref(...) of the Redis password, if any."""
    env = [{"name": name, "value": value}
           for name, value in {**OFFLINE_ENV, **GUARD_ENV, **LIMITER_ENV}.items()]
    env += [
        {"name": "VLLM_SERVING_ROUTER_SETTINGS", "value": f"{CONFIG_DIR}/clients.json"},
        {"name": "VLLM_SERVING_CLIENTS_DIR", "value": KEYS_DIR},
        {"name": MASTER_KEY_ENV, "valueFrom": {"secretKeyRef": {
            "name": master_secret, "key": master_secret_key}}},
        {"name": ENGINE_KEY_ENV, "valueFrom": {"secretKeyRef": {
            "name": engine_secret, "key": engine_secret_key}}},
    ]
    provider_keys = provider_keys or {}
    for provider in traffic.providers:
        ref = provider_keys.get(provider.name)
        if ref is None and provider.api_key_secret is not None:
            ref = key_ref(provider.api_key_secret.name, provider.api_key_secret.key, True)
        if ref is not None:
            env.append({"name": provider_key_env(provider.name), "valueFrom": ref})
    if redis_password is not None:
        env.append({"name": REDIS_PASSWORD_ENV, "valueFrom": redis_password})
    # LiteLLM reads it at import (litellm/_logging.py: only "true" turns JSON lines on).
    env.append({"name": "JSON_LOGS", "value": "true"})
    return env


def client_key_volume(clients: list[tuple[str, Any, str]],
                      existing: frozenset[str] = frozenset()) -> dict:
    """One projected volume of every client's Secret: `<client>/api-key`. The Secrets of
    `existing` clients (`existingSecret`, not made by the program) are optional: if one is
    missing the pod still starts and that client alone gets 401 (the auth module skips a
    missing key file), instead of every client waiting on it."""
    def source(name: str, secret: Any, key: str) -> dict:
        projected = {"name": secret, "items": [{"key": key, "path": f"{name}/{CLIENT_KEY_FILE}"}]}
        if name in existing:
            projected["optional"] = True
        return {"secret": projected}
    return {"name": "client-keys", "projected": {"defaultMode": 0o440, "sources": [
        source(name, secret, key) for name, secret, key in clients]}}


def _probe(path: str, failures: int) -> dict:
    return kube.http_probe(path, PORT_NAME, period=PROBE_PERIOD_SECONDS, timeout=5,
                           failures=failures)


def pod_template(traffic: TrafficConfig, plan: TrafficPlan, *, image: Any,
                 labels: dict[str, str], annotations: dict[str, Any], config_map: Any,
                 env: list[dict], client_volume: dict) -> dict:
    """The router pod: the engine's hardening (non-root UID 10001, read-only root, no
    capabilities, no service account token), probes on LiteLLM's health routes, a drain as
    long as the longest request."""
    router = traffic.router
    container = {
        "name": CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["litellm"],
        "args": container_args(),
        "ports": [{"name": PORT_NAME, "containerPort": ROUTER_PORT, "protocol": "TCP"}],
        "env": env,
        "resources": {"requests": {"cpu": router.cpu, "memory": f"{router.memory_mi}Mi"},
                      "limits": {"cpu": router.cpu, "memory": f"{router.memory_mi}Mi"}},
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "client-keys", "mountPath": KEYS_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        # LiteLLM's import and a hanging Redis's timeouts (planning/traffic.py
        # router_startup_failures) before liveness.
        "startupProbe": _probe("/health/liveliness", plan.router_startup_failures),
        "readinessProbe": _probe("/health/readiness", 3),
        "livenessProbe": _probe("/health/liveliness", 6),
        # Leave the Service's endpoints before SIGTERM, then uvicorn drains open streams.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(plan.pre_stop_seconds)]}}},
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    spec = {
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": plan.router_grace_seconds,
        "securityContext": pod_security_context(),
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": conventions.HOSTNAME_TOPOLOGY_KEY,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {k: v for k, v in labels.items()
                                              if k.endswith(("/name", "/instance",
                                                             "/component"))}}}],
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": config_map}},
            client_volume,
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
    }
    return {"metadata": {"labels": dict(labels), "annotations": dict(annotations)},
            "spec": spec}



def alert_rules(release: str, redis_replicas: int = 0,
                namespace: Optional[str] = None) -> list[dict]:
    """The router's own alerts (the engine's are in rendering/promql.py): clients refused with
    429, requests waiting in the router and, when `redis_replicas` replicas share counters in
    Redis, the limiter falling back to per-replica counting. Series names checked against
    LiteLLM 1.108.7's /metrics by tests/router/test_router_live.py. `namespace`: the stack's,
    a label of every rule (promql.Alert.rule says why: the sums keep none)."""
    job = f'service="{release}-router"'
    limiter = [promql.limiter_alert(f"{release}-router", redis_replicas).rule(namespace)] \
        if redis_replicas else []
    labels = {"severity": "warning", **({"namespace": namespace} if namespace else {})}
    return [{"name": "vllm-serving-router", "rules": [
        {"alert": "RouterRateLimitingClients",
         "expr": (f'sum(rate(litellm_proxy_failed_requests_metric_total{{{job},'
                  f'exception_status="429"}}[5m])) / clamp_min(sum(rate('
                  f'litellm_proxy_total_requests_metric_total{{{job}}}[5m])), 1e-9) > 0.05'),
         "for": "10m", "labels": dict(labels),
         "annotations": {"summary": "Over 5% of router requests answered 429",
                         "description": "Clients hit their requestsPerMinute/tokensPerMinute "
                                        "limits: raise them under traffic.clients, or the "
                                        "client is misbehaving."}},
        {"alert": "RouterQueueing",
         "expr": (f'histogram_quantile(0.99, sum by (le) (rate('
                  f'litellm_request_queue_time_seconds_bucket{{{job}}}[5m]))) > 5'),
         "for": "5m", "labels": dict(labels),
         "annotations": {"summary": "Requests wait over 5 s (p99) in the router",
                         "description": "The router is saturated: add traffic.router.replicas "
                                        "or CPU."}},
    ] + limiter}]


def network_policy(selector: dict[str, str], network: NetworkConfig,
                   engine_selector: dict[str, str], engine_port: int, redis_port: Optional[int],
                   redis_selector: Optional[dict[str, str]] = None,
                   other_engines: tuple[dict[str, str], ...] = ()) -> dict:
    """Ingress to the router port from the gateway's proxy pods and Prometheus' pods, by
    selector (rendering/network.py): a pod that reached the router directly would skip the
    edge's body cap and per-address limit. Egress to DNS, the engine pods (`other_engines`: a
    blue-green switch's previous slot too), Redis (the deployed
    one's pods, or any address for an existing one) and HTTPS (the cloud providers)."""
    egress = [
        kube.dns_egress(),
        {"to": [{"podSelector": {"matchLabels": engine}}
                for engine in (engine_selector, *other_engines)],
         "ports": [{"protocol": "TCP", "port": engine_port}]},
        kube.https_egress(),
    ]
    if redis_port is not None:
        to = {"to": [{"podSelector": {"matchLabels": redis_selector}}]} if redis_selector else {}
        egress.append({**to, "ports": [{"protocol": "TCP", "port": redis_port}]})
    peers = fence.gateway_proxies(network) + fence.prometheus_pods(network)
    return {
        "podSelector": {"matchLabels": selector},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": ([{"from": peers, "ports": [{"protocol": "TCP", "port": ROUTER_PORT}]}]
                    if peers else []),
        "egress": egress,
    }


KEY_LENGTH = 48
"""Generated keys (master, clients): letters and digits only."""
MASTER_KEY = "master-key"
PROVIDER_KEY = "api-key"
REDIS_PASSWORD_KEY = "password"
ENCRYPTED_PLACEHOLDER = "encrypted-in-the-stack-file"
"""What the plan and render tools put in a Secret made from a `secure:` value they cannot
decrypt (the Pulumi CLI hands the program the real value)."""
SCRAPE_INTERVAL = "30s"


def object_name(release: str) -> str:
    """The Kubernetes name of the router's ConfigMap, Deployment, Service, PDB, NetworkPolicy
    and monitoring objects."""
    return f"{release}-router"


def secret_name(release: str, suffix: str) -> str:
    """`<release>-router-<suffix>`: the master key, `client-<name>`, `provider-<name>`,
    `redis-password`."""
    return f"{object_name(release)}-{suffix}"


@dataclasses.dataclass(frozen=True)
class ClientKey:
    """Where one client's key lives: a Secret the program generates, or the stack's own."""

    client: str
    secret: str
    key: str
    key_version: Optional[int]
    """The generated key's version (raising it makes a new key); None: the stack's Secret."""


def client_keys(traffic: TrafficConfig, release: str) -> list[ClientKey]:
    """Every client's key, in the config's order."""
    out = []
    for client in traffic.clients:
        if client.existing_secret is not None:
            out.append(ClientKey(client.name, client.existing_secret.name,
                                 client.existing_secret.key, None))
        else:
            out.append(ClientKey(client.name, secret_name(release, f"client-{client.name}"),
                                 CLIENT_KEY_FILE, client.key_version))
    return out


@dataclasses.dataclass(frozen=True)
class ConfigSecret:
    """A Secret the program makes from a `pulumi config set --secret` value."""

    suffix: str
    """Of its Pulumi name, `<component>-router-<suffix>`, and its Kubernetes name."""
    name: str
    key: str
    value: Any
    """The text, as a secret Pulumi input (kept secret in the state)."""


def secret_text(value: Any) -> str:
    """The text of a `pulumi config set --secret` value (a placeholder where the tools cannot
    decrypt it)."""
    return ENCRYPTED_PLACEHOLDER if isinstance(value, Encrypted) else value.get_secret_value()


def key_digest(key: str) -> str:
    """A digest of a random key reveals nothing; it rolls the router on rotation."""
    return hashlib.sha256(key.encode()).hexdigest()


def keys_checksum(parts: list[str]) -> str:
    """The pod annotation over every client key's digest (or existing Secret's reference)."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def external_key(key: ClientKey) -> str:
    """What stands in the checksum for a key the program never sees."""
    return f"external:{key.secret}/{key.key}"


def deployment_annotations(plan: TrafficPlan) -> dict[str, str]:
    """The router Deployment's own annotations: how long `pulumi up` waits for it, the figures
    the policy pack checks and checkov's waivers."""
    return {
        "pulumi.com/timeoutSeconds": "600",
        conventions.ANN_ROUTER_TIMEOUT_SECONDS: str(plan.router_timeout_seconds),
        conventions.ANN_LONGEST_REQUEST_SECONDS: str(plan.longest_request_seconds),
        conventions.ANN_MAX_BODY_BYTES: str(plan.max_body_bytes),
        **CHECKOV_WAIVERS,
    }


def deployment_spec(replicas: int, selector: dict[str, str], template: dict) -> dict:
    return kube.surge_deployment_spec(replicas, selector, template)


def with_pod_annotations(spec: dict, annotations: dict[str, Any]) -> dict:
    """`spec` with `annotations` added to its pod template's (a new value rolls the pods)."""
    metadata = spec["template"]["metadata"]
    template = {**spec["template"], "metadata": {
        **metadata, "annotations": {**metadata["annotations"], **annotations}}}
    return {**spec, "template": template}


def service_annotations(prometheus_operator: bool) -> dict[str, str]:
    """Annotation-based scraping, unless a ServiceMonitor does it."""
    return {} if prometheus_operator else kube.scrape_annotations(ROUTER_PORT)


def service_spec(selector: dict[str, str]) -> dict:
    return {"type": "ClusterIP", "selector": selector,
            "ports": [{"name": PORT_NAME, "port": ROUTER_PORT, "targetPort": PORT_NAME,
                       "protocol": "TCP"}]}


def service_monitor_spec(selector: dict[str, str]) -> dict:
    return kube.service_monitor_spec(selector, PORT_NAME, SCRAPE_INTERVAL)


def pdb_spec(selector: dict[str, str]) -> dict:
    return kube.disruption_budget(selector)


def service_url(service: str, namespace: str) -> str:
    """The router's OpenAI base URL inside the cluster."""
    return local_api_base(service, namespace, ROUTER_PORT)


def router_image(tag: str, digest: Optional[str]) -> str:
    """The configured digest, else the tag as written: never looked up (planning/pins.py says
    why; a production stack must pin it)."""
    return image_reference(tag, digest) if digest else f"{ROUTER_IMAGE}:{tag}"
