"""The router's guard and its 503 as rendered (the real router runs them in
tests/router/test_router_live.py): the figures come from the plan, the pod loads the guard."""

from __future__ import annotations

import json

from planning import traffic as t
from rendering import router as render


def test_the_engine_retry_after_is_its_readiness_period_within_what_clients_honour():
    assert t.engine_retry_after_seconds(10) == 10
    assert t.engine_retry_after_seconds(60) == 60
    # Above 120 s the OpenAI SDK does not retry at all.
    assert t.engine_retry_after_seconds(500) == t.CLIENT_MAX_RETRY_AFTER_SECONDS == 120


def test_the_router_settings_carry_the_retry_after_and_which_aliases_are_local_only(prod):
    data, _ = prod
    settings = json.loads(data["clients.json"])
    assert settings["engineRetryAfterSeconds"] == 10   # prod's probes.periodSeconds (default)
    assert settings["aliases"]["deepseek-r1-32b"]["localOnly"] is True
    assert settings["aliases"]["internal-default"]["localOnly"] is False


def test_the_router_pod_loads_the_guard_from_its_config_map(prod):
    """LiteLLM imports the start-up hook by module name, so the ConfigMap's mount must be on
    PYTHONPATH and the guard must be one of its files."""
    data, pod = prod
    container = pod["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["LITELLM_WORKER_STARTUP_HOOKS"] == "vllm_serving_guard:install"
    assert env["PYTHONPATH"] == render.CONFIG_DIR
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    assert mount["mountPath"] == render.CONFIG_DIR
    assert data["vllm_serving_guard.py"] == render.GUARD_SOURCE.read_text()
    # One worker: the hook wraps the app of the process it runs in.
    args = container["args"]
    assert args[args.index("--num_workers") + 1] == "1"
