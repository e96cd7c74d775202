"""InferenceDeployment: the vLLM Deployment and what secures and exposes it inside the cluster."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from rendering import model_store as store
from rendering import multinode, pod
from rendering import network as fence
from planning.config import NetworkConfig, StackConfig
from rendering.labels import selector_of
from rendering.naming import StackNames
from planning.plan import Plan
from rendering import vllm_args
from rendering.vllm_args import PORT
from facts import conventions as c

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


def deployment_timeouts(plan: Plan) -> pulumi.CustomTimeouts:
    """Pulumi's wait for the Deployment: the whole rollout (default is only 10 minutes)."""
    seconds = f"{plan.rollout.timeout_seconds}s"
    return pulumi.CustomTimeouts(create=seconds, update=seconds)


def rolling_update(plan: Plan) -> dict:
    """Surge only into declared spare GPUs; otherwise replace one pod at a time.

    A surge pod without free GPUs stays Pending and the rollout (and `pulumi up`) hangs.
    """
    if plan.rollout.surge > 0:
        return {"maxSurge": plan.rollout.surge, "maxUnavailable": 0}
    return {"maxSurge": 0, "maxUnavailable": 1}


def disruption_budget(replicas: int) -> dict:
    """PDB spec: at most one replica down voluntarily.

    With several replicas this keeps the rest serving during drains; with one replica it still
    allows the eviction (never blocks a node drain), and unhealthy pods may always be evicted.
    """
    return {"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow"}


def network_policy_spec(selector: dict[str, str], network: NetworkConfig,
                        router_selector: Optional[dict[str, str]] = None,
                        group: Optional[dict[str, str]] = None) -> dict:
    """Ingress to the HTTP port only from named pods: the gateway's proxy pods — or, behind the
    traffic layer, the router's pods — and Prometheus' pods, each in its namespaces. vLLM's
    /invocations, /tokenize and /metrics need no key (facts/vllm_features.py
    API_KEY_GUARDED_PREFIXES), so any other pod admitted here would bypass the router's keys,
    limits and caps. Egress only to DNS (serving pods run offline: weights are mounted,
    HF_HUB_OFFLINE=1). A multi-node group (`group`: the labels of its pods) also talks to
    itself on every port, both ways: NCCL and Gloo pick their ports at run time, besides the
    rendezvous and DP RPC ports."""
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
        "egress": [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]
        + ([{"to": [{"podSelector": {"matchLabels": group}}]}] if group else []),
    }


@dataclasses.dataclass
class InferenceDeploymentArgs:
    """Inputs of InferenceDeployment."""

    names: StackNames
    namespace: pulumi.Input[str]
    config: StackConfig
    plan: Plan
    image: pulumi.Input[str]
    claim_name: pulumi.Input[str]
    ready_marker: Optional[str] = None
    service_annotations: dict[str, str] = dataclasses.field(default_factory=dict)
    depends_on: list[pulumi.Resource] = dataclasses.field(default_factory=list)


class InferenceDeployment(pulumi.ComponentResource):
    """API-key Secret, Deployment, ClusterIP Service, PDB, NetworkPolicy."""

    namespace: pulumi.Output[str]
    deployment_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    api_key_secret_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    """The engine's OpenAI base URL inside the cluster."""
    selector: dict[str, str]
    labels: dict[str, str]

    def __init__(self, name: str, args: InferenceDeploymentArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:InferenceDeployment", name, None, opts)
        cfg, plan, release = args.config, args.plan, args.names.release
        child = pulumi.ResourceOptions(parent=self)
        self.labels = labels = args.names.labels
        server_args = vllm_args.server_args(cfg, plan, args.names.model_dir)
        self.selector = selector = selector_of(labels)

        namespace = args.namespace
        self.namespace = pulumi.Output.from_input(namespace)

        secret_name, checksum = self._api_key(name, cfg, release, namespace, labels)
        annotations = deployment_annotations(cfg, plan)
        self._pod_inputs = pod.PodInputs(
            image=args.image, args=server_args, labels=labels,
            # Both roll the pods: a new key, or new weights on an operator-managed export.
            annotations={c.ANN_API_KEY_CHECKSUM: checksum,
                         c.ANN_MODEL_REVISION: cfg.model.revision},
            claim_name=args.claim_name, model_dir=args.names.model_dir,
            api_key_secret=secret_name, api_key_secret_key=_secret_key(cfg),
            product_labels=plan.gpu.product_labels, probe_period=cfg.probes.period_seconds,
            probe_timeout=cfg.probes.timeout_seconds,
            readiness_failures=cfg.probes.readiness_failures,
            liveness_failures=cfg.probes.liveness_failures,
            pull_secrets=cfg.image.pull_secrets, tolerations=cfg.placement.tolerations,
            node_selector=cfg.placement.node_selector,
            priority_class_name=cfg.placement.priority_class_name,
            runtime_class_name=cfg.placement.runtime_class_name,
            compile_cache_claim=self._compile_cache(name, cfg, plan, release, namespace, labels),
            wait_for_file=args.ready_marker,
            weights_revision=(cfg.model.revision if cfg.storage.mode == "nfs"
                              and cfg.model.pinned else None))
        template = pod.pod_template(plan, self._pod_inputs)

        autoscaled = cfg.autoscaling.enabled
        workload_opts = pulumi.ResourceOptions(
            parent=self, depends_on=args.depends_on, custom_timeouts=deployment_timeouts(plan),
            ignore_changes=REPLICAS_OWNED_BY_AUTOSCALER if autoscaled else None)
        metadata = {"name": release, "namespace": namespace, "labels": labels,
                    "annotations": {**annotations, **replica_ownership(autoscaled),
                                    **pod.CHECKOV_WAIVERS}}
        group = multinode.is_multi_node(plan)
        if group:
            workload = self._group(name, cfg, plan, release, metadata, template, args,
                                   workload_opts)
        else:
            workload = k8s.apps.v1.Deployment(
                f"{name}-deployment", metadata=metadata,
                spec={
                    "replicas": cfg.replicas,
                    "revisionHistoryLimit": 5,
                    "progressDeadlineSeconds": plan.rollout.timeout_seconds,
                    "selector": {"matchLabels": selector},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling_update(plan)},
                    "template": template,
                },
                opts=workload_opts)
        # Pipeline groups serve from the leader only; hybrid DP groups from every pod.
        served_by = selector if not group or multinode.hybrid_load_balancing(plan) else {
            **selector, multinode.LABEL_WORKER_INDEX: "0"}
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": release, "namespace": namespace, "labels": labels,
                      "annotations": args.service_annotations},
            spec={"type": "ClusterIP", "selector": served_by,
                  "ports": [{"name": pod.PORT_NAME, "port": PORT, "targetPort": pod.PORT_NAME,
                             "protocol": "TCP"}]},
            opts=child)
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": release, "namespace": namespace, "labels": labels},
            spec={"selector": {"matchLabels": selector}, **disruption_budget(cfg.replicas)},
            opts=child)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata={"name": release, "namespace": namespace, "labels": labels},
            spec=network_policy_spec(selector, cfg.network, args.names.router_selector,
                                     group=selector if group else None),
            opts=child)

        self.deployment_name = workload.metadata["name"]
        self.service_name = service.metadata["name"]
        self.api_key_secret_name = pulumi.Output.from_input(secret_name)
        self.api_key_secret_key = _secret_key(cfg)
        self.endpoint = pulumi.Output.format("http://{0}.{1}.svc:{2}/v1", self.service_name,
                                             self.namespace, PORT)
        self.register_outputs({
            "namespace": self.namespace, "deployment_name": self.deployment_name,
            "service_name": self.service_name, "api_key_secret_name": self.api_key_secret_name,
        })

    def _group(self, name: str, cfg: StackConfig, plan: Plan, release: str, metadata: dict,
               template: dict, args: "InferenceDeploymentArgs",
               opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
        """The LeaderWorkerSet of a replica that spans nodes: leader and worker pods from the
        same pod template as the Deployment's, differing only in the launch script, probes
        (headless workers) and the group's env, RDMA devices and anti-affinity."""
        inputs = self._pod_inputs
        multi = cfg.multi_node
        rdma = {multi.rdma.resource_name: str(multi.rdma.count)} if multi.rdma else {}
        lws_name = args.names.workload
        # No IPC_LOCK: the pods run as UID 10001 and Kubernetes sets no ambient capabilities,
        # so an added capability never reaches a non-root process; RDMA's pinned memory comes
        # from the runtime's memlock limit (containerd: unlimited).
        shared = dataclasses.replace(
            inputs, extra_env=multinode.group_env(cfg, plan), extra_resources=rdma,
            pod_affinity=multinode.group_affinity(lws_name))
        command = list(pod.SERVER_COMMAND)

        def role(kind: str) -> dict:
            serves = kind == "leader" or multinode.hybrid_load_balancing(plan)
            return pod.pod_template(plan, dataclasses.replace(
                shared, serves_http=serves, pre_stop=multinode.pre_stop_hook(cfg, plan, kind),
                annotations={**shared.annotations, **multinode.checkov_waivers(serves)},
                command=["sh", "-c", multinode.launch_script(cfg, plan, command,
                                                             inputs.args, kind)],
                exec_probe=None if serves else multinode.worker_probe(
                    cfg, plan, cfg.probes.period_seconds, cfg.probes.liveness_failures)))

        return k8s.apiextensions.CustomResource(
            f"{name}-group", api_version=multinode.LWS_API_VERSION, kind=multinode.LWS_KIND,
            metadata={**metadata, "name": lws_name, "annotations": {
                **metadata["annotations"], **multinode.await_annotations(plan),
                **multinode.group_annotations(cfg)}},
            spec=multinode.leader_worker_set_spec(cfg, plan, role("leader"), role("worker"),
                                                  cfg.replicas),
            opts=opts)

    def _api_key(self, name: str, cfg: StackConfig, release: str, namespace: Any,
                 labels: dict[str, str]):
        """The key's Secret name and a checksum annotation that rolls pods when it changes."""
        existing = cfg.api_key.existing_secret
        if existing is not None:
            # We never read an operator's Secret; restart pods yourself after rotating it.
            return existing.name, f"external:{existing.name}"
        password = random.RandomPassword(f"{name}-api-key", length=cfg.api_key.length,
                                         special=False, opts=pulumi.ResourceOptions(parent=self))
        secret = k8s.core.v1.Secret(
            f"{name}-api-key",
            metadata={"name": f"{release}-api-key", "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={API_KEY_SECRET_KEY: password.result},
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stringData",
                                                                                "data"]))
        # A SHA-256 of a random key reveals nothing; keeping it non-secret keeps the pod
        # template readable in `pulumi preview`.
        checksum = pulumi.Output.unsecret(password.result.apply(
            lambda key: hashlib.sha256(key.encode()).hexdigest()))
        self.api_key = pulumi.Output.secret(password.result)
        return secret.metadata["name"], checksum

    def _compile_cache(self, name: str, cfg: StackConfig, plan: Plan, release: str,
                       namespace: Any, labels: dict[str, str]):
        """A shared torch.compile cache claim when engine.compileCacheGib > 0."""
        if cfg.engine.compile_cache_gib <= 0:
            return None
        # config.py refuses nfs storage without engine.compileCacheStorageClass.
        storage_class = cfg.engine.compile_cache_storage_class or cfg.storage.pvc.storage_class
        claim_name, mode = store.compile_cache_claim(release, storage_class, plan.rollout.max_pods)
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-compile-cache",
            metadata={"name": claim_name, "namespace": namespace, "labels": labels,
                      # Bound only once a pod uses it (WaitForFirstConsumer): don't wait here.
                      "annotations": {"pulumi.com/skipAwait": "true"}},
            spec={"accessModes": [mode], "storageClassName": storage_class,
                  "resources": {"requests": {"storage": f"{cfg.engine.compile_cache_gib}Gi"}}},
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=False,
                ignore_changes=["spec.resources.requests.storage"],
                custom_timeouts=pulumi.CustomTimeouts(delete=f"{plan.rollout.claim_release_seconds}s")))
        return claim.metadata["name"]


def _secret_key(cfg: StackConfig) -> str:
    existing = cfg.api_key.existing_secret
    return existing.key if existing is not None else API_KEY_SECRET_KEY
