"""What vLLM's API key guards, per release (facts/vllm_features.py): the engine fence and the
policy's route rule both rest on it, so it is pinned here release by release.

Read from the released wheels on PyPI (the AuthenticationMiddleware of each): only paths that
start with one of a few prefixes need the key; /invocations (the SageMaker route, the same
inference as /v1), /tokenize, /metrics, /health and the dev endpoints never do.
"""

from __future__ import annotations

import pytest

from facts import parse_version
from facts import vllm_features as vf

# (release read, prefixes its middleware guards) — the wheel's file is named in the facts.
READ_FROM_WHEELS = [
    ("0.8.0", ("/v1",)),
    ("0.11.0", ("/v1",)),
    ("0.20.0", ("/v1",)),
    ("0.21.0", ("/v1",)),
    ("0.22.0", ("/v1", "/v2", "/inference")),
    ("0.23.0", ("/v1", "/v2", "/inference")),
    ("0.26.0", ("/v1", "/v2", "/inference")),
    ("0.27.0", ("/v1", "/v2", "/inference", "/cohere")),
    ("0.28.0", ("/v1", "/v2", "/inference", "/cohere")),
    ("0.29.0", ("/v1", "/v2", "/inference", "/cohere")),
    ("0.32.0", ("/v1", "/v2", "/inference", "/cohere")),
    ("0.33.0", ("/v1", "/v2", "/inference", "/cohere")),
    ("0.34.0", ("/v1", "/v2", "/inference", "/cohere")),
]


@pytest.mark.parametrize("version, prefixes", READ_FROM_WHEELS,
                         ids=[v for v, _ in READ_FROM_WHEELS])
def test_the_key_guards_the_prefixes_each_release_checks(version, prefixes):
    assert vf.api_key_guarded_prefixes(parse_version(version)) == prefixes


@pytest.mark.parametrize("path", ["/invocations", "/tokenize", "/detokenize", "/metrics",
                                  "/health", "/ping", "/version", "/load", "/collective_rpc",
                                  "/sleep", "/reset_prefix_cache", "/pooling", "/"])
@pytest.mark.parametrize("version", ["0.8.0", "0.32.0", "0.33.0"])
def test_invocations_tokenize_and_metrics_need_no_key(path, version):
    assert not vf.api_key_guards(path, parse_version(version))


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/v1/models",
                                  "/v1"])
@pytest.mark.parametrize("version", ["0.8.0", "0.32.0", "0.33.0"])
def test_the_openai_api_needs_the_key(path, version):
    assert vf.api_key_guards(path, parse_version(version))


def test_the_guard_is_a_string_prefix_as_in_the_middleware():
    """`url_path.startswith(GUARDED_PREFIX)`: /v1beta is guarded too, /v is not."""
    assert vf.api_key_guards("/v1beta/anything", parse_version("0.33.0"))
    assert not vf.api_key_guards("/v", parse_version("0.33.0"))


def test_v2_inference_and_cohere_are_guarded_only_from_the_release_that_added_them():
    assert not vf.api_key_guards("/inference/v1/generate", parse_version("0.21.0"))
    assert vf.api_key_guards("/inference/v1/generate", parse_version("0.22.0"))
    assert not vf.api_key_guards("/cohere/v2/rerank", parse_version("0.26.0"))
    assert vf.api_key_guards("/cohere/v2/rerank", parse_version("0.27.0"))


def test_the_prefixes_every_supported_release_guards_is_v1():
    """A policy that cannot tell the version holds routes to what every release guards."""
    assert vf.API_KEY_GUARDED_EVERYWHERE == ("/v1",)



@pytest.mark.parametrize("stated, prefixes", [
    ("0.21.0", ("/v1",)), ("0.33.0", ("/v1", "/v2", "/inference", "/cohere")),
    ("0.7.0", ("/v1",)), (None, ("/v1",))])
def test_the_policy_reads_the_prefixes_of_the_version_a_workload_states(stated, prefixes):
    """The policy pack parses the workload's version annotation (facts.parse_version, a
    packaging Version) and looks the prefixes up with it; a version before the table, or none,
    holds routes to what every release guards."""
    from types import SimpleNamespace

    from facts.conventions import ANN_VLLM_VERSION
    from policy.security_checks import _guarded_prefixes

    annotations = {} if stated is None else {ANN_VLLM_VERSION: stated}
    workload = SimpleNamespace(resource_type="kubernetes:apps/v1:Deployment", props={
        "metadata": {"annotations": annotations}, "spec": {"template": {}}})
    assert _guarded_prefixes(workload) == prefixes
