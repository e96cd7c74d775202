"""Print a stack's deployment plan: what it runs on and why each number is what it is.

    python -m tools.plan prod [staging ...] [--markdown] [--load-paths]

Needs only Python: no Pulumi CLI, no cluster. The same figures are the stack's `plan` output.
Each GPU's memory is drawn as a bar (weights | activations | non-torch | KV cache | left
free); `--markdown` prints the same as a pull-request comment. Exit status 1 (with the
reasons) when the stack's config cannot work.
"""

from __future__ import annotations

import argparse
import sys
from typing import NamedTuple

from planning import path_budgets, router_sizing
from planning import traffic as traffic_plan
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
    left free (total × (1 − utilization), vLLM's margin); with pipeline stages, a GPU of the
    stage whose blocks bind (planning/memory.py stage_budgets)."""
    total, stage = plan.gpu.memory_gib, plan.kv.binding_stage
    weights = (plan.weights.per_stage_gib or (plan.weights.per_gpu_gib,))[stage]
    peak = (plan.activations.stage_peaks_gib or (plan.activations.peak_gib,))[stage]
    used = [weights, peak,
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


class Figure(NamedTuple):
    """One printed row: the figure, its value, its reason, and the plan fields it shows."""

    name: str
    value: str
    reason: str
    fields: tuple[str, ...]
    """Paths into Plan (`startup.budget_seconds`) whose values this row prints; a figure that
    does not apply to this plan (a download under nfs) is left out. tests/planning/
    test_plan_report.py holds the tool to them and finds any field of Plan no row prints."""


def figures(plan: Plan) -> list[Figure]:
    """Every step of the plan as a printed row, with the fields it shows."""
    return (_replica_figures(plan) + _speed_figures(plan) + _life_figures(plan)
            + _elastic_figures(plan) + _revision_figures(plan))


def _revision_figures(plan: Plan) -> list[Figure]:
    """Whether a revision change can run blue-green, and the switch in progress."""
    if plan.revisions is None:
        return []
    switch = plan.revisions
    if switch.previous_slot is not None:
        value = (f"{counted(switch.gpus_needed, 'GPU')} for slot {switch.slot} beside "
                 f"{switch.previous_slot}: {switch.previous_weight} % to {switch.previous_slot}"
                 f", {switch.current_weight} % to {switch.slot}")
    else:
        value = (f"{counted(switch.gpus_needed, 'GPU')} needed for blue-green, "
                 + ("room" if switch.room else "no room: in place")
                 + f" (slot {switch.slot} {switch.current_weight} %, no previous slot "
                   f"{switch.previous_weight} %)")
    return [Figure("revision change", value, switch.reason,
                   ("revisions.slot", "revisions.previous_slot", "revisions.gpus_needed",
                    "revisions.room", "revisions.previous_weight", "revisions.current_weight",
                    "revisions.previous"))]


THROUGHPUT_FIELDS = tuple(f"throughput.{name}" for name in (
    "batch", "context_tokens", "decode_ms", "prefill_tokens_per_second", "per_token_ms",
    "prefill_seconds", "source"))


def _speed_figures(plan: Plan) -> list[Figure]:
    """Decode time per token and prefill throughput at the plan's batch (planning/throughput.py)."""
    speed = plan.throughput
    if speed is None:
        return []
    if speed.decode_ms is None:
        value = f"{speed.per_token_ms:g} ms per token (no GPU throughput facts)"
    else:
        value = (f"{speed.decode_ms:.1f} ms per token at batch {speed.batch}, prefill "
                 f"{speed.prefill_tokens_per_second:.1f} tokens/s per replica")
    return [Figure("throughput", value, speed.reason, THROUGHPUT_FIELDS)]


def _elastic_figures(plan: Plan) -> list[Figure]:
    """Scale to zero's wake-up and the admission bounds, where the stack has them."""
    rows = []
    if plan.wake is not None:
        woken = plan.wake
        rows.append(Figure(
            "wake-up", f"{woken.wake_seconds} s from zero, to zero after "
                       f"{woken.cooldown_seconds} s idle (initial cooldown "
                       f"{woken.initial_cooldown_seconds} s, activation window "
                       f"{woken.activation_window_seconds} s; wakes on "
                       f"{', '.join(woken.fallback_aliases + woken.local_only_aliases)})",
            woken.reason, tuple(f"wake.{name}" for name in (
                "wake_seconds", "cooldown_seconds", "initial_cooldown_seconds",
                "activation_window_seconds", "fallback_aliases", "local_only_aliases"))))
    if plan.admission is not None:
        bounds = plan.admission
        rows.append(Figure(
            "admission", f"--max-num-queued-reqs {bounds.max_num_queued_reqs}, "
                         f"--max-num-queued-tokens {bounds.max_num_queued_tokens}",
            bounds.reason, ("admission.max_num_queued_reqs", "admission.max_num_queued_tokens")))
    return rows


def _replica_figures(plan: Plan) -> list[Figure]:
    """What a replica is: its layout, launch, engine limits, GPU and host memory."""
    out = plan.outputs()
    layout = plan.layout
    return [
        Figure("layout", f"{layout.describe()}, {counted(layout.gpus, 'GPU')} per replica, "
                         f"{counted(out['gpusTotal'], 'GPU')} in all at "
                         f"{counted(plan.rollout.max_replicas, 'replica')}", layout.reason,
               ("layout.tensor_parallel", "layout.pipeline_parallel", "layout.data_parallel",
                "layout.expert_parallel", "layout.nodes", "rollout.max_replicas")),
        Figure("launcher", plan.launcher, plan.launcher_reason, ("launcher",)),
        Figure("engine", f"max-num-seqs {plan.engine.max_num_seqs}", plan.engine.reason,
               ("engine.gpu_memory_utilization", "engine.max_num_seqs",
                "engine.max_num_batched_tokens", "engine.measured_kv")),
        Figure("weights", f"{out['weightsPerGpuGib']} GiB per GPU", plan.weights.reason,
               ("weights.total_gib", "weights.per_gpu_gib", "weights.checkpoint_gib",
                "weights.per_stage_gib")),
        Figure("activations", f"{plan.activations.peak_gib + plan.activations.non_torch_gib:.2f}"
                              " GiB per GPU", plan.activations.reason,
               ("activations.peak_gib", "activations.non_torch_gib",
                "activations.moe_workspace_gib", "activations.stage_peaks_gib")),
        Figure("KV cache", f"{out['kvCacheGibPerGpu']} GiB per GPU, {out['kvCacheTokens']} "
                           "tokens", plan.kv.reason,
               ("kv.budget_gib", "kv.bytes_per_token", "kv.block_size", "kv.tokens_per_rank",
                "kv.max_concurrency", "kv.groups", "kv.longest_request",
                "kv.state_gib_per_request", "kv.request_gib", "kv.stage_budgets_gib",
                "kv.binding_stage")),
        Figure("host", f"memory request {out['memoryRequestGib']} GiB, limit "
                       f"{out['memoryLimitGib']} GiB, /dev/shm {out['shmGib']} GiB, CPU "
                       f"{plan.host.cpu_request:g} request, {plan.host.cpu_limit:g} limit",
               plan.host.reason,
               ("host.shm_gib", "host.memory_request_gib", "host.memory_limit_gib",
                "host.cpu_request", "host.cpu_limit")),
    ]


def _life_figures(plan: Plan) -> list[Figure]:
    """A replica's life and scale: start-up, drain, rollout, storage, autoscaling."""
    out, start = plan.outputs(), plan.startup
    return [
        Figure("start-up", f"{out['startupBudgetSeconds']} s budget, "
                           f"{start.estimated_seconds} s estimated (warm restart "
                           f"{start.warm_restart_seconds} s); first start "
                           f"{start.first_start_budget_seconds} s (per node: "
                           f"{start.stage or 'no stage'} {start.stage_seconds} s)", start.reason,
               ("startup.read_mib_per_second", "startup.load_seconds", "startup.engine_phases",
                "startup.estimated_seconds", "startup.derived_budget_seconds",
                "startup.budget_seconds", "startup.first_start_budget_seconds",
                "startup.read_gib", "startup.stage", "startup.stage_seconds",
                "startup.warm_restart_seconds")),
        Figure("startup probe", f"failureThreshold {start.probe_failure_threshold} every "
                                f"{start.probe_period_seconds} s", start.probe_reason,
               ("startup.probe_period_seconds", "startup.probe_failure_threshold")),
        Figure("grace period", _drain(plan), plan.drain.reason,
               ("drain.longest_request_seconds", "drain.pre_stop_seconds", "drain.vllm_drains",
                "drain.grace_seconds", "drain.group_wide")
               + (("drain.shutdown_timeout_seconds",) if plan.drain.vllm_drains else ())
               + (("drain.worker_pre_stop_seconds",) if plan.drain.worker_pre_stop_seconds
                  else ())),
        Figure("rollout wait", f"{out['rolloutTimeoutSeconds']} s, surge {plan.rollout.surge}, "
                               f"at most {counted(plan.rollout.max_pods, 'pod')}, claim release "
                               f"{plan.rollout.claim_release_seconds} s", plan.rollout.reason,
               ("rollout.surge", "rollout.max_pods", "rollout.timeout_seconds",
                "rollout.claim_release_seconds")),
        Figure("storage", _storage(plan), plan.storage.reason,
               ("storage.capacity_gi",) + (("storage.download_seconds",
                                             "storage.download_timeout_seconds")
                                            if plan.storage.download_seconds else ())),
        Figure("autoscaler", f"{out['autoscalerTargetPerReplica']} requests per replica",
               plan.autoscaling.reason,
               ("autoscaling.runnable_requests", "autoscaling.target_per_replica")),
        Figure("scaling", _windows(plan), plan.scaling.reason,
               ("scaling.scale_up_window_seconds", "scaling.scale_up_period_seconds",
                "scaling.scale_down_window_seconds", "scaling.scale_down_period_seconds",
                "scaling.fallback_replicas", "scaling.polling_seconds",
                "scaling.fallback_failures")),
    ]


def rows(plan: Plan) -> list[tuple[str, str, str]]:
    """(figure, value, reason) for every step of the plan."""
    return [(row.name, row.value, row.reason) for row in figures(plan)]


TRAFFIC_FIELDS = {
    "body limit": ("traffic.max_body_bytes", "traffic.bytes_per_token"),
    "router attempt": ("traffic.router_timeout_seconds", "traffic.longest_request_seconds"),
    "router first byte": ("traffic.stream_idle_seconds",),
    "cloud attempt": ("traffic.cloud_attempt_seconds",),
    "edge request": ("traffic.edge_timeout_seconds",),
    "edge idle": ("traffic.edge_idle_seconds",),
    "router grace": ("traffic.router_grace_seconds", "traffic.pre_stop_seconds"),
    "engine retry-after": ("traffic.engine_retry_after_seconds",),
    "router start-up": ("traffic.router_startup_failures",),
    "limit counters": ("traffic.redis_maxmemory_mib",),
    "router 503s": ("traffic.allowed_503s_per_minute",),
    "router sizing": tuple(f"traffic.router_sizing.{name}" for name in (
        "streams", "tokens_per_second", "requests_per_second", "cpu_needed", "cores_per_pod",
        "replicas_needed", "replicas")),
    "in flight": ("traffic.client_in_flight",),
}
"""The plan.traffic fields each traffic row prints."""


def traffic_figures(cfg: StackConfig, plan: Plan) -> list[Figure]:
    """The traffic layer's rows (none without one): its budgets, the router's start-up and
    where the limit counters live."""
    if plan.traffic is None:
        return []
    return [Figure(name, value, why, TRAFFIC_FIELDS.get(name, ()))
            for name, value, why in (traffic_plan.figures(plan.traffic)
                                     + traffic_plan.redis_rows(cfg.traffic, plan.traffic))
            ] + [Figure("router 503s", f"{plan.traffic.allowed_503s_per_minute} a minute",
                        plan.traffic.reasons.get("router 503s", ""),
                        TRAFFIC_FIELDS["router 503s"])] + _router_figures(cfg, plan.traffic)


def _router_figures(cfg: StackConfig, traffic) -> list[Figure]:
    """The router's sizing at the engines' peak, then the clients' in-flight bounds."""
    sizing = traffic.router_sizing
    rows = [Figure("router sizing",
                   f"{sizing.replicas_needed} replicas for {sizing.cpu_needed:.2f} cores at the "
                   f"engines' peak (configured {sizing.replicas}; {sizing.streams} streams, "
                   f"{sizing.tokens_per_second:.1f} tokens/s, {sizing.requests_per_second:.1f} "
                   f"requests/s, {sizing.cores_per_pod:g} core per pod)",
                   sizing.reason, TRAFFIC_FIELDS["router sizing"])]
    if traffic.client_in_flight:
        rows.append(Figure(
            "in flight", ", ".join(f"{name} {count}" for name, count
                                   in traffic.client_in_flight.items()) + " requests",
            "; ".join(f"{name}: " + router_sizing.in_flight_reason(
                cfg, name, traffic.router_timeout_seconds) for name in traffic.client_in_flight),
            TRAFFIC_FIELDS["in flight"]))
    return rows


def _storage(plan: Plan) -> str:
    storage = plan.storage
    if not storage.download_seconds:        # the weights are already on the volume (nfs)
        return f"{storage.capacity_gi} Gi"
    return (f"{storage.capacity_gi} Gi, download {storage.download_seconds} s, Job timeout "
            f"{storage.download_timeout_seconds} s")


def _drain(plan: Plan) -> str:
    drain = plan.drain
    text = f"{drain.grace_seconds} s"
    if drain.vllm_drains:
        text += f", vLLM --shutdown-timeout {drain.shutdown_timeout_seconds} s"
    if drain.worker_pre_stop_seconds:
        text += f", workers' preStop {drain.worker_pre_stop_seconds} s"
    return text


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
    figures = traffic_figures(cfg, plan)
    inputs = [timing_input(cfg, plan)] + [   # the per-token time is the plan's, not assumed
        row for row in traffic_plan.assumed_inputs(plan.throughput.per_token_ms, True,
                                                   cfg.traffic)
        if row[0] != "shutdown.perTokenMs"]
    if not cfg.traffic.enabled:
        inputs = inputs[:1]     # bytes per token only sizes the edge's and router's body cap
    if as_markdown:
        return ([""] + (["Traffic layer:", ""] if figures else [])
                + [f"- **{name}** {value} — {_cell(why)}" for name, value, why, _ in figures]
                + [f"- input `{key}` {value}: {state}" for key, value, state in inputs])
    return ((["  Traffic layer"] if figures else [])
            + [f"    {name:<17} {value}   — {why}" for name, value, why, _ in figures]
            + [f"  input {key} = {value} ({state})" for key, value, state in inputs])


def load_path_lines(cfg: StackConfig, plan: Plan) -> list[str]:
    """The start-up on every load path beside today's (planning/path_budgets.py): the restart
    budget the startup probe allows and the first start on a node that has not staged the
    weights, which rollouts and the autoscaler wait for."""
    lines = ["  load paths      restart / first start on a new node (planning/path_budgets.py "
             "EXAMPLE_PATHS)"]
    for row in path_budgets.path_budgets(cfg, plan):
        stage = f"; {row.stage} {row.stage_seconds} s per node" if row.stage else ""
        lines.append(f"    {row.path:<16} {row.load_format:<15} restart {row.restart_seconds:>6} s"
                     f", first start {row.first_start_seconds:>6} s{stage}")
    return lines
def timing_input(cfg: StackConfig, plan: Plan) -> tuple[str, str, str]:
    """(key, value, state) of the per-token time the budgets rest on: measured when
    shutdown.perTokenMs is set, else the plan's roofline (or assumed without GPU facts)."""
    speed = plan.throughput
    if cfg.shutdown.per_token_ms is not None:
        state = "measured"
    elif speed.decode_ms is None:
        state = "assumed: measure it and set the key"
    else:
        state = "roofline, planning/throughput.py: measure it and set the key to override"
    return ("shutdown.perTokenMs", f"{speed.per_token_ms:g} ms", state)


def main(argv: list[str] | None = None) -> int:
    """Entry point: print the plan for each named stack."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="+", help="stack names (Pulumi.<stack>.yaml)")
    parser.add_argument("--markdown", action="store_true",
                        help="print Markdown for a pull-request comment")
    parser.add_argument("--load-paths", action="store_true",
                        help="also plan the start-up on every load path (storage.mode)")
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
        for line in load_path_lines(cfg, plan) if args.load_paths else []:
            print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
