"""The stack's start-up on every load path: its start-up step planned again with each path's
example settings (the same layout, model, engine and version), so an operator sees what a
path would change before choosing it (`python -m tools.plan <stack> --load-paths`)."""

from __future__ import annotations

import dataclasses

from planning import timing
from planning.config import StackConfig, StorageConfig
from planning.figures import Plan

DIGEST = "sha256:" + "0" * 64
"""A placeholder digest: the comparison needs a valid storage.image, not a pushed image."""
LOCAL_NVME_MIB_PER_SECOND = 1545
"""A node's local NVMe as the plain safetensors loader reads it: 26 GB in 16.04 s on an A100
host (vllm-project/vllm PR #10647); the rate image and nodeCache pods read the weights at."""
S3_STREAM_MIB_PER_SECOND = 2931
"""runai_streamer from S3 in the same region at concurrency 32: 15 GB in 4.88 s
(run-ai/runai-model-streamer docs/src/benchmarks.md, Appendix C)."""

EXAMPLE_PATHS: dict[str, tuple[dict, dict]] = {
    "nfs": ({"mode": "nfs", "nfs": {"server": "nfs.example.internal", "path": "/models"}},
            {"loadFormat": "auto"}),
    "pvc": ({"mode": "pvc", "pvc": {"storageClass": "rwx"}}, {"loadFormat": "auto"}),
    "image": ({"mode": "image", "readMibPerSecond": LOCAL_NVME_MIB_PER_SECOND,
               "image": {"reference": f"registry.example.com/models/m@{DIGEST}"}},
              {"loadFormat": "auto"}),
    "nodeCache": ({"mode": "nodeCache", "readMibPerSecond": LOCAL_NVME_MIB_PER_SECOND,
                   "nodeCache": {"diskGi": 100_000}}, {"loadFormat": "auto"}),
    "objectStore": ({"mode": "objectStore", "streamingReadMibPerSecond": S3_STREAM_MIB_PER_SECOND,
                     "objectStore": {"uri": "s3://models/m"}}, {"loadFormat": "runai_streamer"}),
}
"""Each path's settings beside the stack's own: nfs and pvc keep the stack's read rate; image
and nodeCache read at LOCAL_NVME_MIB_PER_SECOND and stage at the contract's default pull (100)
and download (50) rates; objectStore streams at S3_STREAM_MIB_PER_SECOND."""

STORAGE_BLOCKS = ("nfs", "pvc", "image", "node_cache", "object_store")


@dataclasses.dataclass(frozen=True)
class PathBudget:
    """One path's start-up for the stack: its restart and first-start budgets."""

    path: str
    load_format: str
    restart_seconds: int
    first_start_seconds: int
    stage: str
    stage_seconds: int
    current: bool
    reason: str


def path_budgets(cfg: StackConfig, plan: Plan) -> list[PathBudget]:
    """Today's path first, then every path of EXAMPLE_PATHS."""
    rows = [_budget(cfg, plan, f"today ({cfg.storage.mode})", True)]
    for path, (storage, engine) in EXAMPLE_PATHS.items():
        rows.append(_budget(_with_path(cfg, storage, engine), plan, path, False))
    return rows


def _with_path(cfg: StackConfig, storage: dict, engine: dict) -> StackConfig:
    """The stack with its storage block replaced by a path's (read rates kept unless the path
    states its own) and its loader set, validated as a stack file would be."""
    values = cfg.storage.model_dump(by_alias=True, exclude=set(STORAGE_BLOCKS))
    return cfg.model_copy(update={
        "storage": StorageConfig.model_validate({**values, **storage}),
        "engine": cfg.engine.model_copy(update={"load_format": engine["loadFormat"]})})


def _budget(cfg: StackConfig, plan: Plan, path: str, current: bool) -> PathBudget:
    start = timing.startup(cfg, plan.model, plan.gpu, plan.version, plan.weights, plan.layout,
                           plan.engine)
    return PathBudget(path, cfg.engine.load_format, start.budget_seconds,
                      start.first_start_budget_seconds, start.stage, start.stage_seconds,
                      current, start.reason)
