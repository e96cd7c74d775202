"""The vLLM image's reference and, when the stack builds its own, the build as plain data.

build=false: the official `vllm/vllm-openai:v<version>`, pinned by `image.digest`, else the tag
as written (no registry lookup: planning/pins.py). build=true: docker/Dockerfile (extras in a
builder stage, non-root user) built on that base and pushed to `image.registry`."""

from __future__ import annotations

import pathlib
from typing import Optional

from facts import warm_caches
from facts.vllm_features import parse
from planning.config import ImageConfig

DOCKERFILE_DIR = pathlib.Path(__file__).resolve().parents[1] / "docker"
PLATFORM = "linux/amd64"


def upstream_reference(image: ImageConfig, vllm_version: str) -> str:
    """`<repository>:v<version>`; docker.io is implied for Docker Hub names."""
    return f"{image.repository}:{image.tag or 'v' + vllm_version}"


def pinned(reference: str, digest: str) -> str:
    """`repo:tag@sha256:…` — the tag for people, the digest for the kubelet."""
    return f"{reference}@{digest}"


def reference(image: ImageConfig, vllm_version: str) -> str:
    """What the pods run when nothing is built: pinned in the stack file (reproducible, no
    registry or Docker access needed), else the tag as written — never looked up. A production
    stack cannot get here unpinned (config refuses it); `pulumi preview` warns for the others."""
    base = upstream_reference(image, vllm_version)
    return pinned(base, image.digest) if image.digest else base


def build(image: ImageConfig, vllm_version: str, name: str) -> Optional[dict]:
    """The docker build and push (pulumi_docker.Image's inputs), or None when the stack runs
    the upstream image. image.digest pins the base too: a rebuild after a re-pushed tag builds
    the same."""
    if not image.build:
        return None
    return {
        "image_name": f"{image.registry.rstrip('/')}/{name}:v{vllm_version}",
        "build": {"context": str(DOCKERFILE_DIR),
                  "dockerfile": str(DOCKERFILE_DIR / "Dockerfile"),
                  "platform": PLATFORM,
                  "args": {"VLLM_IMAGE": reference(image, vllm_version),
                           "EXTRA_PIP_PACKAGES": " ".join(image.extra_pip_packages),
                           **kernels_arg(vllm_version)}},
    }


def kernels_arg(vllm_version: str) -> dict[str, str]:
    """DOWNLOAD_KERNELS=1 where the pinned vLLM has `vllm download-kernels` (0.32+,
    facts/warm_caches.py): the build installs the FlashInfer kernels matching what the image
    ends up with (extras included), which the pod, fenced to DNS, could not download at start
    and would otherwise JIT-compile. Older versions build without it (the arg stays unset)."""
    return ({"DOWNLOAD_KERNELS": "1"}
            if warm_caches.has_download_kernels(parse(vllm_version)) else {})
