"""TrafficRouter: the LiteLLM proxy in front of the engine — keys, limits, caps, local→cloud."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING, Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from facts import conventions as c
from components.redis import RouterRedis, RouterRedisArgs
from planning.config import NetworkConfig, StackConfig
from planning.traffic import ROUTER_IMAGE, ROUTER_PORT, Encrypted, \
    TrafficConfig, TrafficPlan, TrafficSecrets
from rendering import redis as render_redis
from rendering import router as render
from rendering.labels import router_labels, selector_of
from rendering.vllm_args import PORT

COMPONENT_ROUTER = c.COMPONENT_ROUTER
MASTER_KEY = "master-key"
KEY_LENGTH = 48
PROVIDER_KEY = "api-key"
REDIS_PASSWORD_KEY = "password"
ENCRYPTED_PLACEHOLDER = "encrypted-in-the-stack-file"
"""What the plan and render tools put in a Secret made from a `secure:` value they cannot
decrypt (the Pulumi CLI hands the program the real value)."""


@dataclasses.dataclass
class TrafficRouterArgs:
    """Inputs of TrafficRouter."""

    release: str
    namespace: pulumi.Input[str]
    namespace_name: str
    traffic: TrafficConfig
    plan: TrafficPlan
    served_name: str
    engine_service: str
    engine_port: int
    engine_selector: dict[str, str]
    engine_secret_name: pulumi.Input[str]
    engine_secret_key: str
    network: NetworkConfig
    """Who may reach the router's port: the gateway's proxy pods and Prometheus' pods."""
    prometheus_operator: bool
    monitoring_labels: dict[str, str] = dataclasses.field(default_factory=dict)
    secrets: TrafficSecrets = dataclasses.field(default_factory=TrafficSecrets)
    """Keys from `pulumi config set --secret` (vllm-serving:trafficSecrets)."""


if TYPE_CHECKING:
    from components.inference import InferenceDeployment


def router_args(cfg: StackConfig, traffic: TrafficPlan, release: str,
                namespace: pulumi.Input[str], engine: "InferenceDeployment") -> TrafficRouterArgs:
    """The router in front of `engine` (its Service is named after the release), with the
    traffic plan's budgets and the stack's secrets."""
    monitoring = cfg.monitoring
    return TrafficRouterArgs(
        release=release, namespace=namespace, namespace_name=cfg.namespace,
        traffic=cfg.traffic, plan=traffic, served_name=cfg.model.served_name,
        engine_service=release, engine_port=PORT, engine_selector=engine.selector,
        engine_secret_name=engine.api_key_secret_name,
        engine_secret_key=engine.api_key_secret_key, network=cfg.network,
        prometheus_operator=monitoring.enabled and monitoring.prometheus_operator,
        monitoring_labels=({"release": monitoring.release_label}
                           if monitoring.release_label else {}),
        secrets=cfg.traffic_secrets)


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
        traffic, plan = args.traffic, args.plan
        child = pulumi.ResourceOptions(parent=self)
        base = f"{args.release}-router"
        labels = router_labels(args.release)
        self.selector = selector = selector_of(labels)

        master = random.RandomPassword(f"{name}-router-master", length=KEY_LENGTH,
                                       special=False, opts=child)
        master_secret = k8s.core.v1.Secret(
            f"{name}-router-master",
            metadata={"name": f"{base}-master", "namespace": args.namespace, "labels": labels},
            type="Opaque", string_data={MASTER_KEY: master.result},
            opts=pulumi.ResourceOptions(parent=self,
                                        additional_secret_outputs=["stringData", "data"]))

        clients, checksums, secret_names = [], [], {}
        for client in traffic.clients:
            if client.existing_secret is not None:
                secret, key = client.existing_secret.name, client.existing_secret.key
                checksums.append(pulumi.Output.from_input(f"external:{secret}/{key}"))
            else:
                password = random.RandomPassword(
                    f"{name}-client-{client.name}", length=KEY_LENGTH, special=False,
                    keepers={"keyVersion": str(client.key_version)}, opts=child)
                created = k8s.core.v1.Secret(
                    f"{name}-client-{client.name}",
                    metadata={"name": f"{base}-client-{client.name}",
                              "namespace": args.namespace, "labels": labels},
                    type="Opaque", string_data={render.CLIENT_KEY_FILE: password.result},
                    opts=pulumi.ResourceOptions(parent=self,
                                                additional_secret_outputs=["stringData", "data"]))
                secret, key = created.metadata["name"], render.CLIENT_KEY_FILE
                # A digest of a random key reveals nothing; it rolls the router on rotation.
                checksums.append(pulumi.Output.unsecret(password.result.apply(
                    lambda value: hashlib.sha256(value.encode()).hexdigest())))
            clients.append((client.name, secret, key))
            secret_names[client.name] = secret
        keys_checksum = pulumi.Output.all(*checksums).apply(
            lambda parts: hashlib.sha256("|".join(parts).encode()).hexdigest())

        engine_base = render.local_api_base(args.engine_service, args.namespace_name,
                                            args.engine_port)
        provider_refs = self._provider_keys(name, args, labels)
        redis_target, redis_ref, redis_selector = self._redis(name, args, labels)
        files = render.config_files(traffic, plan, args.served_name, engine_base, redis_target)
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-router-config",
            metadata={"name": base, "namespace": args.namespace, "labels": labels},
            data=files, opts=child)

        image = self._image(traffic)
        template = render.pod_template(
            traffic, plan, image=image, labels=labels,
            annotations={c.ANN_ROUTER_CONFIG_CHECKSUM: render.config_checksum(files),
                         c.ANN_CLIENT_KEYS_CHECKSUM: keys_checksum},
            config_map=config_map.metadata["name"],
            env=render.router_env(traffic, args.engine_secret_name, args.engine_secret_key,
                                  master_secret.metadata["name"], MASTER_KEY,
                                  provider_refs, redis_ref),
            client_volume=render.client_key_volume(clients, frozenset(
                c.name for c in traffic.clients if c.existing_secret is not None)))
        annotations = {
            "pulumi.com/timeoutSeconds": "600",
            c.ANN_ROUTER_TIMEOUT_SECONDS: str(plan.router_timeout_seconds),
            c.ANN_LONGEST_REQUEST_SECONDS: str(plan.longest_request_seconds),
            c.ANN_MAX_BODY_BYTES: str(plan.max_body_bytes),
            **render.CHECKOV_WAIVERS,
        }
        k8s.apps.v1.Deployment(
            f"{name}-router",
            metadata={"name": base, "namespace": args.namespace, "labels": labels,
                      "annotations": annotations},
            spec={"replicas": traffic.router.replicas, "revisionHistoryLimit": 5,
                  "selector": {"matchLabels": selector},
                  "strategy": {"type": "RollingUpdate",
                               "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                  "template": template},
            opts=child)
        service_annotations = {} if args.prometheus_operator else {
            "prometheus.io/scrape": "true", "prometheus.io/port": str(ROUTER_PORT),
            "prometheus.io/path": "/metrics"}
        service = k8s.core.v1.Service(
            f"{name}-router",
            metadata={"name": base, "namespace": args.namespace, "labels": labels,
                      "annotations": service_annotations},
            spec={"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": render.PORT_NAME, "port": ROUTER_PORT,
                             "targetPort": render.PORT_NAME, "protocol": "TCP"}]},
            opts=child)
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-router",
            metadata={"name": base, "namespace": args.namespace, "labels": labels},
            spec={"selector": {"matchLabels": selector}, "maxUnavailable": 1,
                  "unhealthyPodEvictionPolicy": "AlwaysAllow"},
            opts=child)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-router",
            metadata={"name": base, "namespace": args.namespace, "labels": labels},
            spec=render.network_policy(selector, args.network, args.engine_selector,
                                       args.engine_port,
                                       redis_target.port if redis_target else None,
                                       redis_selector),
            opts=child)
        if args.prometheus_operator:
            k8s.apiextensions.CustomResource(
                f"{name}-router-monitor",
                api_version="monitoring.coreos.com/v1", kind="ServiceMonitor",
                metadata={"name": base, "namespace": args.namespace,
                          "labels": {**labels, **args.monitoring_labels}},
                spec={"selector": {"matchLabels": selector},
                      "endpoints": [{"port": render.PORT_NAME, "path": "/metrics",
                                     "interval": "30s"}]},
                opts=child)
            k8s.apiextensions.CustomResource(
                f"{name}-router-rules",
                api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
                metadata={"name": base, "namespace": args.namespace,
                          "labels": {**labels, **args.monitoring_labels}},
                spec={"groups": render.alert_rules(
                    args.release, traffic.router.replicas if redis_target else 0)}, opts=child)

        self.service_name = service.metadata["name"]
        self.url = pulumi.Output.format("http://{0}.{1}.svc:{2}/v1", self.service_name,
                                        args.namespace, ROUTER_PORT)
        self.client_secrets = pulumi.Output.from_input(secret_names)
        self.register_outputs({"service_name": self.service_name, "url": self.url,
                               "client_secrets": self.client_secrets})

    def _config_secret(self, name: str, args: TrafficRouterArgs, labels: dict[str, str],
                       suffix: str, key: str, value) -> k8s.core.v1.Secret:
        """A Secret holding a `pulumi config set --secret` value (kept secret in the state)."""
        text = ENCRYPTED_PLACEHOLDER if isinstance(value, Encrypted) else \
            value.get_secret_value()
        return k8s.core.v1.Secret(
            f"{name}-router-{suffix}",
            metadata={"name": f"{args.release}-router-{suffix}", "namespace": args.namespace,
                      "labels": labels},
            type="Opaque", string_data={key: pulumi.Output.secret(text)},
            opts=pulumi.ResourceOptions(parent=self,
                                        additional_secret_outputs=["stringData", "data"]))

    def _provider_keys(self, name: str, args: TrafficRouterArgs,
                       labels: dict[str, str]) -> dict[str, dict]:
        """{provider: env source} for keys given as trafficSecrets.providers.<name>; providers
        with apiKeySecret are referenced optionally by render.router_env."""
        refs = {}
        for provider, value in sorted(args.secrets.providers.items()):
            secret = self._config_secret(name, args, labels, f"provider-{provider}",
                                         PROVIDER_KEY, value)
            refs[provider] = render.key_ref(secret.metadata["name"], PROVIDER_KEY)
        return refs

    def _redis(self, name: str, args: TrafficRouterArgs, labels: dict[str, str]):
        """(where the router counts, its password's env source, the Redis pods' selector):
        a RouterRedis the program deploys, an existing Redis, or none."""
        redis = args.traffic.router.shared_redis()
        if redis is None:
            return None, None, None
        if not redis.external:
            deployed = RouterRedis(f"{name}-redis", RouterRedisArgs(
                release=args.release, namespace=args.namespace,
                namespace_name=args.namespace_name, redis=redis,
                maxmemory_mib=args.plan.redis_maxmemory_mib, router_selector=self.selector),
                opts=pulumi.ResourceOptions(parent=self))
            return (render.RedisTarget(deployed.host, deployed.port, True),
                    render.key_ref(deployed.password_secret, render_redis.PASSWORD_KEY),
                    deployed.selector)
        ref = None
        if args.secrets.redis_password is not None:
            secret = self._config_secret(name, args, labels, "redis-password",
                                         REDIS_PASSWORD_KEY, args.secrets.redis_password)
            ref = render.key_ref(secret.metadata["name"], REDIS_PASSWORD_KEY)
        elif redis.password_secret is not None:
            ref = render.key_ref(redis.password_secret.name, redis.password_secret.key, True)
        return render.RedisTarget(redis.host, redis.port, ref is not None), ref, None

    def _image(self, traffic: TrafficConfig) -> pulumi.Output[str]:
        """The configured digest, else the tag as written: never looked up (planning/pins.py
        says why; a production stack must pin it)."""
        tag = traffic.router.image_tag
        if traffic.router.image_digest:
            return pulumi.Output.from_input(render.image_reference(tag, traffic.router.image_digest))
        return pulumi.Output.from_input(f"{ROUTER_IMAGE}:{tag}")

