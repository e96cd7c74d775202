"""Names and labels shared by every component (pure)."""

from __future__ import annotations

import hashlib

from facts import conventions as c
from planning.traffic import LITELLM_VERSION


def release_name(stack: str, served_name: str) -> str:
    """Stable Kubernetes name for a stack's model: `<stack>-<served name>`, at most 52 chars
    (room for suffixes such as `-compile-cache`); a hash keeps long names unique.

    Changing the stack or the served name changes every object's name, which replaces them.
    """
    name = f"{stack}-{served_name}".lower()
    if len(name) <= 52:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[:45].rstrip('-')}-{digest}"


def common_labels(release: str, vllm_version: str, component: str) -> dict[str, str]:
    """The recommended app.kubernetes.io labels."""
    return {
        c.LABEL_NAME: "vllm",
        c.LABEL_INSTANCE: release,
        c.LABEL_VERSION: vllm_version,
        c.LABEL_COMPONENT: component,
        c.LABEL_PART_OF: c.PART_OF,
        c.LABEL_MANAGED_BY: "pulumi",
    }


def router_labels(release: str) -> dict[str, str]:
    """The engine's label set with name litellm, component router, LiteLLM's version."""
    return {**common_labels(release, LITELLM_VERSION, c.COMPONENT_ROUTER),
            c.LABEL_NAME: "litellm"}


SELECTOR_KEYS = (c.LABEL_NAME, c.LABEL_INSTANCE, c.LABEL_COMPONENT)
"""The immutable subset of labels used in selectors (no version: a selector cannot change)."""


def selector_of(labels: dict[str, str]) -> dict[str, str]:
    """The selector labels out of a full label set."""
    return {key: labels[key] for key in SELECTOR_KEYS if key in labels}
