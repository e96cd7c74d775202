"""Rules for the traffic layer in front of vLLM: timeouts that cover the longest request, body
limits that admit the largest prompt, and router keys only from Secrets.

They read only the objects: the router Deployment and the edge objects state the longest
request and the largest body as annotations (facts/conventions.py), the router's ConfigMap
holds LiteLLM's config.yaml and clients.json. Stack checks take `(resources, config)` and
return `(message, urn)` pairs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import yaml

from facts import conventions as conv
from policy import k8s
from policy.k8s import get, items

Findings = list[tuple[str, Optional[str]]]
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
BACKEND_POLICY = "kubernetes:gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy"
CLIENT_POLICY = "kubernetes:gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy"
_DURATION = re.compile(r"(\d+)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def seconds(text: Any) -> Optional[float]:
    """'6m48s' -> 408.0; None when it is no Gateway API duration."""
    if not isinstance(text, str) or not re.fullmatch(r"(\d+(ms|h|m|s))+", text):
        return None
    return sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))


def size_bytes(value: Any) -> Optional[float]:
    """A Kubernetes quantity (256Ki, 1.5Mi, '262144', 262144.0) -> bytes; None when it is none."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    quantity = k8s.quantity_or_none(value)
    return float(quantity) if quantity is not None else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _annotation(props: Mapping, key: str) -> Optional[float]:
    value = k8s.known_dict(get(props, "metadata", "annotations")).get(key)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _routers(resources: Sequence[Any]) -> list[tuple[Any, Optional[Any]]]:
    """(router Deployment, the ConfigMap it mounts at its config volume) pairs."""
    maps = {(k8s.namespace_of(r.props), get(r.props, "metadata", "name")): r
            for r in resources if r.resource_type == k8s.CONFIG_MAP}
    out = []
    for r in resources:
        if r.resource_type != k8s.DEPLOYMENT:
            continue
        labels = k8s.known_dict(get(r.props, "spec", "template", "metadata", "labels"))
        if labels.get(conv.LABEL_COMPONENT) != conv.COMPONENT_ROUTER:
            continue
        spec = get(r.props, "spec", "template", "spec")
        mounted = {get(m, "name") for _, c in k8s.containers(spec, include_init=False)
                   for m in items(c, "volumeMounts")}
        known = [(get(v, "name") in mounted, maps[key]) for v in items(spec, "volumes")
                 if (key := (k8s.namespace_of(r.props), get(v, "configMap", "name"))) in maps]
        # The router's config: a ConfigMap of this stack that the router container mounts and
        # that holds config.yaml, before one it only mounts, before one it only declares.
        known.sort(key=lambda pair: (not pair[0], "config.yaml" not in k8s.known_dict(
            get(pair[1].props, "data"))))
        out.append((r, known[0][1] if known else None))
    return out


def _litellm(config_map: Any) -> tuple[dict, dict]:
    """(config.yaml, clients.json) of the router ConfigMap; {} for a file that is missing or
    does not parse."""
    data = k8s.known_dict(get(config_map.props, "data"))
    try:
        litellm = yaml.safe_load(data.get("config.yaml") or "") or {}
    except yaml.YAMLError:
        litellm = {}
    try:
        clients = json.loads(data.get("clients.json") or "{}")
    except ValueError:
        clients = {}
    return (litellm if isinstance(litellm, dict) else {},
            clients if isinstance(clients, dict) else {})


def _describe(resource: Any) -> str:
    return k8s.describe(resource.resource_type, resource.props, resource.name)


def check_router_timeouts(resources: Sequence[Any], config: Mapping) -> Findings:
    """The router's timeouts, the route's and Envoy Gateway's cover the longest request; the
    router's grace period covers its timeout; a stream-idle timeout is always set."""
    out: Findings = []
    for deployment, config_map in _routers(resources):
        who = _describe(deployment)
        longest = _annotation(deployment.props, conv.ANN_LONGEST_REQUEST_SECONDS)
        if longest is None:
            out.append((f"{who} does not state {conv.ANN_LONGEST_REQUEST_SECONDS}, so its "
                        "timeouts cannot be checked; set it to the engine's longest request.",
                        deployment.urn))
            continue
        litellm, _ = _litellm(config_map) if config_map else ({}, {})
        settings = litellm.get("router_settings") or {}
        timeout = settings.get("timeout")
        if not _number(timeout) or timeout < longest:
            out.append((f"{who}: LiteLLM router_settings.timeout is {timeout!r}, under the "
                        f"longest request ({longest:.0f} s); a long generation would be cut. "
                        "Set it to at least that.", deployment.urn))
        for index, entry in enumerate(litellm.get("model_list") or []):
            own = get(entry, "litellm_params", "timeout")
            if own is not None and (not _number(own) or own < longest):
                out.append((f"{who}: LiteLLM model_list[{index}] ({get(entry, 'model_name')!r}) "
                            f"sets litellm_params.timeout {own!r}, under the longest request "
                            f"({longest:.0f} s); that model's long generations would be cut. "
                            "Set it to at least that, or leave it out to use "
                            "router_settings.timeout.", deployment.urn))
        if not _number(settings.get("stream_timeout")):
            out.append((f"{who}: LiteLLM router_settings.stream_timeout is not set, so a stalled "
                        "stream holds its connection until the total timeout; set it to the "
                        "time to first token.", deployment.urn))
        spec = get(deployment.props, "spec", "template", "spec")
        grace = get(spec, "terminationGracePeriodSeconds")
        readers = _config_readers(deployment, config_map) if config_map else []
        pre_stop = max([k8s.pre_stop_sleep_seconds(c) or 0 for c in readers], default=0)
        if _number(timeout) and (not _number(grace) or grace <= pre_stop + timeout):
            out.append((f"{who}: terminationGracePeriodSeconds {grace!r} does not exceed the "
                        f"preStop sleep ({pre_stop:g} s) + the router timeout ({timeout} s), so "
                        "a rollout cuts running streams; set it above their sum.",
                        deployment.urn))
    for route in (r for r in resources if r.resource_type == HTTP_ROUTE):
        longest = _annotation(route.props, conv.ANN_LONGEST_REQUEST_SECONDS)
        if longest is None:
            continue
        for index, rule in enumerate(items(route.props, "spec", "rules")):
            request = seconds(get(rule, "timeouts", "request"))
            if request is None or 0 < request < longest:
                out.append((f"{_describe(route)} rule {index}: timeouts.request is "
                            f"{get(rule, 'timeouts', 'request')!r}; Envoy Gateway's default is "
                            f"15 s. Set it to at least the longest request ({longest:.0f} s).",
                            route.urn))
    out += _backend_policy_timeouts(resources)
    return out


def _backend_policy_timeouts(resources: Sequence[Any]) -> Findings:
    """Envoy Gateway's BackendTrafficPolicy: a request timeout over the longest request, and
    an idle timer set and no shorter than the request timeout."""
    out: Findings = []
    for policy in (r for r in resources if r.resource_type == BACKEND_POLICY):
        longest = _annotation(policy.props, conv.ANN_LONGEST_REQUEST_SECONDS)
        if longest is None:
            continue
        http = get(policy.props, "spec", "timeout", "http", default={})
        request = seconds(get(http, "requestTimeout"))
        if request is None or 0 < request < longest:
            out.append((f"{_describe(policy)}: timeout.http.requestTimeout is "
                        f"{get(http, 'requestTimeout')!r}, under the longest request "
                        f"({longest:.0f} s).", policy.urn))
        idle = seconds(get(http, "streamIdleTimeout"))
        if idle is None:
            out.append((f"{_describe(policy)}: timeout.http.streamIdleTimeout is not set; with "
                        "a long request timeout Envoy Gateway then keeps no idle deadline. Set "
                        "it to the route's request timeout.", policy.urn))
        elif request and 0 < idle < request:
            # Envoy Gateway makes it the route's idle timer (internal/xds/translator/route.go
            # `idleTimeout`); the router sends nothing before its answer starts.
            out.append((f"{_describe(policy)}: timeout.http.streamIdleTimeout "
                        f"{get(http, 'streamIdleTimeout')!r} is under requestTimeout "
                        f"{get(http, 'requestTimeout')!r}: it becomes the route's idle timer, "
                        "and a non-streamed answer is silent until it is complete, so Envoy "
                        "cuts it first (504 \"stream timeout\"). Set it to the request "
                        "timeout.", policy.urn))
    return out


def check_body_limits(resources: Sequence[Any], config: Mapping) -> Findings:
    """Every body limit in front of the engine admits the largest prompt (model.maxModelLen)."""
    out: Findings = []
    for policy in (r for r in resources if r.resource_type in (BACKEND_POLICY, CLIENT_POLICY)):
        largest = _annotation(policy.props, conv.ANN_MAX_BODY_BYTES)
        if largest is None:
            continue
        limit = size_bytes(get(policy.props, "spec", "connection", "bufferLimit"))
        if limit is None or limit < largest:
            out.append((f"{_describe(policy)}: connection.bufferLimit is "
                        f"{get(policy.props, 'spec', 'connection', 'bufferLimit')!r} (Envoy's "
                        f"default is 32 KiB), under the largest prompt's body ({largest:.0f} "
                        "bytes): long prompts would get 413. Raise it.", policy.urn))
        if policy.resource_type == BACKEND_POLICY:
            out += _request_buffer(policy, largest)
    for deployment, config_map in _routers(resources):
        largest = _annotation(deployment.props, conv.ANN_MAX_BODY_BYTES)
        if largest is None or config_map is None:
            continue
        _, clients = _litellm(config_map)
        limit = clients.get("maxBodyBytes")
        if not _number(limit) or limit < largest:
            out.append((f"{_describe(config_map)}: the router's maxBodyBytes is {limit!r}, "
                        f"under the largest prompt's body ({largest:.0f} bytes).",
                        config_map.urn))
    return out


def _request_buffer(policy: Any, largest: float) -> Findings:
    """The edge's size cap: connection.bufferLimit only sizes Envoy's per-connection buffer;
    `requestBuffer.limit` adds the buffer filter that answers 413 above it
    (envoyproxy/gateway internal/xds/translator/request_buffer.go)."""
    text = get(policy.props, "spec", "requestBuffer", "limit")
    limit = size_bytes(text)
    if limit is None:
        return [(f"{_describe(policy)}: requestBuffer.limit is not set, so the edge caps no "
                 "body (connection.bufferLimit is a soft buffer, not a size limit) and any "
                 f"client can send the router an unbounded body; set it to {largest:.0f} bytes "
                 "(Envoy Gateway 1.4 or later).", policy.urn)]
    if limit < largest:
        return [(f"{_describe(policy)}: requestBuffer.limit is {text!r}, under the largest "
                 f"prompt's body ({largest:.0f} bytes): long prompts would get 413. Raise it.",
                 policy.urn)]
    return []


_KEY_FIELDS = ("api_key", "master_key", "password")


def _literal_keys(value: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in _KEY_FIELDS and isinstance(item, str) and not item.startswith(
                    "os.environ/"):
                found.append(where)
            else:
                found += _literal_keys(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _literal_keys(item, f"{path}[{index}]")
    return found


def _config_readers(deployment: Any, config_map: Any) -> list[Mapping]:
    """The app containers that mount the router ConfigMap: the router process reads its
    config.yaml, and os.environ/ resolves in that process only."""
    spec = get(deployment.props, "spec", "template", "spec")
    name = get(config_map.props, "metadata", "name")
    volumes = {get(v, "name") for v in items(spec, "volumes")
               if get(v, "configMap", "name") == name}
    return [c for _, c in k8s.containers(spec, include_init=False)
            if any(get(m, "name") in volumes for m in items(c, "volumeMounts"))]


def check_router_keys_from_secrets(resources: Sequence[Any], config: Mapping) -> Findings:
    """The router config names every key as `os.environ/<VAR>`, and each such variable comes
    from a Secret (secretKeyRef) in the container that mounts the config (the router)."""
    out: Findings = []
    for deployment, config_map in _routers(resources):
        if config_map is None:
            continue
        litellm, _ = _litellm(config_map)
        text = k8s.known_dict(get(config_map.props, "data")).get("config.yaml")
        if text and not litellm:
            out.append((f"{_describe(config_map)}: config.yaml does not parse as YAML, so its "
                        "keys cannot be checked (and LiteLLM would not start); fix the file.",
                        config_map.urn))
            continue
        for where in _literal_keys(litellm):
            out.append((f"{_describe(config_map)}: config.yaml {where} is a literal value; a "
                        "ConfigMap is readable by anyone who can read the namespace. Write "
                        "os.environ/<VAR> and fill <VAR> from a Secret.", config_map.urn))
        text = yaml.safe_dump(litellm)
        wanted = set(re.findall(r"os\.environ/([A-Za-z0-9_]+)", text))
        from_secrets = set()
        for container in _config_readers(deployment, config_map):
            for env in items(container, "env"):
                if get(env, "valueFrom", "secretKeyRef") is not None:
                    from_secrets.add(get(env, "name"))
        for missing in sorted(wanted - from_secrets):
            out.append((f"{_describe(deployment)}: the router config reads os.environ/{missing}"
                        f", which the container mounting it does not set from a Secret "
                        "(valueFrom.secretKeyRef); a variable of another container or an init "
                        "container never reaches the router.", deployment.urn))
    return out
