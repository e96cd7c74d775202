"""Rules over the whole stack: replicas, disruption budgets, network policies, exposure,
autoscalers and scraping. Each check takes `(resources, config)`, where a resource has
`resource_type`, `name`, `urn` and `props` (a `pulumi_policy.PolicyResource`), and returns
`(message, urn)` pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from facts import conventions as conv
from policy import k8s
from policy.k8s import fmt, get, items

Findings = list[tuple[str, Optional[str]]]
"""(message, URN of the resource it is about) pairs; the URN is None for the stack as a whole."""

@dataclass(frozen=True)
class _Autoscaler:
    resource: Any
    who: str
    minimum: float
    maximum: Optional[float]
    """None for an HPA without maxReplicas (the API server requires it)."""
    target_kind: str
    target_name: Optional[str]


def _autoscalers(resources: Sequence[Any]) -> list[_Autoscaler]:
    """ScaledObjects and HPAs with their bounds, defaults filled in as the controllers do."""
    found = []
    for res in resources:
        props = res.props
        who = k8s.describe(res.resource_type, props, res.name)
        ref = get(props, "spec", "scaleTargetRef", default={})
        if res.resource_type == k8s.SCALED_OBJECT:
            minimum = k8s.to_number(get(props, "spec", "minReplicaCount"))
            maximum = k8s.to_number(get(props, "spec", "maxReplicaCount"))
            found.append(_Autoscaler(res, who, 0 if minimum is None else minimum,
                                     100 if maximum is None else maximum,
                                     get(ref, "kind", default="Deployment"), get(ref, "name")))
        elif res.resource_type == k8s.HPA:
            minimum = k8s.to_number(get(props, "spec", "minReplicas"))
            maximum = k8s.to_number(get(props, "spec", "maxReplicas"))
            found.append(_Autoscaler(res, who, 1 if minimum is None else minimum, maximum,
                                     get(ref, "kind", default=""), get(ref, "name")))
    return found


def _targets(scaler: _Autoscaler, workload: Any) -> bool:
    """The autoscaler names this workload: kind, metadata.name and namespace. An autoscaler that
    names no target scales nothing, not the workload Pulumi auto-names."""
    return (scaler.target_name is not None
            and k8s.kind(workload.resource_type) == scaler.target_kind
            and k8s.name_of(workload.props) == scaler.target_name
            and k8s.namespace_of(workload.props) == k8s.namespace_of(scaler.resource.props))


def _inference_workloads(resources: Sequence[Any]) -> list[Any]:
    return [r for r in resources if k8s.is_inference(r.resource_type, r.props)]


def _serving_labels(workload: Any) -> dict[str, str]:
    templates = k8s.serving_templates(workload.resource_type, workload.props)
    return k8s.pod_labels(templates[0][1]) if templates else {}


def _replica_range(workload: Any, scalers: list[_Autoscaler]) -> tuple[float, float]:
    """(fewest, most) replicas a workload may run: its autoscalers' bounds, else spec.replicas
    (1 when unset)."""
    mine = [s for s in scalers if _targets(s, workload)]
    if mine:
        return (min(s.minimum for s in mine),
                max(s.minimum if s.maximum is None else s.maximum for s in mine))
    count = k8s.replicas(workload.resource_type, workload.props)
    count = 1 if count is None else count
    return count, count


def _of_type(resources: Sequence[Any], resource_type: str) -> list[Any]:
    return [r for r in resources if r.resource_type == resource_type]


def check_min_replicas(resources: Sequence[Any], config: Mapping) -> Findings:
    """Every inference workload keeps at least minReplicas replicas (its autoscaler's minimum
    when one scales it)."""
    required = k8s.number_or_default(config, "minReplicas", 1)
    scalers = _autoscalers(resources)
    out = []
    for workload in _inference_workloads(resources):
        fewest, _ = _replica_range(workload, scalers)
        if fewest < required:
            who = k8s.describe(workload.resource_type, workload.props, workload.name)
            source = ("its autoscaler's minimum" if any(_targets(s, workload) for s in scalers)
                      else "spec.replicas")
            out.append((
                f"{who} may run only {fmt(fewest)} replica(s) ({source}) but this environment "
                f"requires at least {fmt(required)} so that a restart or a node drain never "
                f"takes the model offline; raise replicas (or the autoscaler's minimum) to "
                f"{fmt(required)}.", workload.urn))
    return out


def _pdbs_selecting(resources: Sequence[Any], workload: Any) -> list[Any]:
    pod = _serving_labels(workload)
    namespace = k8s.namespace_of(workload.props)
    return [pdb for pdb in _of_type(resources, k8s.PDB)
            if k8s.namespace_of(pdb.props) == namespace
            and k8s.label_selector_matches(get(pdb.props, "spec", "selector"), pod)]


def check_pdb_present(resources: Sequence[Any], config: Mapping) -> Findings:
    """Every inference workload that can run more than one replica has a PDB selecting its pods."""
    scalers = _autoscalers(resources)
    out = []
    for workload in _inference_workloads(resources):
        _, most = _replica_range(workload, scalers)
        if most > 1 and not _pdbs_selecting(resources, workload):
            who = k8s.describe(workload.resource_type, workload.props, workload.name)
            out.append((
                f"{who} can run {fmt(most)} replicas but no PodDisruptionBudget selects its pods, "
                "so a node drain may evict every replica at once and take the model offline; "
                "add a PodDisruptionBudget with maxUnavailable: 1 selecting its pod labels.",
                workload.urn))
    return out


def check_pdb_allows_drain(resources: Sequence[Any], config: Mapping) -> Findings:
    """No PDB over inference pods forbids every eviction (minAvailable >= replicas, or
    maxUnavailable 0), which would hang node drains forever."""
    scalers = _autoscalers(resources)
    out = []
    for workload in _inference_workloads(resources):
        fewest, _ = _replica_range(workload, scalers)
        # An autoscaler at 0 still runs a pod once traffic arrives; judge the PDB against one.
        count = max(int(fewest), 1)
        who = k8s.describe(workload.resource_type, workload.props, workload.name)
        for pdb in _pdbs_selecting(resources, workload):
            spec = get(pdb.props, "spec", default={})
            min_available = k8s.scaled_int_or_percent(get(spec, "minAvailable"), count)
            max_unavailable = k8s.scaled_int_or_percent(get(spec, "maxUnavailable"), count)
            if max_unavailable is not None and max_unavailable <= 0:
                reason = f"maxUnavailable {fmt(get(spec, 'maxUnavailable'))}"
            elif min_available is not None and min_available >= count:
                reason = f"minAvailable {fmt(get(spec, 'minAvailable'))} with {count} replica(s)"
            else:
                continue
            pdb_who = k8s.describe(pdb.resource_type, pdb.props, pdb.name)
            out.append((
                f"{pdb_who} allows no voluntary eviction of {who}'s pods ({reason}), so node "
                "drains and cluster upgrades hang on them; use maxUnavailable: 1, or no "
                "PodDisruptionBudget for a single replica.", pdb.urn))
    return out


def check_network_policy(resources: Sequence[Any], config: Mapping) -> Findings:
    """Every namespace with inference pods has a NetworkPolicy selecting them for Ingress."""
    policies = _of_type(resources, k8s.NETWORK_POLICY)
    out = []
    for workload in _inference_workloads(resources):
        namespace = k8s.namespace_of(workload.props)
        pod = _serving_labels(workload)
        covered = False
        for policy in policies:
            spec = get(policy.props, "spec", default={})
            types = items(spec, "policyTypes")
            if (k8s.namespace_of(policy.props) == namespace
                    and k8s.label_selector_matches(get(spec, "podSelector", default={}), pod)
                    and (not types or "Ingress" in types)):
                covered = True
        if not covered:
            who = k8s.describe(workload.resource_type, workload.props, workload.name)
            out.append((
                f"{who} runs in namespace '{namespace or 'default'}' but no NetworkPolicy there "
                "selects its pods for Ingress; vLLM's /metrics, /tokenize and /invocations ignore "
                "the API key, so any pod in the cluster can reach them. Add a NetworkPolicy that "
                "admits only the gateway's (or the router's) and Prometheus' pods.", workload.urn))
    return out


def check_no_public_service(resources: Sequence[Any], config: Mapping) -> Findings:
    """No LoadBalancer or NodePort Service selects inference pods."""
    workloads = _inference_workloads(resources)
    out = []
    for service in _of_type(resources, k8s.SERVICE):
        service_type = get(service.props, "spec", "type", default="ClusterIP")
        if service_type not in ("LoadBalancer", "NodePort"):
            continue
        selector = get(service.props, "spec", "selector")
        namespace = k8s.namespace_of(service.props)
        hits = [k8s.describe(w.resource_type, w.props, w.name) for w in workloads
                if k8s.namespace_of(w.props) == namespace
                and k8s.service_selects(selector, _serving_labels(w))]
        labelled = k8s.known_dict(selector).get(conv.LABEL_COMPONENT) == conv.COMPONENT_INFERENCE
        if hits or labelled:
            target = ", ".join(hits) if hits else "inference pods"
            who = k8s.describe(service.resource_type, service.props, service.name)
            out.append((
                f"{who} is of type {service_type} and selects {target}, exposing vLLM directly "
                "outside the cluster where /metrics, /tokenize and /invocations need no key; make "
                "it a ClusterIP Service and expose the model through the gateway.", service.urn))
    return out


def check_autoscalers(resources: Sequence[Any], config: Mapping) -> Findings:
    """Autoscalers have min <= max, scale a workload this stack creates, and no workload has two."""
    workloads = [r for r in resources if r.resource_type in k8s.WORKLOAD_TYPES]
    out = []
    claimed: dict[str, list[_Autoscaler]] = {}
    for scaler in _autoscalers(resources):
        if scaler.maximum is None:
            out.append((
                f"{scaler.who} sets no maxReplicas, which a HorizontalPodAutoscaler requires (the "
                "API server rejects it); set maxReplicas to the most replicas your GPUs allow.",
                scaler.resource.urn))
        elif scaler.minimum > scaler.maximum:
            out.append((
                f"{scaler.who} has a minimum of {fmt(scaler.minimum)} replicas above its maximum "
                f"of {fmt(scaler.maximum)}; the controller cannot honour both, so set the minimum "
                "no higher than the maximum.", scaler.resource.urn))
        targets = [w for w in workloads if _targets(scaler, w)]
        if not targets:
            known = ", ".join(sorted(
                f"{k8s.kind(w.resource_type)} '{k8s.name_of(w.props)}'" for w in workloads
                if k8s.name_of(w.props))) or "none with a metadata.name"
            namespace = k8s.namespace_of(scaler.resource.props) or "default"
            named = (f"'{scaler.target_name}'" if scaler.target_name is not None
                     else "(no scaleTargetRef.name)")
            out.append((
                f"{scaler.who} scales {scaler.target_kind or '(no kind)'} "
                f"{named} in namespace '{namespace}', which this stack does not "
                f"create (its workloads: {known}); it would look healthy and never scale, so "
                "point scaleTargetRef at the inference workload's kind and metadata.name.",
                scaler.resource.urn))
        for workload in targets:
            claimed.setdefault(workload.urn, []).append(scaler)
    for workload in workloads:
        owners = claimed.get(workload.urn, [])
        if len(owners) > 1:
            who = k8s.describe(workload.resource_type, workload.props, workload.name)
            out.append((
                f"{who} is scaled by {' and '.join(s.who for s in owners)}; two controllers "
                "fight over its replica count, so keep exactly one.", workload.urn))
    return out


def _service_monitor_covers(monitor: Any, service: Any) -> tuple[bool, bool]:
    """(selects the Service, and names one of its ports)."""
    spec = get(monitor.props, "spec", default={})
    namespace = k8s.namespace_of(service.props)
    namespaces = get(spec, "namespaceSelector", default={})
    if get(namespaces, "any") is True:
        in_scope = True
    elif items(namespaces, "matchNames"):
        in_scope = namespace in items(namespaces, "matchNames")
    else:
        in_scope = k8s.namespace_of(monitor.props) == namespace
    selected = k8s.label_selector_matches(get(spec, "selector"), k8s.labels(service.props))
    if not (in_scope and selected):
        return False, False
    port_names = {get(p, "name") for p in items(service.props, "spec", "ports")}
    endpoints = items(spec, "endpoints")
    names_port = any(get(e, "port") in port_names or get(e, "targetPort") is not None
                     for e in endpoints)
    return True, names_port


def check_services_scraped(resources: Sequence[Any], config: Mapping) -> Findings:
    """Every inference Service is scraped: a ServiceMonitor selects it on one of its ports, or it
    carries prometheus.io/scrape: "true"."""
    monitors = _of_type(resources, k8s.SERVICE_MONITOR)
    out = []
    for service in _of_type(resources, k8s.SERVICE):
        found = k8s.labels(service.props)
        if not (found.get(conv.LABEL_PART_OF) == conv.PART_OF
                and found.get(conv.LABEL_COMPONENT) == conv.COMPONENT_INFERENCE):
            continue
        # Exactly "true": annotation scrape jobs keep on the regex `true`, which Prometheus
        # matches case-sensitively (rendering/promql.py scrape_config does the same).
        if k8s.annotations(service.props).get("prometheus.io/scrape") == "true":
            continue
        who = k8s.describe(service.resource_type, service.props, service.name)
        coverage = [(m, _service_monitor_covers(m, service)) for m in monitors]
        if any(selects and names_port for _, (selects, names_port) in coverage):
            continue
        selecting = [m for m, (selects, _) in coverage if selects]
        if selecting:
            ports = sorted(str(get(p, "name")) for p in items(service.props, "spec", "ports"))
            for monitor in selecting:
                monitor_who = k8s.describe(monitor.resource_type, monitor.props, monitor.name)
                out.append((
                    f"{monitor_who} selects {who} but none of its endpoints names one of the "
                    f"Service's ports ({', '.join(ports) or 'none named'}), so Prometheus scrapes "
                    "nothing; set endpoints[].port to the Service's port name.", monitor.urn))
            continue
        out.append((
            f"{who} serves inference but nothing scrapes it: no ServiceMonitor in the stack "
            "selects its labels and it lacks the annotation prometheus.io/scrape: \"true\", so "
            "alerts and the autoscaler are blind; enable the ServiceMonitor or the scrape "
            "annotations.", service.urn))
    return out


def check_group_subdomain_free(resources: Sequence[Any], config: Mapping) -> Findings:
    """No Service takes a LeaderWorkerSet's name in its namespace: the LWS controller creates
    the group's headless Service (its pods' DNS subdomain) under that name only when it is
    free, so the leader's address would never resolve."""
    out = []
    services = {(k8s.namespace_of(s.props), k8s.name_of(s.props)): s
                for s in _of_type(resources, k8s.SERVICE)}
    for group in _of_type(resources, k8s.LEADER_WORKER_SET):
        key = (k8s.namespace_of(group.props), k8s.name_of(group.props))
        service = services.get(key)
        if key[1] is None or service is None:
            continue
        out.append((
            f"{k8s.describe(service.resource_type, service.props, service.name)} has the name "
            f"of {k8s.describe(group.resource_type, group.props, group.name)}: the LWS "
            "controller then creates no headless Service for the group, its pods' DNS names "
            "(LWS_LEADER_ADDRESS) never resolve and the group cannot start; rename the Service "
            "or the LeaderWorkerSet.", service.urn))
    return out
