"""How big the router must be for the engines behind it, and how many requests a client may
have in flight (issue 19).

The engines at their peak (every replica the stack may run, each with its runnable requests
streaming one token per `shutdown.perTokenMs`) produce a request rate and a token rate; the
router spends facts/router_costs.py's measured CPU on each. One uvicorn worker per router pod
(rendering/router.py container_args: limits, probes and metrics see one process) uses at most one
core, so a pod gives min(traffic.router.cpu, 1) core. The router must run below
ROUTER_UTILISATION at that peak, else the plan is refused naming traffic.router.replicas / cpu.
"""

from __future__ import annotations

import dataclasses
import math

from facts.router_costs import ROUTER_COST, RouterCost
from planning.config import StackConfig

ROUTER_UTILISATION = 0.6
"""Highest share of its CPU the router may use at the engines' peak: queueing in one Python
worker grows fast above it (benchmark/router.py measures the added latency at this share)."""
ASSUMED_ANSWER_TOKENS = 256
"""Tokens an answer streams on average (assumed: no config key holds it yet). Shorter answers
mean more requests per second for the same tokens; the per-token cost dominates either way."""
WORKER_CORES = 1.0
"""What one uvicorn worker can use (one Python process)."""
MINUTE_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class RouterSizing:
    """The router's load at the engines' peak and the replicas it needs."""

    streams: int
    tokens_per_second: float
    requests_per_second: float
    cpu_needed: float
    cores_per_pod: float
    replicas_needed: int
    replicas: int
    reason: str


def cores(cpu: str) -> float:
    """A Kubernetes CPU quantity ('1', '1.5', '500m') in cores."""
    return int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)


def size(cfg: StackConfig, runnable_requests: int, max_replicas: int,
         cost: RouterCost = ROUTER_COST) -> RouterSizing:
    """Peak streams = runnable requests per replica × the most engine replicas; tokens/s =
    streams × 1000 / perTokenMs; requests/s = streams / (answer tokens × perTokenMs); CPU =
    requests/s × CPU per request + tokens/s × CPU per token; replicas = ⌈CPU / (utilisation ×
    cores per pod)⌉."""
    per_token_ms = cfg.shutdown.per_token_ms
    streams = runnable_requests * max_replicas
    tokens = streams * 1000 / per_token_ms
    requests = streams / (ASSUMED_ANSWER_TOKENS * per_token_ms / 1000)
    cpu = (requests * cost.cpu_ms_per_request + tokens * cost.cpu_ms_per_token) / 1000
    per_pod = min(cores(cfg.traffic.router.cpu), WORKER_CORES)
    needed = max(1, math.ceil(cpu / (ROUTER_UTILISATION * per_pod)))
    reason = (f"{runnable_requests} runnable requests × "
              f"{max_replicas} engine replicas = {streams} streams; × 1000 / "
              f"perTokenMs {per_token_ms:g} = {tokens:.0f} tokens/s; / ({ASSUMED_ANSWER_TOKENS} "
              f"answer tokens (assumed) × {per_token_ms:g} ms) = {requests:.1f} requests/s; CPU "
              f"{requests:.1f} × {cost.cpu_ms_per_request:g} ms + {tokens:.0f} × "
              f"{cost.cpu_ms_per_token:g} ms = {cpu:.2f} cores (LiteLLM {cost.litellm_version}, "
              f"facts/router_costs.py, measured by `{cost.command}`); / (utilisation "
              f"{ROUTER_UTILISATION:g} × {per_pod:g} core per pod: one worker) = {needed} "
              f"replicas")
    return RouterSizing(streams, tokens, requests, cpu, per_pod, needed,
                        cfg.traffic.router.replicas, reason)


def client_in_flight(requests_per_minute: int, router_timeout_seconds: int) -> int:
    """Requests one client can have in flight = requestsPerMinute × ⌈router attempt / 60 s⌉:
    each minute's window admits requestsPerMinute, and a request lives at most the router's
    attempt. tokensPerMinute does not cap it: tokens are counted from each answer, not
    reserved up front (rendering/router.py LIMITER_ENV)."""
    return requests_per_minute * math.ceil(router_timeout_seconds / MINUTE_SECONDS)


def in_flight(cfg: StackConfig, router_timeout_seconds: int) -> dict[str, int]:
    """{client: requests it can have in flight} (client_in_flight for each client)."""
    return {client.name: client_in_flight(client.requests_per_minute, router_timeout_seconds)
            for client in cfg.traffic.clients}


def in_flight_reason(cfg: StackConfig, name: str, router_timeout_seconds: int) -> str:
    """client_in_flight's arithmetic for one client, from the same names."""
    client = next(client for client in cfg.traffic.clients if client.name == name)
    rpm, windows = client.requests_per_minute, math.ceil(router_timeout_seconds / MINUTE_SECONDS)
    return (f"requestsPerMinute {rpm} × ⌈router attempt {router_timeout_seconds} s / "
            f"{MINUTE_SECONDS}⌉ {windows} = {rpm * windows} (tokensPerMinute "
            f"{client.tokens_per_minute} is counted after each answer, so it does not cap this)")


def problem(cfg: StackConfig, sizing: RouterSizing) -> str | None:
    """The router configured too small for the engines behind it (None when it keeps up)."""
    if sizing.replicas >= sizing.replicas_needed:
        return None
    return (f"traffic.router.replicas {sizing.replicas} (cpu {cfg.traffic.router.cpu!r}) "
            f"cannot keep up with the engines behind it: {sizing.reason}. Set "
            f"traffic.router.replicas to at least {sizing.replicas_needed} (traffic.router.cpu "
            f"above 1 does not help: one worker per pod uses one core), or lower "
            f"autoscaling.maxReplicas")
