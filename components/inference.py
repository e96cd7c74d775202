"""InferenceDeployment: the vLLM workload and what secures and exposes it inside the cluster.

Every object comes rendered (rendering/inference.py, wired by wiring/engine.py); this
component creates them, generates the API key, and says how Pulumi waits for each."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from facts import conventions as c
from rendering import inference as render
from rendering.vllm_args import PORT


@dataclasses.dataclass
class EngineSlotArgs:
    """One slot's own objects (rendering/revisions.py): created as `<name>-…` for blue (the
    names every stack had), `<name>-<slot>-…` for green."""

    slot: str
    workload: render.Workload
    service: dict
    disruption_budget: dict
    network_policy: dict


@dataclasses.dataclass
class InferenceDeploymentArgs:
    """Inputs of InferenceDeployment: whole objects ({"metadata", "spec"}) and Pulumi inputs."""

    namespace: pulumi.Input[str]
    labels: dict[str, str]
    selector: dict[str, str]
    workload: render.Workload
    """Deployment or LeaderWorkerSet; its pod templates get the API key's checksum here."""
    service: dict
    disruption_budget: dict
    network_policy: dict
    api_key: render.ApiKey
    rollout_timeout_seconds: int
    """Pulumi's wait for the workload: the whole rollout (its default is only 10 minutes)."""
    claim_release_seconds: int
    """How long a replaced compile-cache claim may stay in use (the old pods' drain)."""
    autoscaled: bool
    compile_cache: Optional[dict] = None
    logging_config: Optional[dict] = None
    """The engine's JSON logging config (a ConfigMap the pods mount), None where the version
    has none."""
    depends_on: list[pulumi.Resource] = dataclasses.field(default_factory=list)
    slot: str = "blue"
    """The slot `workload`, `service`, `disruption_budget` and `network_policy` belong to."""
    previous: Optional[EngineSlotArgs] = None
    """A blue-green switch's previous slot, kept beside the new one (same key and pods'
    wait), else None."""


class InferenceDeployment(pulumi.ComponentResource):
    """API-key Secret, compile-cache claim, workload, ClusterIP Service, PDB, NetworkPolicy."""

    namespace: pulumi.Output[str]
    deployment_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    api_key_secret_name: pulumi.Output[str]
    api_key_secret_key: str
    endpoint: pulumi.Output[str]
    """The engine's OpenAI base URL inside the cluster."""
    selector: dict[str, str]
    labels: dict[str, str]

    def __init__(self, name: str, args: InferenceDeploymentArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:InferenceDeployment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.labels, self.selector = args.labels, args.selector
        self.namespace = pulumi.Output.from_input(args.namespace)
        secret, checksum = self._api_key(name, args.api_key)
        cache = self._compile_cache(name, args)
        logging = [k8s.core.v1.ConfigMap(
            f"{name}-logging", metadata=args.logging_config["metadata"],
            data=args.logging_config["data"], opts=child)] if args.logging_config else []
        current = EngineSlotArgs(args.slot, args.workload, args.service, args.disruption_budget,
                             args.network_policy)
        workload, service = self._slot(name, current, args, checksum,
                                       [*secret, *cache, *logging])
        if args.previous is not None:
            self._slot(name, args.previous, args, checksum, [*secret, *cache, *logging])

        self.deployment_name = workload.metadata["name"]
        self.service_name = service.metadata["name"]
        self.api_key_secret_name = (secret[0].metadata["name"] if secret
                                    else pulumi.Output.from_input(args.api_key.secret_name))
        self.api_key_secret_key = args.api_key.secret_key
        self.endpoint = pulumi.Output.format("http://{0}.{1}.svc:{2}/v1", self.service_name,
                                             self.namespace, PORT)
        self.register_outputs({
            "namespace": self.namespace, "deployment_name": self.deployment_name,
            "service_name": self.service_name, "api_key_secret_name": self.api_key_secret_name,
        })

    def _slot(self, name: str, slot: EngineSlotArgs, args: InferenceDeploymentArgs,
              checksum: pulumi.Input[str], depends_on: list[pulumi.Resource]):
        """A slot's workload, Service, PDB and NetworkPolicy; its workload and Service."""
        prefix = name if slot.slot == "blue" else f"{name}-{slot.slot}"
        child = pulumi.ResourceOptions(parent=self)
        workload = self._workload(prefix, args, slot.workload, checksum, depends_on)
        service = k8s.core.v1.Service(f"{prefix}-service", **slot.service, opts=child)
        k8s.policy.v1.PodDisruptionBudget(f"{prefix}-pdb", **slot.disruption_budget, opts=child)
        k8s.networking.v1.NetworkPolicy(f"{prefix}-netpol", **slot.network_policy, opts=child)
        return workload, service

    def _workload(self, name: str, args: InferenceDeploymentArgs, workload: render.Workload,
                  checksum: pulumi.Input[str],
                  depends_on: list[pulumi.Resource]) -> pulumi.CustomResource:
        """The Deployment or LeaderWorkerSet, its pods stamped with the key's checksum (a new
        key rolls them), waited on for the whole rollout, replicas left to an autoscaler."""
        seconds = f"{args.rollout_timeout_seconds}s"
        opts = pulumi.ResourceOptions(
            parent=self, depends_on=[*args.depends_on, *depends_on],
            custom_timeouts=pulumi.CustomTimeouts(create=seconds, update=seconds),
            ignore_changes=render.REPLICAS_OWNED_BY_AUTOSCALER if args.autoscaled else None)
        spec = render.stamp_pods(workload.spec, {c.ANN_API_KEY_CHECKSUM: checksum})
        if not workload.is_group:
            return k8s.apps.v1.Deployment(f"{name}-deployment", metadata=workload.metadata,
                                          spec=spec, opts=opts)
        return k8s.apiextensions.CustomResource(
            f"{name}-group", api_version=workload.api_version, kind=workload.kind,
            metadata=workload.metadata, spec=spec, opts=opts)

    def _api_key(self, name: str, key: render.ApiKey):
        """The generated key's Secret (none for an operator's) and the checksum that rolls the
        pods when the key changes."""
        if key.secret is None:
            return [], render.external_key_checksum(key)
        password = random.RandomPassword(f"{name}-api-key", length=key.length, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        secret = k8s.core.v1.Secret(
            f"{name}-api-key", metadata=key.secret, type="Opaque",
            string_data={key.secret_key: password.result},
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stringData",
                                                                                "data"]))
        # A SHA-256 of a random key reveals nothing; keeping it non-secret keeps the pod
        # template readable in `pulumi preview`.
        checksum = pulumi.Output.unsecret(password.result.apply(
            lambda value: hashlib.sha256(value.encode()).hexdigest()))
        self.api_key = pulumi.Output.secret(password.result)
        return [secret], checksum

    def _compile_cache(self, name: str, args: InferenceDeploymentArgs) -> list:
        """The shared torch.compile cache claim, when rendered. Its size is fixed at creation
        (a claim never shrinks); a replaced one is deleted once the old pods let go of it."""
        if args.compile_cache is None:
            return []
        return [k8s.core.v1.PersistentVolumeClaim(
            f"{name}-compile-cache", **args.compile_cache,
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=False,
                ignore_changes=["spec.resources.requests.storage"],
                custom_timeouts=pulumi.CustomTimeouts(delete=f"{args.claim_release_seconds}s")))]
