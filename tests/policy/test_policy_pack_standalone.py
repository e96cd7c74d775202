"""The policy pack loads the way Pulumi runs a published pack: from a directory of its own, with
no repository beside it. Pulumi starts a Python pack as `python -m pulumi.policy <engine> <dir>`,
which `runpy.run_path`s the directory (pulumi/policy/__main__.py in the pulumi SDK): the
directory is sys.path[0] and nothing else of ours is importable."""

from __future__ import annotations

import json
import os
import pathlib
import selectors
import subprocess
import sys

import pytest

from policy import offline, rules
from policy.k8s import DEPLOYMENT
from tests.harness import ROOT, run_stack
from tests.policy.conftest import deployment, engine, urn_of

CHECK = r"""
import json, pathlib, runpy, sys
pack = pathlib.Path(sys.argv[1]).resolve()
loaded = runpy.run_path(str(pack), run_name="pack_check")   # as Pulumi does, minus the server
import facts, policy
from policy import offline
resources = json.loads(pathlib.Path(sys.argv[2]).read_text())
violations = offline.run(resources, offline.load_config(pack / "config" / "prod.json"))
print(json.dumps({
    "policies": len(loaded["ALL_POLICIES"]),
    "facts": facts.__file__, "policy": policy.__file__,
    "violations": sorted(v.policy for v in violations),
    "modules": sorted({m.__file__ for m in list(sys.modules.values())
                       if getattr(m, "__file__", None)}),
}))
"""


def _resources(run) -> list[dict]:
    return [{"type": r.type, "name": r.name, "props": r.inputs} for r in run.resources]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> pathlib.Path:
    from tools import policy_pack
    out = tmp_path_factory.mktemp("published") / "vllm-serving_v0.1.0"
    policy_pack.build(out)
    return out


def test_the_built_pack_runs_its_rules_with_no_repository_beside_it(built, tmp_path):
    resources = tmp_path / "resources.json"
    resources.write_text(json.dumps(_resources(run_stack("prod"))))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-I", "-B", "-c", CHECK, str(built), str(resources)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    from policy.rules import ALL_POLICIES
    assert result["policies"] == len(ALL_POLICIES)
    assert pathlib.Path(result["facts"]).is_relative_to(built)
    assert pathlib.Path(result["policy"]).is_relative_to(built)
    venv = pathlib.Path(sys.prefix).resolve()
    from_repository = [m for m in result["modules"]
                       if pathlib.Path(m).resolve().is_relative_to(ROOT.resolve())
                       and not pathlib.Path(m).resolve().is_relative_to(venv)]
    assert from_repository == []
    # The same verdicts as the pack run from the checkout.
    expected = offline.run(_resources(run_stack("prod")),
                           offline.load_config(ROOT / "policy" / "config" / "prod.json"))
    assert result["violations"] == sorted(v.policy for v in expected)


def test_the_built_pack_carries_its_manifest_requirements_and_configs(built):
    for name in ("PulumiPolicy.yaml", "requirements.txt", "__main__.py", "config/prod.json",
                 "facts/__init__.py", "facts/models.yaml"):
        assert (built / name).is_file(), name
    assert not (built / "venv").exists() and not list(built.rglob("__pycache__"))


def test_pulumi_install_in_policy_installs_the_packs_venv():
    """pulumi pkg/cmd/pulumi/install/install.go `shouldInstallPolicyPackDependencies`: with a
    PulumiPolicy.yaml at or above cwd and a Pulumi.yaml above that, `pulumi install` installs
    the pack's dependencies when the pack's directory contains the project's (the pack is
    nested in the project), into the `virtualenv` of PulumiPolicy.yaml."""
    import yaml
    pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    base_project, base_pack = str(ROOT), str(ROOT / "policy")
    assert base_project in base_pack


def test_the_built_pack_boots_as_pulumi_runs_it_and_serves_every_policy(built, tmp_path):
    """`python -m pulumi.policy <engine> <dir>` on the built directory, from a directory with no
    repository, asked over the analyzer protocol (as the test below does for the checkout)."""
    import selectors

    import grpc
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2_grpc

    from policy.rules import ALL_POLICIES
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    process = subprocess.Popen([sys.executable, "-I", "-B", "-u", "-m", "pulumi.policy",
                                "127.0.0.1:1", str(built)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=20), "the built pack did not start within 20 s"
        line = process.stdout.readline()
        assert line.strip().isdigit(), process.stderr.read1().decode() if line == b"" else line
        stub = analyzer_pb2_grpc.AnalyzerStub(grpc.insecure_channel(f"127.0.0.1:{int(line)}"))
        info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
        assert info.name == "vllm-serving"
        assert [p.name for p in info.policies] == [p.name for p in ALL_POLICIES]
    finally:
        process.kill()
        process.communicate(timeout=10)


def test_pack_boots_the_way_pulumi_runs_it_and_serves_every_policy():
    """policy/__main__.py is never imported (it blocks); run it as Pulumi's analyzer plugin does
    (`python -m pulumi.policy <engine> <pack dir>`) and ask it over the analyzer protocol."""
    import grpc
    from google.protobuf import empty_pb2, struct_pb2
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

    pack_dir = pathlib.Path(rules.__file__).parent
    process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1",
                                str(pack_dir)], cwd=pack_dir.parent.parent,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=20), "the policy pack did not start within 20 s"
        port = int(process.stdout.readline())
        stub = analyzer_pb2_grpc.AnalyzerStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
        assert info.name == "vllm-serving"
        assert [p.name for p in info.policies] == [p.name for p in rules.ALL_POLICIES]
        props = struct_pb2.Struct()
        broken = deployment()
        engine(broken)["image"] = "vllm/vllm-openai:latest"
        props.update(broken)
        answer = stub.Analyze(analyzer_pb2.AnalyzeRequest(
            type=DEPLOYMENT, properties=props, urn=urn_of(DEPLOYMENT, "vllm"), name="vllm"),
            timeout=10)
        reported = {(d.policyName, analyzer_pb2.EnforcementLevel.Name(d.enforcementLevel))
                    for d in answer.diagnostics}
        assert reported == {("image-pinned", "MANDATORY"), ("image-by-digest", "ADVISORY")}
    finally:
        process.kill()
        process.communicate(timeout=10)
