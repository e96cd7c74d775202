"""A multi-node group's leader and worker are the base vLLM pod template under one named overlay
(rendering/multinode.py `group_overlay`), composed in rendering: the base template knows
nothing of groups, and the overlay changes only what a group pod must change."""

from __future__ import annotations

import ast
import dataclasses

import pytest

from planning.config import parse
from planning.plan import make_plan
from rendering import multinode, pod
from rendering.naming import stack_names
from tests.harness import ROOT, deep_merge, stack_config

GROUP_ONLY_FIELDS = {"command", "extra_env", "extra_resources", "add_capabilities",
                     "serves_http", "exec_probe", "pod_affinity", "pre_stop"}
"""The fields PodInputs had for group pods only before the overlay (add_capabilities was dead:
no pod ever got a capability)."""
OVERLAID_CONTAINER_KEYS = {"command", "args", "env", "resources", "lifecycle",
                           "startupProbe", "readinessProbe", "livenessProbe"}
PIPELINE = {}
DATA_EXPERT = {"multiNode": {"rdma": {"resourceName": "rdma/ib", "count": 8, "hca": "mlx5"}},
               "gpu": {"type": "h100-80gb", "layout": "data-expert"},
               # Each rank's batch is gathered from all 16 before the experts: 8,192 tokens would need
               # a 21 GiB fused-MoE workspace per GPU (planning/memory.py tokens_at_experts).
               "engine": {"maxNumBatchedTokens": 2048}}


def _base(overrides: dict):
    cfg = parse(deep_merge(stack_config("r1-h100"), overrides))
    plan = make_plan(cfg)
    names = stack_names("r1-h100", cfg, plan)
    inputs = pod.PodInputs(
        image="vllm@sha256:x", args=["/models/m", "--port", "8000"], labels=names.labels,
        annotations={"a": "1"}, claim_name="weights", model_dir="/models/m",
        api_key_secret="key", api_key_secret_key="api-key", product_labels=["H100"],
        probe_period=10, probe_timeout=5, readiness_failures=3, liveness_failures=6)
    return cfg, plan, names, pod.pod_template(plan, inputs)


def test_the_pod_inputs_hold_no_group_only_field():
    assert {f.name for f in dataclasses.fields(pod.PodInputs)} & GROUP_ONLY_FIELDS == set()


@pytest.mark.parametrize("overrides", [PIPELINE, DATA_EXPERT], ids=["pipeline", "data-expert"])
@pytest.mark.parametrize("role", ["leader", "worker"])
def test_a_group_pod_differs_from_the_base_template_only_where_the_overlay_says(overrides, role):
    cfg, plan, names, base = _base(overrides)
    overlaid = multinode.group_overlay(base, cfg, plan, role, names.workload)
    (before,), (after,) = base["spec"]["containers"], overlaid["spec"]["containers"]
    assert {k: v for k, v in after.items() if k not in OVERLAID_CONTAINER_KEYS} == \
        {k: v for k, v in before.items() if k not in OVERLAID_CONTAINER_KEYS}
    assert {k: v for k, v in overlaid["spec"].items() if k not in ("containers", "affinity")} \
        == {k: v for k, v in base["spec"].items() if k not in ("containers", "affinity")}
    assert overlaid["spec"]["affinity"] == {**base["spec"]["affinity"],
                                            **multinode.group_affinity(names.workload)}
    assert after["env"][:len(before["env"])] == before["env"]
    assert after["command"][:2] == ["sh", "-c"] and after["args"] == []


def test_the_overlay_leaves_the_base_template_as_it_was():
    cfg, plan, names, base = _base(DATA_EXPERT)
    snapshot = repr(base)
    multinode.group_overlay(base, cfg, plan, "worker", names.workload)
    assert repr(base) == snapshot


def test_a_headless_worker_swaps_the_http_probes_for_the_rendezvous_probe():
    cfg, plan, names, base = _base(PIPELINE)
    (worker,) = multinode.group_overlay(base, cfg, plan, "worker",
                                        names.workload)["spec"]["containers"]
    assert "readinessProbe" not in worker
    assert "exec" in worker["startupProbe"] and "exec" in worker["livenessProbe"]
    assert worker["startupProbe"]["failureThreshold"] == plan.startup.probe_failure_threshold


def test_the_base_pod_template_is_at_most_60_lines():
    tree = ast.parse((ROOT / "rendering" / "pod.py").read_text())
    (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)
                   and n.name == "pod_template"]
    assert function.end_lineno - function.lineno + 1 <= 60
