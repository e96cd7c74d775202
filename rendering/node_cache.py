"""storage.mode nodeCache: weights staged once per GPU node on its local disk, as plain data.

Who stages: a DaemonSet, not a Job per node. The program cannot read the cluster at preview, so
it cannot name the nodes a per-node Job would need; a DaemonSet's controller places one pod on
every node its selector matches, including GPU nodes an autoscaler adds later, and a changed
revision rolls it node by node. Its pod's init container runs `staging_script` to completion
(the pod is Ready only once the node's cache is verified, so `pulumi up` waits for staging on
every node: pulumi-kubernetes provider/pkg/await/daemonset.go `dsAwaiter.rolloutComplete`, the
kstatus Current status, under the custom timeouts); its main container then only idles.

The cache on a node: `<hostPath>/<repo name>/<revision>/`, laid out like the pvc mode's claim
(rendering/model_store.py `model_directory`), so the engine pod mounts `<hostPath>` read-only at
/models and serves the same path. A revision is complete when STAGED_MARKER is in it, written
last, after every file's size and SHA-256 matched the hub's index.

What marks a node ready: the stager patches the node's label `ready_label(...)` to `ready`
(a merge patch of metadata.labels through the API server, with its ServiceAccount's token), and
removes the label of a revision it garbage-collects before deleting its files. The engine pod
requires the label (required node affinity), so it is scheduled only where its revision is
staged. RBAC: a ClusterRole with `patch` on nodes only (the PATCH response carries the node,
so no `get`). RBAC cannot narrow it to the pod's own node or to labels: the same right can
change any node's labels and taints, which is why the stager's pod runs nothing but the staging
script, non-root, read-only root filesystem, egress only to DNS and HTTPS. The NodeRestriction
admission plugin (kubernetes plugin/pkg/admission/noderestriction/admission.go `admitNode`)
limits only kubelets' own credentials (system:node:<name>), not a ServiceAccount, so it neither
helps nor hinders here; the label's prefix is outside kubernetes.io, which that plugin reserves.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any, Optional

from facts import conventions as c
from rendering import kube, pod
from planning.config import StorageConfig
from rendering.model_store import (DOWNLOAD_PATTERNS, HF_TOKEN_FILE, StoreObjects,
                                    StorePodSide, hub_download_pieces,
                                    immutable_suffix, model_directory, model_directory_parts,
                                    store_labels)

STAGED_MARKER = ".staged"
"""Written last, atomically, into a verified revision directory; holds the revision's label key
(so garbage collection knows which label to remove)."""
READY = c.MODEL_CACHE_READY
CACHE_MOUNT = "/cache"
"""Where the stager sees the node's hostPath."""
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
"""The in-cluster token and CA path (projected explicitly: the pod does not automount)."""
TOKEN_SECONDS = 3600
"""Lifetime of the projected token; the kubelet refreshes it at 80 %, and the label writer
reads the file on every call."""


def ready_label(hf_id: str, revision: str, host_path: str) -> str:
    """The node label that says this revision is staged and verified under this hostPath:
    `vllm-serving.dev/model-<6 hex>` (a label name part is at most 63 characters; the hash
    stands for repository, revision and directory)."""
    suffix = immutable_suffix({"repo": hf_id, "revision": revision, "hostPath": host_path})
    return f"{c.LABEL_MODEL_CACHE_PREFIX}{suffix}"


def index_script(hf_id: str, revision: str) -> str:
    """Python printing the hub's index of the revision: `<sha256 or -> <size> <path>` per file
    the download patterns take. huggingface_hub's `HfApi.model_info(files_metadata=True)`
    (hf_api.py) lists every file as a RepoSibling with its size and, for LFS files (weights),
    `lfs.sha256`; small git files carry only a git blob id, so they are checked by size."""
    return (
        "import fnmatch, os, sys\n"
        f"os.environ['HF_TOKEN_PATH'] = {HF_TOKEN_FILE!r}\n"
        "from huggingface_hub import HfApi\n"
        f"info = HfApi().model_info({hf_id!r}, revision={revision!r}, files_metadata=True)\n"
        "for f in info.siblings:\n"
        f"    if not any(fnmatch.fnmatch(f.rfilename, p) for p in {DOWNLOAD_PATTERNS!r}):\n"
        "        continue\n"
        "    if f.size is None or ' ' in f.rfilename:\n"
        "        sys.exit(f'the hub gave no size for {f.rfilename!r}')\n"
        "    print((f.lfs or {}).get('sha256') or '-', f.size, f.rfilename)\n"
    )


def download_script(hf_id: str, revision: str) -> str:
    """Python fetching the revision's files into the directory given as argv[1] (files already
    there from an earlier attempt are skipped by huggingface_hub, see rendering/model_store.py
    `download_script`)."""
    return (
        "import os, sys\n"
        f"os.environ['HF_TOKEN_PATH'] = {HF_TOKEN_FILE!r}\n"
        "from huggingface_hub import snapshot_download\n"
        f"snapshot_download(repo_id={hf_id!r}, revision={revision!r}, local_dir=sys.argv[1],\n"
        f"                  allow_patterns={DOWNLOAD_PATTERNS!r})\n"
    )


def label_script() -> str:
    """Python setting (argv[2] non-empty) or removing the node label argv[1] on $NODE_NAME: a
    JSON merge patch of metadata.labels (null removes a key) to the API server named by the
    in-cluster environment, with the ServiceAccount's token and CA; it checks the label in
    the returned node."""
    return (
        "import json, os, ssl, sys, urllib.request\n"
        "sa, node = os.environ['SERVICE_ACCOUNT_DIR'], os.environ['NODE_NAME']\n"
        "key, value = sys.argv[1], sys.argv[2] or None\n"
        "host = os.environ['KUBERNETES_SERVICE_HOST']\n"
        "host = f'[{host}]' if ':' in host else host\n"
        "url = f\"https://{host}:{os.environ['KUBERNETES_SERVICE_PORT']}/api/v1/nodes/{node}\"\n"
        "token = open(os.path.join(sa, 'token')).read().strip()\n"
        "request = urllib.request.Request(url, method='PATCH', data=json.dumps(\n"
        "    {'metadata': {'labels': {key: value}}}).encode(), headers={\n"
        "    'Authorization': 'Bearer ' + token, 'Accept': 'application/json',\n"
        "    'Content-Type': 'application/merge-patch+json'})\n"
        "context = ssl.create_default_context(cafile=os.path.join(sa, 'ca.crt'))\n"
        "with urllib.request.urlopen(request, context=context, timeout=30) as answer:\n"
        "    labels = json.load(answer).get('metadata', {}).get('labels') or {}\n"
        "if labels.get(key) != value:\n"
        "    sys.exit(f'node {node}: label {key} is {labels.get(key)!r} after the patch')\n"
        "print(f'node {node}: label {key}={value or \"(removed)\"}')\n"
    )


def staging_script(*, hf_id: str, revision: str, root: str, host_path: str, label_key: str,
                   keep_revisions: int) -> str:
    """The stager's shell script (POSIX sh): on the node's cache at `root` (the hostPath
    `host_path` as the pod sees it), in order:

    1. refuse a cache directory this UID cannot write (the node's bootstrap creates it);
    2. garbage-collect: keep the newest `keep_revisions` - 1 staged revisions besides this one
       (the one served last stays while keepRevisions >= 2: step 3 touches the marker of
       a revision already staged, so "newest" is "staged last"); for each removed revision its
       node label goes first, so no new pod is scheduled onto files about to disappear; an
       unfinished directory of another revision is removed;
    3. unless this revision is already staged: fetch the hub's index (index_script), check the
       free space against the bytes still missing (a clear failure naming the node, the
       sizes and the keys to change), download (download_script), verify every file's size
       and, where the index has it, SHA-256 (a bad file is removed with its download
       metadata, so the retry fetches it again), and write STAGED_MARKER last, atomically;
    4. set the node's ready label (every run: a re-registered node has lost it).
    """
    name, rev = model_directory_parts(hf_id, revision)
    q = shlex.quote
    return "\n".join([
        "set -eu",
        f"root={q(root)}; repo_dir=$root/{q(name)}; target=$repo_dir/{q(rev)}",
        f"marker=$target/{STAGED_MARKER}; index=$repo_dir/.{q(rev)}.index",
        f"key={q(label_key)}; keep={keep_revisions}; model={q(f'{hf_id}@{revision}')}",
        f"index_py={q(index_script(hf_id, revision))}",
        f"download_py={q(download_script(hf_id, revision))}",
        f"label_py={q(label_script())}",
        'say() { printf "node %s: %s\\n" "$NODE_NAME" "$*"; }',
        'fail() { say "$*" >&2; exit 1; }',
        'label() { python3 -c "$label_py" "$1" "$2"; }',
        'gib() { awk -v b="$1" \'BEGIN { printf "%.1f", b / 1073741824 }\'; }',
        f'[ -w "$root" ] || fail {q(f"{host_path} is missing or not writable by UID {pod.USER_ID}: create it on every cache node owned by {pod.USER_ID}:{pod.USER_ID} (e.g. install -d -o {pod.USER_ID} -g {pod.USER_ID} {host_path}) or change storage.nodeCache.hostPath")}',
        'mkdir -p "$repo_dir"',
        _GC, _STAGE.replace("HOST_PATH", q(host_path)),
        'label "$key" ready',
        "",
    ])


_GC = """n=0
for staged in $(ls -1t "$repo_dir"/*/%(marker)s 2>/dev/null); do
  dir=${staged%%/*}
  if [ "$dir" = "$target" ]; then continue; fi
  n=$((n + 1))
  if [ "$n" -lt "$keep" ]; then continue; fi
  label "$(cat "$staged")" ""
  say "removing revision ${dir##*/} (beyond keepRevisions $keep)"
  rm -rf "$dir" "$repo_dir/.${dir##*/}.index"
done
for dir in "$repo_dir"/*; do
  if [ -d "$dir" ] && [ "$dir" != "$target" ] && [ ! -f "$dir/%(marker)s" ]; then
    say "removing unfinished ${dir##*/}"; rm -rf "$dir" "$repo_dir/.${dir##*/}.index"
  fi
done""" % {"marker": STAGED_MARKER}
"""Step 2 of staging_script: garbage collection (newest first, by the marker's mtime)."""

_STAGE = """if [ -f "$marker" ]; then
  touch "$marker"
  say "$model already staged"
else
  python3 -c "$index_py" > "$index.tmp"; mv "$index.tmp" "$index"
  grep -q ' config.json$' "$index" || fail "$model: the hub lists no config.json"
  need=$(awk '{ s += $2 } END { printf "%d", s }' "$index")
  have=$(du -sk "$target" 2>/dev/null | awk '{ printf "%d", $1 * 1024 }')
  free=$(df -Pk "$root" | awk 'NR == 2 { printf "%d", $4 * 1024 }')
  more=$((need - ${have:-0}))
  if [ "$more" -gt "$free" ]; then
    fail "$model needs $(gib "$more") GiB more on HOST_PATH, which has $(gib "$free") GiB free: free space on the node, lower storage.nodeCache.keepRevisions, or give the cache a larger disk (and state it in storage.nodeCache.diskGi)"
  fi
  mkdir -p "$target"
  python3 -c "$download_py" "$target"
  bad=0
  while read -r sha size path; do
    file=$target/$path
    if [ ! -f "$file" ]; then say "$path is missing"; bad=1; continue; fi
    if [ "$(stat -c %s "$file")" != "$size" ] || { [ "$sha" != - ] &&
        ! printf '%s  %s\\n' "$sha" "$file" | sha256sum -c --status; }; then
      say "$path differs from the hub's index (size $size, sha256 $sha): removed"
      rm -f "$file" "$target/.cache/huggingface/download/$path.metadata"; bad=1
    fi
  done < "$index"
  [ "$bad" = 0 ] || fail "$model failed verification; the next attempt fetches the removed files"
  printf '%s\\n' "$key" > "$marker.tmp"; mv "$marker.tmp" "$marker"
  say "$model staged and verified"
fi"""
"""Step 3 of staging_script: index, space check, download, verification, marker. An already
staged revision's marker is touched: garbage collection's newest-first order (by the marker's
mtime) is then the order of last being staged, so the revision served until a switch (or a
rollback to an older one) stays among the kept ones with keepRevisions 2."""


def stager_pod_spec(*, script: str, marker: str, image: Any, host_path: str,
                    service_account: str, node_selector: dict[str, str], tolerations: list[dict],
                    product_labels: list[str], hf_token: Optional[tuple[str, str]]) -> dict:
    """The stager's pod spec (camelCase), the node's hostPath (type Directory: a node without
    it fails the mount visibly instead of the kubelet creating a root-owned one) read-write at
    CACHE_MOUNT for both containers (`_containers`).
    Placement: the cache's nodes, GPU product affinity and the GPU taint tolerated, no GPU
    taken. The token is projected explicitly (the pod does not automount one), the hub token
    is an optional Secret file as in the download Job (rendering/model_store.py)."""
    mounts = [{"name": "cache", "mountPath": CACHE_MOUNT},
              {"name": "tmp", "mountPath": "/tmp"},
              {"name": "api", "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True}]
    volumes = [{"name": "cache", "hostPath": {"path": host_path, "type": "Directory"}},
               {"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}},
               {"name": "api", "projected": {"sources": [
                   {"serviceAccountToken": {"path": "token",
                                            "expirationSeconds": TOKEN_SECONDS}},
                   {"configMap": {"name": "kube-root-ca.crt",
                                  "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}]
    env = [*hub_download_pieces(hf_token, mounts, volumes),
           {"name": "SERVICE_ACCOUNT_DIR", "value": SERVICE_ACCOUNT_DIR},
           {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    return {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 5,
        "securityContext": pod.pod_security_context(),
        "affinity": pod.gpu_node_affinity(product_labels),
        "tolerations": [pod.GPU_TOLERATION, *tolerations],
        **({"nodeSelector": dict(node_selector)} if node_selector else {}),
        **_containers(script, image, env, mounts, marker),
        "volumes": volumes,
    }


RESTAGE_SECONDS = 600
"""How often the main container runs the staging script again: it re-sets a label the node
lost (a node re-registered) and stages the revision again if its files went missing."""
KEEP_LOOP = ('trap "exit 0" TERM; '
             f'while :; do sleep {RESTAGE_SECONDS} & wait $!; sh -c "$1" || true; done')
"""The main container's loop; the staging script is its $1."""


def _containers(script: str, image: Any, env: list[dict], mounts: list[dict],
                marker: str) -> dict:
    """The init container `stage` runs the staging script to completion, so the pod starts only
    on a staged node; the main container `keep` runs it again every RESTAGE_SECONDS. Ready and
    alive while the revision's marker is there: the DaemonSet's ready count is the count of
    staged nodes (what `pulumi up` waits for), and a node whose files vanished for ten minutes
    restarts its `keep` (an event, and a retry)."""
    def marker_probe(period: int, failures: int) -> dict:
        return {"exec": {"command": ["test", "-f", marker]}, "periodSeconds": period,
                "timeoutSeconds": 5, "failureThreshold": failures}

    common = {"image": image, "imagePullPolicy": "IfNotPresent", "env": env,
              "volumeMounts": mounts,
              "resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                            "limits": {"cpu": "2", "memory": "4Gi"}},
              "securityContext": pod.container_security_context()}
    return {"initContainers": [{"name": "stage", "command": ["sh", "-c", script], **common}],
            "containers": [{"name": "keep", "command": ["sh", "-c", KEEP_LOOP, "keep", script],
                            "readinessProbe": marker_probe(30, 1),
                            "livenessProbe": marker_probe(60, 10), **common}]}


def daemon_set_spec(labels: dict[str, str], pod_spec: dict) -> dict:
    """The stager DaemonSet's spec: every matching node at once on a change (maxUnavailable
    100 %: a stager pod serves nothing, the engine reads the files and the label, which stay
    while a new revision is staged beside them)."""
    return {"selector": {"matchLabels": dict(labels)},
            "updateStrategy": {"type": "RollingUpdate",
                               "rollingUpdate": {"maxUnavailable": "100%"}},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec}}


def labeler_rules() -> list[dict]:
    """The stager's ClusterRole: patch nodes, nothing else (see the module docstring)."""
    return [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]}]


def stager_network_policy_spec(labels: dict[str, str]) -> dict:
    """No ingress; egress to DNS, HTTPS (the hub, and the API server's Service port) and the
    API server's usual secure port behind it (6443: a NetworkPolicy may see the endpoint's
    port after the Service's translation, depending on the network plugin)."""
    return {"podSelector": {"matchLabels": dict(labels)},
            "policyTypes": ["Ingress", "Egress"], "ingress": [],
            "egress": [kube.dns_egress(), kube.https_egress(),
                       {"ports": [{"protocol": "TCP", "port": API_SERVER_PORT}]}]}


API_SERVER_PORT = 6443
"""kube-apiserver's default --secure-port."""


def engine_volume(host_path: str) -> dict:
    """The engine pod's `model` volume: the node's cache, type Directory (mounted read-only by
    the pod template's /models mount)."""
    return {"name": "model", "hostPath": {"path": host_path, "type": "Directory"}}


@dataclasses.dataclass(frozen=True)
class CacheObjects:
    """The stager's objects ({"metadata", ...} each, camelCase): ServiceAccount, ClusterRole and
    its binding (cluster-scoped: their names carry the namespace), NetworkPolicy, DaemonSet."""

    service_account: dict
    cluster_role: dict
    role_binding: dict
    network_policy: dict
    daemon_set: dict


def cache_objects(release: str, namespace: Any, namespace_name: str, storage: StorageConfig,
                  hf_id: str, revision: str, *, image: Any, product_labels: list[str],
                  node_selector: dict[str, str], tolerations: list[dict]) -> CacheObjects:
    """The stager of `storage.node_cache` for this revision. Its nodes: nodeCache.nodeSelector,
    else `node_selector` (the engine's placement)."""
    cache = storage.node_cache
    labels = {**store_labels(release), c.LABEL_COMPONENT: "model-cache"}
    name = f"{release}-model-cache"
    cluster_name = f"{namespace_name}-{name}"
    token = cache.hf_token_secret
    script = staging_script(hf_id=hf_id, revision=revision, root=CACHE_MOUNT,
                            host_path=cache.host_path,
                            label_key=ready_label(hf_id, revision, cache.host_path),
                            keep_revisions=cache.keep_revisions)
    name_part, rev_part = model_directory_parts(hf_id, revision)
    spec = stager_pod_spec(script=script, image=image, host_path=cache.host_path,
                           marker=f"{CACHE_MOUNT}/{name_part}/{rev_part}/{STAGED_MARKER}",
                           service_account=name,
                           node_selector=cache.node_selector or node_selector,
                           tolerations=tolerations, product_labels=product_labels,
                           hf_token=(token.name, token.key) if token else None)
    meta = {"name": name, "namespace": namespace, "labels": labels}
    return CacheObjects(
        service_account={"metadata": meta, "automountServiceAccountToken": False},
        cluster_role={"metadata": {"name": cluster_name, "labels": labels},
                      "rules": labeler_rules()},
        role_binding={"metadata": {"name": cluster_name, "labels": labels},
                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": cluster_name},
                      "subjects": [{"kind": "ServiceAccount", "name": name,
                                    "namespace": namespace}]},
        network_policy={"metadata": meta, "spec": stager_network_policy_spec(labels)},
        daemon_set={"metadata": meta, "spec": daemon_set_spec(labels, spec)})


def cache_pod_side(storage: StorageConfig, hf_id: str, revision: str) -> StorePodSide:
    """nodeCache mode: the pod mounts the node's cache, reads the revision's directory and
    requires the revision's ready label, so it lands only where that revision is staged."""
    host_path = storage.node_cache.host_path
    return StorePodSide(model_dir=model_directory(storage, hf_id, revision),
                        model_volume=engine_volume(host_path),
                        required_node_labels={ready_label(hf_id, revision, host_path): READY})


def cache_store_objects(release: str, namespace: Any, namespace_name: str,
                        storage: StorageConfig, hf_id: str, revision: str, *, image: Any,
                        product_labels: list[str], node_selector: dict[str, str],
                        tolerations: list[dict]) -> StoreObjects:
    """nodeCache mode's store: no claim; the engine's pieces (cache_pod_side); the stager's
    objects."""
    side = cache_pod_side(storage, hf_id, revision)
    return StoreObjects(
        claim=None, model_dir=side.model_dir, model_volume=side.model_volume,
        required_node_labels=side.required_node_labels,
        node_cache=cache_objects(release, namespace, namespace_name, storage, hf_id, revision,
                                 image=image, product_labels=product_labels,
                                 node_selector=node_selector, tolerations=tolerations))

