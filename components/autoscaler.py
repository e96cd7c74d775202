"""Autoscaler: replica count driven by the model's running + waiting requests.

`keda` (default): a ScaledObject with a Prometheus trigger; KEDA creates the HPA. `hpa`: an
autoscaling/v2 HPA on prometheus-adapter's per-pod metric. The objects come rendered
(rendering/autoscaler.py); the workload must leave spec.replicas to the autoscaler.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from rendering.autoscaler import AutoscalerObjects

TYPE_TOKEN = "vllm-serving:index:Autoscaler"


@dataclasses.dataclass
class AutoscalerArgs:
    """Inputs of Autoscaler: the engine's objects, rendered, and the target they aim for."""

    objects: AutoscalerObjects
    per_replica_target: int
    """Requests (running + waiting) per replica to aim for (planning/capacity.py)."""


class Autoscaler(pulumi.ComponentResource):
    """Scales the inference workload on its requests in flight, with KEDA or an HPA."""

    hpa_name: pulumi.Output[Optional[str]]
    """Name of the HPA that owns the replica count (for alerts and the dashboard)."""
    adapter_rules: pulumi.Output[Optional[str]]
    """prometheus-adapter rule (YAML) the `hpa` engine needs; None with KEDA."""
    per_replica_target: pulumi.Output[int]
    """Requests in flight per replica the autoscaler aims for."""

    def __init__(
        self, name: str, args: AutoscalerArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        objects, child = args.objects, pulumi.ResourceOptions(parent=self)
        self.per_replica_target = pulumi.Output.from_input(args.per_replica_target)
        self.hpa_name = pulumi.Output.from_input(objects.hpa_name)
        self.adapter_rules = pulumi.Output.from_input(objects.adapter_rules)
        if objects.scaled_object is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-scaledobject", api_version="keda.sh/v1alpha1", kind="ScaledObject",
                **objects.scaled_object, opts=child)
        if objects.hpa is not None:
            hpa = k8s.autoscaling.v2.HorizontalPodAutoscaler(f"{name}-hpa", **objects.hpa,
                                                             opts=child)
            self.hpa_name = hpa.metadata.apply(lambda meta: meta.name)
        if objects.adapter_config_map is not None:
            k8s.core.v1.ConfigMap(f"{name}-adapter-rules", **objects.adapter_config_map,
                                  opts=child)
        self.register_outputs({
            "hpa_name": self.hpa_name,
            "adapter_rules": self.adapter_rules,
            "per_replica_target": self.per_replica_target,
        })
