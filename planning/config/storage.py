"""`storage`: where the weights live (an NFS export or a claim the program fills)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field, field_validator, model_validator

from facts import k8s_names
from facts.images import moving_reference
from planning.config.base import ObjectName, SecretRef, _api_server_rule, _Model


MAX_MIB_PER_SECOND = 100_000
"""Upper bound of a measured read or download rate (~105 GB/s): twice what a node's whole
storage fabric carries today (a DGX H100 has two 400 Gb/s storage NICs = 100 GB/s, ~95,000
MiB/s). A larger figure is a typo or a unit slip, and would shrink the weight-load phase of the
start-up budget to nothing."""


class NfsConfig(_Model):
    """An existing NFS export that holds the model as a plain snapshot directory."""

    server: Annotated[str, AfterValidator(_api_server_rule(k8s_names.host_problem))] = Field(
        description="The NFS server")
    path: str = Field(pattern=r"^/",
        description="The exported path (absolute)")
    model_subdir: str = Field(default="", description="Directory inside the export with config.json")


class PvcConfig(_Model):
    """A claim from a storage class, filled by a download Job."""

    storage_class: ObjectName = Field(
        description="Class of the claim the download Job fills")
    # The download Job writes into the claim, so a read-only mode cannot work here.
    access_mode: Literal["ReadWriteMany", "ReadWriteOnce"] = Field(
        default="ReadWriteMany",
        description="ReadWriteMany, or ReadWriteOnce with one replica (the Job writes, so no "
                    "read-only mode)")
    hf_token_secret: Optional[SecretRef] = Field(
        default=None,
        description="Secret with a hub token for gated models")
    download_timeout_minutes: Optional[int] = Field(default=None, gt=0,
        description="How long pulumi up waits for the download Job (unset: derived, download + 10 "
                    "min); the Job itself has no deadline: it keeps going, and the next pulumi up "
                    "waits again")
    download_mib_per_second: int = Field(
        default=50, gt=0, le=MAX_MIB_PER_SECOND,
        description="Download rate from the hub into the claim (measured); sizes the download "
                    "Job's budget")
    downloader_image: Optional[str] = Field(
        default=None, description="Image with python3 and huggingface_hub for the download "
                                  "Job; default: the vLLM image (it ships huggingface_hub)")

    @field_validator("downloader_image")
    @classmethod
    def _downloader_pinned(cls, image: Optional[str]) -> Optional[str]:
        if image is None:
            return image
        if moving_reference(image) is not None:
            raise ValueError(
                f"{image!r} is not pinned; give a release tag (repo:1.2.3) or a digest "
                "(repo@sha256:…)")
        return image


class StorageConfig(_Model):
    """Where the weights live."""

    mode: Literal["nfs", "pvc"] = Field(
        description="nfs or pvc")
    capacity_gi: Optional[int] = Field(default=None, gt=0,
        description="Volume size, fixed at creation (unset: derived, weights × 1.2, × 2 revisions "
                    "in pvc mode)")
    read_mib_per_second: int = Field(
        default=400, gt=0, le=MAX_MIB_PER_SECOND,
        description="Sustained read bandwidth per pod from this storage, at most 100,000 MiB/s; "
                    "drives the start-up budget")
    streaming_read_mib_per_second: Optional[int] = Field(
        default=None, gt=0, le=MAX_MIB_PER_SECOND,
        description="Read bandwidth a streaming loader (engine.loadFormat runai_streamer or "
                    "fastsafetensors) reaches on this storage; measured, not assumed; used for the "
                    "start-up budget when that loader is set")
    nfs: Optional[NfsConfig] = None
    pvc: Optional[PvcConfig] = None

    @model_validator(mode="after")
    def _mode_settings(self) -> "StorageConfig":
        if self.mode == "nfs" and self.nfs is None:
            raise ValueError("storage.mode is nfs: set storage.nfs.server and storage.nfs.path")
        if self.mode == "pvc" and self.pvc is None:
            raise ValueError("storage.mode is pvc: set storage.pvc.storageClass")
        other = "pvc" if self.mode == "nfs" else "nfs"
        if getattr(self, other) is not None:
            raise ValueError(f"storage.{other} is set but storage.mode is {self.mode}; remove it")
        return self


