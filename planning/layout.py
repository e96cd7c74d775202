"""The parallel layout of one replica: how its GPUs split the model, and on how many nodes.

A layout is a value: tensor parallel (TP, splits every layer; inside one node only, its
all-reduces need NVLink-class bandwidth), pipeline parallel (PP, splits the layers into stages),
data parallel (DP, copies of the attention, with expert parallelism the experts spread over all
of them) and the number of nodes the replica spans. Today every candidate sits on one node; a
multi-node layout (TP inside a node × PP or DP×EP across nodes) is another value of the same
type, ranked by the same rule, not a second code path.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

from facts import vllm_features
from planning.config import GpuFacts, ModelFacts, StackConfig


@dataclasses.dataclass(frozen=True)
class Layout:
    """How one replica's GPUs split the model."""

    tensor_parallel: int
    pipeline_parallel: int = 1
    data_parallel: int = 1
    expert_parallel: bool = False
    nodes: int = 1
    reason: str = ""

    @property
    def gpus(self) -> int:
        """GPUs per replica = TP × PP × DP."""
        return self.tensor_parallel * self.pipeline_parallel * self.data_parallel

    @property
    def gpus_per_node(self) -> int:
        """GPUs each pod of the replica uses = GPUs / nodes."""
        return self.gpus // self.nodes

    @property
    def expert_shards(self) -> int:
        """GPUs the routed experts are spread over: TP × DP with expert parallelism (vLLM's EP
        group is the TP × DP ranks of a stage), else TP (each DP rank holds all experts)."""
        return self.tensor_parallel * (self.data_parallel if self.expert_parallel else 1)

    @property
    def tensor_parallel_spans_nodes(self) -> bool:
        """True when one tensor-parallel group reaches past its node (TP > GPUs per node):
        vLLM's custom all-reduce is then off (planning/memory.py custom_all_reduce_off)."""
        return self.tensor_parallel > self.gpus_per_node

    @property
    def expert_group_spans_nodes(self) -> bool:
        """True when a stage's TP × DP ranks (the expert-parallel and all-to-all group) reach
        past one node: DeepEP then keeps RDMA buffers too (planning/memory.py
        all2all_buffer_gib)."""
        return self.tensor_parallel * self.data_parallel > self.gpus_per_node

    def describe(self) -> str:
        """'TP 2 × PP 1 × DP 1' (+ expert parallelism, + nodes when more than one)."""
        text = f"TP {self.tensor_parallel} × PP {self.pipeline_parallel} × DP {self.data_parallel}"
        if self.expert_parallel:
            text += " with expert parallelism"
        if self.nodes > 1:
            text += f" on {self.nodes} nodes"
        return text


def tensor_parallel_candidates(heads: int, per_node: int) -> list[int]:
    """Tensor-parallel sizes vLLM accepts inside one node: powers of two dividing the heads."""
    sizes = []
    size = 1
    while size <= per_node:
        if heads % size == 0:
            sizes.append(size)
        size *= 2
    return sizes


def sharded_heads(model: ModelFacts) -> int:
    """The head count every tensor-parallel rank must split evenly: the attention heads and,
    for a hybrid model, its linear-attention key and value heads, which vLLM shards per head
    and asserts with divide() (vllm/distributed/utils.py ensure_divisibility;
    model_executor/layers/mamba/gdn/kimi_gdn_linear_attn.py divide(num_heads, tp_size),
    qwen_gdn_linear_attn.py divide(num_v_heads, tp_size) and num_k_heads // tp_size groups,
    mamba_utils.py MambaStateShapeCalculator, 0.33.0). A TP divides them all iff it divides
    their gcd. Example: Qwen3-Next 16 heads, 16 key and 32 value heads -> 16."""
    linear = model.linear_attention
    if linear is None:
        return model.attention["heads"]
    return math.gcd(model.attention["heads"], linear.num_key_heads, linear.num_value_heads)


MAX_NODES = 8
"""Largest group the planner proposes on its own (gpu.nodes may ask for up to 16)."""


def _nodes_for(gpus: int, per_node: int) -> int:
    return max(1, -(-gpus // per_node))


def _single_node(cfg: StackConfig, sizes: list[int], heads: int) -> list[Layout]:
    pp, dp, ep = cfg.gpu.pipeline_parallel, cfg.gpu.data_parallel, cfg.gpu.expert_parallel
    reason = f"the smallest TP in {sizes} dividing {heads} heads that fits on one node"
    return [Layout(size, pp, dp, ep, reason=reason) for size in sizes]


def _pipeline(cfg: StackConfig, sizes: list[int], per_node: int) -> list[Layout]:
    """TP filling a node (tensor parallelism stays inside it), one or more pipeline stages per
    node, for 2 … MAX_NODES nodes."""
    tp = cfg.gpu.tensor_parallel or max(sizes)
    stages = max(1, per_node // tp)
    return [Layout(tp, nodes * stages, 1, False, nodes=nodes,
                   reason=f"TP {tp} inside each node × PP {nodes * stages} across {nodes} "
                          "nodes: the fewest nodes that fit")
            for nodes in range(2, MAX_NODES + 1)]


def _data_expert(cfg: StackConfig, per_node: int) -> list[Layout]:
    """Data-parallel attention with the experts spread over every GPU, for 2 … MAX_NODES."""
    tp = cfg.gpu.tensor_parallel or 1
    return [Layout(tp, 1, nodes * per_node // tp, True, nodes=nodes,
                   reason=f"DP {nodes * per_node // tp} attention × expert parallelism across "
                          f"{nodes} nodes (TP {tp} inside a node): the fewest nodes that fit")
            for nodes in range(2, MAX_NODES + 1)]


def _tensor_parallel_span_cost(tp: int, per_node: int) -> str:
    """What TP across nodes costs (allowed with multiNode.rdma, planning/checks.py): every
    layer's all-reduces cross the node boundary over RDMA, and vLLM's custom all-reduce is off
    for a group spanning nodes without MNNVL GPUs (vllm/distributed/device_communicators/
    custom_all_reduce.py CustomAllreduce.__init__, 0.34), so NCCL carries them."""
    if tp <= per_node:
        return ""
    return (f"; TP {tp} spans {-(-tp // per_node)} nodes of {per_node}: every layer's "
            "all-reduces cross nodes over RDMA (a NIC's bandwidth, an order of magnitude "
            "below NVLink) and vLLM's custom all-reduce is off, so per-token latency is "
            f"higher than TP {per_node} × PP; chosen for whole-model TP without pipeline "
            "bubbles")


def candidate_layouts(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts) -> list[Layout]:
    """Layouts to try, smallest first.

    An explicit split (gpu.tensorParallel) is the only candidate, on as many nodes as its GPUs
    need. Otherwise (gpu.layout auto): every single-node TP size first, then multi-node
    layouts by node count — pipeline (TP in a node × PP across nodes) and, for MoE models,
    data-expert (DP × EP across nodes), the latter first when RDMA is configured (all-to-all
    needs it). gpu.layout restricts the kinds, gpu.nodes the node count.
    """
    heads = sharded_heads(model)
    sizes = tensor_parallel_candidates(heads, gpu.per_node)
    pp, dp, ep = cfg.gpu.pipeline_parallel, cfg.gpu.data_parallel, cfg.gpu.expert_parallel
    kind = cfg.gpu.layout
    if cfg.gpu.tensor_parallel is not None and kind in ("auto", "single-node"):
        tp = cfg.gpu.tensor_parallel
        layout = Layout(tp, pp, dp, ep, nodes=_nodes_for(tp * pp * dp, gpu.per_node))
        reason = f"{layout.describe()} set under gpu" + _tensor_parallel_span_cost(
            tp, gpu.per_node)
        return [dataclasses.replace(layout, reason=reason)]
    candidates = _single_node(cfg, sizes, heads) if kind in ("auto", "single-node") else []
    spanning = []
    if kind in ("auto", "pipeline"):
        spanning += _pipeline(cfg, sizes, gpu.per_node)
    if kind in ("auto", "data-expert") and model.experts:
        spanning += _data_expert(cfg, gpu.per_node)
    rdma_first = cfg.multi_node.rdma is not None
    spanning.sort(key=lambda layout: (layout.nodes, layout.expert_parallel != rdma_first))
    if cfg.gpu.nodes is not None:
        candidates = [c for c in candidates if c.nodes == cfg.gpu.nodes]
        spanning = [c for c in spanning if c.nodes == cfg.gpu.nodes]
        spanning = [dataclasses.replace(c, reason=c.reason.replace(
            "the fewest nodes that fit", "gpu.nodes")) for c in spanning]
    return candidates + spanning or [Layout(max(sizes), pp, dp, ep)]


def choose_layout(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts,
                  fits: Callable[[Layout], bool]) -> Layout:
    """The first candidate that fits on its nodes and holds one max-length request; when none
    does, the largest single-node one (the feasibility checks then say why it cannot work and
    what would)."""
    candidates = candidate_layouts(cfg, model, gpu)
    for layout in candidates:
        if layout.gpus_per_node <= gpu.per_node and fits(layout):
            return layout
    single = [layout for layout in candidates if layout.nodes == 1]
    return (single or candidates)[-1]


def launcher(cfg: StackConfig, version: vllm_features.Version, layout: Layout) -> str:
    """How a replica starts: `single` (one node), `native` (vLLM's own multi-node launch,
    0.11.1+) or `ray` (multiNode.launcher: ray, or a version without the native launch)."""
    if layout.nodes == 1:
        return "single"
    choice = cfg.multi_node.launcher
    if choice == "ray" or choice == "auto" and not vllm_features.native_multi_node(version):
        return "ray"
    return "native"


def launcher_reason(cfg: StackConfig, version: vllm_features.Version, chosen: str) -> str:
    """Why `launcher` chose what it did, from the same inputs."""
    if chosen == "single":
        return "one node per replica: vLLM starts alone"
    if cfg.multi_node.launcher != "auto":
        return f"multiNode.launcher: {cfg.multi_node.launcher}"
    has = "has" if vllm_features.native_multi_node(version) else "lacks"
    return (f"multiNode.launcher auto: vLLM {version} {has} the native multi-node launch "
            f"(from {vllm_features.NATIVE_MULTI_NODE_SINCE})")
