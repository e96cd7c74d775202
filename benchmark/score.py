"""How far the plan is from what vLLM logged: per case, per split, against issue 18's targets.

The bounds below are the regression bounds tests/tooling/test_benchmark.py holds the plan to.
"""

from __future__ import annotations

import dataclasses
import pathlib
import statistics
from typing import Any

from benchmark.cases import CASES_FILE, SPLITS, Case, load_cases
from benchmark.predict import Prediction, predict, startup

GIB = 2**30
METRICS = {
    "kv_error_of_total": "KV-cache GiB error / GPU total memory",
    "token_error": "token capacity relative error",
    "weights_error_gib": "weights per GPU error, GiB",
}
METRICS_RELATIVE = {"weights_error_relative": "weights per GPU relative error"}

HOLDOUT_TOKEN_MAE_BOUND = 0.10
"""Regression bound on the holdout token-capacity mean absolute error (tests/tooling/test_benchmark.py).

Measured 13.3 % with planning/sizing.py as first benchmarked, 8.1 % after the source-derived
changes (README.md) + a small margin. Lower it when the plan improves, so that a later
regression fails the test.
"""
HOLDOUT_V1_TOKEN_MAE_BOUND = 0.05
"""The same for the holdout's V1-engine cases (the versions the project deploys): measured 9.6 %
first, 3.3 % now."""

TARGETS = {"token_error": (0.05, 0.15), "kv_error_of_total": (0.01, 0.03),
           "weights_error_relative": (0.01, 0.03)}
"""Issue 18's (median, worst) bounds on |error| over V1-engine cases: KV tokens 5 % / 15 %, the
KV budget's error as a share of the card 1 % / 3 %, weights per GPU 1 % / 3 % (issue 8 asked
3 % / 8 % of the weights)."""


@dataclasses.dataclass(frozen=True)
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
    if case.weights_only:
        kv_gib = tokens = None          # a budget vLLM refused, or none logged: weights only
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


@dataclasses.dataclass(frozen=True)
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


def target_stats(rows: list[Row]) -> dict[str, dict[str, Any]]:
    """{metric: {n, median, worst, worst_case}} of |error| over the V1-engine rows; a run that
    repeats another case's setup (same_setup_as) is counted once, as that case."""
    out = {}
    for metric in TARGETS:
        values = [(abs(getattr(row, metric)), row.case.id) for row in rows
                  if row.case.engine == "V1" and getattr(row, metric) is not None
                  and not row.case.same_setup_as]
        worst = max(values, default=(None, None))
        out[metric] = {"n": len(values),
                       "median": statistics.median(v for v, _ in values) if values else None,
                       "worst": worst[0], "worst_case": worst[1]}
    return out


@dataclasses.dataclass(frozen=True)
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


def startup_rows(path: pathlib.Path = CASES_FILE) -> list[StartupRow]:
    """The start-up budget the plan (planning/timing.py startup) gives each case with a logged
    start (container start → "Starting vLLM server"), its weight load at the logged rate."""
    rows = []
    for case in load_cases(path):
        total = case.derived.get("startup_total_s")
        load = case.startup.get("loading_weights_s")
        if not total or not load:
            continue
        planned = startup(case, load)
        rows.append(StartupRow(case, float(total), planned.load_seconds, planned.engine_phases,
                               planned.derived_budget_seconds))
    return rows

