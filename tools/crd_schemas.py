"""Turn CustomResourceDefinition YAML into strict JSON schemas (one file per kind and version).

    python -m tools.crd_schemas CRDS.yaml OUT_DIR Kind [Kind ...]

Writes `OUT_DIR/<group>/<kind>_<version>.json` for every served version of each named kind:
the version's `openAPIV3Schema` with `additionalProperties: false` added to every object that
lists its properties (as the datree catalog's strict schemas in ../shared/schemas do), so a field
the release does not know fails validation. Helm template lines (`{{ ... }}`, as Envoy Gateway's
chart wraps its CRDs) are dropped first. CEL rules (`x-kubernetes-validations`) are kept as
annotations only: JSON-schema validators do not run them.

How schemas/ was made from the upstream releases is in schemas/SOURCES.md.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any

import yaml


def strict(schema: Any) -> Any:
    """The schema with closed objects; `x-kubernetes-int-or-string` as integer-or-string."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
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


def schemas(text: str, kinds: set[str]) -> dict[str, dict]:
    """`<group>/<kind>_<version>.json` → strict schema, for the named kinds."""
    out = {}
    for crd in crds(text):
        spec = crd["spec"]
        if spec["names"]["kind"] not in kinds:
            continue
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            path = f"{spec['group']}/{spec['names']['kind'].lower()}_{version['name']}.json"
            out[path] = strict(version["schema"]["openAPIV3Schema"])
    return out


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
        target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        print(target)
    if not found:
        print(f"no CRD of {args.kinds} in {args.crds}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
