"""The plan's figures: one typed section per planning step (see planning/plan.py).

Its own module so that the feasibility checks (planning/checks.py) can read a drafted plan
without importing make_plan, which runs them.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from facts import vllm_features
from planning import (admission, capacity, host, memory, revisions, scaling, throughput, timing,
                      wake)
from planning.traffic import TrafficPlan
from planning.config import GpuFacts, ModelFacts
from planning.layout import Layout


@dataclasses.dataclass(frozen=True)
class Plan:
    """Derived figures for one stack, one typed section per step. GiB and seconds."""

    model: ModelFacts
    gpu: GpuFacts
    version: vllm_features.Version
    replicas: int
    layout: Layout
    launcher: str
    """How a replica starts: single, native or ray (planning/layout.py `launcher`)."""
    launcher_reason: str
    engine: memory.EngineLimits
    weights: memory.Weights
    activations: memory.Activations
    kv: memory.KvCache
    host: host.HostResources
    startup: timing.Startup
    drain: timing.Drain
    rollout: timing.Rollout
    storage: capacity.Storage
    autoscaling: capacity.Autoscaling
    scaling: scaling.Scaling
    traffic: Optional[TrafficPlan]
    """The edge's and the router's budgets (planning/traffic.py); None without traffic."""
    wake: Optional[wake.Wake] = None
    """Scale to zero (planning/wake.py): set when autoscaling.minReplicas is 0."""
    admission: Optional[admission.Admission] = None
    """Per-replica queue bounds (planning/admission.py), for versions that have them."""
    revisions: Optional[revisions.Revisions] = None
    """Blue-green room and the switch in progress (planning/revisions.py)."""
    throughput: Optional[throughput.Throughput] = None
    """Decode time per token and prefill throughput at the plan's batch
    (planning/throughput.py), and the timings the drain and the router use."""

    @property
    def gpus_total(self) -> int:
        """GPUs at the most replicas = GPUs per replica × max replicas."""
        return self.layout.gpus * self.rollout.max_replicas

    def outputs(self) -> dict:
        """The figures exported as stack outputs (and printed by the plan report)."""
        layout = self.layout
        return {
            "model": self.model.hf_id,
            "gpuType": self.gpu.name,
            "gpusPerReplica": layout.gpus,
            "gpusTotal": self.gpus_total,
            "split": {"tensorParallel": layout.tensor_parallel,
                      "pipelineParallel": layout.pipeline_parallel,
                      "dataParallel": layout.data_parallel,
                      "expertParallel": layout.expert_parallel},
            "weightsPerGpuGib": round(self.weights.per_gpu_gib, 2),
            "kvCacheGibPerGpu": round(self.kv.budget_gib, 2),
            "kvCacheTokens": self.kv.tokens_per_rank * layout.data_parallel,
            "maxConcurrency": round(self.kv.max_concurrency, 2),
            "memoryRequestGib": self.host.memory_request_gib,
            "memoryLimitGib": self.host.memory_limit_gib,
            "shmGib": self.host.shm_gib,
            "startupBudgetSeconds": self.startup.budget_seconds,
            "terminationGraceSeconds": self.drain.grace_seconds,
            "rolloutTimeoutSeconds": self.rollout.timeout_seconds,
            "runnableRequestsPerReplica": self.autoscaling.runnable_requests,
            "autoscalerTargetPerReplica": self.autoscaling.target_per_replica,
        }
