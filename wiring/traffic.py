"""The traffic layer's args — router, its Redis, the edge — from the stack's config, its traffic
plan and names: every object rendered here (rendering/router.py, redis.py, gateway.py), so the
components only create them."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import pulumi

from components.gateway import TrafficEdgeArgs
from components.redis import RouterRedisArgs
from components.router import TrafficRouterArgs
from facts import conventions as c
from planning.config import StackConfig
from planning.traffic import REDIS_PORT, ROUTER_PORT, RedisConfig, TrafficPlan
from rendering import gateway as render_edge
from rendering import redis as render_redis
from rendering import router as render
from rendering.labels import selector_of
from rendering.naming import StackNames
from rendering.revisions import LocalSlot
from rendering.vllm_args import PORT


@dataclasses.dataclass(frozen=True)
class SharedRedis:
    """Where the router replicas count together, and what the router needs to reach it."""

    target: Optional[render.RedisTarget] = None
    password: Optional[dict] = None
    """The password's env source."""
    selector: Optional[dict[str, str]] = None
    """The deployed Redis' pods (the router's fence admits them alone)."""
    deployed: Optional[RouterRedisArgs] = None
    secret: Optional[render.ConfigSecret] = None
    """An existing Redis' password from pulumi config."""


def redis_args(redis: RedisConfig, maxmemory_mib: int, release: str,
               namespace: pulumi.Input[str], namespace_name: str,
               router_selector: dict[str, str]) -> RouterRedisArgs:
    """The Redis the program deploys for `release`'s router."""
    name, labels = render_redis.service_name(release), render_redis.labels(release)
    selector = selector_of(labels)
    conf = render_redis.redis_conf(maxmemory_mib)
    template = render_redis.pod_template(redis, labels=labels,
                                         annotations=render_redis.config_checksum(conf),
                                         config_map=name, secret=name)
    return RouterRedisArgs(
        namespace=namespace, object_name=name, labels=labels, selector=selector, conf=conf,
        deployment=render_redis.deployment_spec(selector, template),
        service=render_redis.service_spec(selector),
        disruption_budget=render_redis.pdb_spec(selector),
        network_policy=render_redis.network_policy(selector, router_selector),
        host=render_redis.service_host(release, namespace_name), port=REDIS_PORT)


def shared_redis(cfg: StackConfig, traffic: TrafficPlan, release: str,
                 namespace: pulumi.Input[str], router_selector: dict[str, str]) -> SharedRedis:
    """A Redis the program deploys, an existing Redis (its password from pulumi config or a
    Secret the stack names), or none."""
    redis = cfg.traffic.router.shared_redis()
    if redis is None:
        return SharedRedis()
    if not redis.external:
        deployed = redis_args(redis, traffic.redis_maxmemory_mib, release, namespace,
                              cfg.namespace, router_selector)
        return SharedRedis(render.RedisTarget(deployed.host, deployed.port, True),
                           render.key_ref(deployed.object_name, render_redis.PASSWORD_KEY),
                           deployed.selector, deployed=deployed)
    if cfg.traffic_secrets.redis_password is not None:
        secret = _config_secret(release, "redis-password", render.REDIS_PASSWORD_KEY,
                                cfg.traffic_secrets.redis_password)
        return SharedRedis(render.RedisTarget(redis.host, redis.port, True),
                           render.key_ref(secret.name, secret.key), secret=secret)
    ref = None if redis.password_secret is None else render.key_ref(
        redis.password_secret.name, redis.password_secret.key, True)
    return SharedRedis(render.RedisTarget(redis.host, redis.port, ref is not None), ref)


def _config_secret(release: str, suffix: str, key: str, value: Any) -> render.ConfigSecret:
    return render.ConfigSecret(suffix, render.secret_name(release, suffix), key,
                               pulumi.Output.secret(render.secret_text(value)))


def provider_secrets(cfg: StackConfig, release: str) -> dict[str, render.ConfigSecret]:
    """{provider: its Secret} for keys given as trafficSecrets.providers.<name>; providers with
    apiKeySecret are referenced optionally by render.router_env."""
    return {provider: _config_secret(release, f"provider-{provider}", render.PROVIDER_KEY, value)
            for provider, value in sorted(cfg.traffic_secrets.providers.items())}


def router_pod(cfg: StackConfig, traffic: TrafficPlan, names: StackNames, engine: Any,
               clients: list[render.ClientKey], providers: dict[str, render.ConfigSecret],
               redis: SharedRedis, files: dict[str, str]) -> dict:
    """The router's pod template: every Secret and the ConfigMap by name (the client keys'
    checksum is added by the component, which generates them)."""
    router = cfg.traffic.router
    env = render.router_env(
        cfg.traffic, engine.api_key_secret_name, engine.api_key_secret_key,
        render.secret_name(names.release, "master"), render.MASTER_KEY,
        {provider: render.key_ref(s.name, s.key) for provider, s in providers.items()},
        redis.password)
    volume = render.client_key_volume([(k.client, k.secret, k.key) for k in clients], frozenset(
        k.client for k in clients if k.key_version is None))
    return render.pod_template(
        cfg.traffic, traffic, image=render.router_image(router.image_tag, router.image_digest),
        labels=names.router_labels,
        annotations={c.ANN_ROUTER_CONFIG_CHECKSUM: render.config_checksum(files)},
        config_map=render.object_name(names.release), env=env, client_volume=volume)


def router_args(cfg: StackConfig, traffic: TrafficPlan, names: StackNames,
                namespace: pulumi.Input[str], engine: Any,
                slots: Optional[list[LocalSlot]] = None) -> TrafficRouterArgs:
    """The router in front of `engine` (its Service is named after the release; `slots`: the
    engine's blue-green slots, wiring/engine.py `local_slots`), with the traffic plan's budgets
    and the stack's secrets."""
    release, labels, monitoring = names.release, names.router_labels, cfg.monitoring
    selector = selector_of(labels)
    redis = shared_redis(cfg, traffic, release, namespace, selector)
    clients, providers = render.client_keys(cfg.traffic, release), provider_secrets(cfg, release)
    files = render.config_files(cfg.traffic, traffic, cfg.model.served_name,
                                render.local_api_base(release, cfg.namespace, PORT), redis.target,
                                slots)
    template = router_pod(cfg, traffic, names, engine, clients, providers, redis, files)
    operator = monitoring.enabled and monitoring.prometheus_operator
    return TrafficRouterArgs(
        namespace=namespace, object_name=render.object_name(release), labels=labels,
        selector=selector, master_secret=render.secret_name(release, "master"),
        clients=clients, config_secrets=[*providers.values(), *filter(None, [redis.secret])],
        config_files=files, deployment_annotations=render.deployment_annotations(traffic),
        deployment=render.deployment_spec(cfg.traffic.router.replicas, selector, template),
        service_annotations=render.service_annotations(operator),
        service=render.service_spec(selector), disruption_budget=render.pdb_spec(selector),
        network_policy=render.network_policy(
            selector, cfg.network, engine.selector, PORT,
            redis.target.port if redis.target else None, redis.selector,
            tuple(slot.selector for slot in (slots or [])[1:])),
        redis=redis.deployed,
        monitor=render.service_monitor_spec(selector) if operator else None,
        alert_groups=render.alert_rules(
            release, cfg.traffic.router.replicas if redis.target else 0,
            cfg.namespace) if operator else None,
        monitoring_labels=({"release": monitoring.release_label}
                           if monitoring.release_label else {}))


def edge_args(cfg: StackConfig, traffic: TrafficPlan, names: StackNames,
              namespace: pulumi.Input[str], router_service: pulumi.Input[str]) -> TrafficEdgeArgs:
    """The edge in front of the router's Service, labelled like the router."""
    gateway, labels = cfg.traffic.gateway, names.router_labels
    base = render_edge.object_name(names.release)
    own = (render_edge.own_gateway_objects(gateway, traffic, base, namespace, labels)
           if gateway.create else {})
    return TrafficEdgeArgs(
        own_gateway=own, hostnames=list(gateway.hostnames),
        routes=render_edge.route_objects(gateway, traffic, base, namespace, labels,
                                         router_service, ROUTER_PORT))


def traffic_outputs(cfg: StackConfig, traffic: TrafficPlan, router: Any) -> dict[str, Any]:
    """The stack outputs of the traffic layer: the router's URL, the client key Secrets, the
    traffic plan and, with an edge, the URL clients use."""
    out = {"router": router.url, "clientKeySecrets": router.client_secrets,
           "traffic": dataclasses.asdict(traffic)}
    if cfg.traffic.gateway is not None:
        out["routeUrl"] = render_edge.route_url(cfg.traffic.gateway)
    return out
