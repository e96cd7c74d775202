"""VllmImage: the vLLM container image, referenced by digest (rendering/image.py renders the
reference and the build)."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pulumi
import pulumi_docker as docker


@dataclasses.dataclass
class VllmImageArgs:
    """Inputs of VllmImage (wiring/image.py builds them)."""

    reference: str
    """The image the pods run when nothing is built."""
    build: Optional[dict] = None
    """pulumi_docker.Image's image_name and build, when the stack builds its own image."""


class VllmImage(pulumi.ComponentResource):
    """The image every vLLM pod runs: the upstream reference, or the image built and pushed
    (never built during preview)."""

    ref: pulumi.Output[str]
    """Image reference: pinned by digest when the stack (or the push) gives one."""

    def __init__(self, name: str, args: VllmImageArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:VllmImage", name, None, opts)
        if args.build is not None:
            built = docker.Image(
                f"{name}-build", image_name=args.build["image_name"],
                build=docker.DockerBuildArgsDict(**args.build["build"]),
                build_on_preview=False, skip_push=False,
                opts=pulumi.ResourceOptions(parent=self))
            # repo_digest is `registry/name@sha256:…`, unique per pushed build.
            self.ref = built.repo_digest
        else:
            self.ref = pulumi.Output.from_input(args.reference)
        self.register_outputs({"ref": self.ref})
