"""The second workload of a blue-green switch as staging renders it (tests/blue_green.py): each
slot's own Deployment, Service, PDB and NetworkPolicy that select only its pods, the previous
slot exactly as it was deployed, and the router's local deployments with the plan's weights."""

from __future__ import annotations

import copy

import pytest
import yaml

from planning.config import parse
from planning.plan import make_plan
from planning.stack_files import stack_values
from rendering import node_cache, revisions
from rendering.naming import stack_names
from tests.blue_green import NEW_MODEL_IMAGE, NEW_REVISION, NEW_URI, OLD_MODEL_IMAGE, \
    OLD_REVISION, OLD_URI, PATH_PHASES, PHASE_1, PHASE_2, PHASE_3, PROD_VERSION_SWITCH, ROOM
from tests.harness import deep_merge, run_stack
from wiring import engine

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


# The same switch on the new load paths (tests/blue_green.py PATH_PHASES): the previous slot
# reads the previous revision's weights from its own store pieces, not the new revision's.
@pytest.fixture(scope="module")
def path_runs():
    runs = {(path, phase): run_stack("staging", phases[phase])
            for path, phases in PATH_PHASES.items() for phase in ("room", "phase 1")}
    for run in runs.values():
        assert run.error is None, run.error
    return runs


def _pod_spec(run, name: str) -> dict:
    return _named(run, DEPLOYMENT, name).inputs["spec"]["template"]["spec"]


def _volume(spec: dict, name: str) -> dict:
    return next(v for v in spec["volumes"] if v["name"] == name)


@pytest.mark.parametrize("path", sorted(PATH_PHASES))
def test_on_each_load_path_the_previous_slot_renders_exactly_as_it_was_deployed(path, path_runs):
    """Blue in phase 1 is the Deployment of phase 0, its store pieces included."""
    assert _named(path_runs[path, "phase 1"], DEPLOYMENT, RELEASE).inputs == \
        _named(path_runs[path, "room"], DEPLOYMENT, RELEASE).inputs


def test_image_path_each_slot_mounts_its_own_revisions_model_image(path_runs):
    run = path_runs["image", "phase 1"]
    blue, green = (_pod_spec(run, name) for name in (RELEASE, f"{RELEASE}-green"))
    assert _volume(blue, "model")["image"]["reference"] == OLD_MODEL_IMAGE
    assert _volume(green, "model")["image"]["reference"] == NEW_MODEL_IMAGE


def _required_labels(spec: dict) -> set[str]:
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    return {e["key"] for t in terms["nodeSelectorTerms"] for e in t["matchExpressions"]}


def test_node_cache_each_slot_requires_its_own_revisions_ready_label_and_reads_its_directory(
        path_runs):
    run, hf_id = path_runs["nodeCache", "phase 1"], "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
    host_path = "/var/lib/vllm-models"
    for name, revision, other in ((RELEASE, OLD_REVISION, NEW_REVISION),
                                  (f"{RELEASE}-green", NEW_REVISION, OLD_REVISION)):
        spec = _pod_spec(run, name)
        labels = _required_labels(spec)
        assert node_cache.ready_label(hf_id, revision, host_path) in labels
        assert node_cache.ready_label(hf_id, other, host_path) not in labels
        assert spec["containers"][0]["args"][0].endswith(f"/{revision}")


def test_object_store_each_slot_streams_its_own_revisions_prefix_with_the_same_credentials(
        path_runs):
    run = path_runs["objectStore", "phase 1"]
    for name, uri in ((RELEASE, OLD_URI), (f"{RELEASE}-green", NEW_URI)):
        vllm = _pod_spec(run, name)["containers"][0]
        assert vllm["args"][0] == uri
        secrets = {e["valueFrom"]["secretKeyRef"]["name"] for e in vllm["env"]
                   if "secretKeyRef" in e.get("valueFrom", {})
                   and e["name"].startswith("AWS_")}
        assert secrets == {"model-reader"}


def test_the_store_pieces_of_a_config_are_the_model_stores_own():
    """One function renders what a pod needs of its store (volume, required labels, pull
    secrets, directory, ready marker); the ModelStore's objects carry the same for the
    current revision, so the previous slot's pieces are the ones it was deployed with."""
    for overlay in (PATH_PHASES["image"]["room"], PATH_PHASES["nodeCache"]["room"], {}):
        cfg = parse(deep_merge(copy.deepcopy(stack_values("staging")), overlay))
        plan = make_plan(cfg)
        names = stack_names("staging", cfg, plan)
        objects = engine.delivered_objects(cfg, plan, names, cfg.namespace, "vllm:1") or \
            engine.model_store_args(cfg, plan, names, cfg.namespace, "vllm:1").objects
        side = revisions.store_pod_side(cfg.storage, plan.model.hf_id, cfg.model.revision)
        assert (side.model_volume, side.required_node_labels, side.pull_secrets,
                side.ready_marker, side.model_dir) == (
            objects.model_volume, objects.required_node_labels, objects.pull_secrets,
            objects.ready_marker, names.model_dir)
