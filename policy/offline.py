"""Run the policy pack over recorded resources, without the Pulumi CLI or a cluster.

Feed it what a program registered (for example under Pulumi mocks): a list of
`{"type": "kubernetes:apps/v1:Deployment", "name": "<Pulumi name>", "props": {...}}` plus a
policy config in the `--policy-pack-config` file format. It drives the very policy objects
`pulumi preview --policy-pack policy` loads, the way the analyzer does: props behind the SDK's
unknown-checking proxy, per-policy config and enforcement levels resolved from the file (a
policy's own entry, then `all`, then the policy's default), disabled policies skipped.

    python -m tools.render prod              # writes rendered/prod/resources.json
    python -m policy.offline rendered/prod/resources.json --config policy/config/prod.json
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import pathlib
import sys
from collections.abc import Mapping, Sequence
from inspect import isawaitable
from typing import Any, NamedTuple, Optional


from pulumi_policy import (  # noqa: E402
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy  # noqa: E402

from policy.rules import ALL_POLICIES  # noqa: E402

PACK_DEFAULT_LEVEL = EnforcementLevel.MANDATORY
"""The level `policy/__main__.py` gives the pack, for a policy that states none."""


class Violation(NamedTuple):
    """One reported violation: which policy, at what level, on which resource, and why."""

    policy: str
    level: str
    resource: str
    message: str


def load_config(path: str | pathlib.Path) -> dict[str, Any]:
    """A `--policy-pack-config` JSON file as a dict."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def enforcement_level(policy: Policy, config: Mapping[str, Any]) -> EnforcementLevel:
    """The level a policy runs at: its own config entry, else `all`, else its default."""
    for key in (policy.name, "all"):
        entry = config.get(key)
        level = entry.get("enforcementLevel") if isinstance(entry, Mapping) else entry
        if level is not None:
            return EnforcementLevel(level)
    return policy.enforcement_level or PACK_DEFAULT_LEVEL


def policy_properties(policy: Policy, config: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """A policy's config properties (its entry without enforcementLevel), None when empty,
    as the analyzer passes them."""
    entry = config.get(policy.name)
    if not isinstance(entry, Mapping):
        return None
    properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
    return properties or None


def _urn(resource_type: str, name: str, stack: str, project: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{resource_type}::{name}"


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def to_policy_resources(resources: Sequence[Mapping[str, Any]], stack: str = "offline",
                        project: str = "vllm-serving") -> list[PolicyResource]:
    """Recorded resources as the SDK's PolicyResource objects, props behind the SDK's proxy."""
    found = []
    for record in resources:
        urn = record.get("urn") or _urn(record["type"], record["name"], stack, project)
        props = unknown_checking_proxy(copy.deepcopy(dict(record.get("props") or {})))
        found.append(PolicyResource(record["type"], props, urn, record["name"], _options(),
                                    None, None, [], {}))
    return found


def _drive(policy: Policy, args: Any, report) -> Optional[str]:
    """Run one validation; the analyzer's diagnostic text when a value is unknown."""
    try:
        result = policy.validate(args, report)
        if isawaitable(result):
            asyncio.run(result)
    except UnknownValueError as error:
        return f"can't run policy '{policy.name}' during preview: {error.message}"
    return None


def run(resources: Sequence[Mapping[str, Any]], config: Optional[Mapping[str, Any]] = None,
        policies: Optional[Sequence[Policy]] = None, stack: str = "offline",
        project: str = "vllm-serving") -> list[Violation]:
    """Every violation the pack reports for `resources` under `config`, resource policies first
    (in resource order), then stack policies. An unknown value is reported at advisory level, as
    `pulumi preview` does."""
    config = config or {}
    policies = ALL_POLICIES if policies is None else policies
    subjects = to_policy_resources(resources, stack, project)
    names_by_urn = {subject.urn: subject.name for subject in subjects}
    violations: list[Violation] = []
    for policy in policies:
        level = enforcement_level(policy, config)
        if level == EnforcementLevel.DISABLED:
            continue
        if level == EnforcementLevel.REMEDIATE:
            level = EnforcementLevel.MANDATORY
        properties = policy_properties(policy, config)
        if isinstance(policy, ResourceValidationPolicy):
            for subject in subjects:
                def report(message: str, urn: Optional[str] = None, _name=subject.name) -> None:
                    violations.append(Violation(policy.name, level.value, _name, message))
                args = ResourceValidationArgs(subject.resource_type, subject.props, subject.urn,
                                              subject.name, subject.opts, None, properties)
                problem = _drive(policy, args, report)
                if problem:
                    violations.append(Violation(policy.name, EnforcementLevel.ADVISORY.value,
                                                subject.name, problem))
        elif isinstance(policy, StackValidationPolicy):
            def report_stack(message: str, urn: Optional[str] = None) -> None:
                violations.append(Violation(policy.name, level.value,
                                            names_by_urn.get(urn or "", ""), message))
            problem = _drive(policy, StackValidationArgs(subjects, properties), report_stack)
            if problem:
                violations.append(Violation(policy.name, EnforcementLevel.ADVISORY.value, "",
                                            problem))
    return violations


def mandatory(violations: Sequence[Violation]) -> list[Violation]:
    """The violations that would stop `pulumi up`."""
    return [v for v in violations if v.level == EnforcementLevel.MANDATORY.value]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI: print every violation; exit 1 when any is mandatory."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("resources", help="JSON file: a list of {type, name, props}")
    parser.add_argument("--config", help="policy config file (policy/config/<env>.json)")
    options = parser.parse_args(argv)
    with open(options.resources, encoding="utf-8") as handle:
        resources = json.load(handle)
    violations = run(resources, load_config(options.config) if options.config else {})
    for violation in violations:
        print(f"[{violation.level}] {violation.policy} on {violation.resource or 'the stack'}: "
              f"{violation.message}")
    return 1 if mandatory(violations) else 0


if __name__ == "__main__":
    sys.exit(main())
