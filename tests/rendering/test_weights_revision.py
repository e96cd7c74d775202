"""On NFS the revision labels weights the operator put on the export; a pod checks it against
the marker those weights carry before vLLM loads them, where a marker exists.

The markers, from huggingface_hub 2.4.0 (`_local_folder.py`): `hf download --local-dir <dir>`
(`snapshot_download(local_dir=...)`) writes `<dir>/.cache/huggingface/download/<file>.metadata`
per file, whose first line is the commit the file came from (`read_download_metadata`); the hub
cache layout names each snapshot directory after its commit (`snapshots/<sha>/`)."""

from __future__ import annotations

import subprocess

import pytest

from rendering.weights import revision_check_script
from tests.harness import run_stack, stack_config

SHA = "711ad2ea6aa40cfca18895e8aca02ab92df1a746"
OTHER = "3865e12a1eb7cbd641ab3f9dfc28c588c6b0c1e9"


def check(model_dir, revision=SHA) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", revision_check_script(str(model_dir), revision)],
                          capture_output=True, text=True, timeout=10)


def local_dir(tmp_path, commit: str):
    meta = tmp_path / "model" / ".cache" / "huggingface" / "download"
    meta.mkdir(parents=True)
    (meta / "config.json.metadata").write_text(f"{commit}\nabc123etag\n1712656091.123\n")
    (tmp_path / "model" / "config.json").write_text("{}")
    return tmp_path / "model"


def test_weights_downloaded_at_the_pinned_commit_pass(tmp_path):
    done = check(local_dir(tmp_path, SHA))
    assert done.returncode == 0, done.stdout + done.stderr
    assert SHA in done.stdout


def test_weights_of_another_commit_stop_the_pod_with_both_commits_named(tmp_path):
    done = check(local_dir(tmp_path, OTHER))
    assert done.returncode == 1
    assert SHA in done.stdout and OTHER in done.stdout and "model.revision" in done.stdout


def test_a_hub_cache_snapshot_of_another_commit_stops_the_pod(tmp_path):
    snapshot = tmp_path / "snapshots" / OTHER
    snapshot.mkdir(parents=True)
    assert check(snapshot).returncode == 1
    pinned = tmp_path / "snapshots" / SHA
    pinned.mkdir(parents=True)
    assert check(pinned).returncode == 0


def test_weights_without_a_marker_start_with_the_revision_said_to_be_unverified(tmp_path):
    plain = tmp_path / "copied-by-rsync"
    plain.mkdir()
    done = check(plain)
    assert done.returncode == 0 and "unverified" in done.stdout


def _init_containers(template: dict) -> dict:
    return {c["name"]: c for c in template["spec"].get("initContainers", [])}


def test_an_nfs_stack_checks_its_pinned_revision_before_vllm_starts():
    run = run_stack("prod")
    template = run.engine("apps/v1:Deployment").inputs["spec"]["template"]
    check_container = _init_containers(template)["check-weights-revision"]
    revision = stack_config("prod")["model"]["revision"]
    model_dir = "/models/" + stack_config("prod")["storage"]["nfs"]["modelSubdir"]
    assert check_container["command"] == ["sh", "-c", revision_check_script(model_dir, revision)]
    assert {"name": "model", "mountPath": "/models", "readOnly": True} in \
        check_container["volumeMounts"]


def test_every_pod_of_a_multi_node_group_checks_the_revision():
    lws = run_stack("r1-h100").workload().inputs["spec"]["leaderWorkerTemplate"]
    for role in ("leaderTemplate", "workerTemplate"):
        assert "check-weights-revision" in _init_containers(lws[role]), role


@pytest.mark.parametrize("stack,override", [
    ("staging", {}),                                  # pvc: one directory per revision
    ("prod", {"model": {"revision": "main"}}),        # a branch: nothing to compare with
])
def test_no_check_where_there_is_no_commit_to_compare(stack, override):
    run = run_stack(stack, override)
    template = run.workload().inputs["spec"]["template"]
    assert "check-weights-revision" not in _init_containers(template)
