"""Small, pure helpers for reading Kubernetes objects the way Pulumi hands them to policies.

Props arrive as camelCase mappings (read-only proxies during `pulumi preview`, plain dicts in
tests and in `policy/offline.py`), numbers as floats and quantities as strings or numbers. Every
helper here therefore accepts any `Mapping`/`Sequence`, never assumes `dict`/`list`, and compares
numbers numerically. Nothing here knows about vLLM except `ENGINE_CONTAINER`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator, Optional

from pulumi_policy.proxy import UnknownValueError

from facts import conventions, vllm_cli

ENGINE_CONTAINER = conventions.ENGINE_CONTAINER
"""Name of the container that runs the vLLM server in every inference pod."""

GPU_RESOURCE = conventions.GPU_RESOURCE

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"
LEADER_WORKER_SET = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"

# Where each workload kind keeps its pod template(s). A LeaderWorkerSet has two: the leader runs
# the API server, the workers only join the engine, so rules about serving read `serving_templates`.
_TEMPLATE_PATHS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    DEPLOYMENT: (("pod template", ("spec", "template")),),
    STATEFUL_SET: (("pod template", ("spec", "template")),),
    DAEMON_SET: (("pod template", ("spec", "template")),),
    REPLICA_SET: (("pod template", ("spec", "template")),),
    JOB: (("pod template", ("spec", "template")),),
    CRON_JOB: (("pod template", ("spec", "jobTemplate", "spec", "template")),),
    POD: (("pod", ()),),
    LEADER_WORKER_SET: (
        ("leader template", ("spec", "leaderWorkerTemplate", "leaderTemplate")),
        ("worker template", ("spec", "leaderWorkerTemplate", "workerTemplate")),
    ),
}
WORKLOAD_TYPES = frozenset(_TEMPLATE_PATHS)
"""Resource types that carry pod templates."""

REPLICATED_TYPES = frozenset({DEPLOYMENT, STATEFUL_SET, REPLICA_SET, LEADER_WORKER_SET})
"""Workload types with spec.replicas (a LeaderWorkerSet counts groups)."""


# --- generic access -------------------------------------------------------------------------

def is_mapping(value: Any) -> bool:
    """True for dicts and the SDK's read-only mapping proxies."""
    return isinstance(value, Mapping)


def is_list(value: Any) -> bool:
    """True for lists and the SDK's sequence proxies, never for strings."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def get(obj: Any, *path: Any, default: Any = None) -> Any:
    """Value at `path` (mapping keys or list indexes), or `default` when any step is missing."""
    current = obj
    for step in path:
        if is_mapping(current) and isinstance(step, str):
            if step not in current:
                return default
            current = current[step]
        elif is_list(current) and isinstance(step, int):
            if not -len(current) <= step < len(current):
                return default
            current = current[step]
        else:
            return default
    return default if current is None else current


def items(obj: Any, *path: Any) -> list[Any]:
    """The list at `path`, or an empty list."""
    value = get(obj, *path)
    return list(value) if is_list(value) else []


def kind(resource_type: str) -> str:
    """'kubernetes:apps/v1:Deployment' -> 'Deployment'."""
    return resource_type.rsplit(":", 1)[-1]


def known_dict(value: Any) -> dict[str, Any]:
    """A mapping as a plain dict without the entries that are still unknown during preview.

    Reading an unknown value raises; one unknown annotation (say a checksum of a key generated
    in the same update) must not stop every rule that reads an unrelated annotation.
    """
    if not is_mapping(value):
        return {}
    known = {}
    for key in value:
        try:
            known[key] = value[key]
        except UnknownValueError:
            continue
    return known


def labels(obj: Any) -> dict[str, str]:
    """metadata.labels as a plain dict (unknown values left out)."""
    return known_dict(get(obj, "metadata", "labels"))


def annotations(obj: Any) -> dict[str, Any]:
    """metadata.annotations as a plain dict (unknown values left out)."""
    return known_dict(get(obj, "metadata", "annotations"))


def name_of(obj: Any) -> Optional[str]:
    """metadata.name, or None when Pulumi will auto-name the object."""
    value = get(obj, "metadata", "name")
    return value if isinstance(value, str) else None


def namespace_of(obj: Any) -> Optional[str]:
    """metadata.namespace, or None (the provider's default namespace)."""
    value = get(obj, "metadata", "namespace")
    return value if isinstance(value, str) else None


def describe(resource_type: str, props: Any, pulumi_name: str) -> str:
    """How messages name an object: "Deployment 'ns/name'", else its Pulumi resource name."""
    name = name_of(props)
    if name is None:
        return f"{kind(resource_type)} '{pulumi_name}' (Pulumi name)"
    namespace = namespace_of(props)
    return f"{kind(resource_type)} '{namespace}/{name}'" if namespace else \
        f"{kind(resource_type)} '{name}'"


# --- numbers and quantities -----------------------------------------------------------------

def to_number(value: Any) -> Optional[float]:
    """A float from an int, float or numeric string; None for anything else (bools included)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def fmt(value: Any) -> str:
    """A number as people write it: 60.0 -> '60', 0.5 -> '0.5'; strings such as '50%' as is."""
    number = to_number(value)
    if number is None:
        return value if isinstance(value, str) else repr(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<exp>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$"
)
_SUFFIX_FACTORS = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


def parse_quantity(value: Any) -> Decimal:
    """A Kubernetes quantity ('16Gi', '500m', '1e3', 4, 2.0) as an exact Decimal.

    Decimal rather than float so that '1Gi' == '1024Mi' compares exactly. Raises ValueError for
    anything Kubernetes would reject.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a quantity")
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a quantity")
    try:
        number = Decimal(match["num"])
    except InvalidOperation as error:  # pragma: no cover - the regex admits only numbers
        raise ValueError(f"{value!r} is not a quantity") from error
    if match["exp"]:
        return number * Decimal(10) ** int(match["exp"][1:])
    return number * _SUFFIX_FACTORS[match["suffix"] or ""]


def quantity_or_none(value: Any) -> Optional[Decimal]:
    """parse_quantity, or None when the value is missing or malformed."""
    if value is None:
        return None
    try:
        return parse_quantity(value)
    except ValueError:
        return None


def scaled_int_or_percent(value: Any, total: int) -> Optional[int]:
    """A PDB's minAvailable/maxUnavailable against `total` pods ('50%' rounds up, as the
    disruption controller does); None when unset or malformed."""
    if isinstance(value, str) and value.strip().endswith("%"):
        percent = to_number(value.strip()[:-1])
        if percent is None:
            return None
        scaled = Decimal(str(percent)) * total / 100
        return int(scaled.to_integral_value(rounding="ROUND_CEILING"))
    number = to_number(value)
    return None if number is None else int(number)


# --- workloads and pods ---------------------------------------------------------------------

def pod_templates(resource_type: str, props: Any) -> list[tuple[str, Mapping]]:
    """Every pod template of a workload as (role, template) pairs; [] for other types."""
    found = []
    for role, path in _TEMPLATE_PATHS.get(resource_type, ()):
        template = get(props, *path) if path else props
        if is_mapping(template):
            found.append((role, template))
    return found


def serving_templates(resource_type: str, props: Any) -> list[tuple[str, Mapping]]:
    """The templates whose pods run the API server: a LeaderWorkerSet's leader (its workers when
    it has no leader template), otherwise every template."""
    templates = pod_templates(resource_type, props)
    if resource_type == LEADER_WORKER_SET and len(templates) > 1:
        return [pair for pair in templates if pair[0] == "leader template"] or templates[-1:]
    return templates


def pods_per_replica(resource_type: str, props: Any) -> int:
    """Pods that together serve one model replica: a LeaderWorkerSet's group size, else 1."""
    if resource_type == LEADER_WORKER_SET:
        size = to_number(get(props, "spec", "leaderWorkerTemplate", "size"))
        return int(size) if size and size >= 1 else 1
    return 1


def replicas(resource_type: str, props: Any) -> Optional[int]:
    """spec.replicas when stated; None when unset (Kubernetes then starts 1, an autoscaler may
    own it) or for kinds without replicas."""
    if resource_type not in REPLICATED_TYPES:
        return None
    value = to_number(get(props, "spec", "replicas"))
    return None if value is None else int(value)


def pod_spec(template: Any) -> Mapping:
    """A template's pod spec (empty mapping when missing)."""
    spec = get(template, "spec")
    return spec if is_mapping(spec) else {}


def pod_labels(template: Any) -> dict[str, str]:
    """A template's pod labels."""
    return labels(template)


def running_pod_labels(resource_type: str, props: Any, template: Any) -> dict[str, str]:
    """The labels the pods of `template` carry: the template's own, and on a LeaderWorkerSet
    the name label its controller adds to every pod."""
    found = pod_labels(template)
    if resource_type == LEADER_WORKER_SET and name_of(props) is not None:
        found[conventions.LWS_NAME_LABEL] = name_of(props)
    return found


_SLEEP = re.compile(r"(?:^|[\s;&|(])sleep\s+(\d+(?:\.\d+)?)")


def pre_stop_sleep_seconds(container: Mapping) -> Optional[float]:
    """Seconds a container's preStop hook visibly sleeps (sleep action or `sleep N` commands,
    added up); None when it shows none."""
    pre_stop = get(container, "lifecycle", "preStop")
    seconds = to_number(get(pre_stop, "sleep", "seconds"))
    if seconds is not None:
        return seconds
    command = " ".join(str(part) for part in items(pre_stop, "exec", "command"))
    found = [float(match) for match in _SLEEP.findall(command)]
    return sum(found) if found else None


def containers(spec: Any, include_init: bool = True) -> list[tuple[str, Mapping]]:
    """(kind, container) pairs: 'container' and, when asked, 'init container'."""
    found = [("container", c) for c in items(spec, "containers") if is_mapping(c)]
    if include_init:
        found += [("init container", c) for c in items(spec, "initContainers") if is_mapping(c)]
    return found


def engine_container(spec: Any) -> Optional[Mapping]:
    """The container running vLLM: the one named `vllm`, else the first asking for a GPU."""
    app = [c for _, c in containers(spec, include_init=False)]
    for container in app:
        if get(container, "name") == ENGINE_CONTAINER:
            return container
    for container in app:
        if resource_quantity(container, "limits", GPU_RESOURCE) is not None:
            return container
    return None


def resource_quantity(container: Any, section: str, resource: str) -> Optional[Decimal]:
    """resources.<section>.<resource> as a Decimal, None when unset or malformed."""
    return quantity_or_none(get(container, "resources", section, resource))


def engine_gpus(container: Any) -> Optional[float]:
    """GPUs a container asks for: its nvidia.com/gpu limit, else its request; None if neither."""
    value = resource_quantity(container, "limits", GPU_RESOURCE)
    if value is None:
        value = resource_quantity(container, "requests", GPU_RESOURCE)
    return None if value is None else float(value)


def is_inference(resource_type: str, props: Any) -> bool:
    """An inference workload: part-of vllm-serving and component inference, on the object's
    labels or (for objects that only label their pods) on a pod template."""
    if resource_type not in WORKLOAD_TYPES:
        return False
    candidates = [labels(props)] + [pod_labels(t) for _, t in pod_templates(resource_type, props)]
    return any(
        found.get(conventions.LABEL_PART_OF) == conventions.PART_OF
        and found.get(conventions.LABEL_COMPONENT) == conventions.COMPONENT_INFERENCE
        for found in candidates
    )


def stated(props: Any, templates: list[tuple[str, Mapping]], key: str) -> Any:
    """An annotation from the workload's metadata, else from its first template that has it."""
    found = annotations(props).get(key)
    if found is not None:
        return found
    for _, template in templates:
        value = annotations(template).get(key)
        if value is not None:
            return value
    return None


def where(who: str, role: str) -> str:
    """A message's subject: the object, plus the template when it has several (LeaderWorkerSet)."""
    return who if role in ("pod template", "pod") else f"{who} ({role})"


def inference_templates(resource_type: str, props: Any,
                        serving: bool = False) -> list[tuple[str, Mapping]]:
    """Pod templates of an inference workload (only those running the API server when
    `serving`); [] for anything else, so rules on inference pods skip other objects."""
    if not is_inference(resource_type, props):
        return []
    if serving:
        return serving_templates(resource_type, props)
    return pod_templates(resource_type, props)


def engine_containers(resource_type: str, props: Any, name: str,
                      serving: bool = False) -> Iterator[tuple[str, Mapping, Mapping]]:
    """(message subject, pod spec, vllm container) for each pod template of an inference workload
    that runs vLLM (only those running the API server when `serving`): the container every
    engine rule judges, found the one way `engine_container` finds it."""
    who = describe(resource_type, props, name)
    for role, template in inference_templates(resource_type, props, serving):
        spec = pod_spec(template)
        container = engine_container(spec)
        if container is not None:
            yield where(who, role), spec, container


def number_or_default(config: Any, key: str, default: float) -> float:
    """A numeric policy config property, or `default` when unset."""
    value = to_number(config.get(key)) if is_mapping(config) else None
    return default if value is None else value


# --- command lines --------------------------------------------------------------------------

def command_tokens(container: Any) -> list[str]:
    """command + args as separate tokens; a `sh -c "..."` string is split like a shell would."""
    tokens: list[str] = []
    for part in items(container, "command") + items(container, "args"):
        if not isinstance(part, str):
            continue
        if any(ch.isspace() for ch in part.strip()):
            try:
                tokens.extend(shlex.split(part))
            except ValueError:
                tokens.extend(part.split())
        else:
            tokens.append(part)
    return tokens


def runs_no_api_server(container: Mapping) -> bool:
    """A group's worker that serves no HTTP and does not drain: a `--headless` vLLM (a TP × PP
    worker exits at once on SIGTERM, vllm/entrypoints/cli/serve.py `run_headless`) or a Ray
    worker (`ray start --block` without vLLM)."""
    tokens = command_tokens(container)
    return "--headless" in tokens or ("ray" in tokens and "--block" in tokens
                                      and "serve" not in tokens)


flag_value = vllm_cli.flag_value
"""The value of the last `--flag value` among tokens (facts/vllm_cli.py)."""


# --- selectors ------------------------------------------------------------------------------

def label_selector_matches(selector: Any, pod: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against labels; empty selects all.

    An expression Kubernetes cannot read selects nothing: apimachinery's
    `LabelSelectorAsSelector` (pkg/apis/meta/v1/helpers.go) returns an error for an operator
    other than In, NotIn, Exists and DoesNotExist, for In/NotIn without values and for
    Exists/DoesNotExist with values, so such a selector never matches a pod."""
    if not is_mapping(selector):
        return False
    match_labels = known_dict(get(selector, "matchLabels"))
    if any(pod.get(key) != value for key, value in match_labels.items()):
        return False
    return all(_expression_matches(expression, pod)
               for expression in items(selector, "matchExpressions"))


def _expression_matches(expression: Any, pod: Mapping[str, str]) -> bool:
    key = get(expression, "key")
    operator = get(expression, "operator")
    values = set(items(expression, "values"))
    if operator in ("In", "NotIn") and not values:
        return False
    if operator in ("Exists", "DoesNotExist") and values:
        return False
    if operator == "In":
        return pod.get(key) in values
    if operator == "NotIn":
        return key not in pod or pod[key] not in values
    if operator == "Exists":
        return key in pod
    if operator == "DoesNotExist":
        return key not in pod
    return False


def service_selects(selector: Any, pod: Mapping[str, str]) -> bool:
    """A Service's plain-map selector against pod labels; an empty selector selects nothing
    (such a Service has no managed endpoints)."""
    wanted = known_dict(selector)
    if not wanted:
        return False
    return all(pod.get(key) == value for key, value in wanted.items())


def iter_strings_under(obj: Any, keys: frozenset[str]) -> Iterator[str]:
    """Every string value stored under one of `keys`, anywhere in a nested structure."""
    if is_mapping(obj):
        for key, value in known_dict(obj).items():
            if key in keys and isinstance(value, str):
                yield value
            else:
                yield from iter_strings_under(value, keys)
    elif is_list(obj):
        for value in obj:
            yield from iter_strings_under(value, keys)
