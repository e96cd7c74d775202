"""The node cache's staging script (rendering/node_cache.py `staging_script`) run for real under
`sh`, with python3, sha256sum, stat, df and du from the machine: a stand-in huggingface_hub
serves a local directory as the hub (its index hashes the real files), and a local HTTPS
server on 127.0.0.1 (a self-signed certificate from openssl) stands in for the API server,
recording the stager's label patches and answering with the node."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import ssl
import subprocess
import sys
import textwrap
import threading

import pytest

from rendering import node_cache

HOST_PATH = "/var/lib/vllm-models"
NODE = "gpu-node-1"
FAKE_HUB = textwrap.dedent("""
    import fnmatch, hashlib, os, pathlib, shutil
    HUB = pathlib.Path(os.environ["HUB_DIR"])
    class _Sibling:
        def __init__(self, path):
            self.rfilename = path.relative_to(HUB).as_posix()
            self.size = path.stat().st_size
            lfs = self.rfilename.endswith(".safetensors")
            self.lfs = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()} if lfs else None
    class _Info:
        def __init__(self):
            self.siblings = [_Sibling(p) for p in sorted(HUB.rglob("*")) if p.is_file()]
    class HfApi:
        def model_info(self, repo_id, revision=None, files_metadata=False):
            assert files_metadata
            return _Info()
    def snapshot_download(repo_id, revision, local_dir, allow_patterns):
        log = pathlib.Path(os.environ["HUB_LOG"])
        log.write_text((log.read_text() if log.exists() else "") + f"{repo_id}@{revision}\\n")
        corrupt = os.environ.get("HUB_CORRUPT")
        for path in sorted(HUB.rglob("*")):
            target = pathlib.Path(local_dir) / path.relative_to(HUB)
            wanted = any(fnmatch.fnmatch(path.name, p) for p in allow_patterns)
            if path.is_file() and wanted and not target.exists():
                shutil.copy(path, target)
                if corrupt == path.name:
                    target.write_bytes(b"not the weights")
        return local_dir
""")


class _ApiServer(http.server.BaseHTTPRequestHandler):
    patches: list = []
    labels: dict = {}

    def do_PATCH(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).patches.append((self.path, self.headers["Authorization"],
                                   self.headers["Content-Type"], body))
        for key, value in body["metadata"]["labels"].items():
            if value is None:
                self.labels.pop(key, None)
            else:
                self.labels[key] = value
        answer = json.dumps({"metadata": {"name": NODE, "labels": self.labels}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def service_account(tmp_path_factory):
    """The ServiceAccount directory the stager reads (token, ca.crt), with a certificate for
    127.0.0.1 made once per module by openssl."""
    sa = tmp_path_factory.mktemp("sa")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(sa / "key.pem"), "-out", str(sa / "ca.crt")],
                   check=True, capture_output=True, timeout=60)
    (sa / "token").write_text("stager-token\n")
    return sa


@pytest.fixture
def api(service_account):
    """An HTTPS server on 127.0.0.1 recording the label patches, and the ServiceAccount
    directory whose CA signs its certificate."""
    sa = service_account
    _ApiServer.patches, _ApiServer.labels = [], {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ApiServer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sa / "ca.crt", sa / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sa, server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def stage(tmp_path, api):
    """Run the staging script for a revision; returns (exit code, output, the revision's
    directory). `files` is the hub's content; `bin_dir` is put first on PATH."""
    sa, port = api
    (tmp_path / "lib" / "huggingface_hub").mkdir(parents=True)
    (tmp_path / "lib" / "huggingface_hub" / "__init__.py").write_text(FAKE_HUB)
    root = tmp_path / "cache"
    root.mkdir()

    def run(revision="rev1", files=None, keep=2, corrupt=None, bin_dir=None):
        hub = tmp_path / f"hub-{revision}"
        for name, body in (files or {"config.json": "{}", "tokenizer.json": "{}",
                                     "model.safetensors": f"weights of {revision}",
                                     "pytorch_model.bin": "duplicate"}).items():
            hub.mkdir(exist_ok=True)
            (hub / name).write_text(body)
        env = {"PATH": (f"{bin_dir}:" if bin_dir else "") + os.environ["PATH"],
               "PYTHONPATH": str(tmp_path / "lib"), "HUB_DIR": str(hub),
               "HUB_LOG": str(tmp_path / "hub.log"), "NODE_NAME": NODE,
               "SERVICE_ACCOUNT_DIR": str(sa), "KUBERNETES_SERVICE_HOST": "127.0.0.1",
               "KUBERNETES_SERVICE_PORT": str(port), **({"HUB_CORRUPT": corrupt} if corrupt else {})}
        script = node_cache.staging_script(
            hf_id="org/m", revision=revision, root=str(root), host_path=HOST_PATH,
            label_key=node_cache.ready_label("org/m", revision, HOST_PATH), keep_revisions=keep)
        done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True,
                              timeout=120)
        return done.returncode, done.stdout + done.stderr, root / "m" / revision
    return run


def _key(revision: str) -> str:
    return node_cache.ready_label("org/m", revision, HOST_PATH)


def test_a_staged_revision_is_verified_then_labels_the_node_ready(stage):
    code, out, target = stage()
    assert code == 0, out
    assert sorted(p.name for p in target.iterdir() if p.is_file()) == [
        ".staged", "config.json", "model.safetensors", "tokenizer.json"]
    assert (target / ".staged").read_text() == _key("rev1") + "\n"
    path, auth, content_type, body = _ApiServer.patches[-1]
    assert path == f"/api/v1/nodes/{NODE}" and auth == "Bearer stager-token"
    assert content_type == "application/merge-patch+json"
    assert body == {"metadata": {"labels": {_key("rev1"): "ready"}}}


def test_a_staged_revision_is_not_downloaded_again_but_the_label_is_set_again(stage, tmp_path):
    stage()
    _ApiServer.labels.clear()                       # the node re-registered without labels
    code, out, _ = stage()
    assert code == 0 and "already staged" in out
    assert (tmp_path / "hub.log").read_text().count("org/m@rev1") == 1
    assert _ApiServer.labels == {_key("rev1"): "ready"}


def test_a_file_that_differs_from_the_index_fails_staging_and_is_fetched_again(stage):
    code, out, target = stage(corrupt="model.safetensors")
    assert code != 0 and "model.safetensors differs from the hub's index" in out
    assert not (target / ".staged").exists() and not _ApiServer.patches
    assert not (target / "model.safetensors").exists()
    code, out, target = stage()
    assert code == 0, out
    assert (target / "model.safetensors").read_text() == "weights of rev1"


def test_too_little_free_space_fails_before_downloading_naming_the_sizes_and_the_keys(
        stage, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "df").write_text("#!/bin/sh\necho 'Filesystem 1024-blocks Used Available Capacity "
                             "Mounted on'\necho 'nvme0n1 100 99 0 100% /cache'\n")
    (fake / "df").chmod(0o755)
    code, out, target = stage(bin_dir=fake)
    assert code != 0
    assert f"node {NODE}: org/m@rev1 needs 0.0 GiB more on {HOST_PATH}, which has 0.0 GiB free" in out
    assert "storage.nodeCache.keepRevisions" in out and "storage.nodeCache.diskGi" in out
    assert not (tmp_path / "hub.log").exists() and not _ApiServer.patches


def test_revisions_beyond_keep_revisions_lose_their_label_first_then_their_files(stage):
    for revision in ("rev1", "rev2"):
        assert stage(revision=revision)[0] == 0
    code, out, target = stage(revision="rev3", keep=2)
    assert code == 0, out
    assert sorted(p.name for p in target.parent.iterdir()) == [
        ".rev2.index", ".rev3.index", "rev2", "rev3"]
    assert _ApiServer.labels == {_key("rev2"): "ready", _key("rev3"): "ready"}
    removal = [i for i, p in enumerate(_ApiServer.patches)
               if p[3]["metadata"]["labels"] == {_key("rev1"): None}]
    assert removal and "removing revision rev1" in out


@pytest.mark.parametrize("keep, rev2_kept", [(2, False), (3, True)])
def test_a_blue_green_switch_after_a_rollback_keeps_the_revision_served_last(
        stage, keep, rev2_kept):
    """README "Blue-green revisions", nodeCache: rev2 was staged after rev1, then rolled back
    to rev1 (already staged), which the previous slot serves when the switch stages rev3. The
    stager touches the marker of the revision it stages on every run, so garbage collection's
    newest-first order is the order of last being staged: keepRevisions 2 keeps rev1 (and its
    label) under the previous slot's pods and deletes rev2; 3 keeps both."""
    for revision in ("rev1", "rev2", "rev1"):
        assert stage(revision=revision)[0] == 0
    code, out, target = stage(revision="rev3", keep=keep)
    assert code == 0, out
    assert (target.parent / "rev1").is_dir()
    assert _ApiServer.labels.get(_key("rev1")) == "ready"
    assert (target.parent / "rev2").is_dir() == rev2_kept
    assert (_key("rev2") in _ApiServer.labels) == rev2_kept


def test_an_unfinished_revision_is_removed(stage):
    stage(corrupt="model.safetensors")             # rev1 left unfinished
    code, _, target = stage(revision="rev2")
    assert code == 0 and sorted(p.name for p in target.parent.iterdir() if p.is_dir()) == ["rev2"]


def test_a_missing_cache_directory_fails_with_the_bootstrap_command(stage, tmp_path):
    (tmp_path / "cache").rmdir()                    # the node's bootstrap did not create it
    code, out, _ = stage()
    assert code != 0 and f"install -d -o 10001 -g 10001 {HOST_PATH}" in out
    assert not _ApiServer.patches


def test_the_script_is_posix_sh():
    script = node_cache.staging_script(hf_id="org/m", revision="main", root="/cache",
                                       host_path=HOST_PATH, label_key=_key("main"),
                                       keep_revisions=2)
    assert subprocess.run(["sh", "-n", "-c", script], timeout=30).returncode == 0
    assert sys.executable
