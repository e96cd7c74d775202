"""vllm-serving: production vLLM on Kubernetes, one stack per environment. Only wiring: config and
plan (stop before any resource exists) -> names -> components -> exports (docs/architecture.md)."""

import dataclasses

import pulumi
import pulumi_kubernetes as k8s

from components.autoscaler import Autoscaler
from components.gateway import TrafficEdge, edge_args
from components.image import VllmImage, VllmImageArgs
from components.inference import InferenceDeployment
from components.metrics import MetricsStack
from components.model_store import ModelStore
from components.namespace import ServingNamespace
from components.router import TrafficRouter, router_args
from planning import traffic as traffic_plan
from planning.load import load_stack
from rendering.gateway import route_url
from rendering.naming import stack_names
from rendering.provider import provider_inputs
from wiring import engine

cfg, cluster, plan = load_stack(pulumi.get_stack())
names = stack_names(pulumi.get_stack(), cfg, plan)
release = names.release
provider = k8s.Provider("k8s", **provider_inputs(cluster, secret=pulumi.Output.secret))
opts = pulumi.ResourceOptions(provider=provider)
namespace = ServingNamespace(release, cfg.namespace, cfg.create_namespace, opts=opts)
image = VllmImage(release, VllmImageArgs(cfg.vllm_version, cfg.image, name=release), opts=opts)
store = ModelStore(release, engine.model_store_args(cfg, plan, names, namespace.name, image.ref),
                   opts=opts)
inference = InferenceDeployment(
    release, engine.inference_args(cfg, plan, names, namespace.name, image.ref, store), opts)
after_inference = pulumi.ResourceOptions(provider=provider, depends_on=[inference])
metrics = MetricsStack(release, engine.metrics_args(cfg, names), opts=after_inference)
autoscaler = Autoscaler(release, engine.autoscaler_args(cfg, plan, names), opts=after_inference)
outputs = engine.engine_outputs(cfg, plan, names, namespace.name, image, store, inference,
                                metrics, autoscaler)
if cfg.traffic.enabled:
    traffic = traffic_plan.for_stack(cfg, plan)
    router = TrafficRouter(release, router_args(cfg, traffic, release, namespace.name, inference),
                           opts=after_inference)
    outputs.update(router=router.url, clientKeySecrets=router.client_secrets,
                   traffic=dataclasses.asdict(traffic))
    if cfg.traffic.gateway is not None:
        TrafficEdge(release, edge_args(cfg.traffic.gateway, traffic, release, namespace.name,
                                       router.service_name, names.router_labels),
                    opts=pulumi.ResourceOptions(provider=provider, depends_on=[router]))
        outputs["routeUrl"] = route_url(cfg.traffic.gateway)
for key, value in outputs.items():
    pulumi.export(key, value)
