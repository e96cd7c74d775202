"""Bounded queues: the per-replica admission limits vLLM enforces from 0.29.0
(facts/vllm_features.py `has_admission_limits`), derived from what the plan already knows, so
overload becomes a quick 503 the router can send elsewhere instead of a timeout for everyone.

Both limits are enforced in the replica's API server, over every data-parallel rank it routes
to (vllm/config/scheduler.py `max_num_queued_reqs`, `max_num_queued_tokens` docstrings), so
they are per replica, not per rank.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from facts import vllm_features
from planning.granularity import STEP, stable_count

QUEUED_BATCHES = 1
"""Requests allowed to wait behind the running ones, in runnable batches: one batch waiting
starts as soon as the running one ends; more only ages in the queue."""


@dataclasses.dataclass(frozen=True)
class Admission:
    """--max-num-queued-reqs and --max-num-queued-tokens of one replica."""

    max_num_queued_reqs: int
    max_num_queued_tokens: int
    reason: str


def queued_requests(runnable: int) -> int:
    """In-flight bound = runnable requests × (1 + queued batches), up to the next R20 step
    (planning/granularity.py stable_count): what the KV cache runs at the expected request
    length, plus one batch waiting. The runnable requests move with every refinement of the KV
    estimate and the bound is a flag of the engine's pod template: on the grid, a small move
    rolls no pod. Examples: 9 × 2 = 18; r1-h100: 95 × 2 = 190 -> 200."""
    return stable_count(runnable * (1 + QUEUED_BATCHES))


def queued_tokens(queue_seconds: int, max_model_len: int, prefill_seconds: int,
                  data_parallel: int) -> int:
    """Prefill backlog bound = how long a request may wait to start × prefill throughput, as
    vLLM advises (`target_TTFT × prefill_throughput`). Throughput is the plan's own figure for
    the longest prompt (maxModelLen in shutdown.prefillSeconds), times the DP ranks behind the
    API server. Example (prod): 60 s × 32768 / 10 s × 1 = 196,608 tokens."""
    return math.ceil(queue_seconds * max_model_len / max(prefill_seconds, 1)) * data_parallel


def admission(version: vllm_features.Version, runnable: int, target_per_replica: int,
              queue_seconds: int, max_model_len: int, prefill_seconds: int,
              data_parallel: int) -> Optional[Admission]:
    """The admission step of the plan; None for versions without the limits."""
    if not vllm_features.has_admission_limits(version):
        return None
    reqs = queued_requests(runnable)
    tokens = queued_tokens(queue_seconds, max_model_len, prefill_seconds, data_parallel)
    ranks = f" × DP {data_parallel}" if data_parallel > 1 else ""
    reason = (f"requests: runnable {runnable} × (1 + {QUEUED_BATCHES} queued batch) = "
              f"{runnable * (1 + QUEUED_BATCHES)}, up to {STEP} = {reqs}, "
              f"above the autoscaler's target {target_per_replica} per replica so it scales "
              f"before the engine refuses; prefill tokens: queue wait {queue_seconds} s × "
              f"maxModelLen {max_model_len} / prefill {prefill_seconds} s{ranks} = {tokens}; "
              "over either bound vLLM answers 503 at once")
    return Admission(reqs, tokens, reason)


def for_stack(cfg, version: vllm_features.Version, layout, figures) -> Optional[Admission]:
    """`admission` from a stack's config (the StackConfig; not imported: planning.config
    imports planning.traffic, which reads this module), its layout and its autoscaling figures
    (planning/capacity.py `autoscaling`: runnable requests, per-replica target)."""
    return admission(version, figures.runnable_requests, figures.target_per_replica,
                     cfg.traffic.router.queue_seconds, cfg.model.max_model_len,
                     cfg.shutdown.prefill_seconds, layout.data_parallel)


def problems(figures: Optional[Admission], target_per_replica: int) -> list[str]:
    """The autoscaler must aim below the bound, or the engine refuses what it should scale for."""
    if figures is None or target_per_replica < figures.max_num_queued_reqs:
        return []
    return [f"the autoscaler's target ({target_per_replica} requests per replica) is not below "
            f"--max-num-queued-reqs ({figures.max_num_queued_reqs}): the engine would refuse "
            "requests before the autoscaler adds a replica; lower "
            "autoscaling.targetUtilization"]


ADMISSION_RETRIES = 1
"""The router's retries of a 503 on the same deployment: the engine's Service may send the
second attempt to another pod; a refusal answers at once, so the retry costs milliseconds and
the timeouts derived from one local attempt still hold."""


def router_allowed_503s_per_minute(requests_per_minute: list[int]) -> int:
    """503s a deployment may answer in a minute before the router cools it down = every request
    the clients may send in a minute (Σ traffic.clients[].requestsPerMinute, at least 1): an
    admission 503 means "full now", never "broken", so it must not send a fallback alias to the
    cloud for the cooldown (LiteLLM 1.108.7 router_utils/cooldown_handlers.py
    `should_cooldown_based_on_allowed_fails_policy`, router.py `get_allowed_fails_from_policy`:
    ServiceUnavailableErrorAllowedFails). Example (prod): 120 + 60 = 180."""
    return max(sum(requests_per_minute), 1)


def with_router_admission(traffic_plan, traffic):
    """The traffic plan (planning/traffic.py TrafficPlan) with the router's allowance of 503s
    and its reason; `traffic` is the TrafficConfig."""
    per_minute = [client.requests_per_minute for client in traffic.clients]
    allowed = router_allowed_503s_per_minute(per_minute)
    reasons = {**traffic_plan.reasons, "router 503s": (
        f"Σ clients' requestsPerMinute {' + '.join(map(str, per_minute)) or 0} = {allowed} a "
        f"minute before a cooldown: an admission 503 is 'full now', retried {ADMISSION_RETRIES}× "
        "on the engine's Service, then the next deployment")}
    return dataclasses.replace(traffic_plan, allowed_503s_per_minute=allowed, reasons=reasons)
