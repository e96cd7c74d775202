"""The multi-node launch scripts run for real with `sh`: vllm, getent, date, sleep and ray
replaced by recording stubs, so a worker's rank, its leader's address and the failures it
reports are what the shell computes, not what a reading of the script expects."""

from __future__ import annotations

import pathlib
import shlex
import stat
import subprocess

from tests.stacks.conftest import launch_script


def _stubs(tmp_path: pathlib.Path, resolves: bool) -> dict[str, str]:
    """A PATH with recording stubs: vllm prints its argv, getent answers (or not) for the
    leader, date jumps 60 s per call, sleep returns at once."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "vllm": 'printf "%s\\n" "vllm $*"',
        "ray": 'printf "%s\\n" "ray $*"',
        "getent": ('[ "$1" = ahostsv4 ] && [ "$2" = "$LWS_LEADER_ADDRESS" ] && '
                   'printf "10.1.2.3   STREAM %s\\n10.1.2.3   DGRAM\\n" "$2"' if resolves
                   else "exit 2"),
        "date": ('n=$(cat "$STUB_CLOCK" 2>/dev/null || echo 1000); n=$((n + 60)); '
                 'echo "$n" > "$STUB_CLOCK"; echo "$n"'),
        "sleep": "exit 0",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "STUB_CLOCK": str(tmp_path / "clock"),
            "LWS_LEADER_ADDRESS": "r1-h100-deepseek-r1-0.r1-h100-deepseek-r1.llm-r1",
            "LWS_WORKER_INDEX": "1"}


def _run_script(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=30)


def test_a_worker_resolves_the_leader_and_execs_vllm_headless_with_its_rank(group, tmp_path):
    result = _run_script(launch_script(group, "worker"), _stubs(tmp_path, resolves=True))
    assert result.returncode == 0, result.stderr
    argv = shlex.split(result.stdout.strip().splitlines()[-1])
    assert argv[:3] == ["vllm", "serve", "/models/DeepSeek-R1-0528"]
    assert argv[argv.index("--node-rank") + 1] == "1"
    assert argv[argv.index("--master-addr") + 1] == "10.1.2.3"
    assert "--headless" in argv


def test_hybrid_ranks_are_computed_by_the_shell(expert_group, tmp_path):
    env = {**_stubs(tmp_path, resolves=True), "LWS_WORKER_INDEX": "1"}
    result = _run_script(launch_script(expert_group, "worker"), env)
    assert result.returncode == 0, result.stderr
    argv = shlex.split(result.stdout.strip().splitlines()[-1])
    assert argv[argv.index("--data-parallel-start-rank") + 1] == "8"
    assert argv[argv.index("--data-parallel-address") + 1] == "10.1.2.3"


def test_an_unresolvable_leader_fails_fast_with_its_name_instead_of_an_empty_address(
        group, tmp_path):
    env = _stubs(tmp_path, resolves=False)
    result = _run_script(launch_script(group, "worker"), env)
    assert result.returncode == 1
    assert env["LWS_LEADER_ADDRESS"] in result.stderr and "did not resolve" in result.stderr
    assert "vllm" not in result.stdout        # never started with an empty --master-addr


def test_outside_a_leaderworkerset_the_script_says_so(group, tmp_path):
    env = _stubs(tmp_path, resolves=True)
    del env["LWS_LEADER_ADDRESS"]
    result = _run_script(launch_script(group, "leader"), env)
    assert result.returncode != 0 and "LWS_LEADER_ADDRESS is not set" in result.stderr


def test_the_ray_worker_joins_the_head_by_ip(ray_group, tmp_path):
    result = _run_script(launch_script(ray_group, "worker"), _stubs(tmp_path, resolves=True))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "ray start --address=10.1.2.3:6379 --block --num-gpus=8")
