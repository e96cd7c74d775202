"""promtool on everything PromQL the stack emits: rules, dashboard, KEDA query, adapter rule.

promtool is batched: one `check rules` run over every rendered file and one `test rules` run over
the unit-test files in tests/promtool/. A missing promtool fails these tests; CI installs it
(Debian package `prometheus`).
"""

from __future__ import annotations

import copy
import pathlib
import shutil
import subprocess

import pytest
import yaml

from rendering import dashboard, promql
from tests import tools as real_tools
from tests.rendering.conftest import THRESHOLDS, target

HERE = pathlib.Path(__file__).resolve().parents[1]
UNIT_TESTS = sorted((HERE / "promtool").glob("*_test.yaml"))

# The deployment tests/promtool/*.yaml describe; their header lists the same values.
HPA = "keda-hpa-deepseek-r1"
VLLM_SERIES_LABELS = ("model_name", "engine", "namespace", "pod", "service", "job")
VERSIONS = ("0.8.5", "0.9.2", "0.10.2", "0.11.0", "0.12.0", "0.33.0")

# Representative values for Grafana variables and prometheus-adapter template fields.
GRAFANA_VALUES = {dashboard.GRAFANA_RATE_INTERVAL: "1m"}
ADAPTER_VALUES = {
    "<<.Series>>": "vllm:num_requests_running",
    "<<.LabelMatchers>>": 'namespace="llm-serving",pod=~"deepseek-r1-6d5f7c9b8-x2x7q|'
                         'deepseek-r1-6d5f7c9b8-k9z4m",model_name="deepseek-r1"',
    "<<.GroupBy>>": "pod",
}


def groups(version: str, hpa_name: str = HPA) -> list[dict]:
    """Every rule group for the test deployment, DCGM alerts included."""
    return promql.rule_groups(target(version), THRESHOLDS, hpa_name, dcgm_exporter=True)


def _substitute(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def emitted_expressions() -> dict[str, str]:
    """Every PromQL expression outside the rule files, templates filled in, by where it is used."""
    found = {}
    for version in VERSIONS:
        model = dashboard.dashboard(target(version), HPA)
        for index, expr in enumerate(dashboard.expressions(model)):
            found[f"dashboard {version} #{index}"] = _substitute(expr, GRAFANA_VALUES)
        found[f"keda {version}"] = promql.keda_query(target(version))
        rule = promql.adapter_rule(version)
        found[f"adapter seriesQuery {version}"] = _substitute(rule["seriesQuery"], ADAPTER_VALUES)
        found[f"adapter metricsQuery {version}"] = _substitute(rule["metricsQuery"], ADAPTER_VALUES)
    return found


def _promtool() -> str:
    return real_tools.system_tool("promtool")   # apt-get installs it on first use as root


def _without_annotations(rule_groups: list[dict]) -> list[dict]:
    stripped = copy.deepcopy(rule_groups)
    for group in stripped:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return stripped


@pytest.fixture(scope="module")
def check_run(tmp_path_factory) -> subprocess.CompletedProcess:
    """One `promtool check rules` over the rules of every version and every other expression."""
    promtool = _promtool()
    directory = tmp_path_factory.mktemp("check")
    files = []
    for version in VERSIONS:
        for label, hpa in (("keda", HPA), ("hpa", "deepseek-r1"), ("none", None)):
            path = directory / f"rules-{version}-{label}.yaml"
            path.write_text(promql.rules_file(groups(version, hpa)))
            files.append(path)
    others = [
        {"record": f"emitted:check_{index}", "expr": expr}
        for index, expr in enumerate(emitted_expressions().values())
    ]
    path = directory / "emitted.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "emitted", "rules": others}]}))
    files.append(path)
    return subprocess.run([promtool, "check", "rules", *map(str, files)],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def unit_test_run(tmp_path_factory) -> subprocess.CompletedProcess:
    """One `promtool test rules` over tests/promtool/*_test.yaml, rules rendered next to them."""
    promtool = _promtool()
    directory = tmp_path_factory.mktemp("unit")
    for version in ("0.10.2", "0.8.5"):
        (directory / f"rules-{version}.yaml").write_text(
            promql.rules_file(_without_annotations(groups(version)))
        )
    for test_file in UNIT_TESTS:
        shutil.copy(test_file, directory / test_file.name)
    return subprocess.run([promtool, "test", "rules", *(t.name for t in UNIT_TESTS)],
                          cwd=directory, capture_output=True, text=True, timeout=60)


def test_generated_rules_pass_promtool_check_for_every_version(check_run):
    assert check_run.returncode == 0, check_run.stdout + check_run.stderr
    assert "SUCCESS" in check_run.stdout


def test_every_dashboard_keda_and_adapter_expression_parses(check_run):
    expressions = emitted_expressions()
    # Dashboard panels for 6 versions, plus KEDA and the adapter rule's two queries per version.
    assert len(expressions) > 6 * 20
    assert not any("$" in expr or "<<" in expr for expr in expressions.values())
    assert check_run.returncode == 0, check_run.stdout + check_run.stderr


def test_every_alert_fires_on_failing_series_and_stays_silent_on_healthy_ones(unit_test_run):
    assert unit_test_run.returncode == 0, unit_test_run.stdout + unit_test_run.stderr
    assert unit_test_run.stdout.count("SUCCESS") == len(UNIT_TESTS)


def _alert_tests() -> list[dict]:
    found = []
    for test_file in UNIT_TESTS:
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            found += case.get("alert_rule_test", [])
    return found


def test_promtool_unit_tests_cover_every_alert_both_ways():
    rules = [rule for group in groups("0.10.2") for rule in group["rules"]]
    emitted = {rule["alert"] for rule in rules if "alert" in rule}
    tests = _alert_tests()
    fires = {t["alertname"] for t in tests if t.get("exp_alerts")}
    silent = {t["alertname"] for t in tests if not t.get("exp_alerts")}
    assert emitted - fires == set(), "alerts without a test where they fire"
    assert emitted - silent == set(), "alerts without a test where they stay silent"
    assert (fires | silent) - emitted == set(), "tests for alerts the rules no longer emit"


def test_unit_tests_label_vllm_series_as_vllm_and_prometheus_do():
    for test_file in UNIT_TESTS:
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            for item in case["input_series"]:
                if item["series"].startswith("vllm:"):
                    for label in VLLM_SERIES_LABELS:
                        assert f"{label}=" in item["series"], (label, item["series"])


def test_the_router_alerts_are_valid_prometheus_rules(runs, tmp_path):
    """promtool accepts the router's PrometheusRule (its series are checked against LiteLLM's
    real /metrics in tests/router/test_router_live.py)."""
    rule = next(r for r in runs["prod"].of_type("monitoring.coreos.com/v1:PrometheusRule")
                if r.name.endswith("-router-rules"))
    alerts = [a["alert"] for g in rule.inputs["spec"]["groups"] for a in g["rules"]]
    assert alerts == ["RouterRateLimitingClients", "RouterQueueing", "RouterLimiterPerReplica"]
    path = tmp_path / "router-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule.inputs["spec"]["groups"]}))
    promtool = real_tools.system_tool("promtool")   # apt-get installs it on first use as root
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
