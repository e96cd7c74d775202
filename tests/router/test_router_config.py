"""The router's LiteLLM configuration as prod renders it, for speed (issue 19): each lever the
profile measured is set, and set where LiteLLM reads it once rather than on every request. The
real router runs this very config in tests/router/test_router_live.py, which pins that every
behaviour is kept."""

from __future__ import annotations

import json

import pytest
import yaml

from rendering import promql
from rendering import router as render
from tests.harness import run_stack


@pytest.fixture(scope="module")
def prod():
    run = run_stack("prod")
    assert run.error is None, run.error
    config_map = next(r for r in run.of_type("core/v1:ConfigMap")
                      if r.name.endswith("-router-config"))
    deployment = next(r for r in run.of_type("apps/v1:Deployment") if r.name.endswith("-router"))
    data = config_map.inputs["data"]
    return (yaml.safe_load(data["config.yaml"]), data,
            deployment.inputs["spec"]["template"]["spec"]["containers"][0])


def test_local_deployments_are_priced_at_zero_in_model_info_not_per_request(prod):
    config, _, _ = prod
    local = [d for d in config["model_list"]
             if d["litellm_params"]["model"].startswith("hosted_vllm/")]
    assert local
    for deployment in local:
        assert deployment["model_info"]["input_cost_per_token"] == 0
        assert deployment["model_info"]["output_cost_per_token"] == 0
        assert not {"input_cost_per_token", "output_cost_per_token"} & set(
            deployment["litellm_params"])
    cloud = [d for d in config["model_list"] if d not in local]
    assert all("input_cost_per_token" not in d["model_info"] for d in cloud), \
        "a cloud deployment keeps LiteLLM's own prices"


def test_the_prometheus_callback_keeps_only_the_series_the_alerts_read(prod):
    config, _, _ = prod
    groups = config["litellm_settings"]["prometheus_metrics_config"]
    enabled = {metric for group in groups for metric in group["metrics"]}
    rules = [rule["expr"] for group in render.alert_rules("prod", redis_replicas=2)
             for rule in group["rules"]]
    read = {series for series in enabled if any(series in expr for expr in rules)}
    assert read == enabled, f"enabled but read by no alert: {enabled - read}"
    for expr in rules:
        for word in expr.replace("(", " ").replace("{", " ").split():
            if word.startswith("litellm_") and word != promql.LIMITER_BREAKER_SERIES:
                assert any(word.startswith(series) for series in enabled), word
    # The breaker series comes from the service callback, which stays on with Redis.
    assert "prometheus_system" in config["litellm_settings"]["service_callback"]


def test_a_clients_no_log_is_ignored_so_every_callback_runs_without_asking_per_request(prod):
    config, _, _ = prod
    assert config["litellm_settings"]["global_disable_no_log_param"] is True


def test_uvicorn_writes_no_access_log_line_per_request(prod):
    _, data, container = prod
    args = container["args"]
    path = args[args.index("--log_config") + 1]
    assert path == f"{render.CONFIG_DIR}/{render.LOG_CONFIG_FILE}"
    logging = json.loads(data[render.LOG_CONFIG_FILE])
    access = logging["loggers"]["uvicorn.access"]
    # uvicorn skips the access line only when the logger has no handler, its own or inherited.
    assert access["handlers"] == [] and access["propagate"] is False
    assert logging["loggers"]["uvicorn.error"]["level"] == "INFO"


def test_the_limiter_counts_tokens_after_the_answer_instead_of_reserving_max_tokens(prod):
    _, _, container = prod
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["LITELLM_TPM_TOKEN_RESERVATION_ENABLED"] == "false"
