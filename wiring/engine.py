"""The engine side's args: the model store, the inference workload, its monitoring and its
autoscaler, each rendered whole from the stack's config, plan and names (rendering/) and handed
to its component (components/), which only creates what it is given."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import pulumi

from components.autoscaler import Autoscaler, AutoscalerArgs
from components.image import VllmImage
from components.inference import EngineSlotArgs, InferenceDeployment, InferenceDeploymentArgs
from components.metrics import MetricsStack, MetricsStackArgs
from components.model_store import ModelStore, ModelStoreArgs
from planning.config import ConfigError, StackConfig
from planning.plan import Plan
from rendering import autoscaler as scaling
from rendering import image as render_image
from rendering import alerting, inference, metrics, pod, revisions, router, vllm_args
from rendering import model_store as store
from rendering import node_cache, object_store
from rendering.labels import selector_of
from rendering.namespace import pod_security_level
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


def pod_security(cfg: StackConfig) -> str:
    """The Pod Security level the stack's namespace enforces (rendering/namespace.py)."""
    return pod_security_level(cfg.storage.mode)


def inference_args(cfg: StackConfig, plan: Plan, names: StackNames,
                   namespace: pulumi.Input[str], image_ref: pulumi.Input[str],
                   model_store: ModelStore) -> InferenceDeploymentArgs:
    """The engine serving the store's weights, its Service annotated for the scrape mode;
    during a blue-green switch the previous slot beside it (rendering/revisions.py)."""
    labels = names.labels
    key = inference.api_key(cfg, names.release, namespace, labels)
    cache = inference.compile_cache_claim(cfg, plan, names.release, namespace, labels)
    logging = vllm_args.logging_config_map(f"{names.release}-logging", namespace, labels,
                                           plan.version)
    annotations = (metrics.service_annotations(metrics_inputs(cfg, names))
                   if cfg.monitoring.enabled else {})
    shared = _SharedPieces(names.release, namespace, model_store, key, cache, logging,
                           annotations)
    serving = revisions.slot_names(names, cfg)
    current = _engine_slot(cfg, plan, serving, image_ref, store.StorePodSide(
        model_dir=names.model_dir, model_volume=model_store.model_volume,
        required_node_labels=model_store.required_node_labels,
        pull_secrets=model_store.pull_secrets, ready_marker=model_store.ready_marker), shared)
    return InferenceDeploymentArgs(
        namespace=namespace, labels=serving.labels, selector=selector_of(serving.labels),
        workload=current.workload, service=current.service,
        disruption_budget=current.disruption_budget, network_policy=current.network_policy,
        api_key=key, rollout_timeout_seconds=plan.rollout.timeout_seconds,
        claim_release_seconds=plan.rollout.claim_release_seconds,
        autoscaled=cfg.autoscaling.enabled, compile_cache=cache, logging_config=logging,
        depends_on=[model_store], slot=current.slot,
        previous=_previous_slot(cfg, plan, names, image_ref, shared))


@dataclasses.dataclass(frozen=True)
class _SharedPieces:
    """What both slots of a switch share: the release, the namespace, the weights' claim, the
    API key, the compile cache and the logging ConfigMap."""

    release: str
    namespace: Any
    model_store: ModelStore
    key: inference.ApiKey
    cache: Optional[dict]
    logging: Optional[dict]
    service_annotations: dict[str, str]
    """The scrape mode's, on each slot's Service."""


def _engine_slot(cfg: StackConfig, plan: Plan, names: StackNames, image_ref: Any,
                 store_side: store.StorePodSide, shared: _SharedPieces) -> EngineSlotArgs:
    """One slot's workload, Service, PDB and NetworkPolicy, rendered from the config and plan
    of the revision it serves, its names and what its pods need of the store to read that
    revision."""
    namespace = shared.namespace
    inputs = inference.pod_inputs(
        cfg, plan, names, image=image_ref, claim_name=shared.model_store.claim_name,
        ready_marker=store_side.ready_marker, key=shared.key, compile_cache=shared.cache,
        logging_config=shared.logging)
    template = pod.pod_template(plan, dataclasses.replace(
        inputs, model_volume=store_side.model_volume,
        required_node_labels=store_side.required_node_labels,
        pull_secrets=[*inputs.pull_secrets, *store_side.pull_secrets]))
    return EngineSlotArgs(
        slot=cfg.blue_green.slot,
        workload=inference.workload(cfg, plan, names, namespace, template),
        service=revisions.slot_service(
            inference.service(plan, names, namespace, shared.service_annotations),
            shared.release, cfg),
        disruption_budget=inference.disruption_budget(names, namespace),
        network_policy=inference.network_policy(cfg, plan, names, namespace))


def _previous_slot(cfg: StackConfig, plan: Plan, names: StackNames, image_ref: Any,
                   shared: _SharedPieces) -> Optional[EngineSlotArgs]:
    """The previous slot as it was deployed: its revision's store pieces, rendered from its
    own config's storage (its directory and ready marker, its model image, its node cache's
    ready label: revisions.store_pod_side), its vLLM's image (the stack's own when the version
    did not change)."""
    previous = plan.revisions.previous if plan.revisions else None
    if previous is None:
        return None
    before, before_plan = previous
    image = (image_ref if before.vllm_version == cfg.vllm_version
             else render_image.reference(before.image, before.vllm_version))
    return _engine_slot(before, before_plan, previous_names(names, plan), image,
                        _previous_store_side(plan), shared)


def _previous_store_side(plan: Plan) -> store.StorePodSide:
    """What the previous slot's pods need of the store for the previous revision."""
    before = plan.revisions.previous.config
    return revisions.store_pod_side(before.storage, plan.model.hf_id, before.model.revision)


def previous_names(names: StackNames, plan: Plan) -> Optional[StackNames]:
    """The names of a switch's previous slot (its revision's model directory), else None."""
    previous = plan.revisions.previous if plan.revisions else None
    if previous is None:
        return None
    return revisions.slot_names(names, previous.config, _previous_store_side(plan).model_dir)


def local_slots(cfg: StackConfig, plan: Plan, names: StackNames) -> list[revisions.LocalSlot]:
    """The engine slots the router sends the local aliases to, with the plan's weights."""
    return revisions.local_slots(revisions.slot_names(names, cfg),
                                 previous_names(names, plan), cfg.namespace, plan.revisions)


def metrics_inputs(cfg: StackConfig, names: StackNames) -> metrics.MetricsInputs:
    """Monitoring of the stack's inference Service and workload: those of the slot serving
    model.revision (the release's own names unless blueGreen.slot is green)."""
    serving = revisions.slot_names(names, cfg)
    return metrics.MetricsInputs(
        release=names.release, namespace=cfg.namespace, service_name=serving.release,
        service_port_name=pod.PORT_NAME, deployment_name=serving.workload,
        served_name=cfg.model.served_name, vllm_version=cfg.vllm_version,
        # The release's Services: each slot's carries its labels (revisions.slot_service).
        selector_labels=selector_of(names.labels), common_labels=names.labels,
        monitoring=cfg.monitoring, hpa_name=serving.hpa, workload_kind=names.workload_type[1],
        router_alerts=tuple(alerting.alert_names(router.alert_rules(
            names.release, 1 if cfg.traffic.router.shared_redis() else 0)))
        if cfg.traffic.enabled else ())


def metrics_args(cfg: StackConfig, names: StackNames) -> MetricsStackArgs:
    """The MetricsStack's args: the objects of the configured monitoring mode. Called before
    any resource exists (`__main__.py`): alert routing naming an alert the stack does not
    render stops the preview with the config key, as `load_stack` does."""
    try:
        return MetricsStackArgs(metrics.metrics_objects(metrics_inputs(cfg, names)))
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None


def autoscaler_args(cfg: StackConfig, plan: Plan, names: StackNames) -> AutoscalerArgs:
    """The workload serving model.revision (its slot's) scaled on the plan's per-replica
    target and windows."""
    serving = revisions.slot_names(names, cfg)
    inputs = scaling.ScalingInputs(
        namespace=cfg.namespace, deployment_name=serving.workload,
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
