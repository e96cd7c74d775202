"""VllmAdmissionRejecting (issue 21, item 2): on versions that count admission rejections the
engine's rules alert when vLLM has refused requests over its queue bounds for 10 minutes;
promtool runs the rendered rule on the series as vLLM exports it (`vllm:admission_rejections`
is a prometheus_client Counter: `_total`, labels model_name and reason, no engine)."""

from __future__ import annotations

import subprocess

import pytest

from rendering import promql
from tests import tools as real_tools
from tests.rendering.conftest import THRESHOLDS, target

UNIT = """
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'vllm:admission_rejections_total{namespace="llm-serving",model_name="deepseek-r1",reason="max_num_queued_reqs",pod="deepseek-r1-0",job="deepseek-r1-api",service="deepseek-r1-api"}'
        values: '0+0x10 0+30x20'
    alert_rule_test:
      - eval_time: 10m
        alertname: VllmAdmissionRejecting
        exp_alerts: []
      - eval_time: 25m
        alertname: VllmAdmissionRejecting
        exp_alerts:
          - exp_labels: {severity: warning, namespace: llm-serving, model_name: deepseek-r1,
                         reason: max_num_queued_reqs}
"""


def _names(version: str) -> list[str]:
    return [a.name for a in promql.alerts(target(version), THRESHOLDS)]


def test_the_alert_exists_only_where_vllm_counts_rejections():
    assert "VllmAdmissionRejecting" in _names("0.33.0")
    assert "VllmAdmissionRejecting" not in _names("0.31.0")


def test_promtool_fires_the_alert_after_ten_minutes_of_rejections(tmp_path):
    promtool = real_tools.system_tool("promtool")
    rules = [a.rule() for a in promql.admission_alerts(target("0.33.0"))]
    for rule in rules:
        rule.pop("annotations")
    (tmp_path / "rules.yaml").write_text(promql.rules_file([{"name": "t", "rules": rules}]))
    (tmp_path / "admission_test.yaml").write_text(UNIT)
    result = subprocess.run([promtool, "test", "rules", "admission_test.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_metric_catalogue_and_the_version_switch_agree():
    """facts/vllm_metrics.yaml (what the policy pack checks queries against) knows the series
    from the same first version as facts/vllm_features.py ADMISSION_METRIC_SINCE."""
    from facts import vllm_features
    since = str(vllm_features.ADMISSION_METRIC_SINCE)
    before = f"0.{vllm_features.ADMISSION_METRIC_SINCE.minor - 1}.0"
    assert promql.metric_names("admission_rejections", since) == \
        [vllm_features.ADMISSION_REJECTIONS_SERIES]
    with pytest.raises(ValueError, match="exposes no metric"):
        promql.metric_names("admission_rejections", before)
