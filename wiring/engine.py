"""The engine side's args: the model store, the inference workload, its monitoring and its
autoscaler, each rendered whole from the stack's config, plan and names (rendering/) and handed
to its component (components/), which only creates what it is given."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import pulumi

from components.autoscaler import Autoscaler, AutoscalerArgs
from components.image import VllmImage
from components.inference import InferenceDeployment, InferenceDeploymentArgs
from components.metrics import MetricsStack, MetricsStackArgs
from components.model_store import ModelStore, ModelStoreArgs
from planning.config import ConfigError, StackConfig
from planning.plan import Plan
from rendering import autoscaler as scaling
from rendering import inference, metrics, pod, router, vllm_args
from rendering import model_store as store
from rendering import node_cache, object_store
from rendering.labels import selector_of
from rendering.naming import StackNames


def model_store_args(cfg: StackConfig, plan: Plan, names: StackNames,
                     namespace: pulumi.Input[str], image_ref: pulumi.Input[str]) -> ModelStoreArgs:
    """The store of `cfg`'s model: its volume sized by the plan, downloaded (pvc) by the
    configured downloader image, else by the serving image."""
    pvc = cfg.storage.pvc
    return ModelStoreArgs(
        objects=delivered_objects(cfg, plan, names, namespace, image_ref) or store.store_objects(
            names.release, namespace, cfg.namespace, cfg.storage, plan.model.hf_id,
            cfg.model.revision, plan.storage.capacity_gi,
            downloader_image=(pvc.downloader_image if pvc and pvc.downloader_image
                              else image_ref),
            product_labels=plan.gpu.product_labels),
        download_timeout_seconds=plan.storage.download_timeout_seconds,
        release_timeout_seconds=plan.rollout.claim_release_seconds)


def delivered_objects(cfg: StackConfig, plan: Plan, names: StackNames,
                      namespace: pulumi.Input[str],
                      image_ref: pulumi.Input[str]) -> Optional[store.StoreObjects]:
    """The store of the image and nodeCache modes (None for the others): the pushed model image,
    or the node cache staged by the configured stager image, else by the serving image, on the
    engine's nodes unless nodeCache.nodeSelector names others."""
    storage, hf_id, revision = cfg.storage, plan.model.hf_id, cfg.model.revision
    if storage.mode == "image":
        return store.image_store_objects(storage, hf_id, revision)
    if storage.mode == "objectStore":   # nothing to create: the engine streams from the URI
        return store.StoreObjects(claim=None, model_dir=object_store.model_argument(
            storage.object_store.uri))
    if storage.mode == "nodeCache":
        return node_cache.cache_store_objects(
            names.release, namespace, cfg.namespace, storage, hf_id, revision,
            image=storage.node_cache.stager_image or image_ref,
            product_labels=plan.gpu.product_labels,
            node_selector=cfg.placement.node_selector, tolerations=cfg.placement.tolerations)
    return None


def inference_args(cfg: StackConfig, plan: Plan, names: StackNames,
                   namespace: pulumi.Input[str], image_ref: pulumi.Input[str],
                   model_store: ModelStore) -> InferenceDeploymentArgs:
    """The engine serving the store's weights, its Service annotated for the scrape mode."""
    labels = names.labels
    key = inference.api_key(cfg, names.release, namespace, labels)
    cache = inference.compile_cache_claim(cfg, plan, names.release, namespace, labels)
    logging = vllm_args.logging_config_map(f"{names.release}-logging", namespace, labels,
                                           plan.version)
    inputs = inference.pod_inputs(
        cfg, plan, names, image=image_ref, claim_name=model_store.claim_name,
        ready_marker=model_store.ready_marker, key=key, compile_cache=cache,
        logging_config=logging)
    template = pod.pod_template(plan, dataclasses.replace(
        inputs, model_volume=model_store.model_volume,
        required_node_labels=model_store.required_node_labels,
        pull_secrets=[*inputs.pull_secrets, *model_store.pull_secrets]))
    annotations = (metrics.service_annotations(metrics_inputs(cfg, names))
                   if cfg.monitoring.enabled else {})
    return InferenceDeploymentArgs(
        namespace=namespace, labels=labels, selector=selector_of(labels),
        workload=inference.workload(cfg, plan, names, namespace, template),
        service=inference.service(plan, names, namespace, annotations),
        disruption_budget=inference.disruption_budget(names, namespace),
        network_policy=inference.network_policy(cfg, plan, names, namespace),
        api_key=key, rollout_timeout_seconds=plan.rollout.timeout_seconds,
        claim_release_seconds=plan.rollout.claim_release_seconds,
        autoscaled=cfg.autoscaling.enabled, compile_cache=cache, logging_config=logging,
        depends_on=[model_store])


def metrics_inputs(cfg: StackConfig, names: StackNames) -> metrics.MetricsInputs:
    """Monitoring of the stack's inference Service (named after the release) and workload."""
    return metrics.MetricsInputs(
        release=names.release, namespace=cfg.namespace, service_name=names.release,
        service_port_name=pod.PORT_NAME, deployment_name=names.workload,
        served_name=cfg.model.served_name, vllm_version=cfg.vllm_version,
        selector_labels=selector_of(names.labels), common_labels=names.labels,
        monitoring=cfg.monitoring, hpa_name=names.hpa, workload_kind=names.workload_type[1])


def metrics_args(cfg: StackConfig, names: StackNames) -> MetricsStackArgs:
    """The MetricsStack's args: the objects of the configured monitoring mode. Called before
    any resource exists (`__main__.py`): alert routing naming an alert the stack does not
    render stops the preview with the config key, as `load_stack` does."""
    try:
        return MetricsStackArgs(metrics.metrics_objects(metrics_inputs(cfg, names)))
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None


def autoscaler_args(cfg: StackConfig, plan: Plan, names: StackNames) -> AutoscalerArgs:
    """The stack's workload scaled on the plan's per-replica target and windows."""
    inputs = scaling.ScalingInputs(
        namespace=cfg.namespace, deployment_name=names.workload,
        served_name=cfg.model.served_name, vllm_version=cfg.vllm_version,
        per_replica_target=plan.autoscaling.target_per_replica, windows=plan.scaling,
        autoscaling=cfg.autoscaling, labels=names.labels, workload=names.workload_type,
        wake=plan.wake, router_service=router.object_name(names.release))
    return autoscaler_args_of(inputs)


def autoscaler_args_of(inputs: scaling.ScalingInputs) -> AutoscalerArgs:
    """The Autoscaler's args for rendering inputs (tests build them without a stack)."""
    return AutoscalerArgs(scaling.autoscaler_objects(inputs),
                          per_replica_target=inputs.per_replica_target)


def engine_outputs(cfg: StackConfig, plan: Plan, names: StackNames, namespace: Any,
                   image: VllmImage, model_store: ModelStore, engine: InferenceDeployment,
                   monitoring: MetricsStack, autoscaler: Autoscaler) -> dict[str, Any]:
    """The stack's outputs on the engine side."""
    return {"namespace": namespace, "image": image.ref, "service": engine.service_name,
            "endpoint": engine.endpoint, "apiKeySecret": engine.api_key_secret_name,
            "modelClaim": model_store.claim_name, "modelDir": names.model_dir,
            "plan": plan.outputs(), "prometheusRules": monitoring.rules_yaml,
            "scrapeConfig": monitoring.scrape_config,
            "autoscalerTarget": autoscaler.per_replica_target,
            "prometheusAdapterRules": autoscaler.adapter_rules,
            # The generated key, for a first request (a secret output).
            **({"apiKey": engine.api_key} if cfg.api_key.existing_secret is None else {})}
