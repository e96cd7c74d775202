"""What the deployment plan says a case's vLLM logs: the plan's own steps on the case's stack.

`predict` runs the steps `planning.plan.make_plan` composes for one replica — the layout
(planning/layout.py), then engine limits, weights, activations and KV cache
(planning/memory.py gpu_memory) — and `startup` the start-up step (planning/timing.py), on the
stack config that runs the case (benchmark/stacks.py). Nothing here derives a figure: a branch
the plan gains reaches the benchmark with it. The feasibility checks are not run: a case may be
a run the program would refuse (a V0 version, a start that ran out of cache).
"""

from __future__ import annotations

import dataclasses
import math

from benchmark.cases import Case
from planning import memory, timing
from planning.layout import Layout, candidate_layouts
from planning.memory import GpuMemory


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The plan's figures for a case, per GPU of the fullest rank, named as vLLM logs them."""

    layout: Layout
    memory: GpuMemory

    @property
    def utilization(self) -> float:
        """--gpu-memory-utilization: the run's, else vLLM's default."""
        return self.memory.engine.gpu_memory_utilization

    @property
    def max_num_batched_tokens(self) -> int:
        """--max-num-batched-tokens: the run's, else vLLM's default."""
        return self.memory.engine.max_num_batched_tokens

    @property
    def max_num_seqs(self) -> int:
        """--max-num-seqs: the run's, else vLLM's default."""
        return self.memory.engine.max_num_seqs

    @property
    def weights_gib(self) -> float:
        """"Model loading took X GiB": the fullest GPU's weights."""
        return self.memory.weights.per_gpu_gib

    @property
    def activation_gib(self) -> float:
        """The profiling run's activation peak."""
        return self.memory.activations.peak_gib

    @property
    def non_torch_gib(self) -> float:
        """Memory outside the torch allocator."""
        return self.memory.activations.non_torch_gib

    @property
    def kv_gib(self) -> float:
        """"Available KV cache memory"."""
        return self.memory.kv.budget_gib

    @property
    def bytes_per_token(self) -> float:
        """Cache bytes one token costs on one GPU."""
        return self.memory.kv.bytes_per_token

    @property
    def block_size(self) -> int:
        """Tokens per cache block."""
        return self.memory.kv.block_size

    @property
    def kv_tokens(self) -> int:
        """"GPU KV cache size: N tokens"."""
        return self.memory.kv.tokens_per_rank


def layout_of(case: Case) -> Layout:
    """The case's parallel layout, as the plan's layout step reads it from gpu.* (the flags
    fix the split, so it is the only candidate)."""
    cfg = case.config
    (layout,) = candidate_layouts(cfg, cfg.model.shape, cfg.gpu.resolved())
    return layout


def predict(case: Case) -> Prediction:
    """The plan's GPU memory steps for one case (planning/memory.py gpu_memory)."""
    cfg, layout = case.config, layout_of(case)
    return Prediction(layout, memory.gpu_memory(cfg, cfg.model.shape, cfg.gpu.resolved(),
                                                case.version, layout))


def startup(case: Case, load_seconds: float) -> timing.Startup:
    """The plan's start-up step for one case whose weight load took `load_seconds`.

    The read rate is what an operator measures and configures (storage.readMibPerSecond): the
    checkpoint's size over the logged "Loading weights took", in whole MiB/s rounded down, so
    the plan's load time is the logged one rounded up. Everything after the load is the plan's
    own derivation from the model, the version and the compile cache state.
    """
    cfg, pred = case.config, predict(case)
    rate = max(1, math.floor(pred.memory.weights.checkpoint_gib * 1024 / load_seconds))
    cfg = cfg.model_copy(update={"storage": cfg.storage.model_copy(
        update={"read_mib_per_second": rate})})
    return timing.startup(cfg, cfg.model.shape, cfg.gpu.resolved(), case.version,
                          pred.memory.weights, pred.layout, pred.memory.engine)
