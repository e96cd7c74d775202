"""When a container image reference may run different code tomorrow: the one rule behind the
config's `image.tag` and `storage.pvc.downloaderImage` checks and the policy's `image-pinned`.

A reference is `name[:tag][@digest]` (distribution/reference, reference.go grammar; the name
may start with `host:port/`, so the tag is after a ':' in the last path component). A runtime
given no tag pulls `latest` (normalize.go: `defaultTag`, `TagNameOnly`), and with both a tag and
a digest it pulls the digest (normalize.go: `ParseDockerRef`). `latest` and `nightly` are the
tags vLLM's image repository moves to every new build.
"""

from __future__ import annotations

import re
from typing import Optional

MOVING_TAGS = ("latest", "nightly")

DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}")
"""A well-formed digest, algorithm:hex (distribution/reference regexp.go, `digestPat`)."""

UNTAGGED = "without a tag, which means :latest and changes under a running stack"


def split_image(image: str) -> tuple[str, Optional[str], Optional[str]]:
    """'reg:5000/repo:tag@sha256:...' -> ('reg:5000/repo', 'tag', 'sha256:...')."""
    reference, _, digest = image.partition("@")
    head, _, last = reference.rpartition("/")
    tag = None
    if ":" in last:
        last, tag = last.split(":", 1)
    repository = f"{head}/{last}" if head else last
    return repository, tag, digest or None


def is_moving_tag(tag: str) -> bool:
    """A tag that names no fixed build: empty (the runtime's `latest`) or one of MOVING_TAGS."""
    return tag == "" or tag in MOVING_TAGS


def pinned_by_digest(image: str) -> bool:
    """The reference carries a well-formed digest, so it runs exactly one build."""
    digest = split_image(image)[2]
    return digest is not None and DIGEST.fullmatch(digest) is not None


def moving_reference(image: str) -> Optional[str]:
    """Why `image` may change under a running stack, or None when a well-formed digest or a
    fixed tag pins it."""
    if pinned_by_digest(image):
        return None
    tag = split_image(image)[1]
    if tag is None or tag == "":
        return UNTAGGED
    if is_moving_tag(tag):
        return f"whose tag '{tag}' moves to new builds"
    return None
