"""The pod's settings: `resources`, `image`, `placement`, `probes`, `shutdown`, `apiKey`."""

from __future__ import annotations

from typing import Annotated, Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, Field, field_validator, model_validator

from facts import k8s_names
from facts.images import is_moving_tag
from planning.config.base import DNS_LABEL, LabelKey, LabelValue, ObjectName, SecretRef, _Model


class ResourcesConfig(_Model):
    """Host CPU (memory is derived; see planning/host.py)."""

    cpu_per_gpu: float = Field(default=4, gt=0,
        description="Host CPU requested per GPU (host memory is derived)")
    cpu_limit_factor: float = Field(default=1.0, ge=1.0, le=4.0,
        description="Host CPU limit as a multiple of the request")
    memory_headroom_gib: float = Field(default=8, ge=0,
        description="Host memory added to the derived need, in GiB")


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

    build: bool = Field(
        default=False,
        description="Build an image FROM the vLLM image with image.extraPipPackages and push it "
                    "to image.registry")
    repository: str = Field(
        default="vllm/vllm-openai",
        description="The vLLM image's repository, without tag or digest")
    tag: Optional[str] = Field(
        default=None,
        description="The image tag: v<vllmVersion> (unset: that tag)")
    digest: Optional[str] = Field(
        default=None, pattern=r"^sha256:[0-9a-f]{64}$",
        description="Pinned manifest digest of repository:tag (with image.build: of the base "
                    "the build starts FROM); required with production; unset: the tag as written")
    registry: Optional[str] = Field(
        default=None,
        description="Where the built image is pushed (required with image.build)")
    extra_pip_packages: list[str] = Field(default_factory=list,
        description="Packages the build adds, each pinned as name==version")
    pull_secrets: list[DNS_LABEL] = Field(default_factory=list,
        description="Secrets the pods pull the image with")

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
        if tag is not None and is_moving_tag(tag):
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

    priority_class_name: Optional[ObjectName] = Field(
        default=None,
        description="The pods' PriorityClass (a name the API server accepts, facts/k8s_names.py)")
    runtime_class_name: Optional[ObjectName] = Field(
        default=None,
        description="The pods' RuntimeClass (a name the API server accepts, facts/k8s_names.py)")
    tolerations: list[Annotated[dict, AfterValidator(_toleration)]] = Field(default_factory=list,
        description="The pods' tolerations; operators and effects are checked by the API server's "
                    "rules (facts/k8s_names.py)")
    node_selector: dict[LabelKey, LabelValue] = Field(default_factory=dict,
        description="Node labels the pods require; label keys are checked by the API server's "
                    "rules (facts/k8s_names.py)")


class ProbesConfig(_Model):
    """Probe settings. The start-up budget is derived; these are its inputs."""

    period_seconds: int = Field(default=10, ge=1, le=60,
        description="How often the probes run")
    timeout_seconds: int = Field(default=5, ge=1, le=60,
        description="How long one probe may take")
    readiness_failures: int = Field(default=3, ge=1,
        description="Failed readiness probes before a pod leaves the Service")
    liveness_failures: int = Field(default=6, ge=1,
        description="Failed liveness probes before a restart (liveness must outlast readiness)")
    engine_start_seconds: Optional[int] = Field(
        default=None, ge=0, description="Measured engine start after the weight load (vLLM's "
        "'init engine ... took' + ~30 s); replaces the derived phases")
    safety_factor: float = Field(default=1.5, ge=1.0, le=10,
        description="Start-up budget = (load + engine) × this")
    startup_budget_seconds: Optional[int] = Field(default=None, gt=0,
        description="An explicit start-up budget; shorter than derived only when acknowledged "
                    "(probes.acknowledgeShortStartup)")
    acknowledge_short_startup: bool = Field(
        default=False,
        description="Accept probes.startupBudgetSeconds shorter than the derived budget")

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
    per_token_ms: Optional[float] = Field(default=None, gt=0,
        description="Measured time per generated token at full load, for the drain, the "
                    "router's timeouts and sizing (unset: the plan's roofline, "
                    "planning/throughput.py)")
    prefill_seconds: Optional[int] = Field(default=None, ge=0,
        description="Measured prefill time of a maxModelLen prompt, for the drain, the "
                    "router's first byte and the admission bounds (unset: the plan's roofline)")
    pre_stop_seconds: int = Field(default=15, ge=0, le=120,
        description="The preStop wait before the drain starts")


class ApiKeyConfig(_Model):
    """The OpenAI-compatible API key (generated unless an existing Secret is named)."""

    existing_secret: Optional[SecretRef] = Field(
        default=None,
        description="Bring your own key: an existing Secret (unset: a generated one)")
    length: int = Field(default=48, ge=32, le=128,
        description="Length of the generated key")


