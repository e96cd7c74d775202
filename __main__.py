"""vllm-serving: production vLLM on Kubernetes, one stack per environment. Only wiring: config and
plan (stop before any resource exists) -> names -> components -> exports (docs/architecture.md)."""

import pulumi
import pulumi_kubernetes as k8s

from components.autoscaler import Autoscaler
from components.gateway import TrafficEdge
from components.image import VllmImage
from components.inference import InferenceDeployment
from components.metrics import MetricsStack
from components.model_store import ModelStore
from components.namespace import ServingNamespace
from components.router import TrafficRouter
from planning.load import load_stack
from rendering.naming import stack_names
from rendering.provider import provider_inputs
from wiring import engine
from wiring.image import image_args
from wiring.traffic import edge_args, router_args, traffic_outputs

cfg, cluster, plan = load_stack(pulumi.get_stack())
names = stack_names(pulumi.get_stack(), cfg, plan)
release, monitored = names.release, engine.metrics_args(cfg, names)   # before any resource
provider = k8s.Provider("k8s", **provider_inputs(cluster, secret=pulumi.Output.secret))
opts = pulumi.ResourceOptions(provider=provider)
namespace = ServingNamespace(release, cfg.namespace, cfg.create_namespace, opts=opts,
                             pod_security=engine.pod_security(cfg))
image = VllmImage(release, image_args(cfg, release), opts=opts)
store = ModelStore(release, engine.model_store_args(cfg, plan, names, namespace.name, image.ref),
                   opts=opts)
inference = InferenceDeployment(
    release, engine.inference_args(cfg, plan, names, namespace.name, image.ref, store), opts)
after_inference = pulumi.ResourceOptions(provider=provider, depends_on=[inference])
metrics = MetricsStack(release, monitored, opts=after_inference)
autoscaler = Autoscaler(release, engine.autoscaler_args(cfg, plan, names), opts=after_inference)
outputs = engine.engine_outputs(cfg, plan, names, namespace.name, image, store, inference,
                                metrics, autoscaler)
if cfg.traffic.enabled:
    traffic = plan.traffic
    router = TrafficRouter(release, router_args(cfg, traffic, names, namespace.name, inference,
                                                engine.local_slots(cfg, plan, names)),
                           opts=after_inference)
    if cfg.traffic.gateway is not None:
        TrafficEdge(release, edge_args(cfg, traffic, names, namespace.name, router.service_name),
                    opts=pulumi.ResourceOptions(provider=provider, depends_on=[router]))
    outputs.update(traffic_outputs(cfg, traffic, router))
for key, value in outputs.items():
    pulumi.export(key, value)
