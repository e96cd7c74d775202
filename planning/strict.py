"""The one leniency rule of stack config: numbers may be written as strings, booleans are not
numbers.

`pulumi config set --path model.maxModelLen 16384` stores the string "16384", so number fields
must keep pydantic's lax string-to-number conversion; pydantic strict types would refuse it.
But lax mode also reads `true` as 1 (`maxModelLen: true` would serve a 1-token context,
`readMibPerSecond: true` would budget an 11-day weight load). `NoBoolForNumbers` is the base of
every config model: a boolean given to a field whose type has no `bool` in it is refused before
pydantic converts it, whatever else the field accepts.
"""

from __future__ import annotations

import functools
import typing
from typing import Any

from pydantic import BaseModel, ValidationInfo, field_validator


@functools.cache
def _admits_bool(annotation: Any) -> bool:
    """True when `bool` (or Any, or an untyped dict/list whose items are free) is part of the
    annotation, looking through Optional, Annotated, unions and containers."""
    if annotation is bool or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _admits_bool(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return any(isinstance(arg, bool) for arg in typing.get_args(annotation))
    if origin in (list, dict, tuple, set, frozenset):
        return False   # the container itself is never a bool; its items are checked inside
    return any(_admits_bool(arg) for arg in typing.get_args(annotation))


class NoBoolForNumbers(BaseModel):
    """Base of config models: refuses `true`/`false` where the field is not a boolean."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_where_a_number_belongs(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool):
            field = cls.model_fields.get(info.field_name or "")
            if field is not None and not _admits_bool(field.annotation):
                raise ValueError("a boolean is not a value here (true is not read as 1); "
                                 "write the number or text itself")
        return value
