"""vllm-serving: production vLLM on Kubernetes, one stack per environment. Only wiring: config and
plan (stop before any resource exists) -> names -> components -> exports (docs/architecture.md)."""

import dataclasses

import pulumi
import pulumi_kubernetes as k8s

from components.autoscaler import Autoscaler, autoscaler_args
from components.gateway import TrafficEdge, edge_args
from components.image import VllmImage, VllmImageArgs
from components.inference import InferenceDeployment, InferenceDeploymentArgs
from components.metrics import MetricsStack, metrics_args, service_annotations
from components.model_store import ModelStore, model_store_args
from components.namespace import ServingNamespace
from components.router import TrafficRouter, router_args
from planning.load import load_stack
from rendering.gateway import route_url
from rendering.naming import stack_names
from rendering.provider import provider_inputs

cfg, cluster, plan = load_stack(pulumi.get_stack())
names = stack_names(pulumi.get_stack(), cfg, plan)
release, monitored = names.release, metrics_args(cfg, names)
provider = k8s.Provider("k8s", **provider_inputs(cluster, secret=pulumi.Output.secret))
opts = pulumi.ResourceOptions(provider=provider)
namespace = ServingNamespace(release, cfg.namespace, cfg.create_namespace, opts=opts)
image = VllmImage(release, VllmImageArgs(cfg.vllm_version, cfg.image, name=release), opts=opts)
store = ModelStore(release, model_store_args(cfg, plan, release, namespace.name, image.ref),
                   opts=opts)
inference = InferenceDeployment(release, InferenceDeploymentArgs(
    names=names, namespace=namespace.name, config=cfg, plan=plan, image=image.ref,
    claim_name=store.claim_name, ready_marker=store.ready_marker, depends_on=[store],
    service_annotations=service_annotations(monitored) if cfg.monitoring.enabled else {}), opts)
after_inference = pulumi.ResourceOptions(provider=provider, depends_on=[inference])
metrics = MetricsStack(release, monitored, opts=after_inference)
autoscaler = Autoscaler(release, autoscaler_args(cfg, plan, names), opts=after_inference)
outputs = {"namespace": namespace.name, "image": image.ref, "service": inference.service_name,
           "endpoint": inference.endpoint, "apiKeySecret": inference.api_key_secret_name,
           "modelClaim": store.claim_name, "modelDir": names.model_dir, "plan": plan.outputs(),
           "prometheusRules": metrics.rules_yaml, "scrapeConfig": metrics.scrape_config,
           "autoscalerTarget": autoscaler.per_replica_target,
           "prometheusAdapterRules": autoscaler.adapter_rules,
           # The generated key, for a first request (a secret output).
           **({"apiKey": inference.api_key} if cfg.api_key.existing_secret is None else {})}
if cfg.traffic.enabled:
    traffic = plan.traffic
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
