"""RouterRedis: the Redis the router replicas share their limit counters through, when the stack
names no existing one (rendering/redis.py has the objects and why they look so)."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from planning.traffic import REDIS_PORT, RedisConfig
from rendering import redis as render
from rendering.labels import selector_of

PASSWORD_LENGTH = 48


@dataclasses.dataclass
class RouterRedisArgs:
    """Inputs of RouterRedis."""

    release: str
    namespace: pulumi.Input[str]
    namespace_name: str
    redis: RedisConfig
    maxmemory_mib: int
    router_selector: dict[str, str]


class RouterRedis(pulumi.ComponentResource):
    """A generated password (Secret), redis.conf (ConfigMap), one redis-server (Deployment), its
    Service, PDB and a NetworkPolicy admitting only the router."""

    host: str
    port: int
    password_secret: pulumi.Output[str]
    """Name of the Secret holding the password under `password`."""
    selector: dict[str, str]

    def __init__(self, name: str, args: RouterRedisArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:RouterRedis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        base = render.service_name(args.release)
        labels = render.labels(args.release)
        self.selector = selector = selector_of(labels)
        meta = {"namespace": args.namespace, "labels": labels}

        password = random.RandomPassword(f"{name}-password", length=PASSWORD_LENGTH,
                                         special=False, opts=child)
        secret = k8s.core.v1.Secret(
            f"{name}-password", metadata={"name": base, **meta}, type="Opaque",
            string_data={render.PASSWORD_KEY: password.result,
                         render.AUTH_FILE: password.result.apply(render.auth_conf)},
            opts=pulumi.ResourceOptions(parent=self,
                                        additional_secret_outputs=["stringData", "data"]))
        conf = render.redis_conf(args.maxmemory_mib)
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata={"name": base, **meta},
            data={"redis.conf": conf}, opts=child)
        # A new redis.conf restarts Redis (the kubelet does not re-read a mounted file for it).
        checksum = hashlib.sha256(conf.encode()).hexdigest()
        template = render.pod_template(
            args.redis, labels=labels,
            annotations={"vllm-serving.io/redis-config-checksum": checksum},
            config_map=config_map.metadata["name"], secret=secret.metadata["name"])
        k8s.apps.v1.Deployment(
            name, metadata={"name": base, **meta},
            spec={"replicas": 1, "revisionHistoryLimit": 5,
                  "selector": {"matchLabels": selector},
                  "strategy": {"type": "RollingUpdate",
                               "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                  "template": template},
            opts=child)
        k8s.core.v1.Service(name, metadata={"name": base, **meta},
                            spec=render.service_spec(selector), opts=child)
        k8s.policy.v1.PodDisruptionBudget(name, metadata={"name": base, **meta},
                                          spec=render.pdb_spec(selector), opts=child)
        k8s.networking.v1.NetworkPolicy(
            name, metadata={"name": base, **meta},
            spec=render.network_policy(selector, args.router_selector), opts=child)

        self.host = render.service_host(args.release, args.namespace_name)
        self.port = REDIS_PORT
        self.password_secret = secret.metadata["name"]
        self.register_outputs({"host": self.host, "password_secret": self.password_secret})
