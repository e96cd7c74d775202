"""The vLLM server arguments for a stack, right for the pinned vLLM version.

Pure: takes validated config and the plan, returns the container's argument list. Version
facts are from ../shared/reference/vllm.md unless a comment cites vLLM's source or issues.
"""

from __future__ import annotations

import json
from typing import Any

from facts import model_families, vllm_features
from facts.vllm_features import parser_available
from rendering import object_store
from planning import host
from planning.config import StackConfig
from planning.plan import Plan

PORT = 8000
"""vLLM's HTTP port (API, /health and /metrics share it)."""

def resolve_parser(configured: str | None, preset: str | None,
                   version: vllm_features.Version) -> str | None:
    """`auto` takes the model's own parser when the pinned version has it; None disables."""
    if configured is None:
        return None
    if configured == "auto":
        if preset and parser_available(preset, version):
            return preset
        return None
    return configured


def request_logging_args(version: vllm_features.Version) -> list[str]:
    """Flags that keep prompts out of the logs: --disable-log-requests before 0.10.1, none after
    (off by default; --disable-log-requests is removed in 0.17.0)."""
    if vllm_features.needs_disable_log_requests(version):
        return ["--disable-log-requests"]
    return []


LOGGING_CONFIG_DIR = "/etc/vllm-serving/logging"
LOGGING_CONFIG_FILE = "logging.json"
LOGGING_VOLUME = "logging-config"
JSON_FORMATTER = "pythonjsonlogger.jsonlogger.JsonFormatter"
"""The class vLLM's own `formatter: json` names (vllm/logger.py, 0.33.0); python-json-logger
keeps this path from 2.x to 4.2 (a stub module in 3.x/4.x)."""
JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(processName)s %(process)d %(message)s"
"""The fields vLLM's JSON format writes (vllm/logging_utils/formatter.py JSON_FORMAT, 0.33.0)."""


def logging_config(version: vllm_features.Version) -> dict | None:
    """The engine's logging dictConfig: JSON lines on stdout at INFO, or None where the version
    cannot load one (text logs stay). The message is kept whole, so the request ids the engine
    writes ("Received request <id>", "Aborted request <id>") stay; prompts are only ever at
    DEBUG, which nothing here emits, and where the request logger's INFO line still holds the
    prompt that logger is held at WARNING (request logging is off anyway, request_logging_args)."""
    if not vllm_features.json_logging(version):
        return None
    request_level = "WARNING" if vllm_features.request_log_info_has_prompt(version) else "INFO"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"class": JSON_FORMATTER, "format": JSON_FORMAT}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json",
                              "level": "INFO", "stream": "ext://sys.stdout"}},
        "loggers": {
            "vllm": {"handlers": ["json"], "level": "INFO", "propagate": False},
            **{name: {"level": request_level} for name in vllm_features.REQUEST_LOGGERS},
        },
    }


def logging_config_map(name: str, namespace: str, labels: dict[str, str],
                       version: vllm_features.Version) -> dict | None:
    """The ConfigMap holding logging_config as JSON, or None when the version has none."""
    config = logging_config(version)
    if config is None:
        return None
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "data": {LOGGING_CONFIG_FILE: json.dumps(config, indent=2, sort_keys=True)}}


def logging_pod_parts(config_map_name: str) -> dict[str, Any]:
    """What the engine pod needs to use the ConfigMap: a volume, the container's read-only
    mount and env (VLLM_LOGGING_CONFIG_PATH, read by every version json_logging admits)."""
    return {
        "volume": {"name": LOGGING_VOLUME, "configMap": {"name": config_map_name}},
        "volumeMount": {"name": LOGGING_VOLUME, "mountPath": LOGGING_CONFIG_DIR,
                        "readOnly": True},
        "env": {"name": "VLLM_LOGGING_CONFIG_PATH",
                "value": f"{LOGGING_CONFIG_DIR}/{LOGGING_CONFIG_FILE}"},
    }


SERVER_COMMAND = ["vllm", "serve"]
"""The container's command, whatever the image's entrypoint. Older vllm/vllm-openai images
start `python3 -m vllm.entrypoints.openai.api_server`, which ignores a positional model (and
serves its default model instead); `vllm serve` takes the model as its first positional
argument in every release the program supports (0.5.2+) and deprecates `--model` (a hard error
in 0.8.3–0.11.0, a warning after; vllm/entrypoints/cli/serve.py)."""


def utilization_args(cfg: StackConfig, plan: Plan) -> list[str]:
    """--gpu-memory-utilization: the plan's, except on a vLLM that sizes the KV cache from
    measured memory (0.34+) with none configured. vLLM then resolves its own default (1.0, or
    0.92 where it falls back to the estimate for lack of driver VMM support:
    vllm/config/cache.py CacheConfig.resolved_gpu_memory_utilization); a rendered 1.0 would
    make that fallback ask for the whole GPU and fail at start."""
    if plan.engine.measured_kv and cfg.engine.gpu_memory_utilization is None:
        return []
    return ["--gpu-memory-utilization", str(plan.engine.gpu_memory_utilization)]


def api_server_args(plan: Plan) -> list[str]:
    """`--api-server-count` = the host plan's API servers per pod where a single-node `vllm
    serve` would start another number (one per data-parallel rank from 0.15.0); none before
    0.15.0, whose default is already 1. A group spanning nodes sets its own
    (rendering/multinode.py)."""
    if plan.layout.nodes > 1 or vllm_features.default_api_servers(
            plan.version, plan.layout.data_parallel) == host.API_SERVERS_PER_POD:
        return []
    return ["--api-server-count", str(host.API_SERVERS_PER_POD)]


def server_args(cfg: StackConfig, plan: Plan, model_dir: str) -> list[str]:
    """Arguments for `vllm serve`: the model directory first, then the flags."""
    version = plan.version
    args = [
        # objectStore: vLLM pulls config and tokenizer from the URI, the loader streams weights.
        object_store.model_argument(cfg.storage.object_store.uri)
        if cfg.storage.mode == "objectStore" else model_dir,
        "--served-model-name", cfg.model.served_name,
        "--host", "0.0.0.0",
        "--port", str(PORT),
        "--tensor-parallel-size", str(plan.layout.tensor_parallel),
        "--max-model-len", str(cfg.model.max_model_len),
        *utilization_args(cfg, plan),
        "--max-num-seqs", str(plan.engine.max_num_seqs),
        "--max-num-batched-tokens", str(plan.engine.max_num_batched_tokens),
    ]
    if plan.layout.pipeline_parallel > 1:
        args += ["--pipeline-parallel-size", str(plan.layout.pipeline_parallel)]
    if plan.layout.data_parallel > 1:
        args += ["--data-parallel-size", str(plan.layout.data_parallel), *api_server_args(plan)]
    if plan.layout.expert_parallel:
        args.append("--enable-expert-parallel")
    if cfg.engine.decode_context_parallel > 1:
        args += ["--decode-context-parallel-size", str(cfg.engine.decode_context_parallel)]
    if cfg.model.dtype != "auto":
        args += ["--dtype", cfg.model.dtype]
    if cfg.model.quantization:
        args += ["--quantization", cfg.model.quantization]
    if model_families.is_deepseek_v4(plan.model.attention):
        args += ["--kv-cache-dtype", model_families.DEEPSEEK_V4_KV_CACHE_DTYPE,
                 "--block-size", str(model_families.DEEPSEEK_V4_BLOCK_SIZE)]
    elif cfg.model.kv_cache_dtype != "auto":
        args += ["--kv-cache-dtype", cfg.model.kv_cache_dtype]
    if cfg.model.trust_remote_code:
        args.append("--trust-remote-code")
    if cfg.engine.load_format != "auto":
        args += ["--load-format", cfg.engine.load_format]
    reasoning = resolve_parser(cfg.model.reasoning_parser, plan.model.reasoning_parser, version)
    if reasoning:
        if vllm_features.needs_enable_reasoning(version):
            args.append("--enable-reasoning")
        args += ["--reasoning-parser", reasoning]
    tools = resolve_parser(cfg.model.tool_call_parser, plan.model.tool_call_parser, version)
    if tools:
        args += ["--enable-auto-tool-choice", "--tool-call-parser", tools]
    if plan.drain.vllm_drains:
        args += ["--shutdown-timeout", str(plan.drain.shutdown_timeout_seconds)]
    args += request_logging_args(version)
    args += admission_args(plan)
    return args + list(cfg.engine.extra_args)


def admission_args(plan: Plan) -> list[str]:
    """The plan's queue bounds (planning/admission.py), on versions that have them."""
    if plan.admission is None:
        return []
    return ["--max-num-queued-reqs", str(plan.admission.max_num_queued_reqs),
            "--max-num-queued-tokens", str(plan.admission.max_num_queued_tokens)]
