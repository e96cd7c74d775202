"""A program upgrade that refines the memory estimate a little rolls no engine pod: the figures
a pod template carries that are derived from the KV cache (the drain from the roofline's time
per token at the runnable batch, the admission bound from the runnable requests) are rounded
up to a stated grid where they are born (planning/granularity.py), so a KV estimate that moves
by 1 % renders the same templates. A LeaderWorkerSet roll of R1 is a 40-minute restart."""

from __future__ import annotations

import dataclasses

import pytest

from planning import config, memory, throughput
from planning.plan import make_plan
from planning.stack_files import stack_values
from tests.conftest import STACKS
from tests.harness import run_stack
from tests.transitions import second_up

NUDGES = (0.99, 1.01)
"""The KV estimate times these: 1 % fewer or more tokens (and 1 % more or fewer bytes each)."""


def _nudged(monkeypatch, factor: float) -> None:
    """Make the program's KV estimate `factor` × the tokens, each token 1 / `factor` the bytes
    (a refined estimate of the memory left, or of the bytes a token takes)."""
    estimate = memory.kv_cache

    def kv_cache(*args, **kwargs):
        kv = estimate(*args, **kwargs)
        return dataclasses.replace(kv, tokens_per_rank=int(kv.tokens_per_rank * factor),
                                   bytes_per_token=kv.bytes_per_token / factor)

    monkeypatch.setattr(memory, "kv_cache", kv_cache)


def _roofline_seconds(stack: str, plan) -> float:
    """The roofline's time per token for the plan's batch and KV, before any rounding."""
    cfg = config.parse(stack_values(stack))
    return throughput.roofline(cfg, plan.model, plan.gpu, plan.layout, plan,
                               plan.throughput.batch, plan.throughput.context_tokens)[0]


def _pod_templates(run) -> dict[str, object]:
    """Every pod template the run renders, by resource (Deployments, DaemonSets, the
    LeaderWorkerSet's leader and worker, Jobs)."""
    templates = {}
    for resource in run.resources:
        spec = resource.inputs.get("spec") or {}
        if "template" in spec:
            templates[resource.name] = spec["template"]
        if "leaderWorkerTemplate" in spec:
            templates[resource.name] = spec["leaderWorkerTemplate"]
    return templates


@pytest.mark.parametrize("factor", NUDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_a_one_percent_change_of_the_kv_estimate_renders_the_same_pod_templates(
        stack, factor, monkeypatch):
    before_plan = make_plan(config.parse(stack_values(stack)))
    before = run_stack(stack)
    _nudged(monkeypatch, factor)
    after_plan = make_plan(config.parse(stack_values(stack)))
    after = run_stack(stack)
    assert before.error is None and after.error is None
    # The nudge reaches the roofline (the KV read, and the batch where the KV limits it) ...
    assert after_plan.kv.tokens_per_rank != before_plan.kv.tokens_per_rank
    assert _roofline_seconds(stack, after_plan) != _roofline_seconds(stack, before_plan)
    # ... and no pod template moves: the second `pulumi up` rolls nothing.
    assert _pod_templates(after) == _pod_templates(before)
    rolled = [step for step in second_up(before, after).steps
              if step.op != "same" and any(".template" in path or "Template" in path
                                           for path in step.paths)]
    assert rolled == []
