"""A config problem as a person reads it: `ConfigError` and one sentence per pydantic error."""

from __future__ import annotations

import pydantic


class ConfigError(Exception):
    """Invalid stack configuration; the message lists every problem for a person to fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "The stack configuration is invalid; nothing was created.\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )



def _key_path(loc: tuple) -> str:
    parts = []
    for piece in loc:
        if isinstance(piece, int) and parts:
            parts[-1] = f"{parts[-1]}[{piece}]"
        elif isinstance(piece, int):
            parts.append(f"[{piece}]")
        else:
            parts.append(str(piece))
    return ".".join(parts)


def describe_errors(error: pydantic.ValidationError) -> list[str]:
    """One sentence per problem: the key, the value given, and what is allowed."""
    problems = []
    for item in error.errors(include_url=False):
        key = _key_path(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key (value {item['input']!r}); check its spelling "
                            "against README.md's config reference")
        elif item["type"] == "missing":
            problems.append(f"{key}: required but not set")
        elif key:
            problems.append(f"{key}: {message} (given {item['input']!r})")
        else:
            problems.append(message)
    return problems


