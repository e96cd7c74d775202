"""Read a stack's config from Pulumi.yaml and Pulumi.<stack>.yaml without the Pulumi CLI, by the
CLI's own rules (`planning/pulumi_cli.py`, each cited from pulumi/pulumi's source).

`resolve(stack)` does what `pulumi preview` does before the program runs: the project's
declarations validated, the stack's keys namespaced, the project's defaults merged in, a declared
key with no default required in every stack, typed keys checked against the stack's text. What it
returns is what the CLI hands the program (`PULUMI_CONFIG`: every value as text) and which keys
are secret; `stack_values` decodes the project's keys exactly as the program does
(`planning.config.values_from_cli`). A stack the CLI refuses is refused here with the CLI's
words.

Then the program's own rules on the file (the CLI passes any key to the program):
- `kubernetes:` keys other than the cluster's (`context`, `kubeconfig`, `cluster`) and keys of
  other namespaces are refused: the program hands only those three to its explicit provider, so
  any other would be silently ignored.
- `secure:` values are passed through as the text SECRET_TEXT (the CLI would hand the program
  the plaintext; offline it is unknown), and their keys are listed as secret, so the plan and
  the render work on a stack with a secret kubeconfig. A project key that is a number or a
  boolean as a whole is refused when secure: the plan needs its value.
- An ESC `environment:` block is refused: the CLI opens the environments through Pulumi Cloud and
  merges their `pulumiConfig` under the stack's values (pkg/workspace/config.go `mergeConfig`),
  so offline the stack's config is not known.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import yaml

from planning import pulumi_cli
from planning.config import PROJECT, ConfigError, check_stack_name, values_from_cli

ROOT = pathlib.Path(__file__).resolve().parents[1]

PROVIDER_NAMESPACE = "kubernetes"
PROVIDER_KEYS = ("context", "kubeconfig", "cluster")
"""`kubernetes:*` keys a stack file may set: which cluster the stack deploys to."""

SECRET_TEXT = "<secret>"
"""What the loader hands on where the stack file holds ciphertext."""

_HINTS = {
    "is missing configuration": "a key Pulumi.yaml declares with no `default` is required in "
                                "every stack: set it in Pulumi.{stack}.yaml, or give the "
                                "declaration a `default` (`python -m tools.pulumi_yaml`)",
    "must be of type": "the CLI checks the stack file's value against Pulumi.yaml's `type` "
                       "(integer: a whole number, also as text; boolean: true or false)",
    "must be encrypted": "set it with `pulumi config set --secret`",
    "the same key as": "the CLI keeps one of the two, in Go's map order",
}


@dataclasses.dataclass(frozen=True)
class ResolvedStack:
    """A stack's config as the CLI hands it to the program."""

    stack: str
    config: dict[str, str]
    """`ns:key` -> text (objects as JSON; SECRET_TEXT where the file holds ciphertext)."""
    secret_keys: tuple[str, ...]

    def values(self) -> dict[str, Any]:
        """The project's keys (without the `vllm-serving:` prefix), decoded as the program does."""
        return values_from_cli(self.config)

    def provider(self) -> dict[str, str]:
        """The `kubernetes:*` settings that pin the cluster (keys without the prefix)."""
        return {key: self.config[f"{PROVIDER_NAMESPACE}:{key}"] for key in PROVIDER_KEYS
                if f"{PROVIDER_NAMESPACE}:{key}" in self.config}


def stack_values(stack: str, root: pathlib.Path = ROOT) -> dict[str, Any]:
    """Top-level config values (keys without the `vllm-serving:` prefix) for `stack`."""
    return resolve(stack, root).values()


def provider_values(stack: str, root: pathlib.Path = ROOT) -> dict[str, str]:
    """The stack file's `kubernetes:*` settings (keys without the prefix)."""
    return resolve(stack, root).provider()


def resolve(stack: str, root: pathlib.Path = ROOT) -> ResolvedStack:
    """Pulumi.yaml and Pulumi.<stack>.yaml resolved by the CLI's rules, then the program's."""
    check_stack_name(stack)
    project = _mapping(root / "Pulumi.yaml")
    path = _stack_directory(project, root) / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")]
                       for p in path.parent.glob("Pulumi.*.yaml"))
        raise ConfigError([f"stack {stack!r}: no {path.name}; known stacks: {known}"])
    document = _mapping(path)
    _refuse_environments(stack, document)
    name = project.get("name", PROJECT)
    try:
        declared = pulumi_cli.declarations(project)
        merged = pulumi_cli.resolve_config(stack, project, document, SECRET_TEXT)
    except pulumi_cli.CliError as error:
        raise ConfigError([_with_hint(stack, problem) for problem in error.problems]) from None
    problems = _program_problems(name, declared, merged)
    if problems:
        raise ConfigError(problems)
    return ResolvedStack(stack, {key: value.text for key, value in merged.items()},
                         tuple(sorted(key for key, value in merged.items() if value.secure)))


def _mapping(path: pathlib.Path) -> dict:
    """A YAML file that must hold a mapping, read as the CLI reads it."""
    try:
        document = pulumi_cli.load_yaml(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError([f"{path.name}: not valid YAML ({error})"]) from None
    if document is not None and not isinstance(document, dict):
        raise ConfigError([f"{path.name}: expected a mapping at the top, found "
                           f"{type(document).__name__}"])
    return document or {}


def _stack_directory(project: dict, root: pathlib.Path) -> pathlib.Path:
    """Where the CLI looks for stack files: `stackConfigDir`, or the old string `config:`
    (project.go `RewriteConfigPathIntoStackConfigDir`)."""
    directory = project.get("stackConfigDir")
    if directory is None and isinstance(project.get("config"), str):
        directory = project["config"]
    return root / directory if directory else root


def _refuse_environments(stack: str, document: dict) -> None:
    environment = document.get("environment")
    if environment:
        raise ConfigError([
            f"Pulumi.{stack}.yaml imports ESC environment(s) {environment!r}: the Pulumi CLI "
            "opens them through Pulumi Cloud and merges their pulumiConfig under this file's "
            "values (pkg/workspace/config.go mergeConfig), which this offline loader cannot. "
            f"Review the stack with `pulumi preview --stack {stack}`, or copy the values it "
            "needs into the stack file (`pulumi env open <org>/<project>/<env> pulumiConfig "
            "--format yaml` shows them) and drop the import"])


def _with_hint(stack: str, problem: str) -> str:
    for marker, hint in _HINTS.items():
        if marker in problem:
            return f"{problem} (the Pulumi CLI refuses this before the program runs; {hint})" \
                .replace("{stack}", stack)
    return f"{problem} (the Pulumi CLI refuses this before the program runs)"


def _program_problems(project: str, declared: dict[str, pulumi_cli.Declaration],
                      merged: dict[str, pulumi_cli.Value]) -> list[str]:
    """This program's rules on what the CLI accepted (see the module docstring)."""
    problems = []
    for full_key, value in sorted(merged.items()):
        namespace, key = full_key.split(":", 1)
        if namespace == project:
            declaration = declared.get(key) or pulumi_cli.Declaration()
            if value.secure and not value.object and declaration.type != "string":
                problems.append(
                    f"{full_key}: a secure value, which the CLI decrypts for the program but "
                    "this loader cannot, and the plan needs it; it is no secret: store it in "
                    f"plain text (`pulumi config set {key} <value>`)")
        elif not (namespace == PROVIDER_NAMESPACE and key in PROVIDER_KEYS):
            problems.append(
                f"{full_key}: not a setting of this program (the CLI passes it on, the program "
                f"reads no such key); use {PROJECT}:<key> (README's config reference) or one of "
                f"{', '.join(PROVIDER_NAMESPACE + ':' + k for k in PROVIDER_KEYS)}")
    return problems
