"""storage.mode objectStore: the engine streams its weights from S3 or GCS with vLLM's
runai_streamer loader. Nothing is mounted and no store object exists: the pod gets the URI as
its model, the streamer's environment (credentials from a Secret, never in the args) and egress
to the endpoint.

What vLLM does with an object-store model (read in the 0.33.0 wheel):
- `vllm serve s3://bucket/prefix`: ModelConfig.maybe_pull_model_tokenizer_for_runai
  (vllm/config/model.py) pulls `*.json`, `*.model`, `*.py` (config and tokenizer) into
  VLLM_ASSETS_CACHE/model_streamer/<8 hex of the URI's sha256> (vllm/transformers_utils/
  runai_utils.py `ObjectStorageModel`); VLLM_ASSETS_CACHE defaults to VLLM_CACHE_ROOT/assets
  (vllm/envs.py), which the pod keeps writable (HOME's emptyDir, or the compile-cache claim).
- the weights stream from the URI itself (model_executor/model_loader/runai_streamer_loader.py
  `_prepare_weights`: `list_safetensors(uri)`); `--load-format auto` becomes runai_streamer,
  any loader but runai_streamer, runai_streamer_sharded or modelexpress is refused
  (vllm/config/vllm.py, "To load a model from object storage").

What the streamer reads (run-ai/runai-model-streamer at f73a19a, 0.17.x):
- AWS_ENDPOINT_URL: an S3-compatible endpoint, read by the C++ reader
  (cpp/common/s3_wrapper/s3_wrapper.cc `S3ClientWrapper::Params`) and by boto3, which lists and
  pulls the small files (py/runai_model_streamer_s3/files/files.py). vLLM copies it to
  RUNAI_STREAMER_S3_ENDPOINT only when a loader extra config is given; nothing in the streamer
  reads that name, so it is not rendered.
- RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING=0: path-style requests, which S3-compatible stores
  need (cpp/s3/client/client.cc; files.py `_build_client_config`; docs/src/env-vars.md).
- credentials: boto3's chain (py/runai_model_streamer_s3/credentials/credentials.py
  `get_credentials`): AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY first, else web identity
  (a workload identity) or the node's role; region from AWS_DEFAULT_REGION (botocore
  configprovider.py). GCS: RUNAI_STREAMER_GCS_CREDENTIAL_FILE, a service-account key file
  (py/runai_model_streamer_gcs/credentials/credentials.py, cpp/gcs/client_configuration/
  client_configuration.cc), else Application Default Credentials.
- RUNAI_STREAMER_CONCURRENCY: reader threads, 8 for object storage by default
  (cpp/streamer/impl/config/config.cc).
"""

from __future__ import annotations

import dataclasses
from typing import Optional
from urllib.parse import urlsplit

from facts.object_store import GCS_CREDENTIAL_FILE_ENV, S3_KEYS, scheme
from planning.config import StorageConfig
from rendering import kube

GCS_KEY = "key.json"
"""The key of a gs credentials Secret: the service account's JSON key
(`kubectl create secret generic NAME --from-file=key.json=<key file>`)."""
CREDENTIALS_VOLUME = "object-store-credentials"
CREDENTIALS_DIR = "/var/run/secrets/object-store"


@dataclasses.dataclass(frozen=True)
class StreamerPod:
    """What the engine pod needs to stream from object storage: env, the credentials volume
    and its read-only mount (gs), and the pod's ServiceAccount (a workload identity)."""

    env: list[dict]
    volumes: list[dict]
    mounts: list[dict]
    service_account: Optional[str] = None


def model_argument(uri: str) -> str:
    """`vllm serve`'s positional model: the URI without a trailing '/' (the streamer and vLLM
    add one where they list; the pulled directory's name hashes the URI as given)."""
    return uri.rstrip("/")


def streamer_env(uri: str, *, endpoint: Optional[str], region: Optional[str],
                 credentials_secret: Optional[str], concurrency: Optional[int]) -> list[dict]:
    """The streamer's env: endpoint and path-style addressing (an S3-compatible store), region,
    credentials from `credentials_secret` (s3: its two keys as env; gs: the key file's path),
    reader concurrency. Unset settings render nothing: the streamer's own defaults apply."""
    env: list[dict] = []
    if endpoint is not None:
        env += [{"name": "AWS_ENDPOINT_URL", "value": endpoint},
                {"name": "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING", "value": "0"}]
    if region is not None:
        env.append({"name": "AWS_DEFAULT_REGION", "value": region})
    if credentials_secret is not None and scheme(uri) == "s3":
        env += [{"name": key, "valueFrom": {"secretKeyRef": {"name": credentials_secret,
                                                             "key": key}}}
                for key in S3_KEYS]
    if credentials_secret is not None and scheme(uri) == "gs":
        env.append({"name": GCS_CREDENTIAL_FILE_ENV, "value": f"{CREDENTIALS_DIR}/{GCS_KEY}"})
    if concurrency is not None:
        env.append({"name": "RUNAI_STREAMER_CONCURRENCY", "value": str(concurrency)})
    return env


def streamer_pod(uri: str, *, endpoint: Optional[str] = None, region: Optional[str] = None,
                 credentials_secret: Optional[str] = None, concurrency: Optional[int] = None,
                 service_account: Optional[str] = None) -> StreamerPod:
    """The engine pod's streamer parts (see StreamerPod). A gs key is a file: mounted
    read-only from its Secret (mode 0440, group-readable by the pod's fsGroup)."""
    env = streamer_env(uri, endpoint=endpoint, region=region,
                       credentials_secret=credentials_secret, concurrency=concurrency)
    if credentials_secret is None or scheme(uri) != "gs":
        return StreamerPod(env, [], [], service_account)
    volume = {"name": CREDENTIALS_VOLUME, "secret": {
        "secretName": credentials_secret, "defaultMode": 0o440,
        "items": [{"key": GCS_KEY, "path": GCS_KEY}]}}
    mount = {"name": CREDENTIALS_VOLUME, "mountPath": CREDENTIALS_DIR, "readOnly": True}
    return StreamerPod(env, [volume], [mount], service_account)


def egress(endpoint: Optional[str]) -> list[dict]:
    """Egress rules the streamer needs: HTTPS to any address (cloud storage has no fixed
    ones; rendering/kube.py `https_egress`), or the endpoint's own port when it names one."""
    port = urlsplit(endpoint).port if endpoint is not None else None
    if port is None or port == kube.HTTPS_PORT:
        return [kube.https_egress()]
    return [{"ports": [{"protocol": "TCP", "port": port}]}]



def pod_parts(storage: StorageConfig) -> Optional[StreamerPod]:
    """storage.objectStore's streamer parts, or None for a mounted load path."""
    store = storage.object_store
    if storage.mode != "objectStore" or store is None:
        return None
    return streamer_pod(store.uri, endpoint=store.endpoint, region=store.region,
                        credentials_secret=store.credentials_secret,
                        concurrency=store.concurrency,
                        service_account=store.service_account_name)
