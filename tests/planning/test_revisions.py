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
from tests.blue_green import NEW_REVISION, OLD_REVISION, PHASE_1, PHASE_2, PHASE_3, ROOM, \
    VERSION, switching
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


def test_weights_per_revision_is_the_pvc_store_alone():
    assert revisions.weights_per_revision(_config("staging", {}).storage)
    assert not revisions.weights_per_revision(_config("prod", {}).storage)


PROD_VERSION_SWITCH = {"spareGpus": 4, "vllmVersion": "0.33.0", "blueGreen": {
    "slot": "green", "previous": {"revision": stack_values("prod")["model"]["revision"],
                                  "vllmVersion": stack_values("prod")["vllmVersion"]}}}


def test_an_nfs_stack_may_switch_its_vllm_version_beside_the_old_one():
    switch = _plan("prod", PROD_VERSION_SWITCH).revisions
    assert switch.previous.config.vllm_version == stack_values("prod")["vllmVersion"]
    assert switch.previous.plan.version != _plan("prod", PROD_VERSION_SWITCH).version


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
