"""storage.mode objectStore (rendering/object_store.py): the engine pod streams its weights from
S3 or GCS with vLLM's runai_streamer, its credentials from a Secret and never in the args, with
egress to the endpoint; the streamer's real reading of that env is tests/rendering/
test_object_store_streamer.py."""

from __future__ import annotations

import pytest

from facts import object_store as facts
from planning import config
from planning.plan import make_plan
from planning.stack_files import stack_values
from rendering import object_store, pod, vllm_args
from rendering.inference import network_policy_spec
from tests.rendering.conftest import engine_pod_inputs

S3 = "s3://models/qwen2.5-7b/"
GS = "gs://models/qwen2.5-7b"


def _env(items: list[dict]) -> dict:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in items}


def test_s3_credentials_come_from_the_secret_by_reference_never_as_values():
    env = _env(object_store.streamer_env(S3, endpoint=None, region=None,
                                         credentials_secret="s3-creds", concurrency=None))
    assert env == {key: {"secretKeyRef": {"name": "s3-creds", "key": key}}
                   for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}


def test_an_s3_compatible_endpoint_is_the_streamers_endpoint_with_path_style_requests():
    env = _env(object_store.streamer_env(S3, endpoint="https://minio.internal:9000",
                                         region="eu-west-1", credentials_secret=None,
                                         concurrency=32))
    assert env == {"AWS_ENDPOINT_URL": "https://minio.internal:9000",
                   "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING": "0",
                   "AWS_DEFAULT_REGION": "eu-west-1", "RUNAI_STREAMER_CONCURRENCY": "32"}


def test_unset_settings_leave_the_streamers_defaults():
    assert object_store.streamer_env(S3, endpoint=None, region=None, credentials_secret=None,
                                     concurrency=None) == []


def test_a_gcs_key_is_a_read_only_file_from_its_secret_named_by_the_streamers_variable():
    parts = object_store.streamer_pod(GS, credentials_secret="gcs-key")
    assert _env(parts.env) == {"RUNAI_STREAMER_GCS_CREDENTIAL_FILE":
                               "/var/run/secrets/object-store/key.json"}
    assert parts.volumes == [{"name": "object-store-credentials", "secret": {
        "secretName": "gcs-key", "defaultMode": 0o440,
        "items": [{"key": "key.json", "path": "key.json"}]}}]
    assert parts.mounts == [{"name": "object-store-credentials",
                             "mountPath": "/var/run/secrets/object-store", "readOnly": True}]


def test_s3_credentials_need_no_volume():
    parts = object_store.streamer_pod(S3, credentials_secret="s3-creds")
    assert (parts.volumes, parts.mounts) == ([], [])


@pytest.mark.parametrize("endpoint, port", [(None, 443), ("https://s3.example.com", 443),
                                            ("https://minio.internal:9000", 9000)],
                         ids=["provider", "endpoint-default-port", "endpoint-own-port"])
def test_egress_reaches_the_endpoints_port(endpoint, port):
    assert object_store.egress(endpoint) == [{"ports": [{"protocol": "TCP", "port": port}]}]


@pytest.mark.parametrize("uri, scheme", [("s3://b/x", "s3"), ("gs://b/a://c", "gs"),
                                         ("/models/x", "")], ids=["s3", "gs", "path"])
def test_the_scheme_is_what_precedes_the_first_separator(uri, scheme):
    assert facts.scheme(uri) == scheme


def test_the_model_argument_is_the_uri_without_its_trailing_slash():
    assert object_store.model_argument(S3) == "s3://models/qwen2.5-7b"


@pytest.mark.parametrize("env, account, uri, stated", [
    (["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], None, S3, True),
    (["AWS_ACCESS_KEY_ID"], None, S3, False),
    ([], None, S3, False),
    ([], "default", S3, False),
    ([], "model-reader", S3, True),
    (["RUNAI_STREAMER_GCS_CREDENTIAL_FILE"], None, GS, True),
    (["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], None, GS, False),
], ids=["s3-keys", "s3-one-key", "nothing", "default-account", "workload-identity", "gs-key",
        "s3-keys-on-gs"])
def test_credentials_are_stated_by_the_schemes_env_or_a_workload_identity(env, account, uri,
                                                                          stated):
    assert facts.credentials_stated(env, account, uri) is stated


def _object_store_config(**store) -> config.StackConfig:
    values = stack_values("staging")
    values["storage"] = {"mode": "objectStore",
                         "objectStore": {"uri": S3, "credentialsSecret": "s3-creds", **store}}
    values["engine"] = {**values.get("engine", {}), "loadFormat": "runai_streamer"}
    return config.parse(values)


@pytest.fixture(scope="module")
def staging_plan():
    return make_plan(config.parse(stack_values("staging")))


def test_vllm_serves_the_uri_and_streams_with_runai(staging_plan):
    args = vllm_args.server_args(_object_store_config(), staging_plan, "/models/unused")
    assert args[0] == "s3://models/qwen2.5-7b"
    assert args[args.index("--load-format") + 1] == "runai_streamer"
    assert "s3-creds" not in " ".join(args)


def _template(plan, streamer) -> dict:
    return pod.pod_template(plan, engine_pod_inputs(object_store=streamer))["spec"]


def test_a_streaming_pod_mounts_no_model_volume_and_carries_the_streamer_env(staging_plan):
    spec = _template(staging_plan, object_store.streamer_pod(GS, credentials_secret="gcs-key",
                                                             concurrency=16))
    container = spec["containers"][0]
    assert "model" not in [v["name"] for v in spec["volumes"]]
    assert "model" not in [m["name"] for m in container["volumeMounts"]]
    assert "object-store-credentials" in [m["name"] for m in container["volumeMounts"]]
    assert _env(container["env"])["RUNAI_STREAMER_CONCURRENCY"] == "16"
    assert "serviceAccountName" not in spec


def test_a_workload_identity_names_the_pods_service_account(staging_plan):
    spec = _template(staging_plan, object_store.streamer_pod(S3, service_account="reader"))
    assert spec["serviceAccountName"] == "reader"
    assert spec["automountServiceAccountToken"] is False


def test_without_a_streamer_the_pod_is_unchanged(staging_plan):
    base = _template(staging_plan, None)
    assert "model" in [v["name"] for v in base["volumes"]]
    assert pod.streaming_overlay(base, None) is base


def test_the_engine_fence_admits_the_streamers_egress_beside_dns():
    spec = network_policy_spec({"app": "m"}, config.parse(stack_values("staging")).network,
                               extra_egress=object_store.egress("https://minio.internal:9000"))
    assert {"ports": [{"protocol": "TCP", "port": 9000}]} in spec["egress"]


def test_an_object_store_config_gives_the_pod_its_streamer_and_a_mounted_path_none():
    parts = object_store.pod_parts(_object_store_config(region="us-east-2").storage)
    assert _env(parts.env)["AWS_DEFAULT_REGION"] == "us-east-2"
    assert object_store.pod_parts(config.parse(stack_values("staging")).storage) is None


def test_every_configured_setting_reaches_the_pod():
    parts = object_store.pod_parts(_object_store_config(
        endpoint="https://minio.internal:9000", region="eu-west-1", concurrency=8,
        serviceAccountName="reader").storage)
    env = _env(parts.env)
    assert env["AWS_ENDPOINT_URL"] == "https://minio.internal:9000"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["RUNAI_STREAMER_CONCURRENCY"] == "8"
    assert env["AWS_ACCESS_KEY_ID"]["secretKeyRef"]["name"] == "s3-creds"
    assert parts.service_account == "reader"


def test_a_gcs_streamer_keeps_its_endpoint_free_env_and_its_identity():
    parts = object_store.streamer_pod(GS, credentials_secret="gcs-key", service_account="reader",
                                      region="europe-west4")
    assert parts.service_account == "reader"
    assert _env(parts.env)["AWS_DEFAULT_REGION"] == "europe-west4"
    with_endpoint = object_store.streamer_pod(S3, endpoint="https://minio.internal")
    assert _env(with_endpoint.env)["AWS_ENDPOINT_URL"] == "https://minio.internal"
