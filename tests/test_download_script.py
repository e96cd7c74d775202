"""The download Job's script, run for real against a stand-in hub library: a complete
directory is never touched again, and the marker appears only after a complete download."""

import subprocess
import sys
import textwrap

import pytest

from rendering.model_store import COMPLETE_MARKER, download_script

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


def test_the_job_retries_failed_attempts_itself_and_never_fails_for_good():
    """A failed attempt (hub error, 401 before the token Secret exists, evicted pod) is retried
    by the Job, resuming (huggingface_hub keeps partial files under local_dir; hf_transfer
    would delete them, so it stays off). The Job never reaches a Failed condition: without
    replaceUnready the next `pulumi up` would re-await it and fail every time
    (tests/test_transitions.py)."""
    from tests.harness import run_stack
    spec = run_stack("staging").one("batch/v1:Job").inputs["spec"]
    assert "activeDeadlineSeconds" not in spec               # no DeadlineExceeded
    assert spec["backoffLimit"] == 2 ** 31 - 1               # no BackoffLimitExceeded
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "OnFailure"
    env = {e["name"]: e.get("value") for e in pod_spec["containers"][0]["env"]}
    assert env["HF_HUB_ENABLE_HF_TRANSFER"] == "0"
