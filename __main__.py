"""vllm-serving: production vLLM on Kubernetes, one stack per environment.

Thin on purpose: validate config and derive the plan (both stop the program before any resource
exists), then compose the components. docs/architecture.md shows how config flows into them.
"""

import dataclasses

import pulumi
import pulumi_kubernetes as k8s

from planning import config as stack_config
from components.image import VllmImage, VllmImageArgs
from components.autoscaler import Autoscaler, AutoscalerArgs, hpa_name_for
from components.gateway import TrafficEdge, TrafficEdgeArgs
from components.inference import InferenceDeployment, InferenceDeploymentArgs
from components.router import TrafficRouter, TrafficRouterArgs, router_labels
from rendering.labels import common_labels, release_name, selector_of
from components.metrics import MetricsStack, MetricsStackArgs, service_annotations
from components.model_store import ModelStore, ModelStoreArgs
from components.namespace import ServingNamespace
from planning import traffic as traffic_plan
from planning.pins import unpinned_warnings
from planning.plan import make_plan
from rendering.model_store import model_directory
from rendering import multinode
from rendering.vllm_args import PORT, server_args
from facts.conventions import COMPONENT_INFERENCE

try:
    stack_config.check_stack_name(pulumi.get_stack())
    cfg = stack_config.from_pulumi_config()
    cluster = stack_config.cluster_from_pulumi_config()
    stack_config.check_cluster(cluster, cfg.require_cluster, pulumi.get_stack())
    plan = make_plan(cfg)
    traffic_problems = traffic_plan.problems(cfg.traffic, cfg.shutdown.max_tokens)
    traffic_problems += traffic_plan.secret_problems(cfg.traffic, cfg.traffic_secrets)
    if traffic_problems:
        raise stack_config.ConfigError(traffic_problems)
except stack_config.ConfigError as error:
    # RunError prints as a plain message, without a traceback.
    raise pulumi.RunError(str(error)) from None

# What runs unpinned (never on a production stack, which refuses it), said at every preview.
for warning in unpinned_warnings(cfg):
    pulumi.log.warn(warning)

release = release_name(pulumi.get_stack(), cfg.model.served_name)
provider = k8s.Provider(
    "k8s", context=cluster.context, cluster=cluster.cluster,
    # A kubeconfig holds credentials and pulumi-kubernetes does not mark this input secret
    # (provider/pkg/gen/schema.go), so it would be stored in plaintext; as a secret it is
    # encrypted, and DiffConfig (unmarshalled without KeepSecrets) sees no change.
    kubeconfig=pulumi.Output.secret(cluster.kubeconfig) if cluster.kubeconfig else None,
    # Server-side apply, so field ownership lets an autoscaler own spec.replicas.
    enable_server_side_apply=True,
    # Update ConfigMaps and Secrets in place: by default a data change replaces them, and a
    # named object is replaced delete-first (the API key Secret would vanish under the pods).
    enable_config_map_mutable=True, enable_secret_mutable=True)
opts = pulumi.ResourceOptions(provider=provider)

namespace = ServingNamespace(release, cfg.namespace, cfg.create_namespace, opts=opts)
image = VllmImage(release, VllmImageArgs(vllm_version=cfg.vllm_version, image=cfg.image,
                                         name=release), opts=opts)
store = ModelStore(release, ModelStoreArgs(
    release=release, namespace=namespace.name, namespace_name=cfg.namespace,
    storage=cfg.storage, hf_id=plan.model.hf_id, revision=cfg.model.revision,
    capacity_gi=plan.storage.capacity_gi,
    download_timeout_seconds=plan.storage.download_timeout_seconds,
    downloader_image=(cfg.storage.pvc.downloader_image if cfg.storage.pvc
                      and cfg.storage.pvc.downloader_image else image.ref),
    product_labels=plan.gpu.product_labels,
    release_timeout_seconds=plan.rollout.claim_release_seconds), opts=opts)
model_dir = model_directory(cfg.storage, plan.model.hf_id, cfg.model.revision)
# Names are known up front (the Service and Deployment are named after the release), so the
# monitoring rules render before anything exists and the Service gets its scrape annotations.
labels = common_labels(release, cfg.vllm_version, COMPONENT_INFERENCE)
metrics_args = MetricsStackArgs(
    namespace=cfg.namespace, service_name=release, service_port_name="http",
    deployment_name=multinode.workload_name(release, plan), served_name=cfg.model.served_name,
    vllm_version=cfg.vllm_version, selector_labels=selector_of(labels), common_labels=labels, monitoring=cfg.monitoring,
    hpa_name=(hpa_name_for(cfg.autoscaling.engine, multinode.workload_name(release, plan))
              if cfg.autoscaling.enabled
              else None),
    service_port=PORT, workload_kind=multinode.workload(plan)[1])
inference = InferenceDeployment(release, InferenceDeploymentArgs(
    release=release, namespace=namespace.name, config=cfg, plan=plan, image=image.ref,
    claim_name=store.claim_name, model_dir=model_dir,
    server_args=server_args(cfg, plan, model_dir), ready_marker=store.ready_marker,
    service_annotations=service_annotations(metrics_args) if cfg.monitoring.enabled else {},
    depends_on=[store],
    # Behind the traffic layer only the router (and Prometheus) may reach the engine.
    router_selector=(selector_of(router_labels(release)) if cfg.traffic.enabled else None)),
    opts=opts)
after_inference = pulumi.ResourceOptions(provider=provider, depends_on=[inference])
metrics = MetricsStack(release, metrics_args, opts=after_inference)
autoscaler = Autoscaler(release, AutoscalerArgs(
    namespace=cfg.namespace, deployment_name=multinode.workload_name(release, plan), served_name=cfg.model.served_name,
    vllm_version=cfg.vllm_version, per_replica_target=plan.autoscaling.target_per_replica,
    windows=plan.scaling, autoscaling=cfg.autoscaling,
    labels=labels, workload=multinode.workload(plan)), opts=after_inference)

if cfg.traffic.enabled:
    traffic = traffic_plan.for_stack(cfg, plan)
    router = TrafficRouter(release, TrafficRouterArgs(
        release=release, namespace=namespace.name, namespace_name=cfg.namespace,
        traffic=cfg.traffic, plan=traffic, served_name=cfg.model.served_name,
        engine_service=release, engine_port=PORT, engine_selector=inference.selector,
        engine_secret_name=inference.api_key_secret_name,
        engine_secret_key=inference.api_key_secret_key,
        network=cfg.network,
        prometheus_operator=cfg.monitoring.enabled and cfg.monitoring.prometheus_operator,
        monitoring_labels=({"release": cfg.monitoring.release_label}
                           if cfg.monitoring.release_label else {}),
        secrets=cfg.traffic_secrets), opts=after_inference)
    pulumi.export("router", router.url)
    pulumi.export("clientKeySecrets", router.client_secrets)
    pulumi.export("traffic", dataclasses.asdict(traffic))
    if cfg.traffic.gateway is not None:
        edge = TrafficEdge(release, TrafficEdgeArgs(
            release=release, namespace=namespace.name, gateway=cfg.traffic.gateway,
            plan=traffic, router_service=router.service_name,
            router_port=traffic_plan.ROUTER_PORT, labels=router_labels(release)),
            opts=pulumi.ResourceOptions(provider=provider, depends_on=[router]))
        pulumi.export("routeUrl", pulumi.Output.from_input(
            f"https://{cfg.traffic.gateway.hostnames[0]}/v1"))

pulumi.export("namespace", namespace.name)
pulumi.export("image", image.ref)
pulumi.export("service", inference.service_name)
pulumi.export("endpoint", pulumi.Output.format(
    "http://{0}.{1}.svc:{2}/v1", inference.service_name, namespace.name, 8000))
pulumi.export("apiKeySecret", inference.api_key_secret_name)
if cfg.api_key.existing_secret is None:
    # The key the program generated, for a first request (`pulumi stack output apiKey
    # --show-secrets`); a secret output, so the state and the CLI keep it encrypted.
    pulumi.export("apiKey", inference.api_key)
pulumi.export("modelClaim", store.claim_name)
pulumi.export("modelDir", model_dir)
pulumi.export("plan", plan.outputs())
pulumi.export("prometheusRules", metrics.rules_yaml)
pulumi.export("scrapeConfig", metrics.scrape_config)
pulumi.export("autoscalerTarget", autoscaler.per_replica_target)
pulumi.export("prometheusAdapterRules", autoscaler.adapter_rules)
