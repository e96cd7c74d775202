"""The model store's objects as plain data: names that carry what Kubernetes cannot change, the
download script, and the download Job's pod template.

Names. A PersistentVolume's source and a claim's class, access mode and volume are immutable,
and pulumi-kubernetes replaces a named object *delete-first* when one of them changes
(provider/pkg/provider/diff.go `forceNewProperties`; provider.go `Diff`, deleteBeforeReplace
for an unchanged metadata.name). A mounted claim cannot be deleted (kubernetes.io/pvc-protection),
so such an update would hang. Each name therefore ends in a short hash of exactly those fields:
a change gives a new name, Pulumi creates the new object first, the pods roll onto it, and the
old one is deleted last. The download Job's name hashes what decides the bytes (repository,
revision, file patterns, the claim they land in), so a vLLM upgrade never re-runs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Any, Optional

from facts import conventions as c
from planning.config import StorageConfig
from rendering import kube, pod

DOWNLOAD_PATTERNS = ["*.safetensors", "*.json", "*.model", "*.txt", "*.tiktoken",
                     "tokenizer*", "*.py", "*.jinja"]
"""Weights, config and tokenizer files only (no .bin/.pth duplicates, no original/ folders)."""
COMPLETE_MARKER = ".download-complete"
"""Written last, atomically, by the download; its presence means the directory is complete."""
HASH_CHARS = 6
STALE_PARTIAL = r"\.[0-9a-f]{8}\.incomplete$"
"""A partial file no later attempt resumes: huggingface_hub 1.x (file_download.py
`_download_to_tmp_and_move`) downloads each file to `<name>.<8 hex of a uuid4>.incomplete`,
unique to the process, and deletes it in a `finally` that a SIGKILL never reaches. 0.x named it
`<hash>.<etag>.incomplete` (a 40 or 64 hex etag, never 8) and resumed it: those are kept."""
HF_TOKEN_DIR = "/var/run/secrets/hf"
HF_TOKEN_FILE = f"{HF_TOKEN_DIR}/token"
"""The hub token, mounted from its Secret as a file (not an env var: checkov CKV_K8S_35).
huggingface_hub reads the file named by the HF_TOKEN_PATH env var (honoured from 0.23; vLLM 0.8
already needs a newer one through transformers) and treats a missing file as no token. The
script sets HF_TOKEN_PATH itself, before importing huggingface_hub (which reads it at import):
a literal value under a TOKEN-named env var in the spec is what the policy's
no-literal-secrets rule refuses."""


def immutable_suffix(fields: dict[str, Any]) -> str:
    """Short stable hash of the fields a name stands for (sorted JSON, SHA-256, 6 hex chars):
    the same fields always give the same name, so a rerun never renames anything."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]


@dataclasses.dataclass(frozen=True)
class StoreNames:
    """Kubernetes names of the store's objects."""

    claim: str
    volume: Optional[str]      # nfs: the PersistentVolume (cluster-scoped)
    job: Optional[str]         # pvc: the download Job


def model_directory(storage: StorageConfig, hf_id: str, revision: str) -> str:
    """Where the model is inside the pod: a plain snapshot directory (config.json on top).

    nfs: /models/<storage.nfs.modelSubdir> (the operator keeps the export current); image:
    /models/<storage.image.modelSubdir>;
    pvc and nodeCache: /models/<repo name>/<revision>, written by the Job (or the node's stager)
    with `local_dir` (not the hub cache layout). One directory per revision: a new revision downloads beside the one being served,
    and the changed path rolls the pods onto it only when it is complete.
    """
    if storage.mode in ("nfs", "image"):
        # image: the image's root is the volume's root (rendering/model_image.py).
        sub = getattr(storage, storage.mode).model_subdir.strip("/")
        return f"{pod.MODEL_MOUNT}/{sub}" if sub else pod.MODEL_MOUNT
    name, safe_revision = model_directory_parts(hf_id, revision)
    return f"{pod.MODEL_MOUNT}/{name}/{safe_revision}"


def model_directory_parts(hf_id: str, revision: str) -> tuple[str, str]:
    """`<repo name>`, `<revision>` of a downloaded revision's directory (pvc, nodeCache): the
    revision with characters a path must not hold replaced."""
    return hf_id.split("/")[-1], re.sub(r"[^A-Za-z0-9._-]", "_", revision)


def store_names(release: str, namespace: str, storage: StorageConfig, hf_id: str,
                revision: str) -> StoreNames:
    """Names that change exactly when an immutable field does (see the module docstring).

    nfs: PV and claim carry the export (server, path); pvc: the claim carries class and access
    mode, the Job carries repository, revision, patterns and the claim. Lengths: the release is
    at most 52 characters, so `<release>-dl-<6 hex>` stays within a Job's 63.
    """
    if storage.mode == "nfs":
        suffix = immutable_suffix({"server": storage.nfs.server, "path": storage.nfs.path})
        claim = f"{release}-weights-{suffix}"
        return StoreNames(claim=claim, volume=f"{namespace}-{claim}", job=None)
    pvc = storage.pvc
    claim = f"{release}-weights-" + immutable_suffix(
        # The model too: another model needs a claim of its own size (sizes are fixed).
        {"storageClass": pvc.storage_class, "accessMode": pvc.access_mode, "repo": hf_id})
    job = f"{release}-dl-" + immutable_suffix(
        {"repo": hf_id, "revision": revision, "patterns": DOWNLOAD_PATTERNS, "claim": claim})
    return StoreNames(claim=claim, volume=None, job=job)


def compile_cache_claim(release: str, storage_class: str, max_pods: int) -> tuple[str, str]:
    """Name and access mode of the shared torch.compile cache claim: ReadWriteMany when more than
    one pod can run at once (each writes; a surge pod counts), else ReadWriteOnce; the name
    carries class and mode."""
    mode = "ReadWriteMany" if max_pods > 1 else "ReadWriteOnce"
    suffix = immutable_suffix({"storageClass": storage_class, "accessMode": mode})
    return f"{release}-compile-cache-{suffix}", mode


def download_script(hf_id: str, revision: str, target: str) -> str:
    """Python run by the download Job. Older revisions are removed first, except the newest
    complete one (served until the pods roll; a Job that finds its revision complete, a
    rollback, touches the marker, so "newest" is "served last"). A complete directory (its
    marker present) is never downloaded again: a re-run, a replaced Job or a moved branch cannot rewrite weights under live
    pods. Otherwise fetch the allowed files at the revision, check that config.json and weights
    arrived, and write the marker last, atomically. The token, if any, is the file
    HF_TOKEN_FILE; huggingface_hub reads it (no token argument, no env var).

    A retried attempt keeps what finished: a file already in local_dir whose download metadata
    names this commit is skipped (huggingface_hub file_download.py
    `_hf_hub_download_to_local_dir`, 0.36 and 1.33 alike). A file cut off midway is resumed from
    its size by 0.x (`_download_to_tmp_and_move` appends to `<hash>.<etag>.incomplete` under
    local_dir/.cache/huggingface/download, unless hf_transfer is on: hence
    HF_HUB_ENABLE_HF_TRANSFER=0) and fetched again by 1.x (a process-unique partial file,
    STALE_PARTIAL, removed here). The revision clean-up spares the target directory."""
    return (
        "import json, os, pathlib, sys\n"
        f"target = pathlib.Path({target!r})\n"
        f"marker = target / {COMPLETE_MARKER!r}\n"
        "if marker.exists():\n"
        # Served again (a rollback): its marker becomes the newest, so the next revision's
        # clean-up below keeps it (newest by mtime) rather than the one rolled back from.
        "    os.utime(marker)\n"
        "    print('already complete:', marker.read_text())\n"
        "    sys.exit(0)\n"
        f"os.environ['HF_TOKEN_PATH'] = {HF_TOKEN_FILE!r}\n"
        # The claim holds two revisions: keep the newest complete one (the one being served)
        # and this one; remove older and abandoned ones before the download needs the space.
        "import shutil\n"
        "parent = target.parent\n"
        "parent.mkdir(parents=True, exist_ok=True)\n"
        "done = sorted((p for p in parent.iterdir() if p.is_dir() and p != target\n"
        "               and (p / marker.name).exists()), key=lambda p: (p / marker.name).stat().st_mtime)\n"
        "for old in parent.iterdir():\n"
        "    if old.is_dir() and old != target and old not in done[-1:]:\n"
        "        print('removing old revision', old.name)\n"
        "        shutil.rmtree(old, ignore_errors=True)\n"
        "from huggingface_hub import snapshot_download\n"
        "target.mkdir(parents=True, exist_ok=True)\n"
        # A killed attempt's process-unique partial file (huggingface_hub 1.x) is never resumed:
        # remove it, or each eviction leaves up to a shard per worker on the claim.
        "import re\n"
        "for stale in (target / '.cache').rglob('*.incomplete'):\n"
        f"    if re.search({STALE_PARTIAL!r}, stale.name):\n"
        "        stale.unlink(missing_ok=True)\n"
        f"snapshot_download(repo_id={hf_id!r}, revision={revision!r}, local_dir=str(target),\n"
        f"                  allow_patterns={DOWNLOAD_PATTERNS!r})\n"
        "names = sorted(p.name for p in target.iterdir())\n"
        "if 'config.json' not in names or not any(n.endswith('.safetensors') for n in names):\n"
        "    sys.exit(f'incomplete download, found {names}')\n"
        "partial = target / (marker.name + '.tmp')\n"
        f"partial.write_text(json.dumps({{'repo': {hf_id!r}, 'revision': {revision!r}}}))\n"
        "os.replace(partial, marker)\n"
        "print('downloaded', names)\n"
    )


DOWNLOAD_BACKOFF_LIMIT = 2 ** 31 - 1
"""The download Job never fails for good, so that no later `pulumi up` needs to replace it.

pulumi-kubernetes can retry a Job only by replacing it: `pulumi.com/replaceUnready` makes
`Diff` (provider/pkg/provider/provider.go) read the live Job and replace it whenever the Job
checker (provider/pkg/await/checker/job/check.go: started and Complete) says not ready, at
that moment. A download still running after a `pulumi up` that stopped waiting (timed out,
cancelled) is not ready either, so it was deleted (delete-first: same name) and started again.
Without the annotation the next `pulumi up` waits for the same Job (pulumi/pulumi
step_generator.go: an empty update for a resource with InitErrors), which keeps a running
download going, but fails at once on a Job whose Failed condition says BackoffLimitExceeded or
DeadlineExceeded, every time (pulumi-kubernetes TestReplaceUnready, step 2). So the retries
live in the Job: no activeDeadlineSeconds, and a backoff limit (int32's maximum; the API
checks only >= 0) that is never reached. restartPolicy OnFailure restarts the container with
the kubelet's back-off (at most 5 minutes apart: kubernetes pkg/kubelet/kubelet.go
`MaxContainerBackOff`); each attempt keeps the files already complete (download_script).
The trade-off: a download that can never succeed (a wrong token) retries until the config
changes; `pulumi up` reports it after the plan's download budget (the custom timeouts), with
the awaiter's pod messages. A new revision, claim or repository is a new Job by name, and
the old one, running or not, is deleted at the end of that update."""


def hub_download_pieces(hf_token: Optional[tuple[str, str]], mounts: list[dict],
                        volumes: list[dict]) -> list[dict]:
    """What every pod that downloads from the hub carries (the download Job, the node cache's
    stager): the hub token's Secret mounted read-only when one is given (appended to `mounts`
    and `volumes`), and the env: HOME on the writable /tmp, telemetry off, no hf_transfer."""
    if hf_token is not None:
        mounts.append({"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True})
        volumes.append({"name": "hf-token", "secret": {
            "secretName": hf_token[0], "optional": True,
            "items": [{"key": hf_token[1], "path": "token"}]}})
    return [{"name": "HOME", "value": "/tmp"},
            {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
            {"name": "HF_HUB_ENABLE_HF_TRANSFER", "value": "0"}]


def download_job_spec(*, script: str, image: Any, claim: str, labels: dict[str, str],
                      hf_token: Optional[tuple[str, str]], product_labels: list[str]) -> dict:
    """The download Job's spec (camelCase).

    The pod is placed like the serving pods (GPU product affinity, GPU taint tolerated) without
    taking a GPU: on WaitForFirstConsumer storage its node decides the volume's zone, which must
    be a zone with those GPUs. The token is optional: a namespace created by the same update
    cannot hold the Secret yet; a gated model then fails with the hub's 401 and the Job retries
    (see DOWNLOAD_BACKOFF_LIMIT; `kubectl delete pod` of the download pod makes the Job start a
    pod that mounts the Secret afresh). It is a file, not an env
    var: the Secret volume (optional, so the pod starts without it) holds the one key as `token`
    at HF_TOKEN_FILE, where the script points huggingface_hub. The root filesystem is read-only:
    the script writes to /models and /tmp (HOME, so the hub's cache) only.
    """
    mounts = [{"name": "model", "mountPath": pod.MODEL_MOUNT},
              {"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict] = [
        {"name": "model", "persistentVolumeClaim": {"claimName": claim}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}}]
    env = hub_download_pieces(hf_token, mounts, volumes)
    return {
        # No ttlSecondsAfterFinished: a deleted Job would be re-created by Pulumi.
        "backoffLimit": DOWNLOAD_BACKOFF_LIMIT,
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "restartPolicy": "OnFailure",
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": pod.pod_security_context(),
                "affinity": pod.gpu_node_affinity(product_labels),
                "tolerations": [pod.GPU_TOLERATION],
                "containers": [{
                    "name": "download",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["python3", "-c", script],
                    "env": env,
                    "resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                                  "limits": {"cpu": "2", "memory": "4Gi"}},
                    "volumeMounts": mounts,
                    "securityContext": pod.container_security_context(),
                }],
                "volumes": volumes,
            },
        },
    }


def download_network_policy_spec(labels: dict[str, str]) -> dict:
    """NetworkPolicy spec for the download pod (camelCase): no ingress at all; egress only to DNS
    and HTTPS (rendering/kube.py: any destination, the hub's CDN has no fixed addresses).
    `labels` are the store's labels; only the download pod carries them (the claim and PV are
    not pods)."""
    return {
        "podSelector": {"matchLabels": dict(labels)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [],
        "egress": [kube.dns_egress(), kube.https_egress()],
    }


def store_labels(release: str) -> dict[str, str]:
    """Labels of the store's objects: no vLLM version, so an upgrade changes none of them (a
    Job's pod template is immutable; a label change there would replace the Job)."""
    return {c.LABEL_NAME: "vllm", c.LABEL_INSTANCE: release, c.LABEL_COMPONENT: "model-store",
            c.LABEL_PART_OF: c.PART_OF, c.LABEL_MANAGED_BY: "pulumi"}


def name_suffix(kubernetes_name: str) -> str:
    """The hash a store name ends in. Logical names carry it too: a changed immutable field is
    then a new resource (created first, the old one deleted at the end of the update) rather
    than a replacement of the same one, which would inherit its ignored fields (the old size,
    the old image) from the state."""
    return kubernetes_name.rsplit("-", 1)[-1]


@dataclasses.dataclass(frozen=True)
class StoreObjects:
    """The store's objects ({"metadata", "spec"} each): nfs has a volume and a claim, pvc a
    claim, the download pod's NetworkPolicy and the download Job."""

    claim: Optional[dict]
    """None for image and nodeCache: their pods mount no claim (`model_volume`)."""
    model_dir: str
    volume: Optional[dict] = None
    download_network_policy: Optional[dict] = None
    download_job: Optional[dict] = None
    ready_marker: Optional[str] = None
    """File whose presence means the weights are complete (pvc mode), else None."""
    model_volume: Optional[dict] = None
    """image, nodeCache: the engine pod's `model` volume (rendering/pod.py
    `model_store_overlay`)."""
    required_node_labels: dict[str, str] = dataclasses.field(default_factory=dict)
    """nodeCache: the node label that says the revision is staged there."""
    pull_secrets: list[str] = dataclasses.field(default_factory=list)
    """image: the model registry's imagePullSecret, which the pod must list."""
    node_cache: Optional[Any] = None
    """nodeCache: the stager's objects (rendering/node_cache.py `CacheObjects`)."""


@dataclasses.dataclass(frozen=True)
class StorePodSide:
    """What an engine pod needs of its store to read one revision: the pieces StoreObjects
    carries for the current revision, rendered for any config's storage and revision, so a
    blue-green switch's previous slot gets its own (rendering/revisions.py `store_pod_side`)."""

    model_dir: str
    model_volume: Optional[dict] = None
    required_node_labels: dict[str, str] = dataclasses.field(default_factory=dict)
    pull_secrets: list[str] = dataclasses.field(default_factory=list)
    ready_marker: Optional[str] = None


def claim_pod_side(storage: StorageConfig, hf_id: str, revision: str) -> StorePodSide:
    """nfs, pvc, objectStore: the pod mounts the claim (or streams), nothing else to add; pvc's
    pods wait for the revision's download marker."""
    model_dir = model_directory(storage, hf_id, revision)
    marker = f"{model_dir}/{COMPLETE_MARKER}" if storage.mode == "pvc" else None
    return StorePodSide(model_dir=model_dir, ready_marker=marker)


def store_objects(release: str, namespace: Any, namespace_name: str, storage: StorageConfig,
                  hf_id: str, revision: str, capacity_gi: int, downloader_image: Any,
                  product_labels: list[str]) -> StoreObjects:
    """Weights on NFS (a PV bound by name) or on a many-reader claim filled by a download Job."""
    names = store_names(release, namespace_name, storage, hf_id, revision)
    labels = store_labels(release)
    capacity = {"storage": f"{capacity_gi}Gi"}
    model_dir = model_directory(storage, hf_id, revision)
    if storage.mode == "nfs":
        nfs = storage.nfs
        return StoreObjects(
            volume={"metadata": {"name": names.volume, "labels": labels}, "spec": {
                "capacity": capacity, "accessModes": ["ReadOnlyMany"],
                "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                "mountOptions": ["ro", "nfsvers=4.1", "hard"],
                "nfs": {"server": nfs.server, "path": nfs.path, "readOnly": True}}},
            # storageClassName "" keeps the default StorageClass from provisioning a new empty
            # volume; the component binds the claim to the volume it created (volumeName).
            claim={"metadata": {"name": names.claim, "namespace": namespace, "labels": labels},
                   "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "",
                            "resources": {"requests": capacity}}},
            model_dir=model_dir)
    pvc, token = storage.pvc, storage.pvc.hf_token_secret
    return StoreObjects(
        # A claim without a consumer stays Pending on WaitForFirstConsumer classes; the Job
        # consumes it, so don't let Pulumi wait for Bound.
        claim={"metadata": {"name": names.claim, "namespace": namespace, "labels": labels,
                            "annotations": {"pulumi.com/skipAwait": "true"}},
               "spec": {"accessModes": [pvc.access_mode], "storageClassName": pvc.storage_class,
                        "resources": {"requests": capacity}}},
        download_network_policy={
            "metadata": {"name": f"{release}-download", "namespace": namespace, "labels": labels},
            "spec": download_network_policy_spec(labels)},
        # No pulumi.com/replaceUnready: it would replace a download that is still running
        # (DOWNLOAD_BACKOFF_LIMIT says why and how failures retry).
        download_job={"metadata": {"name": names.job, "namespace": namespace, "labels": labels},
                      "spec": download_job_spec(
                          script=download_script(hf_id, revision, model_dir),
                          image=downloader_image, claim=names.claim, labels=labels,
                          hf_token=(token.name, token.key) if token else None,
                          product_labels=product_labels)},
        model_dir=model_dir, ready_marker=f"{model_dir}/{COMPLETE_MARKER}")


IMAGE_PULL_POLICY = "IfNotPresent"
"""The model image volume's pullPolicy. The reference is a digest (config refuses a tag), so a
present image is exactly the wanted one and a restart on the same node pulls nothing. (The
default, per kubernetes staging/src/k8s.io/api/core/v1/types.go `ImageVolumeSource`, is
Always for :latest and IfNotPresent otherwise; stated here so the object says it.)"""


def image_volume(reference: str) -> dict:
    """The engine pod's `model` volume in image mode: the OCI model image, which the kubelet
    has the container runtime pull with the pod's imagePullSecrets and mount read-only and
    noexec at the mount path, its layers merged as for a container image (types.go
    `VolumeSource.Image`; the whole image is mounted, so no subPath, which kubelets before
    1.33 do not support for image volumes)."""
    return {"name": "model", "image": {"reference": reference,
                                       "pullPolicy": IMAGE_PULL_POLICY}}


def image_pod_side(storage: StorageConfig, hf_id: str, revision: str) -> StorePodSide:
    """image mode: the pod mounts storage.image.reference and lists its registry's pull
    secret, if any."""
    image = storage.image
    return StorePodSide(model_dir=model_directory(storage, hf_id, revision),
                        model_volume=image_volume(image.reference),
                        pull_secrets=[image.pull_secret] if image.pull_secret else [])


def image_store_objects(storage: StorageConfig, hf_id: str, revision: str) -> StoreObjects:
    """image mode: nothing to create; the pod mounts the pushed image (image_pod_side)."""
    side = image_pod_side(storage, hf_id, revision)
    return StoreObjects(claim=None, model_dir=side.model_dir, model_volume=side.model_volume,
                        pull_secrets=side.pull_secrets)
