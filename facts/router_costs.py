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
    cpu_ms_per_request=14.8,
    cpu_ms_per_token=0.458,
    command="python -m benchmark.router --levers --requests 200 --streamed 40 --seconds 15",
    source="benchmark/results.md 'Router overhead (issue 19)', the `new` row (the router as "
           "rendered, with the rate-limit gauges and per-call service metrics skipped): 14.8 ms "
           "CPU per non-streamed request one at a time, 0.458 ms per relayed token, measured "
           "2026-12-07 21:57 UTC on a 2-CPU VM at load average 0.7-1.6 with the router pinned "
           "to one CPU (the issue's own profile, 11 ms and 0.39 ms at 16 concurrent, was "
           "lower: one-at-a-time requests pay the per-request overhead without batching)",
)
"""The router as rendered today (rendering/router.py), one uvicorn worker per pod."""
