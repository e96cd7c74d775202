"""What `python -m tools.render` writes for each stack, checked offline.

Every rendered object is validated the way an API server would see it, without a cluster
(tests/manifest_checks.py: kubernetes-validate strict for built-in kinds on the seeds' release
and the newest bundled one, jsonschema against schemas/ for custom resources; a custom resource
kind without a schema fails). The tests are generic over whatever objects a run contains.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from packaging.version import Version

from tests.conftest import STACKS
from tests.harness import FAKE_API_KEY, Resource, Run
from tests.manifest_checks import (
    NEWEST_VERSION,
    SEED_VERSION,
    VERSIONS,
    bundled_versions,
    is_builtin,
    object_problems,
)
from tests.schemas import SCHEMAS
from tools import render

# ---------------------------------------------------------------- what a stack renders

@pytest.fixture(scope="module")
def rendered(runs) -> dict[str, dict[str, str]]:
    """{stack: {file name: text}} as `python -m tools.render` writes them."""
    return {stack: render.render_run(run, stack) for stack, run in runs.items()}


def parse(text: str) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def objects(files: dict[str, str]) -> list[dict[str, Any]]:
    """The object of each file (read back from the YAML, as a reviewer sees it)."""
    return [parse(text)[0] for text in files.values()]


def kubernetes_resources(run: Run) -> list[Resource]:
    return [r for r in run.resources if render.api_version_and_kind(r.type) is not None]


def label(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    return f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}"


# ---------------------------------------------------------------- the checkers work

def test_versions_are_the_seed_release_and_the_newest_bundled():
    assert SEED_VERSION in bundled_versions()
    assert NEWEST_VERSION == bundled_versions()[-1]
    assert VERSIONS[0] == SEED_VERSION and VERSIONS[-1] == NEWEST_VERSION
    assert Version(NEWEST_VERSION) > Version("1.29")


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
    "spec": {"selector": {"matchLabels": {"a": "b"}},
             "template": {"metadata": {"labels": {"a": "b"}},
                          "spec": {"containers": [{"name": "c", "image": "i:1"}]}}},
}


def test_a_valid_builtin_passes_and_strict_mode_rejects_unknown_fields():
    assert object_problems(DEPLOYMENT) == []
    broken = json.loads(json.dumps(DEPLOYMENT))
    broken["spec"]["template"]["spec"]["containers"][0]["startupProbes"] = {}
    problems = object_problems(broken)
    assert len(problems) == len(VERSIONS) and all("startupProbes" in p for p in problems)


def test_a_builtin_with_an_unknown_api_version_fails():
    problems = object_problems({**DEPLOYMENT, "apiVersion": "apps/v1beta1"})
    assert problems and "no schema" in problems[0]


SERVICE_MONITOR = {
    "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
    "metadata": {"name": "m", "namespace": "n", "labels": {"release": "p"}},
    "spec": {"selector": {"matchLabels": {"a": "b"}},
             "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}]},
}


def test_custom_resources_are_validated_against_the_shared_schemas():
    assert object_problems(SERVICE_MONITOR) == []
    wrong_type = json.loads(json.dumps(SERVICE_MONITOR))
    wrong_type["spec"]["endpoints"][0]["interval"] = 15
    assert any("interval" in p for p in object_problems(wrong_type))
    unknown_field = json.loads(json.dumps(SERVICE_MONITOR))
    unknown_field["spec"]["endpoint"] = []
    assert object_problems(unknown_field)
    misspelt_spec = {k: v for k, v in SERVICE_MONITOR.items() if k != "spec"}
    misspelt_spec["specs"] = SERVICE_MONITOR["spec"]
    assert object_problems(misspelt_spec)
    bad_metadata = {**SERVICE_MONITOR, "metadata": {"name": "m", "label": {}}}
    assert any(p.startswith("metadata:") for p in object_problems(bad_metadata))


def test_a_custom_resource_without_a_schema_fails():
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    problems = object_problems(widget)
    assert problems and "has no schema" in problems[0]
    # A CRD group under k8s.io is still a custom resource, checked against schemas/.
    assert not is_builtin("gateway.networking.k8s.io/v1", "HTTPRoute")
    assert not is_builtin("networking.istio.io/v1", "Gateway")
    assert is_builtin("networking.k8s.io/v1", "NetworkPolicy") and is_builtin("v1", "Service")


# ---------------------------------------------------------------- both stacks validate

@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_object_validates(rendered, stack):
    objs = objects(rendered[stack])
    assert objs, f"{stack} renders no Kubernetes objects"
    problems = [f"{label(obj)}: {p}" for obj in objs for p in object_problems(obj)]
    assert not problems, (f"{stack}: rendered objects do not validate (Kubernetes "
                          f"{', '.join(VERSIONS)} strict; CRDs against {SCHEMAS}):\n  "
                          + "\n  ".join(problems))


# ---------------------------------------------------------------- the render itself

def test_render_is_stable(runs, rendered):
    """A second, independent run of the program renders byte-identical files: no ordering,
    generated name or hash drifts between runs."""
    from tests.harness import run_stack
    for stack in runs:
        assert render.render_run(run_stack(stack), stack) == rendered[stack], stack


@pytest.mark.parametrize("stack", STACKS)
def test_one_file_per_object_in_kind_order(runs, rendered, stack):
    files = rendered[stack]
    resources = kubernetes_resources(runs[stack])
    assert len(files) == len(resources) > 0
    order = []
    for index, (name, text) in enumerate(files.items(), 1):
        assert text.startswith(render.HEADER + "\n"), name
        docs = parse(text)
        assert len(docs) == 1, f"{name}: {len(docs)} documents"
        obj = docs[0]
        assert name == f"{index:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        kind = obj["kind"]
        rank = render.KIND_ORDER.index(kind) if kind in render.KIND_ORDER else len(
            render.KIND_ORDER)
        order.append((rank, kind, obj["metadata"]["name"]))
    assert order == sorted(order)
    # every Kubernetes resource the program registered is in exactly one file
    rendered_refs = sorted(re.search(r'^# Stack \S+; Pulumi resource (\S+) "([^"]+)"', text,
                                     re.M).groups() for text in files.values())
    assert rendered_refs == sorted((r.type, r.name) for r in resources)


def _walk(value: Any):
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)
    else:
        yield value


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_objects_are_plain_kubernetes(rendered, stack):
    for name, obj in zip(rendered[stack], objects(rendered[stack])):
        leaves = list(_walk(obj))
        assert not [v for v in leaves if isinstance(v, float) and v.is_integer()], name
        text = json.dumps(obj)
        assert "4dabf18193072939515e22adb298388d" not in text, f"{name}: a Pulumi wrapper"
        assert not [key for key in obj if key.startswith("__")], f"{name}: a Pulumi key"


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_are_redacted(runs, rendered, stack):
    files = rendered[stack]
    assert not [name for name, text in files.items() if FAKE_API_KEY in text]
    secrets = [obj for obj in objects(files) if obj["kind"] == "Secret"]
    assert len(secrets) == len(runs[stack].of_type("core/v1:Secret"))
    for secret in secrets:
        fields = {k: secret[k] for k in ("data", "stringData") if k in secret}
        assert fields, f"{label(secret)} has no data"
        for values in fields.values():
            assert values and set(values.values()) == {render.REDACTED}, label(secret)


def test_conversion_of_custom_resources_and_pulumi_values():
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
              "value": "s3cret"}
    resource = Resource("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "mon", {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": "m", "namespace": "n"},
        "spec": {"endpoints": [{"port": "http", "scrapeTimeout": "5s", "bearerTokenSecret":
                                {"name": "t", "key": secret}}],
                 "sampleLimit": 1000.0, "selector": {}},
        "__defaults": [],
    })
    manifest = render.to_manifest(resource)
    assert manifest.obj["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest.obj["spec"]["sampleLimit"] == 1000
    assert isinstance(manifest.obj["spec"]["sampleLimit"], int)
    assert manifest.obj["spec"]["endpoints"][0]["bearerTokenSecret"]["key"] == render.REDACTED
    assert "__defaults" not in manifest.obj
    assert render.api_version_and_kind("kubernetes:core/v1:Secret") == ("v1", "Secret", False)
    assert render.api_version_and_kind("kubernetes:autoscaling/v2:HorizontalPodAutoscaler") == (
        "autoscaling/v2", "HorizontalPodAutoscaler", False)
    assert render.api_version_and_kind("kubernetes:apps/v1:DeploymentPatch") == (
        "apps/v1", "Deployment", True)
    for token in ("pulumi:providers:kubernetes", "random:index/randomPassword:RandomPassword",
                  "docker:index/image:Image", "vllm-serving:index:InferenceDeployment",
                  "kubernetes:helm.sh/v3:Release", "kubernetes:yaml/v2:ConfigGroup",
                  "kubernetes:yaml:ConfigFile"):
        assert render.api_version_and_kind(token) is None, token


# ---------------------------------------------------------------- the command

def test_cli_refuses_an_unknown_stack(tmp_path, capsys):
    assert render.main(["no-such-stack", "--out", str(tmp_path)]) == 1
    assert "no Pulumi.no-such-stack.yaml" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
