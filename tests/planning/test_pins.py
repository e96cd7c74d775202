"""What a stack runs is what its file says: images by digest and weights by commit where the
stack says it is production, no registry lookup at preview, and revisions Hugging Face accepts."""

from __future__ import annotations

import pytest

from planning.config import ConfigError, parse
from tests.harness import deep_merge, run_stack, stack_config

SHA = "0123456789abcdef0123456789abcdef01234567"
ENGINE_DIGEST = "sha256:" + "1f" * 32
ROUTER_DIGEST = "sha256:" + "2e" * 32
PINNED = {"production": True, "model": {"revision": SHA},
          "image": {"tag": "v0.32.0", "digest": ENGINE_DIGEST},
          "traffic": {"router": {"imageDigest": ROUTER_DIGEST}}}


def refusal(stack: str, override: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(deep_merge(stack_config(stack), override))
    return str(caught.value)


def test_a_production_stack_with_every_pin_is_accepted():
    cfg = parse(deep_merge(stack_config("prod"), PINNED))
    assert cfg.production and cfg.model.pinned


def test_a_production_stack_refuses_a_moving_branch_and_says_how_to_find_the_commit():
    message = refusal("prod", deep_merge(PINNED, {"model": {"revision": "main"}}))
    assert "model.revision" in message and "'main'" in message
    assert ("https://huggingface.co/api/models/deepseek-ai/DeepSeek-R1-Distill-Qwen-32B/"
            "revision/main") in message


def test_a_production_stack_refuses_the_engine_image_without_a_digest_and_gives_the_command():
    message = refusal("prod", deep_merge(PINNED, {"image": {"digest": None}}))
    assert "image.digest" in message
    assert ("docker buildx imagetools inspect vllm/vllm-openai:v0.32.0 "
            "--format '{{json .Manifest.Digest}}'") in message
    assert "crane digest vllm/vllm-openai:v0.32.0" in message


def test_a_production_stack_ties_the_digest_to_a_stated_tag():
    """A digest belongs to one tag: with the tag written beside it, bumping vllmVersion alone
    is refused (image.tag contradicts it) instead of running the old digest under a new name."""
    message = refusal("prod", deep_merge(PINNED, {"image": {"tag": None}}))
    assert "image.tag" in message and "v0.32.0" in message


def test_a_production_stack_refuses_the_router_image_without_a_digest():
    message = refusal("prod", deep_merge(PINNED, {"traffic": {"router": {"imageDigest": None}}}))
    assert "traffic.router.imageDigest" in message
    assert "docker buildx imagetools inspect ghcr.io/berriai/litellm:main-v1.108.7" in message


def test_a_production_stack_refuses_a_downloader_image_without_a_digest():
    pins = {"production": True, "model": {"revision": SHA},
            "image": {"tag": "v0.33.0", "digest": ENGINE_DIGEST},
            "storage": {"pvc": {"downloaderImage": "python:3.12.4"}}}
    message = refusal("staging", pins)
    assert "storage.pvc.downloaderImage" in message and "python:3.12.4" in message


def test_a_non_production_stack_runs_the_tag_without_any_registry_lookup(runs):
    """No digest, not production: the tag is used as written and nothing is looked up, so
    preview needs neither a Docker daemon nor the registry, and a re-pushed tag changes no
    input (no rollout)."""
    run = runs["staging"]
    assert run.error is None, run.error
    assert run.calls == []
    container = run.workload().inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "vllm/vllm-openai:v0.33.0"


def test_the_router_runs_its_tag_without_any_registry_lookup():
    run = run_stack("prod", {"production": False})
    assert run.error is None, run.error
    assert run.calls == []
    router = next(r for r in run.of_type("apps/v1:Deployment") if r.name.endswith("-router"))
    assert router.inputs["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "ghcr.io/berriai/litellm:main-v1.108.7")


def test_pinned_digests_are_what_the_pods_run():
    run = run_stack("prod", PINNED)
    assert run.error is None, run.error
    engine = run.engine("apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    assert engine["containers"][0]["image"] == f"vllm/vllm-openai:v0.32.0@{ENGINE_DIGEST}"
    router = next(r for r in run.of_type("apps/v1:Deployment") if r.name.endswith("-router"))
    assert router.inputs["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"ghcr.io/berriai/litellm:main-v1.108.7@{ROUTER_DIGEST}")


def test_an_unpinned_stack_is_told_what_it_runs_and_how_to_pin_it():
    from planning.pins import unpinned_warnings
    warnings = unpinned_warnings(parse(deep_merge(stack_config("staging"),
                                                  {"model": {"revision": "main"}})))
    text = "\n".join(warnings)
    assert "vllm/vllm-openai:v0.33.0" in text and "image.digest" in text
    assert "model.revision" in text and "'main'" in text


@pytest.mark.parametrize("revision", [
    "main", "v1.0", "refs/pr/12", "release-2025.01", SHA,
])
def test_revisions_hugging_face_accepts_are_accepted(revision):
    parse(deep_merge(stack_config("staging"), {"model": {"revision": revision}}))


@pytest.mark.parametrize("revision,why", [
    ("ma in", "space"), ("main..x", ".."), ("x.lock", ".lock"), ("/main", "/"),
    ("main/", "/"), ("a@{1}", "@{"), ("@", "@"), ("HEAD~1", "~"), ("a:b", ":"),
    (SHA.upper(), "lowercase"), ("x" * 300, "255"),
])
def test_revisions_git_cannot_name_are_refused(revision, why):
    message = refusal("staging", {"model": {"revision": revision}})
    assert "model.revision" in message and why in message


def test_preview_warns_about_every_unpinned_image(caplog):
    """`pulumi preview` prints the warnings (pulumi.log.warn; under mocks it reaches logging)."""
    import logging
    with caplog.at_level(logging.WARNING):
        run = run_stack("prod")
    assert run.error is None, run.error
    assert "image: runs the tag vllm/vllm-openai:v0.32.0" in caplog.text
    assert "traffic.router: runs the tag ghcr.io/berriai/litellm:main-v1.108.7" in caplog.text


def test_a_fully_pinned_stack_warns_about_nothing(caplog):
    import logging
    with caplog.at_level(logging.WARNING):
        run = run_stack("prod", PINNED)
    assert run.error is None, run.error
    assert "runs the tag" not in caplog.text and "model.revision" not in caplog.text


# git's own cases (git/git t/t1402-check-ref-format.sh, valid_ref / invalid_ref), one-level
# names allowed as Hugging Face branches are ("main").
GIT_VALID = ["heads/foo", "foo/bar/baz", "foo./bar", "heads/foo@bar"]
GIT_INVALID = ["heads/foo/", "./foo", ".refs/foo", "heads/foo..bar", "heads/foo?bar",
               "heads/foo.lock", "heads/v@{ation", "heads/foo\\bar", "heads/foo/../bar",
               "heads/./foo"]


@pytest.mark.parametrize("name", GIT_VALID)
def test_gits_valid_ref_names_are_valid_revisions(name):
    from planning.pins import revision_problem
    assert revision_problem(name) is None


@pytest.mark.parametrize("name", GIT_INVALID)
def test_gits_invalid_ref_names_are_refused_revisions(name):
    from planning.pins import revision_problem
    assert revision_problem(name) is not None


BUILD = {"image": {"build": True, "registry": "registry.example.com/ml"}}


def test_a_built_image_starts_from_the_pinned_base():
    """With image.build the pods run the pushed digest; image.digest pins the base the build
    starts FROM, so a rebuild after a re-pushed upstream tag builds on the same bytes."""
    run = run_stack("prod", deep_merge(BUILD, {"image": {"tag": "v0.32.0",
                                                         "digest": ENGINE_DIGEST}}))
    assert run.error is None, run.error
    build = run.one("docker:index/image:Image").inputs
    assert build["build"]["args"]["VLLM_IMAGE"] == f"vllm/vllm-openai:v0.32.0@{ENGINE_DIGEST}"


def test_a_production_build_refuses_an_unpinned_base():
    message = refusal("prod", deep_merge(PINNED, {"image": {**BUILD["image"], "digest": None}}))
    assert "image.digest" in message and "base" in message
