"""`monitoring` and `autoscaling`: what Prometheus scrapes and alerts on, and how replicas
follow load."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import AliasChoices, Field, field_validator, model_validator

from planning.config.base import DNS_LABEL, LabelKey, LabelValue, SecretRef, _Model


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


ALERT_SEVERITIES = ("critical", "warning")
"""The `severity` label values the stack's alerts carry (rendering/promql.py Alert.severity)."""

UNROUTED_RECEIVER = "unrouted"
"""The AlertmanagerConfig's own receiver without integrations: the top route needs one (the
operator refuses a root route without a receiver), and an alert no receiver selects ends there."""


class AlertReceiver(_Model):
    """One webhook Alertmanager posts the stack's alerts to. DingTalk and Feishu robots do not
    read Alertmanager's webhook JSON: their receivers point at an adapter (for DingTalk
    prometheus-webhook-dingtalk's /dingtalk/<target>/send) that the cluster runs."""

    name: DNS_LABEL
    kind: Literal["generic", "dingtalk", "feishu"] = "generic"
    url_secret: SecretRef = Field(
        description="Secret key holding the webhook (or adapter) URL; never written inline")
    severities: list[Literal["critical", "warning"]] = Field(
        default_factory=lambda: list(ALERT_SEVERITIES), min_length=1,
        description="Severities this receiver gets")
    alerts: list[str] = Field(
        default_factory=list,
        description="Alert names this receiver gets (the stack's own, see README); empty: all")
    send_resolved: bool = True

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == UNROUTED_RECEIVER:
            raise ValueError(f"'{UNROUTED_RECEIVER}' is the AlertmanagerConfig's own receiver "
                             "for alerts no receiver selects; pick another name")
        return value


class AlertingConfig(_Model):
    """Alertmanager routing of the stack's alerts (an AlertmanagerConfig; needs the Operator)."""

    receivers: list[AlertReceiver] = Field(default_factory=list)
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "namespace"])
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"

    @field_validator("group_wait", "group_interval", "repeat_interval")
    @classmethod
    def _durations(cls, value: str) -> str:
        return _check_duration(value)

    @model_validator(mode="after")
    def _unique_names(self) -> "AlertingConfig":
        names = [receiver.name for receiver in self.receivers]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"receiver names {repeated} appear more than once; Alertmanager "
                             "needs each receiver name once: rename or merge them")
        return self


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
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)

    @field_validator("scrape_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        return _check_duration(value)

    @model_validator(mode="after")
    def _alerting_needs_the_operator(self) -> "MonitoringConfig":
        if self.alerting.receivers and not self.prometheus_operator:
            raise ValueError(
                "monitoring.alerting.receivers is set but monitoring.prometheusOperator is false: "
                "the routing is an AlertmanagerConfig, which only the Prometheus Operator reads. "
                "Set prometheusOperator: true, or route the alerts in your Alertmanager's own "
                "alertmanager.yml and remove monitoring.alerting")
        return self


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


