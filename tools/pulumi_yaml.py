"""Write Pulumi.yaml's `config:` block from the stack config models, so keys are declared once.

    python -m tools.pulumi_yaml            # rewrite Pulumi.yaml's config: block
    python -m tools.pulumi_yaml --check    # exit 1 (and say so) when Pulumi.yaml has drifted

Every top-level field of `planning.config.StackConfig` becomes a declaration: its Pulumi type
(string, integer, boolean, array, object), its description, and a `default` unless the model
requires it. The CLI treats a declared key without `default` or `value` as required in every
stack (pulumi/pulumi pkg/workspace/config.go `mergeConfig`), so:
- a key the model requires (vllmVersion, model, gpu, storage) is declared without a default:
  the CLI and the program refuse the same stacks;
- an object key gets `default: {}`: the CLI hands the program `{}` and the model's own
  defaults apply (declared once, in planning/config/);
- a scalar gets the model's default;
- an optional key whose default is None is not declared (YAML `default: null` is "absent" to
  the CLI, so the key would be required); the CLI passes undeclared keys on unchecked
  (pulumi's TestUntypedStackConfigValuesDoNeedProjectDeclaration), and a comment names them.
Everything above the `config:` line of Pulumi.yaml is kept as it is.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from typing import Callable

import pydantic
import yaml

from planning import pulumi_cli
from planning.config import StackConfig
from planning.stack_files import ROOT

PATH = ROOT / "Pulumi.yaml"
HEADER = ("  # Generated from planning/config/ by `python -m tools.pulumi_yaml`; edit the "
          "models, not this block.\n  # Objects need Pulumi CLI >= "
          f"{pulumi_cli.OBJECT_TYPE_SINCE} (CHANGELOG 3.187.0: config values of type `object`).")

_SCALARS = {str: "string", bool: "boolean", int: "integer"}


def _pulumi_type(annotation: typing.Any) -> tuple[str, dict | None]:
    """The CLI's type (and `items` for arrays) for a model field's annotation."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return "object", None
    if annotation in _SCALARS:
        return _SCALARS[annotation], None
    origin = typing.get_origin(annotation)
    arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(arguments) == 1:
        return _pulumi_type(arguments[0])   # Optional[X]
    if origin in (list, tuple):
        item_type, item_items = _pulumi_type(typing.get_args(annotation)[0])
        return "array", {"type": item_type, **({"items": item_items} if item_items else {})}
    if origin is dict:
        return "object", None
    raise ValueError(f"no Pulumi config type for {annotation!r}: declare it by hand or change "
                     "the model")


def keys_of(model: type[pydantic.BaseModel]) -> str:
    """A model's keys as a stack file spells them."""
    return ", ".join(f.alias or name for name, f in model.model_fields.items())


def _description(key: str, field: pydantic.fields.FieldInfo) -> str:
    """The field's description (its docstring's first paragraph for an undescribed model),
    followed by the keys of a model."""
    model = field.annotation
    is_model = isinstance(model, type) and issubclass(model, pydantic.BaseModel)
    if field.description:
        text = field.description.rstrip(".") + "."
    elif is_model:
        text = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())
    else:
        raise ValueError(f"{key}: no description; give its Field a description")
    return f"{text} Keys: {keys_of(model)}." if is_model else text


def declarations() -> dict[str, dict]:
    """Pulumi.yaml's `config:` entries, in the model's field order (None-default keys left out)."""
    entries: dict[str, dict] = {}
    for name, field in StackConfig.model_fields.items():
        key = field.alias or name
        kind, items = _pulumi_type(field.annotation)
        entry: dict = {"type": kind, **({"items": items} if items else {})}
        if not field.is_required():
            default = {} if kind == "object" else field.get_default(call_default_factory=True)
            if default is None:
                continue
            entry["default"] = default
        entry["description"] = _description(key, field)
        entries[key] = entry
    return entries


def undeclared() -> list[str]:
    """Model keys Pulumi.yaml cannot declare: optional, with no default but None."""
    return [field.alias or name for name, field in StackConfig.model_fields.items()
            if (field.alias or name) not in declarations()]


def render(current: str) -> str:
    """`current` (Pulumi.yaml's text) with its config: block generated."""
    head = current.split("\nconfig:", 1)[0].rstrip("\n")
    body = yaml.safe_dump({"config": declarations()}, sort_keys=False, width=100,
                          allow_unicode=True)
    left_out = ", ".join(undeclared())
    note = f"\n  # Not declared (optional, no default the CLI can hold): {left_out}." \
        if left_out else ""
    return f"{head}\nconfig:\n{HEADER}{note}\n{body.split(chr(10), 1)[1]}"


def write_or_check(argv: list[str] | None, description: str, path, render: Callable[[str], str],
                   tool: str, count: Callable[[], int],
                   accept: Callable[[str], object] = lambda text: None) -> int:
    """The command line of a generated file: write `render(current)` to `path`, or with
    `--check` exit 1 when the file differs from it. `accept` vets the text before writing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when {path.name} differs from the models")
    args = parser.parse_args(argv)
    current = path.read_text()
    wanted = render(current)
    if args.check:
        if wanted != current:
            print(f"{path.name}'s generated part differs from planning/config/; run "
                  f"`python -m {tool}`", file=sys.stderr)
            return 1
        return 0
    accept(wanted)
    path.write_text(wanted)
    print(f"wrote {path.name}: {count()} config keys")
    return 0


def main(argv: list[str] | None = None) -> int:
    return write_or_check(
        argv, __doc__.splitlines()[0], PATH, render, "tools.pulumi_yaml",
        lambda: len(declarations()),
        # The CLI must accept what we write.
        lambda text: pulumi_cli.declarations(pulumi_cli.load_yaml(text)))


if __name__ == "__main__":
    sys.exit(main())
