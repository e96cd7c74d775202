"""The README's test command needs nothing but the quick start: the tools the tests run are
set up on first use (tests/tools.py), and `.ci/run` calls that same command."""

import pathlib
import re

import pytest

from tests import tools
from tests.harness import ROOT


def test_a_system_tool_on_the_path_is_used_as_it_is():
    assert tools.system_tool("promtool", which=lambda name: f"/usr/bin/{name}",
                             run=lambda command: pytest.fail("nothing to install")) == \
        "/usr/bin/promtool"


def test_a_missing_system_tool_is_installed_with_apt_get_when_root():
    installed: list[list[str]] = []
    found = {"apt-get": "/usr/bin/apt-get"}

    def run(command):
        installed.append(list(command))
        if command[:2] == ["apt-get", "install"]:
            found["redis-server"] = "/usr/bin/redis-server"

    path = tools.system_tool("redis-server", run=run, which=found.get, is_root=lambda: True)
    assert path == "/usr/bin/redis-server"
    assert installed == [["apt-get", "update", "-qq"],
                         ["apt-get", "install", "-y", "-qq", "redis-server"]]


def test_without_root_a_missing_tool_stops_the_test_with_the_one_command_that_installs_it():
    with pytest.raises(pytest.fail.Exception, match=r"sudo apt-get install -y prometheus"):
        tools.system_tool("promtool", which=lambda name: None, is_root=lambda: False,
                          run=lambda command: pytest.fail("must not install"))


def _fake_python(venv: pathlib.Path, version: str) -> None:
    python = venv / "bin" / "python"
    python.parent.mkdir(parents=True, exist_ok=True)
    python.write_text(f"#!/bin/sh\necho {version}\n")
    python.chmod(0o755)


def test_a_venv_with_the_pinned_version_is_kept(tmp_path):
    _fake_python(tmp_path / "venv", "3.3.30")
    (tmp_path / "venv" / tools.REQUIREMENTS_STAMP).write_text(
        tools.requirements_digest(["checkov==3.3.30"]))
    tools.ensure_venv(tmp_path / "venv", "checkov", "3.3.30", ["checkov==3.3.30"],
                      run=lambda command: pytest.fail(f"ran {command}"))


@pytest.mark.parametrize("stamp", [None, "made-from-other-requirements"],
                         ids=["unstamped", "changed"])
def test_a_venv_made_from_other_requirements_is_rebuilt_though_its_pin_matches(tmp_path,
                                                                                stamp):
    """router/requirements.txt gains a package (opentelemetry-sdk, httptools) while LiteLLM's
    pin stays: the router venv must be made again, or the tests measure another router."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("litellm[proxy]==1.108.7\nhttptools==0.9.0\n")
    venv = tmp_path / "venv"
    _fake_python(venv, "1.108.7")
    if stamp:
        (venv / tools.REQUIREMENTS_STAMP).write_text(stamp)
    commands: list[list[str]] = []

    def run(command):
        commands.append(list(command))
        _fake_python(venv, "1.108.7")

    tools.ensure_venv(venv, "litellm", "1.108.7", ["-r", str(requirements)], run=run)
    assert commands[-1][-2:] == ["-r", str(requirements)]
    assert (venv / tools.REQUIREMENTS_STAMP).read_text().strip() == \
        tools.requirements_digest(["-r", str(requirements)])
    commands.clear()
    tools.ensure_venv(venv, "litellm", "1.108.7", ["-r", str(requirements)], run=run)
    assert commands == [], "a current venv is kept"
    requirements.write_text("litellm[proxy]==1.108.7\n")
    tools.ensure_venv(venv, "litellm", "1.108.7", ["-r", str(requirements)], run=run)
    assert commands, "an edited requirements file rebuilds the venv"


@pytest.mark.parametrize("present", [None, "3.2.0"])
def test_a_missing_or_other_version_venv_is_created_with_the_pin(tmp_path, present):
    venv = tmp_path / "venv"
    if present:
        _fake_python(venv, present)
    commands: list[list[str]] = []

    def run(command):
        commands.append(list(command))
        if command[1:3] == ["-m", "venv"]:
            _fake_python(venv, "0")
        if "pip" in command:
            _fake_python(venv, "3.3.30")

    python = tools.ensure_venv(venv, "checkov", "3.3.30", ["checkov==3.3.30"], run=run)
    assert python == venv / "bin" / "python"
    assert commands[0][1:] == ["-m", "venv", str(venv)]
    assert commands[1] == [str(python), "-m", "pip", "install", "-q", "checkov==3.3.30"]
    assert (venv / ".gitignore").read_text() == "*\n"


def test_ci_runs_the_readmes_test_command_and_installs_nothing_else():
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", quick_start, re.DOTALL)
    assert "venv/bin/python -m pytest -q" in commands[-1]
    ci = "\n".join(line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                   if not line.lstrip().startswith("#"))
    assert "apt-get" not in ci and ".venv-checkov" not in ci and ".venv-router" not in ci
    assert ci.rstrip().endswith("venv/bin/python -m pytest -q")
    assert "pip install -q -r requirements-dev.txt" in ci


def _requirements(path: pathlib.Path, seen=None) -> dict[str, str]:
    """{name: specifier} of a requirements file, following `-r` includes."""
    from packaging.requirements import Requirement

    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            for name, spec in _requirements(path.parent / line[3:].strip()).items():
                found[name] = ",".join(filter(None, (found.get(name), spec)))
        elif line:
            requirement = Requirement(line)
            name = requirement.name.lower().replace("_", "-")
            found[name] = ",".join(filter(None, (found.get(name), str(requirement.specifier))))
    return found


def test_the_dev_environment_installs_no_older_policy_sdk_than_the_pack_needs():
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    dev = _requirements(ROOT / "requirements-dev.txt")
    pack = _requirements(ROOT / "policy" / "requirements.txt")
    for name, spec in pack.items():
        floor = max(Version(s.version) for s in SpecifierSet(spec) if s.operator == ">=")
        dev_floors = [Version(s.version) for s in SpecifierSet(dev.get(name, ""))
                      if s.operator == ">="]
        assert dev_floors and max(dev_floors) >= floor, (
            f"requirements-dev.txt allows {name} older than the pack's {floor}: {dev.get(name)}")
