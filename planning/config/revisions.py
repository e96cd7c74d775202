"""`blueGreen`: which slot serves `model.revision` and `vllmVersion`, and, while a switch runs,
the previous revision kept beside it with its share of the traffic (README "Blue-green
revisions"). One `pulumi up` per phase: (1) the new slot beside the previous one, every request
still on the previous (`previous.weight: 100`); (2) the traffic moved (`weight: 0`, or steps
between); (3) `previous` removed, the old slot deleted."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator

from planning import pins
from planning.config.base import VERSION, _Model
from planning.config.storage import OBJECT_STORE_URI, ImageStoreConfig

SLOTS = ("blue", "green")
"""Blue is the name every stack had before blue-green existed (its objects keep their names);
green is `<release>-green`."""


class PreviousRevision(_Model):
    """While a switch runs: the revision and vLLM the other slot still serves, and its share
    of the traffic; removing it deletes the old slot."""

    revision: str = Field(
        min_length=1, description="model.revision the previous slot serves (as it was set)")
    vllm_version: VERSION = Field(
        description="vllmVersion the previous slot runs (as it was set)")
    image_digest: Optional[str] = Field(
        default=None, pattern=r"^sha256:[0-9a-f]{64}$",
        description="image.digest the previous slot runs, needed when image.digest is set and "
                    "the versions differ (the previous pods keep their image)")
    model_image: Optional[str] = Field(
        default=None,
        description="storage.image.reference the previous slot mounts (by digest), needed when "
                    "storage.mode is image and the revisions differ")
    object_store_uri: Optional[str] = Field(
        default=None, pattern=OBJECT_STORE_URI,
        description="storage.objectStore.uri the previous slot streams from, needed when "
                    "storage.mode is objectStore and the revisions differ")
    weight: int = Field(
        default=100, ge=0, le=100,
        description="Share (%) of the local alias's requests the previous slot still answers: "
                    "100 while the new slot proves itself, 0 once the traffic moved")

    @field_validator("revision")
    @classmethod
    def _revision_names_a_ref(cls, revision: str) -> str:
        problem = pins.revision_problem(revision)
        if problem:
            raise ValueError(f"{problem}; give the revision the previous slot serves")
        return revision

    @field_validator("model_image")
    @classmethod
    def _model_image_by_digest(cls, reference: Optional[str]) -> Optional[str]:
        """Pinned exactly as storage.image.reference is (a tag can move under the pods)."""
        return reference if reference is None else ImageStoreConfig._by_digest(reference)


class BlueGreenConfig(_Model):
    """Blue-green switches of model.revision or vllmVersion (README "Blue-green revisions"):
    the new slot beside the previous one, the router's weights moving the traffic."""

    slot: Literal[SLOTS] = Field(
        default="blue",
        description="The slot that serves model.revision and vllmVersion: blue (the names the "
                    "stack always had) or green (<release>-green); a switch moves to the other")
    previous: Optional[PreviousRevision] = None

    @property
    def previous_slot(self) -> Optional[str]:
        """The other slot, while a switch runs."""
        if self.previous is None:
            return None
        return SLOTS[1 - SLOTS.index(self.slot)]
