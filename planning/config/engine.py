"""`engine`: vLLM's own settings, and the table of flags the program manages (so
`engine.extraArgs` cannot set them twice)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator

from facts import vllm_cli
from facts.secrets import looks_like_secret
from planning.config.base import ObjectName, _Model


class EngineConfig(_Model):
    """vLLM engine settings. Unset values take vLLM's own default for the pinned version."""

    # vLLM's own range: vllm/config/cache.py CacheConfig.gpu_memory_utilization is
    # Field(gt=0, le=1) in every wheel read (0.16.0 to 0.34.0). What a value leaves on the
    # GPU is checked and warned about with the plan (planning/checks.py).
    gpu_memory_utilization: Optional[float] = Field(default=None, gt=0, le=1,
        description="Fraction of total GPU memory vLLM may use, in (0, 1] (unset: vLLM's "
                    "default, 0.9, 0.92 from 0.20, 1.0 from 0.34 where it sizes the KV cache "
                    "from measured memory)")
    max_num_seqs: Optional[int] = Field(default=None, gt=0, le=4096,
        description="Scheduler limit: sequences per step (unset: vLLM's default per GPU class)")
    max_num_batched_tokens: Optional[int] = Field(default=None, ge=256,
        description="Scheduler limit: tokens per step (unset: vLLM's default per GPU class)")
    # Each loader's vLLM floor is a named fact (facts/vllm_features.py LOADER_SINCE), refused
    # below it in planning/checks.py.
    load_format: Literal["auto", "safetensors", "runai_streamer", "runai_streamer_sharded",
                         "fastsafetensors", "instanttensor"] = Field(
        default="auto",
        description="auto, safetensors, runai_streamer, runai_streamer_sharded, "
                    "fastsafetensors or instanttensor (each from its vLLM release)")
    decode_context_parallel: int = Field(
        default=1, ge=1,
        description="--decode-context-parallel-size: tensor-parallel ranks that split each "
                    "request's KV cache by position, multiplying the tokens a rank holds for "
                    "full-attention and MLA layers; must divide gpu.tensorParallel, and for a "
                    "GQA model gpu.tensorParallel must exceed its KV heads with this at most "
                    "their ratio (1: off)")
    compile_cache_gib: int = Field(
        default=0, ge=0, description="Size of a persistent torch.compile cache volume; 0 = none"
    )
    compile_cache_storage_class: Optional[ObjectName] = Field(
        default=None,
        description="StorageClass of the compile cache claim; default storage.pvc.storageClass")
    extra_args: list[str] = Field(default_factory=list,
        description="More vLLM flags, read as vLLM reads them (_ for -, --flag=value, --no- "
                    "forms, abbreviations, short aliases such as -n3, -asc); flags the program "
                    "manages (the layout's, and the group launch's: --nnodes, --node-rank, "
                    "--master-addr/-port, --headless, --api-server-count, --data-parallel-*), "
                    "--disable-log-stats, --enable-log-requests, --api-key, --config and literal "
                    "keys are refused")

    @field_validator("extra_args")
    @classmethod
    def _extra_args_safe(cls, args: list[str]) -> list[str]:
        # Flags are read the way vLLM reads them (facts/vllm_cli.py): `--max_model_len=1`,
        # `--no-trust-remote-code` and `--api_key=…` name managed or forbidden flags too.
        problems = []
        for arg in args:
            flag = vllm_cli.canonical_flag(arg)
            base = vllm_cli.base_flag(arg, GUARDED_FLAGS)
            forbidden = vllm_cli.forbidden_reason(arg)
            if base in MANAGED_FLAGS:
                problems.append(f"{arg.split('=', 1)[0]} ({base}) is set by the program from "
                                f"{MANAGED_FLAGS[base]}; set that key instead")
            elif forbidden:
                problems.append(f"{arg.split('=', 1)[0]} ({flag}) {forbidden}")
            elif flag is None and looks_like_secret(arg):
                problems.append("a literal secret value is not allowed in extra args")
            elif flag is not None and "=" in arg and looks_like_secret(arg.split("=", 1)[1]):
                problems.append(f"{flag}: a literal secret value is not allowed in extra args")
        if problems:
            raise ValueError("; ".join(problems))
        return args


MANAGED_FLAGS = {
    "--model": "the ModelStore mount",
    "--served-model-name": "model.servedName",
    "--tensor-parallel-size": "gpu.tensorParallel",
    "-tp": "gpu.tensorParallel",
    "--pipeline-parallel-size": "gpu.pipelineParallel",
    "-pp": "gpu.pipelineParallel",
    "--data-parallel-size": "gpu.dataParallel",
    "-dp": "gpu.dataParallel",
    "--enable-expert-parallel": "gpu.expertParallel",
    "--max-model-len": "model.maxModelLen",
    "--decode-context-parallel-size": "engine.decodeContextParallel",
    "-dcp": "engine.decodeContextParallel",
    "--gpu-memory-utilization": "engine.gpuMemoryUtilization",
    "--max-num-seqs": "engine.maxNumSeqs",
    "--max-num-batched-tokens": "engine.maxNumBatchedTokens",
    "--kv-cache-dtype": "model.kvCacheDtype",
    "--quantization": "model.quantization",
    "--dtype": "model.dtype",
    "--trust-remote-code": "model.trustRemoteCode",
    "--revision": "model.revision",
    "--download-dir": "storage",
    "--load-format": "engine.loadFormat",
    "--host": "the Service",
    "--port": "the Service",
    "--reasoning-parser": "model.reasoningParser",
    "--tool-call-parser": "model.toolCallParser",
    "--enable-auto-tool-choice": "model.toolCallParser",
    "--shutdown-timeout": "the drain (shutdown.maxTokens × shutdown.perTokenMs + "
                          "shutdown.prefillSeconds)",
    "--disable-log-requests": "the pinned vLLM version (prompts never reach logs)",
    "--distributed-executor-backend": "the parallel layout",
    # A group spanning nodes: rendering/multinode.py launches each pod with these
    # (facts/vllm_cli.py GROUP_FLAGS); a single node runs one API server, as the host memory
    # plan counts.
    **{flag: "the group launch (gpu.layout, gpu.nodes, multiNode)"
       for flag in vllm_cli.GROUP_FLAGS},
    "--api-server-count": "the host memory plan (one API server per pod)",
}
GUARDED_FLAGS = set(MANAGED_FLAGS) | set(vllm_cli.FORBIDDEN_FLAGS)
"""Flags an abbreviation in extraArgs is read as (argparse expands unique prefixes)."""


