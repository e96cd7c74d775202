"""Which GPU? Rank every GPU type in the catalogue for a model and a context length.

    python -m tools.gpus deepseek-r1 --context 32768 [--vllm-version 0.34.0]
        [--price h100-80gb=2.49 --price h200=3.50 ...] [--markdown]
    python -m tools.gpus path/to/facts.yaml --context 32768

The model is a preset (facts/models.yaml) or a YAML file of model facts (what
`python -m tools.model_facts config.json` prints). For each GPU type in facts/gpus.yaml the
tool builds the stack config a user would write (that model, that GPU, maxModelLen = the
context) and runs the plan on it (planning/plan.py make_plan): the same layout choice, memory
steps, checks and throughput step as `pulumi preview`, no second calculation. GPUs the plan
accepts are ranked by the nodes and GPUs a replica needs, then by the full-length requests a
replica holds; the others are listed with the plan's own reason. With a price per GPU-hour,
the cost of a million output tokens at the plan's batch follows.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys
from typing import Any, Optional

import yaml

import facts
from planning import throughput
from planning.config import ConfigError, parse
from planning.plan import Plan, make_plan

DEFAULT_VLLM_VERSION = "0.34.0"
"""The newest release the project's version table knows (facts/vllm_features.py)."""
PLACEHOLDER_STORAGE = {"mode": "nfs", "nfs": {"server": "nfs.invalid", "path": "/models"}}
"""Where the weights would come from: storage changes start-up times, not what fits, so any
valid choice does; the ranking prints nothing that depends on it."""


class InputError(ValueError):
    """The command's own input is wrong (the model, a price): said once, exit status 1."""


@dataclasses.dataclass(frozen=True)
class Choice:
    """One GPU type's answer: the plan when it fits, else the plan's refusal."""

    gpu: str
    name: str
    plan: Optional[Plan]
    refusal: str = ""


def model_section(model: str, context: int) -> dict[str, Any]:
    """The `model` config section: a preset by name, else the facts in a YAML file (a bare
    facts mapping, or one `name: facts` entry as tools/model_facts prints it)."""
    section = {"revision": "main", "servedName": "model", "maxModelLen": context}
    if model in facts.models():
        return {**section, "preset": model}
    path = pathlib.Path(model)
    if not path.is_file():
        raise InputError(f"model {model!r} is neither a preset ({', '.join(sorted(facts.models()))})"
                         " nor a facts file; write one with `python -m tools.model_facts "
                         "config.json > facts.yaml`")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not YAML ({error})") from None
    if isinstance(data, dict) and "hf_id" not in data and len(data) == 1:
        data = next(iter(data.values()))
    return {**section, "facts": data}


def stack_values(model: dict[str, Any], gpu: str, version: str) -> dict[str, Any]:
    """The config a user would write to serve `model` on `gpu` (layout left to the plan)."""
    return {"vllmVersion": version, "model": model, "gpu": {"type": gpu},
            "storage": PLACEHOLDER_STORAGE, "network": {"gatewayNamespaces": ["gateway"]}}


def choose(model: dict[str, Any], version: str) -> list[Choice]:
    """Every catalogue GPU planned for the model, ranked: those that fit by (nodes, GPUs per
    replica, − full-length requests), then those that do not, by name."""
    choices = []
    for key, entry in facts.gpus().items():
        try:
            plan = make_plan(parse(stack_values(model, key, version)))
        except ConfigError as error:
            choices.append(Choice(key, entry["name"], None, " | ".join(error.problems)))
            continue
        choices.append(Choice(key, entry["name"], plan))
    fits = sorted((c for c in choices if c.plan), key=lambda c: (
        c.plan.layout.nodes, c.plan.layout.gpus, -c.plan.kv.max_concurrency))
    return fits + sorted((c for c in choices if not c.plan), key=lambda c: c.gpu)


def common_problems(choices: list[Choice]) -> list[str]:
    """The plan's problems every GPU shares when none fits: the model's or the context's, not
    a GPU's (empty when some GPU fits or the refusals differ throughout)."""
    if not choices or any(choice.plan for choice in choices):
        return []
    shared = set(choices[0].refusal.split(" | "))
    for choice in choices[1:]:
        shared &= set(choice.refusal.split(" | "))
    return sorted(shared)


def row(choice: Choice, prices: dict[str, float]) -> dict[str, str]:
    """One printed row: layout, nodes and GPUs, KV tokens and full-length requests per replica,
    decode and prefill speed, GPU-hours (and cost, with a price) per million output tokens."""
    plan = choice.plan
    speed = plan.throughput
    # The roofline's own time: the budgets' figure is stepped up to an R20 number (up to 14 %
    # more, planning/granularity.py), noise between GPUs; the ranking has nothing measured.
    per_token_ms = speed.decode_ms if speed.decode_ms is not None else speed.per_token_ms
    hours = throughput.gpu_hours_per_million_tokens(plan.layout.gpus, speed.batch, per_token_ms)
    cost = f"{hours * prices[choice.gpu]:.2f}" if choice.gpu in prices else "-"
    return {"gpu": choice.gpu, "layout": plan.layout.describe(), "nodes": str(plan.layout.nodes),
            "GPUs": str(plan.layout.gpus),
            "KV tokens": str(plan.outputs()["kvCacheTokens"]),
            "full-length requests": f"{plan.kv.max_concurrency:.2f}",
            "ms/token": f"{per_token_ms:g} at batch {speed.batch}",
            "prefill tok/s": f"{speed.prefill_tokens_per_second or 0:.0f}",
            "GPU-h per M tokens": f"{hours:.2f}", "cost per M tokens": cost}


def render(choices: list[Choice], prices: dict[str, float], as_markdown: bool) -> str:
    """The ranking as a table, then why each other GPU does not fit."""
    rows = [row(c, prices) for c in choices if c.plan]
    headers = list(rows[0]) if rows else []
    if as_markdown:
        lines = (["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
                 + ["| " + " | ".join(r.values()) + " |" for r in rows] if rows else [])
    else:
        widths = [max([len(h)] + [len(r[h]) for r in rows]) for h in headers]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))] + [
            "  ".join(r[h].ljust(w) for h, w in zip(headers, widths)) for r in rows]
    refused = [c for c in choices if not c.plan]
    if refused:
        lines += ["", "Does not fit:"] + [f"- {c.gpu} ({c.name}): {c.refusal}" for c in refused]
    return "\n".join(lines)


def parse_prices(entries: list[str]) -> dict[str, float]:
    """['h100-80gb=2.49'] -> {'h100-80gb': 2.49}, each GPU type in the catalogue."""
    prices = {}
    for entry in entries:
        gpu, _, value = entry.partition("=")
        if gpu not in facts.gpus():
            raise InputError(f"--price {entry!r}: {gpu!r} is not a GPU type; use one of "
                             f"{', '.join(facts.gpus())}")
        try:
            prices[gpu] = float(value)
        except ValueError:
            raise InputError(f"--price {entry!r}: the price per GPU-hour must be a number, "
                             "e.g. h100-80gb=2.49") from None
    return prices


def main(argv: list[str] | None = None) -> int:
    """Entry point: print the ranking; exit 1 with the reason when the input is wrong."""
    parser = argparse.ArgumentParser(prog="python -m tools.gpus",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a preset (facts/models.yaml) or a model facts YAML file")
    parser.add_argument("--context", type=int, required=True,
                        help="the longest request, prompt and answer (model.maxModelLen)")
    parser.add_argument("--vllm-version", default=DEFAULT_VLLM_VERSION)
    parser.add_argument("--price", action="append", default=[], metavar="GPU=PER_HOUR",
                        help="price of one GPU-hour, e.g. h100-80gb=2.49 (repeat per GPU)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    try:
        prices = parse_prices(args.price)
        choices = choose(model_section(args.model, args.context), args.vllm_version)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    shared = common_problems(choices)
    if shared:                  # the model or the context cannot work on any GPU
        print("error: on every GPU: " + "; ".join(shared), file=sys.stderr)
        return 1
    print(f"{args.model} at {args.context} tokens of context (vLLM {args.vllm_version}):")
    print(render(choices, prices, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
