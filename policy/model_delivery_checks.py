"""Rules for the ways model delivery fails (storage modes image and nodeCache), read from the
objects alone. Each check takes `(resource_type, pulumi_name, props, config)` and returns
messages.

* A node cache read where no cache exists: an inference pod that mounts a hostPath (the node's
  cache) must require, in every required node-affinity term, a node label the cache's stager
  sets once the revision is staged and verified (facts/conventions.py
  LABEL_MODEL_CACHE_PREFIX). Terms are ORed, so one term without it lets the scheduler place the
  pod on any node that term admits, where the directory is empty or absent and vLLM fails to
  load (or, with a DirectoryOrCreate hostPath, finds an empty directory).
* A moving model image: an image volume (`volumes[].image.reference`) by tag, not digest. The
  kubelet re-resolves the reference whenever a pod is created (kubernetes types.go
  `ImageVolumeSource`), so replicas on different nodes, or a rescheduled one, would serve
  different weights under one revision.
"""

from __future__ import annotations

from collections.abc import Mapping

from facts import conventions
from facts.images import pinned_by_digest
from policy import k8s
from policy.k8s import get, items


def _required_terms(spec: Mapping) -> list:
    return items(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                 "nodeSelectorTerms")


def _requires_cache_label(term: Mapping) -> bool:
    """A term that admits only nodes carrying a cache-ready label: In with the stager's one
    value `ready` only, or Exists (the stager removes the label, never rewrites it)."""
    for expression in items(term, "matchExpressions"):
        key = get(expression, "key")
        if not (isinstance(key, str) and key.startswith(conventions.LABEL_MODEL_CACHE_PREFIX)):
            continue
        operator = get(expression, "operator")
        if operator == "Exists" or (operator == "In" and items(expression, "values") == [
                conventions.MODEL_CACHE_READY]):
            return True
    return False


def check_cache_pod_on_ready_node(resource_type: str, name: str, props: Mapping,
                                  config: Mapping) -> list[str]:
    """An inference pod reading a hostPath requires a cache-ready node label in every term."""
    out = []
    who = k8s.describe(resource_type, props, name)
    for role, template in k8s.inference_templates(resource_type, props):
        spec = k8s.pod_spec(template)
        host_paths = [get(v, "name") for v in items(spec, "volumes") if get(v, "hostPath")]
        if not host_paths:
            continue
        terms = _required_terms(spec)
        if not terms or not all(_requires_cache_label(t) for t in terms):
            out.append(
                f"{k8s.where(who, role)}: mounts the node directory of volume "
                f"'{host_paths[0]}' but can be scheduled on a node whose cache is not ready; "
                "require the cache's ready label (key "
                f"'{conventions.LABEL_MODEL_CACHE_PREFIX}<hash>', operator In, value 'ready') "
                "in every requiredDuringSchedulingIgnoredDuringExecution nodeSelectorTerm.")
    return out


def check_model_image_pinned(resource_type: str, name: str, props: Mapping,
                             config: Mapping) -> list[str]:
    """Every image volume's reference carries a digest."""
    who = k8s.describe(resource_type, props, name)
    return [
        f"{k8s.where(who, role)}: image volume '{get(volume, 'name')}' mounts '{reference}' "
        "without a digest; the kubelet resolves it again for every new pod, so replicas can "
        "serve different weights. Push the model image, then reference it as "
        "registry/repo@sha256:<digest> (storage.image.reference)."
        for role, template in k8s.pod_templates(resource_type, props)
        for volume in items(k8s.pod_spec(template), "volumes")
        if isinstance(reference := get(volume, "image", "reference"), str)
        and not pinned_by_digest(reference)
    ]
