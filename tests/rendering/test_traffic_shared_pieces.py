"""The router and its Redis render the small Kubernetes rules every workload shares from
rendering/kube.py, written once, not again in their own modules (issue 17: "DNS egress ×3, the PDB
spec ×2, scrape annotations ×2, the ServiceMonitor ×2, the HTTP probe builder ×2")."""

from __future__ import annotations

import functools

from rendering import kube
from tests.harness import run_stack

DEPLOYED_REDIS = {"traffic": {"router": {"redis": None}}}
NO_OPERATOR = {"monitoring": {"prometheusOperator": False}}
MARK = "x-rendered-by"


def _marked(piece: str, monkeypatch) -> None:
    """Make kube.<piece> tag what it returns, so an object built from it shows where it came from."""
    original = getattr(kube, piece)

    @functools.wraps(original)
    def tagged(*args, **kwargs):
        return {**original(*args, **kwargs), MARK: piece}
    monkeypatch.setattr(kube, piece, tagged)


def _router(run, suffix: str):
    return [r for r in run.of_type(suffix) if r.name.endswith("-router")]


def _redis(run, suffix: str):
    return [r for r in run.of_type(suffix) if r.name.endswith("-redis")]


def test_the_router_fence_takes_dns_and_https_egress_from_kube(monkeypatch):
    _marked("dns_egress", monkeypatch)
    _marked("https_egress", monkeypatch)
    (policy,) = _router(run_stack("prod"), "NetworkPolicy")
    marks = [rule.get(MARK) for rule in policy.inputs["spec"]["egress"]]
    assert "dns_egress" in marks and "https_egress" in marks


def test_the_router_and_redis_budgets_are_kubes_disruption_budget(monkeypatch):
    _marked("disruption_budget", monkeypatch)
    run = run_stack("prod", DEPLOYED_REDIS)
    budgets = _router(run, "PodDisruptionBudget") + _redis(run, "PodDisruptionBudget")
    assert len(budgets) == 2
    assert [b.inputs["spec"].get(MARK) for b in budgets] == ["disruption_budget"] * 2


def test_the_router_service_monitor_is_kubes(monkeypatch):
    _marked("service_monitor_spec", monkeypatch)
    monitors = [r for r in run_stack("prod").of_type("ServiceMonitor")
                if r.name.endswith("-router-monitor")]
    assert [m.inputs["spec"].get(MARK) for m in monitors] == ["service_monitor_spec"]


def test_the_router_probes_are_kubes_http_probe(monkeypatch):
    _marked("http_probe", monkeypatch)
    (deployment,) = _router(run_stack("prod"), "Deployment")
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe].get(MARK) == "http_probe", probe


def test_without_the_operator_the_router_service_carries_kubes_scrape_annotations():
    """Annotation-based scrape jobs see the router as they see the engine: scrape, port, path
    and scheme (the router's own copy lacked prometheus.io/scheme)."""
    (service,) = _router(run_stack("prod", NO_OPERATOR), "Service")
    assert service.inputs["metadata"]["annotations"] == kube.scrape_annotations(4000)


def test_the_router_service_annotations_come_from_kube(monkeypatch):
    _marked("scrape_annotations", monkeypatch)
    (service,) = _router(run_stack("prod", NO_OPERATOR), "Service")
    assert service.inputs["metadata"]["annotations"].get(MARK) == "scrape_annotations"
