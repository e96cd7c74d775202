"""Blue-green revisions (issue 21, item 3): the plan says whether a revision change can run the
new slot beside the old (spareGpus ≥ GPUs per replica × replicas), splits the local alias's
traffic by the configured weight, plans the previous slot as it runs, and refuses the switches
that cannot work, naming the key."""

from __future__ import annotations

import copy

import pytest

from planning import revisions
from planning.config import ConfigError, parse
from planning.plan import make_plan
from planning.stack_files import stack_values
from tests.blue_green import NEW_MODEL_IMAGE, NEW_REVISION, NEW_URI, OLD_MODEL_IMAGE, \
    OLD_REVISION, OLD_URI, PATH_PHASES, PHASE_1, PHASE_2, PHASE_3, ROOM, VERSION, image_path, \
    switching
from tests.harness import assert_refused_before_any_resource, deep_merge
from tools import plan as plan_tool


def _config(stack: str, overlay: dict):
    return parse(deep_merge(copy.deepcopy(stack_values(stack)), copy.deepcopy(overlay)))


def _plan(stack: str, overlay: dict):
    return make_plan(_config(stack, overlay))


def _refused(stack: str, overlay: dict) -> str:
    with pytest.raises(ConfigError) as error:
        _plan(stack, overlay)
    return str(error.value)


def test_without_spare_gpus_a_revision_change_rolls_in_place_and_the_plan_says_so():
    plan = make_plan(parse(stack_values("staging")))
    assert (plan.revisions.room, plan.revisions.gpus_needed) == (False, 1)
    assert plan.revisions.reason == (
        "1 GPU per replica × replicas 1 = 1 GPU for the new slot, spareGpus 0: no room for "
        "blue-green; a revision change rolls the pods in place, one at a time")
    assert "revision change 1 GPU needed for blue-green, no room: in place" in \
        plan_tool.report("staging", plan)


def test_spare_gpus_for_one_replica_set_make_room_for_the_new_slot():
    plan = _plan("staging", ROOM)
    assert plan.revisions.room and plan.revisions.previous_slot is None
    assert "a revision change can run blue-green" in plan.revisions.reason


@pytest.mark.parametrize("weight", [100, 30, 0])
def test_the_local_alias_splits_by_the_previous_weight_and_the_rest_goes_to_the_new_slot(weight):
    switch = _plan("staging", switching(weight)).revisions
    assert (switch.slot, switch.previous_slot) == ("green", "blue")
    assert (switch.previous_weight, switch.current_weight) == (weight, 100 - weight)
    assert f"previous weight {weight} % and 100 − {weight} = {100 - weight} %" in switch.reason


def test_the_previous_slot_is_planned_as_it_was_deployed():
    """Its plan is the stack's own before the switch (old revision, blue, no switch), so it
    renders the same objects and its pods do not roll."""
    before, during = _plan("staging", ROOM), _plan("staging", PHASE_1)
    previous = during.revisions.previous
    assert previous.config.model.revision == OLD_REVISION
    assert previous.config.blue_green.slot == "blue" and previous.config.blue_green.previous is None
    assert previous.plan.startup == before.startup and previous.plan.rollout == before.rollout
    assert _plan("staging", PHASE_3).revisions.previous is None


def test_tools_plan_prints_the_switch_with_its_weights():
    text = plan_tool.report("staging", _plan("staging", PHASE_2))
    assert "revision change 1 GPU for slot green beside blue: 0 % to blue, 100 % to green" in text


def test_weights_per_revision_is_every_store_but_an_nfs_export():
    assert revisions.weights_per_revision(_config("staging", {}).storage)
    assert not revisions.weights_per_revision(_config("prod", {}).storage)
    for path, phases in PATH_PHASES.items():
        assert revisions.weights_per_revision(_config("staging", phases["room"]).storage), path


PROD_VERSION_SWITCH = {"spareGpus": 4, "vllmVersion": "0.33.0", "blueGreen": {
    "slot": "green", "previous": {"revision": stack_values("prod")["model"]["revision"],
                                  "vllmVersion": stack_values("prod")["vllmVersion"]}}}


def test_an_nfs_stack_may_switch_its_vllm_version_beside_the_old_one():
    switch = _plan("prod", PROD_VERSION_SWITCH).revisions
    assert switch.previous.config.vllm_version == stack_values("prod")["vllmVersion"]
    assert switch.previous.plan.version != _plan("prod", PROD_VERSION_SWITCH).version
    assert "both slots read the one NFS export" in switch.reason


REFUSALS = [
    ("no room", "staging", {**switching(100), "spareGpus": 0},
     ["blueGreen.previous: the new slot needs 1 GPU beside the previous one, spareGpus is 0",
      "set spareGpus: 1"]),
    ("nothing to switch", "staging", switching(100, revision=OLD_REVISION),
     ["nothing to switch; remove blueGreen.previous"]),
    ("scale to zero", "staging", {**switching(100), "autoscaling": {"minReplicas": 0}},
     ["autoscaling.minReplicas is 0", "autoscaling.minReplicas: 1 until the switch ends"]),
    ("no router", "staging", {**switching(100), "traffic": {"enabled": False},
                              "autoscaling": {"enabled": False}},
     ["traffic.enabled is false"]),
    ("one copy of the weights", "prod", deep_merge(copy.deepcopy(PROD_VERSION_SWITCH), {
        "model": {"revision": NEW_REVISION}}),
     ["blueGreen.previous.revision", "storage.mode nfs holds one copy of the weights"]),
    ("a multi-node group", "r1-h100", {"spareGpus": 16, "vllmVersion": "0.33.0", "blueGreen": {
        "slot": "green", "previous": {"revision": stack_values("r1-h100")["model"]["revision"],
                                      "vllmVersion": stack_values("r1-h100")["vllmVersion"]}}},
     ["a replica spans 2 nodes", "blue-green does not run"]),
    ("the previous image's digest", "staging", {
        **switching(100, version="0.34.0"), "image": {"digest": "sha256:" + "a" * 64}},
     ["blueGreen.previous.imageDigest", "image.digest pins vLLM 0.34.0's image"]),
    # fp8_per_tensor serves on 0.33.0, and is not a method 0.11.0 has.
    ("the previous slot's own plan", "staging", deep_merge(switching(100), {
        "model": {"quantization": "fp8_per_tensor"},
        "blueGreen": {"previous": {"vllmVersion": "0.11.0"}}}),
     ["blueGreen.previous (the previous slot's plan): model.quantization: fp8_per_tensor is "
      "not checked to exist in vLLM 0.11.0"]),
]


@pytest.mark.parametrize("stack, overlay, fragments", [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_a_switch_that_cannot_work_is_refused_naming_its_key(stack, overlay, fragments):
    message = _refused(stack, overlay)
    for fragment in fragments:
        assert fragment in message


def test_the_weight_is_a_share_of_the_traffic():
    message = str(pytest.raises(ConfigError, _config, "staging", switching(101)).value)
    assert "blueGreen.previous.weight" in message and "101" in message


def test_the_same_version_keeps_the_stacks_image_for_the_previous_slot():
    previous = _plan("staging", switching(100)).revisions.previous.config
    assert previous.image == _config("staging", {}).image
    assert previous.vllm_version == VERSION


def test_a_switch_without_room_stops_the_preview_before_any_resource():
    """What `pulumi preview` shows: the plain message naming blueGreen.previous and spareGpus,
    nothing registered."""
    assert_refused_before_any_resource("staging", {**switching(100), "spareGpus": 0}, [
        "blueGreen.previous: the new slot needs 1 GPU beside the previous one, spareGpus is 0"])


def test_the_new_slot_needs_one_replicas_gpus_times_the_replicas():
    """prod: 2 GPUs per replica × 2 replicas = 4 GPUs beside the running ones."""
    switch = make_plan(parse(stack_values("prod"))).revisions
    assert (switch.gpus_needed, switch.room) == (4, False)
    assert _plan("prod", {"spareGpus": 4}).revisions.room


def test_without_a_switch_the_serving_slot_answers_everything():
    switch = _plan("staging", ROOM).revisions
    assert (switch.previous_weight, switch.current_weight) == (0, 100)


DIGEST_OLD, DIGEST_NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64


@pytest.mark.parametrize("tagged", [True, False], ids=["image.tag set", "no image.tag"])
def test_a_version_switch_keeps_the_previous_slot_on_its_own_image(tagged):
    overlay = deep_merge(switching(100, version="0.34.0"), {
        "image": {"digest": DIGEST_NEW, **({"tag": "v0.34.0"} if tagged else {})},
        "blueGreen": {"previous": {"imageDigest": DIGEST_OLD}}})
    previous = _plan("staging", overlay).revisions.previous.config
    assert previous.vllm_version == VERSION
    assert previous.image.digest == DIGEST_OLD
    assert previous.image.tag == (f"v{VERSION}" if tagged else None)


def test_a_built_image_cannot_serve_the_previous_version():
    message = _refused("staging", {**switching(100, version="0.34.0"), "image": {
        "build": True, "registry": "registry.example.com/llm"}})
    assert "blueGreen.previous.vllmVersion: image.build builds one image, for vllmVersion " \
           "0.34.0" in message


# The new load paths (issue 20): a revision switch on each, its previous slot with the previous
# revision's own weights (tests/blue_green.py PATH_PHASES).


@pytest.mark.parametrize("path", sorted(PATH_PHASES))
def test_a_revision_switch_runs_blue_green_on_each_new_load_path(path):
    switch = _plan("staging", PATH_PHASES[path]["phase 1"]).revisions
    assert (switch.slot, switch.previous_slot, switch.previous_weight) == ("green", "blue", 100)
    assert switch.previous.config.model.revision == OLD_REVISION


def test_the_previous_config_carries_the_previous_model_image():
    previous = _plan("staging", PATH_PHASES["image"]["phase 1"]).revisions.previous
    assert previous.config.storage.image.reference == OLD_MODEL_IMAGE
    assert previous.config.storage.mode == "image"


def test_the_previous_config_carries_the_previous_object_store_prefix():
    previous = _plan("staging", PATH_PHASES["objectStore"]["phase 1"]).revisions.previous
    assert previous.config.storage.object_store.uri == OLD_URI
    assert previous.config.storage.object_store.credentials_secret == "model-reader"


@pytest.mark.parametrize("path", sorted(PATH_PHASES))
def test_the_previous_slot_on_a_load_path_is_planned_as_it_was_deployed(path):
    """Its config is the stack's own before the switch (phase 0), so its plan is too."""
    before = _config("staging", PATH_PHASES[path]["room"])
    previous = _plan("staging", PATH_PHASES[path]["phase 1"]).revisions.previous
    assert previous.config.storage == before.storage
    assert previous.plan.startup == make_plan(before).startup


def test_a_vllm_upgrade_on_the_image_path_keeps_the_same_model_image():
    overlay = deep_merge(image_path(OLD_MODEL_IMAGE), {
        **switching(100, revision=OLD_REVISION, version="0.34.0")})
    previous = _plan("staging", overlay).revisions.previous.config
    assert previous.storage.image.reference == OLD_MODEL_IMAGE


_IMAGE_SWITCH = PATH_PHASES["image"]["phase 1"]
_STORE_SWITCH = PATH_PHASES["objectStore"]["phase 1"]
PATH_REFUSALS = [
    ("image: no previous model image", deep_merge(_IMAGE_SWITCH, {
        "blueGreen": {"previous": {"modelImage": None}}}),
     ["blueGreen.previous.modelImage", "storage.mode image", f"revision {OLD_REVISION}",
      "set blueGreen.previous.modelImage"]),
    ("image: the previous model image is the current one", deep_merge(_IMAGE_SWITCH, {
        "blueGreen": {"previous": {"modelImage": NEW_MODEL_IMAGE}}}),
     ["blueGreen.previous.modelImage", "is storage.image.reference"]),
    ("image: a vLLM-only switch names another model image", deep_merge(
        image_path(OLD_MODEL_IMAGE), deep_merge(switching(100, revision=OLD_REVISION,
                                                          version="0.34.0"),
                                                {"blueGreen": {"previous": {
                                                    "modelImage": NEW_MODEL_IMAGE}}})),
     ["blueGreen.previous.modelImage", "same model image", "remove blueGreen.previous.modelImage"]),
    ("modelImage on another path", deep_merge(switching(100), {
        "blueGreen": {"previous": {"modelImage": OLD_MODEL_IMAGE}}}),
     ["blueGreen.previous.modelImage", "storage.mode is pvc"]),
    ("objectStore: no previous prefix", deep_merge(_STORE_SWITCH, {
        "blueGreen": {"previous": {"objectStoreUri": None}}}),
     ["blueGreen.previous.objectStoreUri", "storage.mode objectStore",
      "set blueGreen.previous.objectStoreUri"]),
    ("objectStore: the previous prefix is the current one", deep_merge(_STORE_SWITCH, {
        "blueGreen": {"previous": {"objectStoreUri": NEW_URI}}}),
     ["blueGreen.previous.objectStoreUri", "is storage.objectStore.uri"]),
    ("objectStoreUri on another path", deep_merge(switching(100), {
        "blueGreen": {"previous": {"objectStoreUri": OLD_URI}}}),
     ["blueGreen.previous.objectStoreUri", "storage.mode is pvc"]),
    ("nodeCache: one revision kept", deep_merge(PATH_PHASES["nodeCache"]["phase 1"], {
        "storage": {"nodeCache": {"keepRevisions": 1}}}),
     ["storage.nodeCache.keepRevisions", "keepRevisions: 2"]),
    # The previous slot takes the current endpoint, region and credentials: another scheme
    # would re-render the serving pods with the wrong streamer environment.
    ("objectStore: the previous prefix on another scheme", deep_merge(_STORE_SWITCH, {
        "blueGreen": {"previous": {"objectStoreUri": OLD_URI.replace("s3://", "gs://")}}}),
     ["blueGreen.previous.objectStoreUri", "gs://", "s3://", "same scheme"]),
]


@pytest.mark.parametrize("overlay, fragments", [r[1:] for r in PATH_REFUSALS],
                         ids=[r[0] for r in PATH_REFUSALS])
def test_a_switch_a_load_path_cannot_serve_is_refused_naming_its_key(overlay, fragments):
    message = _refused("staging", overlay)
    for fragment in fragments:
        assert fragment in message


def test_a_one_revision_node_cache_may_still_switch_its_vllm_version():
    """keepRevisions 1 deletes only other revisions: a vLLM-only switch serves the same one."""
    overlay = deep_merge(PATH_PHASES["nodeCache"]["room"], {
        **switching(100, revision=OLD_REVISION, version="0.34.0"),
        "storage": {"nodeCache": {"keepRevisions": 1}}})
    assert _plan("staging", overlay).revisions.previous is not None


@pytest.mark.parametrize("key, value, fragment", [
    ("modelImage", "registry.example.com/models/r1-distill:v2", "not pinned by a sha256 digest"),
    ("objectStoreUri", "https://models/r1", "objectStoreUri"),
])
def test_the_previous_storage_keys_are_checked_like_the_storage_keys(key, value, fragment):
    overlay = deep_merge(switching(100), {"blueGreen": {"previous": {key: value}}})
    message = str(pytest.raises(ConfigError, _config, "staging", overlay).value)
    assert fragment in message and f"blueGreen.previous.{key}" in message


@pytest.mark.parametrize("path, fragment", [
    ("image", f"the previous slot mounts model image {OLD_MODEL_IMAGE}"),
    ("objectStore", f"the previous slot streams from {OLD_URI}"),
    ("nodeCache", "the previous slot requires its revision's ready label; keepRevisions 2 "
                  "keeps it staged beside the new one"),
])
def test_tools_plan_says_where_the_previous_slot_reads_its_weights(path, fragment):
    plan = _plan("staging", PATH_PHASES[path]["phase 1"])
    assert fragment in plan.revisions.reason
    assert fragment in plan_tool.report("staging", plan)


def test_on_a_claim_the_previous_slot_reads_its_revisions_directory():
    assert "the previous slot reads its revision's directory on the claim" in \
        _plan("staging", PHASE_1).revisions.reason


def test_an_image_switch_without_the_previous_model_image_stops_the_preview_before_any_resource():
    assert_refused_before_any_resource("staging", deep_merge(_IMAGE_SWITCH, {
        "blueGreen": {"previous": {"modelImage": None}}}), [
        "blueGreen.previous.modelImage: storage.mode image finds a revision's weights at "
        "storage.image.reference"])


def test_a_previous_image_digest_on_a_stack_that_runs_by_tag_is_refused():
    """With image.digest unset the serving slot runs vLLM's image by its tag; pinning the
    previous slot's digest would re-render (and roll) the pods phase 1 must leave alone."""
    overlay = deep_merge(switching(100, revision=OLD_REVISION, version="0.34.0"), {
        "blueGreen": {"previous": {"imageDigest": "sha256:" + "a" * 64}}})
    message = _refused("staging", overlay)
    for fragment in ("blueGreen.previous.imageDigest", "image.digest is unset", "by its tag",
                     "remove blueGreen.previous.imageDigest"):
        assert fragment in message
