"""RouterRedis: the Redis the router replicas share their limit counters through, when the stack
names no existing one (rendering/redis.py has the objects and why they look so)."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from rendering import redis as render


@dataclasses.dataclass
class RouterRedisArgs:
    """Inputs of RouterRedis, rendered (wiring/traffic.py builds them)."""

    namespace: pulumi.Input[str]
    object_name: str
    """The Kubernetes name of every object (Secret, ConfigMap, Deployment, ...)."""
    labels: dict[str, str]
    selector: dict[str, str]
    conf: str
    """redis.conf."""
    deployment: dict
    """The Deployment's spec; its pods mount the ConfigMap and the Secret by `object_name`."""
    service: dict
    disruption_budget: dict
    network_policy: dict
    host: str
    """Where the router connects (its config file holds the address)."""
    port: int


class RouterRedis(pulumi.ComponentResource):
    """A generated password (Secret), redis.conf (ConfigMap), one redis-server (Deployment), its
    Service, PDB and a NetworkPolicy admitting only the router."""

    host: str
    port: int
    password_secret: pulumi.Output[str]
    """Name of the Secret holding the password under `password`."""
    secret: k8s.core.v1.Secret
    selector: dict[str, str]

    def __init__(self, name: str, args: RouterRedisArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:RouterRedis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        meta = {"name": args.object_name, "namespace": args.namespace, "labels": args.labels}
        self.selector = args.selector

        password = random.RandomPassword(f"{name}-password", length=render.PASSWORD_LENGTH,
                                         special=False, opts=child)
        self.secret = k8s.core.v1.Secret(
            f"{name}-password", metadata=meta, type="Opaque",
            string_data={render.PASSWORD_KEY: password.result,
                         render.AUTH_FILE: password.result.apply(render.auth_conf)},
            opts=pulumi.ResourceOptions(parent=self,
                                        additional_secret_outputs=["stringData", "data"]))
        config_map = k8s.core.v1.ConfigMap(f"{name}-config", metadata=meta,
                                           data={"redis.conf": args.conf}, opts=child)
        # The pods mount both by name: they start once both exist.
        k8s.apps.v1.Deployment(name, metadata=meta, spec=args.deployment,
                               opts=pulumi.ResourceOptions(parent=self,
                                                           depends_on=[self.secret, config_map]))
        k8s.core.v1.Service(name, metadata=meta, spec=args.service, opts=child)
        k8s.policy.v1.PodDisruptionBudget(name, metadata=meta, spec=args.disruption_budget,
                                          opts=child)
        k8s.networking.v1.NetworkPolicy(name, metadata=meta, spec=args.network_policy,
                                        opts=child)

        self.host, self.port = args.host, args.port
        self.password_secret = self.secret.metadata["name"]
        self.register_outputs({"host": self.host, "password_secret": self.password_secret})
