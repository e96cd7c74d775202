"""`storage`: where the weights live and how they reach a pod: an NFS export, a claim the
program fills, an OCI model image mounted as an image volume, a cache staged on each GPU node's
local disk, or an object store a streaming loader reads. Shapes are checked here; rules that
cross keys (version floors, the loader an object store needs, a cache disk too small) are checks
in planning/checks.py."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from facts import k8s_names
from facts.images import moving_reference, pinned_by_digest, split_image
from planning.config.base import (LabelKey, LabelValue, ObjectName, SecretRef, _api_server_rule,
                                  _Model)


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
        return _pinned_image(image)


def _pinned_image(image: Optional[str]) -> Optional[str]:
    """A helper image (downloader, stager) runs one build: a release tag or a digest."""
    if image is None:
        return image
    if moving_reference(image) is not None:
        raise ValueError(
            f"{image!r} is not pinned; give a release tag (repo:1.2.3) or a digest "
            "(repo@sha256:…)")
    return image


def _relative_subdir(subdir: str) -> str:
    """A directory inside the volume: relative, without '..' (it must not leave the volume)."""
    if subdir.startswith("/") or ".." in subdir.split("/"):
        raise ValueError(f"{subdir!r} must be a relative path inside the volume, without '..'; "
                         "e.g. models/qwen2.5-7b, or empty for the volume's root")
    return subdir


SHA256_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
"""The digest a registry reports for a pushed image (OCI image-spec descriptor.md: sha256 is
64 lowercase hex characters)."""


class ImageStoreConfig(_Model):
    """An OCI model image, mounted read-only as an image volume (Kubernetes ImageVolume): the
    node's container runtime pulls and caches its layers once, every pod on the node shares
    them. The program writes the Containerfile (tools/model_image.py); the build and push are
    the operator's, and the pushed digest comes back here."""

    reference: str = Field(
        description="The pushed model image by digest, registry/repo@sha256:<64 hex> (a tag "
                    "moves: push, then put the digest here)")
    pull_mib_per_second: int = Field(
        default=100, gt=0, le=MAX_MIB_PER_SECOND,
        description="Registry-to-node pull rate (measured); the first start on a node pays "
                    "the pull")
    pull_secret: Optional[ObjectName] = Field(
        default=None, description="imagePullSecret for the model registry (unset: none)")
    model_subdir: str = Field(
        default="", description="Directory inside the image with config.json")

    @field_validator("reference")
    @classmethod
    def _by_digest(cls, reference: str) -> str:
        repository, _, digest = split_image(reference)
        if (not repository or not pinned_by_digest(reference)
                or not SHA256_DIGEST.fullmatch(digest or "")):
            raise ValueError(
                f"{reference!r} is not pinned by a sha256 digest; a tag can move to other "
                "weights under a running stack: push the image, then put the digest here "
                "(registry/repo@sha256:<64 hex>, as the push or `crane digest` prints it)")
        return reference

    _subdir = field_validator("model_subdir")(_relative_subdir)


class NodeCacheConfig(_Model):
    """Weights staged once per GPU node onto its local disk (a hostPath), before a pod needs
    them; pods are scheduled only on nodes whose cache is ready, and read at local-disk speed."""

    host_path: str = Field(
        default="/var/lib/vllm-models", pattern=r"^/.*[^/]$",
        description="Absolute directory on every cache node holding the staged revisions")
    node_selector: dict[LabelKey, LabelValue] = Field(default_factory=dict,
        description="Nodes that stage the cache (empty: the engine's placement.nodeSelector)")
    disk_gi: int = Field(gt=0,
        description="Space the cache disk offers on each node (Gi); checked against what "
                    "keepRevisions revisions need")
    keep_revisions: int = Field(default=2, ge=1, le=10,
        description="Revisions kept on a node (served + next); older ones are removed")
    download_mib_per_second: int = Field(
        default=50, gt=0, le=MAX_MIB_PER_SECOND,
        description="Hub-to-node download rate (measured); sizes the staging budget")
    hf_token_secret: Optional[SecretRef] = Field(
        default=None, description="Secret with a hub token for gated models")
    stager_image: Optional[str] = Field(
        default=None, description="Pinned image with python3 and huggingface_hub that stages "
                                  "the weights; default: the vLLM image")

    @field_validator("host_path")
    @classmethod
    def _inside_the_node(cls, path: str) -> str:
        if ".." in path.split("/") or path in SYSTEM_PATHS:
            raise ValueError(f"{path!r} must be a dedicated absolute directory, without '..' "
                             "and not a system directory; e.g. /var/lib/vllm-models")
        return path

    _stager = field_validator("stager_image")(_pinned_image)


SYSTEM_PATHS = frozenset({"/etc", "/var", "/var/lib", "/usr", "/bin", "/sbin", "/lib", "/boot",
                          "/proc", "/sys", "/dev", "/root", "/home", "/tmp", "/var/lib/kubelet",
                          "/var/lib/containerd", "/run"})
"""Node directories a cache must not take over: the cache's garbage collection deletes what it
does not keep."""

OBJECT_STORE_URI = r"^(s3|gs)://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/[^\s]*)?$"
"""s3://bucket[/prefix] or gs://bucket[/prefix]: the schemes vLLM's runai_streamer reads
(vllm/transformers_utils/runai_utils.py); bucket names as S3 and GCS name them (lowercase,
digits, '.', '-', 3 to 222 characters)."""


class ObjectStoreConfig(_Model):
    """Weights streamed from S3 or GCS by vLLM's runai_streamer loader."""

    uri: str = Field(pattern=OBJECT_STORE_URI,
        description="s3://bucket/prefix or gs://bucket/prefix: the directory with config.json")
    endpoint: Optional[str] = Field(default=None,
        description="https URL of an S3-compatible endpoint (MinIO, Ceph …); unset: the "
                    "provider's own")
    region: Optional[str] = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$",
        description="The bucket's region (unset: the client's default)")
    credentials_secret: Optional[ObjectName] = Field(default=None,
        description="Secret with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (s3) or a service "
                    "account key (gs)")
    concurrency: Optional[int] = Field(default=None, gt=0, le=1024,
        description="Reader threads of the streamer, RUNAI_STREAMER_CONCURRENCY (unset: its "
                    "default)")
    service_account_name: Optional[ObjectName] = Field(default=None,
        description="ServiceAccount the engine pods run as, for a workload identity (IRSA, "
                    "GKE Workload Identity) instead of credentialsSecret")

    @field_validator("endpoint")
    @classmethod
    def _https_endpoint(cls, endpoint: Optional[str]) -> Optional[str]:
        if endpoint is None:
            return endpoint
        url = urlsplit(endpoint)
        if url.scheme != "https" or not url.hostname or url.username or url.password:
            raise ValueError(f"{endpoint!r} is not an https URL without credentials; give "
                             "https://host[:port] (credentials belong in credentialsSecret)")
        return endpoint

    @model_validator(mode="after")
    def _endpoint_is_for_s3(self) -> "ObjectStoreConfig":
        if self.endpoint is not None and self.uri.startswith("gs://"):
            raise ValueError("storage.objectStore.endpoint names an S3-compatible endpoint, "
                             "but uri is gs://; remove endpoint, or give the s3:// uri the "
                             "endpoint serves")
        return self


class StorageConfig(_Model):
    """Where the weights live."""

    mode: Literal["nfs", "pvc", "image", "nodeCache", "objectStore"] = Field(
        description="nfs, pvc, image, nodeCache or objectStore (the table of paths: README "
                    "\"Storage\")")
    capacity_gi: Optional[int] = Field(default=None, gt=0,
        description="Volume size, fixed at creation (unset: derived, weights × 1.2, × 2 revisions "
                    "in pvc mode)")
    # Unset means unmeasured: the budget then assumes a slow mount (planning/delivery.py
    # UNMEASURED_READ_MIB_PER_SECOND) and the plan warns, naming this key (issue 18).
    read_mib_per_second: Optional[int] = Field(
        default=None, gt=0, le=MAX_MIB_PER_SECOND,
        description="Sustained read bandwidth per pod from the weights' medium (image and "
                    "nodeCache: the node's local disk), measured, at most 100,000 MiB/s; drives "
                    "the start-up budget (unset: 50 MiB/s, a slow mount, with a warning)")
    streaming_read_mib_per_second: Optional[int] = Field(
        default=None, gt=0, le=MAX_MIB_PER_SECOND,
        description="Read bandwidth a streaming loader (engine.loadFormat runai_streamer*, "
                    "fastsafetensors, instanttensor), vLLM's own prefetch on NFS (0.19+) or the "
                    "object store reaches; measured, not assumed; used for the start-up budget "
                    "when one of them reads")
    nfs: Optional[NfsConfig] = None
    pvc: Optional[PvcConfig] = None
    image: Optional[ImageStoreConfig] = None
    node_cache: Optional[NodeCacheConfig] = None
    object_store: Optional[ObjectStoreConfig] = None

    @model_validator(mode="after")
    def _mode_settings(self) -> "StorageConfig":
        if getattr(self, MODE_FIELDS[self.mode]) is None:
            raise ValueError(f"storage.mode is {self.mode}: set {MODE_NEEDS[self.mode]}")
        others = [mode for mode, field in MODE_FIELDS.items()
                  if mode != self.mode and getattr(self, field) is not None]
        if others:
            raise ValueError(f"storage.{others[0]} is set but storage.mode is {self.mode}; "
                             "remove it")
        return self


MODE_FIELDS = {"nfs": "nfs", "pvc": "pvc", "image": "image", "nodeCache": "node_cache",
               "objectStore": "object_store"}
"""Each storage.mode and the settings block it needs (exactly one is set)."""
MODE_NEEDS = {"nfs": "storage.nfs.server and storage.nfs.path",
              "pvc": "storage.pvc.storageClass",
              "image": "storage.image.reference (the pushed model image's digest)",
              "nodeCache": "storage.nodeCache.diskGi (and hostPath, nodeSelector if not the "
                           "defaults)",
              "objectStore": "storage.objectStore.uri (s3://bucket/prefix or gs://…)"}


