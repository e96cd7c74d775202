"""Write what a stack would apply as Kubernetes YAML, one file per object, for review.

    python -m tools.render staging prod                # into ./rendered/<stack>/
    python -m tools.render prod --out /tmp/review

Runs the stack's program under the same Pulumi mocks as the tests (`tools/mockrun.py`: no Pulumi
CLI, no cluster, no network) and turns every Kubernetes object it registers from Pulumi's input
form into a manifest: `apiVersion`/`kind` from the type token, whole-number floats back to
integers, Pulumi's wrappers and internal keys dropped, Secret values redacted. Providers,
components and non-Kubernetes resources (random, docker) are skipped.

Files are `<out>/<stack>/<NN>-<kind>-<name>.yaml`, numbered in a fixed kind order (namespace
first, storage, config, workload, then policy, monitoring and autoscaling objects) and by name
within a kind, so the same config always gives byte-identical files and a diff of the directory
shows exactly what a change does. Stale `*.yaml` files in `<out>/<stack>/` are removed.

Beside them, `<out>/<stack>/resources.json` holds every registered resource as the policy pack
sees it (`[{type, name, props}]`, secrets redacted), the input of
`python -m policy.offline <out>/<stack>/resources.json --config policy/config/<stack>.json`.

For review only: Pulumi owns these objects (names, digests and generated values are resolved at
deploy time; the API key is redacted), so there are no manifests to apply: deploy with
`pulumi up`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys
from typing import Any, Iterable, Optional

import yaml

from planning.config import ConfigError
from tools.mockrun import Resource, Run, run_stack

HEADER = ("# Rendered by tools/render.py for review only — Pulumi owns these objects; do not "
          "kubectl apply. Deploy with pulumi up.")
REDACTED = "<redacted>"
COMPUTED = "<computed at deploy time>"

KIND_ORDER = (
    "Namespace", "PersistentVolume", "PersistentVolumeClaim", "Secret", "ConfigMap", "Service",
    "Deployment", "Job", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor",
    "PrometheusRule", "ScaledObject", "HorizontalPodAutoscaler",
)
"""Kinds in file order; any other kind follows, alphabetically."""

# pulumi-kubernetes modules whose resources are components, not objects the API server stores.
_COMPONENT_GROUPS = frozenset({"helm.sh", "yaml", "kustomize"})

# Pulumi's wire format for special values inside inputs (pulumi.runtime.rpc).
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclasses.dataclass(frozen=True)
class Manifest:
    """One Kubernetes object as it would be stored, and the Pulumi resource it comes from."""

    obj: dict[str, Any]
    resource: Resource
    autonamed: bool = False
    patch: bool = False

    @property
    def kind(self) -> str:
        return self.obj["kind"]

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.obj["metadata"].get("namespace", "")


def api_version_and_kind(type_token: str) -> Optional[tuple[str, str, bool]]:
    """`kubernetes:apps/v1:Deployment` -> ('apps/v1', 'Deployment', False); the core group has
    no prefix (`kubernetes:core/v1:Secret` -> 'v1'); `...Patch` types give the patched kind and
    True. None for anything that is not a Kubernetes object (providers, components, Helm, YAML
    groups, other packages)."""
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or "/" not in parts[1]:
        return None
    group, _, version = parts[1].rpartition("/")
    if group in _COMPONENT_GROUPS:
        return None
    kind, patch = parts[2], False
    if kind.endswith("Patch") and kind != "Patch":
        kind, patch = kind[: -len("Patch")], True
    return (version if group == "core" else f"{group}/{version}"), kind, patch


def _plain(value: Any) -> Any:
    """Pulumi input form -> plain data: whole floats to int, secrets redacted, wrappers
    dropped; dict keys in a stable order."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return REDACTED
        if value.get(_SIG_KEY) == _OUTPUT_VALUE_SIG:
            if value.get("secret"):
                return REDACTED
            return _plain(value["value"]) if "value" in value else COMPUTED
        return {key: _plain(value[key]) for key in _ordered_keys(value) if key != _SIG_KEY}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == _UNKNOWN:
        return COMPUTED
    return value


def _ordered_keys(mapping: dict[str, Any]) -> list[str]:
    """`kubectl get -o yaml` order (alphabetical), except the identifying keys first."""
    first = [key for key in ("apiVersion", "kind", "name", "namespace", "metadata")
             if key in mapping]
    return first + sorted(key for key in mapping if key not in first)


def _unwrap(value: Any) -> Any:
    """A secret- or output-wrapped value's content (to reach a Secret's keys)."""
    while isinstance(value, dict) and value.get(_SIG_KEY) in (_SECRET_SIG, _OUTPUT_VALUE_SIG):
        value = value.get("value", {})
    return value


def to_manifest(resource: Resource) -> Optional[Manifest]:
    """The Kubernetes object a registered resource stands for, or None if it is not one."""
    ident = api_version_and_kind(resource.type)
    if ident is None:
        return None
    api_version, kind, patch = ident
    # `__`-prefixed top-level keys are the SDK's bookkeeping, never part of the object.
    inputs = {key: value for key, value in resource.inputs.items() if not key.startswith("__")}
    redacted_fields = {}
    if kind == "Secret":
        for field in ("data", "stringData"):
            if field in inputs:
                content = _unwrap(inputs.pop(field))
                redacted_fields[field] = ({key: REDACTED for key in content}
                                          if isinstance(content, dict) else REDACTED)
    obj = _plain(inputs)
    obj.update(redacted_fields)
    # Custom resources carry their own apiVersion/kind; built-ins get them from the token.
    obj["apiVersion"] = obj.get("apiVersion") or api_version
    obj["kind"] = obj.get("kind") or kind
    metadata = dict(obj.get("metadata") or {})
    autonamed = "name" not in metadata
    if autonamed:  # Pulumi adds a random suffix at deploy time
        metadata["name"] = resource.name
    obj["metadata"] = {key: metadata[key] for key in _ordered_keys(metadata)}
    obj = {key: obj[key] for key in _ordered_keys(obj)}
    return Manifest(obj, resource, autonamed, patch)


def _sort_key(manifest: Manifest) -> tuple:
    kind = manifest.kind
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    return rank, kind, manifest.name, manifest.namespace, manifest.resource.name


def manifests(run: Run) -> list[Manifest]:
    """Every Kubernetes object of a run, in file order."""
    found = [m for m in (to_manifest(r) for r in run.resources) if m is not None]
    return sorted(found, key=_sort_key)


class RenderError(Exception):
    """A stack that cannot be rendered: unknown, or its program stops (invalid config)."""


class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line strings (scripts, rules) as literal blocks."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def to_yaml(manifest: Manifest, stack: str) -> str:
    """One file's text: the header, where the object comes from, the object."""
    resource = manifest.resource
    source = f"# Stack {stack}; Pulumi resource {resource.type} \"{resource.name}\"."
    lines = [HEADER, source]
    if manifest.autonamed:
        lines.append("# metadata.name: Pulumi auto-names this object (a random suffix is added "
                     "at deploy time).")
    if manifest.patch:
        lines.append("# A server-side apply patch of an existing object, not a whole object.")
    body = yaml.dump(manifest.obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)
    return "\n".join(lines) + "\n---\n" + body


def file_names(items: list[Manifest]) -> list[str]:
    """`<NN>-<kind>-<name>.yaml` for each object, numbered in order."""
    width = max(2, len(str(len(items))))
    return [f"{i:0{width}d}-{m.kind.lower()}-{m.name}.yaml" for i, m in enumerate(items, 1)]


def render_run(run: Run, stack: str) -> dict[str, str]:
    """{file name: text} for every Kubernetes object of a run, in file order."""
    items = manifests(run)
    return dict(zip(file_names(items), (to_yaml(m, stack) for m in items)))


RESOURCES_FILE = "resources.json"
"""The run's resources for `python -m policy.offline`, beside the YAML files."""


def resources_json(run: Run) -> str:
    """Every resource the run registered, as policy/offline.py reads them: `type`, `name` and
    `props` (the inputs in plain form, secrets redacted), sorted by type and name (the order
    the mocks register them in varies between runs)."""
    resources = sorted(run.resources, key=lambda r: (r.type, r.name))
    return json.dumps([{"type": r.type, "name": r.name,
                        "props": _plain({k: v for k, v in r.inputs.items()
                                         if not k.startswith("__")})}
                       for r in resources], indent=1, sort_keys=True) + "\n"


def write(files: dict[str, str], directory: pathlib.Path) -> None:
    """Replace the `*.yaml` files in `directory` with `files`."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.yaml"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")


def render_stack(stack: str, out: pathlib.Path) -> list[str]:
    """Run a stack under mocks and write its objects into `out/<stack>/`; the file names."""
    try:
        run = run_stack(stack)
    except ConfigError as exc:
        raise RenderError(f"{stack}: {exc}") from exc
    if run.error is not None:
        raise RenderError(f"{stack}: the program stopped: {run.error}")
    files = render_run(run, stack)
    write(files, out / stack)
    (out / stack / RESOURCES_FILE).write_text(resources_json(run), encoding="utf-8")
    return list(files)


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.render",
        description="Write each stack's Kubernetes objects as YAML for review (not for applying).")
    parser.add_argument("stacks", nargs="+", metavar="stack", help="stack name, e.g. prod")
    parser.add_argument("--out", default="rendered", type=pathlib.Path,
                        help="output directory (default: ./rendered)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    for stack in args.stacks:
        try:
            names = render_stack(stack, args.out)
        except RenderError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"{stack}: {len(names)} objects in {args.out / stack}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
