"""The objectStore path read for real: runai-model-streamer (the library behind vLLM's
runai_streamer loader) streams a safetensors file from moto's S3 server on 127.0.0.1, configured
only by the env the engine pod renders (rendering/object_store.py), the Secret's keys resolved
as the kubelet would. What vLLM then does with the URI is done here the same way: list the
safetensors under it (runai_streamer_loader.py `_prepare_weights`) and pull the config files
(runai_utils.py `ObjectStorageModel.pull_files`, allow patterns from config/model.py)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import time
import urllib.request

import pytest

from rendering import object_store
from tests import tools as real_tools
from tests.openai_stub import free_port

SECRET = {"AWS_ACCESS_KEY_ID": "reader", "AWS_SECRET_ACCESS_KEY": "reader-secret"}
URI = "s3://models/qwen-tiny/"
TENSOR = [[1.0, 2.0], [3.0, 4.0]]

SEED = r"""
import boto3, json, struct, sys
s3 = boto3.client("s3")
s3.create_bucket(Bucket="models")
header = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}).encode()
blob = struct.pack("<Q", len(header)) + header + struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
s3.put_object(Bucket="models", Key="qwen-tiny/model.safetensors", Body=blob)
s3.put_object(Bucket="models", Key="qwen-tiny/config.json", Body=b'{"model_type": "qwen2"}')
s3.put_object(Bucket="models", Key="qwen-tiny/tokenizer.model", Body=b"tok")
"""

READ = r"""
import json, os, sys, tempfile
from runai_model_streamer import SafetensorsStreamer, list_safetensors, pull_files
model = sys.argv[1]
files = list_safetensors(model)
tensors = {}
with SafetensorsStreamer() as streamer:
    streamer.stream_files(files)
    for name, tensor in streamer.get_tensors():
        tensors[name] = tensor.tolist()
pulled = tempfile.mkdtemp()
pull_files(model + "/", pulled, allow_pattern=["*.model", "*.py", "*.json"])
print(json.dumps({"files": files, "tensors": tensors, "pulled": sorted(os.listdir(pulled))}))
"""


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 server on 127.0.0.1 (a free port), seeded with a one-tensor model."""
    python = real_tools.streamer_python()
    port = free_port()
    server = subprocess.Popen([python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "moto's S3 server did not start in 60 s"
                time.sleep(0.2)
        seed_env = {**_isolated_env(), "AWS_ENDPOINT_URL": endpoint, **SECRET,
                    "AWS_DEFAULT_REGION": "us-east-1"}
        subprocess.run([python, "-c", SEED], env=seed_env, check=True, timeout=60)
        yield python, endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def _isolated_env() -> dict[str, str]:
    """No AWS settings from the machine running the tests, and no instance-metadata lookups."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def _as_kubelet(rendered: list[dict], secret: dict[str, str]) -> dict[str, str]:
    """The container's env from rendered items: values as written, secretKeyRefs from `secret`."""
    return {item["name"]: item["value"] if "value" in item
            else secret[item["valueFrom"]["secretKeyRef"]["key"]] for item in rendered}


def _read(python: str, rendered: list[dict]) -> subprocess.CompletedProcess:
    env = {**_isolated_env(), **_as_kubelet(rendered, SECRET)}
    return subprocess.run([python, "-c", READ, object_store.model_argument(URI)], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_streamer_reads_the_weights_and_vllms_config_files_with_the_rendered_env(s3_server):
    python, endpoint = s3_server
    rendered = object_store.streamer_env(URI, endpoint=endpoint, region="us-east-1",
                                         credentials_secret="model-reader", concurrency=2)
    done = _read(python, rendered)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["files"] == ["s3://models/qwen-tiny/model.safetensors"]
    assert result["tensors"] == {"w": TENSOR}
    assert result["pulled"] == ["config.json", "tokenizer.model"]


def test_without_the_secrets_credentials_the_streamer_cannot_read(s3_server):
    python, endpoint = s3_server
    rendered = object_store.streamer_env(URI, endpoint=endpoint, region="us-east-1",
                                         credentials_secret=None, concurrency=2)
    done = _read(python, rendered)
    assert done.returncode != 0
    assert "credentials" in done.stderr.lower()
