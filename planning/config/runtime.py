"""Reading config as the Pulumi CLI hands it over: the stack's keys, the cluster pin and
the stack name."""

from __future__ import annotations

import re
from typing import Optional

import pydantic
from pydantic import Field

from planning.config.base import PROJECT, SERVICE_NAME, _Model
from planning.config.errors import ConfigError, describe_errors
from planning.config.stack import StackConfig


class ClusterConfig(_Model):
    """Which cluster the stack deploys to: the stack file's `kubernetes:context`,
    `kubernetes:kubeconfig` and `kubernetes:cluster`, handed to the program's explicit provider
    (an explicit provider ignores those stack settings unless given them)."""

    context: Optional[str] = Field(default=None, min_length=1)
    kubeconfig: Optional[str] = Field(default=None, min_length=1)
    cluster: Optional[str] = Field(default=None, min_length=1)

    @property
    def pinned(self) -> bool:
        return self.context is not None or self.kubeconfig is not None


def check_cluster(cluster: ClusterConfig, required: bool, stack: str) -> None:
    """Refuse to deploy to whatever kubectl context happens to be current."""
    if required and not cluster.pinned:
        raise ConfigError([
            "kubernetes:context: not set, so `pulumi up` would deploy to whatever kubectl "
            f"context is current; pin the cluster: `pulumi config set -s {stack} "
            "kubernetes:context <context>` (or kubernetes:kubeconfig), or set "
            "vllm-serving:requireCluster: false for a throwaway stack"])


def cluster_from_pulumi_config() -> ClusterConfig:
    """The `kubernetes:*` settings the CLI hands the program (plaintext, a `secure:` one
    decrypted); the program makes the kubeconfig secret before the provider gets it."""
    from pulumi.runtime import config as runtime_config

    given = {key: runtime_config.get_config(f"kubernetes:{key}")
             for key in ("context", "kubeconfig", "cluster")}
    return ClusterConfig(**{key: value for key, value in given.items() if value})


def check_stack_name(stack: str) -> None:
    """Every object is named `<stack>-<servedName>`, and the Service's name must be a DNS-1035
    label: refuse a stack name that cannot be part of one, before anything is created."""
    if not re.fullmatch(SERVICE_NAME, stack.lower()) or len(stack) > 40:
        raise ConfigError([
            f"stack name {stack!r}: every object is named <stack>-<servedName>, so the stack "
            "name may hold only letters, digits and '-', must start with a letter, end with a "
            "letter or digit and be at most 40 characters; rename the stack (`pulumi stack "
            f"rename {re.sub(r'[^a-z0-9-]+', '-', stack.lower()).strip('-') or 'prod'}`)"])

def parse(raw: dict) -> StackConfig:
    """Validate a raw config mapping (top-level keys without the `vllm-serving:` prefix)."""
    try:
        return StackConfig.model_validate(raw)
    except pydantic.ValidationError as error:
        raise ConfigError(describe_errors(error)) from None


def from_pulumi_config() -> StackConfig:
    """Read every `vllm-serving:` key the way the Pulumi CLI hands them over (objects and
    numbers as JSON text) and validate them; unknown top-level keys are errors too."""
    from pulumi.runtime import config as runtime_config

    everything = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return parse(values_from_cli(everything))


def values_from_cli(everything: dict[str, str]) -> dict:
    """The `vllm-serving:` keys of the config the CLI hands the program (`PULUMI_CONFIG`: every
    value text, objects as JSON), as the mapping `parse` takes (keys without the prefix). The
    stack loader (`planning/stack_files.py`) decodes through here too, so the plan and the tests
    see what the program sees."""
    import json

    raw: dict = {}
    prefix = f"{PROJECT}:"
    for full_key, text in sorted(everything.items()):
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix):]
        try:
            raw[key] = json.loads(text)
        except (TypeError, ValueError):
            raw[key] = text   # a plain string such as a namespace or "0.11.0"
    for key in ("vllmVersion", "namespace"):
        if key in raw and not isinstance(raw[key], str):
            raw[key] = str(everything[prefix + key])   # "0.11" must stay text
    return raw
