"""Blue-green revisions: can a change of model.revision or vllmVersion run the new workload
beside the old one, and how is the local alias's traffic split while it does.

A switch is three `pulumi up`s (planning/config/revisions.py): the new slot created beside the
previous one with every request still on the previous, the traffic moved by the router's
weights, the previous slot removed. Pulumi waits for the new Deployment to be ready before it
touches the router, which depends on the engine (pulumi-kubernetes
provider/pkg/await/deployment.go `deploymentInitAwaiter.checkAndLogStatus`, for a create as for
an update: the controller observed the Deployment's generation, its progress deadline has not
passed, every replica is updated, no old one is left and as many are available as updated), so
no weight ever points at a slot that is not serving.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, Optional

from planning.config import StackConfig, StorageConfig
from planning.layout import Layout
from planning.wording import counted


def weights_per_revision(storage: StorageConfig) -> bool:
    """True when each revision's weights are found apart from the others', so two revisions can
    be served at once: pvc mode downloads each revision beside the others and the node cache
    stages each beside the served one, each in its own directory under its own ready label
    (rendering/model_store.py `model_directory`, rendering/node_cache.py `ready_label`); an
    image or an object-store prefix is per revision by its reference
    (blueGreen.previous.modelImage, objectStoreUri). An NFS export holds the one copy its
    operator keeps current."""
    return storage.mode != "nfs"


class PreviousStack(NamedTuple):
    """The previous slot as it runs: its config (previous_config) and its own plan."""

    config: StackConfig
    plan: Any
    """Its planning.figures.Plan (typed loosely: figures imports this module)."""


@dataclasses.dataclass(frozen=True)
class Revisions:
    """The slot serving model.revision, and the switch in progress, if any."""

    slot: str
    previous_slot: Optional[str]
    """The slot still serving the previous revision (None: no switch runs)."""
    gpus_needed: int
    """GPUs the new slot needs beside the previous one: GPUs per replica × replicas."""
    room: bool
    """spareGpus holds the new slot, so a revision change can run blue-green."""
    previous_weight: int
    """Share (%) of the local alias's requests the previous slot answers (0 without one)."""
    current_weight: int
    """Share (%) the slot serving model.revision answers: 100 − previous_weight."""
    reason: str
    previous: Optional[PreviousStack] = None
    """The previous slot's config and plan, which render it as it was deployed."""


def revisions(cfg: StackConfig, layout: Layout,
              previous_stack: Optional[PreviousStack] = None) -> Revisions:
    """Room for the new slot = spareGpus ≥ GPUs per replica × replicas (the count it is created
    with); with room a revision change can run blue-green, without it the pods roll in place,
    one at a time (or into the surge the spare GPUs allow)."""
    blue_green = cfg.blue_green
    needed = layout.gpus * cfg.replicas
    room = cfg.spare_gpus >= needed
    previous = blue_green.previous
    weight = previous.weight if previous is not None else 0
    arithmetic = (f"{counted(layout.gpus, 'GPU')} per replica × replicas {cfg.replicas} = "
                  f"{counted(needed, 'GPU')} for the new slot, spareGpus {cfg.spare_gpus}")
    if previous is not None:
        reason = (f"switch from {blue_green.previous_slot} (revision {previous.revision}, vLLM "
                  f"{previous.vllm_version}) to {blue_green.slot}: {arithmetic}; the local "
                  f"alias sends previous weight {weight} % and 100 − {weight} = {100 - weight} % "
                  f"to the new slot; {previous_weights(cfg)}")
    elif room:
        reason = (f"{arithmetic}: a revision change can run blue-green (blueGreen.previous "
                  "keeps the old slot beside the new)")
    else:
        reason = (f"{arithmetic}: no room for blue-green; a revision change rolls the pods "
                  "in place, one at a time")
    return Revisions(blue_green.slot, blue_green.previous_slot, needed, room, weight,
                     100 - weight, reason, previous_stack)


def previous_weights(cfg: StackConfig) -> str:
    """Where the previous slot of a switch reads its revision's weights, by storage.mode."""
    storage = previous_storage(cfg)
    if storage.mode == "image":
        return f"the previous slot mounts model image {storage.image.reference}"
    if storage.mode == "objectStore":
        return f"the previous slot streams from {storage.object_store.uri}"
    if storage.mode == "nodeCache":
        return ("the previous slot requires its revision's ready label; keepRevisions "
                f"{storage.node_cache.keep_revisions} keeps it staged beside the new one")
    if storage.mode == "pvc":
        return "the previous slot reads its revision's directory on the claim"
    return "both slots read the one NFS export"


def previous_config(cfg: StackConfig) -> Optional[StackConfig]:
    """The stack's config as the previous slot was deployed: its revision, its vLLM (and
    image digest), its revision's storage (previous_storage), the slot it holds, no switch;
    everything else as now. None without a switch."""
    blue_green = cfg.blue_green
    previous = blue_green.previous
    if previous is None:
        return None
    image = cfg.image
    if previous.vllm_version != cfg.vllm_version:
        image = image.model_copy(update={
            "tag": f"v{previous.vllm_version}" if image.tag else None,
            "digest": previous.image_digest})
    return cfg.model_copy(update={
        "vllm_version": previous.vllm_version, "image": image,
        "storage": previous_storage(cfg),
        "model": cfg.model.model_copy(update={"revision": previous.revision}),
        "blue_green": blue_green.model_copy(update={"slot": blue_green.previous_slot,
                                                    "previous": None})})


def previous_storage(cfg: StackConfig) -> StorageConfig:
    """The storage the previous revision was served from: its model image or its object-store
    prefix when given (problems() requires them when the revisions differ); pvc, nfs and the
    node cache find a revision by its name, so their settings are the same."""
    storage, previous = cfg.storage, cfg.blue_green.previous
    if storage.mode == "image" and previous.model_image is not None:
        return storage.model_copy(update={"image": storage.image.model_copy(
            update={"reference": previous.model_image})})
    if storage.mode == "objectStore" and previous.object_store_uri is not None:
        return storage.model_copy(update={"object_store": storage.object_store.model_copy(
            update={"uri": previous.object_store_uri})})
    return storage


def problems(cfg: StackConfig, revisions_: Revisions, nodes: int) -> list[str]:
    """Why the switch `blueGreen.previous` asks for cannot work, each naming its key."""
    previous = cfg.blue_green.previous
    if previous is None:
        return []
    key = "blueGreen.previous"
    out = []
    if (previous.revision, previous.vllm_version) == (cfg.model.revision, cfg.vllm_version):
        out.append(f"{key}: revision {previous.revision} and vLLM {previous.vllm_version} are "
                   "what model.revision and vllmVersion serve already, so there is nothing to "
                   f"switch; remove {key} (or set the new revision or version)")
    if not revisions_.room:
        out.append(f"{key}: the new slot needs {counted(revisions_.gpus_needed, 'GPU')} beside "
                   f"the previous one, spareGpus is {cfg.spare_gpus}; set spareGpus: "
                   f"{revisions_.gpus_needed} in a `pulumi up` of its own first, or remove "
                   f"{key} and let the change roll in place, one pod at a time")
    if nodes > 1:
        out.append(f"{key}: a replica spans {nodes} nodes (a LeaderWorkerSet), which "
                   f"blue-green does not run; remove {key}: the groups roll in place")
    if not cfg.traffic.enabled:
        out.append(f"{key}: the traffic moves by the router's weights and traffic.enabled is "
                   f"false; enable the router, or remove {key} and roll in place")
    if cfg.autoscaling.enabled and cfg.autoscaling.min_replicas == 0:
        out.append(f"{key}: autoscaling.minReplicas is 0; a slot scaled to zero during a switch "
                   "would take its share of the traffic down with it: set "
                   "autoscaling.minReplicas: 1 until the switch ends")
    out += _weights_and_image(cfg)
    out += _previous_storage_problems(cfg)
    return out


def _weights_and_image(cfg: StackConfig) -> list[str]:
    """The previous slot must still find its weights and its image."""
    previous, key, out = cfg.blue_green.previous, "blueGreen.previous", []
    if previous.revision != cfg.model.revision and not weights_per_revision(cfg.storage):
        out.append(f"{key}.revision: {previous.revision} differs from model.revision "
                   f"{cfg.model.revision}, and storage.mode {cfg.storage.mode} holds one copy "
                   "of the weights, so both slots would read the new ones; switch only "
                   "vllmVersion this way, or remove blueGreen.previous and roll in place")
    if previous.image_digest and not cfg.image.digest:
        out.append(f"{key}.imageDigest: image.digest is unset, so the slot serving today runs "
                   f"vLLM's image by its tag; pinning {previous.image_digest[:19]}… would "
                   "re-render and roll the pods the switch must leave alone: remove "
                   f"{key}.imageDigest (pin image.digest in a `pulumi up` of its own, "
                   "before or after the switch)")
    if previous.vllm_version == cfg.vllm_version:
        return out
    if cfg.image.build:
        out.append(f"{key}.vllmVersion: image.build builds one image, for vllmVersion "
                   f"{cfg.vllm_version}; the previous slot's {previous.vllm_version} has none: "
                   f"switch the version without blue-green, or keep {key}.vllmVersion equal")
    elif cfg.image.digest and not previous.image_digest:
        out.append(f"{key}.imageDigest: image.digest pins vLLM {cfg.vllm_version}'s image, and "
                   f"the previous slot runs {previous.vllm_version}'s by its own digest; set "
                   f"{key}.imageDigest to the digest it runs (the image.digest it had)")
    return out


class _PreviousReference(NamedTuple):
    """A load path whose weights are found by a reference: the blueGreen.previous key naming
    the previous revision's, the storage key it stands beside, and what the reference names."""

    key: str
    field: str
    storage_key: str
    block: str
    attr: str
    what: str


_PREVIOUS_STORAGE = {
    "image": _PreviousReference("modelImage", "model_image", "storage.image.reference",
                                "image", "reference", "model image"),
    "objectStore": _PreviousReference("objectStoreUri", "object_store_uri",
                                      "storage.objectStore.uri", "object_store", "uri",
                                      "prefix")}


def _previous_storage_problems(cfg: StackConfig) -> list[str]:
    """The previous slot must find the previous revision's weights: its model image or prefix
    (given, and not the current one), on the path that has them; a node cache that keeps one
    revision deletes them under its pods."""
    previous, storage, out = cfg.blue_green.previous, cfg.storage, []
    switched = previous.revision != cfg.model.revision
    for mode, ref in _PREVIOUS_STORAGE.items():
        key, value = f"blueGreen.previous.{ref.key}", getattr(previous, ref.field)
        current_key, what = ref.storage_key, ref.what
        if storage.mode != mode:
            if value is not None:
                out.append(f"{key}: {value} names the previous revision's weights on "
                           f"storage.mode {mode}, but storage.mode is {storage.mode}; "
                           f"remove {key}")
            continue
        current = getattr(getattr(storage, ref.block), ref.attr)
        if switched and value is None:
            out.append(f"{key}: storage.mode {mode} finds a revision's weights at "
                       f"{current_key}, and the previous slot serves revision "
                       f"{previous.revision}, not {cfg.model.revision}: set {key} to what "
                       f"{current_key} was before the switch")
        elif switched and value == current:
            out.append(f"{key}: {value} is {current_key}, the new revision's; set {key} to "
                       f"what {current_key} was before the switch (revision "
                       f"{previous.revision})")
        elif (mode == "objectStore" and value is not None
              and value.split("://")[0] != current.split("://")[0]):
            out.append(f"{key}: {value} is on another store than {current_key} {current}; "
                       "the previous slot streams with the current endpoint, region and "
                       f"credentials, so give a prefix with the same scheme "
                       f"({current.split('://')[0]}://), or roll in place")
        elif not switched and value is not None and value != current:
            out.append(f"{key}: {value} differs from {current_key}, but the revision did not "
                       f"change: a vllmVersion-only switch serves the same {what} from "
                       f"both slots; remove {key}")
    if storage.mode == "nodeCache" and switched and storage.node_cache.keep_revisions < 2:
        out.append("storage.nodeCache.keepRevisions: 1 keeps only the revision being staged, "
                   f"so the stager deletes revision {previous.revision} (and its node label) "
                   "under the previous slot's pods; set storage.nodeCache.keepRevisions: 2 "
                   "(diskGi holding both) in a `pulumi up` of its own first, or remove "
                   "blueGreen.previous and roll in place")
    return out
