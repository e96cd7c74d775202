"""The engine's JSON logs: the rendered logging config, run through the real
logging.config.dictConfig with python-json-logger (which every vLLM wheel read requires, so the
image has it), writes one JSON object per line, keeps request ids and never a prompt, for the
request-log lines each version writes (facts/vllm_features.py REQUEST_LOG_INFO_WITHOUT_PROMPT_SINCE)."""

from __future__ import annotations

import json
import subprocess

import pytest

from facts import vllm_features
from facts.vllm_features import parse
from rendering import vllm_args
from tests import tools as real_tools

PROMPT = "my secret medical question"
REQUEST_ID = "chatcmpl-4242"

EMIT = """
import json, logging, logging.config, sys
config, request_logger, prompt_in_info, prompt, request_id = json.loads(sys.argv[1])
logging.config.dictConfig(config)
log = logging.getLogger(request_logger)
# RequestLogger.log_inputs as the version writes it (vllm/entrypoints/logger.py)
if prompt_in_info:
    log.info("Received request %s: prompt: %r, params: %s.", request_id, prompt, None)
else:
    log.debug("Request %s details: prompt: %r.", request_id, prompt)
    log.info("Received request %s: params: %s, lora_request: %s.", request_id, None, None)
log.debug("Request %s JSON body: %s", request_id, json.dumps({"prompt": prompt}))
logging.getLogger("vllm.v1.engine.async_llm").info("Aborted request %s.", request_id)
logging.getLogger("vllm.v1.engine.core").debug("prompt %s", prompt)
"""


def _emitted(version: str) -> list[str]:
    config = vllm_args.logging_config(parse(version))
    request_logger = ("vllm.entrypoints.serve.utils.request_logger" if parse(version)
                      >= parse("0.33.0") else "vllm.entrypoints.logger")
    prompt_in_info = vllm_features.request_log_info_has_prompt(parse(version))
    done = subprocess.run(
        [real_tools.json_logger_python(), "-c", EMIT,
         json.dumps([config, request_logger, prompt_in_info, PROMPT, REQUEST_ID])],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("version", ["0.10.2", "0.11.0", "0.16.0", "0.21.0", "0.33.0"])
def test_engine_logs_are_json_lines_with_request_ids_and_no_prompt(version):
    lines = _emitted(version)
    records = [json.loads(line) for line in lines]
    assert records and all({"asctime", "levelname", "name", "message"} <= set(r)
                           for r in records)
    assert all(PROMPT not in line for line in lines)
    assert any(REQUEST_ID in r["message"] for r in records)


@pytest.mark.parametrize("version, kept", [("0.11.0", False), ("0.16.0", True), ("0.33.0", True)])
def test_the_request_log_line_is_kept_only_where_it_holds_no_prompt(version, kept):
    received = [line for line in _emitted(version) if "Received request" in line]
    assert bool(received) == kept


def test_versions_before_json_logging_keep_vllms_text_logs():
    assert vllm_args.logging_config(parse("0.9.2")) is None
    assert vllm_args.logging_config_map("m-logging", "ns", {}, parse("0.9.2")) is None


def test_the_pod_reads_the_config_map_file_where_the_env_points():
    config_map = vllm_args.logging_config_map("m-logging", "ns", {"a": "b"}, parse("0.33.0"))
    parts = vllm_args.logging_pod_parts(config_map["metadata"]["name"])
    (key,) = config_map["data"]
    assert parts["env"] == {"name": "VLLM_LOGGING_CONFIG_PATH",
                            "value": f"{parts['volumeMount']['mountPath']}/{key}"}
    assert parts["volume"]["configMap"]["name"] == "m-logging"
    assert parts["volumeMount"]["readOnly"] is True
    assert json.loads(config_map["data"][key]) == vllm_args.logging_config(parse("0.33.0"))
