"""Feasibility checks on a drafted plan: each returns the problem (naming the config key, the
value, why it cannot work and what to change) or None. `make_plan` runs them all and raises
one ConfigError listing every problem, so a stack learns everything wrong at once.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional

import facts
from facts import (cluster_versions, load_paths, model_families, vllm_cli, vllm_features,
                   vllm_parsers)
from facts import sparse_mla
from planning.config import StackConfig
from planning.config.traffic import secret_problems
from planning.figures import Plan
from planning.layout import MAX_NODES, Layout, sharded_heads, tensor_parallel_candidates
from planning.memory import GIB, gpu_memory, kv_cache
from planning import admission, capacity, delivery, host, memory, revisions, router_sizing, wake

Check = Callable[[StackConfig, Plan], Optional[str]]


def storage_mode_rendered(cfg: StackConfig, plan: Plan) -> Optional[str]:
    if cfg.storage.mode not in load_paths.RENDERED_MODES:
        rendered = ", ".join(sorted(load_paths.RENDERED_MODES))
        return (f"storage.mode: {cfg.storage.mode} is not rendered by this version of the "
                f"program yet (its objects would be incomplete); use one of {rendered}")
    return None


def loader_in_the_pinned_version(cfg: StackConfig, plan: Plan) -> Optional[str]:
    loader = cfg.engine.load_format
    if not vllm_features.loader_available(loader, plan.version):
        return (f"engine.loadFormat: {loader} is not in vLLM {cfg.vllm_version} (from "
                f"{vllm_features.LOADER_SINCE[loader]}); raise vllmVersion or use auto")
    return None


OBJECT_STORE_LOADERS = ("runai_streamer", "runai_streamer_sharded")
"""The loaders that open s3:// and gs:// URIs (vllm/transformers_utils/runai_utils.py
`is_runai_obj_uri`; the other loaders read local files only)."""


def object_store_read_by_the_streamer(cfg: StackConfig, plan: Plan) -> Optional[str]:
    store = cfg.storage.object_store
    if store is None:
        return None
    if cfg.engine.load_format not in OBJECT_STORE_LOADERS:
        return (f"engine.loadFormat: {cfg.engine.load_format} cannot read {store.uri} "
                "(storage.mode objectStore); only runai_streamer reads s3:// and gs:// URIs: "
                "set engine.loadFormat: runai_streamer")
    scheme = store.uri.split("://", 1)[0]
    if not vllm_features.streamer_reads(scheme, plan.version):
        return (f"storage.objectStore.uri: vLLM {cfg.vllm_version}'s runai_streamer reads "
                f"s3:// only ({scheme}:// from {vllm_features.RUNAI_GCS_SINCE}); raise "
                "vllmVersion or serve the bucket through its S3-compatible endpoint")
    return None


def image_volumes_in_the_cluster(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """An image volume needs a Kubernetes whose image volumes are beta (1.33): before, they
    are alpha, and Pod Security's restricted level, which the stack's namespace enforces,
    admits `image` volumes only from 1.33 (kubernetes PR #130394); preview cannot read the
    cluster, so clusterVersions.kubernetes must say which."""
    if cfg.storage.mode != "image":
        return None
    minor = cfg.cluster_versions.kubernetes
    if minor is None:
        return ("clusterVersions.kubernetes is not set: storage.mode image mounts the model as "
                f"an image volume, which needs Kubernetes {load_paths.IMAGE_VOLUME_BETA} or "
                "newer; state the cluster's minor, e.g. 1.33 (kubectl version)")
    if load_paths.image_volume_support(minor) == "none":
        return (f"clusterVersions.kubernetes: {minor} has no image volumes a restricted "
                f"namespace admits (alpha before {load_paths.IMAGE_VOLUME_BETA}, beta from "
                f"{load_paths.IMAGE_VOLUME_BETA}, on by default from "
                f"{load_paths.IMAGE_VOLUME_DEFAULT_ON}); upgrade the cluster or choose another "
                "storage.mode (nodeCache stages the weights on local disk on any version)")
    return None


def node_cache_disk_holds_the_revisions(cfg: StackConfig, plan: Plan) -> Optional[str]:
    cache = cfg.storage.node_cache
    if cache is None:
        return None
    need = capacity.storage_capacity_gi(plan.weights.checkpoint_gib, cache.keep_revisions)
    if cache.disk_gi < need:
        return (f"storage.nodeCache.diskGi: {cache.disk_gi} Gi cannot hold keepRevisions "
                f"{cache.keep_revisions} × {plan.weights.checkpoint_gib:.1f} GiB × "
                f"{capacity.STORAGE_OVERHEAD:g} = {need} Gi (a new revision is staged beside "
                f"the served one); give the cache disk's real size, at least {need} Gi, or "
                "lower keepRevisions")
    return None


def vllm_serves_the_model(cfg: StackConfig, plan: Plan) -> Optional[str]:
    if plan.version < facts.parse_version(plan.model.min_vllm):
        return (f"vllmVersion: {plan.model.hf_id} needs vLLM {plan.model.min_vllm} or newer, "
                f"the stack pins {cfg.vllm_version}; raise vllmVersion")
    return None


def gpu_runs_the_kernels(cfg: StackConfig, plan: Plan) -> Optional[str]:
    model, gpu = plan.model, plan.gpu
    if gpu.compute_capability < model.min_compute_capability:
        return (f"gpu.type: {model.hf_id} needs compute capability "
                f"{model.min_compute_capability} or newer (its kernels), {gpu.name} has "
                f"{gpu.compute_capability}; choose a newer GPU generation")
    return None


def gpu_runs_nvfp4(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """vLLM refuses a quantization below its get_min_capability
    (facts/vllm_features.py nvfp4_min_compute_capability)."""
    model, gpu = plan.model, plan.gpu
    if model.weights_dtype != model_families.NVFP4:
        return None
    needed = vllm_features.nvfp4_min_compute_capability(plan.version)
    if gpu.compute_capability >= needed:
        return None
    return (f"gpu.type: vLLM {cfg.vllm_version} runs NVFP4 checkpoints ({model.hf_id}) on "
            f"compute capability {needed} or newer (its FP4 kernels: CUTLASS/FlashInfer on "
            f"10.x/12.x, Marlin below), {gpu.name} has {gpu.compute_capability}; choose a "
            "newer GPU generation")


def fp8_cache_keeps_the_v1_engine(cfg: StackConfig, plan: Plan) -> Optional[str]:
    if cfg.model.kv_cache_dtype == "fp8" and vllm_features.fp8_kv_falls_back_to_v0(
            plan.gpu.compute_capability, plan.version):
        return ("model.kvCacheDtype: fp8 KV cache on a GPU below compute capability 8.9 makes "
                f"vLLM {cfg.vllm_version} fall back to the V0 engine (different metrics); use "
                "auto")
    return None


def dsa_cache_has_a_sparse_backend(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """A DSA model (index_head_dim) runs only where a sparse MLA backend takes its cache
    (facts/sparse_mla.py)."""
    model = plan.model
    if not model.attention.get("index_head_dim"):
        return None
    gpu = sparse_mla.gpu_without_sparse_backend(plan.gpu.compute_capability, plan.version)
    if gpu:
        return f"gpu.type: {model.hf_id} needs sparse MLA kernels, but {gpu}; choose another GPU"
    fp8 = sparse_mla.fp8_without_sparse_backend(model.architecture, cfg.model.kv_cache_dtype,
                                                plan.version)
    if fp8:
        return (f"model.kvCacheDtype: fp8 cannot run {model.hf_id}: {fp8}; use auto or raise "
                "vllmVersion")
    return None


def context_within_the_model(cfg: StackConfig, plan: Plan) -> Optional[str]:
    if cfg.model.max_model_len > plan.model.max_context:
        return (f"model.maxModelLen: {cfg.model.max_model_len} exceeds the model's context of "
                f"{plan.model.max_context} tokens; lower it")
    return None


def remote_code_acknowledged(cfg: StackConfig, plan: Plan) -> Optional[str]:
    if cfg.model.trust_remote_code is False and plan.model.trust_remote_code:
        return (f"model.trustRemoteCode: {plan.model.hf_id} ships its own modelling code; set "
                "it to true after reviewing that code")
    return None


def _parser_problem(cfg: StackConfig, plan: Plan, kind: str, key: str,
                    parser: Optional[str]) -> Optional[str]:
    if parser in (None, "auto"):
        return None
    if not vllm_features.parser_available(parser, plan.version):
        return (f"{key}: {parser} is not in vLLM {cfg.vllm_version}; raise vllmVersion, "
                "use auto (the model's parser when the pinned version has it) or null")
    known = vllm_parsers.known_parsers(kind, plan.version)
    plugin = vllm_parsers.PLUGIN_FLAGS[kind]
    if (known is None or parser in known[1]
            or any(vllm_cli.canonical_flag(arg) == plugin for arg in cfg.engine.extra_args)):
        return None
    release, names = known
    return (f"{key}: vLLM {release} has no parser named {parser!r} and would exit at start; "
            f"use one of {', '.join(sorted(names))}, auto or null (or register yours with "
            f"{plugin} in engine.extraArgs)")


def reasoning_parser_in_the_pinned_version(cfg: StackConfig, plan: Plan) -> Optional[str]:
    return _parser_problem(cfg, plan, "reasoning", "model.reasoningParser",
                           cfg.model.reasoning_parser)


def tool_call_parser_in_the_pinned_version(cfg: StackConfig, plan: Plan) -> Optional[str]:
    return _parser_problem(cfg, plan, "tool_call", "model.toolCallParser",
                           cfg.model.tool_call_parser)


def online_fp8_in_the_pinned_version(cfg: StackConfig, plan: Plan) -> Optional[str]:
    if (cfg.model.quantization == "fp8" and model_families.is_sixteen_bit(plan.model.weights_dtype)
            and not vllm_features.online_fp8_available(plan.version)):
        return (f"model.quantization: fp8 of a 16-bit checkpoint is refused by vLLM "
                f"{cfg.vllm_version} (online quantization left `fp8` in "
                f"{vllm_features.ONLINE_FP8_REMOVED}); set model.quantization: fp8_per_tensor, "
                "or serve a pre-quantized FP8 checkpoint")
    if (cfg.model.quantization == "fp8_per_tensor"
            and not vllm_features.fp8_per_tensor_available(plan.version)):
        return (f"model.quantization: fp8_per_tensor is not checked to exist in vLLM "
                f"{cfg.vllm_version} (first checked: {vllm_features.FP8_PER_TENSOR_SINCE}); "
                "use model.quantization: fp8 on this version, or raise vllmVersion")
    return None


def extra_args_in_the_pinned_version(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """Flags the pinned vLLM's argument parser would reject at start (a crash loop after the
    rollout): removed flags (vllm_features.REMOVED_FLAGS) and the extensible cache where vLLM
    refuses it."""
    problems = []
    for arg in cfg.engine.extra_args:
        flag = vllm_cli.canonical_flag(arg, vllm_features.REMOVED_FLAGS)
        why = vllm_features.removed_flag(flag, plan.version) if flag else None
        if why:
            problems.append(f"engine.extraArgs: {flag} {why}; the pinned {cfg.vllm_version} "
                            "would refuse it at start")
    conflict = vllm_features.extensible_kv_cache_conflict(plan.version, cfg.engine.extra_args)
    if conflict:
        problems.append(f"engine.extraArgs: {conflict}")
    return "; ".join(problems) or None


def experts_to_spread(cfg: StackConfig, plan: Plan) -> Optional[str]:
    if plan.layout.expert_parallel and not plan.model.experts:
        return "gpu.expertParallel: the model has no experts; set it to false"
    return None


def tensor_parallel_divides_heads(cfg: StackConfig, plan: Plan) -> Optional[str]:
    heads, tp = plan.model.attention["heads"], plan.layout.tensor_parallel
    candidates = tensor_parallel_candidates(sharded_heads(plan.model), plan.gpu.per_node)
    if heads % tp:
        return (f"gpu.tensorParallel: {tp} does not divide the model's {heads} attention heads;"
                f" use one of {candidates}")
    linear = plan.model.linear_attention
    uneven = [n for n in (linear.num_key_heads, linear.num_value_heads) if n % tp] if linear else []
    if uneven:
        return (f"gpu.tensorParallel: {tp} does not divide the model's {uneven[0]} "
                "linear-attention heads (vLLM shards them per head and asserts it); "
                f"use one of {candidates}")
    return None


def decode_context_parallel_fits(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """vLLM's DCP reuses the TP ranks (vllm/config/parallel.py: "tp_size must be divisible by
    dcp_size") and cannot shard a sliding window (kv_cache_interface.py SlidingWindowSpec:
    "DCP not support sliding window")."""
    dcp, tp = cfg.engine.decode_context_parallel, plan.layout.tensor_parallel
    if dcp > 1 and tp % dcp:
        return (f"engine.decodeContextParallel: {dcp} does not divide gpu.tensorParallel {tp}; "
                f"use a divisor of {tp} (DCP splits the KV cache across the TP ranks)")
    if dcp > 1 and model_families.SLIDING_ATTENTION in (plan.model.layer_types or []):
        return (f"engine.decodeContextParallel: {dcp} with sliding-window layers, which vLLM "
                "cannot split by position; set it to 1")
    if dcp > 1 and model_families.is_gqa(plan.model.attention):
        return _gqa_decode_context_parallel(dcp, tp, plan.model.attention)
    return None


def _gqa_decode_context_parallel(dcp: int, tp: int, attention: dict) -> Optional[str]:
    """For GQA/MQA vLLM splits positions only over the TP ranks that hold a copy of the same
    KV head: TP > KV heads, DCP ≤ TP // KV heads and query heads per KV head divisible by DCP
    (vllm/config/model.py ModelConfig.verify_with_parallel_config, asserts in 0.14.0–0.26.0,
    ValueError in 0.32.0 and 0.33.0)."""
    kv_heads, heads = attention["kv_heads"], attention["heads"]
    if tp <= kv_heads:
        return (f"engine.decodeContextParallel: {dcp} needs gpu.tensorParallel above the "
                f"model's {kv_heads} KV heads (it is {tp}): vLLM splits positions over the TP "
                "ranks sharing a KV head; set it to 1, or raise gpu.tensorParallel")
    if dcp > tp // kv_heads or (heads // kv_heads) % dcp:
        return (f"engine.decodeContextParallel: {dcp} must be at most {tp // kv_heads} "
                f"(gpu.tensorParallel {tp} // {kv_heads} KV heads) and divide the "
                f"{heads // kv_heads} query heads per KV head; use a divisor of both")
    return None


def tensor_parallel_stays_in_a_node(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """TP across nodes runs over RDMA only (the DeepSeek-R1 recipe, TP 16 over 2 × 8): its
    cost is in the layout's reason (planning/layout.py)."""
    layout, gpu = plan.layout, plan.gpu
    if layout.tensor_parallel > gpu.per_node and cfg.multi_node.rdma is None:
        return (f"gpu.tensorParallel: {layout.tensor_parallel} spans nodes of {gpu.per_node} "
                "GPUs (gpu.perNode); tensor parallelism's all-reduces on every layer need "
                "NVLink-class bandwidth and, without RDMA, NCCL falls back to TCP; set "
                "multiNode.rdma {resourceName, count} to run TP across nodes, or keep TP at "
                f"most {gpu.per_node} and span nodes with pipeline parallelism (gpu.layout: "
                "pipeline) or, for MoE models, data × expert parallelism (gpu.layout: "
                "data-expert)")
    return None


def utilization_vllm_can_request(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """Before 0.34 (or with its measured sizing off) vLLM raises at start when the GPU's free
    memory is below total × utilization ("Free memory on device … is less than desired GPU
    memory utilization", vllm/v1/worker/utils.py request_memory, 0.16.0 to 0.34.0), and the
    CUDA context already holds some (memory.CUDA_CONTEXT_GIB)."""
    total, utilization = plan.gpu.memory_gib, plan.engine.gpu_memory_utilization
    free = total - memory.CUDA_CONTEXT_GIB
    if plan.engine.measured_kv or total * utilization <= free:
        return None
    most = math.floor(free / total * 100) / 100
    return (f"engine.gpuMemoryUtilization: {utilization} asks vLLM {cfg.vllm_version} for "
            f"{total * utilization:.2f} GiB of {plan.gpu.name}'s {total} GiB, but about "
            f"{memory.CUDA_CONTEXT_GIB:g} GiB is taken before vLLM checks, so it stops at start "
            f"(\"Free memory on device … is less than desired GPU memory utilization\"); use "
            f"at most {most}, or pin vLLM {vllm_features.EXTENSIBLE_KV_CACHE_SINCE}+ which sizes "
            "the cache from measured memory")


def replica_fits_its_nodes(cfg: StackConfig, plan: Plan) -> Optional[str]:
    layout, gpu = plan.layout, plan.gpu
    if layout.tensor_parallel > gpu.per_node:
        return None   # tensor_parallel_stays_in_a_node says why
    if layout.nodes == 1 and layout.gpus > gpu.per_node:
        return (f"gpu: the split {layout.describe()} = {layout.gpus} GPUs per replica, but a "
                f"node has {gpu.per_node} (gpu.perNode) and gpu.layout is single-node; use a "
                "quantized variant, a GPU with more memory, fewer GPUs per replica, or let the "
                "replica span nodes (gpu.layout: auto)")
    if layout.nodes > 1 and layout.gpus != layout.nodes * gpu.per_node:
        return (f"gpu: {layout.describe()} = {layout.gpus} GPUs does not fill {layout.nodes} "
                f"nodes of {gpu.per_node}; a replica that spans nodes uses whole nodes (one pod "
                "each): make TP × PP × DP a multiple of gpu.perNode")
    if layout.nodes > 1 and layout.pipeline_parallel > 1 and layout.data_parallel > 1:
        return (f"gpu: {layout.describe()} mixes pipeline and data parallelism across nodes, "
                "which the program does not launch; use gpu.layout pipeline (TP × PP) or "
                "data-expert (DP × EP)")
    return None


def multi_node_launcher_exists(cfg: StackConfig, plan: Plan) -> Optional[str]:
    layout = plan.layout
    chosen = plan.launcher                                # single, native or ray
    native = vllm_features.native_multi_node(plan.version)
    if chosen == "single":
        return None
    since = str(vllm_features.NATIVE_MULTI_NODE_SINCE)
    if not native and (chosen == "native" or layout.data_parallel > 1
                       and cfg.multi_node.launcher == "auto"):
        # The native launch asked for, or DP × EP left to auto, which only it can run.
        return (f"multiNode.launcher: vLLM {cfg.vllm_version} has no native multi-node launch "
                f"(--nnodes/--node-rank, from {since}); raise vllmVersion"
                + ("" if layout.data_parallel > 1 else ", or use multiNode.launcher: ray"))
    if chosen == "ray" and layout.data_parallel > 1:
        return ("multiNode.launcher: ray launches TP × PP groups only; data × expert parallelism "
                "across nodes uses vLLM's own --data-parallel flags: set launcher native")
    if chosen == "ray" and not _image_has_ray(cfg, plan.version):
        return (f"multiNode.launcher: Ray is not in the vllm/vllm-openai image of "
                f"{cfg.vllm_version} (vLLM no longer depends on it from 0.18.0); build the image "
                "with Ray: image.build: true and image.extraPipPackages: [ray==<version>], or "
                "use multiNode.launcher: native")
    return None


def _image_has_ray(cfg: StackConfig, version: vllm_features.Version) -> bool:
    """The stock image before 0.18.0, or a built image that installs Ray."""
    return vllm_features.image_has_ray(version) or cfg.image.build and any(
        p.split("==")[0].split("[")[0] == "ray" for p in cfg.image.extra_pip_packages)


def expert_parallel_across_nodes_has_rdma(cfg: StackConfig, plan: Plan) -> Optional[str]:
    layout, multi = plan.layout, cfg.multi_node
    if (layout.nodes > 1 and layout.expert_parallel and multi.rdma is None
            and not multi.acknowledge_tcp_expert_parallel):
        return ("multiNode.rdma: expert parallelism across nodes sends every token's hidden "
                "state to other nodes (all-to-all); without RDMA NCCL falls back to TCP "
                "silently and it runs several times slower. Set multiNode.rdma {resourceName, "
                "count} to your cluster's RDMA device resource, use gpu.layout: pipeline, or "
                "set multiNode.acknowledgeTcpExpertParallel: true")
    return None


def _binding_stage(plan: Plan) -> tuple[str, float, float]:
    """Where the KV budget binds, for a message (' on pipeline stage 1 of 4, …'; '' with one
    stage), and that stage's own weights and activation peak per GPU: each stage's budget comes
    from its own (memory.stage_budgets), and plan.kv's budget, bytes and request size are the
    binding stage's (plan.kv.binding_stage)."""
    stage = plan.kv.binding_stage
    weights = plan.weights.per_stage_gib or (plan.weights.per_gpu_gib,)
    peaks = plan.activations.stage_peaks_gib or (plan.activations.peak_gib,)
    where = (f" on pipeline stage {stage + 1} of {len(weights)}, the stage with the least room"
             if len(weights) > 1 else "")
    return where, weights[stage], peaks[stage]


def _binding_stage_workspace_gib(plan: Plan) -> float:
    """The fused-MoE workspace inside the binding stage's peak: every stage holding a layer
    past the dense first ones keeps it (memory.activations), a stage of dense layers alone
    none."""
    stages = memory.pipeline_stage_layers(plan.model.layers, plan.layout.pipeline_parallel)
    end = sum(stages[:plan.kv.binding_stage + 1])
    has_experts = end > memory.dense_layer_count(plan.model)
    return plan.activations.moe_workspace_gib if has_experts else 0.0


def batch_holds_max_num_seqs(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """vLLM raises at start when max_num_batched_tokens < max_num_seqs (SchedulerConfig
    verify_args, vllm/config/scheduler.py, 0.20.0-0.34.0), and the program renders both flags:
    e.g. the 256-token batched all-to-all default beside an H100's 1024 sequences."""
    tokens, seqs = plan.engine.max_num_batched_tokens, plan.engine.max_num_seqs
    if tokens >= seqs:
        return None
    defaults = [key for key, value in (("engine.maxNumBatchedTokens",
                                        cfg.engine.max_num_batched_tokens),
                                       ("engine.maxNumSeqs", cfg.engine.max_num_seqs))
                if value is None]
    said = f" ({' and '.join(defaults)} unset: vLLM's default)" if defaults else ""
    return (f"engine.maxNumBatchedTokens: {tokens} is below engine.maxNumSeqs {seqs}{said}, "
            f"and vLLM {cfg.vllm_version} stops at start (\"max_num_batched_tokens ({tokens}) "
            f"must be greater than or equal to max_num_seqs ({seqs})\"); set "
            f"engine.maxNumSeqs to at most {tokens} or engine.maxNumBatchedTokens to at least "
            f"{seqs}")


def _low_latency_dispatch_tokens(cfg: StackConfig, plan: Plan) -> Optional[int]:
    """The tokens per rank a DeepEP low-latency dispatch sends (vLLM passes the MoE layer's
    max_num_tokens: memory.deepep_low_latency_dispatch_tokens), or None where the stack runs no
    batched DeepEP low-latency all-to-all."""
    if (not plan.model.experts or memory.all2all_backend(cfg) != "deepep_low_latency"
            or not memory.uses_batched_all2all("deepep_low_latency", plan.layout)):
        return None
    return memory.deepep_low_latency_dispatch_tokens(plan.engine.max_num_batched_tokens,
                                                     plan.version)


def deepep_low_latency_buffer_allocates(cfg: StackConfig, plan: Plan) -> Optional[str]:
    model, engine = plan.model, plan.engine
    tokens = _low_latency_dispatch_tokens(cfg, plan)
    if tokens is None:
        return None
    size = memory.deepep_low_latency_rdma_bytes(tokens, model.hidden_size, model.experts)
    if size < memory.DEEPEP_MAX_RDMA_BYTES:
        return None
    most = min(tokens, NVSHMEM_QP_DEPTH // 2 - 1)  # the queue-depth check's bound too
    while most and memory.deepep_low_latency_rdma_bytes(
            most, model.hidden_size, model.experts) >= memory.DEEPEP_MAX_RDMA_BYTES:
        most -= 1
    return (f"engine.maxNumBatchedTokens: {engine.max_num_batched_tokens} sizes DeepEP's "
            f"low-latency RDMA buffer at {size / GIB:.2f} GiB per GPU "
            f"(get_low_latency_rdma_size_hint({tokens} tokens, hidden {model.hidden_size}, "
            f"{model.experts} experts)), and DeepEP refuses a buffer of 32 GiB or more at "
            f"start-up; set engine.maxNumBatchedTokens to at most {most}, or use another "
            "--all2all-backend")


NVSHMEM_QP_DEPTH = 1024
"""DeepEP's QP depth where NVSHMEM_QP_DEPTH is unset (deep_ep/buffers/legacy.py Buffer.__init__,
deepseek-ai/DeepEP; deep_ep/buffer.py before): the stack renders no NVSHMEM environment."""


def deepep_low_latency_qp_depth_holds_the_batch(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """DeepEP's Buffer.low_latency_dispatch asserts nvshmem_qp_depth >= (num_max_dispatch_tokens_
    per_rank + 1) × 2 (deep_ep/buffers/legacy.py), at the first low-latency dispatch; vLLM
    passes the MoE layer's max_num_tokens (memory.deepep_low_latency_dispatch_tokens)."""
    model, engine = plan.model, plan.engine
    tokens = _low_latency_dispatch_tokens(cfg, plan)
    if tokens is None:
        return None
    if (tokens + 1) * 2 <= NVSHMEM_QP_DEPTH:
        return None
    return (f"engine.maxNumBatchedTokens: {engine.max_num_batched_tokens} has DeepEP's "
            f"low-latency dispatch send {tokens} tokens per rank (vLLM {cfg.vllm_version}), and "
            f"DeepEP asserts NVSHMEM_QP_DEPTH ({NVSHMEM_QP_DEPTH}, its default; the stack sets "
            f"none) >= ({tokens} + 1) × 2 = {(tokens + 1) * 2} at the first decode step; set "
            f"engine.maxNumBatchedTokens to at most {NVSHMEM_QP_DEPTH // 2 - 1}, or use another "
            "--all2all-backend")


def weights_fit(cfg: StackConfig, plan: Plan) -> Optional[str]:
    if plan.kv.budget_gib > 0:
        return None
    gpu, weights, act = plan.gpu, plan.weights, plan.activations
    utilization = plan.engine.gpu_memory_utilization
    where, stage_weights, peak = _binding_stage(plan)
    # The workspace is to blame only when the rest fits without it: a fraction of a GiB of it
    # beside weights that leave less than non-torch would be fixed by no batch size. The rest
    # is the binding stage's own budget by the pinned vLLM's rule (not the fullest stage's
    # weights beside the last's sampler; from 0.34 the CUDA graphs and margin count too).
    workspace = _binding_stage_workspace_gib(plan)
    rest, _ = memory.stage_kv_budget(cfg, gpu, plan.version, plan.engine, stage_weights,
                                     peak - workspace, act.non_torch_gib)
    # What the pinned vLLM's rule leaves, in its own terms (from 0.34 graphs and margin too).
    _, arithmetic = memory.stage_kv_budget(cfg, gpu, plan.version, plan.engine, stage_weights,
                                           peak, act.non_torch_gib)
    if workspace and rest > 0:
        return (f"engine.maxNumBatchedTokens: the weights fit but the fused-MoE workspace does "
                f"not: {plan.engine.max_num_batched_tokens} tokens per rank reach the experts "
                f"× DP {plan.layout.data_parallel} and take {act.moe_workspace_gib:.1f} GiB per "
                f"GPU ({act.reason}), where {gpu.name} offers {gpu.memory_gib:.1f} GiB × "
                f"{utilization} − weights {stage_weights:.1f} GiB{where}; lower "
                "engine.maxNumBatchedTokens (vLLM's default all-to-all gathers every data-"
                "parallel rank's batch before the experts), or use fewer data-parallel ranks")
    return (f"model: the weights do not fit: {plan.model.hf_id} needs {weights.total_gib:.1f} "
            f"GiB, {stage_weights:.1f} GiB per GPU at {plan.layout.describe()}{where}, but "
            f"each {gpu.name} offers {gpu.memory_gib:.1f} GiB × {utilization} = "
            f"{gpu.memory_gib * utilization:.1f} GiB before activations {peak:.2f} GiB and "
            f"non-torch {act.non_torch_gib:.2f} GiB{' on that stage' if where else ''}, "
            f"leaving {plan.kv.budget_gib:.2f} GiB for the KV cache ({arithmetic}); "
            f"{suggest(cfg, plan)}")


def one_request_fits(cfg: StackConfig, plan: Plan) -> Optional[str]:
    kv, length = plan.kv, cfg.model.max_model_len
    if kv.budget_gib <= 0 or kv.holds(length):
        return None
    where, stage_weights, peak = _binding_stage(plan)
    # The budget's own arithmetic by the pinned vLLM's rule (from 0.34 the measured one).
    _, arithmetic = memory.stage_kv_budget(cfg, plan.gpu, plan.version, plan.engine,
                                           stage_weights, peak, plan.activations.non_torch_gib)
    return (f"model.maxModelLen: one {length}-token request needs {kv.request_gib:.1f} GiB of "
            f"KV cache per GPU ({kv.bytes_per_token / 1024:.1f} KiB per token), but only "
            f"{kv.budget_gib:.1f} GiB is left per GPU{where} ({arithmetic}); "
            f"{suggest(cfg, plan)}")


def budget_not_below_derived(cfg: StackConfig, plan: Plan) -> Optional[str]:
    start = plan.startup
    if start.budget_seconds >= start.derived_budget_seconds or (
            cfg.probes.acknowledge_short_startup):
        return None
    return (f"probes.startupBudgetSeconds: {start.budget_seconds} s is shorter than the derived "
            f"budget {start.derived_budget_seconds} s ((load {start.load_seconds} s + engine "
            f"start {start.engine_seconds} s) × {cfg.probes.safety_factor}); the kubelet would "
            "kill pods still loading. Remove it, raise storage.readMibPerSecond if your storage "
            "is faster, or set probes.acknowledgeShortStartup: true")


def engine_start_within_vllms_deadline(cfg: StackConfig, plan: Plan) -> Optional[str]:
    # Only API servers that do not launch their engines poll a fixed 600 s for them
    # (facts/vllm_features.py engine_ready_deadline_binds); the pod runs host.API_SERVERS_PER_POD.
    if not vllm_features.engine_ready_deadline_binds(plan.version, host.API_SERVERS_PER_POD):
        return None
    start = plan.startup
    engine_wait = start.estimated_seconds
    if plan.launcher == "ray":
        # The leader assembles the Ray cluster (peers pulling the image) before vLLM starts.
        engine_wait -= start.engine_phases.get("peer image pull", 0)
    if engine_wait <= vllm_features.ENGINE_READY_DEFAULT_SECONDS:
        return None
    return (f"vllmVersion: the estimated start of {engine_wait} s exceeds vLLM "
            f"{cfg.vllm_version}'s fixed {vllm_features.ENGINE_READY_DEFAULT_SECONDS} s wait for "
            f"its engine in each of the pod's {host.API_SERVERS_PER_POD} API servers "
            "(VLLM_ENGINE_READY_TIMEOUT_S can raise it only from 0.14.0): they would give up "
            "while the engine still loads; raise vllmVersion to 0.14.0 or "
            "newer, or make the start shorter (faster storage: storage.readMibPerSecond)")


def budget_not_below_estimate(cfg: StackConfig, plan: Plan) -> Optional[str]:
    start = plan.startup
    if start.budget_seconds >= start.estimated_seconds:
        return None
    return (f"probes.startupBudgetSeconds: {start.budget_seconds} s is below the estimated "
            f"start of {start.estimated_seconds} s itself; no acknowledgement makes that work")


def single_attach_without_surge(cfg: StackConfig, plan: Plan) -> Optional[str]:
    if _read_write_once(cfg) and plan.rollout.max_replicas == 1 and plan.rollout.surge > 0:
        return ("storage.pvc.accessMode: ReadWriteOnce with spareGpus lets a surge pod start on "
                "another node while the old pod holds the volume (Multi-Attach): the rollout "
                "hangs; use ReadWriteMany or set spareGpus: 0")
    return None


def single_attach_single_replica(cfg: StackConfig, plan: Plan) -> Optional[str]:
    replicas = plan.rollout.max_replicas
    if _read_write_once(cfg) and plan.layout.nodes > 1:
        return (f"storage.pvc.accessMode: ReadWriteOnce with a replica spanning "
                f"{plan.layout.nodes} nodes: every pod of the group mounts the weights, one per "
                "node, so all but the first fail with Multi-Attach; use a storage class with "
                "ReadWriteMany")
    if _read_write_once(cfg) and replicas > 1:
        return (f"storage.pvc.accessMode: ReadWriteOnce with {replicas} replicas fails with "
                "Multi-Attach as soon as two pods land on different nodes; use a storage class "
                "with ReadWriteMany (the download Job writes, the pods read), or run one "
                "replica")
    return None


def _read_write_once(cfg: StackConfig) -> bool:
    return cfg.storage.mode == "pvc" and cfg.storage.pvc.access_mode == "ReadWriteOnce"


def autoscaler_starts_at_replicas(cfg: StackConfig, plan: Plan) -> Optional[str]:
    scaling = cfg.autoscaling
    if scaling.enabled and 0 < scaling.min_replicas < cfg.replicas:  # 0: planning/wake.py
        return (f"autoscaling.minReplicas ({scaling.min_replicas}) is below replicas "
                f"({cfg.replicas}); with an autoscaler, replicas is the starting count: set "
                "minReplicas >= replicas")
    return None


def hpa_sees_the_whole_group(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """An HPA scales a LeaderWorkerSet through its scale subresource, whose selector picks the
    leaders only (kubernetes-sigs/lws leaderworkerset_controller.go `updateStatus`:
    status.hpaPodSelector = name + worker-index 0). In a data × expert group every pod serves
    its own ranks (hybrid load balancing), so the HPA would average the leaders' share only;
    KEDA's query sums the model's requests over every pod (rendering/promql.py keda_query)."""
    layout, scaling = plan.layout, cfg.autoscaling
    if not (scaling.enabled and scaling.engine == "hpa" and layout.nodes > 1
            and layout.data_parallel > 1):
        return None
    return (f"autoscaling.engine: hpa scales the LeaderWorkerSet on its leader pods only (the "
            "LWS scale subresource selects worker index 0), but this data × expert group "
            f"serves from all {layout.nodes} of its pods, so the HPA would see about "
            f"1/{layout.nodes} of the load and never scale up in time; use "
            "autoscaling.engine: keda, whose query sums every pod of the group")


def expected_request_fits_the_context(cfg: StackConfig, plan: Plan) -> Optional[str]:
    scaling, length = cfg.autoscaling, cfg.model.max_model_len
    if scaling.enabled and scaling.expected_request_tokens > length:
        return (f"autoscaling.expectedRequestTokens: {scaling.expected_request_tokens} is "
                f"longer than model.maxModelLen ({length}), which no request can be; set it to "
                "a typical prompt + answer length")
    return None


def target_below_the_kv_alert(cfg: StackConfig, plan: Plan) -> Optional[str]:
    scaling = cfg.autoscaling
    kv_alert = cfg.monitoring.thresholds.kv_cache_usage
    if scaling.enabled and cfg.monitoring.enabled and scaling.target_utilization >= kv_alert:
        return (f"autoscaling.targetUtilization: {scaling.target_utilization} would hold every "
                "replica's KV cache at or above monitoring.thresholds.kvCacheUsage "
                f"({kv_alert}), so the alert would fire whenever the autoscaler is on target; "
                "lower the target or raise the threshold")
    return None


def _add_ons_rendered(cfg: StackConfig, plan: Plan) -> dict[str, bool]:
    """clusterVersions key -> whether this stack creates objects of that add-on."""
    gateway = cfg.traffic.gateway if cfg.traffic.enabled else None
    return {"keda": cfg.autoscaling.enabled and cfg.autoscaling.engine == "keda",
            "lws": plan.layout.nodes > 1,
            "prometheusOperator": cfg.monitoring.enabled and cfg.monitoring.prometheus_operator,
            "envoyGateway": gateway is not None and gateway.envoy_gateway,
            "gatewayApi": gateway is not None}


def cluster_add_ons_meet_their_floors(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """An add-on this stack creates objects for, stated below its floor (its API server would
    prune or refuse what is rendered), or unstated where the table says it must be
    (facts/cluster_versions.py)."""
    used = _add_ons_rendered(cfg, plan)
    stated = cfg.cluster_versions.model_dump(by_alias=True)
    problems = []
    for row in cluster_versions.ADD_ONS:
        key, version = f"clusterVersions.{row.config_key}", stated[row.config_key]
        if not used[row.config_key]:
            continue
        if version is None:
            if row.must_be_stated:
                problems.append(
                    f"{key} is not set: state the cluster's {row.name} release (this stack "
                    f"renders {row.used_when}, which needs {row.floor} or later; read it with "
                    f"{row.read_with})")
            continue
        unknown = [f"{need.what} (from {need.since}: {need.why})"
                   for need in row.missing(version)]
        if unknown:
            problems.append(
                f"{key} is {version}, but this stack renders {'; '.join(unknown)}, which "
                f"{row.name} {version} does not know; upgrade {row.name} to {row.floor} or "
                f"later, or set {key} to the release installed")
    return "; ".join(problems) or None


def alias_caps_within_the_drain(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """A local alias's maxTokens above shutdown.maxTokens could outlast the timeouts and the
    drain, which are derived from shutdown.maxTokens."""
    if not cfg.traffic.enabled:
        return None
    engine_max = cfg.shutdown.max_tokens
    return "; ".join(
        f"traffic.aliases {alias.name!r}: maxTokens {alias.max_tokens} is over "
        f"shutdown.maxTokens ({engine_max}), from which the timeouts and the drain are "
        "derived, so such a request could be cut; lower the alias's maxTokens or raise "
        "shutdown.maxTokens"
        for alias in cfg.traffic.aliases if alias.local and alias.max_tokens > engine_max) or None


def router_keys_from_one_place(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """Each provider's key and the Redis password come from exactly one place
    (planning/config/traffic.py `secret_problems`)."""
    return "; ".join(secret_problems(cfg.traffic, cfg.traffic_secrets)) or None


def scale_to_zero_can_work(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """minReplicas 0 only with KEDA, the router and single-node replicas (planning/wake.py)."""
    return "; ".join(wake.problems(cfg, plan.layout.nodes)) or None


def queue_bounds_above_the_target(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """The admission bounds leave room above the autoscaler's target (planning/admission.py)."""
    return "; ".join(admission.problems(plan.admission,
                                        plan.autoscaling.target_per_replica)) or None


def blue_green_can_switch(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """A switch has room, a router, single-node replicas and both revisions' weights and
    images (planning/revisions.py)."""
    return "; ".join(revisions.problems(cfg, plan.revisions, plan.layout.nodes)) or None


def router_keeps_up(cfg: StackConfig, plan: Plan) -> Optional[str]:
    """The router runs below its utilisation at the engines' peak (planning/router_sizing.py)."""
    if plan.traffic is None or plan.traffic.router_sizing is None:
        return None
    return router_sizing.problem(cfg, plan.traffic.router_sizing)


CHECKS: list[Check] = [
    storage_mode_rendered,
    loader_in_the_pinned_version,
    object_store_read_by_the_streamer,
    image_volumes_in_the_cluster,
    node_cache_disk_holds_the_revisions,
    vllm_serves_the_model,
    gpu_runs_the_kernels,
    gpu_runs_nvfp4,
    fp8_cache_keeps_the_v1_engine,
    dsa_cache_has_a_sparse_backend,
    context_within_the_model,
    remote_code_acknowledged,
    reasoning_parser_in_the_pinned_version,
    tool_call_parser_in_the_pinned_version,
    online_fp8_in_the_pinned_version,
    extra_args_in_the_pinned_version,
    experts_to_spread,
    tensor_parallel_divides_heads,
    decode_context_parallel_fits,
    tensor_parallel_stays_in_a_node,
    replica_fits_its_nodes,
    multi_node_launcher_exists,
    expert_parallel_across_nodes_has_rdma,
    utilization_vllm_can_request,
    batch_holds_max_num_seqs,
    deepep_low_latency_buffer_allocates,
    deepep_low_latency_qp_depth_holds_the_batch,
    weights_fit,
    one_request_fits,
    budget_not_below_derived,
    budget_not_below_estimate,
    engine_start_within_vllms_deadline,
    single_attach_without_surge,
    single_attach_single_replica,
    autoscaler_starts_at_replicas,
    hpa_sees_the_whole_group,
    expected_request_fits_the_context,
    target_below_the_kv_alert,
    cluster_add_ons_meet_their_floors,
    alias_caps_within_the_drain,
    router_keys_from_one_place,
    router_keeps_up,
    scale_to_zero_can_work,
    queue_bounds_above_the_target,
    blue_green_can_switch,
]
"""Every feasibility check, in the order their problems are reported."""


def problems(cfg: StackConfig, plan: Plan) -> list[str]:
    """The problem of every check that has one."""
    return [problem for check in CHECKS if (problem := check(cfg, plan)) is not None]


LOW_UTILIZATION = 0.5
"""Below half of each GPU, a utilization only makes sense when something else shares it."""


def warnings(cfg: StackConfig, plan: Plan) -> list[str]:
    """What works but is probably not meant, said at every preview (planning/load.py): a
    utilization at the extremes of vLLM's (0, 1], a load path's unchecked assumptions."""
    return _utilization_warnings(cfg, plan) + load_path_warnings(cfg, plan)


def load_path_warnings(cfg: StackConfig, plan: Plan) -> list[str]:
    """An unmeasured read rate (budgeted as a slow mount), and an image volume on a cluster
    whose ImageVolume gate is off by default."""
    found = []
    if cfg.storage.read_mib_per_second is None:
        found.append(
            "storage.readMibPerSecond is not set: the start-up budget assumes "
            f"{delivery.UNMEASURED_READ_MIB_PER_SECOND} MiB/s, a slow mount "
            f"({plan.startup.load_seconds} s to read {plan.startup.read_gib:.1f} GiB); measure "
            "the per-pod read rate of the weights' medium and set it")
    minor = cfg.cluster_versions.kubernetes
    if (cfg.storage.mode == "image" and minor is not None
            and load_paths.image_volume_support(minor) == "gated"):
        found.append(
            f"clusterVersions.kubernetes {minor}: image volumes are beta with the "
            f"{load_paths.IMAGE_VOLUME_GATE} feature gate off by default until "
            f"{load_paths.IMAGE_VOLUME_DEFAULT_ON}; the API server and every kubelet need "
            f"--feature-gates={load_paths.IMAGE_VOLUME_GATE}=true and the runtime containerd "
            f"{load_paths.CONTAINERD_IMAGE_VOLUMES}+ (or CRI-O), else the pods are refused")
    if cfg.storage.mode == "nodeCache" and not cfg.create_namespace:
        found.append(
            f"storage.mode nodeCache with createNamespace false: the stager and engine pods "
            f"mount a hostPath, which only Pod Security 'privileged' admits; label namespace "
            f"{cfg.namespace} pod-security.kubernetes.io/enforce=privileged, else every pod of "
            "the stack is refused")
    return found


def _utilization_warnings(cfg: StackConfig, plan: Plan) -> list[str]:
    """A utilization at the extremes of vLLM's (0, 1]."""
    utilization = cfg.engine.gpu_memory_utilization
    if utilization is None:
        return []
    total, key = plan.gpu.memory_gib, f"engine.gpuMemoryUtilization: {utilization}"
    if utilization < LOW_UTILIZATION:
        return [f"{key} leaves {total * (1 - utilization):.1f} GiB of each {plan.gpu.name} out "
                "of vLLM's reach; right only when another process shares the GPU"]
    if plan.engine.measured_kv:
        return _withheld_warning(cfg, plan, key)
    left = total * (1 - utilization) - memory.CUDA_CONTEXT_GIB
    if left < memory.KV_MARGIN_FLOOR_GIB:
        return [f"{key} leaves {left:.2f} GiB beside the CUDA context for what vLLM's "
                f"profiling does not see, less than the {memory.KV_MARGIN_FLOOR_GIB:g} GiB vLLM "
                "0.34 keeps itself; an OOM under load is likely: 0.95 or lower is safer"]
    return []


def _withheld_warning(cfg: StackConfig, plan: Plan, key: str) -> list[str]:
    """vLLM 0.34 itself warns when 0.7 < utilization < 1.0 keeps at least 1 GiB of free
    memory out of the measured cache (extensible_kv_cache.py measure_kv_cache_blocks)."""
    total, utilization = plan.gpu.memory_gib, plan.engine.gpu_memory_utilization
    whole = dataclasses.replace(plan.engine, gpu_memory_utilization=1.0)
    uncapped = kv_cache(cfg, plan.model, plan.gpu, plan.version, plan.layout, whole,
                        plan.weights, plan.activations)
    withheld = uncapped.budget_gib - plan.kv.budget_gib
    if not 0.7 < utilization < 1.0 or withheld < 1:
        return []
    return [f"{key} withholds {withheld:.1f} GiB of free memory from the KV cache on vLLM "
            f"{cfg.vllm_version}, which sizes it from memory measured after warm-up and needs "
            "no headroom below 1.0; leave it unset unless another process, a KV connector's "
            f"own buffers or weight updates need that memory ({total} GiB GPU)"]


def _fits(cfg: StackConfig, plan: Plan, layout: Layout) -> bool:
    memory = gpu_memory(cfg, plan.model, plan.gpu, plan.version, layout)
    return memory.kv.holds(cfg.model.max_model_len)


def suggest(cfg: StackConfig, plan: Plan) -> str:
    """What would make it fit: a larger TP, fp8, a shorter context, a higher utilization."""
    model, gpu, layout = plan.model, plan.gpu, plan.layout
    ideas = []
    for size in tensor_parallel_candidates(sharded_heads(model), gpu.per_node):
        bigger = Layout(size, layout.pipeline_parallel, layout.data_parallel,
                        layout.expert_parallel)
        if size > layout.tensor_parallel and bigger.gpus_per_node <= gpu.per_node and _fits(
                cfg, plan, bigger):
            ideas.append(f"gpu.tensorParallel: {size}")
            break
    if cfg.model.quantization is None and model_families.is_sixteen_bit(model.weights_dtype):
        method = vllm_features.online_fp8_method(plan.version)
        fp8 = cfg.model_copy(update={"model": cfg.model.model_copy(
            update={"quantization": method})})
        if _fits(fp8, plan, layout):
            ideas.append(f"model.quantization: {method}")
    if plan.kv.budget_gib > 0:
        longest = plan.kv.longest_request
        fits_len = ((plan.kv.tokens_per_rank if longest is None else longest) // 1024) * 1024
        if fits_len >= 1024:
            ideas.append(f"model.maxModelLen: {fits_len} or less")
    for util in (0.92, 0.95):
        if util > plan.engine.gpu_memory_utilization:
            engine = cfg.engine.model_copy(update={"gpu_memory_utilization": util})
            if _fits(cfg.model_copy(update={"engine": engine}), plan, layout):
                ideas.append(f"engine.gpuMemoryUtilization: {util}")
                break
    if ideas:
        return "to fix, set " + ", or ".join(ideas)
    node_gib = gpu.memory_gib * gpu.per_node
    if plan.weights.total_gib > node_gib * 0.9 and cfg.gpu.layout == "single-node":
        return (f"the weights ({plan.weights.total_gib:.0f} GiB) need more than one node of "
                f"{gpu.per_node} × {gpu.name} ({node_gib:.0f} GiB); let the replica span nodes "
                "(gpu.layout: auto), or use GPUs with more memory (e.g. H200) or a quantized "
                "variant")
    if plan.weights.total_gib > node_gib * 0.9:
        return (f"the weights ({plan.weights.total_gib:.0f} GiB) need more than one node of "
                f"{gpu.per_node} × {gpu.name} ({node_gib:.0f} GiB) and no layout of up to "
                f"{MAX_NODES} nodes fits; set gpu.nodes, or use GPUs with more memory or a "
                "quantized variant")
    return "no single-node change makes it fit; choose a smaller or quantized model or larger GPUs"
