"""The policy pack: every rule passes a compliant object and catches a broken one.

Builders and drivers are tests/policy/conftest.py's (pulumi-policy's own argument types, props
behind the SDK's unknown-checking proxy, as `pulumi preview --policy-pack policy` hands them
over). The offline runner is tested at the end, one broken stack
per rule.
"""

from __future__ import annotations

import copy
import json
import pathlib
from decimal import Decimal

import pytest
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from facts import conventions as conv
from policy import k8s, metrics, offline, rules, security_checks
from tests.policy.conftest import (
    DEPLOYMENT,
    NS,
    POLICIES,
    RELEASE,
    SELECTOR,
    SERVICE,
    dashboard,
    deployment,
    download_job,
    engine,
    hpa,
    network_policy,
    pdb,
    pod,
    prometheus_rule,
    replace,
    scaled_object,
    service,
    service_monitor,
    stack,
    urn_of,
    validate_resource,
    validate_stack,
    without,
)


# --- the pack as a whole --------------------------------------------------------------------

def test_pack_lists_every_rule_of_the_issue_with_its_level():
    levels = {p.name: p.enforcement_level for p in rules.ALL_POLICIES}
    advisory = {"image-by-digest", "replicas-spread", "metric-names-exist",
                "model-revision-pinned"}
    assert len(levels) == len(rules.ALL_POLICIES) == 40
    assert {n for n, lvl in levels.items() if lvl == EnforcementLevel.ADVISORY} == advisory
    assert all(lvl == EnforcementLevel.MANDATORY for n, lvl in levels.items()
               if n not in advisory)
    assert all(p.description.endswith(".") for p in rules.ALL_POLICIES)


CONFIG_FILES = sorted((pathlib.Path(rules.__file__).parent / "config").glob("*.json"))


@pytest.mark.parametrize("path", CONFIG_FILES, ids=[p.stem for p in CONFIG_FILES])
def test_environment_config_files_match_the_declared_schemas(path):
    config = offline.load_config(path)
    for policy_name, entry in config.items():
        schema = POLICIES[policy_name].config_schema
        declared = set(schema.properties) if schema else set()
        assert set(entry) - {"enforcementLevel"} <= declared, policy_name


@pytest.mark.parametrize("env,minimum", [("prod", 2), ("staging", 0)])  # staging: scale to zero
def test_production_keeps_two_replicas_and_staging_may_scale_to_zero(env, minimum):
    config = offline.load_config(pathlib.Path(rules.__file__).parent / "config" / f"{env}.json")
    assert config["min-replicas"]["minReplicas"] == minimum


def test_compliant_stack_passes_every_resource_policy():
    for record in stack():
        for policy in rules.RESOURCE_POLICIES:
            assert validate_resource(policy.name, record["type"], record["props"],
                                     name=record["name"]) == [], (policy.name, record["name"])


def test_compliant_stack_passes_every_stack_policy():
    for policy in rules.STACK_POLICIES:
        assert validate_stack(policy.name, stack(), {"minReplicas": 2}) == [], policy.name


# --- startup, readiness, liveness -----------------------------------------------------------

def test_startup_budget_shorter_than_load_estimate_is_caught():
    props = deployment()
    engine(props)["startupProbe"]["failureThreshold"] = 30.0
    [message] = validate_resource("startup-probe-covers-load", DEPLOYMENT, props)
    assert f"Deployment '{NS}/{RELEASE}'" in message
    assert "300 s" in message and "600 s" in message
    assert "failureThreshold to at least 60" in message


@pytest.mark.parametrize("initial, period, failures, passes", [
    (0.0, 10.0, 60.0, True),      # 600 s = the estimate
    (0.0, 10.0, 59.0, False),     # 590 s
    (0.0, 20.0, 30.0, True),      # the period counts: 600 s
    (0.0, 5.0, 60.0, False),      # 300 s
    (30.0, 10.0, 57.0, True),     # the initial delay counts: 600 s
    (20.0, 10.0, 57.0, False),    # 590 s
])
def test_the_startup_budget_is_initial_delay_plus_period_times_failures(initial, period,
                                                                        failures, passes):
    props = deployment()
    probe = engine(props)["startupProbe"]
    probe.update(periodSeconds=period, failureThreshold=failures, initialDelaySeconds=initial)
    messages = validate_resource("startup-probe-covers-load", DEPLOYMENT, props)
    assert (messages == []) is passes, messages


def test_missing_startup_probe_and_missing_load_estimate_are_caught():
    props = deployment()
    del engine(props)["startupProbe"]
    [message] = validate_resource("startup-probe-covers-load", DEPLOYMENT, props)
    assert "has no startupProbe" in message and "600 s" in message
    props = deployment()
    del props["metadata"]["annotations"][conv.ANN_ESTIMATED_LOAD_SECONDS]
    [message] = validate_resource("startup-probe-covers-load", DEPLOYMENT, props)
    assert conv.ANN_ESTIMATED_LOAD_SECONDS in message and "missing" in message


def test_load_estimate_may_sit_on_the_pod_template():
    props = deployment()
    estimate = props["metadata"]["annotations"].pop(conv.ANN_ESTIMATED_LOAD_SECONDS)
    props["spec"]["template"]["metadata"]["annotations"] = {
        conv.ANN_ESTIMATED_LOAD_SECONDS: estimate}
    assert validate_resource("startup-probe-covers-load", DEPLOYMENT, props) == []


def test_liveness_window_not_longer_than_readiness_is_caught():
    props = deployment()
    engine(props)["livenessProbe"]["failureThreshold"] = 3.0
    [message] = validate_resource("liveness-outlasts-readiness", DEPLOYMENT, props)
    assert "after 30 s" in message and "failureThreshold to at least 4" in message


def test_missing_readiness_probe_is_caught():
    props = deployment()
    del engine(props)["readinessProbe"]
    [message] = validate_resource("liveness-outlasts-readiness", DEPLOYMENT, props)
    assert "no readinessProbe" in message and RELEASE in message


def test_probe_without_explicit_timeout_is_caught():
    props = deployment()
    del engine(props)["readinessProbe"]["timeoutSeconds"]
    [message] = validate_resource("probe-timeouts", DEPLOYMENT, props)
    assert "readinessProbe does not set timeoutSeconds" in message and "1 s" in message


def test_probe_timeout_minimum_comes_from_policy_config():
    props = deployment()
    assert validate_resource("probe-timeouts", DEPLOYMENT, props, {"minTimeoutSeconds": 5}) == []
    messages = validate_resource("probe-timeouts", DEPLOYMENT, props, {"minTimeoutSeconds": 10})
    assert len(messages) == 3 and all("timeoutSeconds 5, below the minimum of 10" in m
                                      for m in messages)


# --- GPUs, shm, resources -------------------------------------------------------------------

def test_multi_gpu_pod_without_shm_is_caught():
    props = deployment()
    pod(props)["volumes"] = [v for v in pod(props)["volumes"] if v["name"] != "shm"]
    engine(props)["volumeMounts"] = [m for m in engine(props)["volumeMounts"]
                                     if m["name"] != "shm"]
    [message] = validate_resource("shm-for-multi-gpu", DEPLOYMENT, props)
    assert "2 GPUs" in message and "medium: Memory" in message and "/dev/shm" in message


def test_single_gpu_pod_needs_no_shm():
    props = deployment()
    pod(props)["volumes"] = [v for v in pod(props)["volumes"] if v["name"] != "shm"]
    engine(props)["volumeMounts"] = [m for m in engine(props)["volumeMounts"]
                                     if m["name"] != "shm"]
    for section in ("requests", "limits"):
        engine(props)["resources"][section]["nvidia.com/gpu"] = "1"
    assert validate_resource("shm-for-multi-gpu", DEPLOYMENT, props) == []


def test_shm_not_inside_memory_limit_is_caught():
    props = deployment()
    pod(props)["volumes"][0]["emptyDir"]["sizeLimit"] = "96Gi"
    [message] = validate_resource("shm-for-multi-gpu", DEPLOYMENT, props)
    assert "96Gi" in message and "not inside" in message


def test_shm_on_disk_is_caught():
    props = deployment()
    pod(props)["volumes"][0]["emptyDir"] = {"sizeLimit": "16Gi"}
    [message] = validate_resource("shm-for-multi-gpu", DEPLOYMENT, props)
    assert "not an emptyDir with medium: Memory" in message


def test_gpu_count_must_equal_parallel_product():
    props = deployment()
    for section in ("requests", "limits"):
        engine(props)["resources"][section]["nvidia.com/gpu"] = "4"
    [message] = validate_resource("gpu-matches-parallelism", DEPLOYMENT, props)
    assert "4 GPUs" in message and "2 × 1 × 1 = 2" in message
    assert "requests and limits to 2" in message


def test_gpu_request_must_equal_limit():
    props = deployment()
    engine(props)["resources"]["requests"]["nvidia.com/gpu"] = "1"
    [message] = validate_resource("gpu-matches-parallelism", DEPLOYMENT, props)
    assert "requests 1 nvidia.com/gpu but limits it to 2" in message


def test_data_parallel_multiplies_the_gpu_count():
    props = deployment()
    props["metadata"]["annotations"][conv.ANN_DATA_PARALLEL] = "2"
    [message] = validate_resource("gpu-matches-parallelism", DEPLOYMENT, props)
    assert "2 × 1 × 2 = 4" in message


def test_annotation_contradicting_the_tensor_parallel_flag_is_caught():
    props = deployment()
    engine(props)["args"] = ["--tensor-parallel-size=4"]
    messages = validate_resource("gpu-matches-parallelism", DEPLOYMENT, props)
    assert any("passes --tensor-parallel-size 4" in m for m in messages)


def test_missing_cpu_request_is_caught():
    props = deployment()
    del engine(props)["resources"]["requests"]["cpu"]
    [message] = validate_resource("cpu-memory-resources", DEPLOYMENT, props)
    assert "container 'vllm' does not set requests.cpu" in message


def test_guaranteed_engine_with_burstable_init_container_is_caught():
    props = deployment()
    pod(props)["initContainers"][0]["resources"]["limits"]["cpu"] = "500m"
    [message] = validate_resource("cpu-memory-resources", DEPLOYMENT, props)
    assert "init container 'wait-for-weights'" in message and "Burstable" in message
    assert "cpu 200m/500m" in message


def test_burstable_engine_is_accepted_when_requests_and_limit_are_set():
    props = deployment()
    engine(props)["resources"]["requests"]["memory"] = "64Gi"
    del engine(props)["resources"]["limits"]["cpu"]
    assert validate_resource("cpu-memory-resources", DEPLOYMENT, props) == []


# --- images and secrets ---------------------------------------------------------------------

@pytest.mark.parametrize("image,tag", [("vllm/vllm-openai:latest", "'latest'"),
                                       ("vllm/vllm-openai:nightly", "'nightly'"),
                                       ("registry:5000/vllm/vllm-openai", "without a tag")])
def test_moving_or_missing_image_tag_is_caught(image, tag):
    props = deployment()
    engine(props)["image"] = image
    [message] = validate_resource("image-pinned", DEPLOYMENT, props)
    assert image in message and tag in message and "container 'vllm'" in message


def test_literal_api_key_in_env_is_caught_without_repeating_it():
    props = deployment()
    engine(props)["env"][0] = {"name": "VLLM_API_KEY", "value": "sk-live-abcdefghijklmnop"}
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "VLLM_API_KEY" in message and "secretKeyRef" in message
    assert "abcdefghijklmnop" not in message


def test_secret_named_env_from_a_configmap_is_caught():
    props = download_job()
    props["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "HF_TOKEN", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "t"}}}]
    [message] = validate_resource("no-literal-secrets", k8s.JOB, props)
    assert "HF_TOKEN from configMapKeyRef" in message


def test_api_key_flag_and_token_in_configmap_are_caught():
    props = deployment()
    engine(props)["args"] += ["--api-key", "whatever"]
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "--api-key" in message and "VLLM_API_KEY from a Secret" in message
    config_map = {"metadata": {"name": "env", "namespace": NS},
                  "data": {"token": "hf_" + "A" * 30}}
    [message] = validate_resource("no-literal-secrets", k8s.CONFIG_MAP, config_map)
    assert "ConfigMap 'llm-serving/env' key 'token'" in message


@pytest.mark.parametrize("spelling", [["--api_key=whatever"], ["--api-key=whatever"],
                                      ["--api_key", "whatever"]])
def test_api_key_flag_is_caught_in_every_spelling_vllm_accepts(spelling):
    props = deployment()
    engine(props)["args"] += spelling
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "--api-key" in message and "whatever" not in message


@pytest.mark.parametrize("spelling, flag", [
    (["--enable_log_requests"], "--enable-log-requests"),
    (["--enable-log-requests"], "--enable-log-requests"),
    (["--disable_log_stats"], "--disable-log-stats"),
    (["--config=/etc/vllm.yaml"], "--config"),
])
def test_engine_flags_that_leak_prompts_or_drop_metrics_are_caught(spelling, flag):
    props = deployment()
    engine(props)["args"] += spelling
    [message] = validate_resource("engine-flags-allowed", DEPLOYMENT, props)
    assert flag in message and "remove it" in message


def test_clearing_a_forbidden_flag_and_other_containers_are_not_engine_flags():
    props = deployment()
    engine(props)["args"] += ["--no-enable-log-requests"]
    assert validate_resource("engine-flags-allowed", DEPLOYMENT, props) == []
    assert validate_resource("engine-flags-allowed", k8s.JOB, download_job()) == []


def test_flag_values_are_read_the_way_vllm_reads_names():
    tokens = ["--shutdown_timeout=30", "--max_model_len", "4096", "--max-model-len=8192"]
    assert k8s.flag_value(tokens, "--shutdown-timeout") == "30"
    assert k8s.flag_value(tokens, "--max-model-len") == "8192"   # the last one wins
    assert k8s.flag_value(["--tensor-parallel-size", "-1"], "--tensor-parallel-size") == "-1"
    assert k8s.flag_value(["--other"], "--max-model-len") is None


def test_secret_name_detection_uses_words_not_substrings():
    assert security_checks.looks_like_secret_name("VLLM_API_KEY")
    assert security_checks.looks_like_secret_name("HUGGING_FACE_HUB_TOKEN")
    assert security_checks.looks_like_secret_name("OPENAI_APIKEY")
    assert not security_checks.looks_like_secret_name("TOKENIZERS_PARALLELISM")
    assert not security_checks.looks_like_secret_name("HF_HUB_OFFLINE")


# --- pod settings ---------------------------------------------------------------------------

def test_service_links_left_on_is_caught():
    props = deployment()
    del pod(props)["enableServiceLinks"]
    [message] = validate_resource("service-links-disabled", DEPLOYMENT, props)
    assert "unset (true by default)" in message and "enableServiceLinks: false" in message


def test_service_named_vllm_is_caught():
    props = service()
    props["metadata"]["name"] = "vllm"
    [message] = validate_resource("no-service-named-vllm", SERVICE, props)
    assert f"Service '{NS}/vllm'" in message and "VLLM_PORT" in message and "rename" in message


def test_grace_period_not_above_prestop_plus_shutdown_is_caught():
    props = deployment()
    pod(props)["terminationGracePeriodSeconds"] = 75.0
    [message] = validate_resource("grace-covers-drain", DEPLOYMENT, props)
    assert "terminationGracePeriodSeconds 75" in message
    assert "preStop 15 s + vLLM shutdown timeout 60 s = 75 s" in message


def test_grace_period_uses_the_real_sleep_when_the_annotation_understates_it():
    props = deployment()
    engine(props)["lifecycle"]["preStop"]["exec"]["command"] = ["sh", "-c", "sleep 40"]
    [message] = validate_resource("grace-covers-drain", DEPLOYMENT, props)
    assert "preStop 40 s" in message and "100 s" in message


def test_unset_grace_period_counts_as_kubernetes_default():
    props = deployment()
    del pod(props)["terminationGracePeriodSeconds"]
    [message] = validate_resource("grace-covers-drain", DEPLOYMENT, props)
    assert "terminationGracePeriodSeconds 30 (the default)" in message


@pytest.mark.parametrize("field,value,expected", [
    ("privileged", True, "runs privileged"),
    ("allowPrivilegeEscalation", True, "allowPrivilegeEscalation: false"),
    ("runAsUser", 0.0, "runs as UID 0"),
])
def test_privileged_escalating_or_root_container_is_caught(field, value, expected):
    props = deployment()
    engine(props)["securityContext"][field] = value
    [message] = validate_resource("container-security", DEPLOYMENT, props)
    assert expected in message and "container 'vllm'" in message


def test_non_root_may_come_from_the_pod_but_must_be_stated_somewhere():
    props = deployment()
    del engine(props)["securityContext"]["runAsNonRoot"]
    assert validate_resource("container-security", DEPLOYMENT, props) == []
    del pod(props)["securityContext"]["runAsNonRoot"]
    [message] = validate_resource("container-security", DEPLOYMENT, props)
    assert "container 'vllm' does not set runAsNonRoot: true" in message


def test_security_applies_to_non_inference_workloads_too():
    props = download_job()
    del props["spec"]["template"]["spec"]["securityContext"]
    [message] = validate_resource("container-security", k8s.JOB, props, name="download")
    assert f"Job '{NS}/{RELEASE}-download'" in message and "runAsNonRoot" in message


def test_replicas_not_spread_across_nodes_is_advised():
    props = deployment()
    del pod(props)["topologySpreadConstraints"]
    [message] = validate_resource("replicas-spread", DEPLOYMENT, props)
    assert "2 replicas" in message and "kubernetes.io/hostname" in message
    pod(props)["affinity"] = {"podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100.0, "podAffinityTerm": {
            "topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchLabels": SELECTOR}}}]}}
    assert validate_resource("replicas-spread", DEPLOYMENT, props) == []


# --- metric names and model revision ----------------------------------------------------------

def test_removed_metric_name_in_an_alert_is_caught_with_its_replacement():
    props = prometheus_rule()
    props["spec"]["groups"][0]["rules"][0]["expr"] = "vllm:gpu_cache_usage_perc > 0.95"
    [message] = validate_resource("metric-names-exist", k8s.PROMETHEUS_RULE, props)
    assert "vllm:gpu_cache_usage_perc" in message and "vLLM 0.18.0" in message
    assert "use vllm:kv_cache_usage_perc" in message


def test_v0_only_metric_in_an_autoscaler_query_is_caught():
    props = scaled_object()
    props["spec"]["triggers"][0]["metadata"]["query"] = \
        "avg(vllm:avg_generation_throughput_toks_per_s)"
    [message] = validate_resource("metric-names-exist", k8s.SCALED_OBJECT, props)
    assert "does not exist in the V1 engine" in message


def test_rename_window_accepts_old_or_new_name_from_the_previous_minor_series():
    expression = ("rate(vllm:inter_token_latency_seconds_bucket[5m]) or "
                  "rate(vllm:time_per_output_token_seconds_bucket[5m])")
    for version, accepted in (("0.11.0", True), ("0.11.4", True), ("0.12.0", False)):
        props = prometheus_rule()
        props["metadata"]["annotations"][conv.ANN_VLLM_VERSION] = version
        props["spec"]["groups"][0]["rules"][0]["expr"] = expression
        messages = validate_resource("metric-names-exist", k8s.PROMETHEUS_RULE, props)
        assert (messages == []) is accepted, (version, messages)


def test_metric_version_falls_back_to_the_version_label_and_is_required():
    props = dashboard()
    assert validate_resource("metric-names-exist", k8s.CONFIG_MAP, props) == []
    del props["metadata"]["labels"][conv.LABEL_VERSION]
    [message] = validate_resource("metric-names-exist", k8s.CONFIG_MAP, props)
    assert "states no vLLM version" in message and conv.ANN_VLLM_VERSION in message


def test_unpinned_model_revision_is_advised():
    props = deployment()
    props["metadata"]["annotations"][conv.ANN_MODEL_REVISION] = "main"
    [message] = validate_resource("model-revision-pinned", DEPLOYMENT, props)
    assert "'main'" in message and "40-hex commit SHA" in message


# --- stack policies -------------------------------------------------------------------------

def test_min_replicas_from_config_reads_the_autoscaler_minimum():
    resources = stack()
    scaler = scaled_object()
    scaler["spec"]["minReplicaCount"] = 1.0
    resources = replace(resources, k8s.SCALED_OBJECT, scaler)
    assert validate_stack("min-replicas", resources, {"minReplicas": 1}) == []
    [(message, urn)] = validate_stack("min-replicas", resources, {"minReplicas": 2})
    assert "only 1 replica(s) (its autoscaler's minimum)" in message and "at least 2" in message
    assert urn == urn_of(DEPLOYMENT, "vllm")


def test_min_replicas_without_autoscaler_reads_spec_replicas_defaulting_to_one():
    resources = without(stack(), k8s.SCALED_OBJECT)
    props = deployment()
    del props["spec"]["replicas"]
    resources = replace(resources, DEPLOYMENT, props)
    [(message, _)] = validate_stack("min-replicas", resources, {"minReplicas": 2})
    assert "only 1 replica(s) (spec.replicas)" in message


def test_multi_replica_workload_without_pdb_is_caught():
    [(message, urn)] = validate_stack("pdb-for-multi-replica", without(stack(), k8s.PDB))
    assert "can run 4 replicas" in message and "maxUnavailable: 1" in message
    assert urn == urn_of(DEPLOYMENT, "vllm")


def test_single_replica_needs_no_pdb_but_a_blocking_one_is_caught():
    resources = without(stack(), k8s.SCALED_OBJECT)
    props = deployment()
    props["spec"]["replicas"] = 1.0
    resources = without(replace(resources, DEPLOYMENT, props), k8s.PDB)
    assert validate_stack("pdb-for-multi-replica", resources) == []
    blocking = pdb()
    blocking["spec"] = {"minAvailable": 1.0, "selector": {"matchLabels": dict(SELECTOR)}}
    resources.append({"type": k8s.PDB, "name": "vllm-pdb", "props": blocking})
    [(message, urn)] = validate_stack("pdb-allows-drain", resources)
    assert "minAvailable 1 with 1 replica(s)" in message and urn == urn_of(k8s.PDB, "vllm-pdb")


@pytest.mark.parametrize("spec,reason", [({"maxUnavailable": 0.0}, "maxUnavailable 0"),
                                         ({"maxUnavailable": "0%"}, "maxUnavailable 0%"),
                                         ({"minAvailable": "100%"}, "minAvailable 100%")])
def test_pdb_that_forbids_every_eviction_is_caught(spec, reason):
    blocking = pdb()
    blocking["spec"] = {**spec, "selector": {"matchLabels": dict(SELECTOR)}}
    [(message, _)] = validate_stack("pdb-allows-drain", replace(stack(), k8s.PDB, blocking))
    assert reason in message and "drains" in message


def test_namespace_without_network_policy_for_inference_pods_is_caught():
    other = network_policy()
    other["spec"]["podSelector"] = {"matchLabels": {conv.LABEL_COMPONENT: "router"}}
    [(message, _)] = validate_stack("network-policy-per-namespace",
                                    replace(stack(), k8s.NETWORK_POLICY, other))
    assert f"namespace '{NS}'" in message and "/tokenize" in message
    everything = network_policy()
    everything["spec"]["podSelector"] = {}
    assert validate_stack("network-policy-per-namespace",
                          replace(stack(), k8s.NETWORK_POLICY, everything)) == []


@pytest.mark.parametrize("service_type", ["LoadBalancer", "NodePort"])
def test_public_service_selecting_inference_pods_is_caught(service_type):
    exposed = service()
    exposed["spec"]["type"] = service_type
    [(message, urn)] = validate_stack("no-public-engine-service",
                                      replace(stack(), SERVICE, exposed))
    assert f"type {service_type}" in message and f"Deployment '{NS}/{RELEASE}'" in message
    assert "ClusterIP" in message and urn == urn_of(SERVICE, "vllm-svc")


def test_autoscaler_pointing_at_a_missing_workload_is_caught():
    scaler = scaled_object()
    scaler["spec"]["scaleTargetRef"]["name"] = "prod-r2"
    [(message, _)] = validate_stack("autoscaler-bounds-and-target",
                                    replace(stack(), k8s.SCALED_OBJECT, scaler))
    assert "'prod-r2'" in message and f"Deployment '{RELEASE}'" in message


def test_autoscaler_min_above_max_is_caught():
    resources = without(stack(), k8s.SCALED_OBJECT)
    autoscaler = hpa()
    autoscaler["spec"]["minReplicas"] = 5.0
    resources.append({"type": k8s.HPA, "name": "vllm-hpa", "props": autoscaler})
    [(message, _)] = validate_stack("autoscaler-bounds-and-target", resources)
    assert "minimum of 5 replicas above its maximum of 4" in message


def test_two_autoscalers_on_one_workload_are_caught():
    resources = stack() + [{"type": k8s.HPA, "name": "vllm-hpa", "props": hpa()}]
    [(message, urn)] = validate_stack("autoscaler-bounds-and-target", resources)
    assert "two controllers" in message and urn == urn_of(DEPLOYMENT, "vllm")


def test_service_monitor_on_a_wrong_port_is_caught():
    monitor = service_monitor()
    monitor["spec"]["endpoints"][0]["port"] = "metrics"
    [(message, _)] = validate_stack("inference-service-scraped",
                                    replace(stack(), k8s.SERVICE_MONITOR, monitor))
    assert "none of its endpoints names" in message and "(http)" in message


def test_unscraped_inference_service_is_caught_and_annotations_suffice():
    resources = without(stack(), k8s.SERVICE_MONITOR)
    [(message, urn)] = validate_stack("inference-service-scraped", resources)
    assert "nothing scrapes it" in message and urn == urn_of(SERVICE, "vllm-svc")
    annotated = service()
    annotated["metadata"]["annotations"] = {"prometheus.io/scrape": "true",
                                            "prometheus.io/port": "8000"}
    assert validate_stack("inference-service-scraped",
                          replace(resources, SERVICE, annotated)) == []


# --- helpers --------------------------------------------------------------------------------

@pytest.mark.parametrize("text,value", [("16Gi", 16 * 2**30), ("500m", Decimal("0.5")),
                                        ("1e3", 1000), ("2", 2), (4.0, 4), ("1.5G", 1.5e9),
                                        ("1024Mi", 2**30)])
def test_quantities_parse_exactly(text, value):
    assert k8s.parse_quantity(text) == Decimal(str(value))


def test_malformed_quantity_is_rejected():
    with pytest.raises(ValueError):
        k8s.parse_quantity("16 GB")


def test_flags_are_read_in_both_spellings_last_one_wins():
    tokens = k8s.command_tokens({"command": ["sh", "-c", "vllm serve /m -tp 2"],
                                 "args": ["--tensor-parallel-size=4"]})
    assert k8s.flag_value(tokens, "--tensor-parallel-size", "-tp") == "4"


def test_leader_worker_set_splits_gpus_over_its_group():
    props = deployment()
    template = props["spec"].pop("template")
    props["spec"] = {"replicas": 1.0, "leaderWorkerTemplate": {
        "size": 2.0, "leaderTemplate": copy.deepcopy(template), "workerTemplate": template}}
    props["metadata"]["annotations"][conv.ANN_TENSOR_PARALLEL] = "4"
    for part in ("leaderTemplate", "workerTemplate"):
        part_engine = props["spec"]["leaderWorkerTemplate"][part]["spec"]["containers"][0]
        part_engine["args"] = ["--tensor-parallel-size", "4"]
    assert validate_resource("gpu-matches-parallelism", k8s.LEADER_WORKER_SET, props) == []
    assert [role for role, _ in k8s.serving_templates(k8s.LEADER_WORKER_SET, props)] == \
        ["leader template"]


def test_metric_allowance_follows_the_facts_rename_table():
    assert "vllm:kv_cache_usage_perc" in metrics.allowed_names("0.10.0")
    assert "vllm:gpu_cache_usage_perc" in metrics.allowed_names("0.10.1")
    assert "vllm:gpu_cache_usage_perc" not in metrics.allowed_names("0.11.0")
    assert metrics.names_in("rate(vllm:e2e_request_latency_seconds_count[5m])") == \
        {"vllm:e2e_request_latency_seconds_count"}
    assert metrics.is_allowed("vllm:e2e_request_latency_seconds_count", "0.18.0")


def test_unknown_annotation_during_preview_does_not_stop_other_rules():
    props = deployment()
    props["metadata"]["annotations"][conv.ANN_API_KEY_CHECKSUM] = UNKNOWN_STRING_VALUE
    assert validate_resource("startup-probe-covers-load", DEPLOYMENT, props) == []


# --- the offline runner ---------------------------------------------------------------------

def _break(resources: list[dict], resource_type: str, change) -> list[dict]:
    broken = copy.deepcopy(resources)
    for record in broken:
        if record["type"] == resource_type:
            change(record["props"])
    return broken


def _set(path: list, value):
    def change(props):
        target = props
        for step in path[:-1]:
            target = target[step]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return change


_DELETE = object()
_POD = ["spec", "template", "spec"]
_ENGINE = _POD + ["containers", 0]

BROKEN = {  # policy -> (type of the object to break, the one change that breaks it)
    "startup-probe-covers-load": (DEPLOYMENT, _set(_ENGINE + ["startupProbe",
                                                              "failureThreshold"], 30.0)),
    "liveness-outlasts-readiness": (DEPLOYMENT, _set(_ENGINE + ["livenessProbe",
                                                                "failureThreshold"], 3.0)),
    "probe-timeouts": (DEPLOYMENT, _set(_ENGINE + ["readinessProbe", "timeoutSeconds"], 1.0)),
    "shm-for-multi-gpu": (DEPLOYMENT, _set(_POD + ["volumes", 0, "emptyDir", "sizeLimit"],
                                           "128Gi")),
    "gpu-matches-parallelism": (DEPLOYMENT, _set(_ENGINE + ["resources"], {
        "requests": {"nvidia.com/gpu": "1", "cpu": "8", "memory": "96Gi"},
        "limits": {"nvidia.com/gpu": "1", "cpu": "8", "memory": "96Gi"}})),
    "cpu-memory-resources": (DEPLOYMENT, _set(_ENGINE + ["resources", "requests", "cpu"], _DELETE)),
    "image-pinned": (DEPLOYMENT, _set(_ENGINE + ["image"], "vllm/vllm-openai:latest")),
    "image-by-digest": (DEPLOYMENT, _set(_ENGINE + ["image"], "vllm/vllm-openai:v0.18.0")),
    "model-image-by-digest": (DEPLOYMENT, _set(_POD + ["volumes", 1], {
        "name": "model", "image": {"reference": "registry.example.com/models/m:v1"}})),
    "cache-pod-on-ready-node": (DEPLOYMENT, _set(_POD + ["volumes", 1], {
        "name": "model", "hostPath": {"path": "/var/lib/vllm-models", "type": "Directory"}})),
    "no-literal-secrets": (DEPLOYMENT, _set(_ENGINE + ["env", 0], {"name": "VLLM_API_KEY",
                                                                  "value": "not-from-a-secret"})),
    "engine-flags-allowed": (DEPLOYMENT, _set(_ENGINE + ["args"], ["--disable_log_stats"])),
    "streamer-has-credentials": (DEPLOYMENT, _set(_ENGINE + ["args"], ["s3://models/m"])),
    "service-links-disabled": (DEPLOYMENT, _set(_POD + ["enableServiceLinks"], True)),
    "no-service-named-vllm": (SERVICE, _set(["metadata", "name"], "vllm")),
    "grace-covers-drain": (DEPLOYMENT, _set(_POD + ["terminationGracePeriodSeconds"], 60.0)),
    "container-security": (DEPLOYMENT, _set(_ENGINE + ["securityContext", "privileged"], True)),
    "replicas-spread": (DEPLOYMENT, _set(_POD + ["topologySpreadConstraints"], _DELETE)),
    "metric-names-exist": (k8s.PROMETHEUS_RULE, _set(["spec", "groups", 0, "rules", 0, "expr"],
                                                     "vllm:num_requests_swapped > 0")),
    "model-revision-pinned": (DEPLOYMENT, _set(["metadata", "annotations", conv.ANN_MODEL_REVISION],
                                               "main")),
    "min-replicas": (k8s.SCALED_OBJECT, _set(["spec", "minReplicaCount"], 1.0)),
    "pdb-for-multi-replica": (k8s.PDB, _set(["spec", "selector", "matchLabels"], {"app": "other"})),
    "pdb-allows-drain": (k8s.PDB, _set(["spec", "maxUnavailable"], 0.0)),
    "network-policy-per-namespace": (k8s.NETWORK_POLICY, _set(["metadata", "namespace"],
                                                              "default")),
    "no-public-engine-service": (SERVICE, _set(["spec", "type"], "LoadBalancer")),
    "autoscaler-bounds-and-target": (k8s.SCALED_OBJECT, _set(["spec", "maxReplicaCount"], 1.0)),
    "inference-service-scraped": (k8s.SERVICE_MONITOR, _set(["spec", "endpoints", 0, "port"],
                                                            "metrics")),
    "engine-admits-named-pods": (k8s.NETWORK_POLICY, _set(
        ["spec", "ingress", 0, "from", 0, "podSelector"], _DELETE)),
}


TRAFFIC_RULES = {"router-timeouts-cover-longest-request", "body-limit-covers-largest-prompt",
                 "router-keys-from-secrets", "router-admits-named-pods"}
"""Rules over the router and the edge, which this synthetic stack does not have: their broken
variants are prod's real objects (tests/policy/test_policy_on_stacks.py)."""


MULTINODE_RULES = {"tensor-parallel-within-a-node", "group-recreated-on-restart",
                   "group-can-start", "headless-workers-not-http-probed", "group-subdomain-free",
                   "group-names-fit", "group-flags-managed"}
"""Rules over LeaderWorkerSet groups: their broken variants are the r1-h100 stack's real group
(tests/policy/test_policy_on_stacks.py); unit cases below."""


EDGE_RULES = {"engine-route-guarded-paths"}
"""Rules over HTTPRoutes, which this synthetic stack does not have: broken variants on the real
stacks (tests/policy/test_policy_on_stacks.py); unit cases in tests/policy/test_policy_engine_fence_rules.py."""


def test_every_policy_has_a_broken_variant():
    assert set(BROKEN) | TRAFFIC_RULES | MULTINODE_RULES | EDGE_RULES == set(POLICIES)


def test_offline_run_of_the_compliant_stack_reports_nothing():
    prod = offline.load_config(pathlib.Path(rules.__file__).parent / "config" / "prod.json")
    assert offline.run(stack(), prod) == []


@pytest.mark.parametrize("policy_name", sorted(BROKEN))
def test_offline_run_catches_each_broken_variant_and_only_it(policy_name):
    resource_type, change = BROKEN[policy_name]
    prod = offline.load_config(pathlib.Path(rules.__file__).parent / "config" / "prod.json")
    violations = offline.run(_break(stack(), resource_type, change), prod)
    level = POLICIES[policy_name].enforcement_level.value
    caught = {v.policy for v in violations if v.level == level}
    assert caught == {policy_name}, violations
    assert all(v.message.endswith(".") and v.resource for v in violations)


def test_offline_config_sets_levels_properties_and_disables():
    resources = _break(stack(), k8s.SCALED_OBJECT, _set(["spec", "minReplicaCount"], 1.0))
    [violation] = offline.run(resources, {"min-replicas": {"minReplicas": 2}})
    assert violation == offline.Violation("min-replicas", "mandatory", "vllm", violation.message)
    assert offline.run(resources, {"min-replicas": {"minReplicas": 1}}) == []
    [violation] = offline.run(resources, {"all": "advisory", "min-replicas": {"minReplicas": 2}})
    assert violation.level == "advisory"
    assert offline.run(resources, {"min-replicas": {"enforcementLevel": "disabled",
                                                    "minReplicas": 2}}) == []
    assert offline.mandatory(offline.run(resources, {"all": "advisory",
                                                     "min-replicas": {"minReplicas": 2}})) == []


def test_offline_reports_an_unknown_value_as_advisory_like_preview():
    resources = _break(stack(), DEPLOYMENT, _set(_ENGINE + ["image"], UNKNOWN_STRING_VALUE))
    violations = offline.run(resources, policies=[POLICIES["image-pinned"]])
    assert [(v.policy, v.level, v.resource) for v in violations] == \
        [("image-pinned", "advisory", "vllm")]
    assert "can't run policy 'image-pinned' during preview" in violations[0].message


def test_offline_cli_exits_nonzero_on_mandatory_violations(tmp_path, capsys):
    broken = _break(stack(), SERVICE, _set(["metadata", "name"], "vllm"))
    path = tmp_path / "resources.json"
    path.write_text(json.dumps(broken))
    config = pathlib.Path(rules.__file__).parent / "config" / "staging.json"
    assert offline.main([str(path), "--config", str(config)]) == 1
    assert "[mandatory] no-service-named-vllm on vllm-svc" in capsys.readouterr().out
    path.write_text(json.dumps(stack()))
    assert offline.main([str(path), "--config", str(config)]) == 0
