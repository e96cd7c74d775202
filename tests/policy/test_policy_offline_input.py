"""`python -m policy.offline` runs on what a command writes: `python -m tools.render <stack>`
puts `resources.json` beside the YAML, and the offline pack passes every real stack with its
policy config."""

import json
import os
import subprocess
import sys

import pytest

from policy import offline
from tests.conftest import STACKS
from tests.harness import ROOT
from tools import render


@pytest.mark.parametrize("stack", STACKS)
def test_the_render_tool_writes_the_offline_packs_input_and_the_pack_passes_it(
        stack, tmp_path, capsys):
    assert render.main([stack, "--out", str(tmp_path)]) == 0
    path = tmp_path / stack / "resources.json"
    resources = json.loads(path.read_text())
    kinds = {r["type"] for r in resources}
    assert any(t.endswith(("apps/v1:Deployment", "LeaderWorkerSet")) for t in kinds), kinds
    assert all(set(r) == {"type", "name", "props"} for r in resources)
    assert "mock-generated" not in path.read_text()        # secrets stay redacted
    config = ROOT / "policy" / "config" / f"{stack}.json"
    argv = [str(path)] + (["--config", str(config)] if config.exists() else [])
    assert offline.main(argv) == 0, capsys.readouterr().out


def test_the_offline_pack_still_refuses_a_broken_resource_from_that_file(tmp_path):
    assert render.main(["prod", "--out", str(tmp_path)]) == 0
    path = tmp_path / "prod" / "resources.json"
    resources = json.loads(path.read_text())
    for resource in resources:
        if resource["type"].endswith("apps/v1:Deployment"):
            for container in resource["props"]["spec"]["template"]["spec"]["containers"]:
                container.pop("readinessProbe", None)
    path.write_text(json.dumps(resources))
    assert offline.main([str(path), "--config", str(ROOT / "policy/config/prod.json")]) == 1


def test_resources_json_is_the_same_in_a_fresh_process(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for out, seed in ((first, "1"), (second, "4242")):
        done = subprocess.run([sys.executable, "-m", "tools.render", "prod", "--out", str(out)],
                              cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert ((first / "prod" / "resources.json").read_bytes()
            == (second / "prod" / "resources.json").read_bytes())
