"""A replica that spans nodes: how each pod of a LeaderWorkerSet group launches vLLM, and the
LeaderWorkerSet spec around the shared pod template (rendering/pod.py).

Pure. Which launch the pinned vLLM needs comes from facts/vllm_features.py; the layout from the
plan. One pod per node: the leader (LWS worker index 0) and size − 1 workers.

- pipeline (TP inside a node × PP across nodes), vLLM's own launch (0.11.1+): every pod runs
  `vllm serve … --nnodes N --node-rank $LWS_WORKER_INDEX --master-addr <leader IP>
  --master-port P`; workers add `--headless` (engine workers only, no API server). Only the
  leader serves HTTP.
- pipeline with Ray (older releases, or multiNode.launcher ray): the leader starts a Ray head,
  waits for the group's nodes and runs `vllm serve --distributed-executor-backend ray`; the
  workers join with `ray start --block`.
- data-expert (DP attention × EP across nodes): hybrid load balancing: every pod runs an API
  server for its local DP ranks (`--data-parallel-size-local`, start rank = worker index ×
  local ranks, `--data-parallel-hybrid-lb`) against the leader's DP coordinator; no pod is
  headless (vLLM refuses --headless in hybrid mode), every pod serves and is probed.

The leader's address is LWS's DNS name; ZMQ (the DP RPC) needs an IP, so each pod resolves it
first, waits at most LEADER_RESOLVE_SECONDS and fails with a message naming it instead of
starting with an empty address (`Invalid zmq path: tcp://:29550` crash-loops the group).
"""

from __future__ import annotations

import hashlib
import shlex
from typing import Any, Optional

from facts import conventions, vllm_features
from facts import lws as lws_facts
from planning import host
from planning.config import StackConfig
from planning.plan import Plan
from rendering import pod as pod_rendering
from rendering.vllm_args import PORT

LWS_API_VERSION = "leaderworkerset.x-k8s.io/v1"
LWS_KIND = "LeaderWorkerSet"
LWS_MIN_VERSION = "v0.9.0"
"""LWS controller the objects need: spec.startupPolicy (LeaderCreated), rolloutStrategy with
maxSurge, networkConfig.subdomainPolicy, RecreateGroupOnPodRestart (kubernetes-sigs/lws
api/leaderworkerset/v1), and from v0.9.0 observedGeneration on its conditions: before it,
`pulumi.com/waitFor: condition=Available` can be satisfied by the previous generation's stale
condition right after an update."""
LABEL_NAME = conventions.LWS_NAME_LABEL
LABEL_WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index"
LABEL_GROUP_KEY = "leaderworkerset.sigs.k8s.io/group-key"
ANN_EXCLUSIVE_TOPOLOGY = "leaderworkerset.sigs.k8s.io/exclusive-topology"
LEADER_RESOLVE_SECONDS = 300
"""How long a pod waits for the leader's name to resolve (LWS' headless Service publishes
not-ready addresses, so it resolves as soon as the leader pod has an IP)."""
RAY_PORT = 6379


GROUP_NAME_SUFFIX = "-group"
"""The LeaderWorkerSet is named <release>-group: the LWS controller creates a headless Service
named like the LWS (its pods' DNS subdomain) only when no Service of that name exists, so it
must not share the engine Service's name (<release>)."""


def workload_name(release: str, plan: Plan) -> str:
    """Name of the inference workload: the release (Deployment) or the group's name (LWS)."""
    return group_name(release, plan.rollout.max_groups) if is_multi_node(plan) else release


def group_name(release: str, max_groups: int) -> str:
    """<release>-group whenever every group's worker StatefulSet `<lws>-<groupIndex>` fits in
    52 characters (facts/lws.py), so existing stacks keep their LWS; otherwise cut and made
    unique with a hash of the full name. Renaming replaces the live LWS (its metadata.name is
    immutable): that happens only to a stack whose groups could never start, or when raising
    the most replicas adds a digit to the last group's index."""
    name = release + GROUP_NAME_SUFFIX
    limit = lws_facts.longest_name(max_groups)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[:limit - len(digest) - 1].rstrip('-')}-{digest}"


def is_multi_node(plan: Plan) -> bool:
    """True when one replica spans several nodes (a LeaderWorkerSet group)."""
    return plan.layout.nodes > 1


def hybrid_load_balancing(plan: Plan) -> bool:
    """True when every pod of the group serves HTTP (data × expert parallelism)."""
    return is_multi_node(plan) and plan.layout.data_parallel > 1


def uses_ray(plan: Plan) -> bool:
    """Ray when the plan's launcher is (planning/layout.py `launcher`)."""
    return plan.launcher == "ray"


def group_args(cfg: StackConfig, plan: Plan, role: str) -> list[str]:
    """Flags each pod adds to the server arguments; `$LEADER_IP` and `$LWS_WORKER_INDEX` are
    expanded by the launch script. role: leader or worker."""
    return _layout_args(cfg, plan, role) + _timeout_args(plan)


def _timeout_args(plan: Plan) -> list[str]:
    """NCCL's rendezvous waits 600 s by default; a group whose pods start minutes apart (a peer
    still pulling the image) needs the start-up budget, where the pinned vLLM takes it."""
    if not vllm_features.distributed_timeout_flag(plan.version):
        return []
    return ["--distributed-timeout-seconds", str(plan.startup.budget_seconds)]


def _layout_args(cfg: StackConfig, plan: Plan, role: str) -> list[str]:
    layout, multi = plan.layout, cfg.multi_node
    if hybrid_load_balancing(plan):
        local = layout.gpus_per_node // layout.tensor_parallel
        # One API server per pod: from vLLM 0.15 hybrid mode starts one per local rank by
        # default, which the host memory plan does not count.
        return ["--data-parallel-size-local", str(local),
                "--api-server-count", str(host.API_SERVERS_PER_POD),
                "--data-parallel-start-rank", f"$((LWS_WORKER_INDEX * {local}))",
                "--data-parallel-address", "$LEADER_IP",
                "--data-parallel-rpc-port", str(multi.data_parallel_rpc_port),
                "--data-parallel-hybrid-lb"]
    if uses_ray(plan):
        return ["--distributed-executor-backend", "ray"]
    args = ["--nnodes", str(layout.nodes), "--node-rank", "$LWS_WORKER_INDEX",
            "--master-addr", "$LEADER_IP", "--master-port", str(multi.master_port)]
    return args + (["--headless"] if role == "worker" else [])


def _quote(arg: str) -> str:
    """Shell-quote an argument, leaving the launch script's own variables to expand."""
    if arg.startswith("$"):
        return f'"{arg}"'
    return shlex.quote(arg)


RESOLVE_LEADER = (
    'leader="${LWS_LEADER_ADDRESS:?LWS_LEADER_ADDRESS is not set: not a LeaderWorkerSet pod}"\n'
    'LEADER_IP=""\n'
    f'deadline=$(( $(date +%s) + {LEADER_RESOLVE_SECONDS} ))\n'
    'while [ -z "$LEADER_IP" ]; do\n'
    '  LEADER_IP=$(getent ahostsv4 "$leader" | awk \'NR == 1 { print $1 }\')\n'
    '  if [ -z "$LEADER_IP" ]; then\n'
    '    if [ "$(date +%s)" -ge "$deadline" ]; then\n'
    f'      echo "leader address $leader did not resolve within {LEADER_RESOLVE_SECONDS} s" >&2\n'
    '      exit 1\n'
    '    fi\n'
    '    sleep 5\n'
    '  fi\n'
    'done\n'
    'echo "group leader $leader is $LEADER_IP; this pod is worker $LWS_WORKER_INDEX"\n'
)
"""Resolve the leader's DNS name to an IPv4 address, bounded, or fail naming it."""


def launch_script(cfg: StackConfig, plan: Plan, server_command: list[str],
                  server_args: list[str], role: str) -> str:
    """The `sh -c` script of one pod: resolve the leader, then exec the server (or Ray)."""
    script = "set -eu\n" + RESOLVE_LEADER
    vllm = " ".join(_quote(a) for a in [*server_command, *server_args,
                                        *group_args(cfg, plan, role)])
    if not uses_ray(plan):
        return script + f"exec {vllm}\n"
    if role == "worker":
        return script + (f'exec ray start --address="$LEADER_IP:{RAY_PORT}" --block '
                         f'--num-gpus={plan.layout.gpus_per_node}\n')
    nodes = plan.layout.nodes
    return script + (
        f"ray start --head --port={RAY_PORT} --num-gpus={plan.layout.gpus_per_node}\n"
        # Peers may still pull the image: wait as long as the start-up budget allows.
        f'deadline=$(( $(date +%s) + {plan.startup.budget_seconds} ))\n'
        'until [ "$(python3 -c "import ray; ray.init(address=\'auto\', logging_level=40); '
        "print(len([n for n in ray.nodes() if n['Alive']]))\")\" -ge "
        f'{nodes} ]; do\n'
        '  if [ "$(date +%s)" -ge "$deadline" ]; then\n'
        f'    echo "only part of the {nodes} Ray nodes joined" >&2; exit 1\n'
        '  fi\n'
        '  sleep 5\n'
        'done\n'
        f"exec {vllm}\n")


def pre_stop_hook(cfg: StackConfig, plan: Plan, role: str) -> Optional[dict]:
    """The preStop of one pod of a group (planning/timing.py `drain` says why), or None for
    the pod template's own (a pipeline group's leader drains like a single pod):

    - data × expert: every pod waits until the whole group is idle (GROUP_DRAIN_WAIT);
    - pipeline worker: stays while the leader's rendezvous answers (its vLLM, or Ray head,
      still runs: it drains), at most the plan's worker preStop, then exits at once on
      SIGTERM."""
    drain = plan.drain
    if drain.group_wide:
        script = (GROUP_DRAIN_WAIT.replace("PRE_STOP", str(drain.pre_stop_seconds))
                  .replace("BOUND", str(drain.longest_request_seconds)))
        return {"exec": {"command": ["python3", "-c", script]}}
    if role == "worker" and drain.worker_pre_stop_seconds:
        port = RAY_PORT if uses_ray(plan) else cfg.multi_node.master_port
        leader_up = ("import os, socket; "
                     f"socket.create_connection((os.environ['LWS_LEADER_ADDRESS'], {port}), 2)"
                     ".close()")
        # The bound is the background `sleep`: the loop runs while it does.
        script = (f'sleep {drain.worker_pre_stop_seconds} & bound=$!\n'
                  'while kill -0 "$bound" 2>/dev/null && '
                  f'python3 -c "{leader_up}" 2>/dev/null; do sleep 1; done\n'
                  'kill "$bound" 2>/dev/null; exit 0\n')
        return {"exec": {"command": ["sh", "-c", script]}}
    return None


GROUP_DRAIN_WAIT = rf"""import os, re, time, urllib.request
time.sleep(PRE_STOP)
leader = os.environ['LWS_LEADER_ADDRESS']
first, rest = leader.split('.', 1)
pods = [leader] + [first + '-' + str(i) + '.' + rest
                   for i in range(1, int(os.environ['LWS_GROUP_SIZE']))]
def in_flight(pod):
    try:
        page = urllib.request.urlopen('http://' + pod + ':{PORT}/metrics', timeout=5)
        text = page.read().decode()
    except Exception:
        return 0
    return sum(float(v) for v in re.findall(
        r'^vllm:num_requests_(?:running|waiting)\{{[^}}]*\}} (\S+)$', text, re.M))
deadline = time.time() + BOUND
while time.time() < deadline and sum(in_flight(pod) for pod in pods) > 0:
    time.sleep(2)
"""
"""preStop of every pod of a data × expert group: after the endpoints drop the pod (PRE_STOP
s), wait (at most BOUND s, the longest request) until no request runs or waits on any pod of
the group, so no rank leaves the all-to-all while another still serves. The peers are the
leader (LWS_LEADER_ADDRESS) and its workers `<leader pod>-<i>` under the same subdomain
(facts/lws.py); the group's headless Service publishes not-ready addresses, so a terminating
peer still resolves. A pod whose API server does not answer has exited (or never started):
it serves nothing, so it counts as idle. /metrics needs no API key (vLLM guards /v1 only)."""


def group_env(cfg: StackConfig, plan: Plan) -> list[dict[str, Any]]:
    """Environment every pod of a group gets besides the engine-ready wait (rendering/pod.py,
    every pod): the pod IP for Ray/NCCL, the NICs and the RDMA HCA from config."""
    env: list[dict[str, Any]] = [
        {"name": "VLLM_HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    multi = cfg.multi_node
    if multi.socket_interface:
        env += [{"name": "NCCL_SOCKET_IFNAME", "value": multi.socket_interface},
                {"name": "GLOO_SOCKET_IFNAME", "value": multi.socket_interface}]
    if multi.rdma and multi.rdma.hca:
        env.append({"name": "NCCL_IB_HCA", "value": multi.rdma.hca})
    return env


def worker_probe(cfg: StackConfig, plan: Plan, period: int, failures: int) -> dict:
    """Workers serve no HTTP: their probe proves they can still reach the leader's rendezvous
    (the torch TCPStore on the master port, or the Ray head)."""
    port = RAY_PORT if uses_ray(plan) else cfg.multi_node.master_port
    check = ("import os, socket; "
             f"socket.create_connection((os.environ['LWS_LEADER_ADDRESS'], {port}), 5).close()")
    return {"exec": {"command": ["python3", "-c", check]}, "periodSeconds": period,
            "timeoutSeconds": 10, "failureThreshold": failures, "successThreshold": 1}


def group_affinity(lws_name: str) -> dict:
    """One pod per node: required anti-affinity against every pod of this LeaderWorkerSet
    (each pod takes all of a node's GPUs, so two of its pods never share a node anyway; this
    states it). The exclusive-topology annotation does another job — it keeps a whole group
    inside ONE domain of a coarser key (rack, network block) — and is added only when
    multiNode.groupTopologyKey names one."""
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "labelSelector": {"matchLabels": {LABEL_NAME: lws_name}},
        "topologyKey": conventions.HOSTNAME_TOPOLOGY_KEY,
    }]}}


def checkov_waivers(serves_http: bool) -> dict[str, str]:
    """checkov skips on a group's pod template (its metadata becomes each pod's, where checkov
    reads them; it has no checks for the LeaderWorkerSet kind itself): the API key as an env
    var, like the Deployment's (rendering/pod.py CHECKOV_WAIVERS), and on a headless worker
    the readiness probe it cannot have."""
    waivers = dict(pod_rendering.CHECKOV_WAIVERS)
    if not serves_http:
        waivers["checkov.io/skip2"] = (
            "CKV_K8S_9=a headless vLLM worker serves no HTTP and no Service sends it traffic; "
            "exec startup and liveness probes check the leader's rendezvous")
    return waivers


HTTP_PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def serves_http(plan: Plan, role: str) -> bool:
    """Pipeline groups serve from the leader only; hybrid DP groups from every pod."""
    return role == "leader" or hybrid_load_balancing(plan)


def rdma_devices(cfg: StackConfig) -> dict[str, str]:
    """The RDMA devices each pod of a group requests (multiNode.rdma), as resource amounts."""
    rdma = cfg.multi_node.rdma
    return {rdma.resource_name: str(rdma.count)} if rdma else {}


def group_overlay(template: dict, cfg: StackConfig, plan: Plan, role: str,
                  lws_name: str) -> dict:
    """One pod of a group (role: leader or worker): the base pod template (rendering/pod.py
    `pod_template`) with the group's overlay on top — the launch script instead of `vllm
    serve`, the group's env, RDMA devices, one-pod-per-node anti-affinity and drain, and on a
    headless worker exec probes on the leader's rendezvous instead of HTTP ones.

    No IPC_LOCK: the pods run as UID 10001 and Kubernetes sets no ambient capabilities, so an
    added capability never reaches a non-root process; RDMA's pinned memory comes from the
    runtime's memlock limit (containerd: unlimited)."""
    serves = serves_http(plan, role)
    spec, metadata = template["spec"], template["metadata"]
    (base,) = spec["containers"]
    container = {
        **base,
        "command": ["sh", "-c", launch_script(cfg, plan, base["command"], base["args"], role)],
        "args": [],
        "env": [*base["env"], *group_env(cfg, plan)],
        "resources": {bound: {**amounts, **rdma_devices(cfg)}
                      for bound, amounts in base["resources"].items()},
        "lifecycle": {"preStop": pre_stop_hook(cfg, plan, role) or base["lifecycle"]["preStop"]},
    }
    if not serves:
        probe = worker_probe(cfg, plan, cfg.probes.period_seconds, cfg.probes.liveness_failures)
        container = {key: value for key, value in container.items() if key not in HTTP_PROBES}
        # Startup gets the group's whole start-up budget, like the HTTP startup probe.
        container.update(startupProbe={
            **probe, "failureThreshold": plan.startup.probe_failure_threshold},
            livenessProbe=probe)
    return {"metadata": {**metadata, "annotations": {**metadata["annotations"],
                                                     **checkov_waivers(serves)}},
            "spec": {**spec, "affinity": {**spec["affinity"], **group_affinity(lws_name)},
                     "containers": [container]}}


GROUP_RESTART_POLICY = "RecreateGroupAfterStart"
"""A pod restart recreates the whole group (a restarted rank cannot rejoin the others' NCCL
communicator), but only once every pod of the group has started: with RecreateGroupOnPodRestart
a worker still pulling the image while the leader times out recreates the group forever
(kubernetes-sigs/lws#725; the enum value exists from LWS v0.9.0, LWS_MIN_VERSION)."""


def leader_worker_set_spec(cfg: StackConfig, plan: Plan, leader: dict, worker: dict,
                           replicas: int) -> dict:
    """The LeaderWorkerSet spec: `replicas` groups of `nodes` pods, recreated as a whole when
    any pod restarts (GROUP_RESTART_POLICY), rolled one group at a time (into spare groups
    when spareGpus covers one), workers created with the leader (LeaderReady would wait for a
    leader that waits for its workers)."""
    surge = plan.rollout.surge
    return {
        "replicas": replicas,
        "startupPolicy": "LeaderCreated",
        "rolloutStrategy": {"type": "RollingUpdate", "rollingUpdateConfiguration": {
            "maxUnavailable": 0 if surge else 1, "maxSurge": surge}},
        "networkConfig": {"subdomainPolicy": "Shared"},
        "leaderWorkerTemplate": {
            "size": plan.layout.nodes,
            "restartPolicy": GROUP_RESTART_POLICY,
            "leaderTemplate": leader,
            "workerTemplate": worker,
        },
    }


def group_annotations(cfg: StackConfig) -> dict[str, str]:
    """Annotations on the LeaderWorkerSet itself (where the controller reads them):
    exclusive-topology when configured."""
    key = cfg.multi_node.group_topology_key
    return {ANN_EXCLUSIVE_TOPOLOGY: key} if key else {}


def await_annotations(plan: Plan) -> dict[str, str]:
    """pulumi-kubernetes has no built-in await for a LeaderWorkerSet (a custom resource): its
    generic `pulumi.com/waitFor` makes `pulumi up` wait until the LWS controller reports the
    groups Available, within the rollout budget (`pulumi.com/timeoutSeconds`, already on the
    object), instead of returning while the groups still load."""
    return {"pulumi.com/waitFor": "condition=Available"}


def workload(plan: Plan) -> tuple[str, str]:
    """(apiVersion, kind) of the inference workload."""
    return (LWS_API_VERSION, LWS_KIND) if is_multi_node(plan) else ("apps/v1", "Deployment")
