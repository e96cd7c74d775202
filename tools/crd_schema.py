"""A CustomResourceDefinition's schema as the JSON schema the tests validate against.

`python -m tools.crd_schema <version> < crd.yaml > schemas/versions/...json` takes the
`openAPIV3Schema` of the CRD's `<version>` (apiextensions.k8s.io/v1 `spec.versions[].schema`, or
the v1beta1 `spec.validation` of older releases), closes every object that lists its properties
(`additionalProperties: false`, as the strict schemas in schemas/ do, so a field the release does
not know fails instead of being pruned by the API server without a word) and drops descriptions.
schemas/SOURCES.md lists the command each file in schemas/versions/ came from.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml


def strict(node: Any) -> Any:
    """Close objects with listed properties, recursively; descriptions dropped."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items() if key != "description"}
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def schema_of(crd_text: str, version: str) -> dict:
    """The strict schema of `version` in the CRD document(s) of `crd_text`."""
    for doc in yaml.safe_load_all(crd_text):
        if not doc or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        for served in spec.get("versions", []):
            if served["name"] == version and "schema" in served:
                return strict(served["schema"]["openAPIV3Schema"])
        if "validation" in spec and version in (spec.get("version"),
                                                *(v["name"] for v in spec.get("versions", []))):
            return strict(spec["validation"]["openAPIV3Schema"])
    raise SystemExit(f"no schema for version {version!r} in this CRD")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="the CRD version, e.g. v1 or v1alpha1")
    args = parser.parse_args()
    json.dump(schema_of(sys.stdin.read(), args.version), sys.stdout, separators=(",", ":"),
              sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
