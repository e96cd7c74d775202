"""Each load path's start-up budget, held against a published measurement of that path
(facts/load_paths.py MEASUREMENTS, sources cited there): the plan's budget for the measured
case — its checkpoint, its medium's rates, its loader — lies within 1.5–4× of the published
time, so a probe built on it neither kills that start nor waits far past it."""

from __future__ import annotations

import math

import pytest

from facts import load_paths
from planning import config, delivery
from planning.layout import Layout
from planning.plan import make_plan

GB = 1e9 / 2 ** 30
"""GiB in a GB (the sources state decimal gigabytes)."""
DIGEST = "sha256:" + "a" * 64


@pytest.fixture(autouse=True)
def every_mode_planned(monkeypatch):
    """The budgets are planning's; whether a mode is rendered yet is not at stake here."""
    monkeypatch.setattr(load_paths, "RENDERED_MODES", frozenset(
        {"nfs", "pvc", "image", "nodeCache", "objectStore"}))


def _storage(case: load_paths.Measurement) -> dict:
    storage = {"mode": case.mode, "readMibPerSecond": case.read_mib_per_second or None,
               "streamingReadMibPerSecond": case.streaming_mib_per_second or None}
    settings = {"image": {"reference": f"registry.example.com/m@{DIGEST}",
                          "pullMibPerSecond": case.pull_mib_per_second or 100},
                "nodeCache": {"diskGi": 4000},
                "objectStore": {"uri": "s3://models/case"},
                "nfs": {"server": "nfs", "path": "/m"}}
    return {**storage, **{("nodeCache" if case.mode == "nodeCache" else
                           "objectStore" if case.mode == "objectStore" else case.mode):
                          settings[case.mode]}}


def _config(case: load_paths.Measurement) -> config.StackConfig:
    two_nodes = case.name.startswith("efs-")
    return config.parse({
        "vllmVersion": "0.33.0",
        "model": {"preset": case.preset, "revision": "main", "servedName": "m",
                  "maxModelLen": 8192},
        "gpu": {"type": "h100-80gb" if two_nodes else "a100-80gb"},
        "multiNode": {"socketInterface": "eth0"} if two_nodes else {},
        "clusterVersions": {"kubernetes": "1.36"} if case.mode == "image" else {},
        "storage": _storage(case),
        "engine": {"loadFormat": case.load_format},
        "probes": ({"engineStartSeconds": math.ceil(case.engine_seconds)}
                   if case.engine_seconds else {}),
        "network": {"gatewayNamespaces": ["gateway"]},
    })


def budget(case: load_paths.Measurement) -> int:
    """The plan's budget for what the measurement spans: per-node stage + the pod's read of
    the case's checkpoint at the case's rates + the engine's phases, × the safety factor; the
    read alone where the source timed only the load."""
    cfg = _config(case)
    plan = make_plan(cfg)
    layout: Layout = plan.layout
    checkpoint = case.checkpoint_gb * GB
    rate, _ = delivery.read_rate(cfg, plan.version)
    read_gib, _ = delivery.pod_read_gib(case.load_format, checkpoint, layout)
    load = math.ceil(read_gib * 1024 / rate)
    if "only" in case.covers:
        return math.ceil(load * cfg.probes.safety_factor)
    cold = "not on the node" in case.covers
    stage = delivery.node_stage(cfg, checkpoint, rate)[1] if cold else 0
    engine = sum(seconds for name, seconds in plan.startup.engine_phases.items()
                 if not name.startswith("peer"))
    return math.ceil((stage + load + engine) * cfg.probes.safety_factor)


@pytest.mark.parametrize("case", load_paths.MEASUREMENTS, ids=lambda case: case.name)
def test_each_paths_budget_is_within_1_5_to_4_times_its_published_start(case):
    ratio = budget(case) / case.seconds
    assert 1.5 <= ratio <= 4, f"{case.name}: budget {budget(case)} s / {case.seconds} s = {ratio:.2f}"


def test_every_new_path_and_nfs_have_a_published_measurement():
    """pvc's starts are the benchmark's (benchmark/results.md: six logged starts of pods
    reading a ReadWriteMany claim, budgets 1.51–2.68× the logged start)."""
    assert {case.mode for case in load_paths.MEASUREMENTS} == {
        "nfs", "image", "nodeCache", "objectStore"}
