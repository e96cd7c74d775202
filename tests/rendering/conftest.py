"""Shared pieces of the rendering tests (imported as `tests.rendering.conftest`: no test module
imports another): the promtool tests' deployment and thresholds."""

from __future__ import annotations

from planning.config import MonitoringThresholds
from rendering import promql

THRESHOLDS = MonitoringThresholds(
    queue_depth=20, queue_depth_for="2m", kv_cache_usage=0.95, kv_cache_usage_for="1m",
    e2e_p99_seconds=120, ttft_p99_seconds=5, inter_token_p99_seconds=0.2,
    queue_time_p99_seconds=10, latency_for="3m", min_generation_tokens_per_second=50,
    error_ratio=0.05, preemptions_per_minute=1, hang_minutes=5, restarts=1,
    restarts_window="30m", gpu_temperature_celsius=85,
)


def target(version: str) -> promql.Target:
    """The deployment of tests/promtool/*.yaml at a given vLLM version."""
    return promql.Target("llm-serving", "deepseek-r1", "deepseek-r1-api", "deepseek-r1", version)


def engine_pod_inputs(**changes):
    """The engine pod's inputs (rendering/pod.py PodInputs) of a small stack, `changes` applied."""
    from rendering import pod

    return pod.PodInputs(**{
        "image": "vllm", "args": ["/models/m"], "labels": {"app": "m"}, "annotations": {},
        "claim_name": "weights", "model_dir": "/models/m", "api_key_secret": "key",
        "api_key_secret_key": "api-key", "product_labels": ["NVIDIA-H100-80GB-HBM3"],
        "probe_period": 10, "probe_timeout": 5, "readiness_failures": 3,
        "liveness_failures": 3, **changes})
