"""The paths weights take from storage to a serving engine (storage.mode), and what is known
about each: which the program renders today, and (below) published measurements with their
sources, which the start-up budget of each path is tested against."""

from __future__ import annotations

import dataclasses

from packaging.version import Version


RENDERED_MODES: frozenset[str] = frozenset({"nfs", "pvc", "image", "nodeCache", "objectStore"})
"""storage.mode values whose Kubernetes objects the program renders. A stack with another mode
is refused at preview (planning/checks.py `storage_mode_rendered`) rather than half-rendered;
the helper that wires a mode's rendering adds it here, one line."""


# --- Image volumes (storage.mode image) ------------------------------------------------------
# kubernetes/kubernetes pkg/features/kube_features.go, defaultVersionedKubernetesFeatureGates:
#   ImageVolume: {1.31 Alpha, off}, {1.33 Beta, off}, {1.35 Beta, on by default}.
IMAGE_VOLUME_GATE = "ImageVolume"
IMAGE_VOLUME_BETA = "1.33"
"""Beta (gate still off by default): the first release whose image volumes take subPath
(KEP-4639 beta) and that Pod Security's restricted level admits (kubernetes PR #130394)."""
IMAGE_VOLUME_DEFAULT_ON = "1.35"
"""The ImageVolume gate is on by default on the API server and the kubelets."""
CONTAINERD_IMAGE_VOLUMES = "2.1.0"
"""containerd releases image volumes from 2.1.0 (Kubernetes blog, 'Image Volumes graduate to
beta', 2025-04-29; CRI-O since 1.31)."""


def image_volume_support(kubernetes_minor: str) -> str:
    """'none' below the beta (alpha, refused by a restricted namespace), 'gated' while the gate is off by default (the
    operator must have turned it on), 'default' once it is on by default."""
    minor = Version(kubernetes_minor)
    if minor < Version(IMAGE_VOLUME_BETA):
        return "none"
    return "gated" if minor < Version(IMAGE_VOLUME_DEFAULT_ON) else "default"


UNPACK_DISK_PASSES = 2
"""After downloading a layer into its content store, containerd unpacks it into a snapshot,
reading the blob back and writing the files: two more passes over the node's disk beyond the
download (kserve/kserve PR #5852 sample README: "containerd writes the layer blob and then
unpacks it into a snapshot — two passes over the disk"; its cold 140 GB pull took 4.3 passes
of its 125 MiB/s disk with the registry on the same disk), at the disk's rate
(storage.readMibPerSecond in image mode)."""


# --- Published measurements per path --------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Measurement:
    """A published start-up time on one load path, with the rates its source states, so the
    plan's budget for the same case can be held against it (tests/facts/test_load_paths.py)."""

    name: str
    mode: str                    # storage.mode of the path measured
    load_format: str             # engine.loadFormat
    preset: str                  # the facts/models.yaml preset of the model's size class
    checkpoint_gb: float         # the size the source states (GB = 1e9 bytes)
    read_mib_per_second: int     # the medium's rate as the source states it
    seconds: float               # the published time
    covers: str                  # what the time spans
    source: str
    pull_mib_per_second: int = 0
    streaming_mib_per_second: int = 0
    engine_seconds: float = 0.0  # the source's own engine start after the load (its total
    #                              minus its load), for engines older than the plan models


MEASUREMENTS: tuple[Measurement, ...] = (
    Measurement(
        "kserve-oci-native-140gb-cold", "image", "auto", "deepseek-r1-distill-llama-70b",
        140.0, 125, 4585.5,
        "InferenceService applied to first prediction, image not on the node (median)",
        "kserve/kserve PR #5852, OCI sample README 'Measured startup behavior': kind on an "
        "m6i.2xlarge, 1 TB gp3 at 3,000 IOPS / 125 MiB/s holding registry, containerd and the "
        "pod; warm start 11.7 s vs ~41 min re-download over s3://",
        # The registry reads the blob from the same 125 MiB/s disk containerd writes it to.
        pull_mib_per_second=62, engine_seconds=11.7),
    Measurement(
        "runai-gp3-safetensors", "nodeCache", "auto", "deepseek-r1-distill-llama-8b",
        15.0, 298, 66.13,
        "vLLM 0.5.5 start until ready for requests, Llama-3-8B on one A10G, cold page cache",
        "run-ai/runai-model-streamer docs/src/benchmarks.md, Appendix D; the plain loader "
        "reached 298 MiB/s of the GP3 SSD's 1,000 (15 GB in 47.99 s, Appendix A): the rate to "
        "configure is the loader's, measured, not the disk's",
        engine_seconds=66.13 - 47.99),
    Measurement(
        "runai-io2-streamer", "nodeCache", "runai_streamer", "deepseek-r1-distill-llama-8b",
        15.0, 4000, 28.28,
        "vLLM 0.5.5 start until ready for requests, Llama-3-8B on one A10G, cold page cache",
        "run-ai/runai-model-streamer docs/src/benchmarks.md, Appendix D (IO2 SSD up to 4,000 "
        "MiB/s; the streamer alone at concurrency 16: 7.61 s, Appendix B = 1,880 MiB/s)",
        streaming_mib_per_second=1880, engine_seconds=28.28 - 7.61),
    Measurement(
        "runai-s3-streamer", "objectStore", "runai_streamer", "deepseek-r1-distill-llama-8b",
        15.0, 0, 23.18,
        "vLLM 0.5.5 start until ready for requests, Llama-3-8B from S3 in the same region",
        "run-ai/runai-model-streamer docs/src/benchmarks.md, Appendix D; the streaming rate is "
        "Appendix C's: 15 GB in 4.88 s at concurrency 32 (2,931 MiB/s)",
        streaming_mib_per_second=2931, engine_seconds=23.18 - 4.88),
    Measurement(
        "fastsafetensors-nvme-13b", "nodeCache", "fastsafetensors", "deepseek-r1-distill-qwen-14b",
        26.0, 1545, 6.88,
        "weight load only, Llama-2-13b-hf TP 1 on an A100 from NVMe",
        "vllm-project/vllm PR #10647 (fastsafetensors loader): 6.88 s vs 16.04 s with the "
        "safetensors loader on the same NVMe (26 GB / 16.04 s = 1,545 MiB/s, the plain rate)"),
    Measurement(
        "efs-480b-two-nodes", "nfs", "auto", "deepseek-r1",
        960.0, 264, 2580.0,
        "weight read only, Qwen3-Coder-480B (894 GiB) on 2 × 8 H200 (TP 8 × PP 2), EFS elastic",
        "modelplaneai/modelplane issue #204: ~43 min reading safetensors per pod; the same EFS "
        "filled at ~31 GiB/min (529 MiB/s) from the hub, shared by the group's 2 pods reading "
        "at once: 264 MiB/s each"),
)
"""One published start per path; each test builds the case's stack and compares."""
