"""`StackConfig`: every top-level `vllm-serving:` key, and the rules that cross keys."""

from __future__ import annotations

import re
from typing import Optional

from packaging.version import InvalidVersion, Version
from pydantic import Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

import facts
from facts import cluster_versions, vllm_features
from facts.images import pinned_by_digest
from planning import pins
from planning.config.base import DNS_LABEL, VERSION, _Model
from planning.config.hardware import GpuConfig, MultiNodeConfig
from planning.config.model import ModelConfig
from planning.config.engine import EngineConfig
from planning.config.network import NetworkConfig
from planning.config.observability import AutoscalingConfig, MonitoringConfig
from planning.config.revisions import BlueGreenConfig
from planning.config.storage import StorageConfig
from planning.config.traffic import ROUTER_IMAGE, TrafficConfig, TrafficSecrets
from planning.config.workload import (ApiKeyConfig, ImageConfig, PlacementConfig, ProbesConfig,
                                      ResourcesConfig, ShutdownConfig)


class ClusterVersionsConfig(_Model):
    """Releases of the add-ons installed in the cluster, checked against their floors
    (facts/cluster_versions.py) at preview; unset means not checked, except envoyGateway and
    gatewayApi, which a stack with traffic.gateway must state."""

    keda: Optional[str] = Field(
        default=None,
        description="The cluster's KEDA release (unset: not checked); below the floor in "
                    "facts/cluster_versions.py the stack is refused at preview")
    lws: Optional[str] = Field(
        default=None,
        description="The cluster's LeaderWorkerSet release (unset: not checked); below the floor "
                    "in facts/cluster_versions.py the stack is refused at preview")
    prometheus_operator: Optional[str] = Field(
        default=None,
        description="The cluster's Prometheus Operator release (unset: not checked); below the "
                    "floor in facts/cluster_versions.py the stack is refused at preview")
    envoy_gateway: Optional[str] = Field(
        default=None, description="The cluster's Envoy Gateway release (its controller image "
        "tag), e.g. 1.8.0; needed with traffic.gateway.envoyGateway")
    gateway_api: Optional[str] = Field(
        default=None, description="The cluster's Gateway API CRD release (the CRDs' "
        "gateway.networking.k8s.io/bundle-version annotation), e.g. 1.4.0; needed with "
        "traffic.gateway")
    kubernetes: Optional[str] = Field(
        default=None, description="The cluster's Kubernetes minor (API server and kubelets), "
        "e.g. 1.33; needed with storage.mode image (image volumes; floor in "
        "facts/cluster_versions.py)")

    @field_validator("kubernetes")
    @classmethod
    def _a_minor(cls, version: Optional[str]) -> Optional[str]:
        # `kubectl version` prints v1.33.2; the minor is what feature gates follow.
        if version is None:
            return version
        match = re.fullmatch(r"v?(1)\.(\d+)(?:\.\d+)?", version)
        if match is None:
            raise ValueError(f"{version!r} is not a Kubernetes release; give the minor of the "
                             "API server and kubelets, e.g. 1.33 (kubectl version)")
        return f"{match[1]}.{match[2]}"

    @field_validator("keda", "lws", "prometheus_operator", "envoy_gateway", "gateway_api")
    @classmethod
    def _a_release(cls, version: Optional[str], info) -> Optional[str]:
        if version is None:
            return version
        try:
            Version(version.removeprefix("v"))
        except InvalidVersion:
            row = cluster_versions.add_on(to_camel(info.field_name))
            raise ValueError(f"{version!r} is not a release number; give the installed "
                             f"release, e.g. {row.floor} (read it with {row.read_with})"
                             ) from None
        return version.removeprefix("v")


class StackConfig(_Model):
    """The whole stack configuration (every top-level `vllm-serving:` key)."""

    namespace: DNS_LABEL = Field(
        default="llm-serving",
        description="Namespace of the workload")
    create_namespace: bool = Field(
        default=True,
        description="Create the namespace (restricted Pod Security), or use an existing one")
    require_cluster: bool = Field(
        default=True, description="Refuse to run unless kubernetes:context or "
                                  "kubernetes:kubeconfig pins the cluster")
    production: bool = Field(
        default=False, description="Refuse anything that can change under the stack: images "
                                   "without a digest, a model revision that is not a commit")
    vllm_version: VERSION = Field(
        description="The vLLM release x.y.z (at least 0.8.0): flags, metric names, image tag, "
                    "app.kubernetes.io/version")
    model: ModelConfig
    engine: EngineConfig = Field(default_factory=EngineConfig)
    gpu: GpuConfig
    multi_node: MultiNodeConfig = Field(default_factory=MultiNodeConfig)
    replicas: int = Field(default=1, ge=1, le=64,
        description="Replicas; with autoscaling, the count the Deployment is created with (then "
                    "the autoscaler's)")
    # A pool of 1,024 GPUs (128 eight-GPU nodes) is beyond any one serving stack's surge.
    spare_gpus: int = Field(default=0, ge=0, le=1024,
        description="GPUs kept free for surge rollouts; 0 replaces one pod at a time")
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    storage: StorageConfig
    image: ImageConfig = Field(default_factory=ImageConfig)
    placement: PlacementConfig = Field(default_factory=PlacementConfig)
    probes: ProbesConfig = Field(default_factory=ProbesConfig)
    shutdown: ShutdownConfig = Field(default_factory=ShutdownConfig)
    api_key: ApiKeyConfig = Field(default_factory=ApiKeyConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig,
        description="Scraping, alert thresholds and the dashboard: see docs/monitoring.md")
    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig,
        description="Replicas that follow the load (KEDA or an HPA): see docs/monitoring.md")
    traffic: TrafficConfig = Field(default_factory=TrafficConfig)
    cluster_versions: ClusterVersionsConfig = Field(default_factory=ClusterVersionsConfig)
    traffic_secrets: TrafficSecrets = Field(default_factory=TrafficSecrets)
    blue_green: BlueGreenConfig = Field(default_factory=BlueGreenConfig)

    @field_validator("vllm_version")
    @classmethod
    def _supported_version(cls, version: str) -> str:
        if facts.parse_version(version) < vllm_features.V1_ENGINE_SINCE:
            raise ValueError(
                f"vllmVersion {version} predates the V1 engine (0.8.0) whose metrics and flags "
                "this program manages; pin 0.8.0 or newer"
            )
        return version

    @model_validator(mode="after")
    def _network_admits_clients(self) -> "StackConfig":
        # An empty list renders a NetworkPolicy that admits nobody: say so instead.
        if not self.network.gateway_namespaces:
            raise ValueError(
                "network.gatewayNamespaces is empty, so the NetworkPolicy would admit no client "
                "and nothing could reach the engine; list the namespaces of your gateway or "
                "clients (for example [gateway])")
        if self.monitoring.enabled and not self.network.prometheus_namespaces:
            raise ValueError(
                "network.prometheusNamespaces is empty while monitoring.enabled is true, so "
                "Prometheus could not scrape /metrics and alerts and autoscaling would see "
                "nothing; list Prometheus' namespace (for example [monitoring]) or set "
                "monitoring.enabled: false")
        return self

    @model_validator(mode="after")
    def _answer_fits_the_context(self) -> "StackConfig":
        # vLLM refuses a request whose prompt + max_tokens exceeds --max-model-len, so a longer
        # answer cannot happen; the drain and the edge budgets would be sized for it anyway.
        # Only a value the stack sets: the default (8192) merely over-sizes a short context.
        if ("max_tokens" in self.shutdown.model_fields_set
                and self.shutdown.max_tokens > self.model.max_model_len):
            raise ValueError(
                f"shutdown.maxTokens ({self.shutdown.max_tokens}) is longer than "
                f"model.maxModelLen ({self.model.max_model_len}), which bounds prompt + answer; "
                "set shutdown.maxTokens to the longest answer a client may get (at most "
                f"{self.model.max_model_len}), since it sizes the drain and the timeouts")
        return self

    @model_validator(mode="after")
    def _compile_cache_has_a_class(self) -> "StackConfig":
        if (self.engine.compile_cache_gib > 0 and self.engine.compile_cache_storage_class is None
                and self.storage.mode != "pvc"):
            raise ValueError(
                f"engine.compileCacheGib is set with storage.mode {self.storage.mode}, which "
                "names no "
                "StorageClass; the cache claim would fall to the cluster's default class, which "
                "most clouds cannot provision as ReadWriteMany. Set "
                "engine.compileCacheStorageClass to a class that can (e.g. EFS, Filestore, "
                "Azure Files), or set engine.compileCacheGib: 0")
        return self

    @model_validator(mode="after")
    def _image_tag_matches_version(self) -> "StackConfig":
        tag = self.image.tag
        if tag is not None and tag.lstrip("v") != self.vllm_version:
            raise ValueError(
                f"image.tag {tag!r} contradicts vllmVersion {self.vllm_version!r}; the tag must be "
                f"v{self.vllm_version} (or leave image.tag out)"
            )
        return self


    @model_validator(mode="after")
    def _production_is_pinned(self) -> "StackConfig":
        # One message for every pin missing, each with the command that finds the value.
        if not self.production:
            return self
        problems = []
        if not pins.COMMIT.fullmatch(self.model.revision):
            problems.append(
                f"model.revision {self.model.revision!r} moves (a branch or tag); production "
                "serves one commit: run "
                f"`{pins.revision_command(self.model.shape.hf_id, self.model.revision)}` and set "
                "model.revision to the 40-hex SHA it prints")
        if not (self.image.digest and self.image.tag):
            reference = f"{self.image.repository}:v{self.vllm_version}"
            what = ("the base image.build starts FROM" if self.image.build else "the image")
            problems.append(
                f"image.digest and image.tag: production runs {what} by digest, with the tag "
                f"the digest belongs to written beside it (image.tag: v{self.vllm_version}); "
                f"find the digest with {pins.digest_command(reference)}")
        if self.traffic.enabled and not self.traffic.router.image_digest:
            reference = f"{ROUTER_IMAGE}:{self.traffic.router.image_tag}"
            problems.append("traffic.router.imageDigest: production runs the router by digest; "
                            f"find it with {pins.digest_command(reference)}")
        pvc = self.storage.pvc
        if pvc is not None and pvc.downloader_image and not pinned_by_digest(pvc.downloader_image):
            problems.append(f"storage.pvc.downloaderImage {pvc.downloader_image!r}: production "
                            "runs it by digest (repo:tag@sha256:…); find it with "
                            f"{pins.digest_command(pvc.downloader_image)}")
        if problems:
            raise ValueError("production: true, but " + "; ".join(problems))
        return self


