"""Which vLLM metric names an expression may use, from the shared facts (facts/vllm_metrics.yaml).

A name is acceptable for a pinned vLLM version when some release from the start of the previous
minor series up to the pinned one shows it on /metrics: during a rollout that crosses a rename,
old and new pods coexist and queries legitimately say `new or old`. The rule itself lives in
facts (`facts.rollout_metric_names`), which rendering/promql.py emits names by.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Optional

import yaml

import facts
from facts import conventions as conv
from policy import k8s
from policy.k8s import get, items

METRIC_NAME = re.compile(r"vllm:[A-Za-z0-9_:]+")
"""vLLM engine metric names as written in PromQL (the colon is part of the name)."""

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
"""What Prometheus appends to a histogram's base name (the facts list base names)."""


def names_in(expression: str) -> set[str]:
    """Every `vllm:` metric name an expression mentions."""
    return set(METRIC_NAME.findall(expression))


def base_name(name: str) -> str:
    """A histogram series name without its _bucket/_sum/_count suffix."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@functools.lru_cache(maxsize=None)
def allowed_names(version: str) -> frozenset[str]:
    """Names acceptable for `version`: the rename window of facts.rollout_metric_names, the same
    rule rendering/promql.py emits names by."""
    return frozenset(facts.all_rollout_metric_names(version))


@functools.lru_cache(maxsize=None)
def _signal_of() -> dict[str, str]:
    return {
        entry["name"]: signal
        for signal, spec in facts.vllm_metrics()["signals"].items()
        for entry in spec["names"]
    }


def is_allowed(name: str, version: str, extra: frozenset[str] = frozenset()) -> bool:
    """True when `name` (or its histogram base) is acceptable for `version`; `extra` holds
    names the same object defines itself (recording rules)."""
    allowed = allowed_names(version) | extra
    return name in allowed or base_name(name) in allowed


def explain(name: str, version: str) -> str:
    """Why a name is not acceptable, and what to use instead, as a sentence fragment."""
    never = set(facts.vllm_metrics().get("never_in_v1", []))
    if name in never or base_name(name) in never:
        return (f"{name} does not exist in the V1 engine (the default since vLLM 0.8.0), so the "
                "expression never matches; rewrite it on the counters, e.g. the rate of "
                "vllm:generation_tokens_total")
    signal = _signal_of().get(name) or _signal_of().get(base_name(name))
    if signal is None:
        return (f"{name} is not a metric facts/vllm_metrics.yaml knows for vLLM {version}; fix "
                "the name, or add it to the facts file if that release really exposes it")
    current = facts.visible_metric_names(signal, version)
    instead = f"use {current[0]}" if current else "this signal has no metric in that release"
    return (f"{name} is not on /metrics in vLLM {version} nor in the previous minor series; "
            f"{instead}")


def pinned_version(labels: dict[str, str], annotations: dict[str, Any],
                   version_annotation: str, version_label: str) -> Optional[str]:
    """The vLLM version an object states: its vllm-version annotation, else its version label."""
    for value in (annotations.get(version_annotation), labels.get(version_label)):
        if isinstance(value, str) and re.match(r"^v?\d+\.\d+", value.strip()):
            return value.strip()
    return None


# --- the rule ---------------------------------------------------------------------------------

def _expressions(resource_type: str, props: Mapping) -> tuple[list[str], frozenset[str]]:
    """(PromQL expressions, names recorded by the same object) of rules, triggers, dashboards."""
    expressions: list[str] = []
    records: set[str] = set()
    if resource_type == k8s.PROMETHEUS_RULE:
        spec = get(props, "spec", default={})
        expressions += k8s.iter_strings_under(spec, frozenset({"expr"}))
        records.update(k8s.iter_strings_under(spec, frozenset({"record"})))
    elif resource_type == k8s.SCALED_OBJECT:
        expressions += k8s.iter_strings_under(items(props, "spec", "triggers"),
                                              frozenset({"query"}))
    elif resource_type == k8s.CONFIG_MAP:
        for value in k8s.known_dict(get(props, "data")).values():
            if not isinstance(value, str) or "vllm:" not in value:
                continue
            try:
                document = yaml.safe_load(value)
            except yaml.YAMLError:
                continue
            expressions += k8s.iter_strings_under(document, frozenset({"expr", "query"}))
            records.update(k8s.iter_strings_under(document, frozenset({"record"})))
    return expressions, frozenset(records)


def check_metric_names(resource_type: str, name: str, props: Mapping, config: Mapping) -> list[str]:
    """Alert rules, autoscaler triggers and dashboards query only vLLM metric names that exist
    for the pinned version, or for the previous minor series during a rename (advisory)."""
    expressions, records = _expressions(resource_type, props)
    names = set().union(*(names_in(e) for e in expressions)) if expressions else set()
    if not names:
        return []
    who = k8s.describe(resource_type, props, name)
    version = pinned_version(k8s.labels(props), k8s.annotations(props),
                             conv.ANN_VLLM_VERSION, conv.LABEL_VERSION)
    if version is None:
        return [
            f"{who} queries vLLM metrics ({', '.join(sorted(names))}) but states no vLLM "
            f"version; add annotation {conv.ANN_VLLM_VERSION} (or label {conv.LABEL_VERSION}) "
            "with the pinned version so its metric names can be checked."]
    return [
        f"{who} queries {explain(metric, version)}. An expression on a metric that is not "
        "scraped never fires and never scales."
        for metric in sorted(names) if not is_allowed(metric, version, records)
    ]
