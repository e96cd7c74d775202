"""streamer-has-credentials (policy/streamer_checks.py): an engine streaming its weights from
object storage states its credentials (a Secret's env, or a workload identity)."""

from __future__ import annotations

import pytest

from policy import k8s
from tests.policy.conftest import DEPLOYMENT, deployment, engine, leader_worker_set, pod, \
    validate_resource

S3_KEYS = [{"name": key, "valueFrom": {"secretKeyRef": {"name": "s3-creds", "key": key}}}
           for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]


def _streaming(model: str, env=(), account=None) -> dict:
    props = deployment()
    engine(props)["args"] = [model, "--load-format", "runai_streamer"]
    engine(props)["env"] = engine(props).get("env", []) + list(env)
    if account is not None:
        pod(props)["serviceAccountName"] = account
    return props


def test_a_mounted_model_needs_no_streamer_credentials():
    assert validate_resource("streamer-has-credentials", DEPLOYMENT, deployment()) == []


def test_a_streamer_without_credentials_reads_with_the_nodes_identity():
    [message] = validate_resource("streamer-has-credentials", DEPLOYMENT,
                                  _streaming("s3://models/r1"))
    assert "streams its weights from s3://models/r1 without credentials" in message
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY unset" in message
    assert "storage.objectStore.credentialsSecret" in message


@pytest.mark.parametrize("model, env, account", [
    ("s3://models/r1", S3_KEYS, None),
    ("gs://models/r1", [{"name": "RUNAI_STREAMER_GCS_CREDENTIAL_FILE",
                         "value": "/var/run/secrets/object-store/key.json"}], None),
    ("s3://models/r1", [], "model-reader"),
    ("--model=gs://models/r1", [], "model-reader"),
], ids=["s3-secret", "gs-key-file", "workload-identity", "model-flag"])
def test_stated_credentials_pass(model, env, account):
    assert validate_resource("streamer-has-credentials", DEPLOYMENT,
                             _streaming(model, env, account)) == []


@pytest.mark.parametrize("model, env, account", [
    ("s3://models/r1", S3_KEYS[:1], None),
    ("gs://models/r1", S3_KEYS, None),
    ("s3://models/r1", [], "default"),
], ids=["one-s3-key", "s3-keys-for-gs", "default-account"])
def test_partial_or_foreign_credentials_fail(model, env, account):
    assert len(validate_resource("streamer-has-credentials", DEPLOYMENT,
                                 _streaming(model, env, account))) == 1


def test_a_groups_streaming_launch_script_is_read():
    group = leader_worker_set()
    worker = group["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
    worker["command"] = ["sh", "-c", "exec vllm serve s3://models/r1 --headless"]
    worker["args"] = []
    messages = validate_resource("streamer-has-credentials", k8s.LEADER_WORKER_SET, group)
    assert any("(worker template)" in m and "s3://models/r1" in m for m in messages)


def test_a_model_flag_without_credentials_names_the_whole_uri():
    [message] = validate_resource("streamer-has-credentials", DEPLOYMENT,
                                  _streaming("--model=s3://models/r1/rev=2"))
    assert "from s3://models/r1/rev=2 without credentials" in message
