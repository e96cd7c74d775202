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
