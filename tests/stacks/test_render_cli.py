"""`python -m tools.render` as a reviewer runs it: a fresh process (another hash seed) writes
the same files the in-process render does, replaces stale ones and leaks no secret."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import STACKS
from tests.harness import FAKE_API_KEY, ROOT
from tools import render


def test_cli_writes_the_same_files_in_a_fresh_process(runs, tmp_path):
    stale = tmp_path / "staging" / "99-configmap-gone.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    env = {**os.environ, "PYTHONHASHSEED": "4242"}  # a different hash order than this process
    done = subprocess.run([sys.executable, "-m", "tools.render", *STACKS, "--out", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not stale.exists()
    for stack in STACKS:
        written = {p.name: p.read_text(encoding="utf-8")
                   for p in sorted((tmp_path / stack).glob("*.yaml"))}
        assert written == render.render_run(runs[stack], stack), \
            f"{stack}: the CLI's files differ from the render"
        assert f"{stack}: {len(written)} objects" in done.stdout
    every = "".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.yaml"))
    assert FAKE_API_KEY not in every
    assert not [line for line in done.stderr.splitlines() if "Traceback" in line], done.stderr
