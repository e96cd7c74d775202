"""Autoscaler under Pulumi mocks: KEDA ScaledObject or HPA + adapter rule, derived behaviour."""

from __future__ import annotations

import json
from typing import Any, Callable

import jsonschema
import pydantic
import pytest
import yaml

from rendering import promql
from components.autoscaler import Autoscaler
from rendering.autoscaler import ScalingInputs
from wiring.engine import autoscaler_args_of
from planning import scaling as scaling_step
from planning.config import AutoscalingConfig
from facts import conventions
from tests.harness import render_component
from tests.schemas import SCHEMAS

LABELS = {"app.kubernetes.io/instance": "deepseek-r1", "app.kubernetes.io/part-of": "vllm-serving"}
PROMETHEUS = "http://prometheus-operated.monitoring:9090"


def render(build: Callable[[], Autoscaler]) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """Autoscaler's resources and outputs."""
    return render_component(build, ("hpa_name", "adapter_rules", "per_replica_target"))


def autoscaler(
    budget: int = 900, target: int = 28, **scaling: Any
) -> Callable[[], Autoscaler]:
    """A builder for the Autoscaler with autoscaling config given as camelCase keys."""
    config = {
        "enabled": True, "minReplicas": 1, "maxReplicas": 4, "prometheusUrl": PROMETHEUS,
        **scaling,
    }
    validated = AutoscalingConfig.model_validate(config)
    return lambda: Autoscaler("deepseek-r1", autoscaler_args_of(ScalingInputs(
        namespace="llm-serving", deployment_name="deepseek-r1", served_name="deepseek-r1",
        vllm_version="0.10.2", per_replica_target=target,
        windows=scaling_step.scaling(validated, budget), autoscaling=validated, labels=LABELS,
    )))


def scaled_object(by_kind: dict) -> dict:
    (found,) = by_kind["ScaledObject"]
    return found


def hpa_behaviour(so: dict) -> dict:
    return so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]


def validate_scaled_object(resource: dict) -> None:
    schema = json.loads((SCHEMAS / "keda.sh" / "scaledobject_v1alpha1.json").read_text())
    manifest = {key: resource[key] for key in ("apiVersion", "kind", "metadata", "spec")}
    jsonschema.Draft202012Validator(schema).validate(manifest)


def test_keda_is_the_default_engine_and_scales_the_deployment():
    by_kind, outputs = render(autoscaler())
    so = scaled_object(by_kind)
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    assert so["metadata"]["namespace"] == "llm-serving"
    assert so["metadata"]["annotations"][conventions.ANN_VLLM_VERSION] == "0.10.2"
    assert so["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "deepseek-r1"}
    assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (1, 4)
    assert "HorizontalPodAutoscaler" not in by_kind
    assert outputs["hpa_name"] == "keda-hpa-deepseek-r1"
    assert outputs["adapter_rules"] is None
    validate_scaled_object(so)


def test_keda_trigger_queries_the_models_total_against_a_per_replica_threshold():
    by_kind, outputs = render(autoscaler(target=29))
    (trigger,) = scaled_object(by_kind)["spec"]["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    metadata = trigger["metadata"]
    assert metadata["serverAddress"] == PROMETHEUS
    assert metadata["query"] == (
        'sum(vllm:num_requests_running{namespace="llm-serving",model_name="deepseek-r1"}) + '
        'sum(vllm:num_requests_waiting{namespace="llm-serving",model_name="deepseek-r1"})'
    )
    assert metadata["threshold"] == "29" and outputs["per_replica_target"] == 29
    # A missing metric must be an error (fallback, visible), not a silent 0.
    assert metadata["ignoreNullValues"] == "false"


def test_keda_falls_back_without_ever_shrinking_while_blind():
    by_kind, _ = render(autoscaler(minReplicas=2, maxReplicas=6, fallbackReplicas=3))
    fallback = scaled_object(by_kind)["spec"]["fallback"]
    assert fallback["replicas"] == 3 and fallback["behavior"] == "currentReplicasIfHigher"
    assert fallback["failureThreshold"] >= 1
    by_kind, _ = render(autoscaler(minReplicas=2, maxReplicas=6))
    assert scaled_object(by_kind)["spec"]["fallback"]["replicas"] == 2


def test_hpa_behaviour_windows_come_from_the_startup_budget():
    by_kind, _ = render(autoscaler(budget=900))
    behaviour = hpa_behaviour(scaled_object(by_kind))
    assert behaviour["scaleUp"]["stabilizationWindowSeconds"] == 900
    assert behaviour["scaleUp"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 900}]
    assert behaviour["scaleDown"]["stabilizationWindowSeconds"] == 900
    assert behaviour["scaleDown"]["policies"] == [
        {"type": "Pods", "value": 1, "periodSeconds": 300}]


def test_hpa_behaviour_is_clamped_to_kubernetes_limits_for_slow_loading_models():
    by_kind, _ = render(autoscaler(budget=4 * 3600))
    so = scaled_object(by_kind)
    behaviour = hpa_behaviour(so)
    assert behaviour["scaleUp"]["stabilizationWindowSeconds"] == 3600
    assert behaviour["scaleUp"]["policies"][0]["periodSeconds"] == 1800
    assert behaviour["scaleDown"]["stabilizationWindowSeconds"] == 3600
    validate_scaled_object(so)


def test_hpa_engine_creates_an_hpa_on_the_adapters_per_pod_metric():
    by_kind, outputs = render(autoscaler(engine="hpa", minReplicas=2, maxReplicas=5))
    assert "ScaledObject" not in by_kind
    (hpa,) = by_kind["HorizontalPodAutoscaler"]
    spec = hpa["spec"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert spec["scaleTargetRef"]["name"] == "deepseek-r1"
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 5)
    (metric,) = spec["metrics"]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"] == {
        "name": promql.ADAPTER_METRIC, "selector": {"matchLabels": {"model_name": "deepseek-r1"}},
    }
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "28"}
    assert spec["behavior"]["scaleUp"]["policies"][0]["periodSeconds"] == 900
    assert outputs["hpa_name"] == "deepseek-r1"


def test_hpa_engine_exports_the_prometheus_adapter_rule_and_keeps_a_copy():
    by_kind, outputs = render(autoscaler(engine="hpa"))
    (config_map,) = by_kind["ConfigMap"]
    snippet = config_map["data"]["prometheus-adapter-rules.yaml"]
    assert snippet == outputs["adapter_rules"]
    rule = yaml.safe_load(snippet)["custom"][0]
    assert rule["name"]["as"] == promql.ADAPTER_METRIC
    assert "vllm:num_requests_waiting{<<.LabelMatchers>>}" in rule["metricsQuery"]


def test_switching_the_engine_replaces_one_autoscaler_with_the_other():
    keda, _ = render(autoscaler(engine="keda"))
    hpa, _ = render(autoscaler(engine="hpa"))
    assert "ScaledObject" in keda and "HorizontalPodAutoscaler" not in keda
    assert "HorizontalPodAutoscaler" in hpa and "ScaledObject" not in hpa


def test_disabled_autoscaling_creates_nothing():
    by_kind, outputs = render(autoscaler(enabled=False))
    assert set(by_kind) == {"Autoscaler"}
    assert outputs["hpa_name"] is None


def test_min_above_max_is_a_config_error_that_names_both_keys():
    with pytest.raises(pydantic.ValidationError, match="minReplicas.*maxReplicas"):
        AutoscalingConfig(enabled=True, minReplicas=5, maxReplicas=2)


def test_fallback_outside_min_max_is_a_config_error():
    with pytest.raises(pydantic.ValidationError, match="fallbackReplicas"):
        AutoscalingConfig(enabled=True, minReplicas=1, maxReplicas=3, fallbackReplicas=8)


def test_pulumi_up_waits_until_keda_reports_the_scaled_object_ready():
    """Without an await, `pulumi up` reports success for a ScaledObject KEDA refused (a bad
    query, an unreachable Prometheus). KEDA sets `status.conditions[type=Ready]` True once the
    object is valid and its scaler works (kedacore/keda apis/keda/v1alpha1/condition_types.go
    `ConditionReady`); pulumi-kubernetes waits for a condition named in `pulumi.com/waitFor`,
    `condition=<type>` meaning status True, as `kubectl wait --for=condition=` does
    (provider/pkg/await/awaiters.go `ReadyCondition`, condition/custom.go `NewCustom`)."""
    resources, _ = render(autoscaler())
    assert scaled_object(resources)["metadata"]["annotations"]["pulumi.com/waitFor"] == \
        "condition=Ready"


def test_the_hpa_engine_is_not_given_a_keda_condition():
    resources, _ = render(autoscaler(engine="hpa"))
    (hpa,) = resources["HorizontalPodAutoscaler"]
    assert "pulumi.com/waitFor" not in hpa["metadata"]["annotations"]
