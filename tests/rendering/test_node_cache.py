"""The node cache's pieces as plain data (rendering/node_cache.py) and the pod template's
model-store overlay (rendering/pod.py `model_store_overlay`). The staging script itself runs
under sh in tests/rendering/test_node_cache_staging.py."""

from __future__ import annotations

import re

from facts.conventions import LABEL_MODEL_CACHE_PREFIX
from rendering import node_cache, pod

HOST = "/var/lib/vllm-models"


def test_the_ready_label_names_repository_revision_and_directory_and_fits_a_label_name():
    label = node_cache.ready_label("org/m", "rev1", HOST)
    assert label == node_cache.ready_label("org/m", "rev1", HOST)       # stable across runs
    assert len({label, node_cache.ready_label("org/m", "rev2", HOST),
                node_cache.ready_label("org/n", "rev1", HOST),
                node_cache.ready_label("org/m", "rev1", "/mnt/nvme")}) == 4
    prefix, name = label.split("/")
    assert label.startswith(LABEL_MODEL_CACHE_PREFIX)
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", prefix) and len(name) <= 63


def _spec(terms: int) -> dict:
    term = {"matchExpressions": [{"key": pod.GPU_PRODUCT_LABEL, "operator": "In",
                                  "values": ["NVIDIA-L4"]}]}
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [dict(term) for _ in range(terms)]}}},
        "volumes": [{"name": "shm", "emptyDir": {}},
                    {"name": "model", "persistentVolumeClaim": {"claimName": "c"}}]}


class _Inputs:
    model_volume = node_cache.engine_volume(HOST)
    required_node_labels = {"vllm-serving.dev/model-abc123": "ready"}


def test_the_ready_label_joins_every_node_selector_term():
    spec = pod.model_store_overlay(_spec(2), _Inputs())
    for term in spec["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]:
        assert term["matchExpressions"][-1] == {"key": "vllm-serving.dev/model-abc123",
                                                "operator": "In", "values": ["ready"]}
        assert term["matchExpressions"][0]["key"] == pod.GPU_PRODUCT_LABEL


def test_only_the_model_volume_is_swapped():
    spec = pod.model_store_overlay(_spec(1), _Inputs())
    assert spec["volumes"] == [{"name": "shm", "emptyDir": {}},
                               {"name": "model", "hostPath": {"path": HOST, "type": "Directory"}}]


def test_without_a_store_of_its_own_the_pod_is_unchanged():
    class Plain:
        model_volume = None
        required_node_labels: dict = {}
    assert pod.model_store_overlay(_spec(1), Plain()) == _spec(1)


def test_the_stager_reaches_only_dns_https_and_the_api_server():
    spec = node_cache.stager_network_policy_spec({"a": "b"})
    assert spec["ingress"] == [] and spec["policyTypes"] == ["Ingress", "Egress"]
    ports = sorted((p["protocol"], p["port"]) for rule in spec["egress"] for p in rule["ports"])
    assert ports == [("TCP", 53), ("TCP", 443), ("TCP", 6443), ("UDP", 53)]
    assert all("to" not in rule for rule in spec["egress"])


def test_a_new_revision_rolls_every_stager_at_once():
    spec = node_cache.daemon_set_spec({"a": "b"}, {"containers": []})
    assert spec["updateStrategy"] == {"type": "RollingUpdate",
                                      "rollingUpdate": {"maxUnavailable": "100%"}}
    assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]


def test_the_label_writer_only_patches_labels_of_its_own_node():
    script = node_cache.label_script()
    assert "method='PATCH'" in script and "/api/v1/nodes/{node}" in script
    assert "merge-patch+json" in script and "'metadata': {'labels'" in script
    assert node_cache.labeler_rules() == [{"apiGroups": [""], "resources": ["nodes"],
                                           "verbs": ["patch"]}]
