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


# --- issue 8's targets, on the holdout (V1-engine cases) -------------------------------------

def _holdout_targets():
    rows = [row for row in bench.run() if row.case.split == "holdout"]
    return bench.target_stats(rows)


def test_holdout_kv_tokens_median_within_5_percent_worst_within_15():
    tokens = _holdout_targets()["token_error"]
    assert tokens["n"] >= 7
    assert tokens["median"] <= 0.05 and tokens["worst"] <= 0.15, tokens


def test_holdout_weights_median_within_3_percent():
    weights = _holdout_targets()["weights_error_relative"]
    assert weights["n"] >= 9
    assert weights["median"] <= 0.03, weights
    # Worst: gpt-oss-20b (MXFP4) on H100 at TP 2, 7.0 % low after vLLM's kernel padding was
    # modelled — a change made after its holdout error was seen (benchmark/README.md).
    assert weights["worst"] <= 0.08, weights


def test_no_startup_budget_below_1_2_times_the_logged_start_and_most_within_1_5_to_4():
    starts = bench.startup_rows()
    assert len(starts) >= 6
    ratios = [start.ratio for start in starts]
    assert min(ratios) >= 1.2, ratios
    assert sum(1.5 <= ratio <= 4 for ratio in ratios) > len(ratios) / 2, ratios


def test_quantized_and_moe_weights_are_within_2_percent_where_the_scheme_is_modelled():
    rows = {row.case.id: row for row in bench.run()}
    for case in ("lldp2-llama31-8b-online-fp8", "lldp2-llama31-8b-w4a16",
                 "lldp2-qwen25-7b-fp8dyn", "lldp2-qwen3-30b-a3b-tp1", "lldp2-mixtral-8x7b-tp2",
                 "lldp-llama33-70b-fp8-tp2", "lldp-llama33-70b-fp8-tp4"):
        assert abs(rows[case].weights_error_relative) <= 0.02, case
