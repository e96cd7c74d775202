"""The deployment plan: every derived figure for a stack, checked for feasibility.

`make_plan(config)` composes small typed steps — layout, engine limits, weights, activations,
KV cache (planning/memory.py), host resources, start-up, drain, rollout (planning/timing.py),
storage and autoscaling (planning/capacity.py) — each returning its figures with the reason,
then runs the feasibility checks (planning/checks.py) and raises `ConfigError` listing every
problem, with the arithmetic and what to change. `Plan` (planning/figures.py) holds the
sections. Components take their numbers from the plan;
`tools/plan.py` prints it.
"""

from __future__ import annotations

import facts
from planning import admission, capacity, checks, memory, scaling, timing, wake
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
    plan = Plan(
        model=model, gpu=gpu, version=version, replicas=cfg.replicas, layout=layout,
        launcher=chosen, launcher_reason=launcher_reason(cfg, version, chosen),
        engine=on_gpu.engine, weights=on_gpu.weights, activations=on_gpu.activations,
        kv=on_gpu.kv, host=memory.host_resources(cfg, layout), startup=startup, drain=drain,
        rollout=timing.rollout(cfg, layout, startup, drain),
        storage=capacity.storage(cfg, on_gpu.weights),
        autoscaling=capacity.autoscaling(cfg, layout, on_gpu.engine, on_gpu.kv),
        scaling=scaling.scaling(cfg.autoscaling, startup.budget_seconds),
        wake=wake.wake(cfg, startup.budget_seconds, scaling.scale_down_stabilization_seconds(
            startup.budget_seconds), scaling.KEDA_POLLING_SECONDS),
        admission=admission.for_stack(cfg, version, layout, capacity.autoscaling(
            cfg, layout, on_gpu.engine, on_gpu.kv)),
    )
    problems = checks.problems(cfg, plan) + wake.problems(cfg, layout.nodes) + \
        admission.problems(plan.admission, plan.autoscaling.target_per_replica)
    if problems:
        raise ConfigError(problems)
    return plan
