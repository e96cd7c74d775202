"""Requirement: deleting a group (rollout, group recreation, node drain) loses no in-flight
request. LWS deletes a group's pods together; every pod's drain needs the others (a pipeline's
stages, a data × expert group's all-to-all), so no pod may leave while another still drains.

The rendered launch scripts and preStop hooks run for real under `sh` / `python3`, with a stub
`vllm` that behaves on SIGTERM as vLLM does (vllm/entrypoints/cli/serve.py): a `--headless`
worker exits at once (`run_headless`: the handler raises SystemExit, no wait); an API server
finishes its own in-flight requests within `--shutdown-timeout` and then exits; a request
needs every peer of its group alive until it ends (a pipeline's later stages; in a data ×
expert group the other ranks' dummy batches, vllm/v1/engine/core.py
`DPEngineCoreProc.run_busy_loop`). A small kubelet runs each pod's preStop, then sends SIGTERM,
then SIGKILL at the grace period, with the plan's timings scaled down by config
(shutdown: 50 tokens × 40 ms, preStop 1 s).
"""

from __future__ import annotations

import http.server
import pathlib
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from tests.harness import run_stack
from tests.k8s_helpers import pod_spec, vllm_container

LWS = "leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
SHORT = {"shutdown": {"maxTokens": 50, "perTokenMs": 40, "prefillSeconds": 0,
                      "preStopSeconds": 1}}
EXPERT = {"multiNode": {"rdma": {"resourceName": "rdma/ib", "count": 8, "hca": "mlx5"}},
          "gpu": {"type": "h100-80gb", "layout": "data-expert"},
          # Each rank's batch is gathered from all 16 before the experts: 8,192 tokens would need
          # a 21 GiB fused-MoE workspace per GPU (planning/memory.py tokens_at_experts).
          "engine": {"maxNumBatchedTokens": 2048}}
LEADER = "g-0.g.ns"
WORKER = "g-0-1.g.ns"

VLLM_STUB = r'''#!/usr/bin/env python3
"""vllm stub: one request (STUB_REQUEST_SECONDS from the `start` file) that needs every peer."""
import os, pathlib, signal, sys, time
state, me = pathlib.Path(os.environ["STUB_STATE"]), os.environ["STUB_POD"]
args = sys.argv[1:]
timeout = float(args[args.index("--shutdown-timeout") + 1]) if "--shutdown-timeout" in args else 0
log = lambda line: open(state / f"{me}.log", "a").write(f"{time.time():.3f} {line}\n")
alive = state / f"{me}.alive"
def leave(code):
    alive.unlink(missing_ok=True); log("exit"); sys.exit(code)
term = []
def on_term(signum, frame):
    if "--headless" in args:
        leave(0)              # serve.py run_headless: SystemExit at once
    if not os.environ.get("STUB_WEDGED"):   # a wedged leader ignores SIGTERM
        term.append(time.time())
signal.signal(signal.SIGTERM, on_term)
if "--nnodes" in args and "--headless" not in args:   # rank 0 hosts the rendezvous
    import socket
    store = socket.socket()
    store.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    store.bind(("127.0.0.1", int(args[args.index("--master-port") + 1])))
    store.listen(128)
def report(running):
    # Atomically: the metrics proxy must never read a half-written count (an empty file
    # would read as no request at all and end the group's drain early).
    (state / f"{me}.inflight.tmp").write_text("1" if running else "0")
    os.replace(state / f"{me}.inflight.tmp", state / f"{me}.inflight")
length, peers = float(os.environ.get("STUB_REQUEST_SECONDS", "0")), os.environ["STUB_PEERS"].split()
report(length > 0)       # the request is queued before the test says start
alive.touch(); log("started " + " ".join(args))
while not (state / "start").exists():
    time.sleep(0.02)
begun, running = time.time(), length > 0
while True:
    if running and any(not (state / f"{p}.alive").exists() for p in peers):
        log("lost"); running = False
    if running and time.time() - begun >= length:
        log("completed"); running = False
    report(running)
    if term and (not running or time.time() - term[0] >= timeout):
        leave(0)
    time.sleep(0.02)
'''


class _Metrics(http.server.BaseHTTPRequestHandler):
    """Stands in for every pod's /metrics, as the http_proxy of the preStop hooks: the request
    line carries the pod's DNS name; a pod that has exited does not answer."""

    state: pathlib.Path

    def do_GET(self):
        host = self.path.split("//", 1)[1].split(":", 1)[0]
        pod = {LEADER: "leader", WORKER: "worker"}.get(host)
        if pod is None or not (self.state / f"{pod}.alive").exists():
            self.send_response(502)
            self.end_headers()
            return
        count = (self.state / f"{pod}.inflight").read_text() if (
            self.state / f"{pod}.inflight").exists() else "0"
        body = (f'vllm:num_requests_running{{engine="0",model_name="m"}} {count}\n'
                'vllm:num_requests_waiting{engine="0",model_name="m"} 0\n').encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def cluster(tmp_path):
    """Stub binaries, a state directory and the metrics proxy on 127.0.0.1."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in {"vllm": VLLM_STUB,
                       "getent": '#!/bin/sh\nprintf "127.0.0.1 STREAM %s\\n" "$2"\n'}.items():
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    state = tmp_path / "state"
    state.mkdir()
    handler = type("Handler", (_Metrics,), {"state": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"bin": bin_dir, "state": state, "proxy": f"http://127.0.0.1:{server.server_port}"}
    server.shutdown()
    server.server_close()


def _env(cluster, pod: str, index: int, request_seconds: float,
         leader: str) -> dict[str, str]:
    return {"PATH": f"{cluster['bin']}:/usr/local/bin:/usr/bin:/bin",
            "LWS_LEADER_ADDRESS": leader, "LWS_WORKER_INDEX": str(index), "LWS_GROUP_SIZE": "2",
            "STUB_STATE": str(cluster["state"]), "STUB_POD": pod,
            "STUB_PEERS": "worker" if pod == "leader" else "leader",
            "STUB_REQUEST_SECONDS": str(request_seconds), "http_proxy": cluster["proxy"]}


def _delete_group(run, cluster, requests: dict[str, float], leader: str = LEADER,
                  extra_env: dict | None = None) -> dict[str, dict]:
    """Start both pods, let the request begin, then delete the group as the kubelet does."""
    lws = run.one(LWS)
    pods = {}
    for index, role in enumerate(("leader", "worker")):
        container = vllm_container(lws, role)
        env = {**_env(cluster, role, index, requests.get(role, 0), leader),
               **(extra_env or {}).get(role, {})}
        proc = subprocess.Popen(container["command"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        pods[role] = {"proc": proc, "env": env,
                      "preStop": container["lifecycle"]["preStop"]["exec"]["command"],
                      "grace": pod_spec(lws, role)["terminationGracePeriodSeconds"]}
    deadline = time.time() + 20
    while not all((cluster["state"] / f"{r}.alive").exists() for r in pods):
        assert time.time() < deadline, [p["proc"].stderr.read() for p in pods.values()
                                        if p["proc"].poll() is not None]
        time.sleep(0.02)
    (cluster["state"] / "start").touch()
    start = time.time()
    threads = [threading.Thread(target=_kubelet, args=(pod, start)) for pod in pods.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for role, pod in pods.items():
        pod["log"] = (cluster["state"] / f"{role}.log").read_text().splitlines()
        pod["start"] = start
    return pods


def _kubelet(pod: dict, start: float) -> None:
    """preStop (cut at the grace period), SIGTERM, SIGKILL at the grace period."""
    grace = pod["grace"]
    try:
        subprocess.run(pod["preStop"], env=pod["env"], timeout=grace, capture_output=True)
    except subprocess.TimeoutExpired:
        pass
    pod["term"] = time.time() - start
    pod["proc"].send_signal(signal.SIGTERM)
    try:
        pod["proc"].wait(timeout=max(0.0, start + grace - time.time()))
        pod["killed"] = False
    except subprocess.TimeoutExpired:
        pod["proc"].kill()
        pod["proc"].wait()
        pod["killed"] = True
    pod["exit"] = time.time() - start


def _events(pod: dict, word: str) -> list[float]:
    return [float(line.split()[0]) - pod["start"] for line in pod["log"]
            if line.split()[1] == word]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_pipeline_worker_outlives_the_leaders_drain_and_exits_within_its_grace(cluster):
    run = run_stack("r1-h100", {**SHORT, "multiNode": {"masterPort": _free_port()}})
    assert run.error is None, run.error
    # The leader's request ends 2 s after the delete, when its --shutdown-timeout (2 s after
    # its 1 s preStop) would cut it at the latest.
    pods = _delete_group(run, cluster, {"leader": 2.0}, leader="localhost")
    leader, worker = pods["leader"], pods["worker"]
    assert _events(leader, "completed") and not _events(leader, "lost"), leader["log"]
    leader_gone = _events(leader, "exit")[0]
    assert worker["term"] >= leader_gone, (worker["term"], leader["log"])
    # ... and leaves soon after it rather than sleeping out its whole bound (8 s here).
    assert worker["term"] < leader_gone + 4, (worker["term"], leader_gone)
    for pod in (leader, worker):
        assert not pod["killed"] and pod["exit"] < pod["grace"], pod


def test_a_pipeline_worker_whose_leader_never_leaves_stops_at_its_bound(cluster):
    """A wedged leader ignores SIGTERM and keeps its rendezvous open: the worker still gets
    SIGTERM at its bound and exits, before the kubelet's SIGKILL."""
    run = run_stack("r1-h100", {**SHORT, "multiNode": {"masterPort": _free_port()}})
    assert run.error is None, run.error
    pods = _delete_group(run, cluster, {"leader": 60.0}, leader="localhost",
                         extra_env={"leader": {"STUB_WEDGED": "1"}})
    worker = pods["worker"]
    bound = 1 + 2 + 5
    assert bound <= worker["term"] < bound + 4 and not worker["killed"], worker
    assert pods["leader"]["killed"]       # the kubelet's SIGKILL at the grace period


def test_every_pod_of_a_data_expert_group_stays_until_the_groups_last_request_ends(cluster):
    run = run_stack("r1-h100", {**SHORT, **EXPERT})
    assert run.error is None, run.error
    # Only the leader has a request; the worker's ranks serve it through the all-to-all.
    pods = _delete_group(run, cluster, {"leader": 2.0})
    leader, worker = pods["leader"], pods["worker"]
    assert _events(leader, "completed") and not _events(leader, "lost"), leader["log"]
    assert worker["term"] >= _events(leader, "completed")[0]
    for pod in (leader, worker):
        assert not pod["killed"] and pod["exit"] < pod["grace"], pod


def test_the_plan_derives_and_prints_the_workers_prestop():
    from planning.config import parse
    from planning.plan import make_plan
    from planning.stack_files import stack_values
    from tools.plan import rows
    plan = make_plan(parse(stack_values("r1-h100")))
    drain = plan.drain
    longest = drain.longest_request_seconds           # at the plan's per-token time
    sleep = drain.pre_stop_seconds + longest + 5
    assert drain.worker_pre_stop_seconds == sleep
    assert drain.worker_pre_stop_seconds < drain.grace_seconds
    grace_row = next(reason for name, _, reason in rows(plan) if name == "grace period")
    assert (f"workers' preStop sleeps preStop 15 + longest request {longest} + 5 = {sleep} s"
            in grace_row)
    worker = vllm_container(run_stack("r1-h100").one(LWS), "worker")
    command = worker["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["sh", "-c"] and command[2].startswith(f"sleep {sleep} & bound=$!")
    assert "'LWS_LEADER_ADDRESS'], 29501)" in command[2]


def test_the_group_drains_pass_the_policy_pack():
    """Both group drains fit the grace period as the pack reads it (grace-covers-drain): the
    data × expert pods' preStop bound plus their short --shutdown-timeout, the pipeline
    worker's bounded wait with no vLLM drain after it."""
    from tests.policy.conftest import CONFIGS, recorded_resources
    from policy import offline
    for overrides in ({}, EXPERT):
        run = run_stack("r1-h100", overrides)
        assert run.error is None, run.error
        assert offline.mandatory(offline.run(recorded_resources(run), CONFIGS["r1-h100"])) == []
