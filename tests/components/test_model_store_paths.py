"""The model store on the image and nodeCache paths, as the program registers it (the staging
stack under mocks, switched onto each path): what ModelStore creates, what the engine pod
mounts and where it may run, and that every object is valid for the API server
(kubernetes-validate, strict) and passes the policy pack."""

from __future__ import annotations

import pytest
import yaml

from facts.conventions import LABEL_MODEL_CACHE_PREFIX
from policy import offline
from tests.components.conftest import MODEL_IMAGE
from tests.manifest_checks import NEWEST_VERSION, SEED_VERSION, builtin_problems, is_builtin
from tests.policy.conftest import CONFIGS, recorded_resources
from tools import render

STORE_PREFIX = "staging-deepseek-r1-7b"


def _pod(run) -> dict:
    return run.workload().inputs["spec"]["template"]["spec"]


def _engine(run) -> dict:
    return next(c for c in _pod(run)["containers"] if c["name"] == "vllm")


def _children(run, component: str) -> set[str]:
    store = next(r for r in run.resources if r.type.endswith(":" + component))
    return {r.type.rsplit(":", 2)[-2] + ":" + r.kind for r in run.resources
            if r.options.parent == store.key}


def test_the_image_path_creates_no_claim_and_no_download(path_runs):
    assert _children(path_runs["image"], "ModelStore") == set()


def test_the_engine_mounts_the_model_image_by_digest_read_only(path_runs):
    run = path_runs["image"]
    [volume] = [v for v in _pod(run)["volumes"] if v["name"] == "model"]
    assert volume == {"name": "model", "image": {"reference": MODEL_IMAGE,
                                                 "pullPolicy": "IfNotPresent"}}
    [mount] = [m for m in _engine(run)["volumeMounts"] if m["name"] == "model"]
    assert mount == {"name": "model", "mountPath": "/models", "readOnly": True}
    assert "subPath" not in mount                  # kubelets before 1.33 refuse it
    assert _engine(run)["args"][0] == "/models/weights"
    assert {"name": "model-registry"} in _pod(run)["imagePullSecrets"]
    assert "initContainers" not in _pod(run)       # nothing to wait for


def test_the_image_volume_is_known_to_the_api_from_1_31_and_unknown_before(path_runs):
    """kubernetes-validate's built-in schemas (the API's OpenAPI) first know `volumes[].image`
    in 1.31 (ImageVolume alpha); the floor a cluster needs is the feature gate's (load20's
    clusterVersions.kubernetes check), the schema only says when the field exists."""
    workload = path_runs["image"].workload().inputs
    for version in ("1.31", "1.33", NEWEST_VERSION):
        assert builtin_problems(workload, version) == [], version
    assert any("image" in p for p in builtin_problems(workload, "1.30"))


def test_the_node_cache_path_creates_the_stager_and_its_rbac(path_runs):
    assert _children(path_runs["nodeCache"], "ModelStore") == {
        "core/v1:ServiceAccount", "rbac.authorization.k8s.io/v1:ClusterRole",
        "rbac.authorization.k8s.io/v1:ClusterRoleBinding", "networking.k8s.io/v1:NetworkPolicy",
        "apps/v1:DaemonSet"}
    names = {r.name for r in path_runs["nodeCache"].resources if r.type.startswith("kubernetes:")
             and r.name.startswith(STORE_PREFIX + "-cache")}
    assert names == {f"{STORE_PREFIX}-cache{s}" for s in
                     ("", "-sa", "-role", "-binding", "-netpol")}


def test_the_stager_may_only_patch_nodes(path_runs):
    run = path_runs["nodeCache"]
    role = run.one("rbac.authorization.k8s.io/v1:ClusterRole").inputs
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]}]
    binding = run.one("ClusterRoleBinding").inputs
    account = run.one("core/v1:ServiceAccount").inputs
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": "llm-staging"}]
    assert role["metadata"]["name"].startswith("llm-staging-")   # cluster-scoped: one per namespace


def test_the_stager_runs_on_the_cache_nodes_unprivileged_with_a_projected_token(path_runs):
    run = path_runs["nodeCache"]
    daemon = run.one("apps/v1:DaemonSet").inputs
    spec = daemon["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"cache.example.com/nvme": "true"}
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == run.one("core/v1:ServiceAccount").inputs["metadata"]["name"]
    [cache] = [v for v in spec["volumes"] if v["name"] == "cache"]
    assert cache["hostPath"] == {"path": "/var/lib/vllm-models", "type": "Directory"}
    [api] = [v for v in spec["volumes"] if v["name"] == "api"]
    assert {s.get("serviceAccountToken", {}).get("path") for s in api["projected"]["sources"]} \
        >= {"token"}
    [stage] = spec["initContainers"]
    assert stage["command"][:2] == ["sh", "-c"] and "keep=3" in stage["command"][2]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert all(c["securityContext"]["readOnlyRootFilesystem"] for c in
               [*spec["initContainers"], *spec["containers"]])


def test_the_engine_reads_the_cache_read_only_only_where_it_is_ready(path_runs):
    run = path_runs["nodeCache"]
    pod = _pod(run)
    [volume] = [v for v in pod["volumes"] if v["name"] == "model"]
    assert volume["hostPath"] == {"path": "/var/lib/vllm-models", "type": "Directory"}
    [mount] = [m for m in _engine(run)["volumeMounts"] if m["name"] == "model"]
    assert mount["readOnly"] is True
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"]
    for term in terms:
        [ready] = [e for e in term["matchExpressions"]
                   if e["key"].startswith(LABEL_MODEL_CACHE_PREFIX)]
        assert ready["operator"] == "In" and ready["values"] == ["ready"]
    stage = run.one("apps/v1:DaemonSet").inputs["spec"]["template"]["spec"]["initContainers"][0]
    assert ready["key"] in stage["command"][2]    # the label the stager writes
    assert _engine(run)["args"][0] == (
        "/models/DeepSeek-R1-Distill-Qwen-7B/916b56a44061fd5cd7d6a8fb632557ed4f724f60")


def test_pulumi_waits_for_every_node_to_stage_within_the_download_budget(path_runs):
    daemon = path_runs["nodeCache"].one("apps/v1:DaemonSet")
    assert daemon.options.custom_timeouts["create"] == daemon.options.custom_timeouts["update"]
    store = next(r.key for r in path_runs["nodeCache"].resources if r.type.endswith(":ModelStore"))
    assert store in path_runs["nodeCache"].workload().options.depends_on


@pytest.mark.parametrize("mode", ["image", "nodeCache"])
def test_every_rendered_object_of_the_store_and_engine_is_valid(path_runs, mode):
    """What `python -m tools.render` writes, strict built-in schemas: on the seeds' release
    and the newest (the image volume from 1.33, the release whose ImageVolume is beta)."""
    files = render.render_run(path_runs[mode], "staging")
    versions = ("1.33", NEWEST_VERSION) if mode == "image" else (SEED_VERSION, NEWEST_VERSION)
    checked = 0
    for text in files.values():
        obj = next(doc for doc in yaml.safe_load_all(text) if doc)
        if not is_builtin(obj["apiVersion"], obj["kind"]):
            continue
        if obj["kind"] in ("Deployment", "DaemonSet", "ServiceAccount", "ClusterRole",
                           "ClusterRoleBinding", "NetworkPolicy"):
            checked += 1
            for version in versions:
                assert builtin_problems(obj, version) == [], (obj["metadata"]["name"], version)
    assert checked >= (3 if mode == "image" else 8)


@pytest.mark.parametrize("mode", ["image", "nodeCache"])
def test_each_path_passes_every_mandatory_policy(path_runs, mode):
    violations = offline.run(recorded_resources(path_runs[mode]), CONFIGS["staging"])
    assert offline.mandatory(violations) == []


def test_a_stager_is_ready_only_once_its_node_holds_the_revision_and_keeps_it_staged(path_runs):
    spec = path_runs["nodeCache"].one("apps/v1:DaemonSet").inputs["spec"]["template"]["spec"]
    [stage], [keep] = spec["initContainers"], spec["containers"]
    marker = ("/cache/DeepSeek-R1-Distill-Qwen-7B/916b56a44061fd5cd7d6a8fb632557ed4f724f60/"
              ".staged")
    assert keep["readinessProbe"]["exec"]["command"] == ["test", "-f", marker]
    assert keep["livenessProbe"]["exec"]["command"] == ["test", "-f", marker]
    assert keep["command"][-1] == stage["command"][-1]          # the same staging script, again


def _namespace_labels(run) -> dict:
    [namespace] = [r for r in run.resources if r.kind == "Namespace"]
    return namespace.inputs["metadata"]["labels"]


def test_the_node_cache_stacks_namespace_admits_the_hostpath_its_pods_mount(path_runs):
    """Pod Security's baseline and restricted levels forbid hostPath volumes
    (pod-security-admission policy/check_hostPathVolumes.go): only privileged admits the
    stager's and the engine's; restricted still warns and audits everything else."""
    labels = _namespace_labels(path_runs["nodeCache"])
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert any("hostPath" in volume for volume in _pod(path_runs["nodeCache"])["volumes"])


def test_an_image_volume_stacks_namespace_stays_restricted(path_runs):
    """Image volumes are allowed under restricted (the level's volume list includes `image`
    from Kubernetes 1.33, which the image path already requires)."""
    labels = _namespace_labels(path_runs["image"])
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert "pod-security.kubernetes.io/warn" not in labels
