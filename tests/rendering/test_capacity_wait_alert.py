"""VllmWaitingForCapacity (issue 21, item 2): on versions that split waiting requests by reason
(`vllm:num_requests_waiting_by_reason`, from 0.20.0) the engine's rules alert when requests have
waited for capacity at every evaluation for 15 minutes; deferred requests (LoRA budget, KV
transfer) do not count. promtool runs the rendered rule on the gauge as vLLM exports it
(labels model_name, engine, reason)."""

from __future__ import annotations

import subprocess

from rendering import promql
from tests import tools as real_tools
from tests.rendering.conftest import THRESHOLDS, target

_LABELS = ('namespace="llm-serving",model_name="deepseek-r1",engine="0",pod="deepseek-r1-0",'
           'job="deepseek-r1-api"')
UNIT = f"""
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'vllm:num_requests_waiting_by_reason{{{_LABELS},reason="capacity"}}'
        values: '0x10 3x9 0 3x30'
      - series: 'vllm:num_requests_waiting_by_reason{{{_LABELS},reason="deferred"}}'
        values: '5x60'
    alert_rule_test:
      - eval_time: 25m
        alertname: VllmWaitingForCapacity
        exp_alerts: []
      - eval_time: 45m
        alertname: VllmWaitingForCapacity
        exp_alerts:
          - exp_labels: {{severity: warning, namespace: llm-serving, model_name: deepseek-r1}}
"""


def _names(version: str) -> list[str]:
    return [a.name for a in promql.alerts(target(version), THRESHOLDS)]


def test_the_alert_exists_only_where_vllm_splits_waiting_by_reason():
    assert "VllmWaitingForCapacity" in _names("0.20.0")
    assert "VllmWaitingForCapacity" not in _names("0.19.0")


def test_promtool_fires_only_after_15_minutes_of_capacity_waits_that_never_drain(tmp_path):
    # 9 minutes of waiting, one empty evaluation, then waiting again: the alert fires only
    # 15 minutes after the queue last drained; the deferred series alone never fires it.
    promtool = real_tools.system_tool("promtool")
    rules = [a.rule() for a in promql.capacity_wait_alerts(target("0.33.0"))]
    for rule in rules:
        rule.pop("annotations")
    (tmp_path / "rules.yaml").write_text(promql.rules_file([{"name": "t", "rules": rules}]))
    (tmp_path / "capacity_test.yaml").write_text(UNIT)
    result = subprocess.run([promtool, "test", "rules", "capacity_test.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
