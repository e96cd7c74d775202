"""What each vLLM release has: the first version of each feature the program switches on.

Shared by planning (what may be configured), rendering (which flags to pass) and the policy
pack. Version facts are from ../shared/reference/vllm.md unless a comment cites vLLM's source.
"""

from __future__ import annotations

Version = tuple[int, int, int]

PARSER_SINCE: dict[str, Version] = {
    "deepseek_r1": (0, 7, 2),   # reasoning parser, vllm PR #12473 (released in 0.7.2)
    "deepseek_v3": (0, 8, 3),   # tool-call parser for DeepSeek V3 / R1-0528
    "deepseek_v4": (0, 20, 0),  # V4 support starts at 0.20.0
}
"""First vLLM release that ships each DeepSeek parser; older pins run without it."""


def parser_available(parser: str, version: Version) -> bool:
    """True when the pinned vLLM ships `parser` (unknown names are trusted to the operator)."""
    return version >= PARSER_SINCE.get(parser, (0, 0, 0))
