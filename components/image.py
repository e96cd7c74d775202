"""VllmImage: the vLLM container image, referenced by digest."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Optional

import pulumi
import pulumi_docker as docker

from planning.config import ImageConfig

DOCKERFILE_DIR = pathlib.Path(__file__).resolve().parents[1] / "docker"


@dataclasses.dataclass
class VllmImageArgs:
    """Inputs of VllmImage."""

    vllm_version: str
    image: ImageConfig
    name: str          # repository name in the registry when building


def upstream_reference(image: ImageConfig, vllm_version: str) -> str:
    """`<repository>:v<version>`; docker.io is implied for Docker Hub names."""
    return f"{image.repository}:{image.tag or 'v' + vllm_version}"


def pinned(reference: str, digest: str) -> str:
    """`repo:tag@sha256:…` — the tag for people, the digest for the kubelet."""
    return f"{reference}@{digest}"


class VllmImage(pulumi.ComponentResource):
    """The image every vLLM pod runs.

    build=false: the official `vllm/vllm-openai:v<version>`, pinned by `image.digest`, else the
    tag as written (no registry lookup: planning/pins.py). build=true: docker/Dockerfile (extras in
    a builder stage, non-root user) built on that base and pushed to `image.registry`; never
    built during preview.
    """

    ref: pulumi.Output[str]
    """Image reference: pinned by digest when the stack (or the push) gives one."""

    def __init__(self, name: str, args: VllmImageArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:VllmImage", name, None, opts)
        base = upstream_reference(args.image, args.vllm_version)
        if args.image.build:
            # image.digest pins the base too: a rebuild after a re-pushed tag builds the same.
            start = pinned(base, args.image.digest) if args.image.digest else base
            target = f"{args.image.registry.rstrip('/')}/{args.name}:v{args.vllm_version}"
            built = docker.Image(
                f"{name}-build",
                image_name=target,
                build=docker.DockerBuildArgsDict(
                    context=str(DOCKERFILE_DIR),
                    dockerfile=str(DOCKERFILE_DIR / "Dockerfile"),
                    platform="linux/amd64",
                    args={"VLLM_IMAGE": start,
                          "EXTRA_PIP_PACKAGES": " ".join(args.image.extra_pip_packages)},
                ),
                build_on_preview=False,
                skip_push=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            # repo_digest is `registry/name@sha256:…`, unique per pushed build.
            self.ref = built.repo_digest
        elif args.image.digest:
            # Pinned in the stack file: reproducible, and no registry or Docker access needed.
            self.ref = pulumi.Output.from_input(pinned(base, args.image.digest))
        else:
            # Never looked up (planning/pins.py says why): the tag as written. A production
            # stack cannot get here (config refuses it); `pulumi preview` warns for the others.
            self.ref = pulumi.Output.from_input(base)
        self.register_outputs({"ref": self.ref})
