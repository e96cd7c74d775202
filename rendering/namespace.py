"""The stack's namespace as plain data."""

from __future__ import annotations

from facts import conventions as c


def namespace_metadata(name: str) -> dict:
    """Metadata of a namespace the stack creates: labelled as ours, holding every pod to the
    restricted Pod Security profile (vLLM needs no privileges)."""
    return {"name": name, "labels": {
        c.LABEL_PART_OF: c.PART_OF, c.LABEL_MANAGED_BY: "pulumi",
        "pod-security.kubernetes.io/enforce": "restricted"}}
