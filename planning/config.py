"""Typed stack configuration: what a stack file may say, validated once before anything is created.

Every key is camelCase as written in `Pulumi.<stack>.yaml`. Models forbid unknown keys, so a typo
is an error rather than a silently ignored setting. Cross-field rules that need model or GPU facts
live in `planning/plan.py`; the rules here are about the config alone.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

import pydantic
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

import facts
from facts import cluster_versions, k8s_names, model_families, vllm_cli, vllm_features
from facts.secrets import looks_like_secret
from planning import pins, sizing
from planning.strict import NoBoolForNumbers
from planning.traffic import ROUTER_IMAGE, TrafficConfig, TrafficSecrets

PROJECT = "vllm-serving"
"""Pulumi project name; also the config namespace (`vllm-serving:<key>`)."""

K8S_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_LABEL = Annotated[str, Field(pattern=K8S_NAME, max_length=63)]
def _release_version(version: str) -> str:
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ValueError("not a vLLM release version; write x.y.z, e.g. 0.33.0 (the tag "
                         "v0.33.0 without its 'v'; release candidates are not served)")
    return version


VERSION = Annotated[str, AfterValidator(_release_version)]
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
"""A Kubernetes label value: at most 63 characters, alphanumeric at both ends, or empty."""
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE, max_length=63)]


def _api_server_rule(problem):
    """A pydantic check from one of facts/k8s_names.py's rules (the API server's own)."""
    def check(value: str) -> str:
        why = problem(value)
        if why:
            raise ValueError(why)
        return value
    return check


LabelKey = Annotated[str, AfterValidator(_api_server_rule(k8s_names.qualified_name_problem))]
"""A label key as IsQualifiedName takes it: up to 253 + '/' + 63 = 317 characters."""
ObjectName = Annotated[str, AfterValidator(_api_server_rule(k8s_names.subdomain_problem))]
"""A StorageClass, PriorityClass or RuntimeClass name: a DNS-1123 subdomain."""
SERVICE_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
"""A Service name (DNS-1035 label): starts with a letter; the release name becomes one."""


class _Model(NoBoolForNumbers):
    """Base: camelCase keys, unknown keys rejected, values validated on assignment, no
    boolean where a number belongs (planning/strict.py)."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class SecretRef(_Model):
    """A key in an existing Kubernetes Secret in the stack's namespace."""

    name: DNS_LABEL
    key: Annotated[str, AfterValidator(_api_server_rule(k8s_names.secret_key_problem))]


class ParameterGroups(_Model):
    """A model's parameters by where vLLM puts them (planning/sizing.py WEIGHT_ROLES)."""

    embedding: int = Field(ge=0)
    head: int = Field(ge=0)
    norms_and_gates: int = Field(default=0, ge=0)
    replicated_linear: int = Field(default=0, ge=0)
    sharded_linear: int = Field(ge=0)
    experts: int = Field(default=0, ge=0)
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @property
    def total(self) -> int:
        """All parameters."""
        return sum(self.model_dump().values())


class ModelFacts(_Model):
    """Shape of a model that is not a preset (see facts/models.yaml for field meanings)."""

    hf_id: str
    architecture: str
    params_b: float = Field(gt=0)
    weights_dtype: Literal[model_families.WEIGHT_SCHEMES]
    weights_gib: Optional[float] = Field(default=None, gt=0)
    parameters: Optional[ParameterGroups] = None
    block_quantized: bool = False
    tie_word_embeddings: bool = False
    layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    attention: dict
    max_context: int = Field(gt=0)
    min_vllm: VERSION = "0.6.0"
    min_compute_capability: float = 7.0
    experts: Optional[int] = None
    trust_remote_code: bool = False
    reasoning_parser: Optional[str] = None
    tool_call_parser: Optional[str] = None
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @model_validator(mode="after")
    def _mixed_precision_states_its_parts(self) -> "ModelFacts":
        if (model_families.keeps_parts_in_mixed_precision(self.weights_dtype)
                and self.parameters is None):
            raise ValueError(
                f"model.facts.parameters: a {self.weights_dtype} checkpoint keeps its experts in "
                "4 bits and the rest wider, so the weights follow from the parameters by role; "
                "set parameters (embedding, head, norms_and_gates, replicated_linear, "
                "sharded_linear, experts; `python -m tools.model_facts config.json` writes them)")
        return self

    def parameter_groups(self) -> dict[str, float]:
        """Parameters by role: the facts' `parameters`, else derived from the total (embedding
        and head from vocab × hidden, the rest TP-sharded linears)."""
        if self.parameters is not None:
            return {key: float(value) for key, value in self.parameters.model_dump().items()}
        return sizing.default_parameter_groups(self.params_b, self.vocab_size,
                                               self.hidden_size, self.tie_word_embeddings)

    @field_validator("attention")
    @classmethod
    def _attention_shape(cls, value: dict) -> dict:
        kind = value.get("kind")
        required = model_families.ATTENTION_FIELDS
        if kind not in required:
            raise ValueError(f"attention.kind must be one of {sorted(required)}, got {kind!r}")
        missing = required[kind] - set(value)
        if missing:
            raise ValueError(f"attention of kind {kind} needs {sorted(missing)}")
        return value


class ModelConfig(_Model):
    """Which model to serve and how vLLM presents it."""

    preset: Optional[str] = None
    facts: Optional[ModelFacts] = None
    revision: str = Field(min_length=1, description="Hub branch or 40-hex commit SHA")
    served_name: DNS_LABEL
    dtype: Literal["auto", "bfloat16", "float16"] = "auto"
    quantization: Optional[Literal["fp8", "fp8_per_tensor"]] = None
    kv_cache_dtype: Literal["auto", "fp8"] = "auto"
    max_model_len: int = Field(gt=0)
    trust_remote_code: bool = False
    reasoning_parser: Optional[str] = "auto"
    tool_call_parser: Optional[str] = "auto"

    @field_validator("revision")
    @classmethod
    def _revision_names_a_ref(cls, revision: str) -> str:
        problem = pins.revision_problem(revision)
        if problem:
            raise ValueError(f"{problem}; give a branch or tag name (main, v1.0, refs/pr/3) or "
                             "a full 40-hex commit SHA")
        return revision

    @model_validator(mode="after")
    def _preset_or_facts(self) -> "ModelConfig":
        if (self.preset is None) == (self.facts is None):
            raise ValueError(
                "set exactly one of model.preset (one of "
                f"{', '.join(sorted(facts.models()))}) or model.facts (a description of another "
                "model; `python -m tools.model_facts config.json` writes it)"
            )
        if self.preset is not None and self.preset not in facts.models():
            raise ValueError(
                f"model.preset {self.preset!r} is not a known preset; use one of "
                f"{', '.join(sorted(facts.models()))}, or describe the model under model.facts"
            )
        return self

    @property
    def shape(self) -> ModelFacts:
        """The model's facts, from the preset or the stack's own description."""
        if self.facts is not None:
            return self.facts
        return ModelFacts.model_validate(facts.models()[self.preset])

    @property
    def pinned(self) -> bool:
        """True when the revision is a full commit SHA rather than a moving branch."""
        return re.fullmatch(r"[0-9a-f]{40}", self.revision) is not None


class EngineConfig(_Model):
    """vLLM engine settings. Unset values take vLLM's own default for the pinned version."""

    gpu_memory_utilization: Optional[float] = Field(default=None, gt=0.3, le=0.98)
    max_num_seqs: Optional[int] = Field(default=None, gt=0, le=4096)
    max_num_batched_tokens: Optional[int] = Field(default=None, ge=256)
    load_format: Literal["auto", "safetensors", "runai_streamer", "fastsafetensors"] = "auto"
    compile_cache_gib: int = Field(
        default=0, ge=0, description="Size of a persistent torch.compile cache volume; 0 = none"
    )
    compile_cache_storage_class: Optional[ObjectName] = Field(
        default=None,
        description="StorageClass of the compile cache claim; default storage.pvc.storageClass")
    extra_args: list[str] = Field(default_factory=list)

    @field_validator("extra_args")
    @classmethod
    def _extra_args_safe(cls, args: list[str]) -> list[str]:
        # Flags are read the way vLLM reads them (facts/vllm_cli.py): `--max_model_len=1`,
        # `--no-trust-remote-code` and `--api_key=…` name managed or forbidden flags too.
        problems = []
        for arg in args:
            flag = vllm_cli.canonical_flag(arg)
            base = vllm_cli.base_flag(arg, GUARDED_FLAGS)
            forbidden = vllm_cli.forbidden_reason(arg)
            if base in MANAGED_FLAGS:
                problems.append(f"{arg.split('=', 1)[0]} ({base}) is set by the program from "
                                f"{MANAGED_FLAGS[base]}; set that key instead")
            elif forbidden:
                problems.append(f"{arg.split('=', 1)[0]} ({flag}) {forbidden}")
            elif flag is None and looks_like_secret(arg):
                problems.append("a literal secret value is not allowed in extra args")
            elif flag is not None and "=" in arg and looks_like_secret(arg.split("=", 1)[1]):
                problems.append(f"{flag}: a literal secret value is not allowed in extra args")
        if problems:
            raise ValueError("; ".join(problems))
        return args


MANAGED_FLAGS = {
    "--model": "the ModelStore mount",
    "--served-model-name": "model.servedName",
    "--tensor-parallel-size": "gpu.tensorParallel",
    "-tp": "gpu.tensorParallel",
    "--pipeline-parallel-size": "gpu.pipelineParallel",
    "-pp": "gpu.pipelineParallel",
    "--data-parallel-size": "gpu.dataParallel",
    "-dp": "gpu.dataParallel",
    "--enable-expert-parallel": "gpu.expertParallel",
    "--max-model-len": "model.maxModelLen",
    "--gpu-memory-utilization": "engine.gpuMemoryUtilization",
    "--max-num-seqs": "engine.maxNumSeqs",
    "--max-num-batched-tokens": "engine.maxNumBatchedTokens",
    "--kv-cache-dtype": "model.kvCacheDtype",
    "--quantization": "model.quantization",
    "--dtype": "model.dtype",
    "--trust-remote-code": "model.trustRemoteCode",
    "--revision": "model.revision",
    "--download-dir": "storage",
    "--load-format": "engine.loadFormat",
    "--host": "the Service",
    "--port": "the Service",
    "--reasoning-parser": "model.reasoningParser",
    "--tool-call-parser": "model.toolCallParser",
    "--enable-auto-tool-choice": "model.toolCallParser",
    "--shutdown-timeout": "the drain (shutdown.maxTokens × shutdown.perTokenMs + "
                          "shutdown.prefillSeconds)",
    "--disable-log-requests": "the pinned vLLM version (prompts never reach logs)",
    "--distributed-executor-backend": "the parallel layout",
    # A group spanning nodes: rendering/multinode.py launches each pod with these
    # (facts/vllm_cli.py GROUP_FLAGS); a single node runs one API server, as the host memory
    # plan counts.
    **{flag: "the group launch (gpu.layout, gpu.nodes, multiNode)"
       for flag in vllm_cli.GROUP_FLAGS},
    "--api-server-count": "the host memory plan (one API server per pod)",
}
GUARDED_FLAGS = set(MANAGED_FLAGS) | set(vllm_cli.FORBIDDEN_FLAGS)
"""Flags an abbreviation in extraArgs is read as (argparse expands unique prefixes)."""


class GpuConfig(_Model):
    """GPU type, how many per replica and how they are split."""

    type: Optional[str] = None
    product_labels: Optional[list[str]] = None
    memory_gib: Optional[float] = Field(default=None, gt=0)
    compute_capability: Optional[float] = None
    per_node: Optional[int] = Field(default=None, gt=0, le=16)
    interconnect: Optional[Literal["nvlink", "pcie"]] = None
    tensor_parallel: Optional[int] = Field(default=None, gt=0)
    pipeline_parallel: int = Field(default=1, gt=0)
    data_parallel: int = Field(default=1, gt=0)
    expert_parallel: bool = False
    layout: Literal["auto", "single-node", "pipeline", "data-expert"] = Field(
        default="auto", description="auto: one node when it fits, else the fewest nodes; "
        "pipeline: TP inside a node × PP across nodes; data-expert: DP attention × expert "
        "parallelism across nodes (MoE)")
    nodes: Optional[int] = Field(default=None, ge=1, le=16,
                                 description="Nodes per replica; default: the fewest that fit")

    @model_validator(mode="after")
    def _type_or_facts(self) -> "GpuConfig":
        if self.type is not None and self.type not in facts.gpus():
            raise ValueError(
                f"gpu.type {self.type!r} is not known; use one of {', '.join(sorted(facts.gpus()))}"
                " or leave it out and set gpu.productLabels, gpu.memoryGib, "
                "gpu.computeCapability and gpu.perNode"
            )
        if self.type is None:
            missing = [
                key
                for key, value in (
                    ("productLabels", self.product_labels),
                    ("memoryGib", self.memory_gib),
                    ("computeCapability", self.compute_capability),
                    ("perNode", self.per_node),
                )
                if value is None
            ]
            if missing:
                raise ValueError(
                    "without gpu.type, set " + ", ".join(f"gpu.{key}" for key in missing)
                )
        return self

    def resolved(self) -> "GpuFacts":
        """Facts for this GPU: the catalog entry, overridden by anything set in config."""
        base = facts.gpus().get(self.type, {})
        return GpuFacts(
            name=base.get("name", "custom"),
            product_labels=self.product_labels or base["product_labels"],
            memory_gib=self.memory_gib or base["memory_gib"],
            compute_capability=self.compute_capability or base["compute_capability"],
            per_node=self.per_node or base["gpus_per_node"],
            interconnect=self.interconnect or base.get("interconnect", "pcie"),
        )


class GpuFacts(BaseModel):
    """Resolved GPU facts."""

    name: str
    product_labels: list[str]
    memory_gib: float
    compute_capability: float
    per_node: int
    interconnect: str = "pcie"


class RdmaConfig(_Model):
    """RDMA for cross-node NCCL (InfiniBand / RoCE through the cluster's device plugin)."""

    resource_name: LabelKey = Field(description="Extended resource, e.g. rdma/ib or "
                                                "nvidia.com/hostdev")
    count: int = Field(default=1, ge=1, le=16)
    hca: Optional[str] = Field(default=None, min_length=1,
                               description="NCCL_IB_HCA, e.g. mlx5 (default: NCCL's choice)")


class MultiNodeConfig(_Model):
    """How a replica that spans nodes (a LeaderWorkerSet group) is launched and wired."""

    launcher: Literal["auto", "native", "ray"] = Field(
        default="auto", description="auto: vLLM's own multi-node mode where the pinned version "
        "has it, else Ray")
    socket_interface: Optional[
        Annotated[str, AfterValidator(_api_server_rule(k8s_names.interface_problem))]] = Field(
        default=None,
        description="NIC for NCCL and Gloo bootstrap (NCCL_SOCKET_IFNAME, GLOO_SOCKET_IFNAME)")
    rdma: Optional[RdmaConfig] = None
    acknowledge_tcp_expert_parallel: bool = Field(
        default=False, description="Allow expert parallelism across nodes without RDMA "
        "(NCCL falls back to TCP silently; all-to-all is then several times slower)")
    group_topology_key: Optional[LabelKey] = Field(
        default=None, description="Keep each group inside one domain of this node label "
        "(e.g. a rack or network block): LWS exclusive-topology")
    master_port: int = Field(default=29501, ge=1024, le=65535)
    data_parallel_rpc_port: int = Field(default=29550, ge=1024, le=65535)


class ResourcesConfig(_Model):
    """Host CPU (memory is derived; see planning/sizing.py)."""

    cpu_per_gpu: float = Field(default=4, gt=0)
    cpu_limit_factor: float = Field(default=1.0, ge=1.0, le=4.0)
    memory_headroom_gib: float = Field(default=8, ge=0)


MAX_MIB_PER_SECOND = 100_000
"""Upper bound of a measured read or download rate (~105 GB/s): twice what a node's whole
storage fabric carries today (a DGX H100 has two 400 Gb/s storage NICs = 100 GB/s, ~95,000
MiB/s). A larger figure is a typo or a unit slip, and would shrink the weight-load phase of the
start-up budget to nothing."""


class NfsConfig(_Model):
    """An existing NFS export that holds the model as a plain snapshot directory."""

    server: Annotated[str, AfterValidator(_api_server_rule(k8s_names.host_problem))]
    path: str = Field(pattern=r"^/")
    model_subdir: str = Field(default="", description="Directory inside the export with config.json")


class PvcConfig(_Model):
    """A claim from a storage class, filled by a download Job."""

    storage_class: ObjectName
    # The download Job writes into the claim, so a read-only mode cannot work here.
    access_mode: Literal["ReadWriteMany", "ReadWriteOnce"] = "ReadWriteMany"
    hf_token_secret: Optional[SecretRef] = None
    download_timeout_minutes: Optional[int] = Field(default=None, gt=0)
    download_mib_per_second: int = Field(
        default=50, gt=0, le=MAX_MIB_PER_SECOND, description="Download rate from the hub into the claim (measured)")
    downloader_image: Optional[str] = Field(
        default=None, description="Image with python3 and huggingface_hub for the download "
                                  "Job; default: the vLLM image (it ships huggingface_hub)")

    @field_validator("downloader_image")
    @classmethod
    def _downloader_pinned(cls, image: Optional[str]) -> Optional[str]:
        if image is None:
            return image
        name = image.split("@", 1)[0].rsplit("/", 1)[-1]
        if "@sha256:" not in image and (":" not in name or name.endswith((":latest", ":nightly"))):
            raise ValueError(
                f"{image!r} is not pinned; give a release tag (repo:1.2.3) or a digest "
                "(repo@sha256:…)")
        return image


class StorageConfig(_Model):
    """Where the weights live."""

    mode: Literal["nfs", "pvc"]
    capacity_gi: Optional[int] = Field(default=None, gt=0)
    read_mib_per_second: int = Field(
        default=400, gt=0, le=MAX_MIB_PER_SECOND, description="Sustained read bandwidth per pod from this storage"
    )
    streaming_read_mib_per_second: Optional[int] = Field(
        default=None, gt=0, le=MAX_MIB_PER_SECOND,
        description="Read bandwidth a streaming loader (engine.loadFormat runai_streamer or "
                    "fastsafetensors) reaches on this storage; measured, not assumed")
    nfs: Optional[NfsConfig] = None
    pvc: Optional[PvcConfig] = None

    @model_validator(mode="after")
    def _mode_settings(self) -> "StorageConfig":
        if self.mode == "nfs" and self.nfs is None:
            raise ValueError("storage.mode is nfs: set storage.nfs.server and storage.nfs.path")
        if self.mode == "pvc" and self.pvc is None:
            raise ValueError("storage.mode is pvc: set storage.pvc.storageClass")
        other = "pvc" if self.mode == "nfs" else "nfs"
        if getattr(self, other) is not None:
            raise ValueError(f"storage.{other} is set but storage.mode is {self.mode}; remove it")
        return self


def _pinned_requirement(text: str) -> bool:
    """True when `text` is a PEP 508 requirement (packaging.requirements) pinned to exactly one
    release: a single `==` with a PEP 440 version, no wildcard, no URL, no marker."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return False
    specifiers = list(requirement.specifier)
    if requirement.url or requirement.marker or len(specifiers) != 1:
        return False
    (only,) = specifiers
    if only.operator != "==" or only.version.endswith(".*"):
        return False
    try:
        Version(only.version)
    except InvalidVersion:
        return False
    return True


class ImageConfig(_Model):
    """The vLLM container image."""

    build: bool = False
    repository: str = "vllm/vllm-openai"
    tag: Optional[str] = None
    digest: Optional[str] = Field(
        default=None, pattern=r"^sha256:[0-9a-f]{64}$",
        description="Pinned manifest digest of repository:tag (with image.build: of the base "
                    "the build starts FROM); required with production; unset: the tag as written")
    registry: Optional[str] = None
    extra_pip_packages: list[str] = Field(default_factory=list)
    pull_secrets: list[DNS_LABEL] = Field(default_factory=list)

    @field_validator("extra_pip_packages")
    @classmethod
    def _packages_pinned(cls, packages: list[str]) -> list[str]:
        loose = [package for package in packages if not _pinned_requirement(package)]
        if loose:
            raise ValueError(f"pin every package as name==version (one release, e.g. "
                             f"ray==2.40.0); not pinned: {loose}")
        return packages

    @field_validator("tag")
    @classmethod
    def _tag_pinned(cls, tag: Optional[str]) -> Optional[str]:
        if tag is not None and tag in ("latest", "nightly", ""):
            raise ValueError(
                f"image.tag {tag!r} moves; pin the release tag v<vllmVersion>, or leave it out"
            )
        return tag

    @model_validator(mode="after")
    def _build_needs_registry(self) -> "ImageConfig":
        if self.build and not self.registry:
            raise ValueError("image.build is true: set image.registry to push the built image to")
        if ":" in self.repository.rsplit("/", 1)[-1] or "@" in self.repository:
            raise ValueError("image.repository must not carry a tag or digest; use image.tag")
        return self


def _toleration(toleration: dict) -> dict:
    problems = k8s_names.toleration_problems(toleration)
    if problems:
        raise ValueError("Kubernetes would refuse the pod (ValidateTolerations): "
                         + "; ".join(problems))
    return toleration


class PlacementConfig(_Model):
    """Where pods may run."""

    priority_class_name: Optional[ObjectName] = None
    runtime_class_name: Optional[ObjectName] = None
    tolerations: list[Annotated[dict, AfterValidator(_toleration)]] = Field(default_factory=list)
    node_selector: dict[LabelKey, LabelValue] = Field(default_factory=dict)


class ProbesConfig(_Model):
    """Probe settings. The start-up budget is derived; these are its inputs."""

    period_seconds: int = Field(default=10, ge=1, le=60)
    timeout_seconds: int = Field(default=5, ge=1, le=60)
    readiness_failures: int = Field(default=3, ge=1)
    liveness_failures: int = Field(default=6, ge=1)
    engine_start_seconds: Optional[int] = Field(
        default=None, ge=0, description="Measured engine start after the weight load (vLLM's "
        "'init engine ... took' + ~30 s); replaces the derived phases")
    safety_factor: float = Field(default=1.5, ge=1.0, le=10)
    startup_budget_seconds: Optional[int] = Field(default=None, gt=0)
    acknowledge_short_startup: bool = False

    @model_validator(mode="after")
    def _liveness_longer(self) -> "ProbesConfig":
        if self.liveness_failures <= self.readiness_failures:
            raise ValueError(
                f"probes.livenessFailures ({self.liveness_failures}) must be greater than "
                f"probes.readinessFailures ({self.readiness_failures}): a pod should leave the "
                "Service long before it is restarted"
            )
        return self


class ShutdownConfig(_Model):
    """Graceful drain inputs; the grace period is derived."""

    max_tokens: int = Field(default=8192, gt=0, description="Longest answer a request may get")
    per_token_ms: float = Field(default=40, gt=0)
    prefill_seconds: int = Field(default=10, ge=0)
    pre_stop_seconds: int = Field(default=15, ge=0, le=120)


class ApiKeyConfig(_Model):
    """The OpenAI-compatible API key (generated unless an existing Secret is named)."""

    existing_secret: Optional[SecretRef] = None
    length: int = Field(default=48, ge=32, le=128)


ENVOY_PROXY_POD_LABELS = {
    "app.kubernetes.io/name": "envoy",
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
}
"""Labels Envoy Gateway puts on every proxy pod and on no other (envoyproxy/gateway
internal/infrastructure/kubernetes/proxy/resource.go `EnvoyAppLabel`, applied by
resource_provider.go `getPodLabels`); each proxy also carries
gateway.envoyproxy.io/owning-gateway-name and -namespace, to narrow to one Gateway."""
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
"""The label Prometheus' own pods carry both from the Prometheus Operator (kube-prometheus-stack;
prometheus-operator pkg/prometheus/server/statefulset.go `makeStatefulSetSpec`) and from the
prometheus-community `prometheus` chart (_helpers.tpl `prometheus.common.matchLabels`)."""


class NetworkConfig(_Model):
    """Who may reach the engine: named pods in named namespaces, never whole namespaces."""

    gateway_namespaces: list[DNS_LABEL] = Field(default_factory=list)
    prometheus_namespaces: list[DNS_LABEL] = Field(default_factory=lambda: ["monitoring"])
    gateway_pods: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: dict(ENVOY_PROXY_POD_LABELS),
        description="Labels of the gateway's proxy pods (in gatewayNamespaces) that may reach "
                    "the engine when the stack has no router")
    prometheus_pods: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: dict(PROMETHEUS_POD_LABELS),
        description="Labels of Prometheus' pods (in prometheusNamespaces) that may scrape")

    @field_validator("gateway_pods", "prometheus_pods")
    @classmethod
    def _names_pods(cls, value: dict[str, str]) -> dict[str, str]:
        # An empty podSelector selects every pod of the namespaces: the namespace-wide
        # admission this fence exists to prevent.
        if not value:
            raise ValueError(
                "an empty selector matches every pod of the namespaces, and every one of them "
                "could call vLLM's /invocations, /tokenize and /metrics, which need no API "
                "key; give the labels of the pods that must reach the engine, or leave the "
                "key out for the default")
        return value


PROM_DURATION = r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$"
"""A Prometheus duration such as 90s, 2m or 1h30m (units ms, s, m, h, d, w, y, largest first)."""


def _check_duration(value: str) -> str:
    # The key is named by describe_errors; the message says what a valid value looks like.
    # Every group is optional, so "" matches the pattern; a zero length ("0s") means nothing
    # for a scrape interval, an alert's `for` or a window.
    if not re.fullmatch(PROM_DURATION, value) or not re.search(r"[1-9]", value):
        raise ValueError(
            "not a Prometheus duration above zero; write a number with a unit, largest unit "
            "first, such as 30s, 2m or 1h30m"
        )
    return value


class MonitoringThresholds(_Model):
    """Alert thresholds. Defaults suit a reasoning model (long answers are normal)."""

    queue_depth: int = Field(default=20, gt=0)
    queue_depth_for: str = "2m"
    kv_cache_usage: float = Field(default=0.95, gt=0, le=1)
    kv_cache_usage_for: str = "1m"
    # Spelled e2eP99Seconds (to_camel would make it e2EP99Seconds, which the old code
    # required; that spelling is still read).
    e2e_p99_seconds: float = Field(default=120, gt=0, alias="e2eP99Seconds",
                                   validation_alias=AliasChoices("e2eP99Seconds",
                                                                 "e2EP99Seconds"))
    ttft_p99_seconds: float = Field(default=5, gt=0)
    inter_token_p99_seconds: float = Field(default=0.2, gt=0)
    queue_time_p99_seconds: float = Field(default=10, gt=0)
    latency_for: str = Field(default="3m", description="How long a P99 must stay high to alert")
    min_generation_tokens_per_second: float = Field(
        default=50, ge=0, description="Per pod while requests run; 0 turns the alert off"
    )
    error_ratio: float = Field(default=0.05, gt=0, le=1)
    preemptions_per_minute: float = Field(default=1, gt=0)
    hang_minutes: int = Field(default=5, gt=0)
    restarts: int = Field(default=1, gt=0, description="Container restarts within restartsWindow")
    restarts_window: str = "30m"
    gpu_temperature_celsius: float = Field(
        default=85, gt=0, le=120, description="GPU temperature that counts as throttling (DCGM)"
    )

    @field_validator("queue_depth_for", "kv_cache_usage_for", "latency_for", "restarts_window")
    @classmethod
    def _durations(cls, value: str) -> str:
        return _check_duration(value)


class MonitoringConfig(_Model):
    """Scraping, alerting and the dashboard."""

    enabled: bool = True
    prometheus_operator: bool = True
    release_label: LabelValue = Field(
        default="kube-prometheus-stack",
        description="Value of the `release` label the Prometheus instance selects on; '' for none",
    )
    rule_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    scrape_interval: str = "15s"
    dashboard_namespace: Optional[DNS_LABEL] = Field(
        default="monitoring",
        description="Namespace the Grafana sidecar watches; null puts it in the stack namespace",
    )
    dcgm_exporter: bool = False
    thresholds: MonitoringThresholds = Field(default_factory=MonitoringThresholds)

    @field_validator("scrape_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        return _check_duration(value)


class AutoscalingConfig(_Model):
    """Replica count: fixed, or owned by an autoscaler."""

    enabled: bool = False
    engine: Literal["keda", "hpa"] = "keda"
    min_replicas: int = Field(default=1, ge=1)
    # As `replicas` (le=64): an autoscaler bound beyond it is a typo, and 10^12 would
    # overflow the ScaledObject's / HPA's int32 maxReplicas.
    max_replicas: int = Field(default=1, ge=1, le=64)
    target_utilization: float = Field(
        default=0.75, gt=0, le=1,
        description="Share of the requests a replica can run at once to aim for")
    expected_request_tokens: int = Field(
        default=8192, gt=0,
        description="Prompt + answer tokens of a typical request: how many fit in a replica's "
                    "KV cache decides the autoscaler's per-replica target")
    prometheus_url: str = "http://kube-prometheus-stack-prometheus.monitoring:9090"
    fallback_replicas: Optional[int] = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _min_le_max(self) -> "AutoscalingConfig":
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"autoscaling.minReplicas ({self.min_replicas}) is greater than "
                f"autoscaling.maxReplicas ({self.max_replicas}); set minReplicas <= maxReplicas"
            )
        fallback = self.fallback_replicas
        if fallback is not None and not self.min_replicas <= fallback <= self.max_replicas:
            raise ValueError(
                f"autoscaling.fallbackReplicas ({fallback}) is outside minReplicas.."
                f"maxReplicas ({self.min_replicas}..{self.max_replicas}); the autoscaler could "
                "never hold it. Pick a value in that range or leave it out"
            )
        return self


class ClusterVersionsConfig(_Model):
    """Releases of the add-ons installed in the cluster, checked against their floors
    (facts/cluster_versions.py) at preview; unset means not checked, except envoyGateway and
    gatewayApi, which a stack with traffic.gateway must state."""

    keda: Optional[str] = None
    lws: Optional[str] = None
    prometheus_operator: Optional[str] = None
    envoy_gateway: Optional[str] = Field(
        default=None, description="The cluster's Envoy Gateway release (its controller image "
        "tag), e.g. 1.8.0; needed with traffic.gateway.envoyGateway")
    gateway_api: Optional[str] = Field(
        default=None, description="The cluster's Gateway API CRD release (the CRDs' "
        "gateway.networking.k8s.io/bundle-version annotation), e.g. 1.4.0; needed with "
        "traffic.gateway")

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

    namespace: DNS_LABEL = "llm-serving"
    create_namespace: bool = True
    require_cluster: bool = Field(
        default=True, description="Refuse to run unless kubernetes:context or "
                                  "kubernetes:kubeconfig pins the cluster")
    production: bool = Field(
        default=False, description="Refuse anything that can change under the stack: images "
                                   "without a digest, a model revision that is not a commit")
    vllm_version: VERSION
    model: ModelConfig
    engine: EngineConfig = Field(default_factory=EngineConfig)
    gpu: GpuConfig
    multi_node: MultiNodeConfig = Field(default_factory=MultiNodeConfig)
    replicas: int = Field(default=1, ge=1, le=64)
    # A pool of 1,024 GPUs (128 eight-GPU nodes) is beyond any one serving stack's surge.
    spare_gpus: int = Field(default=0, ge=0, le=1024)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    storage: StorageConfig
    image: ImageConfig = Field(default_factory=ImageConfig)
    placement: PlacementConfig = Field(default_factory=PlacementConfig)
    probes: ProbesConfig = Field(default_factory=ProbesConfig)
    shutdown: ShutdownConfig = Field(default_factory=ShutdownConfig)
    api_key: ApiKeyConfig = Field(default_factory=ApiKeyConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig)
    traffic: TrafficConfig = Field(default_factory=TrafficConfig)
    cluster_versions: ClusterVersionsConfig = Field(default_factory=ClusterVersionsConfig)
    traffic_secrets: TrafficSecrets = Field(default_factory=TrafficSecrets)

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
                and self.storage.mode == "nfs"):
            raise ValueError(
                "engine.compileCacheGib is set with storage.mode nfs, which names no "
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
        if pvc is not None and pvc.downloader_image and "@sha256:" not in pvc.downloader_image:
            problems.append(f"storage.pvc.downloaderImage {pvc.downloader_image!r}: production "
                            "runs it by digest (repo:tag@sha256:…); find it with "
                            f"{pins.digest_command(pvc.downloader_image)}")
        if problems:
            raise ValueError("production: true, but " + "; ".join(problems))
        return self


class ClusterConfig(_Model):
    """Which cluster the stack deploys to: the stack file's `kubernetes:context`,
    `kubernetes:kubeconfig` and `kubernetes:cluster`, handed to the program's explicit provider
    (an explicit provider ignores those stack settings unless given them)."""

    context: Optional[str] = Field(default=None, min_length=1)
    kubeconfig: Optional[str] = Field(default=None, min_length=1)
    cluster: Optional[str] = Field(default=None, min_length=1)

    @property
    def pinned(self) -> bool:
        return self.context is not None or self.kubeconfig is not None


def check_cluster(cluster: ClusterConfig, required: bool, stack: str) -> None:
    """Refuse to deploy to whatever kubectl context happens to be current."""
    if required and not cluster.pinned:
        raise ConfigError([
            "kubernetes:context: not set, so `pulumi up` would deploy to whatever kubectl "
            f"context is current; pin the cluster: `pulumi config set -s {stack} "
            "kubernetes:context <context>` (or kubernetes:kubeconfig), or set "
            "vllm-serving:requireCluster: false for a throwaway stack"])


def cluster_from_pulumi_config() -> ClusterConfig:
    """The `kubernetes:*` settings the CLI hands the program (plaintext, a `secure:` one
    decrypted); the program makes the kubeconfig secret before the provider gets it."""
    from pulumi.runtime import config as runtime_config

    given = {key: runtime_config.get_config(f"kubernetes:{key}")
             for key in ("context", "kubeconfig", "cluster")}
    return ClusterConfig(**{key: value for key, value in given.items() if value})


class ConfigError(Exception):
    """Invalid stack configuration; the message lists every problem for a person to fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "The stack configuration is invalid; nothing was created.\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )


def check_stack_name(stack: str) -> None:
    """Every object is named `<stack>-<servedName>`, and the Service's name must be a DNS-1035
    label: refuse a stack name that cannot be part of one, before anything is created."""
    if not re.fullmatch(SERVICE_NAME, stack.lower()) or len(stack) > 40:
        raise ConfigError([
            f"stack name {stack!r}: every object is named <stack>-<servedName>, so the stack "
            "name may hold only letters, digits and '-', must start with a letter, end with a "
            "letter or digit and be at most 40 characters; rename the stack (`pulumi stack "
            f"rename {re.sub(r'[^a-z0-9-]+', '-', stack.lower()).strip('-') or 'prod'}`)"])


def _key_path(loc: tuple) -> str:
    parts = []
    for piece in loc:
        if isinstance(piece, int) and parts:
            parts[-1] = f"{parts[-1]}[{piece}]"
        elif isinstance(piece, int):
            parts.append(f"[{piece}]")
        else:
            parts.append(str(piece))
    return ".".join(parts)


def describe_errors(error: pydantic.ValidationError) -> list[str]:
    """One sentence per problem: the key, the value given, and what is allowed."""
    problems = []
    for item in error.errors(include_url=False):
        key = _key_path(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key (value {item['input']!r}); check its spelling "
                            "against README.md's config reference")
        elif item["type"] == "missing":
            problems.append(f"{key}: required but not set")
        elif key:
            problems.append(f"{key}: {message} (given {item['input']!r})")
        else:
            problems.append(message)
    return problems


def parse(raw: dict) -> StackConfig:
    """Validate a raw config mapping (top-level keys without the `vllm-serving:` prefix)."""
    try:
        return StackConfig.model_validate(raw)
    except pydantic.ValidationError as error:
        raise ConfigError(describe_errors(error)) from None


def from_pulumi_config() -> StackConfig:
    """Read every `vllm-serving:` key the way the Pulumi CLI hands them over (objects and
    numbers as JSON text) and validate them; unknown top-level keys are errors too."""
    from pulumi.runtime import config as runtime_config

    everything = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return parse(values_from_cli(everything))


def values_from_cli(everything: dict[str, str]) -> dict:
    """The `vllm-serving:` keys of the config the CLI hands the program (`PULUMI_CONFIG`: every
    value text, objects as JSON), as the mapping `parse` takes (keys without the prefix). The
    stack loader (`planning/stack_files.py`) decodes through here too, so the plan and the tests
    see what the program sees."""
    import json

    raw: dict = {}
    prefix = f"{PROJECT}:"
    for full_key, text in sorted(everything.items()):
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix):]
        try:
            raw[key] = json.loads(text)
        except (TypeError, ValueError):
            raw[key] = text   # a plain string such as a namespace or "0.11.0"
    for key in ("vllmVersion", "namespace"):
        if key in raw and not isinstance(raw[key], str):
            raw[key] = str(everything[prefix + key])   # "0.11" must stay text
    return raw
