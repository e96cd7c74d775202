"""What each benchmark case measured, and the stack that runs it.

A case (benchmark/cases.yaml) is what one vLLM run was and logged: its version, GPU, model and
flags, the figures it printed. Its GPU and model are references to facts (facts/gpus.yaml,
facts/models.yaml, or benchmark/stack_facts.yaml for the ones outside those catalogs); loading
a case builds the stack config that runs it (benchmark/stacks.py), validated like any stack.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import yaml

import facts
from benchmark import stacks
from planning.config import ConfigError, StackConfig

HERE = pathlib.Path(__file__).resolve().parent
CASES_FILE = HERE / "cases.yaml"
STACK_FACTS_FILE = HERE / "stack_facts.yaml"
SPLITS = ("tuning", "holdout")
WEIGHTS_ONLY = "weights_only"
"""cases.yaml `usable` of a case scored on its weights alone."""


class CaseError(ValueError):
    """A case in cases.yaml is missing something the benchmark needs."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark case and the stack config that runs it."""

    id: str
    split: str
    engine: str
    version_text: str
    gpu_name: str
    batch: int
    config: StackConfig
    flags: dict[str, Any]
    logged: dict[str, Any]
    derived: dict[str, Any]
    startup: dict[str, Any] = dataclasses.field(default_factory=dict)
    weights_only: bool = False
    """The run logged its weights but no KV figure the plan can be scored on (cases.yaml
    `usable: weights_only`)."""
    classes: tuple[str, ...] = ()
    """The model classes the case scores (cases.yaml `classes`, benchmark/report.py)."""
    kv_class: str = "full"
    """The KV layout the case exercises (cases.yaml `kv_class`; issue 18's classes:
    sliding-window, hybrid, dsa, mla-tp; full otherwise)."""
    seen_before: str = ""
    """For a held-out case, the rule modelled after its error was seen (cases.yaml
    `seen_before`): it no longer tests that rule, and results.md reports the holdout without it
    too."""
    same_setup_as: str = ""
    """The case this run repeats (same configuration and figures; cases.yaml `same_setup_as`):
    shown, but the statistics count the setup once."""
    assumed: tuple[str, ...] = ()
    """Inputs the log did not give (issue 18 reports these cases apart): the GPU's total memory
    when the log printed none (`gpu.total_gib` null, the catalogue's figure is used) and what
    cases.yaml lists under `assumed`."""

    @property
    def version(self) -> "facts.vllm_features.Version":
        """The vLLM version, ordered as PEP 440 says (pre-releases before the release)."""
        return facts.parse_version(self.version_text)

    @property
    def gpu_total_gib(self) -> float:
        """The GPU's total memory: as the run logged it, else its facts."""
        return self.config.gpu.resolved().memory_gib

    @property
    def tensor_parallel(self) -> int:
        """--tensor-parallel-size of the run."""
        return int(self.flags.get("tensor_parallel") or 1)

    @property
    def pipeline_parallel(self) -> int:
        """--pipeline-parallel-size of the run."""
        return int(self.flags.get("pipeline_parallel") or 1)


def load_stack_facts(path: pathlib.Path = STACK_FACTS_FILE) -> dict[str, dict[str, Any]]:
    """benchmark/stack_facts.yaml: {"gpus": …, "models": …}."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _gpu_name(ref: dict[str, Any], stack_facts: dict[str, Any]) -> str:
    if "type" in ref:
        return facts.gpus()[ref["type"]]["name"]
    return stack_facts["gpus"][ref["facts"]]["name"]


def _case(raw: dict[str, Any], stack_facts: dict[str, Any]) -> Case:
    case_id = raw["id"]
    if raw.get("split") not in SPLITS:
        raise CaseError(f"case {case_id}: split must be one of {SPLITS}")
    try:
        config = stacks.stack_config(raw, stack_facts)
        gpu_name = _gpu_name(raw["gpu"], stack_facts)
    except (ConfigError, KeyError, ValueError) as error:
        raise CaseError(f"case {case_id}: {error}") from None
    return Case(
        id=case_id,
        split=raw["split"],
        engine=raw.get("engine", "V1"),
        version_text=str(raw["vllm_version"]),
        gpu_name=gpu_name,
        batch=int(raw.get("batch", 1)),
        config=config,
        flags=raw.get("flags") or {},
        logged=raw.get("logged") or {},
        derived=raw.get("derived") or {},
        startup=raw.get("startup") or {},
        weights_only=raw.get("usable") == WEIGHTS_ONLY,
        classes=tuple(raw.get("classes") or ()),
        kv_class=raw.get("kv_class", "full"),
        assumed=_assumed_inputs(raw),
        seen_before=raw.get("seen_before", ""),
        same_setup_as=raw.get("same_setup_as", ""),
    )


def _assumed_inputs(raw: dict[str, Any]) -> tuple[str, ...]:
    assumed = set(raw.get("assumed") or ())
    if raw["gpu"].get("total_gib") is None:
        assumed.add("gpu_total_gib")
    return tuple(sorted(assumed))


def load_cases(path: pathlib.Path = CASES_FILE, usable_only: bool = True) -> list[Case]:
    """Read cases.yaml; resolve each case's GPU and model and build its stack config."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    stack_facts = load_stack_facts()
    return [_case(raw, stack_facts) for raw in data["cases"]
            if raw.get("usable", True) or not usable_only]


def holdout_ids_by_rule(case_ids: list[str]) -> set[str]:
    """The split rule fixed before any prediction: every third id in sorted order (0, 3, 6 …).

    Applied within one batch of cases (cases.yaml `batch`, default 1), so adding a batch of
    cases never moves an existing case between the splits.
    """
    return {case_id for index, case_id in enumerate(sorted(case_ids)) if index % 3 == 0}
