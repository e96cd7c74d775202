"""Scale to zero behind the router: when the engine may be at zero replicas, how long the first
request waits for it (the wake time), how long KEDA keeps an idle engine, and which stacks
cannot do it.

`autoscaling.minReplicas: 0` (KEDA only) lets KEDA take the engine to zero when no request came
for the scale-down delay. The engine's own series vanish with its last pod, so the trigger that
wakes it reads the ROUTER's request counter (rendering/scale_to_zero.py), which counts every
request for an alias, the ones the cloud answered and the ones refused included. KEDA does the
0↔1 step itself and hands 1↔N to the HPA it builds with minReplicas 1 (kedacore/keda
pkg/scaling/executor/scale_scaledobjects.go `RequestScale`, `scaleFromZeroOrIdle`,
`scaleToZeroOrIdle`; apis/keda/v1alpha1/scaledobject_types.go `GetHPAMinReplicas`; modelled
and pinned with KEDA's tests in facts/keda.py).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

ROUTER_SCRAPE_SECONDS = 30
"""How often Prometheus reads the router's /metrics: the router ServiceMonitor's interval
(components/router.py, 30s). With scrape annotations it is Prometheus' own job interval, which
the plan assumes is no longer."""
ACTIVATION_SCRAPES = 2
"""Samples Prometheus' increase() needs inside its window to see a counter move."""


@dataclasses.dataclass(frozen=True)
class Wake:
    """Scale-to-zero figures in seconds (None on the plan when minReplicas is above 0)."""

    wake_seconds: int
    """From the first request to an engine that answers: budget + scrape + KEDA poll."""
    cooldown_seconds: int
    """KEDA's cooldownPeriod: an engine idle this long goes to zero."""
    initial_cooldown_seconds: int
    """KEDA's initialCooldownPeriod: no scale to zero before the first start-up could end."""
    activation_window_seconds: int
    """The window of the router counter's increase() that marks the alias active."""
    fallback_aliases: tuple[str, ...]
    local_only_aliases: tuple[str, ...]
    reason: str


def scale_to_zero(cfg) -> bool:
    """True when the stack lets KEDA take the engine to zero replicas."""
    return cfg.autoscaling.enabled and cfg.autoscaling.min_replicas == 0


def wake_seconds(startup_budget: int, scrape_seconds: int, polling_seconds: int) -> int:
    """The first request's wait = start-up budget + router scrape interval + KEDA's polling
    interval: the counter reaches Prometheus within one scrape, KEDA reads it within one poll,
    then the pod has its start-up budget. Example (budget 600 s): 600 + 30 + 15 = 645 s."""
    return startup_budget + scrape_seconds + polling_seconds


def activation_window_seconds(scrape_seconds: int) -> int:
    """increase() over 2 scrapes: the shortest window holding two samples of the counter."""
    return ACTIVATION_SCRAPES * scrape_seconds


def wake(cfg, startup_budget: int, scale_down_window: int,
         polling_seconds: int) -> Optional[Wake]:
    """The scale-to-zero step of the plan (None unless autoscaling.minReplicas is 0). `cfg`
    is the StackConfig (not imported: planning.config imports planning.traffic, which reads
    this module)."""
    if not scale_to_zero(cfg):
        return None
    total = wake_seconds(startup_budget, ROUTER_SCRAPE_SECONDS, polling_seconds)
    cooldown = max(scale_down_window, startup_budget)
    window = activation_window_seconds(ROUTER_SCRAPE_SECONDS)
    local = [alias for alias in cfg.traffic.aliases if alias.local]
    fallback = tuple(alias.name for alias in local if alias.cloud)
    local_only = tuple(alias.name for alias in local if not alias.cloud)
    reason = (f"start-up budget {startup_budget} + router scrape {ROUTER_SCRAPE_SECONDS} + KEDA "
              f"polling {polling_seconds} = {total} s from the first request to a ready engine "
              "(on a node that has the image; a new node adds its provisioning and the pull); "
              f"to zero after max(scale-down window {scale_down_window}, start-up budget "
              f"{startup_budget}) = {cooldown} s without a request (cooldownPeriod: a woken "
              f"engine always has its start-up budget to become ready), never before {startup_budget} s after creation "
              f"(initialCooldownPeriod = start-up budget); woken by any request to "
              f"{', '.join(a.name for a in local)} within {window} s "
              f"({ACTIVATION_SCRAPES} scrapes × {ROUTER_SCRAPE_SECONDS} s); meanwhile "
              + (f"the cloud answers {', '.join(fallback)}" if fallback else "no alias "
                 "answers from the cloud")
              + (f"; {', '.join(local_only)}: 503 with Retry-After {total} s"
                 if local_only else ""))
    return Wake(total, cooldown, startup_budget, window, fallback, local_only, reason)


def problems(cfg, nodes: int) -> list[str]:
    """Why this stack cannot scale to zero (empty when it can or does not try)."""
    if not scale_to_zero(cfg):
        return []
    key = "autoscaling.minReplicas: 0"
    out = []
    if cfg.autoscaling.engine != "keda":
        out.append(f"{key} needs autoscaling.engine: keda (got {cfg.autoscaling.engine!r}): an "
                   "HPA never goes below one replica (minReplicas 0 needs the HPAScaleToZero "
                   "feature gate, alpha); use keda, or set minReplicas to 1 or more")
    if not (cfg.traffic.enabled and any(alias.local for alias in cfg.traffic.aliases)):
        out.append(f"{key} needs the traffic layer (traffic.enabled with an alias that has "
                   "local: true): the engine's own series vanish with its last pod, so only "
                   "the router's request counter can wake it; enable traffic or set "
                   "minReplicas to 1 or more")
    if nodes > 1:
        out.append(f"{key} is refused for a multi-node group ({nodes} pods per replica, a "
                   "LeaderWorkerSet): waking it starts every pod of the group, whose "
                   "rendezvous the single-pod start-up budget does not cover, so the plan "
                   "cannot give the first request a wake time; keep minReplicas at 1 or more "
                   "(or serve from one node)")
    return out


def with_wake_retry_after(traffic_plan, wake_figures: Optional[Wake]):
    """The traffic plan with Retry-After = the wake time when the engine may be at zero: no
    retry sooner can find it ready. Above 120 s the OpenAI SDK does not retry on its own, which
    is right here: the client learns how long a wake takes instead of retrying blindly."""
    if wake_figures is None:
        return traffic_plan
    reasons = {**traffic_plan.reasons, "engine retry-after": (
        f"autoscaling.minReplicas 0: no engine is ready sooner after the first request, = "
        f"the wake time {wake_figures.wake_seconds} s")}
    return dataclasses.replace(traffic_plan, engine_retry_after_seconds=wake_figures.wake_seconds,
                               reasons=reasons)
