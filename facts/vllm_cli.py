"""How vLLM's argument parser reads a flag, and which flags a stack may not pass itself.

Shared by the config check (planning/config.py) and the policy pack, so both read an argument
list the way vLLM does. vLLM's FlexibleArgumentParser rewrites `_` to `-` in a long option's
name (only the part before `=`), so `--api_key=x` is `--api-key`; boolean options also exist as
`--no-<name>` (argparse.BooleanOptionalAction). argparse's abbreviations are on too (vLLM never
sets allow_abbrev=False, through 0.33), so `--api-k x` is `--api-key x`: a long option that is
a prefix of a flag we guard is read as that flag.
"""

from __future__ import annotations

from typing import Iterable, Optional

FORBIDDEN_FLAGS = {
    "--disable-log-stats": "removes every vllm:* metric; monitoring and autoscaling depend on them",
    "--enable-log-requests": "writes prompts to the logs; not allowed",
    "--api-key": "would put the key in the pod spec; the key comes from apiKey (a Secret)",
    "--config": "reads flags from a file the program cannot check; set the stack keys instead",
}
"""Flags no inference container may pass, with the reason."""


def canonical_flag(token: str, guarded: Iterable[str] = FORBIDDEN_FLAGS) -> Optional[str]:
    """The option a token names, as vLLM's parser reads it: `--max_model_len=8` →
    `--max-model-len`; `--api-k` → `--api-key` when it abbreviates one `guarded` flag; short
    options (`-tp`) unchanged; None for a value (not an option)."""
    if not token.startswith("-") or token == "-" or _is_number(token):
        return None
    name = token.split("=", 1)[0]
    if not name.startswith("--"):
        return name
    name = "--" + name[2:].replace("_", "-")
    guarded = set(guarded)
    if name in guarded or len(name) < 4:
        return name
    expansions = sorted(flag for flag in guarded if flag.startswith(name))
    return expansions[0] if expansions else name


def base_flag(token: str, guarded: Iterable[str] = FORBIDDEN_FLAGS) -> Optional[str]:
    """The option a token sets or clears: `--no-enable-prefix-caching` → `--enable-prefix-caching`."""
    flag = canonical_flag(token)
    if flag is not None and flag.startswith("--no-"):
        flag = "--" + flag[len("--no-"):]
    return canonical_flag(flag, guarded) if flag is not None else None


def forbidden_reason(token: str) -> Optional[str]:
    """Why a token may not appear in a vLLM command line, or None. `--no-<flag>` clears a flag,
    so `--no-enable-log-requests` is harmless; `--api-key` and `--config` are refused in any
    spelling, abbreviations included."""
    flag = canonical_flag(token)
    return FORBIDDEN_FLAGS.get(flag) if flag is not None else None


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
