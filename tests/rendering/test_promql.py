"""Metric names per vLLM version, selectors, alerts, autoscaler queries and scrape snippets."""

import re

import pytest
import yaml

import facts
from rendering import dashboard, promql
from planning.config import MonitoringThresholds

OLD_KV, NEW_KV = "vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"
OLD_PREFIX, NEW_PREFIX = "vllm:gpu_prefix_cache_hits_total", "vllm:prefix_cache_hits_total"
OLD_ITL, NEW_ITL = "vllm:time_per_output_token_seconds", "vllm:inter_token_latency_seconds"


def target(version="0.10.2"):
    return promql.Target("llm-serving", "deepseek-r1", "deepseek-r1-api", "deepseek-r1", version)


def everything(version, hpa="keda-hpa-deepseek-r1", adapter=True):
    """All PromQL the stack emits for a version, one expression a line: rules, dashboard, KEDA,
    and (a template, without model or namespace) the adapter rule."""
    t = target(version)
    groups = promql.rule_groups(t, MonitoringThresholds(), hpa, dcgm_exporter=True)
    parts = [rule["expr"] for group in groups for rule in group["rules"]]
    parts += dashboard.expressions(dashboard.dashboard(t, hpa))
    parts.append(promql.keda_query(t))
    if adapter:
        parts.append(promql.adapter_rule(version)["metricsQuery"])
    return "\n".join(parts)


def names_used(text):
    return set(re.findall(r"vllm:[a-z0-9_]+", text))


def test_vllm_0_8_uses_only_the_old_names():
    used = names_used(everything("0.8.5"))
    assert {OLD_KV, OLD_PREFIX, OLD_ITL + "_bucket"} <= used
    assert not {NEW_KV, NEW_PREFIX, NEW_ITL + "_bucket"} & used


def test_newest_vllm_uses_only_the_new_names():
    used = names_used(everything("0.33.0"))
    assert {NEW_KV, NEW_PREFIX, NEW_ITL + "_bucket"} <= used
    assert not {OLD_KV, OLD_PREFIX, OLD_ITL + "_bucket"} & used


@pytest.mark.parametrize("version, both", [
    ("0.9.2", [(NEW_KV, OLD_KV), (NEW_PREFIX, OLD_PREFIX)]),
    ("0.10.2", [(NEW_KV, OLD_KV), (NEW_PREFIX, OLD_PREFIX), (NEW_ITL, OLD_ITL)]),
])
def test_version_inside_a_rename_window_queries_old_or_new(version, both):
    text = everything(version)
    for new, old in both:
        assert re.search(rf"{new}[^ ]*{{[^}}]*}}(\[5m\]\))? or (rate\()?{old}", text), (new, old)


def test_rollout_from_previous_minor_keeps_the_name_the_old_pods_still_show():
    # 0.10.x still shows time_per_output_token (hidden from 0.11.0), so 0.11.0 queries it too.
    assert promql.metric_names("inter_token_latency", "0.11.0") == [NEW_ITL, OLD_ITL]
    # gpu_cache_usage_perc was hidden from 0.10.0: no 0.10.x pod shows it.
    assert promql.metric_names("kv_cache_usage", "0.11.0") == [NEW_KV]
    assert promql.metric_names("inter_token_latency", "0.12.0") == [NEW_ITL]


def test_rollout_within_a_minor_series_sees_the_old_name():
    # 0.9.0 and 0.9.1 only show the old name; 0.9.2 shows both.
    assert promql.metric_names("kv_cache_usage", "0.9.2") == [NEW_KV, OLD_KV]


@pytest.mark.parametrize(
    "version", ["0.8.5", "0.9.2", "0.10.2", "0.11.0", "0.12.0", "0.20.0", "0.33.0"]
)
def test_every_vllm_name_queried_exists_in_the_pinned_or_previous_minor_release(version):
    major, minor = facts.parse_version(version).release[:2]
    previous = f"{major}.{minor - 1}.0"
    known = facts.all_known_metric_names(version) | facts.all_known_metric_names(previous)
    used = names_used(everything(version))
    assert len(used) >= 8, used
    for name in used:
        base = re.sub(r"_(bucket|count|sum)$", "", name)
        assert base in known, f"{name} is not on vLLM {version}'s /metrics page"


def test_no_query_uses_names_that_never_existed_in_v1_or_underscore_names():
    text = everything("0.33.0")
    assert facts.vllm_metrics()["never_in_v1"]
    for name in facts.vllm_metrics()["never_in_v1"]:
        assert name not in text
    assert not re.search(r"\bvllm_(num_requests|gpu_cache|kv_cache|generation|prompt)", text)


def test_every_vllm_selector_names_the_model_and_namespace():
    text = everything("0.10.2", adapter=False)
    selectors = re.findall(r"vllm:[a-z0-9_]+\{([^}]*)\}", text)
    assert selectors
    for matchers in selectors:
        assert 'model_name="deepseek-r1"' in matchers and 'namespace="llm-serving"' in matchers
    assert "model=" not in text.replace("model_name=", "")


def test_http_and_kube_state_series_select_namespace_and_service_or_pods():
    text = everything("0.33.0")
    http = re.findall(r"http_requests_total\{([^}]*)\}", text)
    restarts = re.findall(r"kube_pod_container_status_restarts_total\{([^}]*)\}", text)
    hpa = re.findall(r"kube_horizontalpodautoscaler_\w+\{([^}]*)\}", text)
    assert http and restarts and hpa
    for matchers in http:
        assert 'namespace="llm-serving"' in matchers and 'service="deepseek-r1-api"' in matchers
    for matchers in restarts:
        assert matchers == 'namespace="llm-serving",pod=~"deepseek-r1-[a-z0-9]+-[a-z0-9]+"'
    for matchers in hpa:
        assert 'horizontalpodautoscaler="keda-hpa-deepseek-r1"' in matchers


def test_pod_regex_matches_the_deployments_pods_and_no_other_deployments():
    regex = promql.pod_regex("deepseek-r1")
    assert re.fullmatch(regex, "deepseek-r1-6d5f7c9b8-x2x7q")
    assert not re.fullmatch(regex, "deepseek-r1-canary-6d5f7c9b8-x2x7q")
    assert not re.fullmatch(regex, "other-6d5f7c9b8-x2x7q")


def test_target_rejects_names_that_would_break_a_selector():
    with pytest.raises(ValueError, match="served_name"):
        promql.Target("llm-serving", 'evil"}', "svc", "dep", "0.10.2")


def test_every_alert_has_severity_summary_description_and_runbook():
    rules = promql.alerts(
        target(), MonitoringThresholds(), "keda-hpa-deepseek-r1", dcgm_exporter=True
    )
    assert len({alert.name for alert in rules}) == len(rules) == 17
    for alert in rules:
        rule = alert.rule()
        assert rule["labels"]["severity"] in ("warning", "critical")
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"][key].strip(), (alert.name, key)


def test_alert_thresholds_and_durations_come_from_config():
    thresholds = MonitoringThresholds(
        queue_depth=33, queue_depth_for="7m", kv_cache_usage=0.9, ttft_p99_seconds=2.5,
        e2e_p99_seconds=30, latency_for="4m", hang_minutes=9, error_ratio=0.02,
    )
    rules = {a.name: a for a in promql.alerts(target(), thresholds)}
    assert rules["VllmQueueDepthHigh"].expr.endswith("> 33")
    assert rules["VllmQueueDepthHigh"].for_ == "7m"
    assert rules["VllmKvCacheNearlyFull"].expr.endswith("> 0.9")
    assert rules["VllmTimeToFirstTokenP99High"].expr.endswith("> 2.5")
    assert rules["VllmEndToEndLatencyP99High"].expr.endswith("> 30")
    assert rules["VllmEndToEndLatencyP99High"].for_ == "4m"
    assert rules["VllmEngineHung"].for_ == "9m"
    assert rules["VllmHttp5xxRatioHigh"].expr.endswith("> 0.02")


def test_latency_alerts_read_the_p99_recording_rules():
    recorded = {rule["record"] for rule in promql.recording_rules(target())}
    latency = [a for a in promql.alerts(target(), MonitoringThresholds())
               if a.name.endswith("P99High")]
    assert len(latency) >= 3
    for alert in latency:
        name = alert.expr.split("{")[0]
        assert name in recorded and 'quantile="0.99"' in alert.expr


def test_throughput_alert_is_off_when_min_tokens_per_second_is_zero():
    thresholds = MonitoringThresholds(min_generation_tokens_per_second=0)
    names = {a.name for a in promql.alerts(target(), thresholds)}
    assert "VllmGenerationThroughputLow" not in names and "VllmEngineHung" in names


def test_gpu_alerts_only_when_a_dcgm_exporter_is_present():
    def gpu(dcgm):
        alerts = promql.alerts(target(), MonitoringThresholds(), dcgm_exporter=dcgm)
        return {a.name for a in alerts if "Gpu" in a.name}
    assert gpu(False) == set()
    assert gpu(True) == {"VllmGpuXidError", "VllmGpuEccErrors", "VllmGpuThermalThrottling"}


def test_autoscaler_alert_watches_the_hpa_and_keda_errors_only_for_keda():
    def alert(hpa):
        return {a.name: a for a in promql.alerts(target(), MonitoringThresholds(), hpa)}
    assert "VllmAutoscalerMetricUnavailable" not in alert(None)
    plain = alert("deepseek-r1")["VllmAutoscalerMetricUnavailable"].expr
    keda = alert("keda-hpa-deepseek-r1")["VllmAutoscalerMetricUnavailable"].expr
    assert 'condition="ScalingActive",status="false"' in plain and "keda_" not in plain
    assert 'scaledObject="deepseek-r1"' in keda


def test_ratios_are_safe_when_there_is_no_traffic():
    rules = promql.recording_rules(target())
    ratios = [r for r in rules if " / " in r["expr"]]
    quantiles = [r for r in rules if r["expr"].startswith("histogram_quantile")]
    assert ratios and quantiles
    for rule in ratios:
        assert rule["expr"].rstrip().endswith("> 0)"), rule["record"]
    for rule in quantiles:
        assert ") > 0)" in rule["expr"]


def test_keda_query_returns_the_models_total_requests_not_a_per_replica_value():
    query = promql.keda_query(target("0.33.0"))
    assert query == (
        'sum(vllm:num_requests_running{namespace="llm-serving",model_name="deepseek-r1"}) + '
        'sum(vllm:num_requests_waiting{namespace="llm-serving",model_name="deepseek-r1"})'
    )


def test_adapter_rule_exposes_requests_in_flight_per_pod():
    rule = promql.adapter_rule("0.33.0")
    assert rule["seriesQuery"].startswith("vllm:num_requests_running{")
    assert rule["name"]["as"] == promql.ADAPTER_METRIC
    assert re.fullmatch(rule["name"]["matches"], "vllm:num_requests_running")
    assert rule["resources"]["overrides"]["pod"] == {"resource": "pod"}
    assert rule["metricsQuery"].count("<<.LabelMatchers>>") == 2
    assert "vllm:num_requests_waiting" in rule["metricsQuery"]


def test_adapter_snippet_is_yaml_for_the_charts_rules_custom_list():
    snippet = yaml.safe_load(promql.adapter_rules_snippet("0.33.0"))
    assert snippet["custom"] == [promql.adapter_rule("0.33.0")]


@pytest.mark.parametrize("name, kept", [
    ("vllm:num_requests_running", True), ("vllm:e2e_request_latency_seconds_bucket", True),
    ("http_requests_total", True), ("process_resident_memory_bytes", True),
    ("python_gc_objects_collected_total", False), ("vllm_num_requests_running", False),
])
def test_scrape_keeps_vllm_and_http_series(name, kept):
    assert bool(re.fullmatch(promql.KEEP_METRICS_REGEX, name)) is kept


def test_scrape_config_targets_the_service_port_and_labels_like_a_servicemonitor():
    job = promql.scrape_config(target(), "http", "30s")
    assert job["scrape_interval"] == "30s"
    assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["llm-serving"]
    relabel = job["relabel_configs"]
    keeps = {r["source_labels"][0]: r["regex"] for r in relabel if r.get("action") == "keep"}
    assert keeps["__meta_kubernetes_service_name"] == "deepseek-r1-api"
    assert keeps["__meta_kubernetes_endpoint_port_name"] == "http"
    assert keeps["__meta_kubernetes_service_annotation_prometheus_io_scrape"] == "true"
    targets = {r["target_label"] for r in relabel if "target_label" in r}
    assert {"namespace", "service", "pod", "job"} <= targets
    assert yaml.safe_load(promql.scrape_config_snippet(target(), "http", "30s")) == [job]


def test_every_alert_waits_its_for_duration_before_firing():
    alerts = promql.alerts(target(), MonitoringThresholds(), "keda-hpa-deepseek-r1",
                           dcgm_exporter=True)
    # Fire at once: a restart already happened; Xid and ECC errors are events, not levels.
    immediate = {"VllmPodRestarting", "VllmGpuXidError", "VllmGpuEccErrors"}
    assert alerts and immediate <= {a.name for a in alerts}
    for alert in alerts:
        rule = alert.rule()
        if alert.name in immediate:
            assert "for" not in rule, alert.name
        else:
            assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), (alert.name, rule.get("for"))
    durations = {a.name: a.rule().get("for") for a in alerts}
    assert durations["VllmQueueDepthHigh"] == MonitoringThresholds().queue_depth_for
    assert durations["VllmKvCacheNearlyFull"] == MonitoringThresholds().kv_cache_usage_for


def test_scrape_job_relabels_exactly_like_a_servicemonitor():
    job = promql.scrape_config(target(), "http", "30s")
    assert job["relabel_configs"] == [
        {"source_labels": ["__meta_kubernetes_service_name"], "action": "keep",
         "regex": "deepseek-r1-api"},
        {"source_labels": ["__meta_kubernetes_endpoint_port_name"], "action": "keep",
         "regex": "http"},
        {"source_labels": ["__meta_kubernetes_service_annotation_prometheus_io_scrape"],
         "action": "keep", "regex": "true"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_endpoint_port_name"], "target_label": "endpoint"},
        {"target_label": "job", "replacement": "deepseek-r1-api"},
    ]
    assert job["metric_relabel_configs"] == [
        {"source_labels": ["__name__"], "action": "keep", "regex": promql.KEEP_METRICS_REGEX}]
    assert job["job_name"] == "vllm-serving/llm-serving/deepseek-r1-api"
    assert job["metrics_path"] == "/metrics"


def test_gpu_alerts_are_left_out_unless_an_exporter_is_said_to_run():
    names = {a.name for a in promql.alerts(target(), MonitoringThresholds(), "hpa")}
    assert names and not any(name.startswith("VllmGpu") for name in names)
    groups = promql.rule_groups(target(), MonitoringThresholds(), "hpa")
    assert not any(r.get("alert", "").startswith("VllmGpu") for g in groups for r in g["rules"])


def test_each_latency_percentile_is_recorded_with_its_quantile_label():
    rules = [r for r in promql.recording_rules(target())
             if r["record"] == promql.quantile_rule_name("e2e_latency")]
    assert [r["labels"] for r in rules] == [{"quantile": "0.5"}, {"quantile": "0.9"},
                                            {"quantile": "0.99"}]
    assert [r["expr"].split(",")[0] for r in rules] == [
        "histogram_quantile(0.5", "histogram_quantile(0.9", "histogram_quantile(0.99"]


def test_the_rules_file_reads_in_the_order_rules_are_written():
    groups = promql.rule_groups(target(), MonitoringThresholds(), "hpa")
    text = promql.rules_file(groups)
    assert yaml.safe_load(text) == {"groups": groups}
    start = text.index("- alert: ")
    first_alert = text[start:text.index("- alert: ", start + 1)]      # up to the second alert
    order = [first_alert.index(f"\n    {key}:") for key in ("expr", "labels", "annotations")]
    assert order == sorted(order)
    assert text.index("- name: ") < text.index("  rules:")


def group_target():
    return promql.Target("llm-serving", "deepseek-r1", "deepseek-r1-api", "deepseek-r1",
                         "0.20.0", workload_kind="LeaderWorkerSet")


def test_metrics_count_as_absent_for_a_group_only_while_a_leader_pod_is_ready():
    rules = {a.name: a.expr for a in promql.alerts(group_target(), MonitoringThresholds())}
    assert rules["VllmMetricsAbsent"].endswith(
        'and on () (sum(kube_pod_status_ready{namespace="llm-serving",pod=~"deepseek-r1-[0-9]+",'
        'condition="true"}) > 0)')
    deployment = {a.name: a.expr for a in promql.alerts(target(), MonitoringThresholds())}
    assert "kube_deployment_status_replicas_ready" in deployment["VllmMetricsAbsent"]


def test_gpu_alerts_of_a_group_select_its_leader_and_worker_pods():
    alerts = promql.alerts(group_target(), MonitoringThresholds(), dcgm_exporter=True)
    gpu = [a.expr for a in alerts if a.name.startswith("VllmGpu")]
    assert gpu and all('pod=~"deepseek-r1-[0-9]+(-[0-9]+)?"' in expr for expr in gpu)


def test_the_throughput_alert_is_on_for_any_positive_minimum():
    names = {a.name for a in promql.alerts(
        target(), MonitoringThresholds(min_generation_tokens_per_second=1))}
    assert "VllmGenerationThroughputLow" in names


def test_rule_groups_are_named_after_the_namespace_and_model():
    groups = promql.rule_groups(target(), MonitoringThresholds())
    assert [g["name"] for g in groups] == ["vllm-serving.llm-serving.deepseek-r1.recording",
                                           "vllm-serving.llm-serving.deepseek-r1.alerts"]
