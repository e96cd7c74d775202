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
import re
import subprocess
from typing import Any

import pytest
import yaml

from planning.stack_files import stack_values
from tests import tools as real_tools
from tests.conftest import STACKS as ALL_STACKS
from tests.harness import FAKE_DIGEST, run_stack
from tools import render

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
CHECKOV_VERSION = real_tools.CHECKOV_VERSION
"""The version tests/tools.py installs; another one may add or change checks."""
STACKS = tuple(ALL_STACKS)
"""Every stack file (a multi-node stack's LeaderWorkerSet templates are scanned as Pods:
group_pods)."""
GROUP_VARIANTS = {"r1-h100-expert": ("r1-h100", {
    "multiNode": {"rdma": {"resourceName": "rdma/ib", "count": 8}},
    "gpu": {"type": "h100-80gb", "layout": "data-expert"},
    # Each rank's batch is gathered from all 16 before the experts: 8,192 tokens would need
    # a 21 GiB fused-MoE workspace per GPU (planning/memory.py tokens_at_experts).
    "engine": {"maxNumBatchedTokens": 2048}})}
"""Rendered like a stack: the data × expert group (every pod serves, none headless)."""
PATH_VARIANTS = {
    "staging-image": ("staging", {"storage": {"mode": "image", "pvc": None, "image": {
        "reference": "registry.example.com/models/r1-distill@" + FAKE_DIGEST}},
        "clusterVersions": {"kubernetes": "1.35"}}),
    "staging-node-cache": ("staging", {"storage": {"mode": "nodeCache", "pvc": None,
                                                   "nodeCache": {"diskGi": 200}}}),
    "staging-object-store": ("staging", {"storage": {"mode": "objectStore", "pvc": None,
        "objectStore": {"uri": "s3://models/r1-distill", "credentialsSecret": "model-reader",
                        "endpoint": "https://minio.internal:9000"}},
        "engine": {"loadFormat": "runai_streamer"}}),
    "staging-object-store-gs": ("staging", {"storage": {"mode": "objectStore", "pvc": None,
        "objectStore": {"uri": "gs://models/r1-distill", "credentialsSecret": "gcs-key"}},
        "engine": {"loadFormat": "runai_streamer"}})}
"""Rendered like a stack: the model-delivery paths of issue 20 (the image volume; the node
cache's stager DaemonSet, its ClusterRole and binding; the streaming engine, its credentials as
secretKeyRef env (s3) or a Secret volume (gs))."""
TARGET_STACKS = (*STACKS, *GROUP_VARIANTS, *PATH_VARIANTS)
WORKLOAD_KINDS = ("deployment", "job", "statefulset", "daemonset", "cronjob", "pod")
"""Kinds (as in rendered file names) whose files must each be scanned by some check."""

WAIVERS = {
    # rendering/multinode.py checkov_waivers, on a headless worker's pod template.
    "CKV_K8S_9": ("a headless vLLM worker serves no HTTP and no Service sends it traffic; exec "
                  "startup and liveness probes check the leader's rendezvous"),
    # rendering/pod.py CHECKOV_WAIVERS, on the Deployment's metadata (and, through
    # rendering/multinode.py checkov_waivers, on each LeaderWorkerSet pod template).
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


def group_pods(run) -> dict[str, str]:
    """Each LeaderWorkerSet's leader and worker pod templates as Pod documents, the pods the
    LWS controller creates from them (with the template's metadata): checkov's kubernetes
    checks cover Pod, Deployment, StatefulSet and the other built-in kinds, not the
    LeaderWorkerSet custom resource, whose templates would otherwise go unchecked."""
    files = {}
    for manifest in render.manifests(run):
        if manifest.kind != "LeaderWorkerSet":
            continue
        for role in ("leader", "worker"):
            template = manifest.obj["spec"]["leaderWorkerTemplate"][f"{role}Template"]
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {**template["metadata"], "name": f"{manifest.name}-{role}",
                                "namespace": manifest.namespace},
                   "spec": template["spec"]}
            files[f"99-pod-{manifest.name}-{role}.yaml"] = yaml.safe_dump(pod, sort_keys=False)
    return files


def pinned(stack: str) -> dict:
    """The stack as `production: true` deploys it: every image by digest (a placeholder digest:
    checkov reads its shape only); the router's only where the stack has the traffic layer."""
    overrides: dict = {"image": {"digest": FAKE_DIGEST}}
    if stack_values(stack).get("traffic", {}).get("enabled"):
        overrides["traffic"] = {"router": {"imageDigest": FAKE_DIGEST}}
    return overrides


UNPINNED_FINDINGS = ("CKV_K8S_43", "CKV_K8S_15")
"""Image should use digest; pull policy Always (checkov passes IfNotPresent only with a digest).
As the files stand no digest is pinned (none is published for these tags), and checkov's findings
on them are exactly these, on the unpinned images (test_checkov_finds_exactly_the_unpinned_images)."""


@pytest.fixture(scope="module")
def rendered(runs, tmp_path_factory) -> pathlib.Path:
    """A directory with `<stack>/<NN>-<kind>-<name>.yaml` as `python -m tools.render` writes,
    pinned (with each LeaderWorkerSet's pod templates as Pods, group_pods), and the files as
    they stand in `<stack>-as-is/`."""
    out = tmp_path_factory.mktemp("checkov")
    for name in TARGET_STACKS:
        stack, overrides = {**GROUP_VARIANTS, **PATH_VARIANTS}.get(name, (name, {}))
        run = run_stack(stack, {**overrides, **pinned(stack)})
        assert run.error is None, run.error
        render.write({**render.render_run(run, name), **group_pods(run)}, out / name)
    for stack in STACKS:
        render.write(render.render_run(runs[stack], stack), out / f"{stack}-as-is")
    return out


@pytest.fixture(scope="module")
def reports(rendered) -> dict[str, dict[str, Any]]:
    """{target: checkov's JSON report} for each stack's rendered directory and the Dockerfile."""
    binary = checkov()
    commands = {stack: real_tools.checkov_command(binary, ["-d", str(rendered / stack)],
                                                  "kubernetes")
                for stack in (*TARGET_STACKS, *(f"{s}-as-is" for s in STACKS))}
    commands["docker/Dockerfile"] = real_tools.checkov_command(binary, ["-f", str(DOCKERFILE)],
                                                               "dockerfile")
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


TARGETS = (*TARGET_STACKS, "docker/Dockerfile")


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


@pytest.mark.parametrize("stack", STACKS)
def test_checkov_finds_exactly_the_unpinned_images(rendered, reports, stack):
    """As the stack file stands: only the digest findings, on exactly the workloads whose image
    has no digest (the same images `pulumi preview` warns about, planning/pins.py)."""
    failed = _results(reports[f"{stack}-as-is"], "failed_checks")
    assert {check["check_id"] for check in failed} <= set(UNPINNED_FINDINGS)
    unpinned = {path.name for path in (rendered / f"{stack}-as-is").glob("*.yaml")
                if path.name.split("-", 2)[1] in WORKLOAD_KINDS
                and re.search(r"image: [^@\s]+\n", path.read_text())}
    assert {pathlib.Path(check["file_path"]).name for check in failed} == unpinned


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


@pytest.mark.parametrize("stack", TARGET_STACKS)
def test_checkov_scans_every_workload(rendered, reports, stack):
    """A workload file checkov cannot read as one would otherwise pass unchecked."""
    scanned = {pathlib.Path(check["file_path"]).name
               for kind in ("passed_checks", "failed_checks", "skipped_checks")
               for check in _results(reports[stack], kind)}
    workloads = {path.name for path in (rendered / stack).glob("*.yaml")
                 if path.name.split("-", 2)[1] in WORKLOAD_KINDS}
    assert workloads, f"{stack} renders no workload"
    assert workloads <= scanned, f"checkov checked nothing in {sorted(workloads - scanned)}"


@pytest.mark.parametrize("stack", GROUP_VARIANTS)
def test_every_group_pod_template_is_checked_and_waives_on_itself(rendered, reports, stack):
    """Both templates of each LeaderWorkerSet reach checkov as Pods, and their waivers sit on
    the templates (checkov finds none on the LeaderWorkerSet, a kind it does not check)."""
    pods = sorted(p.name for p in (rendered / stack).glob("99-pod-*.yaml"))
    assert [p.rsplit("-", 1)[1] for p in pods] == ["leader.yaml", "worker.yaml"]
    skipped = {(pathlib.Path(c["file_path"]).name, c["check_id"])
               for c in _results(reports[stack], "skipped_checks")}
    assert {name for name, _ in skipped} <= set(pods)
    assert {(pod, "CKV_K8S_35") for pod in pods} <= skipped


def test_the_headless_worker_waives_only_the_readiness_probe(reports):
    skipped = {(pathlib.Path(c["file_path"]).name.rsplit("-", 1)[1], c["check_id"])
               for c in _results(reports["r1-h100"], "skipped_checks")
               if "99-pod-" in c["file_path"]}
    assert skipped == {("leader.yaml", "CKV_K8S_35"), ("worker.yaml", "CKV_K8S_35"),
                       ("worker.yaml", "CKV_K8S_9")}
