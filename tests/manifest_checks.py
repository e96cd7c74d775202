"""Kubernetes objects checked the way an API server would see them, without a cluster.

Built-in kinds with kubernetes-validate (strict: unknown fields are errors) against Kubernetes
1.29 (the seeds' version) and the newest release the installed package ships schemas for;
custom resources (Prometheus Operator, KEDA, Gateway API, ...) with jsonschema against
`schemas/<group>/<kind>_<version>.json` in the repository. A custom resource kind without a
schema there fails, so nothing the program creates goes unchecked. Shared by the rendered
manifests (tests/stacks/test_rendered_manifests.py), the cluster versions, the edge and the
config property test.

Cost (measured): kubernetes-validate reads the kind's schema and the release's definitions file
per call, 10-20 ms an object, so its public `validate()` is called directly; the CRD validators
are built once per schema file.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import pathlib
import re
from typing import Any

import jsonschema
import kubernetes_validate
from packaging.version import Version

from tests.schemas import SCHEMAS

SEED_VERSION = "1.29"
"""The Kubernetes release the source articles were written against."""

_SCHEMA_DIR = re.compile(r"^v(\d+)\.(\d+)\.\d+-local-strict$")


def bundled_versions() -> list[str]:
    """`major.minor` of every release kubernetes-validate ships strict schemas for, oldest
    first (from the package's own schema directories)."""
    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    found = {(int(m[1]), int(m[2])) for m in (_SCHEMA_DIR.match(d.name) for d in root.iterdir())
             if m}
    return [f"{major}.{minor}" for major, minor in sorted(found)]


NEWEST_VERSION = bundled_versions()[-1]
VERSIONS = sorted({SEED_VERSION, NEWEST_VERSION}, key=Version)



def group_and_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


@functools.lru_cache(maxsize=None)
def is_builtin(api_version: str, kind: str) -> bool:
    """Whether kubernetes-validate has a schema for exactly this apiVersion and kind in a
    bundled release (its schemas pin both in an enum, so a CRD group that happens to share a
    file name, e.g. networking.istio.io vs networking.k8s.io, is not mistaken for a built-in)."""
    group, version = group_and_version(api_version)
    short = group.split(".")[0]
    name = f"{kind.lower()}-{short + '-' if group else ''}{version}.json"
    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    for release in {SEED_VERSION, NEWEST_VERSION}:
        for directory in root.iterdir():
            match = _SCHEMA_DIR.match(directory.name)
            if not match or f"{match[1]}.{match[2]}" != release:
                continue
            path = directory / name
            if not path.is_file():
                continue
            props = json.loads(path.read_text()).get("properties", {})
            if (api_version in props.get("apiVersion", {}).get("enum", [])
                    and kind in props.get("kind", {}).get("enum", [])):
                return True
    return False


def crd_schema_path(api_version: str, kind: str) -> pathlib.Path:
    group, version = group_and_version(api_version)
    return SCHEMAS / group / f"{kind.lower()}_{version}.json"


_GO_LEADING_FLAGS = re.compile(r"^\^\(\?([a-zA-Z]+)\)")


def _python_patterns(schema: Any) -> Any:
    """The schema with Go-style `^(?i)...` patterns as Python accepts them (`(?i)^...`): the
    CRDs are written for Go's regexp, where inline flags may follow `^`."""
    if isinstance(schema, dict):
        out = {key: _python_patterns(value) for key, value in schema.items()}
        if isinstance(out.get("pattern"), str):
            out["pattern"] = _GO_LEADING_FLAGS.sub(r"(?\1)^", out["pattern"])
        return out
    if isinstance(schema, list):
        return [_python_patterns(item) for item in schema]
    return schema


@functools.lru_cache(maxsize=None)
def crd_validator(path: pathlib.Path) -> jsonschema.Draft202012Validator:
    """A validator for a custom resource schema, strict at the top level too (the catalog's
    schemas close `spec` but not the object itself, so a misspelt `spec` would pass). Built
    once per schema file."""
    schema = _python_patterns(json.loads(path.read_text()))
    schema = {**schema, "additionalProperties": False}
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def builtin_problems(obj: dict[str, Any], version: str) -> list[str]:
    """kubernetes-validate --strict for one release, as messages."""
    try:
        used = kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path) or "(object)"
        return [f"Kubernetes {exc.version}: {where}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"Kubernetes {version}: {exc.message}"]
    if used != version:
        return [f"validated against Kubernetes {used}, not {version}"]
    return []


def custom_problems(obj: dict[str, Any]) -> list[str]:
    """jsonschema against schemas/ (in the repository), plus the object's metadata checked as Kubernetes
    ObjectMeta (strict) — the CRD schemas only say `metadata: object`."""
    path = crd_schema_path(obj["apiVersion"], obj["kind"])
    if not path.is_file():
        return [f"custom resource {obj['apiVersion']} {obj['kind']} has no schema at {path}: "
                f"add the CRD's JSON schema there (see {SCHEMAS / 'SOURCES.md'}) so it is "
                f"validated"]
    problems = [f"{'.'.join(str(p) for p in error.absolute_path) or '(object)'}: "
                f"{error.message}"
                for error in crd_validator(path).iter_errors(obj)]
    # ObjectMeta through the public API: a ConfigMap is valid with metadata alone.
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})}
    for version in VERSIONS:
        problems += [f"metadata: {p}" for p in builtin_problems(carrier, version)]
    return problems


def object_problems(obj: dict[str, Any]) -> list[str]:
    """Everything wrong with one rendered object; empty when it validates."""
    if not obj.get("apiVersion") or not obj.get("kind"):
        return ["apiVersion and kind are required"]
    if is_builtin(obj["apiVersion"], obj["kind"]):
        return [p for version in VERSIONS for p in builtin_problems(obj, version)]
    return custom_problems(obj)
