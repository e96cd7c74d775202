"""The second workload of a blue-green switch: each slot's names, and the router's view of the
slots (planning/revisions.py decides the switch; README "Blue-green revisions").

A slot is the engine's own objects: its Deployment, Service, PodDisruptionBudget and
NetworkPolicy. Blue keeps the names every stack had (the release), so a stack that never
switches keeps its objects and URNs; green's are `<release>-green`. Their pods differ in
app.kubernetes.io/instance, a selector key, so neither slot's Deployment, PDB (the eviction API
refuses a pod under two budgets), NetworkPolicy or Service selects the other's pods. The API
key, the logging ConfigMap, the compile cache and the model claim are shared: one stack, one
key, one volume holding both revisions' directories.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from facts.conventions import COMPONENT_INFERENCE
from planning.config import StackConfig, StorageConfig
from planning.revisions import Revisions
from rendering import model_store, node_cache
from rendering.labels import common_labels, selector_of
from rendering.naming import StackNames, hpa_name_for
from rendering.router import local_api_base
from rendering.vllm_args import PORT

BLUE = "blue"


def slot_object_name(release: str, slot: str) -> str:
    """The name of a slot's objects: the release for blue, `<release>-green` (at most 58
    characters: a release is at most 52)."""
    return release if slot == BLUE else f"{release}-{slot}"


def slot_names(names: StackNames, cfg: StackConfig, model_dir: Optional[str] = None) -> StackNames:
    """The names of the slot serving `cfg` (cfg.blueGreen.slot, cfg's vLLM; `model_dir`:
    its revision's directory, default the stack's): `release` is the slot's object name.
    Blue on the stack's own config gives `names` unchanged."""
    slot = cfg.blue_green.slot
    name = slot_object_name(names.release, slot)
    workload = names.workload if slot == BLUE else name
    return dataclasses.replace(
        names, release=name, workload=workload,
        hpa=hpa_name_for(cfg.autoscaling.engine, workload) if cfg.autoscaling.enabled else None,
        labels=common_labels(name, cfg.vllm_version, COMPONENT_INFERENCE),
        model_dir=model_dir or names.model_dir)


def store_pod_side(storage: StorageConfig, hf_id: str, revision: str) -> model_store.StorePodSide:
    """What a slot's pods need of the store to read `revision` from `storage` (the previous
    slot's: its config's storage, planning/revisions.py `previous_storage`). The ModelStore
    creates only the current revision's objects; these are pod-side pieces only."""
    if storage.mode == "image":
        return model_store.image_pod_side(storage, hf_id, revision)
    if storage.mode == "nodeCache":
        return node_cache.cache_pod_side(storage, hf_id, revision)
    return model_store.claim_pod_side(storage, hf_id, revision)


def slot_service(service: dict, release: str, cfg: StackConfig) -> dict:
    """A slot's Service (rendering/inference.py `service`) labelled as the release's own
    (instance = the release): the one ServiceMonitor, which selects the release's Services,
    scrapes both slots during a switch. Its selector stays the slot's pods. Blue's labels are
    the release's already."""
    labels = common_labels(release, cfg.vllm_version, COMPONENT_INFERENCE)
    return {**service, "metadata": {**service["metadata"], "labels": labels}}


@dataclasses.dataclass(frozen=True)
class LocalSlot:
    """One slot as the router reaches it."""

    slot: str
    api_base: str
    weight: Optional[int]
    """Share (%) of the local alias's requests; None with one slot (no weight rendered)."""
    selector: dict[str, str]
    """Its pods, which the router's NetworkPolicy lets it reach."""


def local_slots(names: StackNames, previous: Optional[StackNames], namespace: str,
                revisions: Optional[Revisions]) -> list[LocalSlot]:
    """The slot serving model.revision, then the previous one while a switch runs, with the
    plan's weights."""
    def slot(slot_names_: StackNames, name: str, weight: Optional[int]) -> LocalSlot:
        return LocalSlot(name, local_api_base(slot_names_.release, namespace, PORT), weight,
                         selector_of(slot_names_.labels))

    if previous is None or revisions is None or revisions.previous_slot is None:
        return [slot(names, revisions.slot if revisions else BLUE, None)]
    return [slot(names, revisions.slot, revisions.current_weight),
            slot(previous, revisions.previous_slot, revisions.previous_weight)]
