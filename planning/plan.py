"""The deployment plan: every derived figure for a stack, checked for feasibility.

`make_plan(config)` composes small typed steps — layout (planning/layout.py), engine limits,
weights, activations, KV cache (planning/memory.py), host resources (planning/host.py),
start-up, drain, rollout (planning/timing.py), storage and autoscaling target
(planning/capacity.py), scaling windows (planning/scaling.py), the traffic layer's budgets
(planning/traffic.py) — each module holding its steps and the arithmetic they use, each step
returning its figures with the reason; then runs the feasibility checks (planning/checks.py)
and raises `ConfigError` listing every problem, with the arithmetic and what to change. `Plan`
(planning/figures.py) holds the sections. Components take their numbers from the plan;
`tools/plan.py` prints it.
"""

from __future__ import annotations

import facts
from planning import admission, capacity, checks, host, memory, scaling, timing, wake
from planning.traffic import traffic_layer
from planning.config import ConfigError, StackConfig
from planning.figures import Plan
from planning.layout import Layout, choose_layout, launcher, launcher_reason

__all__ = ["Plan", "make_plan"]


def make_plan(cfg: StackConfig) -> Plan:
    """Derive every figure for `cfg`; raise ConfigError with the arithmetic when it cannot work."""
    model, gpu = cfg.model.shape, cfg.gpu.resolved()
    version = facts.parse_version(cfg.vllm_version)

    def fits(candidate: Layout) -> bool:
        gpu_memory = memory.gpu_memory(cfg, model, gpu, version, candidate)
        return gpu_memory.kv.holds(cfg.model.max_model_len)

    layout = choose_layout(cfg, model, gpu, fits)
    on_gpu = memory.gpu_memory(cfg, model, gpu, version, layout)
    chosen = launcher(cfg, version, layout)
    startup = timing.startup(cfg, model, gpu, version, on_gpu.weights, layout, on_gpu.engine)
    drain = timing.drain(cfg, version, layout)
    rollout = timing.rollout(cfg, layout, startup, drain)
    autoscaling = capacity.autoscaling(cfg, layout, on_gpu.engine, on_gpu.kv)
    # A replica the autoscaler adds or wakes may land on a node without the weights staged:
    # its windows and the wake-up use the first start's budget (= the restart budget on nfs/pvc).
    first_start = startup.first_start_budget_seconds
    woken = wake.wake(cfg, first_start, scaling.scale_down_stabilization_seconds(first_start),
                      scaling.KEDA_POLLING_SECONDS)
    plan = Plan(
        model=model, gpu=gpu, version=version, replicas=cfg.replicas, layout=layout,
        launcher=chosen, launcher_reason=launcher_reason(cfg, version, chosen),
        engine=on_gpu.engine, weights=on_gpu.weights, activations=on_gpu.activations,
        kv=on_gpu.kv, host=host.host_resources(cfg, layout), startup=startup, drain=drain,
        rollout=rollout, storage=capacity.storage(cfg, on_gpu.weights), autoscaling=autoscaling,
        scaling=scaling.scaling(cfg.autoscaling, first_start),
        wake=woken,
        admission=admission.for_stack(cfg, version, layout, autoscaling),
        traffic=traffic_layer(cfg, drain, autoscaling.runnable_requests, rollout.max_replicas,
                              woken),
    )
    problems = checks.problems(cfg, plan)
    if problems:
        raise ConfigError(problems)
    return plan
