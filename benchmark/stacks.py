"""Which stack config runs a benchmark case: its GPU, model and flags as the stack's keys.

The plan's steps take a StackConfig (planning/memory.py, planning/timing.py), so a case is
turned into the config a stack would write to run it — the GPU and model from facts, each flag
the run passed under the key the program manages it with (planning/config/engine.py MANAGED_FLAGS) —
and validated like any stack file.
"""

from __future__ import annotations

from typing import Any

import facts
from facts import vllm_features
from planning.config import StackConfig, parse

ENGINE_FLAGS = {"gpu_memory_utilization": "gpuMemoryUtilization",
                "max_num_seqs": "maxNumSeqs", "max_num_batched_tokens": "maxNumBatchedTokens",
                "decode_context_parallel": "decodeContextParallel"}
MODEL_FLAGS = {"kv_cache_dtype": "kvCacheDtype", "quantization": "quantization",
               "dtype": "dtype"}
GPU_FLAGS = {"tensor_parallel": "tensorParallel", "pipeline_parallel": "pipelineParallel",
             "data_parallel": "dataParallel", "expert_parallel": "expertParallel"}
HANDLED_FLAGS = {"max_model_len", "enforce_eager", *ENGINE_FLAGS, *MODEL_FLAGS, *GPU_FLAGS}
UNPLANNED_FLAGS = {"enable_prefix_caching"}
"""Flags a case records that change no figure the plan derives (prefix caching reuses blocks,
it does not size them)."""
COMPILE_CACHE_GIB = 10
"""Size given to the compile cache volume of a case whose log loaded torch.compile artefacts
from a cache (any size > 0 makes the plan count a warm compile)."""
PLACEHOLDERS = {
    "network": {"gatewayNamespaces": ["benchmark"]},
    # 400 MiB/s, the read rate the program assumed before an unmeasured one meant a slow
    # mount (planning/delivery.py); benchmark/predict.py sets each case's logged rate.
    "storage": {"mode": "nfs", "nfs": {"server": "benchmark", "path": "/models"},
                "readMibPerSecond": 400},
}
"""Keys every stack needs that no figure of the benchmark depends on."""


def model_keys(ref: dict[str, Any], stack_facts: dict[str, Any]) -> dict[str, Any]:
    """`model.preset` for a preset, else `model.facts` from stack_facts.yaml; other keys of
    the case's model override single facts (the preset's become model.facts then)."""
    overrides = {key: value for key, value in ref.items() if key not in ("preset", "facts")}
    if "preset" in ref and not overrides:
        return {"preset": ref["preset"]}
    base = facts.models()[ref["preset"]] if "preset" in ref else stack_facts["models"][ref["facts"]]
    return {"facts": {**base, **overrides}}


def gpu_keys(ref: dict[str, Any], stack_facts: dict[str, Any]) -> dict[str, Any]:
    """`gpu.type` for a GPU of facts/gpus.yaml, else the GPU's keys from stack_facts.yaml with
    the run's GPU count as perNode; the run's logged total memory as gpu.memoryGib."""
    keys = ({"type": ref["type"]} if "type" in ref
            else {**stack_facts["gpus"][ref["facts"]]["gpu"], "perNode": ref["count"]})
    if ref.get("total_gib"):
        keys["memoryGib"] = ref["total_gib"]
    return keys


def storage_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """PLACEHOLDERS' storage, read at the rate the case's log shows where it gives one
    (cases.yaml derived.read_mib_per_second): the plan's start-up figures depend on it (the
    estimated start and the probes' budget), so a run that loaded from a fast local cache is not
    planned as reading from the placeholder NFS share."""
    rate = (raw.get("derived") or {}).get("read_mib_per_second")
    return {**PLACEHOLDERS["storage"], **({"readMibPerSecond": rate} if rate else {})}


def multi_node_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """`multiNode` for a run whose replica spans nodes (cases.yaml `multi_node`, in the stack's
    keys): the launcher the run used (its --distributed-executor-backend) and the RDMA a TP or EP
    group across nodes needs (planning/checks.py refuses it without). No memory figure depends
    on them; a case that does not span nodes has none."""
    keys = raw.get("multi_node")
    return {"multiNode": keys} if keys else {}


def _set(target: dict[str, Any], names: dict[str, str], flags: dict[str, Any]) -> dict[str, Any]:
    target.update({key: flags[flag] for flag, key in names.items() if flags.get(flag) is not None})
    return target


def stack_config(raw: dict[str, Any], stack_facts: dict[str, Any]) -> StackConfig:
    """The validated StackConfig that runs case `raw` (a cases.yaml entry).

    Runs before vLLM 0.8.0 (V0 engine) are pins the program refuses (StackConfig
    `_supported_version`); their config is validated at the first V1 release and then carries
    the logged version. The plan's steps take the version as an argument, so the figures are
    the logged version's either way.
    """
    flags = raw.get("flags") or {}
    passed = {flag for flag, value in flags.items() if value is not None}
    unknown = passed - HANDLED_FLAGS - UNPLANNED_FLAGS
    if unknown:
        raise ValueError(f"flags {sorted(unknown)} have no stack config key in benchmark/stacks.py")
    model = model_keys(raw["model"], stack_facts)
    shape = model["facts"] if "facts" in model else facts.models()[model["preset"]]
    # A model that ships its own modelling code loads only with it, so the run passed it.
    model.update(revision="main", servedName="benchmark",
                 maxModelLen=flags.get("max_model_len") or shape["max_context"],
                 trustRemoteCode=bool(shape.get("trust_remote_code")))
    engine = _set({}, ENGINE_FLAGS, flags)
    if flags.get("enforce_eager"):
        engine["extraArgs"] = ["--enforce-eager"]
    if str((raw.get("startup") or {}).get("torch_compile_cache", "")).startswith("warm"):
        engine.update(compileCacheGib=COMPILE_CACHE_GIB, compileCacheStorageClass="benchmark")
    version = str(raw["vllm_version"])
    supported = facts.parse_version(version) >= vllm_features.V1_ENGINE_SINCE
    cfg = parse({
        "vllmVersion": version if supported else str(vllm_features.V1_ENGINE_SINCE),
        "model": _set(model, MODEL_FLAGS, flags),
        "engine": engine,
        "gpu": _set(gpu_keys(raw["gpu"], stack_facts), GPU_FLAGS, flags),
        **PLACEHOLDERS,
        "storage": storage_keys(raw),
        **multi_node_keys(raw),
    })
    return cfg if supported else cfg.model_copy(update={"vllm_version": version})
