"""The routers the router benchmark compares, all from prod's rendered router (the files the
real-router tests start): `new` as rendered, `today` with every issue-19 lever undone, one
`new-without-<lever>` per lever, and `bare` — LiteLLM with only the engine deployment, no auth,
callbacks, Redis or guard — the floor of LiteLLM itself. Two more families say where the rest
of the time goes: `new-with-<candidate>` applies one candidate lever not (yet) rendered, and
`new-minus-<feature>` removes one behaviour the tests pin (measured only: a router without it
is not one we could ship).

A lever's undo takes (config.yaml as a dict, the litellm args, the environment) and returns
them changed; nothing here derives a figure.
"""

from __future__ import annotations

import copy
import pathlib
from typing import Callable

from rendering import router as render

Inputs = tuple[dict, list[str], dict[str, str]]

BLOCKED_MODULES = ("httptools", "opentelemetry.sdk")
"""The request-path packages router/requirements.txt adds (the image ships them); `today`
runs as if they were missing, as the test venv was before issue 19."""
UNDO_ENV = "VLLM_SERVING_BENCH_UNDO"
SITECUSTOMIZE = '''import importlib
import os

# The benchmark's undos that must run in the router process before LiteLLM: one module each,
# in the order the variant applied them.
for _name in filter(None, os.environ.get("{env}", "").split(",")):
    importlib.import_module(_name)
'''
BLOCKER = '''import sys


class _Missing:
    """Import of the router's request-path packages fails, as when they are not installed."""

    def find_spec(self, name, path=None, target=None):
        if any(name == m or name.startswith(m + ".") for m in {blocked!r}):
            raise ModuleNotFoundError(f"No module named {{name!r}} (benchmark: without it)")
        return None


sys.meta_path.insert(0, _Missing())
'''
LITELLMS_PROMETHEUS = '''from litellm.integrations.prometheus import PrometheusLogger
from litellm.litellm_core_utils import litellm_logging

# LiteLLM's own callback class cached before the router module loads, which then leaves it
# (router/vllm_serving_router.py: it registers Metrics only while nothing is cached).
litellm_logging._PrometheusLogger = PrometheusLogger
'''
"""The undo of the gauge-skip lever: every writer of the `prometheus` callback runs."""
LITELLMS_SERVICES = '''from litellm import _service_logger
from litellm.integrations.prometheus_services import PrometheusServicesLogger


class LiteLLMs(PrometheusServicesLogger):
    """LiteLLM's own service logger, under a class the router module leaves in place
    (router/vllm_serving_router.py: it swaps in Services only for LiteLLM's class)."""


_service_logger.PrometheusServicesLogger = LiteLLMs
'''
"""The undo of the service-skip lever: `prometheus_system` observes every Redis call."""


def _local(config: dict) -> list[dict]:
    return [d for d in config["model_list"]
            if d["litellm_params"]["model"].startswith("hosted_vllm/")]


def without_pricing(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
    config = copy.deepcopy(config)
    for deployment in _local(config):
        for field in render.ZERO_PRICING:
            deployment["model_info"].pop(field, None)
    return config, args, env


def without_metrics_filter(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
    config = copy.deepcopy(config)
    config["litellm_settings"].pop("prometheus_metrics_config", None)
    return config, args, env


def with_access_log(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
    args = list(args)
    if "--log_config" in args:
        at = args.index("--log_config")
        del args[at:at + 2]
    return config, args, env


def with_no_log_param(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
    config = copy.deepcopy(config)
    config["litellm_settings"].pop("global_disable_no_log_param", None)
    return config, args, env


def with_reservation(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
    return config, args, {k: v for k, v in env.items() if k not in render.LIMITER_ENV}


def _in_router_process(shim: pathlib.Path, module: str, text: str) -> Callable[..., Inputs]:
    """An undo run inside the router process: `module` (`text`) imported by a sitecustomize on
    PYTHONPATH (it runs before LiteLLM imports anything), after the undos applied before it."""
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE.format(env=UNDO_ENV))
    (shim / f"{module}.py").write_text(text)

    def undo(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
        path = env.get("PYTHONPATH", "").split(":")
        path = [str(shim)] + [p for p in path if p and p != str(shim)]
        modules = [m for m in env.get(UNDO_ENV, "").split(",") if m] + [module]
        return config, args, {**env, "PYTHONPATH": ":".join(path),
                              UNDO_ENV: ",".join(modules)}
    return undo


def without_packages(shim: pathlib.Path) -> Callable[..., Inputs]:
    """The undo of the packages lever: their import fails."""
    return _in_router_process(shim, "bench_without_packages",
                              BLOCKER.format(blocked=BLOCKED_MODULES))


def without_service_skip(shim: pathlib.Path) -> Callable[..., Inputs]:
    """The undo of the service-skip lever: LiteLLM's own `prometheus_system` logger."""
    return _in_router_process(shim, "bench_without_service_skip", LITELLMS_SERVICES)


def without_gauge_skip(shim: pathlib.Path) -> Callable[..., Inputs]:
    """The undo of the gauge-skip lever: LiteLLM's own `prometheus` callback class."""
    return _in_router_process(shim, "bench_without_gauge_skip", LITELLMS_PROMETHEUS)


def bare(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
    """LiteLLM's own floor: the engine deployment alone (zero-priced), no auth hook, callbacks,
    Redis, guard or access log: what any LiteLLM in front of this engine costs at least."""
    kept = copy.deepcopy(_local(config))
    floor = {"model_list": kept,
             "router_settings": {"routing_strategy": "simple-shuffle", "num_retries": 0},
             "general_settings": {"master_key": config["general_settings"]["master_key"]},
             "litellm_settings": {"telemetry": False, "drop_params": False}}
    env = {k: v for k, v in env.items() if k not in render.GUARD_ENV}
    return floor, args, env


def levers(shim: pathlib.Path) -> dict[str, Callable[..., Inputs]]:
    """{lever: its undo}, in the order issue 19 lists them."""
    return {"pricing": without_pricing, "packages": without_packages(shim),
            "prometheus": without_metrics_filter, "access-log": with_access_log,
            "limiter": with_reservation, "gauge-skip": without_gauge_skip(shim),
            "service-skip": without_service_skip(shim), "ignore-no-log": with_no_log_param}


def _with_env(extra: dict[str, str]) -> Callable[..., Inputs]:
    def apply(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
        return config, args, {**env, **extra}
    return apply


def _with_settings(**settings: object) -> Callable[..., Inputs]:
    def apply(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
        config = copy.deepcopy(config)
        config["litellm_settings"].update(settings)
        return config, args, env
    return apply


def candidates() -> dict[str, Callable[..., Inputs]]:
    """{candidate lever: how it is applied to `new`}: switches of LiteLLM 1.108.7 that might
    cut its per-request work without changing what a client or an alert sees."""
    return {
        # litellm/llms/custom_httpx/http_handler.py: httpx's own transport instead of the
        # default aiohttp one (LiteLLMAiohttpTransport) for the engine call.
        "httpx-transport": _with_env({"DISABLE_AIOHTTP_TRANSPORT": "True"}),
        # litellm/_logging.py: the level of LiteLLM's log handler (default DEBUG).
        "log-error": _with_env({"LITELLM_LOG": "ERROR"}),
        # litellm/litellm_core_utils/redact_messages.py: the success payload is deep-copied to
        # redact the messages for the callbacks; none of ours logs messages.
        "no-redaction": _with_settings(turn_off_message_logging=False),
    }


def _without_callback(name: str) -> Callable[..., Inputs]:
    def apply(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
        config = copy.deepcopy(config)
        settings = config["litellm_settings"]
        settings["callbacks"] = [c for c in settings["callbacks"] if not c.endswith(name)]
        if name == "prometheus":
            settings.pop("service_callback", None)
        return config, args, env
    return apply


def without_redis(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
    config = copy.deepcopy(config)
    config["general_settings"].pop("coordination_redis", None)
    config["litellm_settings"].pop("service_callback", None)
    return config, args, env


def without_guard(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
    return config, args, {k: v for k, v in env.items()
                          if k != "LITELLM_WORKER_STARTUP_HOOKS"}


def features() -> dict[str, Callable[..., Inputs]]:
    """{behaviour: its removal from `new`}: what each pinned behaviour costs (measure only)."""
    return {"prometheus": _without_callback("prometheus"), "caps": _without_callback(".caps"),
            "redis": without_redis, "guard": without_guard}


def variants(names: list[str], shim: pathlib.Path) -> dict[str, Callable[..., Inputs]]:
    """{variant name: how its inputs come from the rendered ones}."""
    undo = levers(shim)

    def today(config: dict, args: list[str], env: dict[str, str]) -> Inputs:
        for step in undo.values():
            config, args, env = step(config, args, env)
        return config, args, env
    known = {"new": lambda *inputs: inputs, "today": today, "bare": bare,
             **{f"new-without-{name}": step for name, step in undo.items()},
             **{f"new-with-{name}": step for name, step in candidates().items()},
             **{f"new-minus-{name}": step for name, step in features().items()}}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"unknown variant(s) {', '.join(unknown)}; known: "
                         f"{', '.join(known)}")
    return {name: known[name] for name in names}
