"""The autoscaler's objects as plain data: a KEDA ScaledObject with a Prometheus trigger, or an
autoscaling/v2 HPA on a per-pod custom metric that prometheus-adapter serves once the exported
rule is in its configuration (with a ConfigMap copy of that rule). Either way the HPA behaviour
and KEDA's fallback are the plan's figures (planning/scaling.py), read here, never derived."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from facts import conventions
from planning.config import AutoscalingConfig
from planning.scaling import Scaling
from planning.wake import Wake
from rendering import promql, scale_to_zero
from rendering.naming import hpa_name_for


@dataclasses.dataclass(frozen=True)
class ScalingInputs:
    """What the autoscaler's objects are rendered from."""

    namespace: str
    deployment_name: str
    served_name: str
    vllm_version: str
    per_replica_target: int
    """Requests (running + waiting) per replica to aim for (planning/capacity.py)."""
    windows: Scaling
    """The plan's HPA windows, policy periods and KEDA fallback (plan.scaling)."""
    autoscaling: AutoscalingConfig
    labels: dict[str, str]
    workload: tuple[str, str] = ("apps/v1", "Deployment")
    """apiVersion and kind of what is scaled: the Deployment, or the LeaderWorkerSet whose
    replicas are groups (its scale subresource counts groups, never pods)."""
    wake: Optional[Wake] = None
    """Scale to zero (plan.wake): KEDA takes the engine to zero and the router's requests wake it."""
    router_service: Optional[str] = None
    """The router's Service, whose request counter wakes the engine (with `wake`)."""


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


def _scale_target(inputs: ScalingInputs) -> dict[str, str]:
    api_version, kind = inputs.workload
    return {"apiVersion": api_version, "kind": kind, "name": inputs.deployment_name}


def _target(inputs: ScalingInputs) -> promql.Target:
    # The Service is not queried by the autoscaler; the Deployment name stands in for it.
    return promql.Target(
        inputs.namespace, inputs.served_name, inputs.deployment_name, inputs.deployment_name,
        inputs.vllm_version, workload_kind=inputs.workload[1],
    )


def scaled_object_spec(inputs: ScalingInputs) -> dict[str, Any]:
    """ScaledObject spec: the model's total requests against a per-replica threshold."""
    scaling = inputs.autoscaling
    threshold = inputs.per_replica_target
    return {
        "scaleTargetRef": _scale_target(inputs),
        "minReplicaCount": scaling.min_replicas,
        "maxReplicaCount": scaling.max_replicas,
        "pollingInterval": inputs.windows.polling_seconds,
        "fallback": {
            "failureThreshold": inputs.windows.fallback_failures,
            "replicas": inputs.windows.fallback_replicas,
            "behavior": "currentReplicasIfHigher",
        },
        "advanced": {
            "restoreToOriginalReplicaCount": False,
            "horizontalPodAutoscalerConfig": {"behavior": behavior(inputs.windows)},
        },
        "triggers": [{
            "type": "prometheus",
            "name": "requests-in-flight",
            # AverageValue: the HPA divides the query's total by the replica count itself.
            "metricType": "AverageValue",
            "metadata": {
                "serverAddress": scaling.prometheus_url,
                "query": promql.keda_query(_target(inputs)),
                "threshold": str(threshold),
                # An empty answer means the metric is missing (wrong name, label or scrape):
                # make it an error so the fallback applies and the ScaledObject shows it,
                # instead of reading 0 and never scaling.
                "ignoreNullValues": "false",
            },
        }],
    }


def hpa_spec(inputs: ScalingInputs) -> dict[str, Any]:
    """autoscaling/v2 HPA spec on the adapter's per-pod metric, selected on this model."""
    scaling = inputs.autoscaling
    threshold = inputs.per_replica_target
    return {
        "scaleTargetRef": _scale_target(inputs),
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "metrics": [{
            "type": "Pods",
            "pods": {
                "metric": {
                    "name": promql.ADAPTER_METRIC,
                    # prometheus-adapter adds this to <<.LabelMatchers>>.
                    "selector": {"matchLabels": {"model_name": inputs.served_name}},
                },
                "target": {"type": "AverageValue", "averageValue": str(threshold)},
            },
        }],
        "behavior": behavior(inputs.windows),
    }


def metadata(inputs: ScalingInputs) -> dict[str, Any]:
    """Metadata of the ScaledObject or HPA: named like the workload it scales."""
    return {
        "name": inputs.deployment_name,
        "namespace": inputs.namespace,
        "labels": dict(inputs.labels),
        "annotations": {conventions.ANN_VLLM_VERSION: inputs.vllm_version},
    }


@dataclasses.dataclass(frozen=True)
class AutoscalerObjects:
    """What one engine creates ({"metadata", "spec"} / {"metadata", "data"} each): KEDA a
    ScaledObject (KEDA names its HPA `hpa_name`), the `hpa` engine an HPA and the adapter rule's
    ConfigMap (`adapter_rules`, its text); nothing without autoscaling."""

    scaled_object: Optional[dict] = None
    hpa: Optional[dict] = None
    adapter_config_map: Optional[dict] = None
    adapter_rules: Optional[str] = None
    hpa_name: Optional[str] = None


def autoscaler_objects(inputs: ScalingInputs) -> AutoscalerObjects:
    """The configured engine's objects."""
    scaling, meta = inputs.autoscaling, metadata(inputs)
    if not scaling.enabled:
        return AutoscalerObjects()
    if scaling.engine == "keda":
        # Await KEDA's verdict: Ready=True once the object is valid and its scaler works
        # (keda apis/keda/v1alpha1/condition_types.go `ConditionReady`), so `pulumi up`
        # fails on a ScaledObject KEDA refuses (pulumi-kubernetes provider/pkg/await/
        # awaiters.go `ReadyCondition`, condition/custom.go: condition=<type> is True).
        spec = scaled_object_spec(inputs)
        if inputs.wake is not None:
            spec = scale_to_zero.scaled_object(spec, inputs.wake, inputs.namespace,
                                               inputs.router_service)
        return AutoscalerObjects(
            scaled_object={"metadata": {**meta, "annotations": {
                **meta["annotations"], "pulumi.com/waitFor": "condition=Ready"}},
                "spec": spec},
            hpa_name=hpa_name_for("keda", inputs.deployment_name))
    snippet = promql.adapter_rules_snippet(inputs.vllm_version)
    # A copy next to the HPA, for whoever maintains the adapter's Helm values.
    return AutoscalerObjects(
        hpa={"metadata": meta, "spec": hpa_spec(inputs)},
        adapter_config_map={"metadata": {"name": f"{inputs.deployment_name}-adapter-rules",
                                         "namespace": inputs.namespace,
                                         "labels": dict(inputs.labels)},
                            "data": {"prometheus-adapter-rules.yaml": snippet}},
        adapter_rules=snippet)
