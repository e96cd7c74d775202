"""The download Job's script, run for real against a stand-in hub library: a complete
directory is never touched again, and the marker appears only after a complete download."""

import subprocess
import sys
import textwrap

import pytest

from rendering.model_store import COMPLETE_MARKER, download_script
from tests import tools as real_tools

FAKE_HUB = textwrap.dedent("""
    import os, pathlib
    def snapshot_download(repo_id, revision, local_dir, allow_patterns, token=None):
        log = pathlib.Path(os.environ["HUB_LOG"])
        log.write_text(log.read_text() + f"{repo_id}@{revision}\\n" if log.exists() else
                       f"{repo_id}@{revision}\\n")
        target = pathlib.Path(local_dir)
        for name in os.environ["HUB_FILES"].split(","):
            (target / name).write_text("bytes")
        if os.environ.get("HUB_FAIL"):
            raise OSError("hub unreachable")
        return local_dir
""")


@pytest.fixture
def hub(tmp_path):
    (tmp_path / "lib" / "huggingface_hub").mkdir(parents=True)
    (tmp_path / "lib" / "huggingface_hub" / "__init__.py").write_text(FAKE_HUB)

    def run(files="config.json,model.safetensors", fail=False):
        target = tmp_path / "models" / "m" / "main"
        env = {"PYTHONPATH": str(tmp_path / "lib"), "HUB_LOG": str(tmp_path / "log"),
               "HUB_FILES": files, **({"HUB_FAIL": "1"} if fail else {})}
        done = subprocess.run([sys.executable, "-c", download_script("org/m", "main",
                                                                      str(target))],
                              env=env, capture_output=True, text=True, timeout=60)
        log = (tmp_path / "log").read_text() if (tmp_path / "log").exists() else ""
        return done.returncode, target, log
    return run


def test_a_download_writes_the_marker_last(hub):
    code, target, log = hub()
    assert code == 0 and log == "org/m@main\n"
    assert (target / COMPLETE_MARKER).read_text() == '{"repo": "org/m", "revision": "main"}'


def test_a_complete_directory_is_never_downloaded_again(hub):
    hub()
    code, target, log = hub()
    assert code == 0 and log == "org/m@main\n"   # the second run did not call the hub


def test_a_failed_or_incomplete_download_leaves_no_marker_and_fails(hub):
    code, target, _ = hub(files="config.json")   # no weights arrived
    assert code != 0 and not (target / COMPLETE_MARKER).exists()
    code, target, _ = hub(fail=True)
    assert code != 0 and not (target / COMPLETE_MARKER).exists()
    code, target, log = hub()                    # the retry completes it
    assert code == 0 and (target / COMPLETE_MARKER).exists() and log.count("org/m") == 3


def test_a_new_revision_removes_all_but_the_served_one_to_make_room(hub, tmp_path):
    import os
    repo = tmp_path / "models" / "m"
    for name, complete, age in (("old", True, 200), ("served", True, 100), ("abandoned", False, 0)):
        (repo / name).mkdir(parents=True)
        (repo / name / "model.safetensors").write_text("bytes")
        if complete:
            (repo / name / COMPLETE_MARKER).write_text("{}")
            os.utime(repo / name / COMPLETE_MARKER, (1e9 - age, 1e9 - age))
    code, target, _ = hub()
    assert code == 0
    assert sorted(p.name for p in repo.iterdir()) == ["main", "served"]


def test_after_a_rollback_the_next_revision_keeps_the_rolled_back_one_it_serves(tmp_path):
    """README "Blue-green revisions": r2 was downloaded after r1, then rolled back to r1 (its
    Job finds the directory complete), which the pods serve (the previous slot, in a switch)
    when r3 downloads. The revision a Job found complete is the one served last, so r3's
    clean-up keeps r1 and removes r2; it must not delete r1 under the serving pods."""
    (tmp_path / "lib" / "huggingface_hub").mkdir(parents=True)
    (tmp_path / "lib" / "huggingface_hub" / "__init__.py").write_text(FAKE_HUB)
    repo = tmp_path / "models" / "m"
    env = {"PYTHONPATH": str(tmp_path / "lib"), "HUB_LOG": str(tmp_path / "log"),
           "HUB_FILES": "config.json,model.safetensors"}
    for revision in ("r1", "r2", "r1", "r3"):
        done = subprocess.run([sys.executable, "-c", download_script(
            "org/m", revision, str(repo / revision))], env=env, capture_output=True, text=True,
            timeout=60)
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in repo.iterdir()) == ["r1", "r3"]


def test_the_job_retries_failed_attempts_itself_and_never_fails_for_good():
    """A failed attempt (hub error, 401 before the token Secret exists, evicted pod) is retried
    by the Job, keeping the finished files (and, with huggingface_hub 0.x, resuming partial ones,
    which hf_transfer would delete, so it stays off). The Job never reaches a Failed condition:
    without
    replaceUnready the next `pulumi up` would re-await it and fail every time
    (tests/stacks/test_transitions.py)."""
    from tests.harness import run_stack
    spec = run_stack("staging").one("batch/v1:Job").inputs["spec"]
    assert "activeDeadlineSeconds" not in spec               # no DeadlineExceeded
    assert spec["backoffLimit"] == 2 ** 31 - 1               # no BackoffLimitExceeded
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "OnFailure"
    env = {e["name"]: e.get("value") for e in pod_spec["containers"][0]["env"]}
    assert env["HF_HUB_ENABLE_HF_TRANSFER"] == "0"


# --- The real huggingface_hub against a fake hub on 127.0.0.1 -------------------------------

def real_hub_python() -> str:
    """huggingface_hub as the router's environment pins it (LiteLLM's tokenizers requires it):
    `.venv-router/`, created on first use (tests/tools.py)."""
    return str(real_tools.router_venv() / "bin" / "python")
SHA = "0123456789abcdef0123456789abcdef01234567"
SHARD = 4 * 1024 * 1024


class _FakeHub:
    """The three hub endpoints snapshot_download calls for a commit revision (huggingface_hub
    1.x `_snapshot_download.py`: the tree listing, then per file HEAD and GET on /resolve).
    `model-2.safetensors` sends half its bytes, then holds until `release` is set."""

    def __init__(self):
        import hashlib
        import threading
        self.files = {"config.json": b'{"model_type": "llama"}',
                      "model-1.safetensors": b"1" * SHARD, "model-2.safetensors": b"2" * SHARD}
        self.etags = {n: hashlib.sha256(b).hexdigest() for n, b in self.files.items()}
        self.gets: list[str] = []
        self.release = threading.Event()
        self.holding = threading.Event()

    def handler(hub):
        import http.server
        import json

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _file(self):
                prefix = f"/org/m/resolve/{SHA}/"
                return self.path[len(prefix):] if self.path.startswith(prefix) else None

            def _head(self, name, length):
                self.send_response(200)
                self.send_header("X-Repo-Commit", SHA)
                self.send_header("ETag", f'"{hub.etags[name]}"')
                self.send_header("Content-Length", str(length))
                self.end_headers()

            def do_HEAD(self):
                name = self._file()
                if name not in hub.files:
                    return self.send_error(404)
                self._head(name, len(hub.files[name]))

            def do_GET(self):
                if self.path.startswith(f"/api/models/org/m/tree/{SHA}"):
                    body = json.dumps([{"type": "file", "path": n, "size": len(b),
                                        "oid": hub.etags[n][:40]}
                                       for n, b in hub.files.items()]).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                name = self._file()
                if name not in hub.files:
                    return self.send_error(404)
                hub.gets.append(name)
                data = hub.files[name]
                self._head(name, len(data))
                if name == "model-2.safetensors" and not hub.release.is_set():
                    self.wfile.write(data[:len(data) // 2])
                    self.wfile.flush()
                    hub.holding.set()
                    hub.release.wait(30)
                    return
                self.wfile.write(data)
        return Handler


@pytest.fixture
def fake_hub():
    import http.server
    import threading
    hub = _FakeHub()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), hub.handler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    yield hub
    hub.release.set()
    server.shutdown()
    server.server_close()


def _job_env() -> dict[str, str]:
    from tests.harness import run_stack
    container = run_stack("staging").one("batch/v1:Job").inputs["spec"]["template"]["spec"][
        "containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


def test_a_download_killed_midway_keeps_its_finished_files_and_leaves_no_partial(
        fake_hub, tmp_path):
    """A pod killed mid-download (evicted, or the old replaceUnready replacement) and started
    again: the real huggingface_hub skips the files already in local_dir for this commit and
    fetches only the rest; the killed attempt's partial file (huggingface_hub 1.x writes each
    download to a process-unique `.incomplete` file, removed only when Python gets to its
    `finally`, never on SIGKILL) is removed before the retry, so retries cannot fill the
    claim with dead partial shards."""
    import os
    import signal
    import time
    python = real_hub_python()
    target = tmp_path / "models" / "m" / SHA
    env = {**_job_env(), "HOME": str(tmp_path), "HF_ENDPOINT": fake_hub.endpoint,
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    script = download_script("org/m", SHA, str(target))
    first = subprocess.Popen([str(python), "-c", script], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not ((target / "model-1.safetensors").exists() and fake_hub.holding.is_set()
               and list((target / ".cache").rglob("*.incomplete"))):   # model-2 under way
        assert first.poll() is None and time.monotonic() < deadline, first.stdout.read()
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    first.stdout.close()
    fake_hub.release.set()

    fake_hub.gets.clear()
    done = subprocess.run([str(python), "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert fake_hub.gets == ["model-2.safetensors"]   # config and shard 1 were kept
    assert (target / "model-2.safetensors").read_bytes() == fake_hub.files["model-2.safetensors"]
    assert (target / COMPLETE_MARKER).exists()
    assert list((target / ".cache").rglob("*.incomplete")) == []
