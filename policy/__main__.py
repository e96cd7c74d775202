"""Entry point for `pulumi preview --policy-pack <dir>`: builds the pack and serves it.

Pulumi runs a Python pack as `python -m pulumi.policy <engine> <dir>`, which `runpy.run_path`s
the directory (pulumi SDK `pulumi/policy/__main__.py`): this file runs with the pack's directory
as sys.path[0], whatever the directory is called (a published pack is unpacked into
`~/.pulumi/policies/<org>/<name>_v<version>`). The pack's modules import each other as
`policy.<module>` and read the shared `facts` package, so before importing them this file binds
the name `policy` to its own directory and finds `facts`:

* a built pack (`python -m tools.policy_pack <dir>`, what `pulumi policy publish` ships) carries
  `facts/` inside it, importable from sys.path[0];
* in a checkout, `facts/` is the repository's, next to this directory.

Building a `PolicyPack` starts the analyzer's gRPC server and blocks, so it happens only when
Pulumi runs this file as `__main__`; tests and `policy/offline.py` use `policy.rules.ALL_POLICIES`.
"""

import importlib.util
import pathlib
import sys

PACK = pathlib.Path(__file__).resolve().parent


def _bind_pack() -> None:
    """Make `policy` this directory and `facts` importable, without the repository if the
    pack carries its own facts."""
    if "policy" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "policy", PACK / "__init__.py", submodule_search_locations=[str(PACK)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["policy"] = module
        spec.loader.exec_module(module)
    if not (PACK / "facts").is_dir():
        sys.path.append(str(PACK.parent))   # a checkout: the repository's facts/


_bind_pack()

from policy.rules import ALL_POLICIES  # noqa: E402

if __name__ == "__main__":
    from pulumi_policy import EnforcementLevel, PolicyPack

    PolicyPack(
        name="vllm-serving",
        policies=ALL_POLICIES,
        # Each policy states its own level; anything that did not would block, not slip through.
        enforcement_level=EnforcementLevel.MANDATORY,
        description="What production vLLM on Kubernetes needs: probes that survive weight "
                    "loading, GPUs and shared memory that match the parallel layout, drains that "
                    "finish, no exposed engine, and metrics that exist for the pinned vLLM "
                    "version.",
    )
