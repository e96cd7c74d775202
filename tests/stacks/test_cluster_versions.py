"""Each add-on's floor (facts/cluster_versions.py): the objects every stack renders pass the CRD
schema of the floor release and fail the release before it (schemas/versions/), and one check at
preview refuses a cluster stated below a floor, or an edge release left unstated."""

from __future__ import annotations

import json

import pytest

from facts.cluster_versions import ADD_ONS, add_on
from planning.config import ConfigError, parse
from planning.plan import make_plan
from tests.harness import deep_merge, run_stack, stack_config
from tests.schemas import SCHEMAS
from tests.manifest_checks import crd_validator
from tools import crd_schema, render

GROUP_KEDA = {"autoscaling": {"enabled": True, "engine": "keda", "minReplicas": 1,
                              "maxReplicas": 2}}
KINDS = {"keda": [("keda.sh", "ScaledObject", "v1alpha1")],
         "lws": [("leaderworkerset.x-k8s.io", "LeaderWorkerSet", "v1")],
         "prometheusOperator": [("monitoring.coreos.com", "ServiceMonitor", "v1"),
                                ("monitoring.coreos.com", "PrometheusRule", "v1")],
         "envoyGateway": [("gateway.envoyproxy.io", "BackendTrafficPolicy", "v1alpha1"),
                          ("gateway.envoyproxy.io", "ClientTrafficPolicy", "v1alpha1")],
         "gatewayApi": [("gateway.networking.k8s.io", "Gateway", "v1"),
                        ("gateway.networking.k8s.io", "HTTPRoute", "v1")]}
"""The kinds of each add-on the stacks render, with the schema files kept per release."""


@pytest.fixture(scope="module")
def rendered(runs) -> list[dict]:
    """Every object of every stack file as applied (r1-h100 also with its group autoscaled)."""
    every = [*runs.values(), run_stack("r1-h100", GROUP_KEDA)]
    return [m.obj for run in every for m in render.manifests(run)]


def _errors(release: str, key: str, objects: list[dict]) -> list[str]:
    out = []
    for group, kind, version in KINDS[key]:
        path = (SCHEMAS / "versions" / add_on(key).schema_dir / f"v{release}" / group
                / f"{kind.lower()}_{version}.json")
        for obj in objects:
            if obj["kind"] == kind:
                out += [f"{kind} {obj['metadata']['name']}: {list(e.absolute_path)}: {e.message}"
                        for e in crd_validator(path).iter_errors({**obj, "metadata": {}})]
    return out


def test_every_add_on_has_its_kinds_and_schemas():
    assert set(KINDS) == {row.config_key for row in ADD_ONS}
    for row in ADD_ONS:
        for release in (row.floor, row.previous):
            assert (SCHEMAS / "versions" / row.schema_dir / f"v{release}").is_dir(), row.name


@pytest.mark.parametrize("entry", ADD_ONS, ids=lambda f: f.config_key)
def test_every_rendered_object_passes_the_schema_of_its_floor(entry, rendered):
    kinds = {kind for _, kind, _ in KINDS[entry.config_key]}
    assert kinds <= {obj["kind"] for obj in rendered}, "some stack renders every kind"
    assert _errors(entry.floor, entry.config_key, rendered) == []


@pytest.mark.parametrize("key,field", [
    ("keda", "'behavior' was unexpected"),
    ("lws", "'RecreateGroupAfterStart' is not one of"),
    ("envoyGateway", "'streamIdleTimeout' was unexpected"),
    ("gatewayApi", "'name' was unexpected"),
])
def test_the_release_before_the_floor_refuses_what_is_rendered(key, field, rendered):
    errors = _errors(add_on(key).previous, key, rendered)
    assert errors and all(field in error for error in errors), errors


def test_the_prometheus_operator_floor_is_its_crd_api_not_a_field(rendered):
    """Both releases' schemas take the objects (no field is newer than 0.20): the floor comes
    from the CRD API version, stated in the table with its source."""
    entry = add_on("prometheusOperator")
    assert _errors(entry.previous, "prometheusOperator", rendered) == []
    assert "apiextensions.k8s.io/v1" in entry.needs[0].what and "v1beta1" in entry.needs[0].why


def test_a_floor_is_the_newest_release_any_rendered_field_needs():
    assert {row.config_key: row.floor for row in ADD_ONS} == {
        "keda": "2.17.0", "lws": "0.9.0", "prometheusOperator": "0.39.0",
        "envoyGateway": "1.8.0", "gatewayApi": "1.4.0"}
    envoy = add_on("envoyGateway")
    assert not envoy.missing("1.9.0")
    assert [n.what for n in envoy.missing("1.4.2")] == [
        "BackendTrafficPolicy spec.timeout.http.streamIdleTimeout",
        "ClientTrafficPolicy spec.timeout.http.streamIdleTimeout"]
    assert [n.since for n in envoy.missing("1.8.0rc1")] == ["1.8.0"]


def test_every_stored_schema_is_what_the_tool_makes():
    """Converting a stored schema again changes nothing: each is tools/crd_schema.py's output
    (closed objects, typed int-or-string, no descriptions), wherever it came from."""
    files = sorted((SCHEMAS / "versions").rglob("*.json"))
    assert len(files) == 16
    changed = [str(f.relative_to(SCHEMAS)) for f in files
               if crd_schema.dump(crd_schema.strict(json.loads(f.read_text()))) != f.read_text()]
    assert changed == []


def test_the_tool_reads_v1_and_v1beta1_crds_and_keeps_a_property_named_description():
    v1 = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  group: example.io
  names: {kind: Widget}
  versions:
  - name: v1
    served: true
    schema: {openAPIV3Schema: {type: object, description: drop me, properties: {
      spec: {type: object, properties: {description: {type: string},
                                        port: {x-kubernetes-int-or-string: true}}}}}}
  - {name: v0, served: false, schema: {openAPIV3Schema: {type: object}}}
"""
    out = crd_schema.schemas(v1, {"Widget"})
    assert list(out) == ["example.io/widget_v1.json"]
    spec = out["example.io/widget_v1.json"]["properties"]["spec"]
    assert "description" not in out["example.io/widget_v1.json"]
    assert spec["properties"]["description"] == {"type": "string"}
    assert spec["properties"]["port"]["type"] == ["integer", "string"]
    assert spec["additionalProperties"] is False
    v1beta1 = """
apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
spec:
  group: example.io
  names: {kind: Widget}
  version: v1
  validation: {openAPIV3Schema: {properties: {spec: {type: object}}}}
"""
    assert crd_schema.schemas(v1beta1, {"Widget"}) == {
        "example.io/widget_v1.json": {"properties": {"spec": {"type": "object"}},
                                      "additionalProperties": False}}


def _refusal(stack: str, override: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        make_plan(parse(deep_merge(stack_config(stack), override)))
    return str(caught.value)


@pytest.mark.parametrize("stack,key", [("prod", "keda"), ("r1-h100", "lws"),
                                       ("prod", "prometheusOperator"),
                                       ("prod", "envoyGateway"), ("prod", "gatewayApi")])
def test_a_cluster_below_a_floor_is_refused_at_preview(stack, key):
    entry = add_on(key)
    message = _refusal(stack, {"clusterVersions": {key: entry.previous}})
    assert f"clusterVersions.{key} is {entry.previous}" in message
    assert f"upgrade {entry.name} to {entry.floor} or later" in message


@pytest.mark.parametrize("version,words", [
    ("1.7.5", ["BackendTrafficPolicy spec.timeout.http.streamIdleTimeout (from 1.8.0"]),
    ("1.8.0rc1", ["clusterVersions.envoyGateway is 1.8.0rc1"]),
    ("1.4.2", ["ClientTrafficPolicy spec.timeout.http.streamIdleTimeout (from 1.5.0"]),
])
def test_the_refusal_names_each_rendered_field_the_release_does_not_know(version, words):
    message = _refusal("prod", {"clusterVersions": {"envoyGateway": version}})
    assert all(w in message for w in words), message


def _without(key: str, **gateway) -> dict:
    cfg = deep_merge(stack_config("prod"), {"traffic": {"gateway": gateway}})
    cfg["clusterVersions"] = {k: v for k, v in cfg["clusterVersions"].items() if k != key}
    return cfg


@pytest.mark.parametrize("key,words", [
    ("envoyGateway", ["clusterVersions.envoyGateway is not set", "1.8.0 or later",
                      "kubectl -n envoy-gateway-system get deploy envoy-gateway"]),
    ("gatewayApi", ["clusterVersions.gatewayApi is not set", "1.4.0 or later",
                    "bundle-version"]),
])
def test_an_edge_release_left_unstated_is_refused_with_the_command_that_reads_it(key, words):
    with pytest.raises(ConfigError) as caught:
        make_plan(parse(_without(key)))
    assert all(w in str(caught.value) for w in words), str(caught.value)


def test_without_envoy_gateway_only_the_gateway_api_release_is_needed():
    make_plan(parse(_without("envoyGateway", envoyGateway=False)))


@pytest.mark.parametrize("stack,key", [("prod", "keda"), ("r1-h100", "lws"),
                                       ("prod", "prometheusOperator"),
                                       ("prod", "envoyGateway"), ("prod", "gatewayApi")])
def test_a_cluster_at_the_floor_is_accepted(stack, key):
    make_plan(parse(deep_merge(stack_config(stack),
                               {"clusterVersions": {key: add_on(key).floor}})))


def test_a_newer_cluster_and_a_v_prefix_are_accepted():
    cfg = parse(deep_merge(stack_config("prod"), {"clusterVersions": {
        "envoyGateway": "v1.9.0", "gatewayApi": "1.5.1"}}))
    make_plan(cfg)
    assert cfg.cluster_versions.envoy_gateway == "1.9.0"


@pytest.mark.parametrize("stack,key", [("r1-h100", "keda"), ("prod", "lws"),
                                       ("staging", "prometheusOperator"),
                                       ("staging", "envoyGateway"), ("staging", "gatewayApi")])
def test_an_add_on_the_stack_does_not_use_is_not_checked(stack, key):
    make_plan(parse(deep_merge(stack_config(stack), {"clusterVersions": {key: "0.1.0"}})))


@pytest.mark.parametrize("key", ["keda", "gatewayApi"])
def test_a_version_that_is_no_release_is_refused(key):
    with pytest.raises(ConfigError) as caught:
        parse(deep_merge(stack_config("prod"), {"clusterVersions": {key: "latest"}}))
    message = str(caught.value)
    assert f"clusterVersions.{key}" in message and "'latest' is not a release number" in message
    assert add_on(key).read_with in message


def test_a_too_old_envoy_gateway_fails_the_preview_before_any_resource():
    """The refusal is a ConfigError at preview: a plain message, no traceback, nothing created."""
    run = run_stack("prod", {"clusterVersions": {"envoyGateway": "1.7.5"}})
    assert run.error is not None and "clusterVersions.envoyGateway is 1.7.5" in str(run.error)
    assert "Traceback" not in str(run.error)
    assert not [r for r in run.resources if not r.type.startswith("pulumi:providers")]
