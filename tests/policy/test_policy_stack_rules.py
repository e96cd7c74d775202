"""The stack rules (policy/stack_checks.py) case by case: replicas, disruption budgets, network
policies, exposure, autoscalers, scraping and LeaderWorkerSet subdomains.

Builders and drivers come from tests/policy/conftest.py; each test changes one thing of the
compliant stack and states what the rule must then say (or not say).
"""

from __future__ import annotations

import pytest

from facts import conventions as conv
from policy import k8s
from tests.policy.conftest import (
    DEPLOYMENT,
    NS,
    RELEASE,
    SELECTOR,
    SERVICE,
    leader_worker_set,
    urn_of,
    deployment,
    hpa,
    network_policy,
    pdb,
    replace,
    scaled_object,
    service,
    service_monitor,
    stack,
    validate_stack,
    without,
)


def _with(resources: list[dict], resource_type: str, props: dict, name: str) -> list[dict]:
    return resources + [{"type": resource_type, "name": name, "props": props}]


def _replicas(count) -> list[dict]:
    """The compliant stack without its autoscaler, the Deployment at `count` replicas (None:
    unset)."""
    props = deployment()
    if count is None:
        del props["spec"]["replicas"]
    else:
        props["spec"]["replicas"] = float(count)
    return replace(without(stack(), k8s.SCALED_OBJECT), DEPLOYMENT, props)


def _scaler(**spec) -> dict:
    props = scaled_object()
    for key, value in spec.items():
        if value is None:
            props["spec"].pop(key, None)
        else:
            props["spec"][key] = value
    return props


# --- min-replicas ---------------------------------------------------------------------------

def test_the_minimum_defaults_to_one_replica():
    assert validate_stack("min-replicas", _replicas(1)) == []
    assert validate_stack("min-replicas", _replicas(None)) == []


@pytest.mark.parametrize("count, required, passes", [(2, 2, True), (1, 2, False), (3, 2, True),
                                                     (2, 3, False)])
def test_spec_replicas_must_reach_the_configured_minimum(count, required, passes):
    findings = validate_stack("min-replicas", _replicas(count), {"minReplicas": required})
    assert (findings == []) is passes, findings


def test_a_keda_object_without_a_minimum_may_scale_to_zero():
    resources = replace(stack(), k8s.SCALED_OBJECT, _scaler(minReplicaCount=None))
    [(message, urn)] = validate_stack("min-replicas", resources)
    assert "may run only 0 replica(s) (its autoscaler's minimum)" in message
    assert "requires at least 1" in message and urn == urn_of(DEPLOYMENT, "vllm")


def test_an_hpa_without_a_minimum_keeps_one_replica():
    autoscaler = hpa()
    del autoscaler["spec"]["minReplicas"]
    resources = _with(without(stack(), k8s.SCALED_OBJECT), k8s.HPA, autoscaler, "vllm-hpa")
    assert validate_stack("min-replicas", resources) == []
    [(message, _)] = validate_stack("min-replicas", resources, {"minReplicas": 2})
    assert "may run only 1 replica(s) (its autoscaler's minimum)" in message


def test_the_lowest_minimum_of_two_autoscalers_counts():
    autoscaler = hpa()
    autoscaler["spec"]["minReplicas"] = 1.0
    resources = _with(stack(), k8s.HPA, autoscaler, "vllm-hpa")
    [(message, _)] = validate_stack("min-replicas", resources, {"minReplicas": 2})
    assert "only 1 replica(s)" in message


def test_an_autoscaler_of_another_namespace_does_not_set_the_minimum():
    scaler = _scaler(minReplicaCount=1.0)
    scaler["metadata"]["namespace"] = "other"
    resources = replace(stack(), k8s.SCALED_OBJECT, scaler)
    # The Deployment's own spec.replicas (2) counts.
    assert validate_stack("min-replicas", resources, {"minReplicas": 2}) == []


def test_an_autoscaler_of_another_kind_or_name_does_not_set_the_minimum():
    for ref in ({"kind": "StatefulSet", "name": RELEASE}, {"name": "prod-r2"}):
        scaler = _scaler(minReplicaCount=1.0, scaleTargetRef=ref)
        resources = replace(stack(), k8s.SCALED_OBJECT, scaler)
        assert validate_stack("min-replicas", resources, {"minReplicas": 2}) == [], ref


def test_min_replicas_ignores_workloads_that_are_not_inference():
    router = deployment()
    router["metadata"]["name"] = "router"
    router["metadata"]["labels"] = {"app": "router"}
    router["spec"]["template"]["metadata"]["labels"] = {"app": "router"}
    router["spec"]["replicas"] = 1.0
    resources = _with(stack(), DEPLOYMENT, router, "router")
    assert validate_stack("min-replicas", resources, {"minReplicas": 2}) == []


# --- pdb-for-multi-replica ------------------------------------------------------------------

def test_two_fixed_replicas_need_a_pdb():
    [(message, _)] = validate_stack("pdb-for-multi-replica", without(_replicas(2), k8s.PDB))
    assert "can run 2 replicas but no PodDisruptionBudget" in message


def test_unset_replicas_without_an_autoscaler_means_one_and_needs_no_pdb():
    assert validate_stack("pdb-for-multi-replica", without(_replicas(None), k8s.PDB)) == []


def test_an_autoscaler_without_a_maximum_may_run_a_hundred_replicas():
    resources = replace(without(stack(), k8s.PDB), k8s.SCALED_OBJECT,
                        _scaler(maxReplicaCount=None))
    [(message, _)] = validate_stack("pdb-for-multi-replica", resources)
    assert "can run 100 replicas" in message


def test_the_highest_maximum_of_two_autoscalers_counts():
    autoscaler = hpa()
    autoscaler["spec"]["maxReplicas"] = 8.0
    resources = _with(without(stack(), k8s.PDB), k8s.HPA, autoscaler, "vllm-hpa")
    [(message, _)] = validate_stack("pdb-for-multi-replica", resources)
    assert "can run 8 replicas" in message


def test_a_pdb_of_another_namespace_or_selecting_other_pods_does_not_count():
    elsewhere = pdb()
    elsewhere["metadata"]["namespace"] = "other"
    assert len(validate_stack("pdb-for-multi-replica", replace(stack(), k8s.PDB, elsewhere))) \
        == 1
    other_pods = pdb()
    other_pods["spec"]["selector"] = {"matchLabels": {**SELECTOR, conv.LABEL_INSTANCE: "prod-r2"}}
    assert len(validate_stack("pdb-for-multi-replica", replace(stack(), k8s.PDB, other_pods))) \
        == 1


def test_a_pdb_selects_by_the_pod_labels_not_the_workload_labels():
    props = deployment()
    props["metadata"]["labels"] = {**props["metadata"]["labels"], "tier": "gpu"}
    narrow = pdb()
    narrow["spec"]["selector"] = {"matchLabels": {"tier": "gpu"}}
    resources = replace(replace(stack(), DEPLOYMENT, props), k8s.PDB, narrow)
    assert len(validate_stack("pdb-for-multi-replica", resources)) == 1


# --- pdb-allows-drain -----------------------------------------------------------------------

def _blocking(**spec) -> dict:
    props = pdb()
    props["spec"] = {**spec, "selector": {"matchLabels": dict(SELECTOR)}}
    return props


@pytest.mark.parametrize("spec, blocks", [
    ({"maxUnavailable": 1.0}, False),
    ({"maxUnavailable": "50%"}, False),       # 50 % of 2 = 1 pod may go
    ({"minAvailable": 1.0}, False),           # 1 of 2 may go
    ({"minAvailable": 2.0}, True),            # with the autoscaler's minimum of 2
    ({"minAvailable": 3.0}, True),
    ({"minAvailable": "50%"}, False),
    ({"minAvailable": "51%"}, True),          # rounds up to 2 of 2
    ({}, False),
])
def test_a_pdb_blocks_drains_when_no_pod_may_leave(spec, blocks):
    findings = validate_stack("pdb-allows-drain", replace(stack(), k8s.PDB, _blocking(**spec)))
    if not blocks:
        assert findings == []
        return
    [(message, urn)] = findings
    assert f"PodDisruptionBudget '{NS}/{RELEASE}' allows no voluntary eviction" in message
    assert "with 2 replica(s)" in message and urn == urn_of(k8s.PDB, "vllm-pdb")


def test_an_autoscaler_at_zero_is_judged_as_one_running_pod():
    resources = replace(replace(stack(), k8s.SCALED_OBJECT, _scaler(minReplicaCount=0.0)),
                        k8s.PDB, _blocking(minAvailable=1.0))
    [(message, _)] = validate_stack("pdb-allows-drain", resources)
    assert "minAvailable 1 with 1 replica(s)" in message


def test_a_blocking_pdb_elsewhere_does_not_concern_the_workload():
    blocking = _blocking(maxUnavailable=0.0)
    blocking["metadata"]["namespace"] = "other"
    assert validate_stack("pdb-allows-drain", replace(stack(), k8s.PDB, blocking)) == []


def test_max_unavailable_zero_is_reported_before_min_available():
    resources = replace(stack(), k8s.PDB, _blocking(maxUnavailable=0.0, minAvailable=5.0))
    [(message, _)] = validate_stack("pdb-allows-drain", resources)
    assert "(maxUnavailable 0)" in message


# --- network-policy-per-namespace -----------------------------------------------------------

@pytest.mark.parametrize("types, covered", [(None, True), ([], True), (["Ingress"], True),
                                            (["Egress", "Ingress"], True), (["Egress"], False)])
def test_a_network_policy_covers_the_pods_only_for_ingress(types, covered):
    policy = network_policy()
    if types is None:
        del policy["spec"]["policyTypes"]
    else:
        policy["spec"]["policyTypes"] = types
    findings = validate_stack("network-policy-per-namespace",
                              replace(stack(), k8s.NETWORK_POLICY, policy))
    assert (findings == []) is covered, findings


def test_one_covering_policy_among_others_is_enough():
    egress = network_policy()
    egress["metadata"]["name"] = "egress"
    egress["spec"]["policyTypes"] = ["Egress"]
    resources = _with(stack(), k8s.NETWORK_POLICY, egress, "egress")
    assert validate_stack("network-policy-per-namespace", resources) == []
    resources = [r for r in resources if r["name"] != "vllm-netpol"]
    [(message, urn)] = validate_stack("network-policy-per-namespace", resources)
    assert urn == urn_of(DEPLOYMENT, "vllm")


def test_a_network_policy_in_another_namespace_does_not_cover():
    policy = network_policy()
    policy["metadata"]["namespace"] = "other"
    [(message, _)] = validate_stack("network-policy-per-namespace",
                                    replace(stack(), k8s.NETWORK_POLICY, policy))
    assert f"runs in namespace '{NS}'" in message


def test_a_workload_without_a_namespace_is_reported_in_default():
    props = deployment()
    del props["metadata"]["namespace"]
    [(message, _)] = validate_stack("network-policy-per-namespace",
                                    replace(stack(), DEPLOYMENT, props))
    assert "runs in namespace 'default'" in message


def test_a_network_policy_without_a_pod_selector_covers_the_namespace():
    policy = network_policy()
    del policy["spec"]["podSelector"]
    assert validate_stack("network-policy-per-namespace",
                          replace(stack(), k8s.NETWORK_POLICY, policy)) == []


# --- no-public-engine-service ---------------------------------------------------------------

def test_a_public_service_for_other_pods_is_allowed():
    public = service()
    public["spec"] = {"type": "LoadBalancer", "selector": {"app": "gateway"},
                      "ports": [{"name": "https", "port": 443.0}]}
    assert validate_stack("no-public-engine-service", replace(stack(), SERVICE, public)) == []


def test_an_unset_type_is_a_cluster_ip_service():
    props = service()
    del props["spec"]["type"]
    assert validate_stack("no-public-engine-service", replace(stack(), SERVICE, props)) == []


def test_a_public_service_is_judged_by_the_pods_of_its_namespace():
    public = service()
    public["spec"]["type"] = "NodePort"
    public["spec"]["selector"] = {conv.LABEL_NAME: "vllm", conv.LABEL_INSTANCE: RELEASE}
    [(message, _)] = validate_stack("no-public-engine-service",
                                    replace(stack(), SERVICE, public))
    assert f"selects Deployment '{NS}/{RELEASE}'," in message
    public["metadata"]["namespace"] = "other"
    assert validate_stack("no-public-engine-service", replace(stack(), SERVICE, public)) == []


def test_a_public_service_labelled_for_inference_is_caught_without_a_matching_workload():
    public = service()
    public["metadata"]["namespace"] = "other"
    public["spec"]["type"] = "LoadBalancer"
    [(message, urn)] = validate_stack("no-public-engine-service",
                                      replace(stack(), SERVICE, public))
    assert "selects inference pods, exposing vLLM" in message
    assert urn == urn_of(SERVICE, "vllm-svc")


def test_a_public_service_names_every_workload_it_selects():
    second = deployment()
    second["metadata"]["name"] = "prod-r1b"
    public = service()
    public["spec"]["type"] = "LoadBalancer"
    resources = _with(replace(stack(), SERVICE, public), DEPLOYMENT, second, "vllm-b")
    [(message, _)] = validate_stack("no-public-engine-service", resources)
    assert f"selects Deployment '{NS}/{RELEASE}', Deployment '{NS}/prod-r1b'," in message


# --- autoscaler-bounds-and-target -----------------------------------------------------------

def test_an_autoscaler_with_equal_bounds_is_fine():
    resources = replace(stack(), k8s.SCALED_OBJECT,
                        _scaler(minReplicaCount=3.0, maxReplicaCount=3.0))
    assert validate_stack("autoscaler-bounds-and-target", resources) == []


def test_an_hpa_without_a_maximum_is_caught():
    autoscaler = hpa()
    del autoscaler["spec"]["maxReplicas"]
    resources = _with(without(stack(), k8s.SCALED_OBJECT), k8s.HPA, autoscaler, "vllm-hpa")
    [(message, urn)] = validate_stack("autoscaler-bounds-and-target", resources)
    assert message == (f"HorizontalPodAutoscaler '{NS}/{RELEASE}' sets no maxReplicas, which a "
                       "HorizontalPodAutoscaler requires (the API server rejects it); set "
                       "maxReplicas to the most replicas your GPUs allow.")
    assert urn == urn_of(k8s.HPA, "vllm-hpa")


def test_an_hpa_without_a_kind_targets_nothing():
    autoscaler = hpa()
    del autoscaler["spec"]["scaleTargetRef"]["kind"]
    resources = _with(without(stack(), k8s.SCALED_OBJECT), k8s.HPA, autoscaler, "vllm-hpa")
    [(message, urn)] = validate_stack("autoscaler-bounds-and-target", resources)
    assert f"scales (no kind) '{RELEASE}' in namespace '{NS}'" in message
    assert urn == urn_of(k8s.HPA, "vllm-hpa")


def test_an_autoscaler_in_another_namespace_targets_nothing():
    scaler = scaled_object()
    scaler["metadata"]["namespace"] = "other"
    [(message, _)] = validate_stack("autoscaler-bounds-and-target",
                                    replace(stack(), k8s.SCALED_OBJECT, scaler))
    assert f"scales Deployment '{RELEASE}' in namespace 'other'" in message


def test_an_autoscaler_without_a_namespace_is_reported_in_default():
    scaler = scaled_object()
    del scaler["metadata"]["namespace"]
    [(message, _)] = validate_stack("autoscaler-bounds-and-target",
                                    replace(stack(), k8s.SCALED_OBJECT, scaler))
    assert "in namespace 'default'" in message


def test_a_missing_target_lists_the_stack_workloads_by_name():
    scaler = _scaler(scaleTargetRef={"kind": "StatefulSet", "name": RELEASE})
    [(message, _)] = validate_stack("autoscaler-bounds-and-target",
                                    replace(stack(), k8s.SCALED_OBJECT, scaler))
    assert f"(its workloads: Deployment '{RELEASE}', Job '{RELEASE}-download')" in message
    unnamed = deployment()
    del unnamed["metadata"]["name"]
    resources = [r for r in replace(replace(stack(), k8s.SCALED_OBJECT, scaler), DEPLOYMENT,
                                    unnamed) if r["type"] != k8s.JOB]
    [(message, _)] = validate_stack("autoscaler-bounds-and-target", resources)
    assert "(its workloads: none with a metadata.name)" in message


def test_an_autoscaler_may_scale_a_workload_that_is_not_inference():
    router = deployment()
    router["metadata"]["name"] = "router"
    router["metadata"]["labels"] = {"app": "router"}
    router["spec"]["template"]["metadata"]["labels"] = {"app": "router"}
    autoscaler = hpa()
    autoscaler["spec"]["scaleTargetRef"]["name"] = "router"
    resources = _with(_with(stack(), DEPLOYMENT, router, "router"), k8s.HPA, autoscaler, "r-hpa")
    assert validate_stack("autoscaler-bounds-and-target", resources) == []


def test_two_autoscalers_are_named_in_the_finding():
    resources = _with(stack(), k8s.HPA, hpa(), "vllm-hpa")
    [(message, _)] = validate_stack("autoscaler-bounds-and-target", resources)
    assert (f"is scaled by ScaledObject '{NS}/{RELEASE}' and HorizontalPodAutoscaler "
            f"'{NS}/{RELEASE}'") in message


# --- inference-service-scraped --------------------------------------------------------------

@pytest.mark.parametrize("value, scraped", [("true", True), ("True", False), ("false", False),
                                            (True, False)])
def test_the_scrape_annotation_counts_only_as_the_exact_text_true(value, scraped):
    # A scrape job keeps targets on the regex `true`, matched case-sensitively: "True" is
    # dropped and nothing scrapes the Service.
    annotated = service()
    annotated["metadata"]["annotations"] = {"prometheus.io/scrape": value}
    resources = replace(without(stack(), k8s.SERVICE_MONITOR), SERVICE, annotated)
    findings = validate_stack("inference-service-scraped", resources)
    assert (findings == []) is scraped, findings


def test_only_inference_services_of_this_program_must_be_scraped():
    for labels in ({conv.LABEL_PART_OF: conv.PART_OF, conv.LABEL_COMPONENT: "router"},
                   {conv.LABEL_PART_OF: "other", conv.LABEL_COMPONENT: conv.COMPONENT_INFERENCE}):
        other = service()
        other["metadata"]["labels"] = labels
        resources = replace(without(stack(), k8s.SERVICE_MONITOR), SERVICE, other)
        assert validate_stack("inference-service-scraped", resources) == [], labels


def test_a_monitor_may_name_a_target_port_instead_of_a_service_port():
    monitor = service_monitor()
    monitor["spec"]["endpoints"] = [{"targetPort": 8000.0, "path": "/metrics"}]
    assert validate_stack("inference-service-scraped",
                          replace(stack(), k8s.SERVICE_MONITOR, monitor)) == []


def test_a_monitor_needs_one_matching_endpoint_among_several():
    monitor = service_monitor()
    monitor["spec"]["endpoints"] = [{"port": "metrics"}, {"port": "http"}]
    assert validate_stack("inference-service-scraped",
                          replace(stack(), k8s.SERVICE_MONITOR, monitor)) == []
    monitor["spec"]["endpoints"] = []
    [(message, urn)] = validate_stack("inference-service-scraped",
                                      replace(stack(), k8s.SERVICE_MONITOR, monitor))
    assert f"ServiceMonitor '{NS}/{RELEASE}' selects Service '{NS}/{RELEASE}'" in message
    assert urn == urn_of(k8s.SERVICE_MONITOR, "vllm-sm")


def test_the_wrong_port_finding_lists_the_service_ports_sorted():
    props = service()
    props["spec"]["ports"] = [{"name": "http", "port": 8000.0}, {"name": "grpc", "port": 9000.0}]
    monitor = service_monitor()
    monitor["spec"]["endpoints"][0]["port"] = "metrics"
    resources = replace(replace(stack(), SERVICE, props), k8s.SERVICE_MONITOR, monitor)
    [(message, _)] = validate_stack("inference-service-scraped", resources)
    assert "(grpc, http)" in message
    props["spec"]["ports"] = []
    resources = replace(replace(stack(), SERVICE, props), k8s.SERVICE_MONITOR, monitor)
    [(message, _)] = validate_stack("inference-service-scraped", resources)
    assert "(none named)" in message


def test_a_monitor_selecting_other_labels_leaves_the_service_unscraped():
    monitor = service_monitor()
    monitor["spec"]["selector"] = {"matchLabels": {"app": "router"}}
    [(message, urn)] = validate_stack("inference-service-scraped",
                                      replace(stack(), k8s.SERVICE_MONITOR, monitor))
    assert "nothing scrapes it" in message and urn == urn_of(SERVICE, "vllm-svc")


@pytest.mark.parametrize("selector, scraped", [
    ({"any": True}, True),
    ({"any": False}, False),
    ({"matchNames": ["monitoring", NS]}, True),
    ({"matchNames": [NS]}, True),
    ({"matchNames": ["monitoring"]}, False),
    ({}, False),                             # its own namespace only
    (None, False),                           # no namespaceSelector: the same
])
def test_a_monitor_in_the_monitoring_namespace_reaches_the_service_by_its_selector(selector,
                                                                                   scraped):
    monitor = service_monitor()
    monitor["metadata"]["namespace"] = "monitoring"
    if selector is not None:
        monitor["spec"]["namespaceSelector"] = selector
    findings = validate_stack("inference-service-scraped",
                              replace(stack(), k8s.SERVICE_MONITOR, monitor))
    assert (findings == []) is scraped, findings
    if not scraped:
        [(message, _)] = findings                # one finding: the one inference Service
        assert "nothing scrapes it" in message


def test_match_names_overrides_the_monitors_own_namespace():
    monitor = service_monitor()
    monitor["spec"]["namespaceSelector"] = {"matchNames": ["monitoring"]}
    [(message, _)] = validate_stack("inference-service-scraped",
                                    replace(stack(), k8s.SERVICE_MONITOR, monitor))
    assert "nothing scrapes it" in message


def test_any_namespace_wins_over_match_names():
    monitor = service_monitor()
    monitor["metadata"]["namespace"] = "monitoring"
    monitor["spec"]["namespaceSelector"] = {"any": True, "matchNames": ["monitoring"]}
    assert validate_stack("inference-service-scraped",
                          replace(stack(), k8s.SERVICE_MONITOR, monitor)) == []


def test_one_good_monitor_is_enough_even_beside_a_wrong_one():
    wrong = service_monitor()
    wrong["metadata"]["name"] = "wrong"
    wrong["spec"]["endpoints"][0]["port"] = "metrics"
    resources = _with(stack(), k8s.SERVICE_MONITOR, wrong, "wrong-sm")
    assert validate_stack("inference-service-scraped", resources) == []


def test_each_selecting_monitor_on_a_wrong_port_is_reported():
    monitor = service_monitor()
    monitor["spec"]["endpoints"][0]["port"] = "metrics"
    second = service_monitor()
    second["metadata"]["name"] = "second"
    second["spec"]["endpoints"][0]["port"] = "metrics"
    unrelated = service_monitor()
    unrelated["metadata"]["name"] = "router"
    unrelated["spec"]["selector"] = {"matchLabels": {"app": "router"}}
    resources = _with(_with(replace(stack(), k8s.SERVICE_MONITOR, monitor),
                            k8s.SERVICE_MONITOR, second, "second-sm"),
                      k8s.SERVICE_MONITOR, unrelated, "router-sm")
    findings = validate_stack("inference-service-scraped", resources)
    assert [urn for _, urn in findings] == [urn_of(k8s.SERVICE_MONITOR, "vllm-sm"),
                                            urn_of(k8s.SERVICE_MONITOR, "second-sm")]


# --- group-subdomain-free -------------------------------------------------------------------

def _group_stack(service_name=RELEASE, service_namespace=NS) -> list[dict]:
    group = leader_worker_set()
    props = service()
    props["metadata"]["name"] = service_name
    if service_namespace is None:
        del props["metadata"]["namespace"]
    else:
        props["metadata"]["namespace"] = service_namespace
    return [{"type": k8s.LEADER_WORKER_SET, "name": "vllm", "props": group},
            {"type": SERVICE, "name": "vllm-svc", "props": props}]


def test_a_service_with_the_group_name_is_caught():
    [(message, urn)] = validate_stack("group-subdomain-free", _group_stack())
    assert message.startswith(f"Service '{NS}/{RELEASE}' has the name of LeaderWorkerSet "
                              f"'{NS}/{RELEASE}'")
    assert urn == urn_of(SERVICE, "vllm-svc")


def test_a_service_of_another_name_or_namespace_leaves_the_subdomain_free():
    assert validate_stack("group-subdomain-free", _group_stack(service_name="other")) == []
    assert validate_stack("group-subdomain-free", _group_stack(service_namespace="other")) == []


def test_an_unnamed_group_has_no_subdomain_to_take():
    resources = _group_stack()
    del resources[0]["props"]["metadata"]["name"]
    del resources[1]["props"]["metadata"]["name"]
    assert validate_stack("group-subdomain-free", resources) == []


# --- every finding names its object ---------------------------------------------------------

def _unnamed(props: dict) -> dict:
    del props["metadata"]["name"]
    return props


def test_findings_name_each_object_by_namespace_and_name():
    [(message, _)] = validate_stack("min-replicas", _replicas(1), {"minReplicas": 2})
    assert message.startswith(f"Deployment '{NS}/{RELEASE}' may run only 1 replica(s)")
    [(message, _)] = validate_stack("pdb-for-multi-replica", without(_replicas(2), k8s.PDB))
    assert message.startswith(f"Deployment '{NS}/{RELEASE}' can run 2 replicas")
    [(message, _)] = validate_stack("pdb-allows-drain",
                                    replace(stack(), k8s.PDB, _blocking(maxUnavailable=0.0)))
    assert f"eviction of Deployment '{NS}/{RELEASE}''s pods" in message
    [(message, _)] = validate_stack("network-policy-per-namespace",
                                    without(stack(), k8s.NETWORK_POLICY))
    assert message.startswith(f"Deployment '{NS}/{RELEASE}' runs in namespace")
    public = service()
    public["spec"]["type"] = "LoadBalancer"
    [(message, _)] = validate_stack("no-public-engine-service", replace(stack(), SERVICE, public))
    assert message.startswith(f"Service '{NS}/{RELEASE}' is of type LoadBalancer")
    [(message, _)] = validate_stack("autoscaler-bounds-and-target",
                                    _with(stack(), k8s.HPA, hpa(), "vllm-hpa"))
    assert message.startswith(f"Deployment '{NS}/{RELEASE}' is scaled by")
    [(message, _)] = validate_stack("inference-service-scraped",
                                    without(stack(), k8s.SERVICE_MONITOR))
    assert message.startswith(f"Service '{NS}/{RELEASE}' serves inference")


def test_objects_pulumi_names_are_named_by_their_pulumi_name():
    resources = replace(_replicas(2), DEPLOYMENT, _unnamed(_replicas(2)[0]["props"]))
    resources = replace(resources, k8s.PDB, _unnamed(_blocking(maxUnavailable=0.0)))
    [(message, _)] = validate_stack("min-replicas", resources, {"minReplicas": 3})
    assert message.startswith("Deployment 'vllm' (Pulumi name) may run only 2")
    [(message, _)] = validate_stack("pdb-for-multi-replica", without(resources, k8s.PDB))
    assert message.startswith("Deployment 'vllm' (Pulumi name) can run 2")
    [(message, _)] = validate_stack("pdb-allows-drain", resources)
    assert message.startswith("PodDisruptionBudget 'vllm-pdb' (Pulumi name) allows no voluntary "
                              "eviction of Deployment 'vllm' (Pulumi name)'s pods")
    [(message, _)] = validate_stack("network-policy-per-namespace",
                                    without(resources, k8s.NETWORK_POLICY))
    assert message.startswith("Deployment 'vllm' (Pulumi name) runs in namespace")
    public = _unnamed(service())
    public["spec"]["type"] = "LoadBalancer"
    [(message, _)] = validate_stack("no-public-engine-service", replace(resources, SERVICE, public))
    assert message.startswith("Service 'vllm-svc' (Pulumi name) is of type LoadBalancer and "
                              "selects Deployment 'vllm' (Pulumi name),")
    [(message, _)] = validate_stack("inference-service-scraped",
                                    replace(without(stack(), k8s.SERVICE_MONITOR), SERVICE,
                                            _unnamed(service())))
    assert message.startswith("Service 'vllm-svc' (Pulumi name) serves inference")
    monitor = _unnamed(service_monitor())
    monitor["spec"]["endpoints"][0]["port"] = "metrics"
    [(message, _)] = validate_stack("inference-service-scraped",
                                    replace(stack(), k8s.SERVICE_MONITOR, monitor))
    assert message.startswith("ServiceMonitor 'vllm-sm' (Pulumi name) selects Service "
                              f"'{NS}/{RELEASE}'")
    scaler = _unnamed(_scaler(minReplicaCount=5.0))
    [(message, _)] = validate_stack("autoscaler-bounds-and-target",
                                    replace(stack(), k8s.SCALED_OBJECT, scaler))
    assert message.startswith("ScaledObject 'vllm-keda' (Pulumi name) has a minimum of 5")


# --- every object of a kind is looked at, not only the first ones ---------------------------

def _inference_service(name: str, **annotations) -> dict:
    props = service()
    props["metadata"]["name"] = name
    if annotations:
        props["metadata"]["annotations"] = annotations
    return props


def test_a_blocking_pdb_after_a_harmless_one_is_caught():
    resources = _with(stack(), k8s.PDB, _blocking(maxUnavailable=0.0), "blocking-pdb")
    [(message, urn)] = validate_stack("pdb-allows-drain", resources)
    assert urn == urn_of(k8s.PDB, "blocking-pdb")


def test_a_public_service_after_a_cluster_ip_one_is_caught():
    public = service()
    public["metadata"]["name"] = "public"
    public["spec"]["type"] = "NodePort"
    [(message, urn)] = validate_stack("no-public-engine-service",
                                      _with(stack(), SERVICE, public, "public-svc"))
    assert urn == urn_of(SERVICE, "public-svc")


@pytest.mark.parametrize("first", ["router", "annotated", "monitored", "wrong-port"])
def test_an_unscraped_inference_service_after_another_service_is_caught(first):
    """The stack's Service is scraped by nothing (the monitor selects only the Service listed
    before it); whatever that first Service is, the unscraped one is still reported."""
    if first == "router":
        ahead = {**service(), "metadata": {"name": "router", "namespace": NS,
                                           "labels": {"app": "router"}}}
    elif first == "annotated":
        ahead = _inference_service("annotated", **{"prometheus.io/scrape": "true"})
    else:
        ahead = _inference_service(first)
    ahead["metadata"]["labels"]["instance-name"] = first
    monitor = service_monitor()
    monitor["spec"]["selector"] = {"matchLabels": {"instance-name": first}}
    if first == "wrong-port":
        monitor["spec"]["endpoints"][0]["port"] = "metrics"
    resources = [{"type": SERVICE, "name": "ahead-svc", "props": ahead}] + replace(
        stack(), k8s.SERVICE_MONITOR, monitor)
    findings = validate_stack("inference-service-scraped", resources)
    [unscraped] = [m for m, urn in findings if urn == urn_of(SERVICE, "vllm-svc")]
    assert unscraped.startswith(f"Service '{NS}/{RELEASE}' serves inference but nothing")


def test_a_taken_subdomain_after_a_free_one_is_caught():
    free = leader_worker_set()
    free["metadata"]["name"] = "free"
    resources = [{"type": k8s.LEADER_WORKER_SET, "name": "free", "props": free}] + _group_stack()
    [(_, urn)] = validate_stack("group-subdomain-free", resources)
    assert urn == urn_of(SERVICE, "vllm-svc")


# --- workloads without a pod template -------------------------------------------------------

def test_an_inference_workload_without_a_pod_template_has_no_pod_labels():
    props = deployment()
    del props["spec"]["template"]
    resources = replace(stack(), DEPLOYMENT, props)
    [(message, _)] = validate_stack("network-policy-per-namespace", resources)
    assert message.startswith(f"Deployment '{NS}/{RELEASE}' runs in namespace")
    everything = network_policy()
    everything["spec"]["podSelector"] = {}
    assert validate_stack("network-policy-per-namespace",
                          replace(resources, k8s.NETWORK_POLICY, everything)) == []


# --- an autoscaler without a target name ----------------------------------------------------

def test_an_autoscaler_naming_no_target_does_not_scale_an_auto_named_workload():
    workload = deployment()
    del workload["metadata"]["name"]
    scaler = _scaler(minReplicaCount=1.0)
    del scaler["spec"]["scaleTargetRef"]["name"]
    resources = replace(replace(stack(), DEPLOYMENT, workload), k8s.SCALED_OBJECT, scaler)
    [(message, urn)] = validate_stack("autoscaler-bounds-and-target", resources)
    assert message.startswith(f"ScaledObject '{NS}/{RELEASE}' scales Deployment (no "
                              f"scaleTargetRef.name) in namespace '{NS}', which this stack "
                              "does not create")
    assert urn == urn_of(k8s.SCALED_OBJECT, "vllm-keda")
    # The workload's own spec.replicas (2) counts, not the stray autoscaler's minimum of 1.
    assert validate_stack("min-replicas", resources, {"minReplicas": 2}) == []
