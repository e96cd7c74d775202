"""What the router adds to a request, and what it costs in CPU: the real LiteLLM router started
from prod's rendered files in front of a stub engine, requests interleaved with the same
requests sent straight to the stub, every router variant in the same run.

    python -m benchmark.router                       # today vs new vs bare; rewrites its section
    python -m benchmark.router --levers              # plus one run per lever undone
    python -m benchmark.router --candidates --features   # levers tried, behaviours' costs
    python -m benchmark.router --requests 50 --no-write

Phases, per router variant (benchmark/router_variants.py):
1. one request at a time, round robin over the direct path and every router: added p50/p99
   (router minus direct, same run), router CPU per request (its process' CPU time / requests);
2. streamed, one at a time: added time to first byte, router CPU per relayed token;
3. at `--utilisation` of the router's measured capacity (1 / CPU per request: one worker is one
   core), open loop, direct requests interleaved at the same rate: added p50/p99 under load.
The router runs pinned to the last CPU, the stub and this client to the others (when there are
two or more); the machine's load average is recorded around every phase. Not a CI test:
tests/tooling/test_router_benchmark.py runs it on a tiny setting to prove it works.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

import requests
import yaml

from benchmark import router_report
from benchmark.router_variants import candidates, features, variants
from rendering import router as render
from tests import tools
from tests.harness import ROOT, run_stack, stack_config
from tests.openai_stub import free_port
from tests.router import test_router_live as live

CLIENT = {"name": "bench", "requestsPerMinute": 100_000, "tokensPerMinute": 1_000_000_000}
"""A client no limit refuses during the benchmark (the limiter still runs and counts)."""
MODEL = "deepseek-r1-32b"
"""The local-only alias: the engine's path, no cloud fallback."""
DEFAULT_UTILISATION = 0.6
"""The share of one router pod's capacity the load phase runs at (planning/router_sizing.py
sizes replicas to stay below it)."""
STREAMED_TOKENS = 200
SPACING_SECONDS = 0.05
"""Idle time after each request of the spaced phase: long enough for the work a router does
after its answer (LiteLLM's success callbacks, a few ms) to finish before the next request
reaches any router (all share one CPU), so the spaced figures are the request path alone; the
back-to-back figures also carry the previous request's callbacks."""
STUB = ("import sys, time\nfrom tests.openai_stub import StubUpstream\n"
        "StubUpstream('local', port=int(sys.argv[1]), tokens=int(sys.argv[2])).start()\n"
        "print('ready', flush=True)\ntime.sleep(3600)\n")
"""The stub engine in a process of its own, so the client's threads do not slow it."""


@dataclasses.dataclass
class Target:
    """A path a request can take: the stub directly, or one router variant."""

    name: str
    url: str
    headers: dict[str, str]
    pid: Optional[int] = None
    local: threading.local = dataclasses.field(default_factory=threading.local)

    @property
    def session(self) -> requests.Session:
        """A kept-alive session per client thread (a Session is not shared across threads)."""
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` and its live children (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def pin(pid: int, cpus: set[int]) -> None:
    if hasattr(os, "sched_setaffinity") and cpus:
        os.sched_setaffinity(pid, cpus)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def one_request(target: Target, stream: bool = False, tokens: int = 5) -> tuple[float, float]:
    """(seconds to the whole answer, seconds to its first byte) of one chat completion."""
    body = {"model": MODEL, "max_tokens": tokens, "stream": stream,
            "messages": [{"role": "user", "content": "hello"}]}
    started = time.perf_counter()
    with target.session.post(target.url, json=body, headers=target.headers, timeout=60,
                             stream=True) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{target.name} answered {response.status_code}: "
                               f"{response.text[:300]}")
        first = None
        for _ in response.iter_content(chunk_size=None):
            first = first or time.perf_counter() - started
    return time.perf_counter() - started, first or 0.0


def serial(targets: list[Target], count: int, stream: bool = False, tokens: int = 5,
           gap: float = 0.0) -> tuple[dict[str, list[tuple[float, float]]], dict[str, float]]:
    """`count` rounds, one request at a time, each round over every target (the order rotates
    so none always follows another), `gap` seconds idle after each request: ({target: [(total,
    first byte)]}, {router: CPU seconds per request})."""
    times: dict[str, list[tuple[float, float]]] = {t.name: [] for t in targets}
    routers = [t for t in targets if t.pid]
    before = {t.name: cpu_seconds(t.pid) for t in routers}
    for round_ in range(count):
        shift = round_ % len(targets)
        for target in targets[shift:] + targets[:shift]:
            times[target.name].append(one_request(target, stream, tokens))
            time.sleep(gap)
    return times, {t.name: (cpu_seconds(t.pid) - before[t.name]) / count for t in routers}


def under_load(direct: Target, router: Target, rate: float, seconds: float
               ) -> tuple[list[float], list[float], float]:
    """Open loop at `rate` requests/s to the router for `seconds`, with as many to the stub
    directly, interleaved: (direct latencies, router latencies, router CPU per request)."""
    interval, pending = 1 / rate, []
    before = cpu_seconds(router.pid)
    with ThreadPoolExecutor(max_workers=128) as pool:
        started = time.perf_counter()
        sent = 0
        while time.perf_counter() - started < seconds:
            wait = started + sent * interval - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            pending.append((router.name, pool.submit(one_request, router)))
            pending.append((direct.name, pool.submit(one_request, direct)))
            sent += 1
        done = [(name, future.result()[0]) for name, future in pending]
    cpu = (cpu_seconds(router.pid) - before) / max(sent, 1)
    return ([t for name, t in done if name == direct.name],
            [t for name, t in done if name == router.name], cpu)


def rendered_router(stub_base: str, redis_port: int) -> tuple[dict, dict, dict]:
    """prod's router files and pod (plus the benchmark's client), config.yaml pointed at the
    stub engine and the local Redis; cloud targets at a closed port (never used)."""
    traffic = dict(stack_config("prod")["traffic"])
    traffic["clients"] = traffic["clients"] + [CLIENT]
    run = run_stack("prod", {"traffic": traffic})
    if run.error is not None:
        raise SystemExit(f"prod does not render: {run.error}")
    files, pod = live._router_files(run)
    config = yaml.safe_load(files["config.yaml"])
    for deployment in config["model_list"]:
        params = deployment["litellm_params"]
        params["api_base"] = stub_base if params["model"].startswith("hosted_vllm/") \
            else f"http://127.0.0.1:{free_port()}/v1"
    config["general_settings"]["coordination_redis"].update(host="127.0.0.1", port=redis_port)
    return files, pod, config


def start_routers(names: list[str], tmp: pathlib.Path, stub_base: str, redis_port: int,
                  router_cpus: set[int], started: list[tuple[Target, dict]]) -> None:
    """One live router per variant, each from the rendered files with its undo applied, added
    to `started` as it is launched (so the caller stops it even if a later one fails)."""
    litellm = str(tools.router_venv() / "bin" / "litellm")
    files, pod, config = rendered_router(stub_base, redis_port)
    proxy = live.RecordingProxy()
    secrets = {render.MASTER_KEY_ENV: live.MASTER_KEY, render.ENGINE_KEY_ENV: live.ENGINE_KEY,
               render.REDIS_PASSWORD_ENV: live.REDIS_PASSWORD,
               render.provider_key_env("cloud"): live.CLOUD_KEY}
    for name, undo in variants(names, tmp / "shim").items():
        directory = tmp / name
        directory.mkdir()
        args, env, keys = live.router_inputs(files, pod, config, directory, secrets, proxy.port)
        variant, args, env = undo(config, args, env)
        (directory / "config" / "config.yaml").write_text(yaml.safe_dump(variant,
                                                                           sort_keys=False))
        router = live.launch_router(litellm, args, env, directory, name)
        key = live.MASTER_KEY if name == "bare" else keys[CLIENT["name"]]
        started.append((Target(name, router["url"] + "/v1/chat/completions",
                               {"Authorization": f"Bearer {key}"}, router["process"].pid),
                        router))
        # One at a time: eight importing LiteLLM at once outlast the start-up allowance.
        live._wait_live([router], time.monotonic())
    for target, _ in started:
        pin(target.pid, router_cpus)


def cpu_sets() -> tuple[set[int], set[int]]:
    """(the routers' CPUs, the client's and stub's): the last CPU for the routers when there
    are two or more."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    return {cpus[-1]}, set(cpus[:-1])


@dataclasses.dataclass
class Settings:
    """How much the benchmark sends (the CLI's options)."""

    requests: int = 300
    streamed: int = 60
    seconds: float = 20.0
    utilisation: float = DEFAULT_UTILISATION
    warmup: int = 20
    spaced: int = 100
    """Requests one at a time with SPACING_SECONDS idle after each (the spaced phase)."""


def added_ms(routed: list[float], direct: list[float], share: float) -> float:
    return (percentile(routed, share) - percentile(direct, share)) * 1000


def measure(direct: Target, routers: list[Target], settings: Settings) -> dict:
    """Every phase over every router, with the load average before each: the figures
    router_report.py writes."""
    targets = [direct, *routers]
    serial(targets, settings.warmup)
    loads = {"one at a time": os.getloadavg()}
    times, cpu = serial(targets, settings.requests)
    loads["streamed"] = os.getloadavg()
    streams, stream_cpu = serial(targets, settings.streamed, True, STREAMED_TOKENS)
    loads["spaced"] = os.getloadavg()
    spaced, _ = serial(targets, settings.spaced, gap=SPACING_SECONDS)
    figures: dict[str, dict] = {}
    for router in routers:
        totals = [t for t, _ in times[router.name]]
        direct_totals = [t for t, _ in times[direct.name]]
        firsts = [f for _, f in streams[router.name]]
        direct_firsts = [f for _, f in streams[direct.name]]
        per_request = cpu[router.name]
        figures[router.name] = {
            "added_p50_ms": added_ms(totals, direct_totals, 0.5),
            "added_p99_ms": added_ms(totals, direct_totals, 0.99),
            "spaced_added_p50_ms": added_ms([t for t, _ in spaced[router.name]],
                                            [t for t, _ in spaced[direct.name]], 0.5),
            "spaced_added_p99_ms": added_ms([t for t, _ in spaced[router.name]],
                                            [t for t, _ in spaced[direct.name]], 0.99),
            "cpu_ms_per_request": per_request * 1000,
            "first_byte_added_p50_ms": added_ms(firsts, direct_firsts, 0.5),
            "cpu_ms_per_token": max(stream_cpu[router.name] - per_request, 0)
                                / STREAMED_TOKENS * 1000,
            "capacity_rps": 1 / per_request if per_request > 0 else float("inf"),
        }
    for router in routers:
        row = figures[router.name]
        rate = settings.utilisation * min(row["capacity_rps"], 1000.0)
        loads[f"{router.name} at {settings.utilisation:.0%}"] = os.getloadavg()
        direct_times, routed, load_cpu = under_load(direct, router, rate, settings.seconds)
        row.update(load_rps=rate, load_added_p50_ms=added_ms(routed, direct_times, 0.5),
                   load_added_p99_ms=added_ms(routed, direct_times, 0.99),
                   load_cpu_ms_per_request=load_cpu * 1000)
    loads["end"] = os.getloadavg()
    return {"figures": figures, "loads": loads}


def run(names: list[str], settings: Settings) -> dict:
    """Redis, the stub engine and the routers started, measured, and stopped."""
    router_cpus, client_cpus = cpu_sets()
    pin(0, client_cpus)
    redis_port, stub_port = free_port(), free_port()
    redis = subprocess.Popen([tools.system_tool("redis-server"), "--port", str(redis_port),
                              "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--requirepass", live.REDIS_PASSWORD],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stub = subprocess.Popen([sys.executable, "-c", STUB, str(stub_port), str(STREAMED_TOKENS)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    started: list[tuple[Target, dict]] = []
    try:
        stub.stdout.readline()   # "ready"
        base = f"http://127.0.0.1:{stub_port}/v1"
        with tempfile.TemporaryDirectory(prefix="router-bench-") as tmp:
            start_routers(names, pathlib.Path(tmp), base, redis_port, router_cpus, started)
            direct = Target("direct", base + "/chat/completions", {})
            result = measure(direct, [target for target, _ in started], settings)
    finally:
        for process in [r["process"] for _, r in started] + [stub, redis]:
            process.terminate()
        for process in [r["process"] for _, r in started] + [stub, redis]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return {**result, "cpus": {"routers": sorted(router_cpus), "client": sorted(client_cpus)},
            "settings": dataclasses.asdict(settings), "variants": names,
            "streamed_tokens": STREAMED_TOKENS, "spacing_ms": SPACING_SECONDS * 1000}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.router", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="today,new,bare",
                        help="comma-separated router variants (benchmark/router_variants.py)")
    parser.add_argument("--levers", action="store_true",
                        help="also one variant per lever undone (new-without-<lever>)")
    parser.add_argument("--candidates", action="store_true",
                        help="also one variant per candidate lever applied (new-with-<lever>)")
    parser.add_argument("--features", action="store_true",
                        help="also one variant per pinned behaviour removed, to see what it "
                             "costs (new-minus-<feature>; measure only)")
    defaults = Settings()
    for field in dataclasses.fields(Settings):
        parser.add_argument(f"--{field.name}", type=type(getattr(defaults, field.name)),
                            default=getattr(defaults, field.name))
    parser.add_argument("--results", type=pathlib.Path, default=router_report.RESULTS_FILE)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    names = args.variants.split(",")
    if args.levers:
        names += [f"new-without-{lever}" for lever in
                  ("pricing", "packages", "prometheus", "access-log", "limiter",
                   "gauge-skip", "service-skip", "ignore-no-log")]
    if args.candidates:
        names += [f"new-with-{name}" for name in candidates()]
    if args.features:
        names += [f"new-minus-{name}" for name in features()]
    settings = Settings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Settings)})
    result = run(names, settings)
    section = router_report.section(result)
    print(section)
    if not args.no_write:
        router_report.write(args.results, section)
        print(f"\nwrote the router section of {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
