"""Each add-on's floor (facts/cluster_versions.py): the objects every stack renders pass the CRD
schema of the floor release and fail the release before it, and a stack that states a cluster
version below the floor is refused at preview."""

from __future__ import annotations

import json

import jsonschema
import pytest

from facts.cluster_versions import FLOORS, floor
from planning.config import ConfigError, parse
from planning.plan import make_plan
from tests.harness import deep_merge, run_stack, stack_config
from tests.schemas import SCHEMAS
from tools import render

GROUP_KEDA = {"autoscaling": {"enabled": True, "engine": "keda", "minReplicas": 1,
                              "maxReplicas": 2}}
ADD_ON_DIR = {"keda": "keda", "lws": "lws", "prometheusOperator": "prometheus-operator"}
KINDS = {"keda": [("keda.sh", "ScaledObject", "v1alpha1")],
         "lws": [("leaderworkerset.x-k8s.io", "LeaderWorkerSet", "v1")],
         "prometheusOperator": [("monitoring.coreos.com", "ServiceMonitor", "v1"),
                                ("monitoring.coreos.com", "PrometheusRule", "v1")]}


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    """Every object of every stack as applied (r1-h100 also with its group autoscaled)."""
    runs = [run_stack("prod"), run_stack("staging"), run_stack("r1-h100"),
            run_stack("r1-h100", GROUP_KEDA)]
    return [m.obj for run in runs for m in render.manifests(run)]


def _errors(release: str, key: str, objects: list[dict]) -> list[str]:
    out = []
    for group, kind, version in KINDS[key]:
        path = SCHEMAS / "versions" / ADD_ON_DIR[key] / f"v{release}" / group / \
            f"{kind.lower()}_{version}.json"
        validator = jsonschema.Draft202012Validator(json.loads(path.read_text()))
        for obj in objects:
            if obj["kind"] == kind:
                out += [f"{kind} {obj['metadata']['name']}: {list(e.absolute_path)}: {e.message}"
                        for e in validator.iter_errors({**obj, "metadata": {}})]
    return out


@pytest.mark.parametrize("entry", FLOORS, ids=lambda f: f.config_key)
def test_every_rendered_object_passes_the_schema_of_its_floor(entry, rendered):
    kinds = {kind for _, kind, _ in KINDS[entry.config_key]}
    assert any(obj["kind"] in kinds for obj in rendered), "some stack renders these objects"
    assert _errors(entry.floor, entry.config_key, rendered) == []


@pytest.mark.parametrize("key,field", [("keda", "'behavior' was unexpected"),
                                       ("lws", "'RecreateGroupAfterStart' is not one of")])
def test_the_release_before_the_floor_refuses_what_is_rendered(key, field, rendered):
    errors = _errors(floor(key).previous, key, rendered)
    assert errors and all(field in error for error in errors), errors


def test_the_prometheus_operator_floor_is_its_crd_api_not_a_field():
    """Both releases' schemas take the objects (no field is newer than 0.20): the floor comes
    from the CRD API version, stated in the table with its source."""
    entry = floor("prometheusOperator")
    assert _errors(entry.previous, "prometheusOperator", []) == []
    assert "apiextensions.k8s.io/v1" in entry.reason and "v1beta1" in entry.reason


def _refusal(stack: str, override: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        make_plan(parse(deep_merge(stack_config(stack), override)))
    return str(caught.value)


@pytest.mark.parametrize("stack,key,override", [
    ("prod", "keda", {}),
    ("r1-h100", "lws", {}),
    ("prod", "prometheusOperator", {}),
])
def test_a_cluster_below_a_floor_is_refused_at_preview(stack, key, override):
    entry = floor(key)
    message = _refusal(stack, deep_merge(override, {"clusterVersions": {key: entry.previous}}))
    assert f"clusterVersions.{key}" in message and entry.previous in message
    assert entry.floor in message


@pytest.mark.parametrize("stack,key", [("prod", "keda"), ("r1-h100", "lws"),
                                       ("prod", "prometheusOperator")])
def test_a_cluster_at_the_floor_is_accepted(stack, key):
    cfg = parse(deep_merge(stack_config(stack), {"clusterVersions": {key: floor(key).floor}}))
    make_plan(cfg)


@pytest.mark.parametrize("stack,key", [("staging", "keda"), ("prod", "lws"),
                                       ("staging", "prometheusOperator")])
def test_an_add_on_the_stack_does_not_use_is_not_checked(stack, key):
    make_plan(parse(deep_merge(stack_config(stack), {"clusterVersions": {key: "0.1.0"}})))


def test_a_version_that_is_no_release_is_refused():
    with pytest.raises(ConfigError) as caught:
        parse(deep_merge(stack_config("prod"), {"clusterVersions": {"keda": "latest"}}))
    assert "clusterVersions.keda" in str(caught.value) and "latest" in str(caught.value)
