"""The URN baseline: what every deployed stack's state is keyed by, recorded so that a change of
layout can prove it replaces nothing live.

A live stack's state holds each object under its URN (the type chain of its parents and its
name). When a `pulumi up` registers a resource, the engine looks for its old state under its new
URN, then under each of its aliases (pulumi pkg/resource/deploy/step_generator.go
`generateSteps`); an old URN nobody claims is deleted, a claimed one is diffed, and a changed
replacement trigger replaces the live object (pulumi-kubernetes provider/pkg/provider/diff.go
`forceNewProperties`, encoded in tests/transitions.py; pulumi-random: every input).

For each stack file this records, per resource the program registers under the mocks: its URN,
type token, parent, and the values at its replacement-trigger paths (`triggers`, under the
trigger `roots`). `compare` replays the engine's matching, aliases included, against a run of
the current code.

    python -m tools.urn_baseline               # compare every stack with its baseline
    python -m tools.urn_baseline --write prod  # re-record (accepts every difference shown)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import subprocess
import sys
from typing import Any, Optional

from tools.mockrun import ROOT, AliasSpec, Resource, Run, run_stack, urn
from tests.transitions import _force_new, flatten, kind_of, under

FIXTURES = ROOT / "tests" / "fixtures" / "urns"
ALL = ""
"""The trigger root that covers every input (pulumi-random: any input change is a new value)."""
PROVIDER_REPLACES = ("kubeconfig", "context", "cluster", "renderYamlToDirectory")
"""The Kubernetes provider's inputs whose change replaces it, and with it every object it
manages: a changed active cluster, or `renderYamlToDirectory` (pulumi-kubernetes
provider/pkg/provider/provider.go `DiffConfig`)."""
SECRET_KEY, SECRET_VALUE = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
"""Pulumi's secret wrapper (pulumi/runtime/rpc.py `_special_sig_key`, `_special_secret_sig`)."""
RE_RECORD = (
    "Re-recording is a decision, not a fix: it accepts that `pulumi up` deletes or replaces the "
    "live objects listed above on every deployed stack. To keep them, restore the old name or "
    "type token, or give the new resource `aliases=[pulumi.Alias(name=..., type_=..., "
    "parent=...)]` naming the old one. To accept it, run `python -m tools.urn_baseline --write "
    "<stack>` on a clean tree and say in the commit message which objects are replaced and why.")


def stack_names(root: pathlib.Path = ROOT) -> list[str]:
    """Every stack with a `Pulumi.<stack>.yaml` beside Pulumi.yaml."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def records(run: Run) -> dict[str, dict[str, Any]]:
    """{URN: record} of everything the run registered, in registration order (parents first);
    JSON-shaped, as the baseline file holds it."""
    assert run.error is None, f"{run.stack} failed: {run.error}"
    urns = run.urns()
    urn_of = {resource.key: key for key, resource in urns.items()}
    provider = next((r.inputs for r in run.resources
                     if r.type == "pulumi:providers:kubernetes"), {})
    out = {}
    for key, resource in urns.items():
        roots = trigger_roots(resource, provider)
        record = {"type": resource.type, "name": resource.name,
                  "parent": urn_of.get(resource.options.parent or ""),
                  "roots": list(roots),
                  "ignoreChanges": list(resource.options.ignore_changes),
                  "triggers": _values_under(resource.inputs, roots)}
        if resource.options.aliases:
            record["aliases"] = [_alias_record(a, urn_of) for a in resource.options.aliases]
        out[key] = record
    return json.loads(json.dumps(out))


def trigger_roots(resource: Resource, provider: dict[str, Any]) -> tuple[str, ...]:
    """The input paths whose change replaces this resource."""
    if resource.type.startswith("kubernetes:"):
        return _force_new(kind_of(resource), provider) + resource.options.replace_on_changes
    if resource.type == "pulumi:providers:kubernetes":
        return PROVIDER_REPLACES
    if not resource.custom:
        return ()   # a component has no provider: the engine never diffs or replaces it
    return (ALL,)   # pulumi-random, and any provider whose rules are not encoded: every input


def _values_under(inputs: dict[str, Any], roots: tuple[str, ...]) -> dict[str, Any]:
    return {path: value for path, value in flatten(_reveal(inputs)).items()
            if any(_covers(root, path) for root in roots)}


def _covers(root: str, path: str) -> bool:
    return root == ALL or under(path, root)


def _reveal(value: Any) -> Any:
    """Secret wrappers taken off (the engine diffs what they hold), their leaves replaced by a
    digest so that no secret reaches the baseline file."""
    if isinstance(value, dict) and value.get(SECRET_KEY) == SECRET_VALUE:
        return _digest(value.get("value"))
    if isinstance(value, dict):
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_reveal(item) for item in value]
    return value


def _digest(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _digest(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_digest(item) for item in value]
    text = json.dumps(value, sort_keys=True).encode()
    return f"secret:sha256:{hashlib.sha256(text).hexdigest()[:16]}"


def _alias_record(alias: AliasSpec, urn_of: dict[str, str]) -> dict[str, Any]:
    record = {"urn": alias.urn, "name": alias.name, "type": alias.type,
              "parent": urn_of.get(alias.parent or "", alias.parent), "noParent": alias.no_parent}
    return {key: value for key, value in record.items() if value}


# --- comparison: the engine's matching of new registrations to old state ----------------------

def _split(an_urn: str) -> tuple[str, str, str]:
    """(stack, qualified type, name) of `urn:pulumi:<stack>::<project>::<type chain>::<name>`."""
    head, _project, qualified, name = an_urn.split("::", 3)
    return head[len("urn:pulumi:"):], qualified, name


def _child_urn(parent: Optional[str], stack: str, type_: str, name: str) -> str:
    """resource.CreateURN: under the parent's type chain, or top-level."""
    return urn(stack, f"{_split(parent)[1]}${type_}" if parent else type_, name)


def _collapse(record: dict, alias: dict, stack: str, old_of: dict[str, str]) -> str:
    """One alias as a URN (step_generator.go `collapseAliasToUrn`): unset fields are the
    resource's own; a given parent that itself matched through an alias stands for its old URN."""
    if alias.get("urn"):
        return alias["urn"]
    parent = record["parent"]
    if alias.get("noParent"):
        parent = None
    elif alias.get("parent"):
        parent = old_of.get(alias["parent"], alias["parent"])
    return _child_urn(parent, stack, alias.get("type") or record["type"],
                      alias.get("name") or record["name"])


def _inherited(stack: str, child_type: str, child_name: str, parent_name: str,
               parent_old: str) -> str:
    """The alias a child gets from its parent's (step_generator.go `inheritedChildAlias`): the
    parent's old type chain, and the parent's old name in place of its new one when the child's
    name starts with it (`{name}-details`); in the current stack and project."""
    _, qualified, old_name = _split(parent_old)
    if child_name.startswith(parent_name):
        child_name = old_name + child_name[len(parent_name):]
    return urn(stack, f"{qualified}${child_type}", child_name)


def aliases_of(new_urn: str, record: dict, old_of: dict[str, str]) -> list[str]:
    """Every URN the engine tries after `new_urn`, in its order (`generateAliases`). `old_of`:
    {new URN: old URN} of the resources already matched through an alias."""
    stack = _split(new_urn)[0]
    own = [_collapse(record, alias, stack, old_of) for alias in record.get("aliases", ())]
    found = list(own)
    parent = record["parent"]
    if parent in old_of:
        parent_name = _split(parent)[2]
        found.append(_inherited(stack, record["type"], record["name"], parent_name,
                                old_of[parent]))
        for alias_urn in own:
            _, qualified, name = _split(alias_urn)
            found.append(_inherited(stack, qualified.rsplit("$", 1)[-1], name, parent_name,
                                    old_of[parent]))
    return list(dict.fromkeys(found))


def compare(baseline: dict[str, dict], current: dict[str, dict]) -> list[str]:
    """What a `pulumi up` of `current` over the state `baseline` recorded would delete or
    replace, one sentence each; empty when it keeps every live object."""
    problems, old_of, claimed = [], {}, {}
    for new_urn, record in current.items():
        candidates = [new_urn, *aliases_of(new_urn, record, old_of)]
        old = next((c for c in candidates if c in baseline), None)
        if old is None:
            continue   # a new resource: created, nothing live is touched
        if old in claimed:
            problems.append(f"{new_urn} and {claimed[old]} both claim {old} (the engine refuses "
                            "a URN aliased twice)")
            continue
        if old != new_urn and old in current:
            problems.append(f"{new_urn} aliases {old}, which another resource still registers "
                            "(the engine refuses it)")
        claimed[old] = new_urn
        if old != new_urn:
            old_of[new_urn] = old
        problems += _trigger_changes(new_urn, baseline[old], record)
    for old, record in baseline.items():
        if old not in claimed:
            problems.append(f"{old} ({record['type']}) is gone: no resource has this URN or an "
                            "alias to it, so `pulumi up` deletes the live object")
    return problems


def _trigger_changes(new_urn: str, old: dict, new: dict) -> list[str]:
    """The replacement triggers whose value changes (the new resource's triggers and
    ignoreChanges rule, as the engine applies the new program's options)."""
    unrecorded = [root for root in new["roots"]
                  if not any(_covers(known, root) for known in old["roots"])]
    if unrecorded:
        return [f"{new_urn}: replacement trigger(s) {unrecorded} are not in the baseline, so "
                "their old values are unknown"]
    paths = {p for p in (*old["triggers"], *new["triggers"])
             if any(_covers(root, p) for root in new["roots"])
             and not any(under(p, ignored) for ignored in new["ignoreChanges"])}
    missing = "<absent>"
    return [f"{new_urn}: replacement trigger {path} changes from "
            f"{old['triggers'].get(path, missing)!r} to {new['triggers'].get(path, missing)!r}, "
            "so the live object is replaced" for path in sorted(paths)
            if old["triggers"].get(path, missing) != new["triggers"].get(path, missing)]


# --- the baseline files -----------------------------------------------------------------------

def path_of(stack: str, directory: pathlib.Path = FIXTURES) -> pathlib.Path:
    return directory / f"{stack}.json"


def load(stack: str, directory: pathlib.Path = FIXTURES) -> dict[str, Any]:
    return json.loads(path_of(stack, directory).read_text(encoding="utf-8"))


def check(stack: str, run: Optional[Run] = None, directory: pathlib.Path = FIXTURES) -> list[str]:
    """The problems of the current program's `stack` against its recorded baseline."""
    if not path_of(stack, directory).exists():
        return [f"stack {stack}: no baseline {path_of(stack, directory).relative_to(ROOT)}; "
                f"record it with `python -m tools.urn_baseline --write {stack}`"]
    recorded = load(stack, directory)
    return compare(recorded["resources"], records(run or run_stack(stack)))


def write(stack: str, directory: pathlib.Path = FIXTURES) -> pathlib.Path:
    """Record `stack`'s baseline from the working tree, which must be the commit it names."""
    dirty = _git("status", "--porcelain", "--", ".", f":(exclude){FIXTURES.relative_to(ROOT)}")
    if dirty:
        raise SystemExit(f"refusing to record a baseline from uncommitted changes:\n{dirty}\n"
                         "commit (or stash) them first: the baseline names the commit it ran")
    document = {"stack": stack, "commit": _git("rev-parse", "HEAD"),
                "recordedWith": "python -m tools.urn_baseline --write",
                "resources": records(run_stack(stack))}
    directory.mkdir(parents=True, exist_ok=True)
    target = path_of(stack, directory)
    target.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return target


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.urn_baseline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacks", nargs="*", help="default: every Pulumi.<stack>.yaml")
    parser.add_argument("--write", action="store_true",
                        help="re-record the baseline from the current commit")
    args = parser.parse_args(argv)
    stacks = args.stacks or stack_names()
    if args.write:
        for stack in stacks:
            print(f"recorded {write(stack).relative_to(ROOT)}")
        return 0
    failed = False
    for stack in stacks:
        problems = check(stack)
        failed = failed or bool(problems)
        print(f"{stack}: " + ("every live object kept" if not problems else
                              "\n  ".join([f"{len(problems)} problem(s)", *problems])))
    if failed:
        print(RE_RECORD)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
