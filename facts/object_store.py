"""What says where a streaming loader's credentials come from: shared by the rendering of
storage.mode objectStore (rendering/object_store.py) and the policy pack's rule for a streamer
without credentials.

The env names are the ones run-ai/runai-model-streamer reads (at f73a19a, 0.17.x): s3 through
boto3's credential chain (py/runai_model_streamer_s3/credentials/credentials.py
`get_credentials`: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY first); gs from a service-account
key file named by RUNAI_STREAMER_GCS_CREDENTIAL_FILE (py/runai_model_streamer_gcs/credentials/
credentials.py, cpp/gcs/client_configuration/client_configuration.cc). Without them both fall
back to the node's identity (an instance role, the node's service account): every pod on the
node could then read the bucket, and a node without the role fails the start.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

S3_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
"""The env variables an s3 credential needs (and the keys of its Secret)."""
GCS_CREDENTIAL_FILE_ENV = "RUNAI_STREAMER_GCS_CREDENTIAL_FILE"
CREDENTIAL_ENV: dict[str, tuple[str, ...]] = {"s3": S3_KEYS, "gs": (GCS_CREDENTIAL_FILE_ENV,)}
"""The env variables that carry a credential to the streamer, per URI scheme."""
DEFAULT_SERVICE_ACCOUNT = "default"


def scheme(uri: str) -> str:
    """`s3`, `gs`, …: the part of an object-store URI before `://` ('' for a path)."""
    return uri.split("://", 1)[0] if "://" in uri else ""


def credentials_stated(env_names: Iterable[str], service_account: Optional[str],
                       uri: str) -> bool:
    """True when a pod streaming from `uri` says where its credentials come from: every
    credential env variable of the URI's scheme is set, or the pod runs as a named
    ServiceAccount (a workload identity: IRSA, GKE Workload Identity)."""
    names = set(env_names)
    wanted = CREDENTIAL_ENV.get(scheme(uri), ())
    if wanted and all(name in names for name in wanted):
        return True
    return service_account not in (None, "", DEFAULT_SERVICE_ACCOUNT)
