"""Pins: which image and which weights a stack runs, and the commands that look them up.

Nothing here contacts a registry or the hub. A digest is read from the stack file or not used at
all: looking one up at preview needs a Docker daemon (pulumi-docker's provider connects to one even
for `getRegistryImage`), fails preview during a registry outage, and turns a re-pushed tag into a
new pod template, i.e. every engine restarting on the next `pulumi up` (a full outage of about 40
minutes for a one-group multi-node stack). A stack that says `production: true` must pin every
image by digest and the weights by commit (planning/config/stack.py refuses it otherwise); any other
stack runs the tag as written and `pulumi preview` warns.
"""

from __future__ import annotations

import re

COMMIT = re.compile(r"[0-9a-f]{40}")
"""A full commit SHA as Hugging Face writes it (huggingface_hub file_download.py
`REGEX_COMMIT_HASH`, lowercase only)."""
REVISION_MAX = 255
"""A revision names a directory in the download volume (rendering/model_store.py
`model_directory`): one path component, at most 255 bytes on Linux filesystems."""

_REF_FORBIDDEN = [
    (re.compile(r"[\x00-\x20\x7f]"), "a space or control character"),
    (re.compile(r"[~^:?*\[\\]"), "one of ~ ^ : ? * [ \\"),
    (re.compile(r"\.\."), "'..'"),
    (re.compile(r"@\{"), "'@{'"),
    (re.compile(r"^/|/$|//"), "a leading, trailing or doubled '/'"),
    (re.compile(r"(^|/)\."), "a component starting with '.'"),
    (re.compile(r"\.lock(/|$)|\.$"), "a component ending in '.lock' or '.'"),
]
"""git's ref-name rules (refs.c `check_refname_component` / `check_refname_format`: no component
starting with '.', no '..', control characters, ':?[\\^~*' or space, no '@{', nothing ending in
'/', '.lock' or '.', not '@' alone): a Hugging Face branch or tag is a git ref, so a name these
refuse can never resolve. Pinned by git's own cases (t/t1402-check-ref-format.sh) in
tests/planning/test_pins.py."""


def revision_problem(revision: str) -> str | None:
    """Why `revision` can be no Hugging Face branch, tag or commit, or None when it can."""
    if len(revision) > REVISION_MAX:
        return f"is {len(revision)} characters; at most {REVISION_MAX}"
    if revision == "@":
        return "'@' alone is no ref name"
    if re.fullmatch(r"[0-9a-fA-F]{40}", revision) and not COMMIT.fullmatch(revision):
        return ("looks like a commit SHA in upper case; Hugging Face commit SHAs are lowercase "
                "hex, and an upper-case one would be looked up as a branch that does not exist")
    for pattern, what in _REF_FORBIDDEN:
        if pattern.search(revision):
            return f"contains {what}, which no git ref name may (git check-ref-format)"
    return None


def revision_command(hf_id: str, revision: str) -> str:
    """A command that prints the commit a branch or tag points at now (the hub API that
    huggingface_hub's `HfApi.model_info(revision=...)` calls, hf_api.py)."""
    return f"curl -s https://huggingface.co/api/models/{hf_id}/revision/{revision} | jq -r .sha"


def digest_command(reference: str) -> str:
    """Commands that print the manifest-list digest of `reference` (no Docker daemon needed)."""
    return (f"docker buildx imagetools inspect {reference} --format '{{{{json .Manifest.Digest}}}}'"
            f" (or: crane digest {reference})")


def unpinned_warnings(cfg) -> list[str]:
    """What a stack runs unpinned, each with the command that pins it: `pulumi preview` prints
    these for a stack that is not `production: true` (which refuses them instead)."""
    from planning.config.traffic import ROUTER_IMAGE

    warnings = []
    if not cfg.image.build and not cfg.image.digest:
        reference = f"{cfg.image.repository}:{cfg.image.tag or 'v' + cfg.vllm_version}"
        warnings.append(f"image: runs the tag {reference} without a digest; a re-pushed tag "
                        f"reaches nodes as they pull. Pin it: {digest_command(reference)}, then "
                        "`pulumi config set --path image.digest sha256:…`")
    router = cfg.traffic.router
    if cfg.traffic.enabled and not router.image_digest:
        reference = f"{ROUTER_IMAGE}:{router.image_tag}"
        warnings.append(f"traffic.router: runs the tag {reference} without a digest. Pin it: "
                        f"{digest_command(reference)}, then `pulumi config set --path "
                        "traffic.router.imageDigest sha256:…`")
    if not cfg.model.pinned:
        warnings.append(f"model.revision {cfg.model.revision!r} is a branch or tag that moves: "
                        "two downloads can differ. Pin the commit: "
                        f"{revision_command(cfg.model.shape.hf_id, cfg.model.revision)}")
    return warnings
