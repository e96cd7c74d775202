"""model-image-by-digest and cache-pod-on-ready-node (policy/model_delivery_checks.py): each at
its boundary, on the synthetic stack's Deployment (tests/policy/conftest.py)."""

from __future__ import annotations

import pytest

from facts.conventions import LABEL_MODEL_CACHE_PREFIX
from policy import k8s
from tests.policy.conftest import DEPLOYMENT, NS, RELEASE, deployment, validate_resource

READY = LABEL_MODEL_CACHE_PREFIX + "79504a"
GPU = {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-H100-80GB-HBM3"]}
CACHE = {"name": "model", "hostPath": {"path": "/var/lib/vllm-models", "type": "Directory"}}


def _with(volume, *terms):
    props = deployment()
    spec = props["spec"]["template"]["spec"]
    spec["volumes"] = [volume if v["name"] == "model" else v for v in spec["volumes"]]
    if terms:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": list(t)} for t in terms]}}}
    return props


def _ready(operator="In", values=("ready",)):
    return {"key": READY, "operator": operator, **({"values": list(values)} if values else {})}


@pytest.mark.parametrize("terms,caught", [
    (((GPU, _ready()),), False),
    (((GPU, _ready("Exists", ())),), False),
    ((), True),                                            # no affinity at all
    (((GPU,),), True),                                     # GPU only: any GPU node
    (((GPU, _ready()), (GPU,)), True),                     # terms are ORed: one lets it out
    (((GPU, _ready("NotIn")),), True),
    (((GPU, _ready(values=("notready",))),), True),       # a value the stager never writes
    (((GPU, _ready(values=("ready", "staging"))),), True),
    (((GPU, {"key": "other.io/model-x", "operator": "In", "values": ["ready"]}),), True),
], ids=["ready-in", "ready-exists", "no-affinity", "gpu-only", "one-term-without",
        "not-in", "other-value", "ready-or-other", "foreign-label"])
def test_a_cache_pod_must_require_the_ready_label_in_every_term(terms, caught):
    messages = validate_resource("cache-pod-on-ready-node", DEPLOYMENT, _with(CACHE, *terms))
    assert bool(messages) is caught
    if caught:
        assert "volume 'model'" in messages[0] and LABEL_MODEL_CACHE_PREFIX in messages[0]


def test_a_pod_on_a_claim_needs_no_cache_label():
    assert validate_resource("cache-pod-on-ready-node", DEPLOYMENT, deployment()) == []


@pytest.mark.parametrize("reference,caught", [
    ("registry.example.com/models/m@sha256:" + "ab" * 32, False),
    ("registry.example.com/models/m:v1@sha256:" + "ab" * 32, False),
    ("registry.example.com/models/m:v1", True),
    ("registry.example.com/models/m", True),
    ("registry.example.com:5000/models/m:latest", True),
])
def test_a_model_image_volume_must_be_referenced_by_digest(reference, caught):
    props = _with({"name": "model", "image": {"reference": reference}})
    messages = validate_resource("model-image-by-digest", DEPLOYMENT, props)
    assert bool(messages) is caught
    if caught:
        assert "storage.image.reference" in messages[0] and messages[0].endswith(".")


def test_the_message_names_the_workload():
    [cache] = validate_resource("cache-pod-on-ready-node", DEPLOYMENT, _with(CACHE))
    [image] = validate_resource("model-image-by-digest", DEPLOYMENT, _with(
        {"name": "model", "image": {"reference": "registry.example.com/models/m:v1"}}))
    for message in (cache, image):
        assert message.startswith(f"Deployment '{NS}/{RELEASE}'")


def test_every_template_of_a_group_is_checked():
    """A LeaderWorkerSet whose leader reads a claim and whose workers read the node cache
    without the ready label: the workers' template is judged too."""
    template = deployment()["spec"]["template"]
    worker = _with(CACHE)["spec"]["template"]
    group = {"metadata": deployment()["metadata"], "spec": {"leaderWorkerTemplate": {
        "size": 2, "leaderTemplate": template, "workerTemplate": worker}}}
    [message] = validate_resource("cache-pod-on-ready-node", k8s.LEADER_WORKER_SET, group)
    assert "(worker template)" in message
