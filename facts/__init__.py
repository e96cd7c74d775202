"""Shared facts: model shapes, GPUs, vLLM metric names and the labels/annotations contract.

Plain data plus tiny loaders, imported by the program (`planning/`, `rendering/`, `components/`) and the policy pack
(`policy/`), which never imports the program.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any, Optional

import yaml
from packaging.version import Version

FACTS_DIR = pathlib.Path(__file__).resolve().parent


def _load(name: str) -> dict[str, Any]:
    with open(FACTS_DIR / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@functools.lru_cache(maxsize=None)
def models() -> dict[str, dict[str, Any]]:
    """Model presets keyed by preset name (facts/models.yaml)."""
    return _load("models.yaml")["models"]


@functools.lru_cache(maxsize=None)
def gpus() -> dict[str, dict[str, Any]]:
    """GPU types keyed by short name (facts/gpus.yaml)."""
    return _load("gpus.yaml")["gpus"]


@functools.lru_cache(maxsize=None)
def vllm_metrics() -> dict[str, Any]:
    """vLLM metric names by version (facts/vllm_metrics.yaml)."""
    return _load("vllm_metrics.yaml")


def parse_version(text: str) -> "Version":
    """'0.10.2' -> Version('0.10.2'), ordered as PEP 440 says (facts/vllm_features.py `parse`):
    a pre-release such as '0.18.0rc0' comes before '0.18.0'."""
    from facts.vllm_features import parse

    return parse(text)


def _name_windows(signal: str) -> list[tuple[str, Version, Optional[Version]]]:
    """(name, since, hidden) of each name of `signal`, oldest first: the name is on /metrics for
    versions in [since, hidden); hidden None means it still is."""
    return [(entry["name"], parse_version(entry["since"]),
             parse_version(entry["hidden"]) if "hidden" in entry else None)
            for entry in vllm_metrics()["signals"][signal]["names"]]


def visible_metric_names(signal: str, version: str) -> list[str]:
    """Names of `signal` on the /metrics page of vLLM `version`, newest first (without
    --show-hidden-metrics-for-version)."""
    ver = parse_version(version)
    return [name for name, since, hidden in reversed(_name_windows(signal))
            if since <= ver and (hidden is None or ver < hidden)]


def all_known_metric_names(version: str) -> set[str]:
    """Every base metric name visible at `version` (histogram names without suffix)."""
    return {
        name
        for signal in vllm_metrics()["signals"]
        for name in visible_metric_names(signal, version)
    }


def _previous_minor_floor(version: "Version") -> "Version":
    # X.Y -> X.(Y-1).0; for X.0 the previous minor is the last of major X-1, which the facts
    # cannot name, so the whole previous major counts.
    from facts.vllm_features import parse

    major, minor = version.major, version.minor
    return parse(f"{major}.{minor - 1}.0") if minor > 0 else parse(f"{max(major - 1, 0)}.0.0")


def rollout_metric_names(signal: str, version: str) -> list[str]:
    """Names of `signal` a query for vLLM `version` must read, newest first: every name shown
    on /metrics by some release from the start of the previous minor series up to `version`.

    The rename window: during a rollout that crosses a rename, old and new pods coexist, so
    queries say `new or old`. The program (rendering/promql.py) emits exactly these names and
    the policy pack (policy/metrics.py) accepts exactly these; a name is on the page for
    versions in [since, hidden).
    """
    pinned = parse_version(version)
    floor = _previous_minor_floor(pinned)
    return [name for name, since, hidden in reversed(_name_windows(signal))
            if since <= pinned and (hidden is None or hidden > floor)]


def all_rollout_metric_names(version: str) -> set[str]:
    """Every name `rollout_metric_names` allows for `version`, over all signals."""
    return {name for signal in vllm_metrics()["signals"]
            for name in rollout_metric_names(signal, version)}
