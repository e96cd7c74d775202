"""Print a stack's deployment plan: what it runs on and why each number is what it is.

    python -m tools.plan prod [staging ...] [--markdown]

Needs only Python: no Pulumi CLI, no cluster. The same figures are the stack's `plan` output.
Each GPU's memory is drawn as a bar (weights | activations | non-torch | KV cache | left
free); `--markdown` prints the same as a pull-request comment. Exit status 1 (with the
reasons) when the stack's config cannot work.
"""

from __future__ import annotations

import argparse
import sys

from planning import traffic as traffic_plan
from planning import admission, wake
from planning.config import ConfigError, StackConfig, parse
from planning.plan import Plan, make_plan
from planning.stack_files import stack_values
from planning.wording import counted

BAR_WIDTH = 60
"""Characters for one GPU's whole memory."""
SEGMENTS = (("W", "weights"), ("A", "activations"), ("N", "non-torch"), ("K", "KV cache"),
            (".", "left free"))
"""Bar characters and what they stand for, in vLLM's accounting order."""


def memory_segments(plan: Plan) -> list[tuple[str, float]]:
    """One GPU's memory in GiB: weights, activation peak, non-torch, KV cache, and what is
    left free (total × (1 − utilization), vLLM's margin)."""
    total = plan.gpu.memory_gib
    used = [plan.weights.per_gpu_gib, plan.activations.peak_gib,
            plan.activations.non_torch_gib, max(plan.kv.budget_gib, 0.0)]
    return list(zip((label for _, label in SEGMENTS),
                    used + [max(total - sum(used), 0.0)]))


def memory_bar(plan: Plan, width: int = BAR_WIDTH) -> str:
    """The GPU's memory as `width` characters, each segment at least one character when it
    is not empty, so a small activation peak stays visible."""
    segments = memory_segments(plan)
    total = sum(gib for _, gib in segments) or 1.0
    cells = [max(1, round(gib / total * width)) if gib > 0 else 0 for _, gib in segments]
    while sum(cells) > width:       # rounding up small segments may overflow: take from the largest
        cells[cells.index(max(cells))] -= 1
    cells[-1] += width - sum(cells)
    return "".join(char * count for (char, _), count in zip(SEGMENTS, cells))


def memory_legend(plan: Plan) -> str:
    """'W weights 30.5 GiB | A activations 0.51 GiB | ...'."""
    return " | ".join(f"{char} {label} {gib:.2f} GiB"
                      for (char, label), (_, gib) in zip(SEGMENTS, memory_segments(plan)))


def rows(plan: Plan) -> list[tuple[str, str, str]]:
    """(figure, value, reason) for every step of the plan."""
    out = plan.outputs()
    layout = plan.layout
    return [
        ("layout", f"{layout.describe()}, {counted(layout.gpus, 'GPU')} per replica, "
                   f"{counted(out['gpusTotal'], 'GPU')} in all at "
                   f"{counted(plan.rollout.max_replicas, 'replica')}", layout.reason),
        ("launcher", plan.launcher, plan.launcher_reason),
        ("engine", f"max-num-seqs {plan.engine.max_num_seqs}", plan.engine.reason),
        ("weights", f"{out['weightsPerGpuGib']} GiB per GPU", plan.weights.reason),
        ("activations", f"{plan.activations.peak_gib + plan.activations.non_torch_gib:.2f} GiB "
                        "per GPU", plan.activations.reason),
        ("KV cache", f"{out['kvCacheGibPerGpu']} GiB per GPU, {out['kvCacheTokens']} tokens",
         plan.kv.reason),
        ("host", f"memory request {out['memoryRequestGib']} GiB, limit "
                 f"{out['memoryLimitGib']} GiB, /dev/shm {out['shmGib']} GiB", plan.host.reason),
        ("start-up", f"{out['startupBudgetSeconds']} s budget, "
                     f"{plan.startup.estimated_seconds} s estimated", plan.startup.reason),
        ("startup probe", f"failureThreshold {plan.startup.probe_failure_threshold} every "
                          f"{plan.startup.probe_period_seconds} s", plan.startup.probe_reason),
        ("grace period", f"{out['terminationGraceSeconds']} s", plan.drain.reason),
        ("rollout wait", f"{out['rolloutTimeoutSeconds']} s", plan.rollout.reason),
        ("storage", f"{plan.storage.capacity_gi} Gi", plan.storage.reason),
        ("autoscaler", f"{out['autoscalerTargetPerReplica']} requests per replica",
         plan.autoscaling.reason),
        ("scaling", _windows(plan), plan.scaling.reason),
        *wake.rows(plan.wake),
        *admission.rows(plan.admission),
    ]


def _windows(plan: Plan) -> str:
    windows = plan.scaling
    return (f"up after {windows.scale_up_window_seconds} s, one per "
            f"{windows.scale_up_period_seconds} s; down after {windows.scale_down_window_seconds} "
            f"s, one per {windows.scale_down_period_seconds} s; fallback "
            f"{windows.fallback_replicas}")


def report(stack: str, plan: Plan) -> str:
    """The plan as text: the GPU memory bar, then one figure a line with its reason."""
    lines = [f"Stack {stack}: {plan.model.hf_id} on {plan.gpu.name}",
             f"  GPU memory ({plan.gpu.memory_gib:g} GiB each) [{memory_bar(plan)}]",
             f"    {memory_legend(plan)}"]
    lines += [f"  {name:<15} {value}   — {reason}"
              for name, value, reason in rows(plan)]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(stack: str, plan: Plan) -> str:
    """The plan as a pull-request comment: the bar in a code block, then a table."""
    lines = [f"### Stack `{stack}`: {plan.model.hf_id} on {plan.gpu.name}", "",
             f"GPU memory, {plan.gpu.memory_gib:g} GiB per GPU:", "", "```",
             f"[{memory_bar(plan)}]", memory_legend(plan), "```", "",
             "| figure | value | why |", "|---|---|---|"]
    lines += [f"| {name} | {_cell(value)} | {_cell(reason)} |" for name, value, reason in
              rows(plan)]
    return "\n".join(lines) + "\n"


def traffic_lines(cfg: StackConfig, plan: Plan, as_markdown: bool = False) -> list[str]:
    """The traffic layer's figures with their reasons (when the stack has one), then the
    inputs the budgets rest on, each marked assumed or measured."""
    derived = traffic_plan.for_stack(cfg, plan) if cfg.traffic.enabled else None
    figures = (traffic_plan.figures(derived) + traffic_plan.redis_rows(cfg.traffic, derived)
               + admission.router_rows(derived) if derived else [])
    inputs = traffic_plan.assumed_inputs(cfg.shutdown.per_token_ms,
                                         "per_token_ms" in cfg.shutdown.model_fields_set,
                                         cfg.traffic)
    if not cfg.traffic.enabled:
        inputs = inputs[:1]     # bytes per token only sizes the edge's and router's body cap
    if as_markdown:
        return ([""] + (["Traffic layer:", ""] if figures else [])
                + [f"- **{name}** {value} — {_cell(why)}" for name, value, why in figures]
                + [f"- input `{key}` {value}: {state}" for key, value, state in inputs])
    return ((["  Traffic layer"] if figures else [])
            + [f"    {name:<17} {value}   — {why}" for name, value, why in figures]
            + [f"  input {key} = {value} ({state})" for key, value, state in inputs])


def main(argv: list[str] | None = None) -> int:
    """Entry point: print the plan for each named stack."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="+", help="stack names (Pulumi.<stack>.yaml)")
    parser.add_argument("--markdown", action="store_true",
                        help="print Markdown for a pull-request comment")
    args = parser.parse_args(argv)
    status = 0
    for stack in args.stacks:
        try:
            cfg = parse(stack_values(stack))
            plan = make_plan(cfg)
        except ConfigError as error:
            print(f"Stack {stack}: {error}", file=sys.stderr)
            status = 1
            continue
        print(markdown(stack, plan) if args.markdown else report(stack, plan))
        for line in traffic_lines(cfg, plan, args.markdown):
            print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
