"""The router's logs are JSON lines: the prod stack's rendered router turns LiteLLM's JSON logs on
both ways LiteLLM reads it (JSON_LOGS at import, litellm_settings.json_logs at start-up), and the
real LiteLLM (.venv-router, the pinned version) then writes a record as one JSON object, request
id kept."""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from tests import tools as real_tools


def test_the_rendered_router_turns_json_logs_on_in_its_env_and_config(prod):
    data, pod = prod
    env = {item["name"]: item.get("value") for item in pod["containers"][0]["env"]}
    assert env["JSON_LOGS"] == "true"
    assert yaml.safe_load(data["config.yaml"])["litellm_settings"]["json_logs"] is True


def test_the_real_litellm_writes_a_json_line_with_the_request_id_under_the_rendered_env(prod):
    _, pod = prod
    env = {item["name"]: item["value"] for item in pod["containers"][0]["env"]
           if item["name"] == "JSON_LOGS"}
    python = real_tools.router_venv() / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", "from litellm._logging import verbose_proxy_logger as log; "
                            "log.warning('request %s failed upstream', 'chatcmpl-4242')"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "chatcmpl-4242" in line]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["level"] == "WARNING"
    assert record["message"] == "request chatcmpl-4242 failed upstream"
