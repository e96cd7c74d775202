"""Rules on how inference workloads sit in the cluster: no service-link variables that crash vLLM,
replicas on different nodes, and weights pinned to a commit. Each check takes
`(resource_type, pulumi_name, props, config)` and returns messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from facts import conventions as conv
from policy import k8s
from policy.k8s import get, items

HOSTNAME_KEY = conv.HOSTNAME_TOPOLOGY_KEY
_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


def check_service_links(resource_type: str, name: str, props: Mapping,
                        config: Mapping) -> list[str]:
    """Inference pods set enableServiceLinks: false."""
    out = []
    for role, template in k8s.inference_templates(resource_type, props):
        value = get(k8s.pod_spec(template), "enableServiceLinks")
        if value is not False:
            state = "unset (true by default)" if value is None else repr(value)
            out.append(
                f"{k8s.where(k8s.describe(resource_type, props, name), role)} leaves "
                f"enableServiceLinks {state}; Kubernetes then injects <SERVICE>_PORT variables, "
                "and a Service named vllm becomes VLLM_PORT=tcp://..., which crashes vLLM at "
                "start. Set enableServiceLinks: false.")
    return out


def check_service_name(resource_type: str, name: str, props: Mapping, config: Mapping) -> list[str]:
    """No Service is named `vllm`."""
    if resource_type != k8s.SERVICE or k8s.name_of(props) != "vllm":
        return []
    return [
        f"{k8s.describe(resource_type, props, name)} is named vllm: every pod in its namespace "
        "that keeps service links gets VLLM_PORT=tcp://<ip>:<port>, which vLLM reads as its own "
        "port setting and crashes on; rename the Service (for example <release>-vllm)."]


def _spreads_across_nodes(spec: Mapping, labels: Mapping[str, str]) -> bool:
    """A spread constraint or pod anti-affinity term on the hostname key whose selector matches
    these pods' own labels (one that selects other pods spreads nothing)."""
    anti = get(spec, "affinity", "podAntiAffinity", default={})
    terms = (items(spec, "topologySpreadConstraints")
             + items(anti, "requiredDuringSchedulingIgnoredDuringExecution")
             + [get(t, "podAffinityTerm")
                for t in items(anti, "preferredDuringSchedulingIgnoredDuringExecution")])
    return any(get(term, "topologyKey") == HOSTNAME_KEY
               and k8s.label_selector_matches(get(term, "labelSelector"), labels)
               for term in terms)


def check_spread(resource_type: str, name: str, props: Mapping, config: Mapping) -> list[str]:
    """Workloads that may run several replicas spread them across nodes (advisory)."""
    if resource_type not in k8s.REPLICATED_TYPES:
        return []
    count = k8s.replicas(resource_type, props)
    if count is not None and count <= 1:
        return []
    amount = f"{count} replicas" if count is not None else "an autoscaled number of replicas"
    return [
        f"{k8s.where(k8s.describe(resource_type, props, name), role)} runs {amount} with nothing "
        "spreading them across nodes, so one node failure can take every replica down; add a "
        f"topologySpreadConstraint on {HOSTNAME_KEY} (or pod anti-affinity on that key) whose "
        "labelSelector matches the pods' own labels."
        for role, template in k8s.inference_templates(resource_type, props, serving=True)
        if not _spreads_across_nodes(k8s.pod_spec(template),
                                     k8s.running_pod_labels(resource_type, props, template))
    ]


def check_model_revision(resource_type: str, name: str, props: Mapping,
                         config: Mapping) -> list[str]:
    """The model revision is a 40-hex commit SHA, not a moving branch (advisory)."""
    templates = k8s.inference_templates(resource_type, props)
    if not templates:
        return []
    who = k8s.describe(resource_type, props, name)
    revision = k8s.stated(props, templates, conv.ANN_MODEL_REVISION)
    if revision is None:
        return [
            f"{who} does not state its model revision (annotation {conv.ANN_MODEL_REVISION}); "
            "pin the weights to a 40-hex commit SHA of the Hugging Face repository and state it "
            "there."]
    if not _COMMIT_SHA.match(str(revision)):
        return [
            f"{who} serves model revision '{revision}', a moving reference rather than a commit "
            "SHA, so a push to the Hugging Face repository changes the weights of new pods; pin "
            "the revision to the 40-hex commit SHA."]
    return []
