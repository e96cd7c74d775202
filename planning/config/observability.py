"""`monitoring` and `autoscaling`: what Prometheus scrapes and alerts on, and how replicas
follow load."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import AliasChoices, Field, field_validator, model_validator

from planning.config.base import DNS_LABEL, LabelKey, LabelValue, _Model


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
    min_replicas: int = Field(
        default=1, ge=0,
        description="Fewest replicas; 0 (KEDA and the traffic layer only) lets KEDA take the "
                    "engine to zero when idle and the router's requests wake it (planning/wake.py)")
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


