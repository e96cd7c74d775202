"""Builders shared by the component tests: the staging stack run with each model-delivery path
(storage.mode image and nodeCache), once per session."""

from __future__ import annotations

import pytest

from tests.harness import run_stack

MODEL_IMAGE = "registry.example.com/models/r1-distill-qwen-7b@sha256:" + "c3" * 32
PATHS = {
    "image": {"storage": {"mode": "image", "pvc": None, "image": {
        "reference": MODEL_IMAGE, "pullSecret": "model-registry", "modelSubdir": "weights"}},
        # Image volumes need Kubernetes 1.33+ (load20's check); 1.35 has them on by default.
        "clusterVersions": {"kubernetes": "1.35"}},
    "nodeCache": {"storage": {"mode": "nodeCache", "pvc": None, "nodeCache": {
        "diskGi": 500, "keepRevisions": 3, "nodeSelector": {"cache.example.com/nvme": "true"},
        "hfTokenSecret": {"name": "hf-token", "key": "token"}}}},
}
"""The overrides that switch the staging stack onto each path."""


@pytest.fixture(scope="session")
def path_runs():
    """{mode: the staging stack's mock run on that path}."""
    found = {mode: run_stack("staging", override) for mode, override in PATHS.items()}
    for mode, run in found.items():
        assert run.error is None, f"{mode}: {run.error}"
    return found
