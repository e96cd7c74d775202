"""The engine pod's warm caches (rendering/warm_caches.py): with the compile-cache claim every
cache vLLM reuses lands on it, FlashInfer's JIT cache included; without it nothing moves."""

from __future__ import annotations

import pytest

from planning import config
from planning.plan import make_plan
from planning.stack_files import stack_values
from rendering import pod
from tests.rendering.conftest import engine_pod_inputs


@pytest.fixture(scope="module")
def plan():
    return make_plan(config.parse(stack_values("staging")))


def _container(plan, **changes) -> dict:
    return pod.pod_template(plan, engine_pod_inputs(**changes))["spec"]["containers"][0]


def test_with_the_claim_flashinfers_cache_moves_onto_it_beside_vllms(plan):
    container = _container(plan, compile_cache_claim="cache")
    env = {item["name"]: item.get("value") for item in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "compile-cache")
    assert env["VLLM_CACHE_ROOT"] == mount["mountPath"] == "/home/vllm/.cache/vllm"
    assert env["FLASHINFER_WORKSPACE_BASE"] == "/home/vllm/.cache/vllm/flashinfer"


def test_without_the_claim_nothing_moves(plan):
    names = {item["name"] for item in _container(plan)["env"]}
    assert "FLASHINFER_WORKSPACE_BASE" not in names


def test_the_pod_leaves_the_triton_and_deepgemm_directories_to_vllm(plan):
    """vLLM places them under its root unless the caller sets them (facts/warm_caches.py)."""
    names = {item["name"] for item in _container(plan, compile_cache_claim="cache")["env"]}
    assert not names & {"TRITON_CACHE_DIR", "DG_JIT_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR"}
