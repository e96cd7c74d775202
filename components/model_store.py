"""ModelStore: the model weights, read-only to every replica."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from planning.config import StackConfig, StorageConfig
from planning.plan import Plan
from rendering import model_store as render


@dataclasses.dataclass
class ModelStoreArgs:
    """Inputs of ModelStore."""

    release: str
    namespace: pulumi.Input[str]
    namespace_name: str
    """Plain namespace name for cluster-scoped names (the PV)."""
    storage: StorageConfig
    hf_id: str
    revision: str
    capacity_gi: int
    download_timeout_seconds: int
    downloader_image: pulumi.Input[str]
    """storage.pvc.downloaderImage, else the vLLM image (it ships huggingface_hub)."""
    product_labels: list[str]
    """GPU products the serving pods need: the download pod lands in their zone."""
    release_timeout_seconds: int
    """How long a replaced claim may stay in use: the pods' grace period plus a margin."""


def model_store_args(cfg: StackConfig, plan: Plan, release: str, namespace: pulumi.Input[str],
                     image_ref: pulumi.Input[str]) -> ModelStoreArgs:
    """The store of `cfg`'s model: its volume sized by the plan, downloaded (pvc) by the
    configured downloader image, else by the serving image."""
    pvc = cfg.storage.pvc
    return ModelStoreArgs(
        release=release, namespace=namespace, namespace_name=cfg.namespace,
        storage=cfg.storage, hf_id=plan.model.hf_id, revision=cfg.model.revision,
        capacity_gi=plan.storage.capacity_gi,
        download_timeout_seconds=plan.storage.download_timeout_seconds,
        downloader_image=(pvc.downloader_image if pvc and pvc.downloader_image else image_ref),
        product_labels=plan.gpu.product_labels,
        release_timeout_seconds=plan.rollout.claim_release_seconds)


class ModelStore(pulumi.ComponentResource):
    """Weights on NFS (a PV bound by name) or on a many-reader PVC filled by a download Job
    (whose pod a NetworkPolicy limits to DNS and HTTPS egress)."""

    claim_name: pulumi.Output[str]
    """The PersistentVolumeClaim every replica mounts read-only."""
    model_dir: pulumi.Output[str]
    """The directory vLLM serves the model from."""
    ready_marker: Optional[str]
    """File whose presence means the weights are complete (pvc mode), else None."""

    def __init__(self, name: str, args: ModelStoreArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:ModelStore", name, None, opts)
        names = render.store_names(args.release, args.namespace_name, args.storage,
                                   args.hf_id, args.revision)
        labels = render.store_labels(args.release)
        capacity = f"{args.capacity_gi}Gi"
        model_dir = render.model_directory(args.storage, args.hf_id, args.revision)
        # Sizes are fixed at creation: a bound NFS claim cannot be resized and no claim can
        # shrink, so a later plan (another model, a new formula) must not patch them. Grow a
        # dynamic claim with `kubectl edit pvc` where its class allows expansion. A replaced
        # claim (new name) is deleted only once the old pods are gone: wait that long.
        claim_opts = pulumi.ResourceOptions(
            parent=self, ignore_changes=["spec.capacity", "spec.resources.requests.storage"],
            delete_before_replace=False,
            custom_timeouts=pulumi.CustomTimeouts(delete=f"{args.release_timeout_seconds}s"))
        self.download_job = None
        self.ready_marker = None
        if args.storage.mode == "nfs":
            nfs = args.storage.nfs
            volume = k8s.core.v1.PersistentVolume(
                f"{name}-pv-{_suffix(names.volume)}",
                metadata={"name": names.volume, "labels": labels},
                spec={
                    "capacity": {"storage": capacity},
                    "accessModes": ["ReadOnlyMany"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": "",
                    "mountOptions": ["ro", "nfsvers=4.1", "hard"],
                    "nfs": {"server": nfs.server, "path": nfs.path, "readOnly": True},
                },
                opts=claim_opts,
            )
            pvc = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-pvc-{_suffix(names.claim)}",
                metadata={"name": names.claim, "namespace": args.namespace, "labels": labels},
                spec={
                    "accessModes": ["ReadOnlyMany"],
                    # "" keeps the default StorageClass from provisioning a new empty volume.
                    "storageClassName": "",
                    "volumeName": volume.metadata["name"],
                    "resources": {"requests": {"storage": capacity}},
                },
                opts=claim_opts,
            )
        else:
            pvc_cfg = args.storage.pvc
            pvc = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-pvc-{_suffix(names.claim)}",
                metadata={"name": names.claim, "namespace": args.namespace, "labels": labels,
                          # A claim without a consumer stays Pending on WaitForFirstConsumer
                          # classes; the Job consumes it, so don't let Pulumi wait for Bound.
                          "annotations": {"pulumi.com/skipAwait": "true"}},
                spec={
                    "accessModes": [pvc_cfg.access_mode],
                    "storageClassName": pvc_cfg.storage_class,
                    "resources": {"requests": {"storage": capacity}},
                },
                opts=claim_opts,
            )
            # The download pod may reach only DNS and HTTPS (the hub), and nothing may reach it.
            netpol = k8s.networking.v1.NetworkPolicy(
                f"{name}-download-netpol",
                metadata={"name": f"{args.release}-download", "namespace": args.namespace,
                          "labels": labels},
                spec=render.download_network_policy_spec(labels),
                opts=pulumi.ResourceOptions(parent=self))
            token = pvc_cfg.hf_token_secret
            self.download_job = k8s.batch.v1.Job(
                f"{name}-download-{_suffix(names.job)}",
                # No pulumi.com/replaceUnready: it would replace a download that is still
                # running (render.DOWNLOAD_BACKOFF_LIMIT says why and how failures retry).
                metadata={"name": names.job, "namespace": args.namespace, "labels": labels},
                spec=render.download_job_spec(
                    script=render.download_script(args.hf_id, args.revision, model_dir),
                    image=args.downloader_image, claim=names.claim, labels=labels,
                    hf_token=(token.name, token.key) if token else None,
                    product_labels=args.product_labels),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[pvc, netpol],
                    # The image follows vllmVersion by default; a Job's template is immutable,
                    # so an upgrade must not replace (re-run) a finished download. A new
                    # revision or claim is a new Job (logical name and metadata.name carry the
                    # hash), so ignoreChanges never carries an old image into it.
                    ignore_changes=["spec.template.spec.containers[0].image"],
                    custom_timeouts=pulumi.CustomTimeouts(
                        create=f"{args.download_timeout_seconds}s",
                        update=f"{args.download_timeout_seconds}s")),
            )
            self.ready_marker = f"{model_dir}/{render.COMPLETE_MARKER}"
        self.claim_name = pvc.metadata["name"]
        self.model_dir = pulumi.Output.from_input(model_dir)
        self.register_outputs({"claim_name": self.claim_name, "model_dir": self.model_dir})


def _suffix(kubernetes_name: str) -> str:
    """The hash a store name ends in. Logical names carry it too: a changed immutable field is
    then a new resource (created first, the old one deleted at the end of the update) rather
    than a replacement of the same one, which would inherit its ignored fields (the old size,
    the old image) from the state."""
    return kubernetes_name.rsplit("-", 1)[-1]
