"""Every name the stack's components share, derived once from the stack, its config and its
plan: the release, the inference workload (Deployment or LeaderWorkerSet), the HPA that owns
its replicas, its labels and where the model sits in the pod. The composition root and the
components read these; none of them derives a name again."""

from __future__ import annotations

import dataclasses
from typing import Optional

from facts.conventions import COMPONENT_INFERENCE
from planning.config import StackConfig
from planning.plan import Plan
from rendering import multinode
from rendering.labels import common_labels, release_name, router_labels, selector_of
from rendering.model_store import model_directory


def hpa_name_for(engine: str, deployment_name: str) -> str:
    """Name of the HPA that scales the Deployment: KEDA names its own keda-hpa-<ScaledObject>."""
    return f"keda-hpa-{deployment_name}" if engine == "keda" else deployment_name


@dataclasses.dataclass(frozen=True)
class StackNames:
    """Names of one stack's inference objects."""

    release: str
    workload: str
    """The Deployment (the release) or the LeaderWorkerSet (the group's name)."""
    workload_type: tuple[str, str]
    """apiVersion and kind of the inference workload."""
    hpa: Optional[str]
    """The HPA that owns the replica count; None without autoscaling."""
    labels: dict[str, str]
    """The inference objects' labels."""
    model_dir: str
    """Where the model is inside the pod."""
    router_labels: dict[str, str]
    """The traffic layer's router (and edge) labels."""
    router_selector: Optional[dict[str, str]]
    """Behind the traffic layer only the router's pods (and Prometheus) may reach the engine;
    None without one."""


def stack_names(stack: str, cfg: StackConfig, plan: Plan) -> StackNames:
    """The names of `stack` (Names are known up front, so monitoring rules render before
    anything exists)."""
    release = release_name(stack, cfg.model.served_name)
    workload = multinode.workload_name(release, plan)
    return StackNames(
        release=release, workload=workload, workload_type=multinode.workload(plan),
        hpa=hpa_name_for(cfg.autoscaling.engine, workload) if cfg.autoscaling.enabled else None,
        labels=common_labels(release, cfg.vllm_version, COMPONENT_INFERENCE),
        model_dir=model_directory(cfg.storage, plan.model.hf_id, cfg.model.revision),
        router_labels=router_labels(release),
        router_selector=selector_of(router_labels(release)) if cfg.traffic.enabled else None)
