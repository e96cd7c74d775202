"""checkov (PyPI `checkov`, pinned) finds nothing on what the stacks apply and on the Dockerfile.

Both stacks are rendered the way `python -m tools.render` writes them (the session's mock runs,
`render.render_run` + `render.write`) into a temporary directory; checkov scans each stack's
directory (`--framework kubernetes`) and docker/Dockerfile (`--framework dockerfile`), offline
(`--skip-download`, no update check). Every target must have zero failed checks and no parsing
errors, and the only skipped checks are the waivers below, each with exactly its reason: a new
skip annotation or comment fails here until it is added to WAIVERS.

checkov's pins (packaging<24, ...) would pull pulumi back to an old release, so it lives in its
own venv, `.venv-checkov/` at the repo root, which `.ci/run` creates (locally:
`python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov==3.3.30`). A checkov
installed next to this interpreter is used only when that venv is absent. Missing checkov is a
failure, not a skip. The three scans run in parallel (about 2.5 s of CPU each).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from typing import Any

import pytest

from planning.config import parse
from planning.plan import make_plan
from planning.stack_files import stack_values
from tests import tools as real_tools
from tests.conftest import STACKS as ALL_STACKS
from tools import render

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
CHECKOV_VERSION = real_tools.CHECKOV_VERSION
"""The version tests/tools.py installs; another one may add or change checks."""
STACKS = tuple(stack for stack in ALL_STACKS
               if make_plan(parse(stack_values(stack))).layout.nodes == 1)
"""Every stack file whose replica fits one node (its pods are a Deployment's). A multi-node
stack's LeaderWorkerSet templates are outside WORKLOAD_KINDS: checkov does not scan them."""
WORKLOAD_KINDS = ("deployment", "job", "statefulset", "daemonset", "cronjob", "pod")
"""Kinds (as in rendered file names) whose files must each be scanned by some check."""

WAIVERS = {
    # rendering/pod.py CHECKOV_WAIVERS, on the Deployment's metadata.
    "CKV_K8S_35": ("vLLM reads its API key only from VLLM_API_KEY or --api-key; a secretKeyRef "
                   "keeps it out of the args and the spec"),
    # docker/Dockerfile, inline comments.
    "CKV_DOCKER_7": "FROM ${VLLM_IMAGE} always gets a version tag from components/image.py",
    "CKV_DOCKER_2": ("Kubernetes ignores HEALTHCHECK; the pod has startup, readiness and "
                     "liveness probes on /health"),
}
"""Every check checkov may skip (check id -> the reason given with the skip)."""
MORE_REASONS = {
    # rendering/router.py CHECKOV_WAIVERS, on the router Deployment's metadata.
    "CKV_K8S_35": ("LiteLLM reads the master, engine and provider keys only from environment "
                   "variables (os.environ/ references in its config); a secretKeyRef keeps them "
                   "out of the spec and the config",),
}
"""Other objects skipping a check of WAIVERS, each with its own reason."""


def checkov() -> str:
    """.venv-checkov/bin/checkov at the repo root, created with the pinned version on first use
    (tests/tools.py)."""
    return real_tools.checkov()


def _command(binary: str, target: list[str], framework: str) -> list[str]:
    return [binary, *target, "--framework", framework, "--skip-download", "--compact",
            "-o", "json"]


@pytest.fixture(scope="module")
def rendered(runs, tmp_path_factory) -> pathlib.Path:
    """A directory with `<stack>/<NN>-<kind>-<name>.yaml` as `python -m tools.render` writes."""
    out = tmp_path_factory.mktemp("checkov")
    for stack in STACKS:
        render.write(render.render_run(runs[stack], stack), out / stack)
    return out


@pytest.fixture(scope="module")
def reports(rendered) -> dict[str, dict[str, Any]]:
    """{target: checkov's JSON report} for each stack's rendered directory and the Dockerfile."""
    binary = checkov()
    commands = {stack: _command(binary, ["-d", str(rendered / stack)], "kubernetes")
                for stack in STACKS}
    commands["docker/Dockerfile"] = _command(binary, ["-f", str(DOCKERFILE)], "dockerfile")
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    started = {target: subprocess.Popen(command, cwd=rendered, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
               for target, command in commands.items()}
    found = {}
    for target, process in started.items():
        stdout, stderr = process.communicate(timeout=300)
        # Exit 1 means failed checks, which the tests report; anything else is a crash.
        assert process.returncode in (0, 1), (
            f"checkov on {target} exited {process.returncode}:\n{stderr[-4000:]}")
        try:
            report = json.loads(stdout)
        except json.JSONDecodeError:
            pytest.fail(f"checkov on {target} printed no JSON report:\n{stdout[-2000:]}\n"
                        f"{stderr[-2000:]}", pytrace=False)
        # One framework gives one report; an empty scan gives a bare summary.
        assert isinstance(report, dict) and "results" in report, (
            f"checkov on {target} scanned nothing: {stdout[-2000:]}")
        found[target] = report
    return found


TARGETS = (*STACKS, "docker/Dockerfile")


def _results(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return report["results"].get(kind, [])


def _describe(check: dict[str, Any]) -> str:
    return f"{check['check_id']} ({check['check_name']}) on {check['resource']} " \
           f"[{pathlib.Path(check['file_path']).name}]"


@pytest.mark.parametrize("target", TARGETS)
def test_checkov_finds_no_failed_check(reports, target):
    report = reports[target]
    assert report["summary"]["checkov_version"] == CHECKOV_VERSION
    failed = [_describe(check) for check in _results(report, "failed_checks")]
    assert not failed, f"checkov on {target}: {len(failed)} failed:\n" + "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0, (
        f"checkov could not parse {report['results'].get('parsing_errors')}")
    assert report["summary"]["passed"] > 0, f"checkov ran no check on {target}"


@pytest.mark.parametrize("target", TARGETS)
def test_checkov_skips_only_the_listed_waivers(reports, target):
    unexpected = [
        f"{_describe(check)}: {check['check_result'].get('suppress_comment')!r}"
        for check in _results(reports[target], "skipped_checks")
        if (check["check_result"].get("suppress_comment") or "").strip()
        not in (WAIVERS.get(check["check_id"]), *MORE_REASONS.get(check["check_id"], ()))]
    assert not unexpected, (
        f"checkov on {target} skipped checks that are not in WAIVERS (or with another "
        "reason):\n" + "\n".join(unexpected))


def test_every_waiver_is_used(reports):
    used = {check["check_id"] for report in reports.values()
            for check in _results(report, "skipped_checks")}
    assert set(WAIVERS) <= used, f"waivers nothing needs any more: {set(WAIVERS) - used}"


@pytest.mark.parametrize("stack", STACKS)
def test_checkov_scans_every_workload(rendered, reports, stack):
    """A workload file checkov cannot read as one would otherwise pass unchecked."""
    scanned = {pathlib.Path(check["file_path"]).name
               for kind in ("passed_checks", "failed_checks", "skipped_checks")
               for check in _results(reports[stack], kind)}
    workloads = {path.name for path in (rendered / stack).glob("*.yaml")
                 if path.name.split("-", 2)[1] in WORKLOAD_KINDS}
    assert workloads, f"{stack} renders no workload"
    assert workloads <= scanned, f"checkov checked nothing in {sorted(workloads - scanned)}"
