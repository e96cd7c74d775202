"""The load paths' settings (storage.image, storage.nodeCache, storage.objectStore,
clusterVersions.kubernetes, engine.loadFormat): shapes are refused at preview naming the key,
the bad value and the fix; exactly one path's settings match storage.mode."""

from __future__ import annotations

import pytest

from facts import load_paths
from planning import config
from planning.config import ConfigError
from tests.harness import assert_refused_before_any_resource
from tests.planning.conftest import SMALL_7B, with_changes

DIGEST = "sha256:" + "a" * 64
IMAGE = {"mode": "image", "nfs": None,
         "image": {"reference": f"registry.example.com/models/qwen@{DIGEST}"}}
NODE_CACHE = {"mode": "nodeCache", "nfs": None, "nodeCache": {"diskGi": 500}}
OBJECT_STORE = {"mode": "objectStore", "nfs": None,
                "objectStore": {"uri": "s3://models/qwen2.5-7b"}}


def parsed(**changes) -> config.StackConfig:
    return config.parse(with_changes({**SMALL_7B, "vllmVersion": "0.33.0"}, **changes))


def refusal(**changes) -> str:
    with pytest.raises(ConfigError) as error:
        parsed(**changes)
    return str(error.value)


@pytest.mark.parametrize("storage", [IMAGE, NODE_CACHE, OBJECT_STORE],
                         ids=["image", "nodeCache", "objectStore"])
def test_each_new_path_parses_with_its_settings(storage):
    assert parsed(storage=storage).storage.mode == storage["mode"]


def test_node_cache_defaults_are_the_contracts():
    cache = parsed(storage=NODE_CACHE).storage.node_cache
    assert (cache.host_path, cache.keep_revisions, cache.download_mib_per_second) == (
        "/var/lib/vllm-models", 2, 50)


def test_image_pull_rate_defaults_to_100_mib_per_second():
    assert parsed(storage=IMAGE).storage.image.pull_mib_per_second == 100


@pytest.mark.parametrize("storage, needs", [
    ({"mode": "image", "nfs": None}, "storage.image.reference"),
    ({"mode": "nodeCache", "nfs": None}, "storage.nodeCache.diskGi"),
    ({"mode": "objectStore", "nfs": None}, "storage.objectStore.uri"),
], ids=["image", "nodeCache", "objectStore"])
def test_a_mode_without_its_settings_names_what_to_set(storage, needs):
    assert needs in refusal(storage=storage)


def test_settings_of_another_path_are_refused():
    message = refusal(storage={**IMAGE, "objectStore": OBJECT_STORE["objectStore"]})
    assert "storage.objectStore is set but storage.mode is image; remove it" in message


@pytest.mark.parametrize("reference", [
    "registry.example.com/models/qwen:v1",
    "registry.example.com/models/qwen",
    "registry.example.com/models/qwen@sha256:abc",
    "registry.example.com/models/qwen@md5:" + "a" * 32,
    f"@{DIGEST}",
], ids=["tag", "untagged", "short digest", "not sha256", "no repository"])
def test_a_model_image_without_a_sha256_digest_is_refused_with_the_fix(reference):
    message = refusal(storage={**IMAGE, "image": {"reference": reference}})
    assert "storage.image.reference" in message and reference in message
    assert "push the image, then put the digest here" in message


def test_a_model_image_with_tag_and_digest_is_accepted():
    reference = f"registry.example.com/models/qwen:v1@{DIGEST}"
    assert parsed(storage={**IMAGE, "image": {"reference": reference}}).storage.image


@pytest.mark.parametrize("subdir", ["/abs", "a/../../etc"])
def test_a_model_subdir_leaving_the_image_is_refused(subdir):
    message = refusal(storage={**IMAGE, "image": {**IMAGE["image"], "modelSubdir": subdir}})
    assert "storage.image.modelSubdir" in message and "relative path" in message


@pytest.mark.parametrize("path", ["var/lib/models", "/var/lib/models/", "/var/../etc", "/var",
                                  "/", "/var/lib/kubelet"])
def test_a_cache_host_path_must_be_a_dedicated_absolute_directory(path):
    message = refusal(storage={**NODE_CACHE, "nodeCache": {"diskGi": 500, "hostPath": path}})
    assert "storage.nodeCache.hostPath" in message


@pytest.mark.parametrize("keep", [0, -1])
def test_a_cache_keeps_at_least_one_revision(keep):
    message = refusal(storage={**NODE_CACHE, "nodeCache": {"diskGi": 500, "keepRevisions": keep}})
    assert "storage.nodeCache.keepRevisions" in message


def test_a_moving_stager_image_is_refused():
    message = refusal(storage={**NODE_CACHE, "nodeCache": {"diskGi": 500,
                                                            "stagerImage": "python:latest"}})
    assert "storage.nodeCache.stagerImage" in message and "not pinned" in message


@pytest.mark.parametrize("uri", ["https://bucket/prefix", "s3:/bucket", "s3://", "s3://UPPER/x",
                                 "gs://b", "file:///models"])
def test_an_object_store_uri_is_s3_or_gs(uri):
    message = refusal(storage={**OBJECT_STORE, "objectStore": {"uri": uri}})
    assert "storage.objectStore.uri" in message


@pytest.mark.parametrize("uri", ["s3://models", "gs://my-bucket/org/model", "s3://a.b-c/x/y/"])
def test_s3_and_gs_uris_pass(uri):
    assert parsed(storage={**OBJECT_STORE, "objectStore": {"uri": uri}}).storage.object_store


@pytest.mark.parametrize("endpoint", ["http://minio:9000", "https://user:pw@minio", "minio:9000"])
def test_an_object_store_endpoint_is_https_without_credentials(endpoint):
    message = refusal(storage={**OBJECT_STORE, "objectStore": {
        "uri": "s3://models/x", "endpoint": endpoint}})
    assert "storage.objectStore.endpoint" in message and "https" in message


def test_an_s3_endpoint_with_a_gs_uri_is_refused():
    message = refusal(storage={**OBJECT_STORE, "objectStore": {
        "uri": "gs://models/x", "endpoint": "https://minio.example.com"}})
    assert "remove endpoint" in message


@pytest.mark.parametrize("given, kept", [("1.33", "1.33"), ("v1.34.2", "1.34"),
                                         ("1.35.0", "1.35")])
def test_the_kubernetes_version_is_kept_as_its_minor(given, kept):
    assert parsed(clusterVersions={"kubernetes": given}).cluster_versions.kubernetes == kept


@pytest.mark.parametrize("given", ["1", "2.0", "latest", "1.x"])
def test_a_kubernetes_version_that_is_no_release_is_refused(given):
    message = refusal(clusterVersions={"kubernetes": given})
    assert "clusterVersions.kubernetes" in message and "e.g. 1.33" in message


@pytest.mark.parametrize("loader", ["runai_streamer_sharded", "instanttensor"])
def test_the_new_loaders_are_accepted_names(loader):
    assert parsed(engine={"loadFormat": loader}).engine.load_format == loader


@pytest.mark.parametrize("storage", [NODE_CACHE, IMAGE, OBJECT_STORE],
                         ids=["nodeCache", "image", "objectStore"])
def test_a_compile_cache_without_a_class_is_refused_off_pvc(storage):
    message = refusal(storage=storage, engine={"compileCacheGib": 10})
    assert f"storage.mode {storage['mode']}" in message


@pytest.mark.parametrize("storage", [IMAGE, NODE_CACHE, OBJECT_STORE],
                         ids=["image", "nodeCache", "objectStore"])
def test_a_path_not_yet_rendered_is_refused_at_preview_before_any_resource(storage,
                                                                          monkeypatch):
    """Until a mode's rendering is wired (facts/load_paths.py RENDERED_MODES), its stack stops
    at preview with the modes that work, never half-rendered. (The modes as they stood before
    any was wired: the refusal must keep working for the next path added.)"""
    monkeypatch.setattr(load_paths, "RENDERED_MODES", frozenset({"nfs", "pvc"}))
    assert_refused_before_any_resource(
        "staging", {"storage": {**storage, "pvc": None}},
        [f"storage.mode: {storage['mode']} is not rendered", "use one of nfs, pvc"])
