"""TrafficRouter: the LiteLLM proxy in front of the engine — keys, limits, caps, local→cloud
(rendering/router.py renders every object; wiring/traffic.py builds the args)."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.redis import RouterRedis, RouterRedisArgs
from facts import conventions as c
from rendering import router as render


@dataclasses.dataclass
class TrafficRouterArgs:
    """Inputs of TrafficRouter, rendered: names, specs and Pulumi inputs."""

    namespace: pulumi.Input[str]
    object_name: str
    labels: dict[str, str]
    selector: dict[str, str]
    master_secret: str
    clients: list[render.ClientKey]
    config_secrets: list[render.ConfigSecret]
    config_files: dict[str, str]
    deployment_annotations: dict[str, str]
    deployment: dict
    """Its pod template lacks only the client keys' checksum (made from the generated keys)."""
    service_annotations: dict[str, str]
    service: dict
    disruption_budget: dict
    network_policy: dict
    redis: Optional[RouterRedisArgs] = None
    """The Redis the program deploys for the router, if any."""
    monitor: Optional[dict] = None
    """ServiceMonitor spec, with the Prometheus Operator."""
    alert_groups: Optional[list[dict]] = None
    monitoring_labels: dict[str, str] = dataclasses.field(default_factory=dict)


class TrafficRouter(pulumi.ComponentResource):
    """Master-key and client-key Secrets, the config ConfigMap, the LiteLLM Deployment, its
    Service, PDB, NetworkPolicy and scrape config."""

    service_name: pulumi.Output[str]
    url: pulumi.Output[str]
    client_secrets: pulumi.Output[dict]
    """{client: Secret name holding its key under `api-key` (or the existing Secret's key)}."""
    selector: dict[str, str]

    def __init__(self, name: str, args: TrafficRouterArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:TrafficRouter", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.selector = args.selector
        meta = {"name": args.object_name, "namespace": args.namespace, "labels": args.labels}

        master = random.RandomPassword(f"{name}-router-master", length=render.KEY_LENGTH,
                                       special=False, opts=child)
        mounted = [self._secret(f"{name}-router-master", args, args.master_secret,
                                {render.MASTER_KEY: master.result})]
        client_secrets, checksum = self._client_keys(name, args)
        mounted += client_secrets + [self._secret(f"{name}-router-{s.suffix}", args, s.name,
                                 {s.key: pulumi.Output.secret(s.value)})
                    for s in args.config_secrets]
        if args.redis is not None:
            mounted.append(RouterRedis(f"{name}-redis", args.redis, opts=child).secret)
        mounted.append(k8s.core.v1.ConfigMap(f"{name}-router-config", metadata=meta,
                                             data=args.config_files, opts=child))
        # The pod template names what it mounts and reads (known up front): it starts once
        # they exist.
        k8s.apps.v1.Deployment(
            f"{name}-router", metadata={**meta, "annotations": args.deployment_annotations},
            spec=render.with_pod_annotations(args.deployment,
                                             {c.ANN_CLIENT_KEYS_CHECKSUM: checksum}),
            opts=pulumi.ResourceOptions(parent=self, depends_on=mounted))
        service = k8s.core.v1.Service(
            f"{name}-router", metadata={**meta, "annotations": args.service_annotations},
            spec=args.service, opts=child)
        k8s.policy.v1.PodDisruptionBudget(f"{name}-router", metadata=meta,
                                          spec=args.disruption_budget, opts=child)
        k8s.networking.v1.NetworkPolicy(f"{name}-router", metadata=meta,
                                        spec=args.network_policy, opts=child)
        self._monitoring(name, args)

        self.service_name = service.metadata["name"]
        self.url = pulumi.Output.all(self.service_name, args.namespace).apply(
            lambda parts: render.service_url(parts[0], parts[1]))
        self.client_secrets = pulumi.Output.from_input({k.client: k.secret for k in args.clients})
        self.register_outputs({"service_name": self.service_name, "url": self.url,
                               "client_secrets": self.client_secrets})

    def _secret(self, resource: str, args: TrafficRouterArgs, object_name: str,
                data: dict) -> k8s.core.v1.Secret:
        """A Secret of generated or configured keys, kept secret in the state."""
        return k8s.core.v1.Secret(
            resource, metadata={"name": object_name, "namespace": args.namespace,
                                "labels": args.labels},
            type="Opaque", string_data=data,
            opts=pulumi.ResourceOptions(parent=self,
                                        additional_secret_outputs=["stringData", "data"]))

    def _client_keys(self, name: str, args: TrafficRouterArgs
                     ) -> tuple[list[k8s.core.v1.Secret], pulumi.Output[str]]:
        """A generated key and its Secret per client without a Secret of its own; and the pods'
        checksum over every key, which rolls them when a key rotates."""
        secrets, parts = [], []
        for key in args.clients:
            if key.key_version is None:
                parts.append(pulumi.Output.from_input(render.external_key(key)))
                continue
            password = random.RandomPassword(
                f"{name}-client-{key.client}", length=render.KEY_LENGTH, special=False,
                keepers={"keyVersion": str(key.key_version)},
                opts=pulumi.ResourceOptions(parent=self))
            secrets.append(self._secret(f"{name}-client-{key.client}", args, key.secret,
                                        {key.key: password.result}))
            parts.append(pulumi.Output.unsecret(password.result.apply(render.key_digest)))
        return secrets, pulumi.Output.all(*parts).apply(render.keys_checksum)

    def _monitoring(self, name: str, args: TrafficRouterArgs) -> None:
        """The ServiceMonitor and the router's alerts, with the Prometheus Operator."""
        if args.monitor is None:
            return
        metadata = {"name": args.object_name, "namespace": args.namespace,
                    "labels": {**args.labels, **args.monitoring_labels}}
        k8s.apiextensions.CustomResource(
            f"{name}-router-monitor", api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor", metadata=metadata, spec=args.monitor,
            opts=pulumi.ResourceOptions(parent=self))
        k8s.apiextensions.CustomResource(
            f"{name}-router-rules", api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule", metadata=metadata, spec={"groups": args.alert_groups},
            opts=pulumi.ResourceOptions(parent=self))
