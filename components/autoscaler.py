"""Autoscaler: replica count driven by the model's running + waiting requests.

`keda` (default): a ScaledObject with a Prometheus trigger; KEDA creates the HPA. `hpa`: an
autoscaling/v2 HPA on a per-pod custom metric that prometheus-adapter serves once the exported
rule is in its configuration. Either way the HPA behaviour and KEDA's fallback are the plan's
figures (planning/scaling.py), read here, never derived. The Deployment must leave spec.replicas to the autoscaler.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from rendering import promql
from rendering.naming import hpa_name_for
from planning.config import AutoscalingConfig, StackConfig
from planning.plan import Plan
from rendering.naming import StackNames
from planning.scaling import Scaling
from facts import conventions

TYPE_TOKEN = "vllm-serving:index:Autoscaler"

@dataclasses.dataclass
class AutoscalerArgs:
    """Inputs of Autoscaler."""

    namespace: str
    deployment_name: str
    served_name: str
    vllm_version: str
    per_replica_target: int
    """Requests (running + waiting) per replica to aim for (planning/sizing.py)."""
    windows: Scaling
    """The plan's HPA windows, policy periods and KEDA fallback (plan.scaling)."""
    autoscaling: AutoscalingConfig
    labels: dict[str, str]
    workload: tuple[str, str] = ("apps/v1", "Deployment")
    """apiVersion and kind of what is scaled: the Deployment, or the LeaderWorkerSet whose
    replicas are groups (its scale subresource counts groups, never pods)."""


def autoscaler_args(cfg: StackConfig, plan: Plan, names: StackNames) -> AutoscalerArgs:
    """The stack's workload scaled on the plan's per-replica target and windows."""
    return AutoscalerArgs(
        namespace=cfg.namespace, deployment_name=names.workload,
        served_name=cfg.model.served_name, vllm_version=cfg.vllm_version,
        per_replica_target=plan.autoscaling.target_per_replica, windows=plan.scaling,
        autoscaling=cfg.autoscaling, labels=names.labels, workload=names.workload_type)


def behavior(windows: Scaling) -> dict[str, Any]:
    """HPA behaviour (camelCase, as the API and KEDA take it), one replica at a time both ways."""
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": windows.scale_up_window_seconds,
            "selectPolicy": "Max",
            "policies": [{
                "type": "Pods",
                "value": 1,
                "periodSeconds": windows.scale_up_period_seconds,
            }],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": windows.scale_down_window_seconds,
            "selectPolicy": "Max",
            "policies": [{
                "type": "Pods",
                "value": 1,
                "periodSeconds": windows.scale_down_period_seconds,
            }],
        },
    }


def _scale_target(args: AutoscalerArgs) -> dict[str, str]:
    api_version, kind = args.workload
    return {"apiVersion": api_version, "kind": kind, "name": args.deployment_name}


def _target(args: AutoscalerArgs) -> promql.Target:
    # The Service is not queried by the autoscaler; the Deployment name stands in for it.
    return promql.Target(
        args.namespace, args.served_name, args.deployment_name, args.deployment_name,
        args.vllm_version, workload_kind=args.workload[1],
    )


def scaled_object_spec(args: AutoscalerArgs) -> dict[str, Any]:
    """ScaledObject spec: the model's total requests against a per-replica threshold."""
    scaling = args.autoscaling
    threshold = args.per_replica_target
    return {
        "scaleTargetRef": _scale_target(args),
        "minReplicaCount": scaling.min_replicas,
        "maxReplicaCount": scaling.max_replicas,
        "pollingInterval": args.windows.polling_seconds,
        "fallback": {
            "failureThreshold": args.windows.fallback_failures,
            "replicas": args.windows.fallback_replicas,
            "behavior": "currentReplicasIfHigher",
        },
        "advanced": {
            "restoreToOriginalReplicaCount": False,
            "horizontalPodAutoscalerConfig": {"behavior": behavior(args.windows)},
        },
        "triggers": [{
            "type": "prometheus",
            "name": "requests-in-flight",
            # AverageValue: the HPA divides the query's total by the replica count itself.
            "metricType": "AverageValue",
            "metadata": {
                "serverAddress": scaling.prometheus_url,
                "query": promql.keda_query(_target(args)),
                "threshold": str(threshold),
                # An empty answer means the metric is missing (wrong name, label or scrape):
                # make it an error so the fallback applies and the ScaledObject shows it,
                # instead of reading 0 and never scaling.
                "ignoreNullValues": "false",
            },
        }],
    }


def hpa_spec(args: AutoscalerArgs) -> dict[str, Any]:
    """autoscaling/v2 HPA spec on the adapter's per-pod metric, selected on this model."""
    scaling = args.autoscaling
    threshold = args.per_replica_target
    return {
        "scaleTargetRef": _scale_target(args),
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "metrics": [{
            "type": "Pods",
            "pods": {
                "metric": {
                    "name": promql.ADAPTER_METRIC,
                    # prometheus-adapter adds this to <<.LabelMatchers>>.
                    "selector": {"matchLabels": {"model_name": args.served_name}},
                },
                "target": {"type": "AverageValue", "averageValue": str(threshold)},
            },
        }],
        "behavior": behavior(args.windows),
    }


class Autoscaler(pulumi.ComponentResource):
    """Scales the inference Deployment on its requests in flight, with KEDA or an HPA."""

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
        scaling = args.autoscaling
        child = pulumi.ResourceOptions(parent=self)
        self.per_replica_target = pulumi.Output.from_input(args.per_replica_target)
        self.hpa_name = pulumi.Output.from_input(None)
        self.adapter_rules = pulumi.Output.from_input(None)
        metadata = {
            "name": args.deployment_name,
            "namespace": args.namespace,
            "labels": dict(args.labels),
            "annotations": {conventions.ANN_VLLM_VERSION: args.vllm_version},
        }

        if scaling.enabled and scaling.engine == "keda":
            k8s.apiextensions.CustomResource(
                f"{name}-scaledobject",
                api_version="keda.sh/v1alpha1",
                kind="ScaledObject",
                # Await KEDA's verdict: Ready=True once the object is valid and its scaler works
                # (keda apis/keda/v1alpha1/condition_types.go `ConditionReady`), so `pulumi up`
                # fails on a ScaledObject KEDA refuses (pulumi-kubernetes provider/pkg/await/
                # awaiters.go `ReadyCondition`, condition/custom.go: condition=<type> is True).
                metadata={**metadata, "annotations": {**metadata["annotations"],
                                                      "pulumi.com/waitFor": "condition=Ready"}},
                spec=scaled_object_spec(args),
                opts=child,
            )
            self.hpa_name = pulumi.Output.from_input(hpa_name_for("keda", args.deployment_name))
        elif scaling.enabled:
            hpa = k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa",
                metadata=metadata,
                spec=hpa_spec(args),
                opts=child,
            )
            snippet = promql.adapter_rules_snippet(args.vllm_version)
            # A copy next to the HPA, for whoever maintains the adapter's Helm values.
            k8s.core.v1.ConfigMap(
                f"{name}-adapter-rules",
                metadata={
                    "name": f"{args.deployment_name}-adapter-rules",
                    "namespace": args.namespace,
                    "labels": dict(args.labels),
                },
                data={"prometheus-adapter-rules.yaml": snippet},
                opts=child,
            )
            self.hpa_name = hpa.metadata.apply(lambda meta: meta.name)
            self.adapter_rules = pulumi.Output.from_input(snippet)

        self.register_outputs({
            "hpa_name": self.hpa_name,
            "adapter_rules": self.adapter_rules,
            "per_replica_target": self.per_replica_target,
        })
