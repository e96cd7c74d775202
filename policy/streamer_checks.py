"""A streaming loader's rules: an engine that streams its weights from object storage (vLLM's
runai_streamer, storage.mode objectStore) says where its credentials come from.

Without credentials in the pod, the streamer falls back to the node's identity (boto3's chain
ends at the instance role; GCS at the node's service account: facts/object_store.py): every
pod on that node may then read the bucket, and a node without such a role fails the start,
after the image pull, at the first read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from facts import object_store
from policy import k8s


def streamed_model(container: Mapping) -> Optional[str]:
    """The object-store URI the vllm container serves (`vllm serve s3://…`, `--model gs://…`,
    or inside a group's `sh -c` launch), or None for a mounted model."""
    for token in k8s.command_tokens(container):
        value = token.split("=", 1)[1] if token.startswith("--model=") else token
        if object_store.scheme(value) in object_store.CREDENTIAL_ENV:
            return value
    return None


def check_streamer_credentials(resource_type: str, name: str, props: Mapping,
                               config: Mapping) -> list[str]:
    """Each engine container streaming from object storage carries its scheme's credential env
    (from a Secret), or its pod runs as a named ServiceAccount (a workload identity)."""
    out = []
    for where, spec, container in k8s.engine_containers(resource_type, props, name):
        uri = streamed_model(container)
        if uri is None:
            continue
        env = [k8s.get(item, "name") for item in k8s.items(container, "env")]
        if not object_store.credentials_stated(env, k8s.get(spec, "serviceAccountName"), uri):
            wanted = " and ".join(object_store.CREDENTIAL_ENV[object_store.scheme(uri)])
            out.append(f"{where}: the vllm container streams its weights from {uri} without "
                       f"credentials ({wanted} unset, no workload identity), so it reads with "
                       "the node's identity; set storage.objectStore.credentialsSecret.")
    return out
