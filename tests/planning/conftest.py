"""Builders for the planning tests: a small stack config with some sections changed. Test
modules import them as `tests.planning.conftest` (no test module imports another)."""

from __future__ import annotations

from typing import Any

import copy

from planning import config
from planning.stack_files import stack_values


def with_changes(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`base` with each keyword's section changed: a dict updates that section's keys (one level
    deep), any other value replaces the section."""
    values = {**base}
    for key, value in changes.items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    return values


def configured(base: dict[str, Any], **changes: Any) -> config.StackConfig:
    """The validated config of `base` with `changes` (with_changes)."""
    return config.parse(with_changes(base, **changes))


# Scale to zero behind the router on staging (tests/planning/test_wake.py,
# tests/rendering/test_scale_to_zero.py).
ZERO = {"enabled": True, "engine": "keda", "minReplicas": 0, "maxReplicas": 1}
TRAFFIC = {
    "enabled": True,
    "clients": [{"name": "ci", "requestsPerMinute": 60, "tokensPerMinute": 200000}],
    "providers": [{"name": "cloud", "apiBase": "https://api.ofox.ai/v1",
                   "apiKeySecret": {"name": "cloud-llm-key", "key": "api-key"}}],
    "aliases": [{"name": "internal-default", "local": True, "maxTokens": 4096,
                 "cloud": [{"provider": "cloud", "model": "gpt-5.5"}]},
                {"name": "deepseek-r1-7b", "local": True, "maxTokens": 4096}],
}


def staging(**changes):
    values = copy.deepcopy(stack_values("staging"))
    values.pop("traffic", None)
    values.pop("autoscaling", None)
    values.update(copy.deepcopy(changes))
    return config.parse(values)


SMALL_7B = {
    "model": {"preset": "deepseek-r1-distill-qwen-7b", "revision": "main", "servedName": "m",
              "maxModelLen": 16384},
    "gpu": {"type": "h100-80gb"},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                "readMibPerSecond": 250},
    "network": {"gatewayNamespaces": ["gateway"]},
}
"""The 7B distill on one H100 with its weights on NFS: the smallest stack the engine-range and
measured-KV tests change one key of (each adds its vllmVersion)."""
