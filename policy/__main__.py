"""Entry point for `pulumi preview --policy-pack policy`: builds the pack and serves it.

Building a `PolicyPack` starts the analyzer's gRPC server and blocks, so nothing imports this
module; tests and `policy/offline.py` use `policy.rules.ALL_POLICIES` directly.
"""

import pathlib
import sys

# Pulumi runs this file with policy/ as sys.path[0]; the `policy` and `facts` packages are
# imported from the repository root.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.rules import ALL_POLICIES  # noqa: E402

PolicyPack(
    name="vllm-serving",
    policies=ALL_POLICIES,
    # Each policy states its own level; anything that did not would block, not slip through.
    enforcement_level=EnforcementLevel.MANDATORY,
    description="What production vLLM on Kubernetes needs: probes that survive weight loading, "
                "GPUs and shared memory that match the parallel layout, drains that finish, "
                "no exposed engine, and metrics that exist for the pinned vLLM version.",
)
