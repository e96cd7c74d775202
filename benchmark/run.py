"""Predict vLLM's KV-cache size for every benchmark case with planning.sizing and score it.

    python -m benchmark.run                 # print the table and summary, rewrite results.md
    python -m benchmark.run --no-write      # print only

Cases and their logged figures are in benchmark/cases.yaml; README.md explains the split and
the findings. The predictions call the sizing functions exactly as the deployment plan does
(planning/plan.py): vLLM defaults that a case did not override come from sizing too.
"""

from __future__ import annotations

import argparse
import inspect
import math
import pathlib
import sys
import dataclasses
import statistics
from dataclasses import dataclass
from typing import Any, Callable

import yaml

import facts
from facts import model_families, vllm_features
from planning import sizing

HERE = pathlib.Path(__file__).resolve().parent
CASES_FILE = HERE / "cases.yaml"
RESULTS_FILE = HERE / "results.md"
GIB = 2**30
SPLITS = ("tuning", "holdout")
METRICS = {
    "kv_error_of_total": "KV-cache GiB error / GPU total memory",
    "token_error": "token capacity relative error",
    "weights_error_gib": "weights per GPU error, GiB",
}
METRICS_RELATIVE = {"weights_error_relative": "weights per GPU relative error"}

HOLDOUT_TOKEN_MAE_BOUND = 0.10
"""Regression bound on the holdout token-capacity mean absolute error (tests/test_benchmark.py).

Measured 13.3 % with planning/sizing.py as first benchmarked, 8.1 % after the source-derived
changes (README.md) + a small margin. Lower it when sizing.py improves, so that a later
regression fails the test.
"""
HOLDOUT_V1_TOKEN_MAE_BOUND = 0.05
"""The same for the holdout's V1-engine cases (the versions the project deploys): measured 9.6 %
first, 3.3 % now."""


class CaseError(ValueError):
    """A case in cases.yaml is missing something the benchmark needs."""


@dataclass(frozen=True)
class Case:
    """One benchmark case with its GPU and model resolved from the shared tables."""

    id: str
    split: str
    engine: str
    version_text: str
    gpu_name: str
    gpu_total_gib: float
    compute_capability: float
    interconnect: str
    batch: int
    model: dict[str, Any]
    flags: dict[str, Any]
    logged: dict[str, Any]
    derived: dict[str, Any]
    startup: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def version(self) -> tuple[int, int, int]:
        """The vLLM version as a tuple, '0.19.0' -> (0, 19, 0)."""
        return facts.parse_version(self.version_text)

    @property
    def tensor_parallel(self) -> int:
        """--tensor-parallel-size of the run."""
        return int(self.flags.get("tensor_parallel") or 1)

    @property
    def pipeline_parallel(self) -> int:
        """--pipeline-parallel-size of the run."""
        return int(self.flags.get("pipeline_parallel") or 1)


@dataclass(frozen=True)
class Prediction:
    """What planning.sizing says vLLM logs for a case (per GPU)."""

    utilization: float
    max_num_batched_tokens: int
    max_num_seqs: int
    weights_gib: float
    activation_gib: float
    non_torch_gib: float
    kv_gib: float
    bytes_per_token: float
    block_size: int
    kv_tokens: int


@dataclass(frozen=True)
class Row:
    """A case, its prediction, the observed figures and the three errors (None = not logged)."""

    case: Case
    pred: Prediction
    kv_gib: float | None
    kv_gib_derived: bool
    kv_tokens: int | None
    weights_gib: float | None
    activation_gib: float | None
    non_torch_gib: float | None

    @property
    def kv_error_of_total(self) -> float | None:
        """(predicted KV GiB − logged KV GiB) / GPU total GiB."""
        if self.kv_gib is None:
            return None
        return (self.pred.kv_gib - self.kv_gib) / self.case.gpu_total_gib

    @property
    def token_error(self) -> float | None:
        """(predicted tokens − logged tokens) / logged tokens."""
        if not self.kv_tokens:
            return None
        return (self.pred.kv_tokens - self.kv_tokens) / self.kv_tokens

    @property
    def weights_error_relative(self) -> float | None:
        """(predicted − logged weights per GPU) / logged."""
        if self.weights_gib is None:
            return None
        return (self.pred.weights_gib - self.weights_gib) / self.weights_gib

    @property
    def weights_error_gib(self) -> float | None:
        """Predicted − logged weights per GPU, GiB."""
        if self.weights_gib is None:
            return None
        return self.pred.weights_gib - self.weights_gib

    def metric(self, name: str) -> float | None:
        """One of METRICS by name."""
        return getattr(self, name)


# --- Loading ------------------------------------------------------------------------------

def _lookup(table: dict[str, Any], ref: str, what: str, case_id: str) -> dict[str, Any]:
    if ref not in table:
        raise CaseError(f"case {case_id}: unknown {what} {ref!r}; add it under `{what}s:` in "
                        f"cases.yaml")
    return table[ref]


def load_cases(path: pathlib.Path = CASES_FILE, usable_only: bool = True) -> list[Case]:
    """Read cases.yaml and resolve each case's `gpu.ref` and `model.ref`."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    cases = []
    for raw in data["cases"]:
        if usable_only and not raw.get("usable", True):
            continue
        case_id = raw["id"]
        if raw.get("split") not in SPLITS:
            raise CaseError(f"case {case_id}: split must be one of {SPLITS}")
        gpu = _lookup(data["gpus"], raw["gpu"]["ref"], "gpu", case_id)
        model = dict(_lookup(data["models"], raw["model"]["ref"], "model", case_id))
        model.update({k: v for k, v in raw["model"].items() if k != "ref"})
        cases.append(Case(
            id=case_id,
            split=raw["split"],
            engine=raw.get("engine", "V1"),
            version_text=str(raw["vllm_version"]),
            gpu_name=gpu["name"],
            gpu_total_gib=float(raw["gpu"].get("total_gib") or gpu["memory_gib"]),
            compute_capability=float(gpu["compute_capability"]),
            interconnect=gpu.get("interconnect", "pcie"),
            batch=int(raw.get("batch", 1)),
            model=model,
            flags=raw.get("flags") or {},
            logged=raw.get("logged") or {},
            derived=raw.get("derived") or {},
            startup=raw.get("startup") or {},
        ))
    return cases


def holdout_ids_by_rule(case_ids: list[str]) -> set[str]:
    """The split rule fixed before any prediction: every third id in sorted order (0, 3, 6 …).

    Applied within one batch of cases (cases.yaml `batch`, default 1), so adding a batch of
    cases never moves an existing case between the splits.
    """
    return {case_id for index, case_id in enumerate(sorted(case_ids)) if index % 3 == 0}


# --- Prediction ---------------------------------------------------------------------------

def _call(fn: Callable[..., Any], **candidates: Any) -> Any:
    """Call a sizing function, binding its parameters by name from `candidates`.

    Binding by name keeps the benchmark working when sizing.py gains optional, version-aware
    parameters (the candidates offer version, enforce_eager, max_model_len …): whatever the
    function declares is passed, the rest is ignored.
    """
    kwargs = {}
    for name, param in inspect.signature(fn).parameters.items():
        if name in candidates:
            kwargs[name] = candidates[name]
        elif param.default is inspect.Parameter.empty:
            raise TypeError(f"benchmark/run.py has no value for sizing.{fn.__name__}({name}=…); "
                            f"add it to the candidates passed there")
    return fn(**kwargs)


def predict(case: Case) -> Prediction:
    """Run the sizing chain of planning/plan.py for one case (per GPU of the first rank)."""
    model, flags = case.model, case.flags
    tp, pp = case.tensor_parallel, case.pipeline_parallel
    dp = int(flags.get("data_parallel") or 1)
    context = {  # everything a sizing function might ask for, by its parameter name
        "version": case.version,
        "enforce_eager": bool(flags.get("enforce_eager")),
        "max_model_len": flags.get("max_model_len") or model.get("max_context"),
        "compute_capability": case.compute_capability,
        "memory_gib": case.gpu_total_gib,
        "tensor_parallel": tp,
        "pipeline_parallel": pp,
        "data_parallel": dp,
        "expert_parallel": bool(flags.get("expert_parallel")),
        "gpus_per_rank_group": tp * pp,
        "interconnect": case.interconnect,
        "attention": model["attention"],
        "layers": model["layers"],
        "hidden_size": model["hidden_size"],
        "intermediate_size": model["intermediate_size"],
        "vocab_size": model["vocab_size"],
        "kv_cache_dtype": flags.get("kv_cache_dtype") or "auto",
    }
    utilization = flags.get("gpu_memory_utilization") or _call(
        vllm_features.default_gpu_memory_utilization, **context)
    default_tokens, default_seqs = _call(sizing.default_scheduler_limits, **context)
    context["max_num_batched_tokens"] = flags.get("max_num_batched_tokens") or default_tokens
    context["max_num_seqs"] = flags.get("max_num_seqs") or default_seqs

    groups = model.get("parameters") or sizing.default_parameter_groups(
        model["params_b"], model["vocab_size"], model["hidden_size"],
        bool(model.get("tie_word_embeddings")))
    stored_as = sizing.scheme(model["weights_dtype"], flags.get("quantization"))
    padding = 1.0
    if model_families.pads_mxfp4_experts(model["weights_dtype"]):  # as memory.expert_padding
        per_gpu = sizing.expert_intermediate_per_gpu(model["intermediate_size"], tp, dp,
                                                     bool(flags.get("expert_parallel")))
        padding = sizing.mxfp4_expert_padding(model["hidden_size"], per_gpu,
                                              case.compute_capability)
    weights = _call(sizing.weight_gib_per_gpu, groups=groups, weights_scheme=stored_as,
                    tie_word_embeddings=bool(model.get("tie_word_embeddings")),
                    expert_padding=padding, **context)
    activation = _call(sizing.activation_peak_gib, **context)
    non_torch = _call(sizing.non_torch_gib, **context)
    budget = _call(sizing.kv_budget_gib, utilization=utilization, weights_per_gpu_gib=weights,
                   activation_gib=activation, non_torch=non_torch, **context)
    dtype_bytes = _call(sizing.kv_dtype_bytes, **context)
    per_token = _call(sizing.kv_bytes_per_token_per_gpu, dtype_bytes=dtype_bytes, **context)
    block = flags.get("block_size") or _call(sizing.kv_block_size, **context)
    tokens = _call(sizing.kv_cache_tokens, budget_gib=budget, bytes_per_token=per_token,
                   block_size=block, **context)
    return Prediction(
        utilization=utilization,
        max_num_batched_tokens=context["max_num_batched_tokens"],
        max_num_seqs=context["max_num_seqs"],
        weights_gib=weights, activation_gib=activation, non_torch_gib=non_torch,
        kv_gib=budget, bytes_per_token=per_token, block_size=block, kv_tokens=tokens,
    )


# --- Observed figures ---------------------------------------------------------------------

def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def evaluate(case: Case) -> Row:
    """Predict a case and pair it with its logged (or derived-from-logged) figures.

    V0 logs that only give "# GPU blocks: N" yield tokens = N × block size and KV GiB =
    tokens × the model's cache bytes per token (vLLM allocates whole blocks, so this is the
    budget to within one block); such KV figures are marked derived.
    """
    pred = predict(case)
    logged, derived = case.logged, case.derived
    tokens = logged.get("kv_tokens")
    if tokens is None and logged.get("gpu_blocks"):
        tokens = logged["gpu_blocks"] * logged.get("block_size", 16)
    kv_gib = _first(logged.get("available_kv_gib"), derived.get("available_kv_gib"))
    kv_derived = logged.get("available_kv_gib") is None
    if kv_gib is None and logged.get("gpu_blocks"):
        kv_gib = tokens * pred.bytes_per_token / GIB
    return Row(
        case=case, pred=pred, kv_gib=kv_gib, kv_gib_derived=kv_gib is not None and kv_derived,
        kv_tokens=tokens,
        weights_gib=logged.get("weights_gib"),
        activation_gib=_first(logged.get("activation_gib"), derived.get("activation_gib")),
        non_torch_gib=logged.get("non_torch_gib"),
    )


def run(path: pathlib.Path = CASES_FILE) -> list[Row]:
    """Evaluate every usable case in `path`."""
    return [evaluate(case) for case in load_cases(path)]


# --- Summary ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stat:
    """Mean absolute, max absolute and mean signed error of one metric over some cases."""

    n: int
    mean_abs: float | None
    max_abs: float | None
    max_case: str | None
    mean_signed: float | None


def stat(rows: list[Row], metric: str) -> Stat:
    """Aggregate `metric` over the rows that have it."""
    values = [(row.metric(metric), row.case.id) for row in rows if row.metric(metric) is not None]
    if not values:
        return Stat(0, None, None, None, None)
    worst = max(values, key=lambda item: abs(item[0]))
    return Stat(
        n=len(values),
        mean_abs=sum(abs(value) for value, _ in values) / len(values),
        max_abs=abs(worst[0]),
        max_case=worst[1],
        mean_signed=sum(value for value, _ in values) / len(values),
    )


def summarize(rows: list[Row]) -> dict[str, dict[str, Stat]]:
    """{group: {metric: Stat}} for each split, and each split restricted to V1-engine cases."""
    groups: dict[str, list[Row]] = {}
    for split in SPLITS:
        groups[split] = [row for row in rows if row.case.split == split]
        groups[f"{split} (V1 only)"] = [row for row in groups[split] if row.case.engine == "V1"]
    return {name: {metric: stat(members, metric) for metric in METRICS}
            for name, members in groups.items()}


# --- Targets (issue 8) and start-up budgets --------------------------------------------------

TARGETS = {"token_error": (0.05, 0.15), "weights_error_relative": (0.03, 0.08)}
"""(median, worst) bounds on |error| over V1-engine cases: KV tokens 5 % / 15 %, weights per
GPU 3 % / 8 %."""


def target_stats(rows: list[Row]) -> dict[str, dict[str, Any]]:
    """{metric: {n, median, worst, worst_case}} of |error| over the V1-engine rows."""
    out = {}
    for metric in TARGETS:
        values = [(abs(getattr(row, metric)), row.case.id) for row in rows
                  if row.case.engine == "V1" and getattr(row, metric) is not None]
        worst = max(values, default=(None, None))
        out[metric] = {"n": len(values),
                       "median": statistics.median(v for v, _ in values) if values else None,
                       "worst": worst[0], "worst_case": worst[1]}
    return out


@dataclass(frozen=True)
class StartupRow:
    """A logged start next to the budget the plan would give it."""

    case: Case
    logged_seconds: float
    load_seconds: int
    engine_phases: dict[str, int]
    budget_seconds: int

    @property
    def ratio(self) -> float:
        """Budget / logged start: ≥ 1.2 needed, 1.5–4 aimed for."""
        return self.budget_seconds / self.logged_seconds


SAFETY_FACTOR = 1.5
"""probes.safetyFactor's default."""


def startup_rows(path: pathlib.Path = CASES_FILE) -> list[StartupRow]:
    """Budget the plan gives each case with a logged start (container start → "Starting
    vLLM server"). The read rate is what an operator measures and configures: the logged
    "Loading weights took" over the checkpoint's size; everything after the load is derived
    (sizing.engine_start_seconds) from the model, the version and the compile cache state."""
    rows = []
    for case in load_cases(path):
        total = case.derived.get("startup_total_s")
        load = case.startup.get("loading_weights_s")
        if not total or not load:
            continue
        pred = predict(case)
        flags = case.flags
        seqs = flags.get("max_num_seqs") or pred.max_num_seqs
        sizes = sizing.cuda_graph_sizes(seqs, pred.max_num_batched_tokens, case.version)
        warm = str(case.startup.get("torch_compile_cache", "")).startswith("warm")
        deep_gemm = vllm_features.warms_up_deep_gemm(
            case.version, case.compute_capability,
            bool(case.model.get("block_quantized")))
        phases = sizing.engine_start_seconds(case.model["layers"], sizes, warm,
                                             bool(flags.get("enforce_eager")), deep_gemm)
        load_seconds = math.ceil(load)
        budget = sizing.startup_budget_seconds(load_seconds, sum(phases.values()),
                                               SAFETY_FACTOR)
        rows.append(StartupRow(case, float(total), load_seconds, phases, budget))
    return rows


def render_targets(rows: list[Row], starts: list[StartupRow]) -> str:
    """The issue's targets, per split, and the start-up budgets."""
    lines = ["| split | metric | n | median abs | worst abs (case) | target (median / worst) |",
             "|---|---|---|---|---|---|"]
    for split in SPLITS:
        stats = target_stats([row for row in rows if row.case.split == split])
        for metric, (median_bound, worst_bound) in TARGETS.items():
            value, label = stats[metric], {**METRICS, **METRICS_RELATIVE}[metric]
            lines.append(
                f"| {split} (V1) | {label} | {value['n']} | "
                f"{_abs_pct(value['median'])} | {_abs_pct(value['worst'])} "
                f"({value['worst_case'] or '–'}) | ≤ {median_bound:.0%} / ≤ {worst_bound:.0%} |")
    lines += ["", "| case | split | logged start s | load s | engine phases s | budget s | "
              "budget / logged |", "|---|---|---|---|---|---|---|"]
    for start in sorted(starts, key=lambda r: (r.case.split, r.case.id)):
        phases = " + ".join(f"{k} {v}" for k, v in start.engine_phases.items())
        lines.append(f"| {start.case.id} | {start.case.split} | {start.logged_seconds:g} | "
                     f"{start.load_seconds} | {phases} | {start.budget_seconds} | "
                     f"{start.ratio:.2f}× |")
    return "\n".join(lines)


def _abs_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


# --- Rendering ----------------------------------------------------------------------------

def _num(value: float | None, digits: int = 2, derived: bool = False) -> str:
    if value is None:
        return "–"
    return ("≈" if derived else "") + f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f}%"


def _pair(pred: float, observed: float | None, digits: int = 2, derived: bool = False) -> str:
    return f"{pred:.{digits}f} / {_num(observed, digits, derived)}"


def render_table(rows: list[Row]) -> str:
    """Markdown table, one row per case: predicted / logged and the three errors."""
    head = ("| case | split | vLLM | GPU (GiB) | TP×PP | weights GiB | activation GiB | "
            "non-torch GiB | KV GiB | KV err / total | tokens | token err | weights err GiB |")
    lines = [head, "|" + "---|" * 13]
    for row in sorted(rows, key=lambda r: (r.case.split, r.case.id)):
        case, pred = row.case, row.pred
        tokens = f"{pred.kv_tokens:,} / " + (f"{row.kv_tokens:,}" if row.kv_tokens else "–")
        lines.append(
            f"| {case.id} | {case.split} | {case.version_text} {case.engine} | "
            f"{case.gpu_name} ({case.gpu_total_gib:g}) | {case.tensor_parallel}×"
            f"{case.pipeline_parallel} | {_pair(pred.weights_gib, row.weights_gib)} | "
            f"{_pair(pred.activation_gib, row.activation_gib)} | "
            f"{_pair(pred.non_torch_gib, row.non_torch_gib)} | "
            f"{_pair(pred.kv_gib, row.kv_gib, derived=row.kv_gib_derived)} | "
            f"{_pct(row.kv_error_of_total)} | {tokens} | {_pct(row.token_error)} | "
            f"{_num(row.weights_error_gib, 2)} |")
    return "\n".join(lines)


def render_summary(summary: dict[str, dict[str, Stat]]) -> str:
    """Markdown table: per group and metric, n, mean |error|, max |error| (case), mean error."""
    lines = ["| group | metric | n | mean abs | max abs (case) | mean signed |",
             "|---|---|---|---|---|---|"]
    for group, stats in summary.items():
        for metric, value in stats.items():
            fmt = (lambda v: _num(v, 2)) if metric == "weights_error_gib" else _pct
            absfmt = ((lambda v: _num(v, 2)) if metric == "weights_error_gib"
                      else (lambda v: "–" if v is None else f"{v * 100:.1f}%"))
            lines.append(f"| {group} | {METRICS[metric]} | {value.n} | {absfmt(value.mean_abs)} | "
                         f"{absfmt(value.max_abs)} ({value.max_case or '–'}) | "
                         f"{fmt(value.mean_signed)} |")
    return "\n".join(lines)


DEFINITIONS = """\
- **KV err / total** = (predicted KV-cache GiB − logged "Available KV cache memory" GiB) / the
  GPU's total memory GiB. The predicted figure is `sizing.kv_budget_gib` (per GPU). It puts
  every error on the scale `--gpu-memory-utilization` works on: +1 % means the prediction
  hands the cache 1 % of the card that vLLM did not.
- **token err** = (predicted tokens − logged "GPU KV cache size: N tokens") / logged tokens,
  where the prediction is `sizing.kv_cache_tokens`. V0 logs give "# GPU blocks: N": tokens =
  N × 16.
- **weights err GiB** = `sizing.weight_gib_per_gpu` − logged "Model loading took X GiB"
  (rank 0), in GiB.
- Figures marked ≈ are derived from other logged figures (blocks × block bytes, or the
  binding pipeline stage), see `derived` in cases.yaml.
- Splits: `holdout` = every third case id in sorted order (fixed before any prediction ran);
  "V1 only" drops the pre-0.8 V0-engine logs, which the project does not deploy
  (vllmVersion ≥ 0.8.0), but keeps them in the headline rows.
"""


def render_results(rows: list[Row], summary: dict[str, dict[str, Stat]]) -> str:
    """The whole results.md."""
    holdout = summary["holdout"]["token_error"]
    return "\n".join([
        "# KV-cache sizing benchmark: results",
        "",
        "Generated by `python -m benchmark.run` (from the repository root) from "
        "benchmark/cases.yaml; do not edit by hand. Predictions use planning/sizing.py as it "
        "stands; README.md explains the cases, the split and what the errors come from.",
        "",
        "## Summary",
        "",
        render_summary(summary),
        "",
        f"Regression bound (tests/test_benchmark.py): holdout token-capacity mean absolute "
        f"error < {HOLDOUT_TOKEN_MAE_BOUND:.0%}; measured "
        f"{holdout.mean_abs * 100:.1f}% over {holdout.n} holdout cases; V1-only holdout < "
        f"{HOLDOUT_V1_TOKEN_MAE_BOUND:.0%}, measured "
        f"{summary['holdout (V1 only)']['token_error'].mean_abs * 100:.1f}%.",
        "",
        "## Targets (issue 8) and start-up budgets",
        "",
        "Median and worst |error| over V1-engine cases; start-up budgets are (weight load at the "
        "measured read rate + the derived engine phases) × 1.5 against the logged container "
        "start → \"Starting vLLM server\".",
        "",
        render_targets(rows, startup_rows()),
        "",
        "## Metrics",
        "",
        DEFINITIONS,
        "## Cases (predicted / logged)",
        "",
        render_table(rows),
        "",
        "## How to run",
        "",
        "```",
        ". /work/venv/bin/activate   # or any env with PyYAML and pydantic",
        "python -m benchmark.run            # table + summary, rewrites benchmark/results.md",
        "python -m benchmark.run --no-write",
        "python -m pytest tests/test_benchmark.py",
        "```",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    """CLI: print the per-case table and the summary; write results.md unless --no-write."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=pathlib.Path, default=CASES_FILE)
    parser.add_argument("--results", type=pathlib.Path, default=RESULTS_FILE)
    parser.add_argument("--no-write", action="store_true", help="do not rewrite results.md")
    args = parser.parse_args(argv)
    rows = run(args.cases)
    summary = summarize(rows)
    print(render_table(rows))
    print()
    print(render_summary(summary))
    if not args.no_write:
        args.results.write_text(render_results(rows, summary), encoding="utf-8")
        print(f"\nwrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
