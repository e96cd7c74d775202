"""The KV-cache sizing benchmark runs in-process and its holdout error stays within bound.

Fast (well under a second): pure arithmetic over benchmark/cases.yaml, no GPU, no network.
The bounds live in benchmark/run.py next to the measured values (also in results.md).
"""

import pytest

from benchmark import run as bench


@pytest.fixture(scope="module")
def rows():
    """Every usable case, predicted and scored once for this module."""
    return bench.run()


def test_every_usable_case_is_predicted(rows):
    usable = bench.load_cases()
    assert {row.case.id for row in rows} == {case.id for case in usable}
    for row in rows:
        pred = row.pred
        assert pred.weights_gib > 0, row.case.id
        assert pred.activation_gib > 0, row.case.id
        assert pred.non_torch_gib > 0, row.case.id
        assert pred.kv_tokens > 0 and pred.kv_tokens % pred.block_size == 0, row.case.id
        # every case is scored on at least one of the two KV metrics
        assert row.kv_error_of_total is not None or row.token_error is not None, row.case.id


def test_split_follows_the_rule_fixed_before_predicting():
    cases = bench.load_cases(usable_only=False)
    for batch in {case.batch for case in cases}:
        members = [case for case in cases if case.batch == batch]
        holdout = {case.id for case in members if case.split == "holdout"}
        assert holdout == bench.holdout_ids_by_rule([case.id for case in members]), batch
        assert len(holdout) * 3 >= len(members), "at least a third of the cases are held out"


def test_holdout_token_capacity_error_within_bound(rows):
    summary = bench.summarize(rows)
    overall = summary["holdout"]["token_error"]
    v1 = summary["holdout (V1 only)"]["token_error"]
    assert overall.n >= 6 and v1.n >= 4
    assert overall.mean_abs < bench.HOLDOUT_TOKEN_MAE_BOUND, (
        f"holdout token MAE {overall.mean_abs:.3f} ≥ bound {bench.HOLDOUT_TOKEN_MAE_BOUND}: "
        f"a sizing.py change made KV-cache predictions worse (python -m benchmark.run)")
    assert v1.mean_abs < bench.HOLDOUT_V1_TOKEN_MAE_BOUND, (
        f"V1 holdout token MAE {v1.mean_abs:.3f} ≥ bound {bench.HOLDOUT_V1_TOKEN_MAE_BOUND}")


def test_results_render_with_definitions(rows):
    text = bench.render_results(rows, bench.summarize(rows))
    assert "token err" in text and "KV err / total" in text and "python -m benchmark.run" in text
    for row in rows:
        assert row.case.id in text


def test_exact_case_is_reproduced(rows):
    """Llama-3.1-8B on one H100 in vLLM 0.19: every term of the budget is logged, and the
    sizing chain reproduces vLLM's 476,016 tokens to within 1 %."""
    row = next(r for r in rows if r.case.id == "lldp-llama31-8b-tp1")
    assert row.pred.bytes_per_token == 32 * 2 * 8 * 128 * 2
    assert abs(row.token_error) < 0.01
