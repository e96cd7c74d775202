"""Builders for the planning tests: a small stack config with some sections changed. Test
modules import them as `tests.planning.conftest` (no test module imports another)."""

from __future__ import annotations

from typing import Any

from planning import config


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
