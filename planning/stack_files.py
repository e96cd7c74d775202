"""Read a stack's config from Pulumi.yaml and Pulumi.<stack>.yaml without the Pulumi CLI.

Resolves values the way the CLI does: the project's declared defaults, then the stack file's
`vllm-serving:` keys; the `kubernetes:` keys that pin the cluster are read apart. Used by the plan report and the tests; the program itself gets its config
from the CLI.
"""

from __future__ import annotations

import pathlib
from typing import Any

import yaml

from planning.config import PROJECT, ConfigError, check_stack_name

ROOT = pathlib.Path(__file__).resolve().parents[1]


PROVIDER_NAMESPACE = "kubernetes"
PROVIDER_KEYS = ("context", "kubeconfig", "cluster")
"""`kubernetes:*` keys a stack file may set: which cluster the stack deploys to."""


def stack_values(stack: str, root: pathlib.Path = ROOT) -> dict[str, Any]:
    """Top-level config values (keys without the `vllm-serving:` prefix) for `stack`."""
    return _read(stack, root)[0]


def provider_values(stack: str, root: pathlib.Path = ROOT) -> dict[str, str]:
    """The stack file's `kubernetes:*` settings (keys without the prefix)."""
    return _read(stack, root)[1]


def _read(stack: str, root: pathlib.Path) -> tuple[dict[str, Any], dict[str, str]]:
    check_stack_name(stack)
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError([f"stack {stack!r}: no {path.name}; known stacks: {known}"])
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    values: dict[str, Any] = {}
    for key, declared in (project.get("config") or {}).items():
        if isinstance(declared, dict) and "default" in declared:
            values[key] = declared["default"]
    provider: dict[str, str] = {}
    problems = []
    for full_key, value in ((yaml.safe_load(path.read_text()) or {}).get("config") or {}).items():
        namespace, _, key = full_key.partition(":")
        if isinstance(value, dict) and "secure" in value:
            problems.append(f"{full_key}: a secure value needs the Pulumi CLI to decrypt")
        elif namespace == PROJECT:
            values[key] = value
        elif namespace == PROVIDER_NAMESPACE and key in PROVIDER_KEYS:
            provider[key] = str(value)
        else:
            problems.append(
                f"{full_key}: not a setting of this program; use {PROJECT}:<key> (README's "
                f"config reference) or one of "
                f"{', '.join(PROVIDER_NAMESPACE + ':' + k for k in PROVIDER_KEYS)}")
    if problems:
        raise ConfigError(problems)
    return values, provider
