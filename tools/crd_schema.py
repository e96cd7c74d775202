"""Turn CustomResourceDefinition YAML into the strict JSON schemas the tests validate against.

    python -m tools.crd_schema CRDS.yaml OUT_DIR Kind [Kind ...]

Writes `OUT_DIR/<group>/<kind>_<version>.json` for every served version of each named kind: the
version's `openAPIV3Schema` (apiextensions.k8s.io/v1 `spec.versions[].schema`, or the v1beta1
`spec.validation` older releases ship), with every object that lists its properties closed
(`additionalProperties: false`), so a field the release does not know fails validation instead
of being pruned by the API server without a word; `x-kubernetes-int-or-string` typed as integer
or string; descriptions dropped. Helm template lines (`{{ ... }}`, as Envoy Gateway's chart wraps
its CRDs) are dropped first. CEL rules (`x-kubernetes-validations`) stay as annotations only:
JSON-schema validators do not run them.

schemas/SOURCES.md lists the upstream file and tag each schema in schemas/versions/ came from.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any

import yaml


_NAMED_SCHEMAS = ("properties", "patternProperties", "definitions")
"""Keys whose value maps names to schemas: a property called `description` is kept."""


def strict(node: Any) -> Any:
    """Closed objects, int-or-string typed, descriptions dropped, recursively. Idempotent, so a
    stored schema is a fixed point of it."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: ({name: strict(sub) for name, sub in value.items()}
                 if key in _NAMED_SCHEMAS and isinstance(value, dict) else strict(value))
           for key, value in node.items() if key != "description"}
    if out.get("x-kubernetes-int-or-string") and "type" not in out:
        out["type"] = ["integer", "string"]
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def crds(text: str) -> list[dict]:
    """The CRDs in a YAML stream, Helm template lines removed."""
    plain = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("{{"))
    return [doc for doc in yaml.safe_load_all(plain)
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"]


def _served(spec: dict) -> list[tuple[str, dict]]:
    """(version, openAPIV3Schema) for each served version; v1beta1 CRDs share one schema."""
    shared = spec.get("validation", {}).get("openAPIV3Schema")
    versions = spec.get("versions") or [{"name": spec["version"]}]
    return [(v["name"], v["schema"]["openAPIV3Schema"] if "schema" in v else shared)
            for v in versions
            if v.get("served", True) and ("schema" in v or shared is not None)]


def schemas(text: str, kinds: set[str]) -> dict[str, dict]:
    """`<group>/<kind>_<version>.json` -> strict schema, for the named kinds."""
    out = {}
    for crd in crds(text):
        spec = crd["spec"]
        if spec["names"]["kind"] not in kinds:
            continue
        for version, schema in _served(spec):
            out[f"{spec['group']}/{spec['names']['kind'].lower()}_{version}.json"] = strict(schema)
    return out


def dump(schema: dict) -> str:
    """The stored form: sorted keys, compact (the LeaderWorkerSet's pod templates are large)."""
    return json.dumps(schema, separators=(",", ":"), sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crds", type=pathlib.Path)
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("kinds", nargs="+")
    args = parser.parse_args(argv)
    found = schemas(args.crds.read_text(), set(args.kinds))
    for path, schema in sorted(found.items()):
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dump(schema))
        print(target)
    if not found:
        print(f"no CRD of {args.kinds} in {args.crds}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
