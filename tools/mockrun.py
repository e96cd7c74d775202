"""Run the Pulumi program under mocks, from a real stack file, the way the CLI would.

`run_stack("prod")` loads Pulumi.yaml's declared defaults and Pulumi.prod.yaml's values (as the
CLI hands them to the program: strings, with objects and numbers as JSON text), runs
__main__.py with `preview=False` mocks, and returns every registered resource with its inputs
(camelCase, as the provider receives them: numbers as floats, secrets in Pulumi's secret
wrapper). No Pulumi CLI, no cluster, no network.

The one implementation shared by the tests (`tests/harness.py` re-exports it) and by
`python -m tools.render`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import dataclasses
import json
import pathlib
import runpy
import sys
from typing import Any, Callable, Optional

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # __main__.py imports `components` and `facts` from the root
    sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402
from pulumi.runtime.stack import run_pulumi_func  # noqa: E402
from pulumi.runtime.sync_await import _sync_await  # noqa: E402

from planning.stack_files import provider_values, resolve, stack_values  # noqa: E402

PROJECT = "vllm-serving"
FAKE_DIGEST = "sha256:" + "ab" * 32
FAKE_API_KEY = "mock-generated-api-key-0123456789abcdef0123456789"
FAKE_OTHER_KEY_PREFIX = "mock-generated-key-of-"


@dataclasses.dataclass(frozen=True)
class Options:
    """The resource options a program gave one resource (mocks never see them; a stack
    transformation records them). Names stand in for resources."""

    parent: Optional[str] = None
    depends_on: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()
    delete_before_replace: Optional[bool] = None
    protect: Optional[bool] = None
    retain_on_delete: Optional[bool] = None
    custom_timeouts: dict[str, Optional[str]] = dataclasses.field(default_factory=dict)
    provider: Optional[str] = None
    additional_secret_outputs: tuple[str, ...] = ()
    aliases: tuple["AliasSpec", ...] = ()

    @classmethod
    def of(cls, opts: Optional[pulumi.ResourceOptions]) -> "Options":
        if opts is None:
            return cls()
        timeouts = opts.custom_timeouts
        return cls(
            parent=_name_of(opts.parent),
            depends_on=tuple(sorted(_name_of(d) for d in _as_list(opts.depends_on))),
            ignore_changes=tuple(opts.ignore_changes or ()),
            replace_on_changes=tuple(opts.replace_on_changes or ()),
            delete_before_replace=opts.delete_before_replace,
            protect=opts.protect,
            retain_on_delete=opts.retain_on_delete,
            custom_timeouts=({} if timeouts is None else {
                "create": timeouts.create, "update": timeouts.update, "delete": timeouts.delete}),
            provider=_name_of(opts.provider),
            additional_secret_outputs=tuple(opts.additional_secret_outputs or ()),
            aliases=tuple(AliasSpec.of(alias) for alias in opts.aliases or ()),
        )


@dataclasses.dataclass(frozen=True)
class AliasSpec:
    """One `aliases=` entry as the SDK hands it to the engine (pulumi/runtime/resource.py
    `create_alias_spec`): a whole URN, or a partial description of the resource's old identity
    where None means "the resource's current value". `parent` names a resource (its key) or
    holds a parent URN; `no_parent` is `Alias(parent=None)`: it was a top-level resource."""

    urn: Optional[str] = None
    name: Optional[str] = None
    type: Optional[str] = None
    parent: Optional[str] = None
    no_parent: bool = False

    @classmethod
    def of(cls, alias: Any) -> "AliasSpec":
        if isinstance(alias, str):
            return cls(urn=alias)
        given = {field: getattr(alias, attribute) for field, attribute in
                 (("name", "name"), ("type", "type_"), ("parent", "parent"))
                 if getattr(alias, attribute) is not ...}
        if any(isinstance(value, pulumi.Output) for value in given.values()):
            raise TypeError(f"alias {vars(alias)}: give its fields as plain values (the mock "
                            "runner records aliases before any Output resolves)")
        if "parent" in given and given["parent"] is None:
            return cls(name=given.get("name"), type=given.get("type"), no_parent=True)
        parent = given.get("parent")
        return cls(name=given.get("name"), type=given.get("type"),
                   parent=parent if parent is None or isinstance(parent, str)
                   else _name_of(parent))


def _name_of(resource: Any) -> Optional[str]:
    """`<type token>::<name>`, unique in a run (components share their release's name)."""
    if resource is None:
        return None
    return f"{getattr(resource, '_type', '?')}::{getattr(resource, '_name', resource)}"


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@dataclasses.dataclass
class Resource:
    """One registered resource: Pulumi type token, logical name, inputs (camelCase) and the
    resource options it was given."""

    type: str
    name: str
    inputs: dict[str, Any]
    options: Options = dataclasses.field(default_factory=Options)
    custom: bool = True
    """Managed by a provider; False for a ComponentResource, which no provider diffs."""

    @property
    def metadata(self) -> dict[str, Any]:
        return self.inputs.get("metadata", {})

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def key(self) -> str:
        """`<type token>::<name>`: how options refer to it, and Pulumi's identity short of the
        parent chain (a changed key is a delete plus a create)."""
        return f"{self.type}::{self.name}"


@dataclasses.dataclass
class Run:
    """Everything one program run registered, or the error that stopped it."""

    resources: list[Resource]
    error: Optional[BaseException] = None
    stack: str = ""
    calls: list[str] = dataclasses.field(default_factory=list)
    """Token of every provider function the program invoked (e.g. a registry lookup)."""

    def of_type(self, suffix: str) -> list[Resource]:
        """Resources whose type token ends with `suffix` (e.g. 'apps/v1:Deployment')."""
        return [r for r in self.resources if r.type.endswith(suffix)]

    def one(self, suffix: str) -> Resource:
        found = self.of_type(suffix)
        assert len(found) == 1, f"expected one {suffix}, found {[r.name for r in found]}"
        return found[0]

    def engine(self, suffix: str) -> Resource:
        """The one resource of this type that belongs to the inference engine (labelled
        app.kubernetes.io/component: inference), beside the router's objects of that kind."""
        found = [r for r in self.of_type(suffix) if (r.metadata.get("labels") or {}).get(
            "app.kubernetes.io/component") == "inference"]
        assert len(found) == 1, f"expected one engine {suffix}, found {[r.name for r in found]}"
        return found[0]


    def workload(self) -> Resource:
        """The inference workload: the engine's Deployment, or its LeaderWorkerSet when a
        replica spans nodes."""
        found = [r for r in self.resources
                 if r.type.endswith(("apps/v1:Deployment", "LeaderWorkerSet"))
                 and (r.metadata.get("labels") or {}).get("app.kubernetes.io/component")
                 == "inference"]
        assert len(found) == 1, f"expected one inference workload, found {[r.name for r in found]}"
        return found[0]

    def urns(self) -> dict[str, Resource]:
        """{URN: resource}, in registration order (parents first)."""
        by_key = {r.key: r for r in self.resources}
        return {urn(self.stack, _qualified_type(r, by_key), r.name): r for r in self.resources}


def urn(stack: str, qualified_type: str, name: str) -> str:
    """A URN as the engine writes it (pulumi sdk/go/common/resource/urn.go `NewURN`)."""
    return f"urn:pulumi:{stack}::{PROJECT}::{qualified_type}::{name}"


def _qualified_type(resource: Resource, by_key: dict[str, Resource]) -> str:
    """The type chain of the parents, `$`-joined, then the resource's own type; the root stack,
    every top-level resource's parent, is left out of the chain (urn.go `NewURN`)."""
    parent = by_key.get(resource.options.parent or "")
    return f"{_qualified_type(parent, by_key)}${resource.type}" if parent else resource.type


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Resource] = []
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = copy.deepcopy(args.inputs)
        self.resources.append(Resource(args.typ, args.name, inputs, custom=bool(args.custom)))
        state = dict(inputs)
        if args.typ.startswith("kubernetes:"):
            metadata = dict(state.get("metadata") or {})
            metadata.setdefault("name", args.name)   # mocks do not autoname
            state["metadata"] = metadata
        if args.typ == "random:index/randomPassword:RandomPassword":
            # A new length is a new password (every input of a random resource forces one).
            length = int(inputs.get("length", 48))
            # The engine's key is FAKE_API_KEY; other generated keys (the router's master and
            # client keys) get a value of their own, so a test can tell where each one went.
            if args.name.endswith("-api-key"):
                state["result"] = FAKE_API_KEY if length == 48 else f"{FAKE_API_KEY}-{length}"
            else:
                state["result"] = f"{FAKE_OTHER_KEY_PREFIX}{args.name}-{length}-" + "-".join(
                    f"{k}={v}" for k, v in sorted((inputs.get("keepers") or {}).items()))
        if args.typ == "docker:index/image:Image":
            state["repoDigest"] = f"{inputs.get('imageName', 'image')}@{FAKE_DIGEST}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append(args.token)
        if args.token == "docker:index/getRegistryImage:getRegistryImage":
            return {"name": args.args["name"], "sha256Digest": FAKE_DIGEST}
        return {}


def stack_config(stack: str, root: pathlib.Path = ROOT) -> dict[str, Any]:
    """The stack's `vllm-serving:` config as the CLI resolves it: project defaults, then the
    stack file (keys without the prefix)."""
    return stack_values(stack, root)


def cluster_config(stack: str, root: pathlib.Path = ROOT) -> dict[str, str]:
    """The stack file's `kubernetes:*` settings, with their prefix."""
    return {f"kubernetes:{key}": value for key, value in provider_values(stack, root).items()}


def _as_cli_config(values: dict[str, Any]) -> dict[str, str]:
    """`{key: value}` as the CLI hands it over; a key with a `namespace:` (such as
    `kubernetes:context`) is passed as it is, any other gets the project's namespace."""
    return {(key if ":" in key else f"{PROJECT}:{key}"):
            value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` merged into a copy of `base`; a None value deletes the key."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def run_under_mocks(program: Callable[[], Any], stack: str = "test",
                    values: Optional[dict[str, Any]] = None,
                    secret_keys: tuple[str, ...] = ()) -> Run:
    """Run `program` (the stack's __main__.py, or a function that builds components) under
    `preview=False` mocks with these config values (`secret_keys`: the ones the stack file
    holds as `secure:`, as the CLI lists them); return what it registered."""
    mocks = _Mocks()
    options: dict[tuple[str, str], Options] = {}

    def record_options(args: pulumi.ResourceTransformationArgs):
        options[(args.type_, args.name)] = Options.of(args.opts)
        return None   # change nothing

    def program_with_recorder():
        pulumi.runtime.register_stack_transformation(record_options)
        return program()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The mocked RPCs run on the loop's executor threads, and Pulumi gives each of those
    # threads an event loop of its own. Create and close them here, so none is left for the
    # garbage collector to report ("Invalid file descriptor: -1") when the process exits.
    thread_loops: list[asyncio.AbstractEventLoop] = []

    def _thread_loop() -> None:
        thread_loops.append(asyncio.new_event_loop())
        asyncio.set_event_loop(thread_loops[-1])

    executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="mockrun",
                                                     initializer=_thread_loop)
    loop.set_default_executor(executor)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(_as_cli_config(values or {}), list(secret_keys))
    error: Optional[BaseException] = None
    try:
        _sync_await(run_pulumi_func(program_with_recorder))
    except Exception as exc:  # the program's RunError, reported to the caller
        error = exc
    finally:
        pulumi.runtime.set_all_config({}, [])
        executor.shutdown(wait=True)
        for thread_loop in thread_loops:
            thread_loop.close()
        asyncio.set_event_loop(None)
        loop.close()
    resources = [dataclasses.replace(r, options=options.get((r.type, r.name), Options()))
                 for r in mocks.resources]
    return Run(resources, error, stack, mocks.calls)


def run_program(stack: str, values: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> Run:
    """Run __main__.py under mocks with these config values."""
    return run_under_mocks(
        lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"), stack, values,
        secret_keys)


def run_stack(stack: str, overrides: Optional[dict[str, Any]] = None,
              root: pathlib.Path = ROOT) -> Run:
    """Run the program for a stack file (the repository's, or one under `root`), as the CLI
    resolves it (`planning.stack_files.resolve`), optionally with config overrides merged in."""
    resolved = resolve(stack, root)
    values = {**resolved.values(),
              **{f"kubernetes:{key}": value for key, value in resolved.provider().items()}}
    return run_program(stack, deep_merge(values, overrides or {}), resolved.secret_keys)
