"""How vLLM's argument parser reads a flag, and which flags a stack may not pass itself.

Shared by the config check (planning/config/engine.py) and the policy pack, so both read an argument
list the way vLLM does. vLLM's FlexibleArgumentParser rewrites `_` to `-` in a long option's
name (only the part before `=`), so `--api_key=x` is `--api-key`; boolean options also exist as
`--no-<name>` (argparse.BooleanOptionalAction). argparse's abbreviations are on too (vLLM never
sets allow_abbrev=False, through 0.33), so `--api-k x` is `--api-key x`: a long option that is
a prefix of a flag we guard is read as that flag.

Single-dash aliases are read as argparse reads them (CPython `argparse._parse_optional` and
`_get_option_tuples`): an exact alias (`-tp`), an alias before `=` (`-dpb=ray`), a two-letter
alias with its value attached (`-n2` is `-n 2`) or a unique prefix of an alias (`-as` is
`-asc`). The aliases are vLLM's own: vllm/engine/arg_utils.py `EngineArgs.add_cli_args`
(ModelConfig `-q`; ParallelConfig `-pp`, `-n`, `-r`, `-tp`, `-dcp`, `-pcp`, `-dp`, `-dpn`,
`-dpr`, `-dpl`, `-dpa`, `-dpp`, `-dpb`, `-dph`, `-dpe`, `-ep`) and
vllm/entrypoints/openai/cli_args.py `make_arg_parser` (`--headless`, `--api-server-count
-asc`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Iterable, Optional

FORBIDDEN_FLAGS = {
    "--disable-log-stats": "removes every vllm:* metric; monitoring and autoscaling depend on them",
    "--enable-log-requests": "writes prompts to the logs; not allowed",
    "--api-key": "would put the key in the pod spec; the key comes from apiKey (a Secret)",
    "--config": "reads flags from a file the program cannot check; set the stack keys instead",
}
"""Flags no inference container may pass, with the reason."""


SHORT_ALIASES = {
    "-q": "--quantization",
    "-pp": "--pipeline-parallel-size",
    "-n": "--nnodes",
    "-r": "--node-rank",
    "-tp": "--tensor-parallel-size",
    "-dcp": "--decode-context-parallel-size",
    "-pcp": "--prefill-context-parallel-size",
    "-dp": "--data-parallel-size",
    "-dpn": "--data-parallel-rank",
    "-dpr": "--data-parallel-start-rank",
    "-dpl": "--data-parallel-size-local",
    "-dpa": "--data-parallel-address",
    "-dpp": "--data-parallel-rpc-port",
    "-dpb": "--data-parallel-backend",
    "-dph": "--data-parallel-hybrid-lb",
    "-dpe": "--data-parallel-external-lb",
    "-ep": "--enable-expert-parallel",
    "-asc": "--api-server-count",
}
"""vLLM's single-dash aliases and the long option each stands for."""

GROUP_FLAGS = (
    "--nnodes", "--node-rank", "--master-addr", "--master-port", "--headless",
    "--distributed-executor-backend", "--distributed-timeout-seconds", "--api-server-count",
    "--data-parallel-size-local", "--data-parallel-start-rank", "--data-parallel-address",
    "--data-parallel-rpc-port", "--data-parallel-backend", "--data-parallel-hybrid-lb",
    "--data-parallel-external-lb", "--data-parallel-rank",
)
"""Flags the launch of a group spanning nodes sets itself (rendering/multinode.py), or whose
every value breaks it: a second value of one of them (argparse keeps the last) or one the
launch never sets (`--data-parallel-backend ray`, `--data-parallel-rank`, external LB)
crash-loops or splits the group."""


def canonical_flag(token: str, guarded: Iterable[str] = FORBIDDEN_FLAGS) -> Optional[str]:
    """The option a token names, as vLLM's parser reads it: `--max_model_len=8` →
    `--max-model-len`; `--api-k` → `--api-key` when it abbreviates one `guarded` flag; vLLM's
    short aliases as their long option (`-tp` → `--tensor-parallel-size`, `-n2` → `--nnodes`);
    other short options unchanged; None for a value (not an option)."""
    if not token.startswith("-") or token == "-" or _is_number(token):
        return None
    name = token.split("=", 1)[0]
    if not name.startswith("--"):
        return _short_option(name)
    name = "--" + name[2:].replace("_", "-")
    guarded = set(guarded)
    if name in guarded or len(name) < 4:
        return name
    expansions = sorted(flag for flag in guarded if flag.startswith(name))
    return expansions[0] if expansions else name


def flag_value(tokens: Sequence[str], *flags: str) -> Optional[str]:
    """The value of the last `--flag value` or `--flag=value` among `tokens` (argparse: the last
    one wins), reading names as vLLM does (`--max_model_len` is `--max-model-len`); None when
    absent."""
    value = None
    for index, token in enumerate(tokens):
        name = canonical_flag(token)
        if name not in flags:
            continue
        if "=" in token:
            value = token.split("=", 1)[1]
        elif index + 1 < len(tokens):
            value = tokens[index + 1]
    return value


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


def _short_option(name: str) -> str:
    """A single-dash option as argparse reads it against vLLM's aliases: exact; else the
    one-letter alias it starts with (its value attached) or the alias it is a prefix of, when
    exactly one matches (argparse refuses an ambiguous one)."""
    if name in SHORT_ALIASES:
        return SHORT_ALIASES[name]
    matches = {alias for alias in SHORT_ALIASES
               if alias == name[:2] or alias.startswith(name)}
    return SHORT_ALIASES[matches.pop()] if len(matches) == 1 else name


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
