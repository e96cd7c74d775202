"""The stack-built vLLM image (rendering/image.py, docker/Dockerfile): where the pinned vLLM has
`vllm download-kernels`, the build pre-stages FlashInfer's kernels for an offline start."""

from __future__ import annotations

import pathlib

import pytest

from planning.config import ImageConfig
from rendering import image

DOCKERFILE = pathlib.Path(image.DOCKERFILE_DIR) / "Dockerfile"
BUILT = ImageConfig(build=True, registry="registry.example.com/llm")


@pytest.mark.parametrize("version, staged", [("0.31.0", False), ("0.32.0", True),
                                             ("0.34.0", True)])
def test_the_build_downloads_kernels_where_the_version_has_the_command(version, staged):
    args = image.build(BUILT, version, "release")["build"]["args"]
    assert ("DOWNLOAD_KERNELS" in args) is staged
    assert args.get("DOWNLOAD_KERNELS", "1") == "1"


def test_the_dockerfile_downloads_kernels_after_the_extras_only_when_asked():
    """In the runtime stage, after the extras are on the path (they may bring another
    FlashInfer), and only under the build arg (older vLLMs have no such command)."""
    runtime = DOCKERFILE.read_text().split("\nFROM ${VLLM_IMAGE}\n", 1)[1]
    lines = runtime.splitlines()
    run = next(i for i, line in enumerate(lines)
               if line.startswith("RUN ") and "vllm download-kernels" in line)
    extras = next(i for i, line in enumerate(lines) if "extras.pth" in line)
    assert 'ARG DOWNLOAD_KERNELS=""' in lines[:run]
    assert extras < run < next(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert lines[run].startswith('RUN if [ -n "${DOWNLOAD_KERNELS}" ]; then ')
