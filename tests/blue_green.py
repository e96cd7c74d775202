"""Staging's blue-green switch, phase by phase, as config overlays of its real stack file
(README "Blue-green revisions"): the planning, rendering, router and day-2 tests read the same
phases."""

from __future__ import annotations

from tests.harness import deep_merge, stack_config

OLD_REVISION = stack_config("staging")["model"]["revision"]
NEW_REVISION = "0123456789abcdef0123456789abcdef01234567"
VERSION = stack_config("staging")["vllmVersion"]

ROOM = {"spareGpus": 1, "autoscaling": {"minReplicas": 1}}
"""Phase 0, its own `pulumi up`: one L4 kept free for the new slot, and no scale to zero while
two slots share the traffic."""


def switching(weight: int, revision: str = NEW_REVISION, version: str = VERSION) -> dict:
    """Phases 1 and 2: model.revision (or vllmVersion) is the new one, served by green; blue
    still serves the old one and answers `weight` % of the local alias's requests."""
    return {**ROOM, "vllmVersion": version, "model": {"revision": revision},
            "blueGreen": {"slot": "green", "previous": {
                "revision": OLD_REVISION, "vllmVersion": VERSION, "weight": weight}}}


PHASE_1 = switching(100)
"""The new slot beside the old one, every request still on the old."""
PHASE_2 = switching(0)
"""The traffic moved to the new slot; the old one still runs (a rollback is weight 100)."""
PHASE_3 = {**ROOM, "model": {"revision": NEW_REVISION}, "blueGreen": {"slot": "green"}}
"""The old slot removed: green serves alone, under its own names, from now on."""

PROD_VERSION_SWITCH = {
    "spareGpus": 4, "vllmVersion": "0.33.0", "blueGreen": {"slot": "green", "previous": {
        "revision": stack_config("prod")["model"]["revision"],
        "vllmVersion": stack_config("prod")["vllmVersion"]}}}
"""prod's vLLM upgrade run blue-green (its NFS export holds one revision, so only the version
switches): phase 1, the two replicas' four GPUs spare."""


# The same switch on the load paths of issue 20, each overlaid on staging as the load-path tests
# do (tests/stacks/test_checkov.py PATH_VARIANTS). Each phase is the path's storage for the
# revision it serves, plus what the previous slot needs to find the previous revision's weights.
OLD_MODEL_IMAGE = "registry.example.com/models/r1-distill@sha256:" + "c3" * 32
NEW_MODEL_IMAGE = "registry.example.com/models/r1-distill@sha256:" + "d4" * 32
OLD_URI = f"s3://models/deepseek-r1-distill-qwen-7b/{OLD_REVISION}"
NEW_URI = f"s3://models/deepseek-r1-distill-qwen-7b/{NEW_REVISION}"


def image_path(reference: str) -> dict:
    """storage.mode image: the revision's weights are the pushed model image."""
    return {"storage": {"mode": "image", "pvc": None, "image": {"reference": reference}},
            "clusterVersions": {"kubernetes": "1.35"}}


def object_store_path(uri: str) -> dict:
    """storage.mode objectStore: the revision's prefix, streamed by runai_streamer."""
    return {"storage": {"mode": "objectStore", "pvc": None, "objectStore": {
        "uri": uri, "credentialsSecret": "model-reader"}},
        "engine": {"loadFormat": "runai_streamer"}}


NODE_CACHE_PATH = {"storage": {"mode": "nodeCache", "pvc": None, "nodeCache": {"diskGi": 200}}}


def _phases(old: dict, new: dict, previous: dict) -> dict[str, dict]:
    """Phases 0 to 3 of the switch on one path: `old` and `new` the path's storage for each
    revision, `previous` what blueGreen.previous adds for it."""
    during = {"blueGreen": {"previous": previous}}
    return {"room": deep_merge(old, ROOM),
            "phase 1": deep_merge(deep_merge(new, PHASE_1), during),
            "phase 2": deep_merge(deep_merge(new, PHASE_2), during),
            "phase 3": deep_merge(new, PHASE_3)}


PATH_PHASES = {
    "image": _phases(image_path(OLD_MODEL_IMAGE), image_path(NEW_MODEL_IMAGE),
                     {"modelImage": OLD_MODEL_IMAGE}),
    "nodeCache": _phases(NODE_CACHE_PATH, NODE_CACHE_PATH, {}),
    "objectStore": _phases(object_store_path(OLD_URI), object_store_path(NEW_URI),
                           {"objectStoreUri": OLD_URI}),
}
"""Staging's revision switch on each new load path, phase by phase (README "Blue-green
revisions")."""
