"""`python -m tools.model_image <stack> --snapshot DIR` writes a hadolint-clean Containerfile
(the real hadolint) and a file list `sha256sum -c` accepts (the real sha256sum)."""

from __future__ import annotations

import pathlib
import subprocess

from tests.tools import hadolint
from tools import model_image as tool

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _snapshot(root: pathlib.Path) -> pathlib.Path:
    for name, body in (("config.json", "{}"), ("tokenizer.json", "{}"),
                       ("model-00001-of-00002.safetensors", "a"),
                       ("model-00002-of-00002.safetensors", "b"),
                       ("pytorch_model.bin", "dup"), (".cache/huggingface/x.json", "{}")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)
    return root


def test_the_written_containerfile_has_no_hadolint_findings(tmp_path):
    snapshot = _snapshot(tmp_path)
    assert tool.main(["staging", "--snapshot", str(snapshot)]) == 0
    done = subprocess.run([hadolint(), "--no-color", "--failure-threshold", "style",
                           str(snapshot / "Containerfile")],
                          capture_output=True, text=True, timeout=60)
    findings = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and not findings, findings


def test_the_file_list_checks_out_with_sha256sum_and_omits_duplicates(tmp_path):
    snapshot = _snapshot(tmp_path)
    tool.main(["staging", "--snapshot", str(snapshot)])
    done = subprocess.run(["sha256sum", "-c", "files.sha256"], cwd=snapshot,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    listed = [line.split("  ", 1)[1] for line in (snapshot / "files.sha256").read_text().splitlines()]
    assert listed == ["config.json", "model-00001-of-00002.safetensors",
                      "model-00002-of-00002.safetensors", "tokenizer.json"]


def test_a_missing_snapshot_fails_with_the_download_command(tmp_path, capsys):
    assert tool.main(["staging", "--snapshot", str(tmp_path / "absent")]) == 1
    assert "hf download deepseek-ai/DeepSeek-R1-Distill-Qwen-7B --revision" in capsys.readouterr().err
