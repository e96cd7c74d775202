"""storage.mode objectStore on a real stack file (staging, the 7B): the program renders the
engine streaming from the bucket — no claim, no download Job — and the policy pack passes it;
without credentials the pack's streamer rule fails it."""

from __future__ import annotations

import pytest

from policy import offline
from tests.harness import run_stack
from tests.k8s_helpers import vllm_container

DEPLOYMENT, PVC, JOB = "apps/v1:Deployment", "core/v1:PersistentVolumeClaim", "batch/v1:Job"
NETPOL = "networking.k8s.io/v1:NetworkPolicy"


def _streaming(**store) -> dict:
    return {"storage": {"mode": "objectStore", "pvc": None, "objectStore": {
        "uri": "s3://models/deepseek-r1-distill-qwen-7b/", **store}},
            "engine": {"loadFormat": "runai_streamer"}}


@pytest.fixture(scope="module")
def streaming():
    run = run_stack("staging", _streaming(credentialsSecret="model-reader",
                                          endpoint="https://minio.internal:9000"))
    assert run.error is None, run.error
    return run


def test_the_engine_serves_the_bucket_with_the_streamer_and_mounts_no_model(streaming):
    deployment = streaming.engine(DEPLOYMENT)
    container = vllm_container(deployment)
    assert container["args"][0] == "s3://models/deepseek-r1-distill-qwen-7b"
    assert "model" not in [v["name"] for v in deployment.inputs["spec"]["template"]["spec"]
                           ["volumes"]]
    env = {e["name"]: e for e in container["env"]}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "model-reader"
    assert env["AWS_ENDPOINT_URL"]["value"] == "https://minio.internal:9000"


def test_nothing_is_stored_or_downloaded(streaming):
    assert streaming.of_type(PVC) == [] and streaming.of_type(JOB) == []


def test_the_engine_fence_lets_the_streamer_reach_the_endpoint(streaming):
    fence = streaming.engine(NETPOL)
    assert {"ports": [{"protocol": "TCP", "port": 9000}]} in fence.inputs["spec"]["egress"]


def test_the_policy_pack_passes_the_streamer_with_credentials_and_fails_it_without():
    def streamer_findings(run) -> list:
        resources = [{"type": r.type, "name": r.name, "props": r.inputs} for r in run.resources]
        return [v for v in offline.run(resources, {})
                if v.policy == "streamer-has-credentials"]

    assert streamer_findings(run_stack("staging", _streaming(credentialsSecret="r"))) == []
    assert len(streamer_findings(run_stack("staging", _streaming()))) == 1


@pytest.mark.parametrize("store", [
    {"credentialsSecret": "model-reader", "endpoint": "https://minio.internal:9000",
     "region": "eu-west-1", "concurrency": 32},
    {"uri": "gs://models/deepseek-r1-distill-qwen-7b", "credentialsSecret": "gcs-key"},
], ids=["s3-endpoint", "gs-key-file"])
def test_every_object_of_a_streaming_stack_validates(store):
    """Built-in kinds with kubernetes-validate (strict) at the seeds' and the newest bundled
    release, custom resources against schemas/ (tests/manifest_checks.py)."""
    import yaml

    from tests.manifest_checks import object_problems
    from tools import render

    run = run_stack("staging", _streaming(**store))
    assert run.error is None, run.error
    texts = render.render_run(run, "staging").values()
    problems = {text.split("\n", 1)[0]: object_problems(next(yaml.safe_load_all(text)))
                for text in texts}
    assert {name: found for name, found in problems.items() if found} == {}


def test_every_pod_of_a_multi_node_group_streams_with_the_credentials():
    """r1-h100's group: leader and workers launch `vllm serve <uri>` with the streamer's env."""
    run = run_stack("r1-h100", {"storage": {"mode": "objectStore", "nfs": None, "objectStore": {
        "uri": "s3://models/deepseek-r1", "credentialsSecret": "model-reader"}},
        "engine": {"loadFormat": "runai_streamer"}})
    assert run.error is None, run.error
    group = run.one("leaderworkerset.x-k8s.io/v1:LeaderWorkerSet").inputs["spec"][
        "leaderWorkerTemplate"]
    for role in ("leaderTemplate", "workerTemplate"):
        spec = group[role]["spec"]
        container = spec["containers"][0]
        assert "vllm serve s3://models/deepseek-r1 " in container["command"][2], role
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= {e["name"] for e in
                                                                   container["env"]}, role
        assert "model" not in [v["name"] for v in spec["volumes"]], role


def test_a_workload_identity_runs_the_engine_as_its_service_account_and_passes_the_pack():
    """storage.objectStore.serviceAccountName (IRSA, GKE Workload Identity): no Secret, the pods
    run as the named ServiceAccount, whose cloud role reads the bucket."""
    run = run_stack("staging", _streaming(serviceAccountName="model-reader"))
    assert run.error is None, run.error
    spec = run.engine(DEPLOYMENT).inputs["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "model-reader"
    resources = [{"type": r.type, "name": r.name, "props": r.inputs} for r in run.resources]
    assert [v for v in offline.run(resources, {}) if v.policy == "streamer-has-credentials"] == []
