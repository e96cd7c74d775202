"""Rules for a model replica that spans nodes (a LeaderWorkerSet group): tensor parallelism
stays inside a pod's node, a lost pod recreates the whole group, the group can start at all,
headless workers are not probed over HTTP they never serve, and every group's names fit.
Resource checks take `(resource_type, pulumi_name, props, config)` and return messages; the
stack check `check_group_names_fit` takes `(resources, config)` (it needs the autoscalers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from facts import conventions as conv
from facts import lws as lws_facts
from facts import vllm_cli
from policy import k8s, stack_checks
from policy.k8s import fmt, get
from policy.stack_checks import Findings

GROUP_RESTART_POLICIES = ("RecreateGroupOnPodRestart", "RecreateGroupAfterStart")
"""LWS restart policies that rebuild the whole group when one of its pods restarts."""
HTTP_PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def check_tensor_parallel_in_a_pod(resource_type: str, name: str, props: Mapping,
                                   config: Mapping) -> list[str]:
    """Tensor parallelism never spans the pods of a group: the tensor-parallel size is at most
    the GPUs of one pod (each pod of a LeaderWorkerSet is one node). A single-pod workload's
    count is gpu-matches-parallelism's business."""
    if resource_type != k8s.LEADER_WORKER_SET:
        return []
    out = []
    templates = k8s.inference_templates(resource_type, props)
    tp = k8s.to_number(k8s.stated(props, templates, conv.ANN_TENSOR_PARALLEL))
    for where, _, container in k8s.engine_containers(resource_type, props, name):
        flag = k8s.to_number(k8s.flag_value(k8s.command_tokens(container),
                                            "--tensor-parallel-size", "-tp"))
        size = flag if flag is not None else tp
        gpus = k8s.engine_gpus(container)
        if size is not None and gpus is not None and size > gpus:
            out.append(
                f"{where} runs tensor "
                f"parallel {fmt(size)} on pods of {fmt(gpus)} GPUs, so its all-reduces on every "
                "layer cross nodes and run several times slower; keep tensor parallelism inside "
                "a node and span nodes with pipeline or data × expert parallelism.")
    return out


def check_group_restart_policy(resource_type: str, name: str, props: Mapping,
                               config: Mapping) -> list[str]:
    """A LeaderWorkerSet recreates its whole group when a pod restarts: the survivors' NCCL
    communicator cannot take a restarted rank back."""
    if resource_type != k8s.LEADER_WORKER_SET or not k8s.inference_templates(resource_type,
                                                                             props):
        return []
    policy = get(props, "spec", "leaderWorkerTemplate", "restartPolicy")
    if policy is None or policy in GROUP_RESTART_POLICIES:   # unset = RecreateGroupOnPodRestart
        return []
    return [f"{k8s.describe(resource_type, props, name)} sets restartPolicy {policy}: a "
            "restarted pod would rejoin a group whose other ranks still hold the old NCCL "
            "communicator and hang it; use RecreateGroupOnPodRestart (or "
            "RecreateGroupAfterStart)."]


def check_group_can_start(resource_type: str, name: str, props: Mapping,
                          config: Mapping) -> list[str]:
    """A group's workers are created with its leader: with startupPolicy LeaderReady the LWS
    waits for a leader whose engine waits for its workers, and nothing ever starts."""
    if resource_type != k8s.LEADER_WORKER_SET or not k8s.inference_templates(resource_type,
                                                                             props):
        return []
    if get(props, "spec", "startupPolicy") != "LeaderReady" or k8s.pods_per_replica(
            resource_type, props) < 2:
        return []
    return [f"{k8s.describe(resource_type, props, name)} sets startupPolicy LeaderReady: the "
            "workers are only created once the leader is Ready, but vLLM's leader becomes "
            "Ready only after its workers join, so the group deadlocks; use LeaderCreated."]


def check_headless_workers_not_http_probed(resource_type: str, name: str, props: Mapping,
                                           config: Mapping) -> list[str]:
    """Workers started with --headless serve no HTTP: an HTTP probe on them fails forever and,
    with a group restart policy, restarts the whole group in a loop."""
    out = []
    for where, _, container in k8s.engine_containers(resource_type, props, name):
        if "--headless" not in k8s.command_tokens(container):
            continue
        probed = [kind for kind in HTTP_PROBES if k8s.is_mapping(get(container, kind, "httpGet"))]
        if probed:
            out.append(
                f"{where} runs vLLM --headless (no API server) but probes it over HTTP ({', '.join(probed)}); "
                "the probe can never pass. Drop the HTTP probes on workers, or use an exec "
                "probe that checks the leader's rendezvous.")
    return out


def check_group_names_fit(resources: Sequence[Any], config: Mapping) -> Findings:
    """Every group of a LeaderWorkerSet can start: the LWS controller names each group's worker
    StatefulSet `<lws>-<groupIndex>`, and a StatefulSet named over 52 characters never creates
    a pod (facts/lws.py). Groups counted: the most replicas (its autoscaler's maximum, else
    spec.replicas) plus the rollout's maxSurge, which the controller caps at replicas."""
    scalers = stack_checks._autoscalers(resources)
    out: Findings = []
    for group in (r for r in resources if r.resource_type == k8s.LEADER_WORKER_SET):
        name = k8s.name_of(group.props)
        if not isinstance(name, str):
            continue
        _, most = stack_checks._replica_range(group, scalers)
        groups = int(most) + _max_surge(group.props, int(most))
        if lws_facts.names_fit(name, groups):
            continue
        last = lws_facts.worker_statefulset_name(name, groups - 1)
        out.append((
            f"{k8s.describe(group.resource_type, group.props, group.name)} may run {groups} "
            f"groups, and the LWS controller names the last one's worker StatefulSet '{last}' "
            f"({len(last)} characters); a StatefulSet named over "
            f"{lws_facts.STATEFULSET_NAME_MAX} characters never creates a pod (its pods' "
            "controller-revision-hash label would exceed 63), so that group's leader would "
            f"wait for workers forever. Shorten the LeaderWorkerSet's name to at most "
            f"{lws_facts.longest_name(groups)} characters.", group.urn))
    return out


def _max_surge(props: Mapping, replicas: int) -> int:
    """rolloutStrategy.rollingUpdateConfiguration.maxSurge as the LWS controller scales it: an
    int, or a percentage of replicas rounded up; at most replicas; 0 when unset."""
    surge = get(props, "spec", "rolloutStrategy", "rollingUpdateConfiguration", "maxSurge")
    if isinstance(surge, str) and surge.endswith("%"):
        percent = k8s.to_number(surge[:-1])
        value = math.ceil(replicas * percent / 100) if percent is not None else 0
    else:
        value = k8s.to_number(surge) or 0
    return min(int(value), replicas)


def check_group_flags(resource_type: str, name: str, props: Mapping,
                      config: Mapping) -> list[str]:
    """The launch of each pod of a group sets the group flags once: a second value of one
    (argparse keeps the last, so an extra `--nnodes 3` or `-n3` splits the group), a flag the
    launch never sets (`--data-parallel-backend ray`, `--data-parallel-rank`, external load
    balancing) or `--api-server-count` beside `--headless` (vLLM refuses it:
    vllm/entrypoints/cli/serve.py `ServeSubcommand.cmd`) crash-loops the group. Flags are read
    as vLLM reads them (facts/vllm_cli.py: `_` for `-`, `=`, abbreviations, short aliases)."""
    if resource_type != k8s.LEADER_WORKER_SET:
        return []
    out = []
    for where, _, container in k8s.engine_containers(resource_type, props, name):
        flags = [f for f in (vllm_cli.canonical_flag(t, GUARDED)
                             for t in _serve_tokens(container)) if f in vllm_cli.GROUP_FLAGS]
        twice = sorted({f for f in flags if flags.count(f) > 1})
        never = sorted(set(flags) & set(NEVER_IN_A_GROUP))
        problems = ([f"sets {', '.join(twice)} more than once (argparse keeps the last value, "
                     "so the pods disagree on the group)"] if twice else [])
        problems += [f"passes {flag}, {NEVER_IN_A_GROUP[flag]}" for flag in never]
        if "--headless" in flags and "--api-server-count" in flags:
            problems.append("passes --api-server-count beside --headless, which vLLM refuses")
        out += [f"{where} {problem}; the group launch sets these flags itself, remove them "
                "from the engine's extra arguments." for problem in problems]
    return out


GUARDED = (*vllm_cli.GROUP_FLAGS, *vllm_cli.SHORT_ALIASES.values())
"""Options an abbreviation is expanded against; a full option name (`--data-parallel-size`)
is itself, never an abbreviation of a longer one (argparse matches exactly first)."""
NEVER_IN_A_GROUP = {
    "--data-parallel-backend": "but each pod runs its own `vllm serve` with the mp backend "
                               "(the Ray backend starts every rank from one command)",
    "--data-parallel-rank": "which switches vLLM to external load balancing, one rank per pod",
    "--data-parallel-external-lb": "which needs one pod per data-parallel rank",
}
"""Group flags no launch of this program sets, and why each breaks a group."""


def _serve_tokens(container: Mapping) -> list[str]:
    """The words after `serve` (vLLM's arguments) in a pod's command, or all of them: the
    launch script's shell words (`[ -n … ]`) are not vLLM's."""
    tokens = k8s.command_tokens(container)
    return tokens[tokens.index("serve") + 1:] if "serve" in tokens else tokens
