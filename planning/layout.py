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
from typing import Callable

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


def candidate_layouts(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts) -> list[Layout]:
    """Layouts to try, smallest first: each TP size that divides the heads, with the configured
    PP, DP and expert parallelism, or only the configured TP when gpu.tensorParallel is set."""
    heads = model.attention["heads"]
    sizes = tensor_parallel_candidates(heads, gpu.per_node)
    pp, dp, ep = cfg.gpu.pipeline_parallel, cfg.gpu.data_parallel, cfg.gpu.expert_parallel
    if cfg.gpu.tensor_parallel is not None:
        return [Layout(cfg.gpu.tensor_parallel, pp, dp, ep,
                       reason=f"TP {cfg.gpu.tensor_parallel} set in gpu.tensorParallel")]
    reason = f"the smallest TP in {sizes} dividing {heads} heads that fits"
    return [Layout(size, pp, dp, ep, reason=reason) for size in sizes]


def choose_layout(cfg: StackConfig, model: ModelFacts, gpu: GpuFacts,
                  fits: Callable[[Layout], bool]) -> Layout:
    """The first candidate that fits on its nodes and holds one max-length request; when none
    does, the largest (the feasibility checks then say why it cannot work and what would)."""
    candidates = candidate_layouts(cfg, model, gpu)
    for layout in candidates:
        if layout.gpus_per_node <= gpu.per_node and fits(layout):
            return layout
    return candidates[-1] if candidates else Layout(1)
