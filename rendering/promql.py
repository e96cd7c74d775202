"""PromQL for one vLLM deployment: selectors, recording rules, alerts, autoscaler queries, scraping.

Pure functions; no Pulumi. Every vLLM series is selected on `model_name` (vLLM's label, the first
--served-model-name) and the namespace; HTTP and kube-state-metrics series, which have no
`model_name`, on the namespace plus the Service or the Deployment's pods.

Metric-name rule (renames, see facts/vllm_metrics.yaml): a query for vLLM X.Y.Z reads every name
of the signal that is on the /metrics page of any release from X.(Y-1).0 up to X.Y.Z, joined
with `or`. That covers the pinned release itself (both names inside a rename window) and every
release of the previous minor series, so during a rollout from any X.(Y-1).* release the old pods
and the new pods are both seen. Rolling out across more than one minor series at once is not
covered; step through the minors. `or` keeps a pod that exposes both names from counting twice.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional

import yaml

import facts
from facts import vllm_features
from planning.config import K8S_NAME, MonitoringThresholds

RATE_WINDOW = "5m"
"""Window of every recorded rate: five scrapes even at a 1m scrape interval."""

QUANTILES = (0.5, 0.9, 0.99)
"""Latency percentiles recorded for the dashboard; alerts use the last one."""

RULE_PREFIX = "vllm_serving"
"""First part of every recording rule name (level:metric:operation)."""

KEEP_METRICS_REGEX = "vllm:.+|http_.+|process_.+"
"""Series kept at scrape time: vLLM's own, the HTTP instrumentator's and process memory/CPU."""

PROBE_HANDLERS = "/metrics|/health|/ping|/version"
"""HTTP handlers left out of the error ratio: probe and scrape traffic would dilute it."""

ADAPTER_METRIC = "vllm_requests_in_flight"
"""Custom-metrics API name of running + waiting requests per pod (prometheus-adapter)."""

LATENCY_SIGNALS = {
    "time_to_first_token": "time_to_first_token_seconds",
    "inter_token_latency": "inter_token_latency_seconds",
    "e2e_latency": "e2e_request_latency_seconds",
    "queue_time": "request_queue_time_seconds",
}
"""Histogram signal (facts/vllm_metrics.yaml) -> recorded name, stable across vLLM renames."""


@dataclasses.dataclass(frozen=True)
class Target:
    """The series that belong to one deployment of one model."""

    namespace: str
    served_name: str
    service_name: str
    deployment_name: str
    vllm_version: str
    workload_kind: str = "Deployment"
    """Deployment, or LeaderWorkerSet for a replica that spans nodes (its pods are named
    <name>-<group> for the leader and <name>-<group>-<index> for the workers)."""

    def __post_init__(self) -> None:
        for field in ("namespace", "served_name", "service_name", "deployment_name"):
            value = getattr(self, field)
            # Names go into label matchers and a pod regex unquoted and unescaped.
            if not re.fullmatch(K8S_NAME, value):
                raise ValueError(
                    f"{field} {value!r} must be a Kubernetes name (lower-case letters, digits, '-')"
                )

    @property
    def vllm(self) -> str:
        """Label matchers for vLLM's own series."""
        return f'namespace="{self.namespace}",model_name="{self.served_name}"'

    @property
    def service(self) -> str:
        """Label matchers for series Prometheus scrapes from the Service (HTTP, `up`)."""
        return f'namespace="{self.namespace}",service="{self.service_name}"'

    @property
    def pods(self) -> str:
        """Label matchers for kube-state-metrics series about the Deployment's pods."""
        return (f'namespace="{self.namespace}",'
                f'pod=~"{pod_regex(self.deployment_name, self.workload_kind)}"')


def pod_regex(deployment_name: str, workload_kind: str = "Deployment") -> str:
    """Names of a workload's pods. Deployment: <deployment>-<replicaset hash>-<suffix>, nothing
    longer; LeaderWorkerSet: <name>-<group> (leaders) and <name>-<group>-<worker index>."""
    if workload_kind == "LeaderWorkerSet":
        return f"{deployment_name}-[0-9]+(-[0-9]+)?"
    # Exactly two segments after the name, so deployment "a" never matches the pods of "a-b".
    return f"{deployment_name}-[a-z0-9]+-[a-z0-9]+"


def metric_names(signal: str, version: str) -> list[str]:
    """Names to query for `signal` at vLLM `version`, newest first (facts.rollout_metric_names:
    the pinned release's names and those of the previous minor series)."""
    names = facts.rollout_metric_names(signal, version)
    if not names:
        raise ValueError(f"vLLM {version} exposes no metric for signal {signal!r}")
    return names


def series(signal: str, version: str, matchers: str) -> str:
    """Instant selector for a gauge: `new{m} or old{m}` in brackets when the name changed."""
    return _either([f"{name}{{{matchers}}}" for name in metric_names(signal, version)])


def rate(
    signal: str, version: str, matchers: str, suffix: str = "", window: str = RATE_WINDOW
) -> str:
    """Per-second rate of a counter or histogram part, across old and new names."""
    return _either(
        [f"rate({name}{suffix}{{{matchers}}}[{window}])" for name in metric_names(signal, version)]
    )


def _either(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def _num(value: float) -> str:
    return format(value, "g")


def recorded(kind: str) -> str:
    """Name of a recording rule this module writes, e.g. recorded('generation_tokens:rate5m')."""
    return f"{RULE_PREFIX}:{kind}"


def quantile_rule_name(signal: str) -> str:
    """Recording rule holding the latency percentiles of a histogram signal (label `quantile`)."""
    return recorded(f"{LATENCY_SIGNALS[signal]}:quantile{RATE_WINDOW}")


TOKENS_RULE = {
    "generation_tokens": "generation_tokens:rate5m",
    "prompt_tokens": "prompt_tokens:rate5m",
}
"""Token counter signal -> recorded tokens/s per pod (labels namespace, model_name, pod)."""

PREFIX_HIT_RULE = "prefix_cache_hit_ratio:rate5m"
"""Recorded share of prefix-cache queries that hit, per model."""

HTTP_5XX_RULE = "http_5xx_ratio:rate5m"
"""Recorded share of API requests answered 5xx, per Service."""


def recording_rules(target: Target) -> list[dict[str, Any]]:
    """Rules shared by alerts and the dashboard: token rates, latency percentiles, ratios."""
    rules = []
    for signal, kind in TOKENS_RULE.items():
        rules.append({
            "record": recorded(kind),
            "expr": f"sum by (namespace, model_name, pod) "
                    f"({rate(signal, target.vllm_version, target.vllm)})",
        })
    for signal in LATENCY_SIGNALS:
        buckets = rate(signal, target.vllm_version, target.vllm, "_bucket")
        counts = rate(signal, target.vllm_version, target.vllm, "_count")
        for quantile in QUANTILES:
            rules.append({
                "record": quantile_rule_name(signal),
                # Without requests in the window every bucket rate is 0 and the quantile is NaN;
                # `and ... > 0` records nothing instead.
                "expr": f"histogram_quantile({quantile}, sum by (namespace, model_name, le) "
                        f"({buckets})) and on (namespace, model_name) "
                        f"(sum by (namespace, model_name) ({counts}) > 0)",
                "labels": {"quantile": str(quantile)},
            })
    hits = rate("prefix_cache_hits", target.vllm_version, target.vllm)
    queries = rate("prefix_cache_queries", target.vllm_version, target.vllm)
    rules.append({
        "record": recorded(PREFIX_HIT_RULE),
        "expr": f"sum by (namespace, model_name) ({hits}) / "
                f"(sum by (namespace, model_name) ({queries}) > 0)",
    })
    requests = f'http_requests_total{{{target.service},handler!~"{PROBE_HANDLERS}"}}'
    errors = f'http_requests_total{{{target.service},handler!~"{PROBE_HANDLERS}",status="5xx"}}'
    total = f"sum by (namespace, service) (rate({requests}[{RATE_WINDOW}]))"
    rules.append({
        "record": recorded(HTTP_5XX_RULE),
        # The 5xx series only exists after the first error: `or 0 * total` makes it 0 before
        # that; `total > 0` keeps 0/0 (no traffic) out.
        "expr": f"(sum by (namespace, service) (rate({errors}[{RATE_WINDOW}])) or 0 * {total}) "
                f"/ ({total} > 0)",
    })
    return rules


@dataclasses.dataclass(frozen=True)
class Alert:
    """One alerting rule with everything an on-call person needs."""

    name: str
    expr: str
    severity: str
    summary: str
    description: str
    runbook: str
    for_: str = "0m"

    def rule(self, namespace: Optional[str] = None) -> dict[str, Any]:
        """The rule as Prometheus and the PrometheusRule CRD write it. `namespace`: the stack's,
        as a label of the rule, so every alert carries it whatever its expression keeps (a
        `sum` keeps none, DCGM's and KEDA's series carry their exporter's): the Prometheus
        Operator adds `namespace="<its namespace>"` to the top route of every
        AlertmanagerConfig (prometheus-operator pkg/alertmanager/amcfg.go
        `namespaceEnforcer.processRoute`), and an alert without it is never routed there."""
        rule: dict[str, Any] = {"alert": self.name, "expr": self.expr}
        if self.for_ != "0m":
            rule["for"] = self.for_
        rule["labels"] = {"severity": self.severity,
                          **({"namespace": namespace} if namespace else {})}
        rule["annotations"] = {
            "summary": self.summary,
            "description": self.description,
            "runbook": self.runbook,
        }
        return rule


def alerts(
    target: Target,
    thresholds: MonitoringThresholds,
    hpa_name: Optional[str] = None,
    dcgm_exporter: bool = False,
) -> list[Alert]:
    """Every alert for the deployment, thresholds from config."""
    result = _engine_alerts(target, thresholds) + _latency_alerts(target, thresholds)
    result += _availability_alerts(target, thresholds)
    if hpa_name:
        result.append(_autoscaler_alert(target, hpa_name))
    if dcgm_exporter:
        result += _gpu_alerts(target, thresholds)
    result += admission_alerts(target)
    result += capacity_wait_alerts(target)
    return result


def capacity_wait_alerts(t: Target) -> list[Alert]:
    """VllmWaitingForCapacity: requests have waited for scheduling capacity (KV cache or
    sequence slots, not LoRA or KV-transfer deferrals) at every evaluation for 15 minutes: the
    replicas are saturated and not catching up. On versions that split waiting by reason
    (facts/vllm_metrics.yaml requests_waiting_for_capacity, from 0.20.0)."""
    if not facts.rollout_metric_names("requests_waiting_for_capacity", t.vllm_version):
        return []
    waiting = series("requests_waiting_for_capacity", t.vllm_version,
                     f'{t.vllm},reason="capacity"')
    return [Alert(
        "VllmWaitingForCapacity",
        f"sum by (namespace, model_name) ({waiting}) > 0",
        "warning",
        "{{ $labels.model_name }}: requests have waited for capacity for 15 minutes",
        "Requests have waited for KV cache or sequence slots, never draining, for 15 minutes "
        "(vLLM's waiting-by-reason gauge, reason capacity): the replicas are saturated.",
        "Add replicas (autoscaling.maxReplicas, or replicas), or check the autoscaler is scaling "
        "(VllmAutoscalerNotScaling); if the KV cache is the limit, lower model.maxModelLen.",
        "15m",
    )]


def admission_alerts(t: Target) -> list[Alert]:
    """VllmAdmissionRejecting: the engine has refused requests with 503 for 10 minutes, over its
    queue bounds (planning/admission.py). On versions that count them
    (facts/vllm_features.py `exports_admission_rejections`); the series has no `engine` label."""
    if not vllm_features.exports_admission_rejections(facts.parse_version(t.vllm_version)):
        return []
    rejected = (f"sum by (namespace, model_name, reason) (rate("
                f"{vllm_features.ADMISSION_REJECTIONS_SERIES}{{{t.vllm}}}[5m]))")
    return [Alert(
        "VllmAdmissionRejecting",
        f"{rejected} > 0",
        "warning",
        "vLLM refuses requests over its queue bounds",
        "The engine answered 503 to {{ $value | humanize }} requests/s ({{ $labels.reason }}) "
        "for 10 minutes: it is full, and the router sends them to the cloud or the client.",
        "Sustained, the stack needs more replicas: raise autoscaling.maxReplicas (or replicas), "
        "or check the autoscaler is scaling (VllmAutoscalerNotScaling). The bounds are "
        "`python -m tools.plan <stack>` 'admission'.",
        "10m",
    )]


def _by_pod(expr: str) -> str:
    return f"sum by (namespace, model_name, pod) ({expr})"


def _running_by_pod(t: Target) -> str:
    """Requests the engine is running, per pod: the load the hang and throughput alerts need."""
    return _by_pod(series("requests_running", t.vllm_version, t.vllm))


def _queue_depth_alert(t: Target, th: MonitoringThresholds) -> Alert:
    waiting = _by_pod(series("requests_waiting", t.vllm_version, t.vllm))
    return Alert(
        "VllmQueueDepthHigh",
        f"{waiting} > {th.queue_depth}",
        "warning",
        "{{ $labels.model_name }}: {{ $value }} requests waiting on {{ $labels.pod }}",
        f"More than {th.queue_depth} requests have waited for a slot on one replica for "
        f"{th.queue_depth_for}; answers start late.",
        "Check KV-cache usage: if it is full, requests wait for cache, not for slots (lower "
        "maxModelLen or add GPUs). Otherwise add replicas (autoscaling.maxReplicas) or shed "
        "load.",
        th.queue_depth_for,
    )


def _kv_cache_alert(t: Target, th: MonitoringThresholds) -> Alert:
    kv = series("kv_cache_usage", t.vllm_version, t.vllm)
    return Alert(
        "VllmKvCacheNearlyFull",
        f"max by (namespace, model_name, pod, engine) ({kv}) > {_num(th.kv_cache_usage)}",
        "warning",
        "{{ $labels.model_name }}: KV cache {{ $value | humanizePercentage }} full on "
        "{{ $labels.pod }}",
        f"KV-cache usage (0..1) has been above {_num(th.kv_cache_usage)} for "
        f"{th.kv_cache_usage_for}; vLLM will queue and preempt requests.",
        "Expect preemptions and queueing. Add replicas, lower engine.maxNumSeqs or "
        "model.maxModelLen, or use kvCacheDtype fp8 to double the cache.",
        th.kv_cache_usage_for,
    )


def _preemptions_alert(t: Target, th: MonitoringThresholds) -> Alert:
    preemptions = _by_pod(rate("preemptions", t.vllm_version, t.vllm))
    return Alert(
        "VllmPreemptionsHigh",
        f"{preemptions} * 60 > {_num(th.preemptions_per_minute)}",
        "warning",
        "{{ $labels.model_name }}: {{ $value }} preemptions per minute on {{ $labels.pod }}",
        f"More than {_num(th.preemptions_per_minute)} requests per minute are preempted for "
        "lack of KV cache and recomputed; throughput drops.",
        "Same remedies as a full KV cache: more replicas, a lower engine.maxNumSeqs, or an "
        "fp8 KV cache.",
        "5m",
    )


def _engine_hung_alert(t: Target, th: MonitoringThresholds) -> Alert:
    running = _running_by_pod(t)
    generating_now = _by_pod(rate("generation_tokens", t.vllm_version, t.vllm, window="2m"))
    return Alert(
        "VllmEngineHung",
        f"({running} > 0) and on (namespace, model_name, pod) ({generating_now} == 0)",
        "critical",
        "{{ $labels.model_name }}: {{ $labels.pod }} has requests running but generates "
        "no tokens",
        f"Requests have been running for {th.hang_minutes}m without a single generated "
        "token. /health still answers 200 on a hung engine, so no probe restarts it.",
        "Delete the pod (kubectl delete pod) to restart it; save its log first, and look for "
        "NCCL timeouts or CUDA errors in it.",
        f"{th.hang_minutes}m",
    )


def _throughput_alert(t: Target, th: MonitoringThresholds) -> Alert:
    running = _running_by_pod(t)
    tokens = f"{recorded(TOKENS_RULE['generation_tokens'])}{{{t.vllm}}}"
    return Alert(
        "VllmGenerationThroughputLow",
        # `> 0` leaves a standstill to VllmEngineHung.
        f"({tokens} < {_num(th.min_generation_tokens_per_second)} > 0) "
        f"and on (namespace, model_name, pod) ({running} > 0)",
        "warning",
        "{{ $labels.model_name }}: {{ $labels.pod }} generates only {{ $value }} tokens/s",
        f"While requests run, {{{{ $labels.pod }}}} generates fewer than "
        f"{_num(th.min_generation_tokens_per_second)} tokens/s.",
        "Compare with the other replicas: one slow pod points at its GPU (thermal "
        "throttling, XID errors) or its node; all slow points at preemptions or long prompts.",
        "10m",
    )


def _engine_alerts(t: Target, th: MonitoringThresholds) -> list[Alert]:
    """What one engine's own series say: queueing, cache pressure, a hang, slow generation
    (that last one only when config sets a floor)."""
    result = [_queue_depth_alert(t, th), _kv_cache_alert(t, th), _preemptions_alert(t, th),
              _engine_hung_alert(t, th)]
    if th.min_generation_tokens_per_second > 0:
        result.append(_throughput_alert(t, th))
    return result


def _latency_alerts(t: Target, th: MonitoringThresholds) -> list[Alert]:
    def p99(signal: str) -> str:
        return f'{quantile_rule_name(signal)}{{{t.vllm},quantile="{QUANTILES[-1]}"}}'

    specs = [
        ("VllmTimeToFirstTokenP99High", "time_to_first_token", th.ttft_p99_seconds,
         "time to first token", "Queueing or long prompts: check queue depth and KV cache; add "
         "replicas or lower engine.maxNumBatchedTokens to interleave prefills."),
        ("VllmInterTokenLatencyP99High", "inter_token_latency", th.inter_token_p99_seconds,
         "inter-token latency", "Batches are too large or the GPU is slow: lower "
         "engine.maxNumSeqs, check GPU throttling, or add replicas."),
        ("VllmQueueTimeP99High", "queue_time", th.queue_time_p99_seconds,
         "queue time", "Not enough capacity: add replicas (autoscaling.maxReplicas) or check "
         "that the autoscaler reads its metric."),
        ("VllmEndToEndLatencyP99High", "e2e_latency", th.e2e_p99_seconds,
         "end-to-end latency", "Long answers are normal for reasoning models; look at TTFT and "
         "inter-token latency first, and raise this threshold if answers are simply long."),
    ]
    return [
        Alert(
            name,
            f"{p99(signal)} > {_num(limit)}",
            "warning",
            f"{{{{ $labels.model_name }}}}: P99 {what} is {{{{ $value | humanizeDuration }}}}",
            f"The P99 {what} over {RATE_WINDOW} has been above {_num(limit)} s for "
            f"{th.latency_for}.",
            runbook,
            th.latency_for,
        )
        for name, signal, limit, what, runbook in specs
    ]


def _restarting_alert(t: Target, th: MonitoringThresholds) -> Alert:
    restarts = (
        f"sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total"
        f"{{{t.pods}}}[{th.restarts_window}]))"
    )
    return Alert(
        "VllmPodRestarting",
        f"{restarts} >= {th.restarts}",
        "warning",
        "{{ $labels.pod }} restarted {{ $value }} times",
        f"A container of {t.deployment_name} restarted at least {th.restarts} times within "
        f"{th.restarts_window}; every restart reloads the weights.",
        "kubectl describe pod / logs --previous: OOMKilled means a too-small memory limit, "
        "'KeyboardInterrupt: terminated' a start-up probe shorter than the load time, NCCL "
        "errors a too-small /dev/shm.",
    )


def _http_5xx_alert(t: Target, th: MonitoringThresholds) -> Alert:
    return Alert(
        "VllmHttp5xxRatioHigh",
        f"{recorded(HTTP_5XX_RULE)}{{{t.service}}} > {_num(th.error_ratio)}",
        "critical",
        "{{ $labels.service }}: {{ $value | humanizePercentage }} of requests fail with 5xx",
        f"More than {_num(th.error_ratio * 100)} % of API requests have failed with a server "
        "error for 5m.",
        "Read the engine log for tracebacks; a dead engine returns 503 from /health (vLLM "
        ">= 0.11) and is restarted by its liveness probe.",
        "5m",
    )


def _target_down_alert(t: Target) -> Alert:
    ready_pods = f'kube_pod_status_ready{{namespace="{t.namespace}",condition="true"}} == 1'
    return Alert(
        "VllmMetricsTargetDown",
        # A loading pod refuses connections by design; only a Ready pod must answer.
        f'(up{{{t.service}}} == 0) and on (namespace, pod) ({ready_pods})',
        "critical",
        "Prometheus cannot scrape {{ $labels.pod }}",
        "The pod is Ready but its /metrics endpoint does not answer Prometheus.",
        "Check the NetworkPolicy admits the Prometheus namespace, and that the scrape port "
        "name matches the Service.",
        "5m",
    )


def _metrics_absent_alert(t: Target) -> Alert:
    ready_replicas = (
        f'sum(kube_deployment_status_replicas_ready{{namespace="{t.namespace}",'
        f'deployment="{t.deployment_name}"}}) > 0'
    ) if t.workload_kind == "Deployment" else (
        # A group serves while its leader (<name>-<group>) is Ready.
        f'sum(kube_pod_status_ready{{namespace="{t.namespace}",'
        f'pod=~"{t.deployment_name}-[0-9]+",condition="true"}}) > 0')
    return Alert(
        "VllmMetricsAbsent",
        f"absent({series('requests_running', t.vllm_version, t.vllm)}) "
        f"and on () ({ready_replicas})",
        "critical",
        f"No vLLM metrics for model {t.served_name} in {t.namespace}",
        "Replicas are Ready but no vllm:* series with this model_name reach Prometheus; "
        "alerts, dashboard and autoscaler are blind.",
        "Check, in order: the ServiceMonitor carries the label the Prometheus selects "
        "(monitoring.releaseLabel); --disable-log-stats is not set; the served model name; "
        "the scrape keeps vllm:* series.",
        "10m",
    )


def _availability_alerts(t: Target, th: MonitoringThresholds) -> list[Alert]:
    """Whether the deployment serves at all: restarts, server errors, scraping."""
    return [_restarting_alert(t, th), _http_5xx_alert(t, th), _target_down_alert(t),
            _metrics_absent_alert(t)]


def keda_scaled_object_from_hpa(hpa_name: str) -> Optional[str]:
    """The ScaledObject behind a KEDA-made HPA ('keda-hpa-<name>'), else None."""
    prefix = "keda-hpa-"
    return hpa_name[len(prefix):] if hpa_name.startswith(prefix) else None


def _autoscaler_alert(t: Target, hpa_name: str) -> Alert:
    condition = (
        f"max by (namespace, horizontalpodautoscaler) "
        f"(kube_horizontalpodautoscaler_status_condition"
        f'{{namespace="{t.namespace}",horizontalpodautoscaler="{hpa_name}",'
        f'condition="ScalingActive",status="false"}}) == 1'
    )
    scaled_object = keda_scaled_object_from_hpa(hpa_name)
    if scaled_object:
        # With a fallback, KEDA feeds the HPA a made-up metric, so ScalingActive stays true while
        # KEDA cannot reach Prometheus; its own error counter shows it. KEDA's `namespace` label
        # becomes `exported_namespace` unless its ServiceMonitor honours labels: accept both.
        errors = " or ".join(
            f'rate(keda_scaled_object_errors_total{{{ns}="{t.namespace}",'
            f'scaledObject="{scaled_object}"}}[{RATE_WINDOW}])'
            for ns in ("exported_namespace", "namespace")
        )
        condition = f"({condition}) or (sum by (scaledObject) ({errors}) > 0)"
    return Alert(
        "VllmAutoscalerMetricUnavailable",
        condition,
        "critical",
        f"The autoscaler of {t.deployment_name} cannot read its metric",
        f"HPA {hpa_name} reports ScalingActive=False or KEDA reports errors: the replica count "
        "is frozen (or held at the fallback) whatever the load.",
        "kubectl describe hpa / scaledobject. With prometheus-adapter, install the exported "
        "adapter rule; with KEDA, check autoscaling.prometheusUrl and that the query returns data.",
        "10m",
    )


LIMITER_BREAKER_SERIES = "litellm_redis_circuit_breaker_state"
"""LiteLLM's gauge of its Redis circuit breakers per state (`closed`, `open`, `half_open`;
`litellm/integrations/prometheus_services.py`, exported when `litellm_settings.service_callback`
lists `prometheus_system`, which rendering/router.py sets whenever the router uses Redis).
While a breaker is not closed, LiteLLM skips Redis and its rate limiter counts in the replica's
own memory (`parallel_request_limiter_v3.py`: "degrades to the local mirror")."""


def limiter_alert(router_service: str, replicas: int) -> Alert:
    """RouterLimiterPerReplica: some router pod's Redis breaker has been open (or probing) for
    2 minutes, so that replica counts client limits alone and a client gets up to `replicas`
    times its limit; readiness stays 200 on purpose (failing it would take the traffic layer
    down for a limiter)."""
    return Alert(
        "RouterLimiterPerReplica",
        f'max by (namespace, pod) ({LIMITER_BREAKER_SERIES}{{service="{router_service}",'
        f'state=~"open|half_open"}}) > 0',
        "warning",
        "A router replica counts client limits without Redis",
        f"Its Redis circuit breaker is open: each of the {replicas} router replicas counts "
        f"requestsPerMinute/tokensPerMinute on its own, letting a client through up to "
        f"{replicas} times its limit.",
        "Check the Redis the router uses (traffic.router.redis; the deployed one is "
        "<release>-router-redis): is it running, does the password Secret exist, does the "
        "NetworkPolicy admit the router? The router logs 'Redis circuit breaker OPENED'.",
        "2m",
    )


def _dcgm(metric: str, t: Target, template: str = "{}") -> str:
    """A DCGM series for this deployment's pods, whether or not the exporter's labels are kept."""
    regex = pod_regex(t.deployment_name, t.workload_kind)
    # dcgm-exporter labels GPUs with the pod using them; scraped without honorLabels those
    # labels arrive as exported_namespace/exported_pod.
    parts = [
        template.format(f'{metric}{{exported_namespace="{t.namespace}",exported_pod=~"{regex}"}}'),
        template.format(f'{metric}{{namespace="{t.namespace}",pod=~"{regex}"}}'),
    ]
    return "(" + " or ".join(parts) + ")"


def _gpu_alerts(t: Target, th: MonitoringThresholds) -> list[Alert]:
    increase = "increase({}[10m])"
    return [
        Alert(
            "VllmGpuXidError",
            f"{_dcgm('DCGM_FI_DEV_XID_ERRORS', t)} > 0",
            "critical",
            "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported XID {{ $value }}",
            "The NVIDIA driver reported an XID error on a GPU this model runs on.",
            "Look the XID up in NVIDIA's XID catalogue; 48, 63, 64, 74, 79, 94, 95 usually need "
            "the node drained and the GPU reset or replaced.",
        ),
        Alert(
            "VllmGpuEccErrors",
            f"({_dcgm('DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS', t, increase)} > 0) or "
            f"({_dcgm('DCGM_FI_DEV_ROW_REMAP_FAILURE', t)} > 0) or "
            f"({_dcgm('DCGM_FI_DEV_ECC_DBE_VOL_TOTAL', t, increase)} > 0)",
            "critical",
            "Uncorrectable memory errors on GPU {{ $labels.gpu }} ({{ $labels.Hostname }})",
            "A GPU this model runs on reported uncorrectable ECC errors or a failed row remap.",
            "Cordon and drain the node; a failed row remap needs the GPU replaced.",
        ),
        Alert(
            "VllmGpuThermalThrottling",
            f"({_dcgm('DCGM_FI_DEV_THERMAL_VIOLATION', t, 'rate({}[5m])')} > 0) or "
            f"({_dcgm('DCGM_FI_DEV_GPU_TEMP', t)} > {_num(th.gpu_temperature_celsius)})",
            "warning",
            "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is thermally throttled",
            f"A GPU this model runs on is throttled for heat or hotter than "
            f"{_num(th.gpu_temperature_celsius)} °C; its replica slows down.",
            "Check the node's cooling and fan/airflow; move the workload if one node is hot.",
            "5m",
        ),
    ]


def rule_groups(
    target: Target,
    thresholds: MonitoringThresholds,
    hpa_name: Optional[str] = None,
    dcgm_exporter: bool = False,
) -> list[dict[str, Any]]:
    """Recording and alerting rule groups, as a PrometheusRule spec or a rules file holds them."""
    prefix = f"vllm-serving.{target.namespace}.{target.served_name}"
    return [
        # Recording rules first: the alerts read what they record.
        {"name": f"{prefix}.recording", "rules": recording_rules(target)},
        {
            "name": f"{prefix}.alerts",
            "rules": [
                alert.rule(target.namespace)
                for alert in alerts(target, thresholds, hpa_name, dcgm_exporter)
            ],
        },
    ]


def rules_file(groups: list[dict[str, Any]]) -> str:
    """A Prometheus rules file (YAML) holding the groups."""
    return _yaml({"groups": groups})


def keda_query(target: Target) -> str:
    """Running plus waiting requests of the model, summed over all replicas (KEDA divides)."""
    running = series("requests_running", target.vllm_version, target.vllm)
    waiting = series("requests_waiting", target.vllm_version, target.vllm)
    # A total, not a per-replica average: KEDA's AverageValue divides by the replica count.
    return f"sum({running}) + sum({waiting})"


def adapter_rule(vllm_version: str) -> dict[str, Any]:
    """prometheus-adapter rule exposing running + waiting requests per pod as ADAPTER_METRIC."""
    running = metric_names("requests_running", vllm_version)
    waiting = metric_names("requests_waiting", vllm_version)

    def per_pod(names: list[str]) -> str:
        selectors = " or ".join(f"{name}{{<<.LabelMatchers>>}}" for name in names)
        return f"sum by (<<.GroupBy>>) ({selectors})"

    return {
        "seriesQuery": f'{running[0]}{{namespace!="",pod!="",model_name!=""}}',
        "resources": {
            "overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
        },
        "name": {"matches": f"^{re.escape(running[0])}$", "as": ADAPTER_METRIC},
        # The HPA's metric selector (model_name) arrives inside <<.LabelMatchers>>.
        "metricsQuery": f"{per_pod(running)} + {per_pod(waiting)}",
    }


def adapter_rules_snippet(vllm_version: str) -> str:
    """YAML for prometheus-adapter's Helm values (`rules.custom`), saying where it goes."""
    header = (
        "# prometheus-adapter Helm values: merge under `rules:` (keep rules.default as it is).\n"
        f"# Gives the HPA the per-pod custom metric {ADAPTER_METRIC} (vLLM running + waiting).\n"
    )
    return header + _yaml({"custom": [adapter_rule(vllm_version)]})


def scrape_config(target: Target, port_name: str, interval: str) -> dict[str, Any]:
    """A plain-Prometheus scrape job for the Service, labelling targets as a ServiceMonitor does."""
    def keep(label: str, regex: str) -> dict[str, Any]:
        return {"source_labels": [label], "action": "keep", "regex": regex}

    def copy(label: str, to: str) -> dict[str, Any]:
        return {"source_labels": [label], "target_label": to}

    return {
        "job_name": f"vllm-serving/{target.namespace}/{target.service_name}",
        "scrape_interval": interval,
        "metrics_path": "/metrics",
        "kubernetes_sd_configs": [
            {"role": "endpoints", "namespaces": {"names": [target.namespace]}}
        ],
        "relabel_configs": [
            keep("__meta_kubernetes_service_name", target.service_name),
            keep("__meta_kubernetes_endpoint_port_name", port_name),
            keep("__meta_kubernetes_service_annotation_prometheus_io_scrape", "true"),
            # The same target labels a ServiceMonitor gives, so the rules work with either.
            copy("__meta_kubernetes_namespace", "namespace"),
            copy("__meta_kubernetes_service_name", "service"),
            copy("__meta_kubernetes_pod_name", "pod"),
            copy("__meta_kubernetes_endpoint_port_name", "endpoint"),
            {"target_label": "job", "replacement": target.service_name},
        ],
        "metric_relabel_configs": [keep("__name__", KEEP_METRICS_REGEX)],
    }


def scrape_config_snippet(target: Target, port_name: str, interval: str) -> str:
    """YAML to append under `scrape_configs:` of a Prometheus without the Operator."""
    header = (
        "# Append under scrape_configs: in prometheus.yml (or the chart's extraScrapeConfigs).\n"
    )
    return header + _yaml([scrape_config(target, port_name, interval)])


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=100, allow_unicode=True)


ROUTER_REQUESTS_SERIES = "litellm_proxy_total_requests_metric_total"
"""LiteLLM 1.108.7's counter of every request a client sends (litellm/integrations/
prometheus.py): `async_log_success_event` increments it for each answer, local or cloud,
`async_post_call_failure_hook` for each refusal, both with `requested_model` = the alias the
client asked for. Proved against the real router in tests/router/test_scale_to_zero_live.py."""


def router_activation_query(namespace: str, router_service: str, aliases: list[str],
                            window_seconds: int) -> str:
    """Requests the router received for `aliases` in the last `window_seconds`, capped at 1:
    KEDA's activation signal for an engine at zero (planning/wake.py). A label set's first
    request creates its series at 1, which increase() cannot see (it needs two samples), so a
    series younger than the window counts by its value. The cap keeps the trigger from asking
    the HPA for more than the one replica it holds anyway: the engine's own trigger scales."""
    # Aliases are [A-Za-z0-9._-] (planning/config/traffic.py ALIAS): only '.' is special in
    # the regex, and its backslash is doubled inside PromQL's double-quoted string.
    names = "|".join(alias.replace(".", "\\\\.") for alias in aliases)
    matchers = (f'namespace="{namespace}",service="{router_service}",'
                f'requested_model=~"{names}"')
    counter = f"{ROUTER_REQUESTS_SERIES}{{{matchers}}}"
    window = f"{window_seconds}s"
    return (f"clamp_max(sum(increase({counter}[{window}]) or "
            f"({counter} unless {counter} offset {window})), 1)")
