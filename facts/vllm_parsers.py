"""The reasoning and tool-call parser names each checked vLLM release registers.

Read from each release's sdist on PyPI: the keys of `_REASONING_PARSERS_TO_REGISTER` in
`vllm/reasoning/__init__.py` and of `_TOOL_PARSERS_TO_REGISTER` in `vllm/tool_parsers/__init__.py`
(the lazy registries `--reasoning-parser` and `--tool-call-parser` choose from; vLLM exits at
start with "invalid ... parser" for any other name unless `--reasoning-parser-plugin` /
`--tool-parser-plugin` registers it). A pin between two checked releases is checked against the
newest checked release at or below it; a pin older than every checked release is not checked
here (facts/vllm_features.py PARSER_SINCE still applies).
"""

from __future__ import annotations

from facts import vllm_features

REASONING: dict[str, frozenset[str]] = {
    "0.20.0": frozenset({
        "deepseek_r1", "deepseek_v3", "deepseek_v4", "ernie45", "gemma4", "glm45", "granite",
        "holo2", "hunyuan_a13b", "hy_v3", "kimi_k2", "mimo", "minimax_m2",
        "minimax_m2_append_think", "mistral", "nemotron_v3", "olmo3", "openai_gptoss", "qwen3",
        "seed_oss", "step3", "step3p5",
    }),
    "0.32.0": frozenset({
        "cohere_command3", "cohere_command4", "deepseek_r1", "deepseek_v3", "deepseek_v4",
        "deepseek_v41", "ernie45", "gemma4", "glm45", "glm47", "granite",
        "granite_thinking_parser", "hf", "holo2", "hunyuan_a13b", "hy_v3", "hy_v4", "inkling",
        "k2_horizon", "kimi_k2", "kimi_k3", "ling3", "mimo", "minicpmv", "minimax_m2",
        "minimax_m2_append_think", "minimax_m3", "mistral", "muse_glimmer", "nemotron_v3",
        "olmo3", "openai_gptoss", "plamo3", "poolside_v1", "qwen3", "seed_oss", "step3",
        "step3p5",
    }),
    "0.33.0": frozenset({
        "beam", "cohere_command3", "cohere_command4", "deepseek_r1", "deepseek_v3", "deepseek_v4",
        "deepseek_v41", "ernie45", "gemma4", "glm45", "glm47", "granite",
        "granite_thinking_parser", "hf", "holo2", "hunyuan_a13b", "hy_v3", "hy_v4", "inkling",
        "k2_horizon", "kimi_k2", "kimi_k3", "ling3", "mimo", "minicpmv", "minimax_m2",
        "minimax_m2_append_think", "minimax_m3", "mistral", "muse", "muse_glimmer", "musespark1x",
        "nemotron_v3", "olmo3", "openai_gptoss", "plamo3", "poolside_v1", "qwen3", "seed_oss",
        "step3", "step3p5", "step5",
    }),
}
"""`--reasoning-parser` names by release."""

TOOL_CALL: dict[str, frozenset[str]] = {
    "0.20.0": frozenset({
        "deepseek_v3", "deepseek_v31", "deepseek_v32", "deepseek_v4", "ernie45", "functiongemma",
        "gemma4", "gigachat3", "glm45", "glm47", "granite", "granite-20b-fc", "granite4",
        "hermes", "hunyuan_a13b", "hy_v3", "internlm", "jamba", "kimi_k2", "llama3_json",
        "llama4_json", "llama4_pythonic", "longcat", "mimo", "minimax", "minimax_m2", "mistral",
        "olmo3", "openai", "phi4_mini_json", "pythonic", "qwen3_coder", "qwen3_xml", "seed_oss",
        "step3", "step3p5", "xlam",
    }),
    "0.32.0": frozenset({
        "apertus", "cohere_command3", "cohere_command4", "deepseek_v3", "deepseek_v31",
        "deepseek_v32", "deepseek_v4", "deepseek_v41", "dots", "ernie45", "functiongemma",
        "gemma4", "gigachat3", "glm45", "glm47", "granite", "granite-20b-fc", "granite4",
        "hermes", "hf", "hunyuan_a13b", "hy_v3", "hy_v4", "inkling", "internlm", "jamba",
        "k2_horizon", "kimi_k2", "kimi_k3", "lfm2", "ling3", "llama3_json", "llama4_json",
        "llama4_pythonic", "longcat", "mimo", "minicpm5", "minimax_m2", "minimax_m3", "mistral",
        "muse_glimmer", "olmo3", "openai", "phi4_mini_json", "plamo3", "poolside_v1", "pythonic",
        "qwen3_coder", "qwen3_json", "qwen3_xml", "seed_oss", "step3", "step3p5", "xlam",
    }),
    "0.33.0": frozenset({
        "apertus", "beam", "cohere_command3", "cohere_command4", "deepseek_v3", "deepseek_v31",
        "deepseek_v32", "deepseek_v4", "deepseek_v41", "dots", "ernie45", "functiongemma",
        "gemma4", "gigachat3", "glm45", "glm47", "granite", "granite-20b-fc", "granite4",
        "hermes", "hf", "hunyuan_a13b", "hy_v3", "hy_v4", "inkling", "internlm", "jamba",
        "k2_horizon", "kimi_k2", "kimi_k3", "lfm2", "ling3", "llama3_json", "llama4_json",
        "llama4_pythonic", "longcat", "mimo", "minicpm5", "minimax_m2", "minimax_m3", "mistral",
        "muse", "muse_glimmer", "musespark1x", "olmo3", "openai", "phi4_mini_json", "plamo3",
        "poolside_v1", "pythonic", "qwen3_coder", "qwen3_json", "qwen3_xml", "seed_oss", "step3",
        "step3p5", "step5", "xlam",
    }),
}
"""`--tool-call-parser` names by release."""

PLUGIN_FLAGS = {"reasoning": "--reasoning-parser-plugin", "tool_call": "--tool-parser-plugin"}
"""Flags that register more names from a plugin file (then no name is refused here)."""


def known_parsers(kind: str, version: vllm_features.Version) -> tuple[str, frozenset[str]] | None:
    """(checked release, its names) for `kind` ("reasoning" or "tool_call") that a pin of
    `version` is checked against, or None when no checked release is at or below it."""
    table = REASONING if kind == "reasoning" else TOOL_CALL
    checked = [release for release in table if vllm_features.parse(release) <= version]
    if not checked:
        return None
    newest = max(checked, key=vllm_features.parse)
    return newest, table[newest]
