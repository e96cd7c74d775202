"""The moving-tag rule is written once (facts/images.py) and the config and the policy pack give
the same verdict on every image reference: what `pulumi preview` refuses, the policy refuses,
and the other way round."""

from __future__ import annotations

import ast

import pydantic
import pytest

from facts import images
from planning.config import ConfigError, parse
from planning.config.storage import PvcConfig
from planning.config.workload import ImageConfig
from policy import security_checks
from tests.harness import ROOT, deep_merge, stack_config

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SHA256 = "sha256:" + "ab" * 32
SHA512 = "sha512:" + "cd" * 64

# (image, moving) — digests as distribution/reference's digestPat accepts them (algorithm:hex,
# at least 32 hex digits); with a tag and a digest the runtime pulls the digest.
REFERENCES = [
    ("python:3.12.4", False),
    ("reg:5000/team/python:3.12.4", False),
    (f"python@{SHA256}", False),
    (f"python:latest@{SHA256}", False),
    (f"python@{SHA512}", False),
    ("python", True),
    ("reg:5000/team/python", True),
    ("python:", True),
    ("python:latest", True),
    ("python:nightly", True),
    ("reg:5000/team/python:latest", True),
    ("python@sha256:abc", True),          # too short to be a digest
    ("python@not-a-digest", True),
]


@pytest.mark.parametrize("image, moving", REFERENCES, ids=[r[0] for r in REFERENCES])
def test_a_reference_moves_unless_a_digest_or_a_fixed_tag_pins_it(image, moving):
    assert (images.moving_reference(image) is not None) == moving


def _config_accepts_downloader(image: str) -> bool:
    try:
        PvcConfig.model_validate({"storageClass": "gp3", "downloaderImage": image})
    except pydantic.ValidationError:
        return False
    return True


def _deployment(image: str) -> dict:
    return {"metadata": {"name": "vllm", "namespace": "llm"},
            "spec": {"template": {"spec": {"containers": [{"name": "vllm", "image": image}]}}}}


def _policy_accepts(image: str) -> bool:
    return security_checks.check_image_pinned(DEPLOYMENT, "vllm", _deployment(image), {}) == []


@pytest.mark.parametrize("image, moving", REFERENCES, ids=[r[0] for r in REFERENCES])
def test_the_config_and_the_policy_agree_on_every_image_reference(image, moving):
    assert (_config_accepts_downloader(image), _policy_accepts(image)) == (not moving,) * 2


@pytest.mark.parametrize("tag", ["v0.18.0", "latest", "nightly", ""])
def test_the_config_refuses_exactly_the_vllm_tags_the_policy_refuses(tag):
    try:
        ImageConfig.model_validate({"tag": tag})
        config_accepts = True
    except pydantic.ValidationError:
        config_accepts = False
    assert config_accepts == _policy_accepts(f"vllm/vllm-openai:{tag}")


def test_no_module_outside_facts_spells_a_moving_tag():
    """`"latest"`, `"nightly"` or `":latest"` as a literal outside facts/ is the rule written
    again."""
    spelled = []
    for package in ("planning", "rendering", "policy", "components", "wiring", "tools"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                        and node.value.lstrip(":") in images.MOVING_TAGS:
                    spelled.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert spelled == []


def _production_accepts_downloader(image: str) -> bool:
    pins = {"production": True, "model": {"revision": "0123456789abcdef" * 2 + "01234567"},
            "image": {"tag": "v0.33.0", "digest": SHA256},
            "storage": {"pvc": {"downloaderImage": image}},
            "traffic": {"router": {"imageDigest": SHA256}}}   # staging runs the router
    try:
        parse(deep_merge(stack_config("staging"), pins))
    except ConfigError:
        return False
    return True


def _policy_advises_no_digest(image: str) -> bool:
    return security_checks.check_image_digest(DEPLOYMENT, "vllm", _deployment(image), {}) == []


@pytest.mark.parametrize("image", [f"python:3.12.4@{SHA256}", f"python@{SHA512}",
                                   "python:3.12.4", "python:3.12.4@sha256:abc"])
def test_production_and_the_policy_agree_on_what_runs_by_digest(image):
    assert _production_accepts_downloader(image) == _policy_advises_no_digest(image) \
        == images.pinned_by_digest(image)


@pytest.mark.parametrize("image, parts", [
    ("vllm/vllm-openai:v0.18.0", ("vllm/vllm-openai", "v0.18.0", None)),
    ("vllm-openai", ("vllm-openai", None, None)),
    ("vllm-openai:v1", ("vllm-openai", "v1", None)),
    ("vllm/vllm-openai@sha256:ab", ("vllm/vllm-openai", None, "sha256:ab")),
    ("localhost:5000/vllm-openai:v1@sha256:ab", ("localhost:5000/vllm-openai", "v1", "sha256:ab")),
    ("reg:5000/vllm/vllm-openai:v0.18.0@sha256:ab",
     ("reg:5000/vllm/vllm-openai", "v0.18.0", "sha256:ab")),
    ("reg:5000/vllm/vllm-openai", ("reg:5000/vllm/vllm-openai", None, None)),
])
def test_an_image_reference_splits_into_repository_tag_and_digest(image, parts):
    """The registry's port is not a tag: the tag is after a ':' in the last path component."""
    assert images.split_image(image) == parts
