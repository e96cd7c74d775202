"""The workload rules (policy/workload_checks.py) case by case: service links off, no Service
named vllm, replicas spread across nodes, weights pinned to a commit.

Builders and drivers come from tests/policy/conftest.py; each test changes one thing of a
compliant object and states what the rule must then say (or not say).
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
    SHA,
    deployment,
    download_job,
    leader_worker_set,
    group_template,
    pod,
    service,
    validate_resource,
)

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"


def _unspread(props: dict) -> dict:
    del pod(props)["topologySpreadConstraints"]
    return props


def _anti_affinity(kind: str, key: str, selects=SELECTOR) -> dict:
    term = {"topologyKey": key, "labelSelector": {"matchLabels": dict(selects)}}
    if kind == "preferred":
        term = {"weight": 100.0, "podAffinityTerm": term}
    return {"podAntiAffinity": {f"{kind}DuringSchedulingIgnoredDuringExecution": [term]}}


# --- service-links-disabled -----------------------------------------------------------------

def test_service_links_turned_on_explicitly_are_caught_with_the_value():
    props = deployment()
    pod(props)["enableServiceLinks"] = True
    [message] = validate_resource("service-links-disabled", DEPLOYMENT, props)
    assert f"Deployment '{NS}/{RELEASE}' leaves enableServiceLinks True;" in message


def test_service_links_are_judged_on_every_template_of_a_group():
    group = leader_worker_set()
    del group_template(group, "worker")["spec"]["enableServiceLinks"]
    [message] = validate_resource("service-links-disabled", k8s.LEADER_WORKER_SET, group)
    assert "(worker template) leaves enableServiceLinks unset" in message


def test_service_links_of_non_inference_pods_are_not_judged():
    props = download_job()
    assert "enableServiceLinks" not in props["spec"]["template"]["spec"]
    assert validate_resource("service-links-disabled", k8s.JOB, props) == []


# --- no-service-named-vllm ------------------------------------------------------------------

def test_only_a_service_named_vllm_is_refused():
    props = deployment()
    props["metadata"]["name"] = "vllm"
    assert validate_resource("no-service-named-vllm", DEPLOYMENT, props) == []
    renamed = service()
    renamed["metadata"]["name"] = "prod-r1-vllm"
    assert validate_resource("no-service-named-vllm", SERVICE, renamed) == []


# --- replicas-spread ------------------------------------------------------------------------

OWN = {"matchLabels": dict(SELECTOR)}
OTHER = {"matchLabels": {"app": "other"}}


@pytest.mark.parametrize("spread, passes", [
    ({"topologySpreadConstraints": [{"maxSkew": 1.0, "topologyKey": ZONE,
                                     "labelSelector": OWN}]}, False),
    ({"topologySpreadConstraints": [{"maxSkew": 1.0, "topologyKey": ZONE, "labelSelector": OWN},
                                    {"maxSkew": 1.0, "topologyKey": HOSTNAME,
                                     "labelSelector": OWN}]}, True),
    # A constraint counts only the pods its selector matches: none, or other pods, spreads
    # nothing.
    ({"topologySpreadConstraints": [{"maxSkew": 1.0, "topologyKey": HOSTNAME}]}, False),
    ({"topologySpreadConstraints": [{"maxSkew": 1.0, "topologyKey": HOSTNAME,
                                     "labelSelector": OTHER}]}, False),
    ({"affinity": _anti_affinity("required", HOSTNAME, {"app": "other"})}, False),
    ({"affinity": _anti_affinity("preferred", HOSTNAME, {"app": "other"})}, False),
    ({"affinity": _anti_affinity("required", HOSTNAME)}, True),
    ({"affinity": _anti_affinity("required", ZONE)}, False),
    ({"affinity": _anti_affinity("preferred", HOSTNAME)}, True),
    ({"affinity": _anti_affinity("preferred", ZONE)}, False),
    ({"affinity": {"podAffinity": _anti_affinity("required", HOSTNAME)["podAntiAffinity"]}},
     False),                                  # affinity pulls pods together, it does not spread
])
def test_only_a_hostname_spread_or_anti_affinity_counts(spread, passes):
    props = _unspread(deployment())
    pod(props).update(spread)
    messages = validate_resource("replicas-spread", DEPLOYMENT, props)
    assert (messages == []) is passes, messages


def test_a_single_replica_needs_no_spread():
    props = _unspread(deployment())
    props["spec"]["replicas"] = 1.0
    assert validate_resource("replicas-spread", DEPLOYMENT, props) == []
    props["spec"]["replicas"] = 3.0
    [message] = validate_resource("replicas-spread", DEPLOYMENT, props)
    assert "runs 3 replicas with nothing spreading them" in message


def test_an_autoscaled_workload_is_advised_to_spread():
    props = _unspread(deployment())
    del props["spec"]["replicas"]
    [message] = validate_resource("replicas-spread", DEPLOYMENT, props)
    assert f"Deployment '{NS}/{RELEASE}' runs an autoscaled number of replicas" in message


def test_kinds_without_replicas_are_not_advised_to_spread():
    props = _unspread(deployment())
    del props["spec"]["replicas"]
    assert validate_resource("replicas-spread", k8s.JOB, props) == []
    assert validate_resource("replicas-spread", k8s.DAEMON_SET, props) == []


def test_a_group_spreads_by_its_leaders():
    group = leader_worker_set()
    group["spec"]["replicas"] = 2.0
    del group_template(group, "worker")["spec"]["topologySpreadConstraints"]
    assert validate_resource("replicas-spread", k8s.LEADER_WORKER_SET, group) == []
    del group_template(group, "leader")["spec"]["topologySpreadConstraints"]
    [message] = validate_resource("replicas-spread", k8s.LEADER_WORKER_SET, group)
    assert "(leader template) runs 2 replicas" in message


@pytest.mark.parametrize("name, passes", [(RELEASE, True), ("another-group", False)])
def test_a_groups_anti_affinity_may_select_the_name_label_its_controller_adds(name, passes):
    # LWS labels every pod leaderworkerset.sigs.k8s.io/name=<its metadata.name>; the template
    # does not carry it.
    group = leader_worker_set()
    group["spec"]["replicas"] = 2.0
    leader = group_template(group, "leader")["spec"]
    del leader["topologySpreadConstraints"]
    assert conv.LWS_NAME_LABEL not in group["spec"]["leaderWorkerTemplate"]["leaderTemplate"][
        "metadata"].get("labels", {})
    leader["affinity"] = _anti_affinity("required", HOSTNAME, {conv.LWS_NAME_LABEL: name})
    messages = validate_resource("replicas-spread", k8s.LEADER_WORKER_SET, group)
    assert (messages == []) is passes, messages


def test_spread_is_only_advised_for_inference_workloads():
    props = _unspread(deployment())
    props["metadata"]["labels"] = {"app": "router"}
    props["spec"]["template"]["metadata"]["labels"] = {"app": "router"}
    assert validate_resource("replicas-spread", DEPLOYMENT, props) == []


# --- model-revision-pinned ------------------------------------------------------------------

def test_a_missing_model_revision_is_advised():
    props = deployment()
    del props["metadata"]["annotations"][conv.ANN_MODEL_REVISION]
    [message] = validate_resource("model-revision-pinned", DEPLOYMENT, props)
    assert f"Deployment '{NS}/{RELEASE}' does not state its model revision" in message


def test_a_revision_on_the_pod_template_counts():
    props = deployment()
    revision = props["metadata"]["annotations"].pop(conv.ANN_MODEL_REVISION)
    props["spec"]["template"]["metadata"]["annotations"] = {conv.ANN_MODEL_REVISION: revision}
    assert validate_resource("model-revision-pinned", DEPLOYMENT, props) == []


@pytest.mark.parametrize("revision, pinned", [
    (SHA, True),
    (SHA[:39], False),              # a short SHA can become ambiguous
    (SHA + "0", False),
    (SHA.upper(), False),           # Hugging Face commit ids are lower-case hex
    ("v1.0", False),
])
def test_only_a_full_commit_sha_pins_the_weights(revision, pinned):
    props = deployment()
    props["metadata"]["annotations"][conv.ANN_MODEL_REVISION] = revision
    messages = validate_resource("model-revision-pinned", DEPLOYMENT, props)
    assert (messages == []) is pinned, messages
    if not pinned:
        assert f"serves model revision '{revision}', a moving reference" in messages[0]


def test_the_revision_of_non_inference_objects_is_not_judged():
    assert validate_resource("model-revision-pinned", k8s.JOB, download_job()) == []
    assert validate_resource("model-revision-pinned", SERVICE, service()) == []


def test_an_object_pulumi_names_is_named_by_its_pulumi_name():
    props = deployment()
    del props["metadata"]["name"]
    props["metadata"]["annotations"][conv.ANN_MODEL_REVISION] = "main"
    [message] = validate_resource("model-revision-pinned", DEPLOYMENT, props, name="engine")
    assert message.startswith("Deployment 'engine' (Pulumi name) serves model revision 'main'")
    del props["metadata"]["annotations"][conv.ANN_MODEL_REVISION]
    [message] = validate_resource("model-revision-pinned", DEPLOYMENT, props, name="engine")
    assert message.startswith("Deployment 'engine' (Pulumi name) does not state")
