"""The Redis the router replicas share their limit counters through, as plain data.

What it holds is disposable: per-client request and token counters of the current minute
window. So no persistence (`save ""`, `appendonly no`): a restart empties it and every client
starts a fresh window (at most one extra window's worth of requests), which is cheaper than a
volume. When memory runs out Redis evicts the least recently used counters (`allkeys-lru`)
instead of refusing writes; a refused write would make every replica count on its own.

The password never appears in the config, the args or the environment of redis-server: the
pod mounts `auth.conf` (`requirepass ...`) from the generated Secret and redis.conf includes
it. The readiness check hands the mounted password to redis-cli through `REDISCLI_AUTH`, so it
is on no command line `ps` shows and in no environment variable of the container.
tests/router/test_redis.py starts a real `redis-server` with exactly these files.
"""

from __future__ import annotations

import hashlib
from typing import Any

from facts import conventions as c
from planning.traffic import REDIS_IMAGE, REDIS_PORT, REDIS_VERSION, RedisConfig
from rendering import kube
from rendering.labels import common_labels
from rendering.pod import container_security_context, pod_security_context

COMPONENT = "router-redis"
CONTAINER = "redis"
PORT_NAME = "redis"
CONFIG_DIR = "/etc/redis"
AUTH_DIR = "/etc/redis-auth"
DATA_DIR = "/data"
PASSWORD_KEY = "password"
"""The Secret's key the router reads (secretKeyRef) and the readiness check hands redis-cli."""
AUTH_FILE = "auth.conf"
"""The Secret's key redis.conf includes: `requirepass <password>`."""
PASSWORD_LENGTH = 48
CONFIG_CHECKSUM = "vllm-serving.io/redis-config-checksum"


def labels(release: str) -> dict[str, str]:
    """The engine's label set with name redis, component router-redis, Redis's version."""
    return {**common_labels(release, REDIS_VERSION, COMPONENT), c.LABEL_NAME: "redis"}


def service_name(release: str) -> str:
    """The name of every object of the deployed Redis (Secret, ConfigMap, Deployment, ...)."""
    return f"{release}-router-redis"


def service_host(release: str, namespace: str) -> str:
    """The address the router connects to (a plain string: the router's config file holds it)."""
    return f"{service_name(release)}.{namespace}.svc"


def redis_conf(maxmemory_mib: int) -> str:
    """redis.conf: the port on every address, no persistence, bounded memory, the password
    from the mounted Secret (included last, so nothing above can override it)."""
    return "\n".join([
        "# Rendered by vllm-serving: limit counters of the LiteLLM router (disposable).",
        f"port {REDIS_PORT}",
        "bind * -::*",
        "protected-mode yes",
        "daemonize no",
        'logfile ""',
        # Counters are disposable: nothing is written to disk, no fork for snapshots.
        'save ""',
        "appendonly no",
        f"maxmemory {maxmemory_mib}mb",
        "maxmemory-policy allkeys-lru",
        "tcp-keepalive 60",
        f"include {AUTH_DIR}/{AUTH_FILE}",
        "",
    ])


def auth_conf(password: str) -> str:
    """The Secret's `auth.conf`: the generated password (letters and digits only)."""
    return f"requirepass {password}\n"


def readiness_command() -> list[str]:
    """Ready when an authenticated PING answers PONG (a wrong or missing password answers
    NOAUTH/WRONGPASS, and redis-cli still exits 0, hence the grep). The password goes from the
    mounted Secret file to redis-cli through REDISCLI_AUTH: on no command line, and in no
    container environment variable."""
    return ["sh", "-c", f'REDISCLI_AUTH="$(cat {AUTH_DIR}/{PASSWORD_KEY})" '
                        f"redis-cli -h 127.0.0.1 -p {REDIS_PORT} --no-auth-warning ping "
                        "| grep -qx PONG"]


def pod_template(redis: RedisConfig, *, labels: dict[str, str], annotations: dict[str, Any],
                 config_map: Any, secret: Any) -> dict:
    """One redis-server: the engine's hardening (non-root, read-only root, no capabilities,
    RuntimeDefault seccomp, no service account token), an authenticated readiness check."""
    resources = {"cpu": redis.cpu, "memory": f"{redis.memory_mi}Mi"}
    container = {
        "name": CONTAINER,
        "image": REDIS_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        # redis-server directly: the image's entrypoint only chowns /data when run as root.
        "command": ["redis-server", f"{CONFIG_DIR}/redis.conf"],
        # Redis's working directory (no `dir` in redis.conf): writable, and empty for good.
        "workingDir": DATA_DIR,
        "ports": [{"name": PORT_NAME, "containerPort": REDIS_PORT, "protocol": "TCP"}],
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "auth", "mountPath": AUTH_DIR, "readOnly": True},
            {"name": "data", "mountPath": DATA_DIR},
        ],
        "readinessProbe": {"exec": {"command": readiness_command()}, "periodSeconds": 5,
                           "timeoutSeconds": 2, "failureThreshold": 3, "successThreshold": 1},
        "livenessProbe": {"tcpSocket": {"port": PORT_NAME}, "periodSeconds": 10,
                          "timeoutSeconds": 2, "failureThreshold": 6, "successThreshold": 1},
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    spec = {
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 10,
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": config_map}},
            {"name": "auth", "secret": {"secretName": secret, "defaultMode": 0o440,
                                        "items": [{"key": AUTH_FILE, "path": AUTH_FILE},
                                                  {"key": PASSWORD_KEY,
                                                   "path": PASSWORD_KEY}]}},
            # Nothing is persisted; redis-server only needs a writable working directory.
            {"name": "data", "emptyDir": {"sizeLimit": "16Mi"}},
        ],
    }
    return {"metadata": {"labels": dict(labels), "annotations": dict(annotations)},
            "spec": spec}


def network_policy(selector: dict[str, str], router_selector: dict[str, str]) -> dict:
    """Only the router pods reach Redis, on its port; Redis itself connects nowhere."""
    return {
        "podSelector": {"matchLabels": dict(selector)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": dict(router_selector)}}],
                     "ports": [{"protocol": "TCP", "port": REDIS_PORT}]}],
        "egress": [],
    }


def service_spec(selector: dict[str, str]) -> dict:
    return {"type": "ClusterIP", "selector": dict(selector),
            "ports": [{"name": PORT_NAME, "port": REDIS_PORT, "targetPort": PORT_NAME,
                       "protocol": "TCP"}]}


def pdb_spec(selector: dict[str, str]) -> dict:
    """One replica: maxUnavailable 1 lets node drains evict it (minAvailable 1 would block
    them forever); the counters it loses are disposable."""
    return kube.disruption_budget(selector)


def config_checksum(conf: str) -> dict[str, str]:
    """The pod annotation that restarts Redis on a new redis.conf (the kubelet does not re-read
    a mounted file for it)."""
    return {CONFIG_CHECKSUM: hashlib.sha256(conf.encode()).hexdigest()}



def deployment_spec(selector: dict[str, str], template: dict) -> dict:
    """One redis-server; a rollout starts the new one before stopping the old."""
    return kube.surge_deployment_spec(1, selector, template)
