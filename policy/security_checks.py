"""Rules that keep secrets and privileges out of every workload the stack creates: pinned images,
keys only from Secrets, unprivileged non-root containers. Each check takes
`(resource_type, pulumi_name, props, config)` and returns messages.

The engine fence's rules (at the end) look at the whole stack: they take `(resources, config)`
and return `(message, urn)` pairs, like policy/stack_checks.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import facts
from facts import conventions, vllm_cli, vllm_features
from facts.images import UNTAGGED, moving_reference, pinned_by_digest
from facts.secrets import contains_secret, looks_like_secret
from policy import k8s
from policy.k8s import get, items
from policy.traffic_checks import HTTP_ROUTE

SECRET_NAME_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIALS")
# Flags such as HF_HUB_DISABLE_IMPLICIT_TOKEN=1 have secret-looking names but carry no secret.
_HARMLESS_LITERAL = re.compile(r"^(true|false|yes|no|on|off|\d{1,3})$", re.IGNORECASE)


def _images(resource_type: str, props: Mapping):
    for role, template in k8s.pod_templates(resource_type, props):
        for container_kind, container in k8s.containers(k8s.pod_spec(template)):
            image = get(container, "image")
            if isinstance(image, str) and image:
                yield role, container_kind, get(container, "name", default="?"), image


def check_image_pinned(resource_type: str, name: str, props: Mapping, config: Mapping) -> list[str]:
    """No container image is untagged or uses a moving tag (latest, nightly)."""
    out = []
    who = k8s.describe(resource_type, props, name)
    for role, container_kind, cname, image in _images(resource_type, props):
        reason = moving_reference(image)
        if reason is not None:
            joint = " " if reason == UNTAGGED else ", "
            out.append(
                f"{k8s.where(who, role)}: {container_kind} '{cname}' uses image '{image}'{joint}"
                f"{reason}; pin a release tag (for vLLM, v<version>) or a digest.")
    return out


def check_image_digest(resource_type: str, name: str, props: Mapping, config: Mapping) -> list[str]:
    """Every container image is referenced by digest (advisory)."""
    who = k8s.describe(resource_type, props, name)
    return [
        f"{k8s.where(who, role)}: {container_kind} '{cname}' uses image '{image}' by tag; a "
        "tag can be pushed again, so reference it by digest (image@sha256:...) to run exactly "
        "what was reviewed."
        for role, container_kind, cname, image in _images(resource_type, props)
        if not pinned_by_digest(image)
    ]


def looks_like_secret_name(env_name: str) -> bool:
    """VLLM_API_KEY, HF_TOKEN, DB_PASSWORD...: a word of the name ends in KEY, TOKEN, SECRET,
    PASSWORD. Words, not substrings, so TOKENIZERS_PARALLELISM is not taken for a token."""
    words = re.split(r"[^A-Za-z0-9]+", env_name.upper())
    return any(word.endswith(SECRET_NAME_WORDS) for word in words if word)


def check_no_literal_secrets(resource_type: str, name: str, props: Mapping,
                             config: Mapping) -> list[str]:
    """API keys and tokens only come from Secrets: secret-named env vars use secretKeyRef, no env
    value or argument starts like a key (sk-, hf_), no --api-key on the command line, and no
    ConfigMap holds one. Messages never repeat the value."""
    who = k8s.describe(resource_type, props, name)
    out = []
    if resource_type == k8s.CONFIG_MAP:
        for key, value in k8s.known_dict(get(props, "data")).items():
            if isinstance(value, str) and contains_secret(value):
                out.append(
                    f"{who} key '{key}' contains what looks like a literal API key or Hugging "
                    "Face token; ConfigMaps are not secret, so move it to a Secret and reference "
                    "it from there.")
        return out
    for role, template in k8s.pod_templates(resource_type, props):
        where = k8s.where(who, role)
        for container_kind, container in k8s.containers(k8s.pod_spec(template)):
            cname = get(container, "name", default="?")
            subject = f"{where}: {container_kind} '{cname}'"
            for env in items(container, "env"):
                env_name = str(get(env, "name", default="?"))
                value = get(env, "value")
                value_from = get(env, "valueFrom")
                if isinstance(value, str) and looks_like_secret(value):
                    out.append(
                        f"{subject} sets env {env_name} to a literal starting "
                        f"'{value[:3]}', which looks like an API key or Hugging Face token that "
                        "anyone reading the object or the Pulumi state can see; put it in a "
                        "Secret and use valueFrom.secretKeyRef.")
                elif looks_like_secret_name(env_name):
                    if isinstance(value, str) and value and not _HARMLESS_LITERAL.match(value):
                        out.append(
                            f"{subject} sets env {env_name} as a literal value; a key or token "
                            "in the pod spec is readable by anyone who can read the object, so "
                            "put it in a Secret and use valueFrom.secretKeyRef.")
                    elif k8s.is_mapping(value_from) and "secretKeyRef" not in value_from:
                        source = ", ".join(sorted(value_from)) or "an empty valueFrom"
                        out.append(
                            f"{subject} takes env {env_name} from {source} rather than a "
                            "Secret; use valueFrom.secretKeyRef.")
            tokens = k8s.command_tokens(container)
            if k8s.flag_value(tokens, "--api-key") is not None:
                out.append(
                    f"{subject} passes --api-key on the command line, which puts the key in the "
                    "pod spec and the process list; set VLLM_API_KEY from a Secret instead.")
            elif any(looks_like_secret(token) or contains_secret(token) for token in tokens):
                out.append(
                    f"{subject} has a command-line argument that looks like an API key or Hugging "
                    "Face token; pass it through an env var from a Secret instead.")
    return out


def check_container_security(resource_type: str, name: str, props: Mapping,
                             config: Mapping) -> list[str]:
    """No container is privileged or may escalate privileges, and every one runs as non-root."""
    out = []
    who = k8s.describe(resource_type, props, name)
    for role, template in k8s.pod_templates(resource_type, props):
        spec = k8s.pod_spec(template)
        pod_context = get(spec, "securityContext", default={})
        for container_kind, container in k8s.containers(spec):
            cname = get(container, "name", default="?")
            subject = f"{k8s.where(who, role)}: {container_kind} '{cname}'"
            context = get(container, "securityContext", default={})
            if get(context, "privileged") is True:
                out.append(
                    f"{subject} runs privileged, which hands it every host device and the "
                    "kernel; the NVIDIA device plugin already exposes the GPUs, so remove "
                    "privileged: true.")
            if get(context, "allowPrivilegeEscalation") is not False:
                out.append(
                    f"{subject} does not set allowPrivilegeEscalation: false (unset means "
                    "allowed); set it in the container's securityContext.")
            user = get(context, "runAsUser")
            if user is None:
                user = get(pod_context, "runAsUser")
            non_root = get(context, "runAsNonRoot")
            if non_root is None:
                non_root = get(pod_context, "runAsNonRoot")
            if k8s.to_number(user) == 0:
                out.append(
                    f"{subject} runs as UID 0 (runAsUser: 0); run it as a non-root user (this "
                    "program's pods use UID 10001) with runAsNonRoot: true.")
            elif non_root is not True:
                out.append(
                    f"{subject} does not set runAsNonRoot: true on the container or the pod; the "
                    "vLLM image runs as root by default, so set runAsNonRoot: true and a "
                    "non-root runAsUser.")
    return out


def check_engine_flags(resource_type: str, name: str, props: Mapping,
                       config: Mapping) -> list[str]:
    """The vllm container passes no flag that leaks prompts or keys or removes the metrics, in
    any spelling vLLM accepts (`--enable_log_requests`, `--api-key=…`)."""
    out = []
    for where, _, container in k8s.engine_containers(resource_type, props, name):
        for token in k8s.command_tokens(container):
            reason = vllm_cli.forbidden_reason(token)
            if reason:
                out.append(f"{where}: the vllm container passes "
                           f"{vllm_cli.canonical_flag(token)}, which {reason}; remove it.")
    return out


# --- The engine fence (stack checks) ----------------------------------------------------------
# vLLM's API key guards only a few path prefixes (facts/vllm_features.py
# API_KEY_GUARDED_PREFIXES); /invocations serves the same inference as /v1 without a key. So
# the engine port may be reached only by named pods, and a route from outside may match only
# guarded paths.

Findings = list[tuple[str, Optional[str]]]
ENGINE_PORT = 8000
"""vLLM's default --port, for an engine container that declares no port."""


def _engine_pods(resources: Sequence[Any]) -> list[tuple[Any, dict[str, str], list[Mapping]]]:
    """(workload, pod labels, the vllm container's ports) for every pod template of every
    inference workload (a LeaderWorkerSet's leaders and workers alike)."""
    found = []
    for workload in (r for r in resources if k8s.is_inference(r.resource_type, r.props)):
        for _, template in k8s.pod_templates(workload.resource_type, workload.props):
            container = k8s.engine_container(k8s.pod_spec(template)) or {}
            ports = items(container, "ports") or [{"containerPort": ENGINE_PORT}]
            found.append((workload, k8s.running_pod_labels(
                workload.resource_type, workload.props, template), ports))
    return found


def _reaches(rule_ports: list, engine_ports: list[Mapping]) -> bool:
    """An ingress rule's `ports` cover an engine port: none listed (every port), an entry
    without a port (every port of its protocol), the number, the name, or a range over it."""
    if not rule_ports:
        return True
    for entry in rule_ports:
        port = get(entry, "port")
        if port is None:
            return True
        last = k8s.to_number(get(entry, "endPort"))
        for engine in engine_ports:
            number = k8s.to_number(get(engine, "containerPort"))
            if port == get(engine, "name") or (
                    number is not None and k8s.to_number(port) is not None
                    and k8s.to_number(port) <= number <= (last or k8s.to_number(port))):
                return True
    return False


def _too_wide(peer: Any) -> Optional[str]:
    """What a `from` peer admits when it names no pods; None when it names them."""
    if get(peer, "ipBlock") is not None:
        return f"the address range {get(peer, 'ipBlock', 'cidr')!r} (ipBlock), which names no pods"
    pods = get(peer, "podSelector")
    names_pods = k8s.is_mapping(pods) and (k8s.known_dict(get(pods, "matchLabels"))
                                           or items(pods, "matchExpressions"))
    if names_pods:
        return None
    if get(peer, "namespaceSelector") is not None:
        return "every pod of the namespaces its namespaceSelector matches"
    return "every pod of its own namespace (an empty podSelector)"


def _unnamed_admissions(resources: Sequence[Any], targets, port: str, why: str) -> Findings:
    """Every `from` peer of an ingress rule reaching a target's port that names no pods (a
    whole namespace, every source, an address range), for each (workload, pod labels, ports)
    of `targets`; `port` and `why` word the finding."""
    out: Findings = []
    for policy in (r for r in resources if r.resource_type == k8s.NETWORK_POLICY):
        spec = get(policy.props, "spec", default={})
        types = items(spec, "policyTypes")
        if types and "Ingress" not in types:
            continue
        who = k8s.describe(policy.resource_type, policy.props, policy.name)
        for workload, pod, ports in targets:
            if (k8s.namespace_of(policy.props) != k8s.namespace_of(workload.props)
                    or not k8s.label_selector_matches(get(spec, "podSelector"), pod)):
                continue
            target = k8s.describe(workload.resource_type, workload.props, workload.name)
            for index, rule in enumerate(items(spec, "ingress")):
                if not _reaches(items(rule, "ports"), ports):
                    continue
                peers = items(rule, "from")
                wide = [_too_wide(peer) for peer in peers] if peers else ["every source (no from)"]
                out += [(f"{who} ingress rule {index} admits {what} to the {port} of {target}. "
                         f"{why}", policy.urn) for what in filter(None, wide)]
    return list(dict.fromkeys(out))  # a group's templates share their labels


def check_engine_admits_named_pods(resources: Sequence[Any], config: Mapping) -> Findings:
    """No NetworkPolicy admits a whole namespace (or every source, or an address range) to the
    inference pods' port: every `from` peer names pods with a non-empty podSelector."""
    return _unnamed_admissions(
        resources, _engine_pods(resources), "engine port",
        "vLLM's API key guards only some paths: /invocations serves inference there without a "
        "key, so each such pod bypasses the router's keys, limits and caps. Name the pods that "
        "must reach the engine with a podSelector (the router's, the gateway's proxies', "
        "Prometheus') beside the namespaceSelector.")


ROUTER_PORT = 4000
"""LiteLLM's default --port, for a router container that declares no port."""


def _router_pods(resources: Sequence[Any]) -> list[tuple[Any, dict[str, str], list[Mapping]]]:
    """(Deployment, pod labels, its containers' ports) for every router pod template."""
    found = []
    for workload in (r for r in resources if r.resource_type == k8s.DEPLOYMENT):
        for _, template in k8s.pod_templates(workload.resource_type, workload.props):
            pod = k8s.running_pod_labels(workload.resource_type, workload.props, template)
            if pod.get(conventions.LABEL_COMPONENT) != conventions.COMPONENT_ROUTER:
                continue
            ports = [port for _, container in k8s.containers(k8s.pod_spec(template), False)
                     for port in items(container, "ports")]
            found.append((workload, pod, ports or [{"containerPort": ROUTER_PORT}]))
    return found


def check_router_admits_named_pods(resources: Sequence[Any], config: Mapping) -> Findings:
    """No NetworkPolicy admits a whole namespace (or every source, or an address range) to the
    router's port: the gateway's proxies and Prometheus are named by podSelector."""
    return _unnamed_admissions(
        resources, _router_pods(resources), "router port",
        "The edge's per-address rate limit, body cap and route timeouts hold only on the "
        "gateway's path, so each such pod reaches the router around them. Name the pods that "
        "must reach the router with a podSelector (the gateway's proxies', Prometheus') beside "
        "the namespaceSelector.")


def _guarded_prefixes(workload: Any) -> tuple[str, ...]:
    """What the key guards in the workload's stated vLLM version; what every supported
    release guards when the version is not stated (or predates the supported range)."""
    templates = k8s.pod_templates(workload.resource_type, workload.props)
    stated = k8s.stated(workload.props, templates, conventions.ANN_VLLM_VERSION)
    if isinstance(stated, str):
        version = facts.parse_version(stated)
        if version >= min(vllm_features.API_KEY_GUARDED_PREFIXES):
            return vllm_features.api_key_guarded_prefixes(version)
    return vllm_features.API_KEY_GUARDED_EVERYWHERE


def _engine_services(resources: Sequence[Any]) -> dict[tuple[str, str], tuple[str, ...]]:
    """{(namespace, name): guarded prefixes} of every Service that selects inference pods."""
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for service in (r for r in resources if r.resource_type == k8s.SERVICE):
        namespace, name = k8s.namespace_of(service.props), k8s.name_of(service.props)
        for workload, pod, _ in _engine_pods(resources):
            if (name and k8s.namespace_of(workload.props) == namespace
                    and k8s.service_selects(get(service.props, "spec", "selector"), pod)):
                found[(namespace or "default", name)] = _guarded_prefixes(workload)
    return found


def _unguarded_paths(rule: Any, guarded: tuple[str, ...]) -> list[str]:
    """The paths of an HTTPRoute rule that can reach a path the key does not guard.

    Gateway API (apis/v1/httproute_types.go): a rule without `matches` matches PathPrefix "/"
    (kubebuilder default), a match without a path likewise; a PathPrefix or Exact value
    guarded by a string prefix keeps every matched path guarded, a RegularExpression cannot be
    shown to; a URLRewrite filter (on the rule or a backendRef) sends its replacement instead.
    """
    out = []
    for match in items(rule, "matches") or [{}]:
        path = get(match, "path", default={})
        kind, value = get(path, "type", default="PathPrefix"), get(path, "value", default="/")
        if kind == "RegularExpression" or not str(value).startswith(guarded):
            out.append(f"{kind} {value}")
    filters = items(rule, "filters") + [f for ref in items(rule, "backendRefs")
                                        for f in items(ref, "filters")]
    rewrites = [get(f, "urlRewrite", "path") for f in filters if get(f, "type") == "URLRewrite"]
    for rewrite in rewrites:
        replaced = get(rewrite, "replaceFullPath") or get(rewrite, "replacePrefixMatch")
        if replaced is not None and not str(replaced).startswith(guarded):
            out.append(f"URLRewrite to {replaced}")
    return out


def check_engine_routes_guarded(resources: Sequence[Any], config: Mapping) -> Findings:
    """An HTTPRoute that sends traffic to an inference Service matches only paths vLLM's API
    key guards (for the stated version), so /invocations, /tokenize and /metrics stay inside."""
    out: Findings = []
    engines = _engine_services(resources)
    for route in (r for r in resources if r.resource_type == HTTP_ROUTE):
        namespace = k8s.namespace_of(route.props) or "default"
        who = k8s.describe(route.resource_type, route.props, route.name)
        for index, rule in enumerate(items(route.props, "spec", "rules")):
            for ref in items(rule, "backendRefs"):
                if get(ref, "kind", default="Service") != "Service" or get(
                        ref, "group", default="") not in ("", "core"):
                    continue
                target = (get(ref, "namespace", default=namespace), get(ref, "name"))
                guarded = engines.get(target)
                bad = _unguarded_paths(rule, guarded) if guarded else []
                if bad:
                    out.append((
                        f"{who} rule {index} sends {', '.join(bad)} to the engine Service "
                        f"'{target[1]}', where vLLM's API key guards only "
                        f"{', '.join(guarded)}: anyone who reaches the gateway could call "
                        "/invocations (full inference), /tokenize or /metrics without a key. "
                        "Match only PathPrefix /v1 on this rule, or route through the router.",
                        route.urn))
    return out
