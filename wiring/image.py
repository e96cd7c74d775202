"""VllmImage's args from the stack's config."""

from __future__ import annotations

from components.image import VllmImageArgs
from planning.config import StackConfig
from rendering import image


def image_args(cfg: StackConfig, release: str) -> VllmImageArgs:
    """The upstream vLLM image of the stack's version, or the one built for it and pushed to
    image.registry under the release's name."""
    return VllmImageArgs(reference=image.reference(cfg.image, cfg.vllm_version),
                         build=image.build(cfg.image, cfg.vllm_version, release))
