"""The shared pieces of every config model: the base class (camelCase keys, unknown keys
refused, no boolean for a number) and the value types several concerns use (names, versions,
labels, a Secret's key)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from facts import k8s_names
from planning.strict import NoBoolForNumbers


PROJECT = "vllm-serving"
"""Pulumi project name; also the config namespace (`vllm-serving:<key>`)."""

K8S_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_LABEL = Annotated[str, Field(pattern=K8S_NAME, max_length=63)]
def _release_version(version: str) -> str:
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ValueError("not a vLLM release version; write x.y.z, e.g. 0.33.0 (the tag "
                         "v0.33.0 without its 'v'; release candidates are not served)")
    return version


VERSION = Annotated[str, AfterValidator(_release_version)]
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
"""A Kubernetes label value: at most 63 characters, alphanumeric at both ends, or empty."""
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE, max_length=63)]


def _api_server_rule(problem):
    """A pydantic check from one of facts/k8s_names.py's rules (the API server's own)."""
    def check(value: str) -> str:
        why = problem(value)
        if why:
            raise ValueError(why)
        return value
    return check


LabelKey = Annotated[str, AfterValidator(_api_server_rule(k8s_names.qualified_name_problem))]
"""A label key as IsQualifiedName takes it: up to 253 + '/' + 63 = 317 characters."""
ObjectName = Annotated[str, AfterValidator(_api_server_rule(k8s_names.subdomain_problem))]
"""A StorageClass, PriorityClass or RuntimeClass name: a DNS-1123 subdomain."""
SERVICE_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
"""A Service name (DNS-1035 label): starts with a letter; the release name becomes one."""


class _Model(NoBoolForNumbers):
    """Base: camelCase keys, unknown keys rejected, values validated on assignment, no
    boolean where a number belongs (planning/strict.py)."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class SecretRef(_Model):
    """A key in an existing Kubernetes Secret in the stack's namespace."""

    name: DNS_LABEL
    key: Annotated[str, AfterValidator(_api_server_rule(k8s_names.secret_key_problem))]


