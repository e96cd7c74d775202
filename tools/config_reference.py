"""Write README.md's config reference table from the stack config models, so keys are declared once.

    python -m tools.config_reference            # rewrite the table between README.md's markers
    python -m tools.config_reference --check    # exit 1 (and say so) when README.md has drifted

One row per key the models in planning/config/ declare, walking into nested models
(`gpu.layout`, `traffic.router.replicas`). A nested model whose field carries a description of
its own is one row that lists its keys (`traffic.clients[]`, a `{name, key}` Secret reference).
The meaning is the field's `Field(description=...)`, read by the same rule that writes
Pulumi.yaml's descriptions (tools/pulumi_yaml.py `_description`), so the README, Pulumi.yaml and
the models say the same thing. A key without a description stops the tool: describe it in the
model.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from typing import Iterator, Optional

import pydantic

from planning.config import StackConfig
from planning.stack_files import ROOT
from tools.pulumi_yaml import _description, keys_of, write_or_check

PATH = ROOT / "README.md"
BEGIN = ("<!-- config reference: generated from planning/config/ by "
         "`python -m tools.config_reference`; edit the models, not this table -->")
END = "<!-- end of config reference -->"


def _nested(annotation: typing.Any) -> tuple[Optional[type[pydantic.BaseModel]], str]:
    """The model a field holds (through Optional, list and dict) and the key suffix that
    reaches it: `[]` for a list item, `.<name>` for a map value."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation, ""
    origin = typing.get_origin(annotation)
    arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(arguments) == 1:
        return _nested(arguments[0])
    if origin in (list, tuple) and arguments:
        model, suffix = _nested(arguments[0])
        return model, f"[]{suffix}" if model else ""
    if origin is dict and len(arguments) == 2:
        model, suffix = _nested(arguments[1])
        return model, f".<name>{suffix}" if model else ""
    return None, ""


def _default(field: pydantic.fields.FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "—"
    if isinstance(value, pydantic.BaseModel):
        return "`{}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def rows(model: Optional[type[pydantic.BaseModel]] = None, prefix: str = ""
         ) -> Iterator[tuple[str, str, str]]:
    """(key, default, meaning) for every key of `model` (the stack's), in field order."""
    for name, field in (model or StackConfig).model_fields.items():
        key = prefix + (field.alias or name)
        nested, suffix = _nested(field.annotation)
        if nested is not None and not field.description:
            yield from rows(nested, f"{key}{suffix}.")
            continue
        meaning = _description(key, field)   # lists the keys of a model it holds directly
        if nested is not None and nested is not field.annotation:
            meaning = f"{meaning} Keys: {keys_of(nested)}."
        yield key + suffix, _default(field), meaning


def table() -> str:
    lines = ["| key | default | meaning |", "|---|---|---|"]
    lines += [f"| `{key}` | {default} | {meaning.replace('|', '&#124;')} |"
              for key, default, meaning in rows()]
    return "\n".join(lines)


def render(current: str) -> str:
    """`current` (README.md's text) with the table between the markers generated."""
    head, found, rest = current.partition(BEGIN + "\n")
    if not found or END not in rest:
        raise ValueError(f"README.md lacks the markers {BEGIN!r} … {END!r}")
    return f"{head}{BEGIN}\n{table()}\n{END}{rest.split(END, 1)[1]}"


def main(argv: list[str] | None = None) -> int:
    return write_or_check(argv, __doc__.splitlines()[0], PATH, render, "tools.config_reference",
                          lambda: len(list(rows())))


if __name__ == "__main__":
    sys.exit(main())
