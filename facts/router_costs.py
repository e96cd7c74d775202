"""What one request and one streamed token cost the router in CPU, measured for the pinned
LiteLLM (planning/router_sizing.py sizes the router from it). A measurement, not a guess: each
figure names the command that measured it and where its run is written down; re-measure when
LITELLM_VERSION or the router's configuration changes (tests/router/test_router_sizing.py fails
when the version moves without it)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class RouterCost:
    """CPU milliseconds the router process spends, for the LiteLLM version it was measured on."""

    litellm_version: str
    cpu_ms_per_request: float
    """A non-streamed chat completion through the whole path (guard, key, caps, limiter with
    Redis, engine call, metrics)."""
    cpu_ms_per_token: float
    """Each token relayed on a stream, beyond the request's own cost."""
    command: str
    source: str


ROUTER_COST = RouterCost(
    litellm_version="1.108.7",
    cpu_ms_per_request=11.0,
    cpu_ms_per_token=0.39,
    command="python -m benchmark.router --levers",
    source="issue 19's profile of prod's router on a quiet 2-core machine (11 ms per request "
           "at 16 concurrent, 0.37-0.39 ms per relayed token), before its levers; "
           "benchmark/results.md 'Router overhead (issue 19)' measured the rendered router "
           "(`new`) 23 % below that configuration (`today`) per request and 4 % per token in "
           "one run, so these figures bound it from above. That run's absolute figures "
           "(23.5 ms, 0.69 ms) were taken at load average 9-18 on 2 CPUs and are not used",
)
"""The router as rendered today (rendering/router.py), one uvicorn worker per pod."""
