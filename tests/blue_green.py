"""Staging's blue-green switch, phase by phase, as config overlays of its real stack file
(README "Blue-green revisions"): the planning, rendering, router and day-2 tests read the same
phases."""

from __future__ import annotations

from tests.harness import stack_config

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
