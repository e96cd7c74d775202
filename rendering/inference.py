"""The inference objects as plain data: the workload (a Deployment, or a LeaderWorkerSet when a
replica spans nodes), its Service, PodDisruptionBudget, NetworkPolicy, API-key Secret and
torch.compile cache claim. components/inference.py creates exactly these; wiring/engine.py
renders them from the stack's config, plan and names."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from facts import conventions as c
from planning.config import NetworkConfig, StackConfig
from planning.plan import Plan
from rendering import kube, multinode, object_store, pod, vllm_args
from rendering import model_store as store
from rendering import network as fence
from rendering.labels import selector_of
from rendering.naming import StackNames
from rendering.vllm_args import PORT

API_KEY_SECRET_KEY = "api-key"


def deployment_annotations(cfg: StackConfig, plan: Plan) -> dict[str, str]:
    """What policies need to know, stated on the Deployment (see facts/conventions.py), plus
    Pulumi's own await timeout for the whole rollout."""
    return {
        "pulumi.com/timeoutSeconds": str(plan.rollout.timeout_seconds),
        c.ANN_VLLM_VERSION: cfg.vllm_version,
        c.ANN_MODEL: plan.model.hf_id,
        c.ANN_MODEL_REVISION: cfg.model.revision,
        c.ANN_ESTIMATED_LOAD_SECONDS: str(plan.startup.estimated_seconds),
        c.ANN_TENSOR_PARALLEL: str(plan.layout.tensor_parallel),
        c.ANN_PIPELINE_PARALLEL: str(plan.layout.pipeline_parallel),
        c.ANN_DATA_PARALLEL: str(plan.layout.data_parallel),
        c.ANN_PRESTOP_SECONDS: str(plan.drain.pre_stop_bound_seconds),
        c.ANN_SHUTDOWN_TIMEOUT_SECONDS: str(plan.drain.shutdown_timeout_seconds),
    }


REPLICAS_OWNED_BY_AUTOSCALER = ["spec.replicas"]
"""With an autoscaler, `replicas` is only the starting count: sent when the Deployment is
created, never again. Under ignoreChanges the engine keeps the old input, and on an update
pulumi-kubernetes drops the field from the patch once another manager owns it, or sends the
live value (provider.go `handleSSAIgnoreFields`), so `pulumi up` never resets or fights it."""


def replica_ownership(autoscaled: bool) -> dict[str, str]:
    """Annotations that settle who owns spec.replicas.

    Without an autoscaler the program owns the count. If one ran before (autoscaling just
    turned off), its manager (kube-controller-manager via /scale) still owns spec.replicas and a
    plain server-side apply of a different count fails with a field conflict; patchForce takes
    the field over (pulumi-kubernetes `pulumi.com/patchForce`). Nothing else should own fields
    of this Deployment, so forcing loses nothing.
    """
    return {} if autoscaled else {"pulumi.com/patchForce": "true"}


def rolling_update(plan: Plan) -> dict:
    """Surge only into declared spare GPUs; otherwise replace one pod at a time.

    A surge pod without free GPUs stays Pending and the rollout (and `pulumi up`) hangs.
    """
    if plan.rollout.surge > 0:
        return {"maxSurge": plan.rollout.surge, "maxUnavailable": 0}
    return {"maxSurge": 0, "maxUnavailable": 1}


def network_policy_spec(selector: dict[str, str], network: NetworkConfig,
                        router_selector: Optional[dict[str, str]] = None,
                        group: Optional[dict[str, str]] = None,
                        extra_egress: Optional[list[dict]] = None) -> dict:
    """Ingress to the HTTP port only from named pods: the gateway's proxy pods — or, behind the
    traffic layer, the router's pods — and Prometheus' pods, each in its namespaces. vLLM's
    /invocations, /tokenize and /metrics need no key (facts/vllm_features.py
    API_KEY_GUARDED_PREFIXES), so any other pod admitted here would bypass the router's keys,
    limits and caps. Egress only to DNS (serving pods run offline: weights are mounted,
    HF_HUB_OFFLINE=1). A multi-node group (`group`: the labels of its pods) also talks to
    itself on every port, both ways: NCCL and Gloo pick their ports at run time, besides the
    rendezvous and DP RPC ports. `extra_egress`: what the pods' own load path needs (objectStore:
    rendering/object_store.py `egress`)."""
    peers = ([{"podSelector": {"matchLabels": dict(router_selector)}}]
             if router_selector is not None else fence.gateway_proxies(network))
    peers += fence.prometheus_pods(network)
    ingress = [{"from": peers, "ports": [{"protocol": "TCP", "port": PORT}]}] if peers else []
    if group:
        ingress.insert(0, {"from": [{"podSelector": {"matchLabels": group}}]})
    return {
        "podSelector": {"matchLabels": selector},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": ingress,
        "egress": [kube.dns_egress()]
        + ([{"to": [{"podSelector": {"matchLabels": group}}]}] if group else [])
        + list(extra_egress or []),
    }


@dataclasses.dataclass(frozen=True)
class ApiKey:
    """The engine's API key: a Secret the program generates (`secret` is its metadata), or the
    operator's (`secret` None: never read, so its checksum is its name)."""

    secret_name: str
    secret_key: str
    length: int
    secret: Optional[dict] = None


def api_key(cfg: StackConfig, release: str, namespace: Any, labels: dict[str, str]) -> ApiKey:
    """apiKey.existingSecret, else a generated key in the Secret `<release>-api-key`."""
    existing = cfg.api_key.existing_secret
    if existing is not None:
        return ApiKey(existing.name, existing.key, cfg.api_key.length)
    name = f"{release}-api-key"
    return ApiKey(name, API_KEY_SECRET_KEY, cfg.api_key.length,
                  secret={"name": name, "namespace": namespace, "labels": labels})


def external_key_checksum(key: ApiKey) -> str:
    """The pods' key checksum for an operator's Secret: we never read it, so rotating it means
    restarting the pods yourself."""
    return f"external:{key.secret_name}"


def compile_cache_claim(cfg: StackConfig, plan: Plan, release: str, namespace: Any,
                        labels: dict[str, str]) -> Optional[dict]:
    """The shared torch.compile cache claim when engine.compileCacheGib > 0, else None."""
    if cfg.engine.compile_cache_gib <= 0:
        return None
    # config.py refuses nfs storage without engine.compileCacheStorageClass.
    storage_class = cfg.engine.compile_cache_storage_class or cfg.storage.pvc.storage_class
    claim_name, mode = store.compile_cache_claim(release, storage_class, plan.rollout.max_pods)
    return {
        "metadata": {"name": claim_name, "namespace": namespace, "labels": labels,
                     # Bound only once a pod uses it (WaitForFirstConsumer): don't wait here.
                     "annotations": {"pulumi.com/skipAwait": "true"}},
        "spec": {"accessModes": [mode], "storageClassName": storage_class,
                 "resources": {"requests": {"storage": f"{cfg.engine.compile_cache_gib}Gi"}}},
    }


def pod_inputs(cfg: StackConfig, plan: Plan, names: StackNames, *, image: Any, claim_name: Any,
               ready_marker: Optional[str], key: ApiKey,
               compile_cache: Optional[dict],
               logging_config: Optional[dict] = None) -> pod.PodInputs:
    """What the engine's base pod template is made of (rendering/pod.py)."""
    placement, probes = cfg.placement, cfg.probes
    return pod.PodInputs(
        image=image, args=vllm_args.server_args(cfg, plan, names.model_dir), labels=names.labels,
        # Both roll the pods: a new key (stamp_api_key_checksum), or new weights on an
        # operator-managed export.
        annotations={c.ANN_MODEL_REVISION: cfg.model.revision},
        claim_name=claim_name, model_dir=names.model_dir,
        api_key_secret=key.secret_name, api_key_secret_key=key.secret_key,
        product_labels=plan.gpu.product_labels, probe_period=probes.period_seconds,
        probe_timeout=probes.timeout_seconds, readiness_failures=probes.readiness_failures,
        liveness_failures=probes.liveness_failures, pull_secrets=cfg.image.pull_secrets,
        tolerations=placement.tolerations, node_selector=placement.node_selector,
        priority_class_name=placement.priority_class_name,
        runtime_class_name=placement.runtime_class_name,
        compile_cache_claim=compile_cache["metadata"]["name"] if compile_cache else None,
        wait_for_file=ready_marker,
        weights_revision=(cfg.model.revision if cfg.storage.mode == "nfs"
                          and cfg.model.pinned else None),
        logging_config_map=logging_config["metadata"]["name"] if logging_config else None,
        object_store=object_store.pod_parts(cfg.storage))


@dataclasses.dataclass(frozen=True)
class Workload:
    """The inference workload as one object: apiVersion, kind, metadata, spec."""

    api_version: str
    kind: str
    metadata: dict
    spec: dict

    @property
    def is_group(self) -> bool:
        return self.kind == multinode.LWS_KIND


def workload(cfg: StackConfig, plan: Plan, names: StackNames, namespace: Any,
             template: dict) -> Workload:
    """The Deployment of `template`, or the LeaderWorkerSet whose leader and worker are
    `template` under the group overlay (rendering/multinode.py `group_overlay`)."""
    autoscaled = cfg.autoscaling.enabled
    metadata = {"name": names.release, "namespace": namespace, "labels": names.labels,
                "annotations": {**deployment_annotations(cfg, plan),
                                **replica_ownership(autoscaled), **pod.CHECKOV_WAIVERS}}
    if not multinode.is_multi_node(plan):
        return Workload("apps/v1", "Deployment", metadata, {
            "replicas": cfg.replicas,
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": plan.rollout.timeout_seconds,
            "selector": {"matchLabels": selector_of(names.labels)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling_update(plan)},
            "template": template,
        })
    roles = [multinode.group_overlay(template, cfg, plan, role, names.workload)
             for role in ("leader", "worker")]
    return Workload(multinode.LWS_API_VERSION, multinode.LWS_KIND, {
        **metadata, "name": names.workload, "annotations": {
            **metadata["annotations"], **multinode.await_annotations(plan),
            **multinode.group_annotations(cfg)}},
        multinode.leader_worker_set_spec(cfg, plan, *roles, cfg.replicas))


def stamp_pods(spec: dict, annotations: dict[str, Any]) -> dict:
    """`spec` with `annotations` added (first) to every pod template it holds: a Deployment's
    template, a LeaderWorkerSet's leader and worker templates. The component stamps the API
    key's checksum, known only once it has generated the key."""
    def stamp(template: dict) -> dict:
        meta = template["metadata"]
        return {**template, "metadata": {**meta, "annotations": {**annotations,
                                                                 **meta["annotations"]}}}

    if "template" in spec:
        return {**spec, "template": stamp(spec["template"])}
    group = spec["leaderWorkerTemplate"]
    return {**spec, "leaderWorkerTemplate": {**group,
                                             "leaderTemplate": stamp(group["leaderTemplate"]),
                                             "workerTemplate": stamp(group["workerTemplate"])}}


def service(plan: Plan, names: StackNames, namespace: Any,
            annotations: dict[str, str]) -> dict:
    """The ClusterIP Service of the HTTP port. Pipeline groups serve from the leader only;
    hybrid DP groups from every pod."""
    selector = selector_of(names.labels)
    leader_only = multinode.is_multi_node(plan) and not multinode.hybrid_load_balancing(plan)
    served_by = {**selector, multinode.LABEL_WORKER_INDEX: "0"} if leader_only else selector
    return {
        "metadata": {"name": names.release, "namespace": namespace, "labels": names.labels,
                     "annotations": annotations},
        "spec": {"type": "ClusterIP", "selector": served_by,
                 "ports": [{"name": pod.PORT_NAME, "port": PORT, "targetPort": pod.PORT_NAME,
                            "protocol": "TCP"}]},
    }


def disruption_budget(names: StackNames, namespace: Any) -> dict:
    """The PodDisruptionBudget: at most one pod down voluntarily (rendering/kube.py)."""
    return {"metadata": {"name": names.release, "namespace": namespace, "labels": names.labels},
            "spec": kube.disruption_budget(selector_of(names.labels))}


def network_policy(cfg: StackConfig, plan: Plan, names: StackNames, namespace: Any) -> dict:
    """The engine's NetworkPolicy (network_policy_spec), the group's own pods admitted."""
    selector = selector_of(names.labels)
    return {"metadata": {"name": names.release, "namespace": namespace, "labels": names.labels},
            "spec": network_policy_spec(selector, cfg.network, names.router_selector,
                                        group=selector if multinode.is_multi_node(plan)
                                        else None,
                                        extra_egress=streamer_egress(cfg))}


def streamer_egress(cfg: StackConfig) -> list[dict]:
    """objectStore: egress to the object store's endpoint (rendering/object_store.py)."""
    parts = object_store.pod_parts(cfg.storage)
    return object_store.egress(cfg.storage.object_store.endpoint) if parts else []
