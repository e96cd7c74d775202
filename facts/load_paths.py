"""The paths weights take from storage to a serving engine (storage.mode), and what is known
about each: which the program renders today, and (below) published measurements with their
sources, which the start-up budget of each path is tested against."""

from __future__ import annotations


RENDERED_MODES: frozenset[str] = frozenset({"nfs", "pvc", "image", "nodeCache", "objectStore"})
"""storage.mode values whose Kubernetes objects the program renders. A stack with another mode
is refused at preview (planning/checks.py `storage_mode_rendered`) rather than half-rendered;
the helper that wires a mode's rendering adds it here, one line."""
