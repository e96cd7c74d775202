"""Figures rendered into pod templates are rounded up to the R20 preferred numbers, so a small
change of an estimate does not re-render them, and they never fall below the estimate."""

from __future__ import annotations

import pytest

from planning import granularity


@pytest.mark.parametrize("value, step", [
    (42.5, 45.0), (45.0, 45.0), (45.000001, 50.0), (52.4, 56.0), (87.5, 90.0), (190, 200.0),
    (18, 18.0), (1, 1.0), (9.01, 10.0), (10, 10.0), (112, 112.0), (112.0001, 125.0),
    (0.07, 0.071), (6.48, 7.1), (3.2, 3.55), (2.5, 2.5), (999, 1000.0), (1000, 1000.0),
    (1e-13, 1e-13), (1.1e-13, 1.12e-13), (3.3e9, 3.55e9)])
def test_a_figure_rounds_up_to_the_next_r20_step(value, step):
    assert granularity.stable_ceiling(value) == step


def test_every_step_is_at_most_a_seventh_above_its_figure_and_never_below_it():
    values = [v / 100 for v in range(1, 100001, 7)]
    for value in values:
        stepped = granularity.stable_ceiling(value)
        assert value <= stepped <= value * 1.143, value      # 1.4 -> 1.6 the widest


def test_figures_between_two_steps_share_the_upper_one():
    assert {granularity.stable_ceiling(v) for v in (40.1, 42.5, 44.0, 45.0)} == {45.0}
    assert {granularity.stable_count(v) for v in (182, 188, 190, 200)} == {200}


def test_a_count_is_the_whole_number_at_or_above_its_step():
    assert granularity.stable_count(190) == 200
    assert granularity.stable_count(7) == 8           # 7.1
    assert granularity.stable_count(18) == 18
    assert isinstance(granularity.stable_count(7), int)


@pytest.mark.parametrize("value", [0, -1.0])
def test_a_figure_that_is_not_positive_is_refused(value):
    with pytest.raises(ValueError, match="positive"):
        granularity.stable_ceiling(value)


def test_the_series_is_isos_r20_about_twelve_percent_apart():
    steps = (*granularity.R20, 10.0)
    assert len(granularity.R20) == 20 and granularity.R20[0] == 1.0
    ratios = [b / a for a, b in zip(steps, steps[1:])]
    assert all(1.11 <= r <= 1.143 for r in ratios), ratios
    assert granularity.STEP == "the next R20 step (about 12 % apart)"
