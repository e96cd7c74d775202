"""Read a stack's config from Pulumi.yaml and Pulumi.<stack>.yaml without the Pulumi CLI.

Resolves values the way the CLI does: the project's declared defaults, then the stack file's
`vllm-serving:` keys. Used by the plan report and the tests; the program itself gets its config
from the CLI.
"""

from __future__ import annotations

import pathlib
from typing import Any

import yaml

from planning.config import ConfigError, PROJECT

ROOT = pathlib.Path(__file__).resolve().parents[1]


def stack_values(stack: str, root: pathlib.Path = ROOT) -> dict[str, Any]:
    """Top-level config values (keys without the `vllm-serving:` prefix) for `stack`."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError([f"stack {stack!r}: no {path.name}; known stacks: {known}"])
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    values: dict[str, Any] = {}
    for key, declared in (project.get("config") or {}).items():
        if isinstance(declared, dict) and "default" in declared:
            values[key] = declared["default"]
    problems = []
    for full_key, value in ((yaml.safe_load(path.read_text()) or {}).get("config") or {}).items():
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            problems.append(f"{full_key}: config outside the {PROJECT} namespace")
        elif isinstance(value, dict) and "secure" in value:
            problems.append(f"{full_key}: a secure value needs the Pulumi CLI to decrypt")
        else:
            values[key] = value
    if problems:
        raise ConfigError(problems)
    return values
