"""ModelStore: the model weights, read-only to every replica."""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from planning.config import StorageConfig
from rendering.pod import MODEL_MOUNT, USER_ID

DOWNLOAD_PATTERNS = ["*.safetensors", "*.json", "*.model", "*.txt", "*.tiktoken",
                     "tokenizer*", "*.py", "*.jinja"]
"""Weights, config and tokenizer files only (no .bin/.pth duplicates, no original/ folders)."""
COMPLETE_MARKER = ".download-complete"


@dataclasses.dataclass
class ModelStoreArgs:
    """Inputs of ModelStore."""

    release: str
    namespace: pulumi.Input[str]
    storage: StorageConfig
    hf_id: str
    revision: str
    capacity_gi: int
    download_timeout_seconds: int
    labels: dict[str, str]
    downloader_image: pulumi.Input[str]
    namespace_name: str = ""
    """Plain namespace name for cluster-scoped names (the PV)."""


def model_directory(storage: StorageConfig, hf_id: str, revision: str) -> str:
    """Where `--model` points inside the pod: a plain snapshot directory (config.json on top).

    nfs: /models/<storage.nfs.modelSubdir> (the operator keeps the export current);
    pvc: /models/<repo name>/<revision>, written by the Job with `local_dir` (not the hub cache
    layout). One directory per revision: a new revision downloads beside the one being served,
    and the changed `--model` path rolls the pods onto it only when it is complete.
    """
    if storage.mode == "nfs":
        sub = storage.nfs.model_subdir.strip("/")
        return f"{MODEL_MOUNT}/{sub}" if sub else MODEL_MOUNT
    safe_revision = re.sub(r"[^A-Za-z0-9._-]", "_", revision)
    return f"{MODEL_MOUNT}/{hf_id.split('/')[-1]}/{safe_revision}"


def download_script(hf_id: str, revision: str, target: str) -> str:
    """Python run by the download Job: clear the marker, fetch the allowed files at the revision,
    then mark the directory complete."""
    return (
        "import os, pathlib\n"
        "from huggingface_hub import snapshot_download\n"
        f"target = pathlib.Path({target!r})\n"
        "target.mkdir(parents=True, exist_ok=True)\n"
        # A re-run (a moving branch, a new downloader image) must not leave the old marker
        # while files are being replaced: pods that restart meanwhile wait for the new one.
        f"(target / {COMPLETE_MARKER!r}).unlink(missing_ok=True)\n"
        f"snapshot_download(repo_id={hf_id!r}, revision={revision!r}, local_dir=str(target),\n"
        f"                  allow_patterns={DOWNLOAD_PATTERNS!r},\n"
        "                  token=os.environ.get('HF_TOKEN') or None)\n"
        f"(target / {COMPLETE_MARKER!r}).write_text({revision!r})\n"
        "print('downloaded', sorted(p.name for p in target.iterdir()))\n"
    )


class ModelStore(pulumi.ComponentResource):
    """Weights on NFS (a PV bound by name) or on a many-reader PVC filled by a download Job."""

    claim_name: pulumi.Output[str]
    """The PersistentVolumeClaim every replica mounts read-only."""
    model_dir: pulumi.Output[str]
    """The directory `--model` points to."""
    ready_marker: Optional[str]
    """File whose presence means the weights are complete (pvc mode), else None."""

    def __init__(self, name: str, args: ModelStoreArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:ModelStore", name, None, opts)
        # Sizes are fixed at creation: a bound NFS claim cannot be resized and no claim can
        # shrink, so a later plan (another model, a new formula) must not patch them.
        # Grow a dynamic claim with `kubectl edit pvc` where its class allows expansion.
        fixed_size = pulumi.ResourceOptions(parent=self, ignore_changes=[
            "spec.capacity", "spec.resources.requests.storage"])
        claim = f"{args.release}-weights"
        capacity = f"{args.capacity_gi}Gi"
        model_dir = model_directory(args.storage, args.hf_id, args.revision)
        self.download_job = None
        if args.storage.mode == "nfs":
            nfs = args.storage.nfs
            volume = k8s.core.v1.PersistentVolume(
                f"{name}-pv",
                # Cluster-scoped: the namespace in the name keeps stacks apart.
                metadata={"name": f"{args.namespace_name}-{claim}", "labels": args.labels},
                spec={
                    "capacity": {"storage": capacity},
                    "accessModes": ["ReadOnlyMany"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": "",
                    "mountOptions": ["ro", "nfsvers=4.1", "hard"],
                    "nfs": {"server": nfs.server, "path": nfs.path, "readOnly": True},
                },
                opts=fixed_size,
            )
            pvc = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-pvc",
                metadata={"name": claim, "namespace": args.namespace, "labels": args.labels},
                spec={
                    "accessModes": ["ReadOnlyMany"],
                    # "" keeps the default StorageClass from provisioning a new empty volume.
                    "storageClassName": "",
                    "volumeName": volume.metadata["name"],
                    "resources": {"requests": {"storage": capacity}},
                },
                opts=fixed_size,
            )
            self.ready_marker = None
        else:
            pvc_cfg = args.storage.pvc
            pvc = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-pvc",
                metadata={"name": claim, "namespace": args.namespace, "labels": args.labels,
                          # A claim without a consumer stays Pending on WaitForFirstConsumer
                          # classes; the Job consumes it, so don't let Pulumi wait for Bound.
                          "annotations": {"pulumi.com/skipAwait": "true"}},
                spec={
                    "accessModes": [pvc_cfg.access_mode],
                    "storageClassName": pvc_cfg.storage_class,
                    "resources": {"requests": {"storage": capacity}},
                },
                opts=fixed_size,
            )
            env = []
            if pvc_cfg.hf_token_secret is not None:
                # optional: a namespace created by this very update cannot hold the Secret yet;
                # public models download without it, gated ones fail with the hub's 401.
                env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
                    "name": pvc_cfg.hf_token_secret.name, "key": pvc_cfg.hf_token_secret.key,
                    "optional": True}}})
            env += [{"name": "HOME", "value": "/tmp"},
                    {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
                    {"name": "HF_HUB_ENABLE_HF_TRANSFER", "value": "0"}]
            self.download_job = k8s.batch.v1.Job(
                f"{name}-download",
                metadata={"name": f"{args.release}-download", "namespace": args.namespace,
                          "labels": args.labels},
                spec={
                    # No ttlSecondsAfterFinished: a deleted Job would be re-created by Pulumi.
                    "backoffLimit": 3,
                    "activeDeadlineSeconds": args.download_timeout_seconds,
                    "template": {
                        "metadata": {"labels": args.labels},
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "automountServiceAccountToken": False,
                            "enableServiceLinks": False,
                            "securityContext": {
                                "runAsNonRoot": True, "runAsUser": USER_ID,
                                "runAsGroup": USER_ID, "fsGroup": USER_ID,
                                "seccompProfile": {"type": "RuntimeDefault"}},
                            "containers": [{
                                "name": "download",
                                "image": args.downloader_image,
                                "command": ["python3", "-c", download_script(
                                    args.hf_id, args.revision, model_dir)],
                                "env": env,
                                "resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                                              "limits": {"cpu": "2", "memory": "4Gi"}},
                                "volumeMounts": [{"name": "model", "mountPath": MODEL_MOUNT},
                                                 {"name": "tmp", "mountPath": "/tmp"}],
                                "securityContext": {
                                    "allowPrivilegeEscalation": False, "privileged": False,
                                    "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
                            }],
                            "volumes": [
                                {"name": "model", "persistentVolumeClaim": {"claimName": claim}},
                                {"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}}],
                        },
                    },
                },
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[pvc],
                    custom_timeouts=pulumi.CustomTimeouts(
                        create=f"{args.download_timeout_seconds}s",
                        update=f"{args.download_timeout_seconds}s")),
            )
            self.ready_marker = f"{model_dir}/{COMPLETE_MARKER}"
        self.claim_name = pvc.metadata["name"]
        self.model_dir = pulumi.Output.from_input(model_dir)
        self.register_outputs({"claim_name": self.claim_name, "model_dir": self.model_dir})
