"""`gpu` and `multiNode`: the accelerators a replica gets and how a group spans nodes."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, BaseModel, Field, model_validator

import facts
from facts import k8s_names
from planning.config.base import LabelKey, _api_server_rule, _Model


class GpuConfig(_Model):
    """GPU type, how many per replica and how they are split."""

    type: Optional[str] = Field(
        default=None,
        description="a10g, l4, l40s, a100-40gb, a100-80gb, h100-80gb, h200, h20, h800, h100-nvl, "
                    "gh200, b200, rtx-4090 or rtx-5090 (facts/gpus.yaml)")
    product_labels: Optional[list[str]] = Field(
        default=None,
        description="Override or replace the type's facts: the GPU product label values nodes "
                    "carry")
    memory_gib: Optional[float] = Field(default=None, gt=0,
        description="Override or replace the type's facts: memory per GPU")
    compute_capability: Optional[float] = Field(
        default=None,
        description="Override or replace the type's facts: CUDA compute capability")
    per_node: Optional[int] = Field(default=None, gt=0, le=16,
        description="Override or replace the type's facts: GPUs per node")
    interconnect: Optional[Literal["nvlink", "pcie"]] = Field(
        default=None,
        description="Override or replace the type's facts: nvlink or pcie")
    tensor_parallel: Optional[int] = Field(default=None, gt=0,
        description="Tensor-parallel size (unset: derived, the smallest size dividing the heads "
                    "that fits)")
    pipeline_parallel: int = Field(default=1, gt=0,
        description="Pipeline stages: the rest of the split inside one replica")
    data_parallel: int = Field(default=1, gt=0,
        description="Data-parallel ranks: the rest of the split inside one replica")
    expert_parallel: bool = Field(
        default=False,
        description="Expert parallelism (MoE): the rest of the split inside one replica")
    layout: Literal["auto", "single-node", "pipeline", "data-expert"] = Field(
        default="auto", description="auto: one node when it fits, else the fewest nodes; "
        "pipeline: TP inside a node × PP across nodes; data-expert: DP attention × expert "
        "parallelism across nodes (MoE)")
    nodes: Optional[int] = Field(default=None, ge=1, le=16,
                                 description="Nodes per replica; default: the fewest that fit")

    @model_validator(mode="after")
    def _type_or_facts(self) -> "GpuConfig":
        if self.type is not None and self.type not in facts.gpus():
            raise ValueError(
                f"gpu.type {self.type!r} is not known; use one of {', '.join(sorted(facts.gpus()))}"
                " or leave it out and set gpu.productLabels, gpu.memoryGib, "
                "gpu.computeCapability and gpu.perNode"
            )
        if self.type is None:
            missing = [
                key
                for key, value in (
                    ("productLabels", self.product_labels),
                    ("memoryGib", self.memory_gib),
                    ("computeCapability", self.compute_capability),
                    ("perNode", self.per_node),
                )
                if value is None
            ]
            if missing:
                raise ValueError(
                    "without gpu.type, set " + ", ".join(f"gpu.{key}" for key in missing)
                )
        return self

    def resolved(self) -> "GpuFacts":
        """Facts for this GPU: the catalog entry, overridden by anything set in config."""
        base = facts.gpus().get(self.type, {})
        return GpuFacts(
            name=base.get("name", "custom"),
            product_labels=self.product_labels or base["product_labels"],
            memory_gib=self.memory_gib or base["memory_gib"],
            compute_capability=self.compute_capability or base["compute_capability"],
            per_node=self.per_node or base["gpus_per_node"],
            interconnect=self.interconnect or base.get("interconnect", "pcie"),
            memory_bandwidth_gb_s=base.get("memory_bandwidth_gb_s"),
            bf16_tflops=base.get("bf16_tflops"),
            fp8_tflops=base.get("fp8_tflops"),
            link_gb_s=base.get("link_gb_s"),
        )


class GpuFacts(BaseModel):
    """Resolved GPU facts."""

    name: str
    product_labels: list[str]
    memory_gib: float
    compute_capability: float
    per_node: int
    interconnect: str = "pcie"
    memory_bandwidth_gb_s: Optional[float] = None
    """Peak memory bandwidth, GB/s (facts/gpus.yaml; planning/throughput.py's roofline)."""
    bf16_tflops: Optional[float] = None
    """Dense BF16 tensor-core peak, TFLOPS."""
    fp8_tflops: Optional[float] = None
    """Dense FP8 tensor-core peak, TFLOPS; None without FP8 tensor cores."""
    link_gb_s: Optional[float] = None
    """What one GPU gives an all-reduce inside its node (NVLink, else PCIe), GB/s."""


class RdmaConfig(_Model):
    """RDMA for cross-node NCCL (InfiniBand / RoCE through the cluster's device plugin)."""

    resource_name: LabelKey = Field(description="Extended resource, e.g. rdma/ib or "
                                                "nvidia.com/hostdev")
    count: int = Field(default=1, ge=1, le=16)
    hca: Optional[str] = Field(default=None, min_length=1,
                               description="NCCL_IB_HCA, e.g. mlx5 (default: NCCL's choice)")


class MultiNodeConfig(_Model):
    """How a replica that spans nodes (a LeaderWorkerSet group) is launched and wired."""

    launcher: Literal["auto", "native", "ray"] = Field(
        default="auto", description="auto: vLLM's own multi-node mode where the pinned version "
        "has it, else Ray")
    socket_interface: Optional[
        Annotated[str, AfterValidator(_api_server_rule(k8s_names.interface_problem))]] = Field(
        default=None,
        description="NIC for NCCL and Gloo bootstrap (NCCL_SOCKET_IFNAME, GLOO_SOCKET_IFNAME)")
    rdma: Optional[RdmaConfig] = Field(
        default=None,
        description="RDMA for a replica spanning nodes (see \"Multi-node serving\")")
    acknowledge_tcp_expert_parallel: bool = Field(
        default=False, description="Allow expert parallelism across nodes without RDMA "
        "(NCCL falls back to TCP silently; all-to-all is then several times slower)")
    group_topology_key: Optional[LabelKey] = Field(
        default=None, description="Keep each group inside one domain of this node label "
        "(e.g. a rack or network block): LWS exclusive-topology")
    master_port: int = Field(default=29501, ge=1024, le=65535,
        description="The group launch's --master-port, for a replica spanning nodes (see "
                    "\"Multi-node serving\")")
    data_parallel_rpc_port: int = Field(default=29550, ge=1024, le=65535,
        description="The group launch's --data-parallel-rpc-port, for a replica spanning nodes "
                    "(see \"Multi-node serving\")")


