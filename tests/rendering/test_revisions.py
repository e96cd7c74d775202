"""The second workload of a blue-green switch as staging renders it (tests/blue_green.py): each
slot's own Deployment, Service, PDB and NetworkPolicy that select only its pods, the previous
slot exactly as it was deployed, and the router's local deployments with the plan's weights."""

from __future__ import annotations

import pytest
import yaml

from tests.blue_green import PHASE_1, PHASE_2, PHASE_3, PROD_VERSION_SWITCH, ROOM
from tests.harness import run_stack

RELEASE = "staging-deepseek-r1-7b"
DEPLOYMENT, SERVICE = "apps/v1:Deployment", "core/v1:Service"
PDB, NETPOL = "policy/v1:PodDisruptionBudget", "networking.k8s.io/v1:NetworkPolicy"


@pytest.fixture(scope="module")
def phases():
    runs = {name: run_stack("staging", overlay) for name, overlay in (
        ("room", ROOM), ("phase 1", PHASE_1), ("phase 2", PHASE_2), ("phase 3", PHASE_3))}
    for run in runs.values():
        assert run.error is None, run.error
    return runs


def _named(run, kind: str, name: str):
    return next(r for r in run.of_type(kind) if r.metadata.get("name") == name)


def _router_config(run) -> dict:
    config_map = next(r for r in run.of_type("core/v1:ConfigMap")
                      if r.name.endswith("-router-config"))
    return yaml.safe_load(config_map.inputs["data"]["config.yaml"])


def _local(run) -> list[dict]:
    return [d for d in _router_config(run)["model_list"]
            if d["litellm_params"]["model"].startswith("hosted_vllm/")]


def test_during_a_switch_each_local_alias_has_both_slots_at_order_1_with_their_weights(phases):
    for phase, weights in (("phase 1", {"green": 0, "blue": 100}),
                           ("phase 2", {"green": 100, "blue": 0})):
        local = _local(phases[phase])
        assert len(local) == 4    # two local aliases × two slots
        for deployment in local:
            params = deployment["litellm_params"]
            slot = deployment["model_info"]["id"].rsplit("-", 1)[1]
            assert params["order"] == 1 and params["weight"] == weights[slot]
            name = RELEASE if slot == "blue" else f"{RELEASE}-green"
            assert params["api_base"] == f"http://{name}.llm-staging.svc:8000/v1"
        cloud = [d for d in _router_config(phases[phase])["model_list"] if d not in local]
        assert {d["litellm_params"]["order"] for d in cloud} == {2}


def test_without_a_switch_the_local_deployment_carries_no_weight(phases):
    for phase, name in (("room", RELEASE), ("phase 3", f"{RELEASE}-green")):
        for deployment in _local(phases[phase]):
            assert "weight" not in deployment["litellm_params"]
            assert deployment["model_info"]["id"].endswith("--local")
            assert deployment["litellm_params"]["api_base"] == \
                f"http://{name}.llm-staging.svc:8000/v1"


def test_the_previous_slot_renders_exactly_as_it_was_deployed(phases):
    """Blue in phase 1 (every request still on it) is the Deployment of before the switch."""
    before = _named(phases["room"], DEPLOYMENT, RELEASE)
    during = _named(phases["phase 1"], DEPLOYMENT, RELEASE)
    assert during.inputs == before.inputs
    for kind in (SERVICE, PDB, NETPOL):
        assert _named(phases["phase 1"], kind, RELEASE).inputs == \
            _named(phases["room"], kind, RELEASE).inputs


def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_no_selector_of_one_slot_selects_the_other_slots_pods(phases):
    """Two PDBs over one pod make the eviction API refuse to drain it; a shared Service or
    Deployment selector would mix the slots."""
    run = phases["phase 1"]
    pods = {name: _named(run, DEPLOYMENT, name).inputs["spec"]["template"]["metadata"]["labels"]
            for name in (RELEASE, f"{RELEASE}-green")}
    for own, other in ((RELEASE, f"{RELEASE}-green"), (f"{RELEASE}-green", RELEASE)):
        selectors = [
            _named(run, DEPLOYMENT, own).inputs["spec"]["selector"]["matchLabels"],
            _named(run, SERVICE, own).inputs["spec"]["selector"],
            _named(run, PDB, own).inputs["spec"]["selector"]["matchLabels"],
            _named(run, NETPOL, own).inputs["spec"]["podSelector"]["matchLabels"]]
        assert all(_matches(s, pods[own]) for s in selectors)
        assert not any(_matches(s, pods[other]) for s in selectors)


def test_the_new_slot_serves_the_new_revision_from_its_own_directory(phases):
    run = phases["phase 1"]
    blue, green = (_named(run, DEPLOYMENT, name) for name in (RELEASE, f"{RELEASE}-green"))
    blue_args = blue.inputs["spec"]["template"]["spec"]["containers"][0]["args"]
    green_args = green.inputs["spec"]["template"]["spec"]["containers"][0]["args"]
    assert blue_args[0].endswith("/916b56a44061fd5cd7d6a8fb632557ed4f724f60")
    assert green_args[0].endswith("/0123456789abcdef0123456789abcdef01234567")


def test_the_router_may_reach_both_slots_pods_during_a_switch(phases):
    fence = next(r for r in phases["phase 1"].of_type(NETPOL) if r.name.endswith("-router"))
    engines = fence.inputs["spec"]["egress"][1]["to"]
    instances = [peer["podSelector"]["matchLabels"]["app.kubernetes.io/instance"]
                 for peer in engines]
    assert instances == [f"{RELEASE}-green", RELEASE]


def test_monitoring_and_the_autoscaler_follow_the_slot_serving_model_revision(phases):
    run = phases["phase 1"]
    scaled = next(r for r in run.of_type("keda.sh/v1alpha1:ScaledObject"))
    assert scaled.inputs["spec"]["scaleTargetRef"]["name"] == f"{RELEASE}-green"
    rules = next(r for r in run.of_type("core/v1:ConfigMap") if r.name.endswith("-rules"))
    text = next(iter(rules.inputs["data"].values()))
    assert f'service="{RELEASE}-green"' in text


def test_the_servicemonitor_scrapes_both_slots_during_a_switch():
    """prod (Prometheus Operator): every slot's Service carries the release's labels, so the
    one ServiceMonitor keeps scraping blue, which still answers, when green is added."""
    run = run_stack("prod", PROD_VERSION_SWITCH)
    assert run.error is None, run.error
    [monitor] = [r for r in run.of_type("monitoring.coreos.com/v1:ServiceMonitor")
                 if r.name.endswith("-servicemonitor") and "router" not in r.name]
    selector = monitor.inputs["spec"]["selector"]["matchLabels"]
    release = "prod-deepseek-r1-32b"
    services = [_named(run, SERVICE, name) for name in (release, f"{release}-green")]
    assert all(_matches(selector, s.metadata["labels"]) for s in services)
    assert services[1].inputs["spec"]["selector"]["app.kubernetes.io/instance"] == \
        f"{release}-green"
