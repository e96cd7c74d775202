"""`python -m tools.plan <stack> --load-paths` plans each example stack's start-up again on
every load path (planning/path_budgets.py) and prints the restart and first-start budgets
beside today's; a path with a per-node stage costs more on a new node than on a restart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml


from planning.config import parse
from planning.path_budgets import EXAMPLE_PATHS, path_budgets
from planning.plan import make_plan
from planning.stack_files import stack_values
from tests.conftest import STACKS
from tools import plan as plan_tool


def _rows(stack):
    cfg = parse(stack_values(stack))
    plan = make_plan(cfg)
    return plan, {row.path: row for row in path_budgets(cfg, plan)}


@pytest.mark.parametrize("stack", STACKS)
def test_todays_row_is_the_stacks_own_plan(stack):
    plan, rows = _rows(stack)
    today = rows[f"today ({parse(stack_values(stack)).storage.mode})"]
    assert (today.restart_seconds, today.first_start_seconds) == (
        plan.startup.budget_seconds, plan.startup.first_start_budget_seconds)
    assert set(rows) - {today.path} == set(EXAMPLE_PATHS)


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_on_one_node_a_staged_path_restarts_faster_and_first_starts_slower(stack):
    _, rows = _rows(stack)
    for path in ("image", "nodeCache"):
        assert rows[path].first_start_seconds > rows[path].restart_seconds
        assert rows[path].restart_seconds < rows["nfs"].restart_seconds
        assert rows[path].stage and rows[path].stage_seconds > 0
    assert rows["objectStore"].load_format == "runai_streamer"


def test_a_groups_probe_waits_for_its_peers_stage():
    _, rows = _rows("r1-h100")
    assert rows["image"].restart_seconds == rows["image"].first_start_seconds
    assert "peer model image pull" in rows["image"].reason


def test_the_tool_prints_every_path_for_every_stack(capsys):
    assert plan_tool.main(list(STACKS) + ["--load-paths"]) == 0
    text = capsys.readouterr().out
    for stack in STACKS:
        _, rows = _rows(stack)
        for row in rows.values():
            assert re.search(rf"{re.escape(row.path)}\s+{row.load_format}\s+restart\s+"
                             rf"{row.restart_seconds} s, first start\s+"
                             rf"{row.first_start_seconds} s", text), row.path


def test_without_the_flag_no_path_is_planned(capsys):
    assert plan_tool.main(["prod"]) == 0
    assert "load paths" not in capsys.readouterr().out


README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readmes_fastest_path_example_plans_with_the_budgets_it_shows():
    """The staging model on image volumes, as README "Storage: load paths" shows it, plans
    with the 7B column's image row."""
    text = README.read_text()
    block = text.split("<!-- example: staging on image volumes -->\n```yaml\n", 1)[1]
    example = yaml.safe_load(block.split("```", 1)[0].replace("<digest>", "c" * 64))
    values = stack_values("staging")
    for key, value in example.items():
        values[key.split(":", 1)[1]] = value
    plan = make_plan(parse(values))
    row = re.search(r"^\| `image` \| .*? \| (\d+) / (\d+) \|$", text, re.M)
    assert (plan.startup.budget_seconds, plan.startup.first_start_budget_seconds) == (
        int(row[1]), int(row[2]))


def test_the_readmes_table_of_budgets_is_what_the_tool_prints():
    """README "Storage: load paths": each row's R1 and staging budgets are --load-paths'."""
    text = README.read_text()
    table = text.split("| path | DeepSeek-R1 on two H100 nodes", 1)[1].split("\n\n", 1)[0]
    shown = {match[1]: ((int(match[2]), int(match[3])), (int(match[4]), int(match[5])))
             for match in re.finditer(r"^\| `?([A-Za-z]+)`? \| (\d+) / (\d+)[^|]*\| "
                                      r"(\d+) / (\d+)[^|]*\|$", table, re.M)}
    _, r1 = _rows("r1-h100")
    _, staging = _rows("staging")
    for path in EXAMPLE_PATHS:
        assert shown[path] == ((r1[path].restart_seconds, r1[path].first_start_seconds),
                               (staging[path].restart_seconds,
                                staging[path].first_start_seconds)), path
