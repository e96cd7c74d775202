"""What every later `pulumi up` does, from both real stack files: each row changes the config
the way an operator would and checks the update pulumi-kubernetes would make (tests/transitions.py
encodes its replacement and ownership rules). Adding a row is one line."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pytest

from facts import conventions as c

from tests.blue_green import NEW_REVISION, PATH_PHASES, PHASE_1, PHASE_2, PHASE_3, \
    PROD_VERSION_SWITCH, ROOM, switching
from tests.conftest import STACKS
from tests.harness import run_stack, stack_config
from tests.transitions import JOB_STATUS, job_ready, node_admits, second_up

DEPLOYMENT, JOB = "apps/v1:Deployment", "batch/v1:Job"
PV, PVC = "core/v1:PersistentVolume", "core/v1:PersistentVolumeClaim"
SECRET, SCALED, HPA = "core/v1:Secret", "keda.sh/v1alpha1:ScaledObject", \
    "autoscaling/v2:HorizontalPodAutoscaler"
PASSWORD = "random:index/randomPassword:RandomPassword"
LWS = "leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
WORKLOADS = (DEPLOYMENT, LWS)
GROUP_AUTOSCALED = {"autoscaling": {"enabled": True, "engine": "keda", "minReplicas": 1,
                                    "maxReplicas": 2}}
NEW_SHA = "0123456789abcdef0123456789abcdef01234567"
LONG_GROUP_2 = {"model": {"servedName": "m" * 36}, **GROUP_AUTOSCALED}
LONG_GROUP_11 = {"model": {"servedName": "m" * 36}, "autoscaling": {
    **GROUP_AUTOSCALED["autoscaling"], "maxReplicas": 11}}
DIGEST_A, DIGEST_B = "sha256:" + "a1" * 32, "sha256:" + "b2" * 32


@dataclasses.dataclass(frozen=True)
class Row:
    """One operator change: the stack, config before and after, and per kind the operations
    the update may make (any kind not named must stay unchanged or only update in place;
    nothing is replaced unless named). `job`: the live download Job's state at that `pulumi up`
    (a JOB_STATUS key; None: it completed and the last `pulumi up` saw it complete)."""

    name: str
    stack: str
    after: dict
    expect: dict
    rolls: Optional[bool] = None
    """True: the pods roll (the pod template changes); False: they must not; None: either."""
    before: Optional[dict] = None
    job: Optional[str] = None


AUTOSCALED = {"autoscaling": {"enabled": True, "engine": "keda", "minReplicas": 1,
                              "maxReplicas": 2}}
HPA_ENGINE = {"autoscaling": {"engine": "hpa"}}
NO_AUTOSCALING = {"autoscaling": {"enabled": False}}

CONFIG_MAP = "core/v1:ConfigMap"
NETPOL = "networking.k8s.io/v1:NetworkPolicy"


def _prod_traffic(change) -> dict:
    """prod's traffic block with `change(traffic)` applied (lists are replaced whole)."""
    import copy
    traffic = copy.deepcopy(stack_config("prod")["traffic"])
    change(traffic)
    return {"traffic": traffic}


CLIENT_KEY_ROTATED = _prod_traffic(lambda t: t["clients"][0].update(keyVersion=2))
CLIENT_ADDED = _prod_traffic(lambda t: t["clients"].append(
    {"name": "newcomer", "requestsPerMinute": 30, "tokensPerMinute": 100000}))
BYTES_MEASURED = _prod_traffic(lambda t: t.update(bytesPerToken=8))
EDGE_UPGRADED = {"clusterVersions": {"envoyGateway": "1.9.0", "gatewayApi": "1.5.1"}}
HOST_ADDED = _prod_traffic(lambda t: t["gateway"]["hostnames"].append("llm2.example.com"))
BTP, CTP = ("gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy",
            "gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy")
GATEWAY, ROUTE, CERTIFICATE = ("gateway.networking.k8s.io/v1:Gateway",
                               "gateway.networking.k8s.io/v1:HTTPRoute",
                               "cert-manager.io/v1:Certificate")
LOCAL_ONLY_GETS_CLOUD = _prod_traffic(lambda t: t["aliases"][1].update(
    cloud=[{"provider": "cloud", "model": "gpt-5.5"}]))


ROWS = [
    Row("no-op rerun", "prod", {}, {}, rolls=False),
    Row("no-op rerun", "staging", {}, {}, rolls=False),
    Row("vLLM minor upgrade", "prod", {"vllmVersion": "0.33.0"}, {DEPLOYMENT: {"update"}},
        rolls=True),
    Row("vLLM minor upgrade", "staging", {"vllmVersion": "0.34.0"},
        {DEPLOYMENT: {"update"}, JOB: set(), PVC: set()}, rolls=True),
    Row("new model revision", "staging", {"model": {"revision": NEW_SHA}},
        {JOB: {"create", "delete"}, DEPLOYMENT: {"update"}, PVC: set()}, rolls=True),
    Row("NFS export moved", "prod", {"storage": {"nfs": {"server": "10.0.9.9"}}},
        {PV: {"create", "delete"}, PVC: {"create", "delete"}, DEPLOYMENT: {"update"}}),
    Row("NFS path moved", "prod", {"storage": {"nfs": {"path": "/exports/v2"}}},
        {PV: {"create", "delete"}, PVC: {"create", "delete"}, DEPLOYMENT: {"update"}}),
    Row("storage class changed", "staging", {"storage": {"pvc": {"storageClass": "fast-rwx"}}},
        {PVC: {"create", "delete"}, JOB: {"create", "delete"}, DEPLOYMENT: {"update"}}),
    Row("access mode changed", "staging", {"storage": {"pvc": {"accessMode": "ReadWriteOnce"}}},
        {PVC: {"create", "delete"}, JOB: {"create", "delete"}, DEPLOYMENT: {"update"}}),
    Row("autoscaling on to off", "prod", NO_AUTOSCALING, {SCALED: {"delete"}, DEPLOYMENT: {"update"}},
        rolls=False),
    Row("autoscaling off to on", "staging", AUTOSCALED, {SCALED: {"create"}, DEPLOYMENT: {"update"}},
        rolls=False, before=NO_AUTOSCALING),
    # Issue 21: staging's engine may go to zero behind its router; the first `pulumi up` of
    # this release adds the router, points the engine's fence at it and hands replicas to KEDA.
    # The router rolls (its Retry-After becomes the wake time); the engine does not.
    Row("scale to zero turned on", "staging", {}, {SCALED: {"update"}, DEPLOYMENT: {"update"}},
        rolls=True, before={"autoscaling": {"minReplicas": 1}}),
    Row("staging gains its router and scale to zero", "staging", {},
        {SCALED: {"create"}, DEPLOYMENT: {"create", "update"}, NETPOL: {"create", "update"},
         CONFIG_MAP: {"create", "update"}, SECRET: {"create"}, "core/v1:Service": {"create"},
         "policy/v1:PodDisruptionBudget": {"create"}, PASSWORD: {"create"},
         "vllm-serving:index:TrafficRouter": {"create"}}, rolls=False,
        before={"traffic": None, "autoscaling": None}),
    Row("KEDA to HPA", "prod", HPA_ENGINE,
        {SCALED: {"delete"}, HPA: {"create"}, "core/v1:ConfigMap": {"create", "update"}}),
    Row("HPA to KEDA", "prod", {}, {SCALED: {"create"}, HPA: {"delete"},
                                     "core/v1:ConfigMap": {"delete", "update"}},
        before=HPA_ENGINE),
    Row("API key rotated", "prod", {"apiKey": {"length": 64}},
        {PASSWORD: {"replace"}, SECRET: {"update"}, DEPLOYMENT: {"update"}}, rolls=True),
    Row("replicas changed", "staging", {"replicas": 2}, {DEPLOYMENT: {"update"}}, rolls=False),
    # Six engine replicas at their peak need five routers (planning/router_sizing.py): the
    # stack has them before and after, so only the autoscaler changes.
    Row("autoscaler bounds changed", "prod", {"autoscaling": {"maxReplicas": 6},
                                              "traffic": {"router": {"replicas": 5}}},
        {SCALED: {"update"}}, rolls=False, before={"traffic": {"router": {"replicas": 5}}}),
    # The download Job: a `pulumi up` that stopped waiting (timed out, cancelled) leaves it
    # running; the next one waits for the same Job (an empty update, tests/transitions.py),
    # never replaces it, so the download goes on. A failed attempt is retried by the Job
    # itself, resuming; it never fails for good (rendering/model_store.py).
    Row("download still running at the next up", "staging", {}, {JOB: {"update"}},
        rolls=False, job="running"),
    Row("an attempt failed, the Job is retrying it", "staging", {}, {JOB: {"update"}},
        rolls=False, job="retrying"),
    Row("download completed", "staging", {}, {}, rolls=False, job="complete"),
    Row("new revision while the old download runs", "staging", {"model": {"revision": NEW_SHA}},
        {JOB: {"create", "delete"}, DEPLOYMENT: {"update"}, PVC: set()}, rolls=True,
        job="running"),
    # The multi-node stack: a template change rolls the groups (one at a time, the LWS's
    # rolloutStrategy) as an in-place update; nothing under the same name is replaced.
    Row("no-op rerun", "r1-h100", {}, {}, rolls=False),
    Row("vLLM minor upgrade", "r1-h100", {"vllmVersion": "0.33.0"}, {LWS: {"update"}},
        rolls=True),
    Row("NIC renamed", "r1-h100", {"multiNode": {"socketInterface": "ens5"}}, {LWS: {"update"}},
        rolls=True),
    Row("NFS export moved", "r1-h100", {"storage": {"nfs": {"server": "10.0.9.9"}}},
        {PV: {"create", "delete"}, PVC: {"create", "delete"}, LWS: {"update"}}),
    Row("API key rotated", "r1-h100", {"apiKey": {"length": 64}},
        {PASSWORD: {"replace"}, SECRET: {"update"}, LWS: {"update"}}, rolls=True),
    Row("groups added", "r1-h100", {"replicas": 2}, {LWS: {"update"}}, rolls=False),
    Row("group autoscaling on", "r1-h100", GROUP_AUTOSCALED,
        {SCALED: {"create"}, LWS: {"update"}}, rolls=False),
    Row("group autoscaling off", "r1-h100", {}, {SCALED: {"delete"}, LWS: {"update"}},
        rolls=False, before=GROUP_AUTOSCALED),
    # The drain budget is in every pod's template (grace, the worker's preStop sleep, the
    # leader's --shutdown-timeout): a change rolls the group, replacing nothing.
    Row("drain budget changed", "r1-h100", {"shutdown": {"maxTokens": 4096}}, {LWS: {"update"}},
        rolls=True),
    # Issue 18: decode context parallelism is a sized engine key; turning it on changes the
    # engine's arguments only (the KV capacity it buys is the plan's), so the group rolls. On
    # r1-h100 (MLA): vLLM refuses it for prod's GQA model, 8 KV heads at TP 2
    # (vllm/config/model.py verify_with_parallel_config wants TP above the KV heads).
    Row("decode context parallel on", "r1-h100", {"engine": {"decodeContextParallel": 2}},
        {LWS: {"update"}}, rolls=True),
    # A 44-character release: <release>-group (50) fits group indexes up to 9. At 11 groups the
    # last worker StatefulSet would be 53 characters and never start, so the LWS (and its
    # ScaledObject, named after it) get the hash-cut name: Pulumi creates the new group beside
    # the old and deletes the old once the new is Available (spare GPUs for one group needed;
    # without them `pulumi up` times out with the old group still serving).
    Row("long-named group autoscaled past 10 groups", "r1-h100", LONG_GROUP_11,
        {LWS: {"replace"}, SCALED: {"replace"}}, before=LONG_GROUP_2),
    Row("client key rotated", "prod", CLIENT_KEY_ROTATED,
        {PASSWORD: {"replace"}, SECRET: {"update"}, DEPLOYMENT: {"update"}}, rolls=True),
    Row("client added", "prod", CLIENT_ADDED,
        {PASSWORD: {"create"}, SECRET: {"create"}, CONFIG_MAP: {"update"},
         DEPLOYMENT: {"update"}}, rolls=True),
    # The engine fence names pods; narrowing who may reach the engine changes only its
    # NetworkPolicy, in place (no NetworkPolicy field forces a replacement: diff.go).
    Row("gateway proxies narrowed to one Gateway", "staging",
        {"network": {"gatewayPods": {"gateway.envoyproxy.io/owning-gateway-name": "edge"}}},
        {NETPOL: {"update"}}, rolls=False),
    # Behind the router the gateway's proxies reach the router's port, not the engine's.
    Row("gateway proxies narrowed behind the router", "prod",
        {"network": {"gatewayPods": {"gateway.envoyproxy.io/owning-gateway-name": "edge"}}},
        {NETPOL: {"update"}}, rolls=False),
    Row("Prometheus pods narrowed", "prod",
        {"network": {"prometheusPods": {"prometheus": "kube-prometheus-stack-prometheus"}}},
        {NETPOL: {"update"}}, rolls=False),
    # The edge: a measured body size moves the edge's cap and the router's limit in place.
    Row("bytes per token measured", "prod", BYTES_MEASURED,
        {BTP: {"update"}, CTP: {"update"}, CONFIG_MAP: {"update"}, DEPLOYMENT: {"update"}},
        rolls=True),
    Row("cluster's edge upgraded", "prod", EDGE_UPGRADED, {}, rolls=False),
    Row("hostname added", "prod", HOST_ADDED,
        {GATEWAY: {"update"}, ROUTE: {"update"}, CERTIFICATE: {"update"}}, rolls=False),
    # A local-only alias answers 503 when its engine is down; with a cloud target it falls back
    # instead: the router's settings change, the engine does not.
    Row("local-only alias gets a cloud fallback", "prod", LOCAL_ONLY_GETS_CLOUD,
        {CONFIG_MAP: {"update"}, DEPLOYMENT: {"update"}}, rolls=True),
    # The engine's readiness period is the Retry-After of that 503: both roll.
    Row("engine probe period changed", "prod", {"probes": {"periodSeconds": 15}},
        {CONFIG_MAP: {"update"}, DEPLOYMENT: {"update"}}, rolls=True),
    # A digest is part of the image string only: the pods roll onto it, nothing is replaced,
    # and no volume or download Job moves (planning/pins.py: never looked up, so never drifts).
    Row("engine digest pinned", "prod", {"image": {"tag": "v0.32.0", "digest": DIGEST_A}},
        {DEPLOYMENT: {"update"}}, rolls=True),
    Row("engine digest changed", "staging", {"image": {"digest": DIGEST_B}},
        {DEPLOYMENT: {"update"}}, rolls=True, before={"image": {"digest": DIGEST_A}}),
    Row("group digest changed", "r1-h100", {"image": {"digest": DIGEST_B}},
        {LWS: {"update"}}, rolls=True, before={"image": {"digest": DIGEST_A}}),
    Row("router digest pinned", "prod", {"traffic": {"router": {"imageDigest": DIGEST_A}}},
        {DEPLOYMENT: {"update"}}, rolls=True),
    Row("NFS weights relabelled", "prod", {"model": {"revision": NEW_SHA}},
        {DEPLOYMENT: {"update"}}, rolls=True),
]
# README "How to add a cloud provider": prod's key moved from the hand-made Secret to
# `pulumi config set --secret --path trafficSecrets.providers.cloud`: the program creates the
# Secret, the router rolls onto it, the engine is untouched.
PROVIDER_KEY_FROM_CONFIG = {**_prod_traffic(lambda t: [p.pop("apiKeySecret", None)
                                                        for p in t["providers"]]),
                            "trafficSecrets": {"providers": {"cloud": "sk-from-pulumi-config"}}}
ROWS += [
    Row("provider key taken from pulumi config", "prod", PROVIDER_KEY_FROM_CONFIG,
        {SECRET: {"create"}, DEPLOYMENT: {"update"}}, rolls=True),
    # A measured per-token time (README: measure it and set the key) moves the engine's drain,
    # the router's timeouts and the edge's budgets together, each in place.
    Row("per-token time measured", "prod", {"shutdown": {"perTokenMs": 60}},
        {DEPLOYMENT: {"update"}, CONFIG_MAP: {"update"}, BTP: {"update"}, CTP: {"update"},
         ROUTE: {"update"}}, rolls=True),
    # Upgrading to the roofline (planning/throughput.py): a stack that relied on the old
    # defaults (40 ms a token, 10 s of prefill) gets the plan's figures instead; the same
    # objects move, in place, and the engine rolls once onto its new drain.
    Row("per-token time from the roofline instead of the old default", "prod", {},
        {DEPLOYMENT: {"update"}, CONFIG_MAP: {"update"}, BTP: {"update"}, CTP: {"update"},
         ROUTE: {"update"}}, rolls=True,
        before={"shutdown": {"perTokenMs": 40, "prefillSeconds": 10}}),
]
ROUTER_ONLY = ("client key rotated", "client added", "local-only alias gets a cloud fallback")
# The router's Redis (components/redis.py): prod names an existing one, which keeps working
# (its no-op rerun above changes nothing); dropping `host` deploys one, and back.
DEPLOYED_REDIS = {"traffic": {"router": {"redis": None}}}
# One router keeps up with engines five times slower per token (planning/router_sizing.py);
# the engines are that slow before and after, so only the router scales.
SLOW_ENGINES = {"shutdown": {"perTokenMs": 200}}
ONE_ROUTER = {"traffic": {"router": {"replicas": 1, "redis": None}}, **SLOW_ENGINES}
REDIS_MEMORY = {"traffic": {"router": {"redis": {"host": None, "port": None,
                                                 "passwordSecret": None, "memoryMi": 256}}}}
REDIS_OBJECTS = ("vllm-serving:index:RouterRedis", PASSWORD, SECRET, "core/v1:Service",
                 "policy/v1:PodDisruptionBudget")
ROWS += [
    Row("Redis deployed instead of the existing one", "prod", DEPLOYED_REDIS,
        {**{kind: {"create"} for kind in REDIS_OBJECTS}, CONFIG_MAP: {"create", "update"},
         DEPLOYMENT: {"create", "update"},
         "networking.k8s.io/v1:NetworkPolicy": {"create", "update"}}, rolls=True),
    Row("existing Redis instead of the deployed one", "prod", {},
        {**{kind: {"delete"} for kind in REDIS_OBJECTS}, CONFIG_MAP: {"delete", "update"},
         DEPLOYMENT: {"delete", "update"},
         "networking.k8s.io/v1:NetworkPolicy": {"delete", "update"}}, rolls=True,
        before=DEPLOYED_REDIS),
    Row("router scaled out from one replica", "prod", {**DEPLOYED_REDIS, **SLOW_ENGINES},
        {**{kind: {"create"} for kind in REDIS_OBJECTS}, CONFIG_MAP: {"create", "update"},
         DEPLOYMENT: {"create", "update"},
         "networking.k8s.io/v1:NetworkPolicy": {"create", "update"},
         "monitoring.coreos.com/v1:PrometheusRule": {"update"}}, rolls=True, before=ONE_ROUTER),
    Row("deployed Redis given more memory", "prod", REDIS_MEMORY,
        {CONFIG_MAP: {"update"}, DEPLOYMENT: {"update"}}, rolls=True, before=DEPLOYED_REDIS),
]

ALERT_ROUTING = {"monitoring": {"alerting": {"receivers": [
    {"name": "oncall", "urlSecret": {"name": "alert-webhooks", "key": "generic"}},
    {"name": "dingtalk", "kind": "dingtalk", "severities": ["critical"],
     "urlSecret": {"name": "alert-webhooks", "key": "dingtalk"}}]}}}
ALERTMANAGER_CONFIG = "monitoring.coreos.com/v1alpha1:AlertmanagerConfig"
ROWS += [
    Row("Alertmanager routing added", "prod", ALERT_ROUTING, {ALERTMANAGER_CONFIG: {"create"}},
        rolls=False),
    Row("Alertmanager routing removed", "prod", {}, {ALERTMANAGER_CONFIG: {"delete"}},
        rolls=False, before=ALERT_ROUTING),
]

# Issue 20, model delivery (rendering/model_store.py, rendering/node_cache.py). A path switch
# creates the new path's objects, rolls the pods onto it and deletes the old store last (the
# claim waits for the old pods: components/model_store.py). On the node cache, a new revision
# updates the stager DaemonSet in place (each node stages it beside the served one, keeping
# keepRevisions) and the engine's pods roll onto nodes labelled ready for it.
MODEL_IMAGE = "registry.example.com/models/r1-distill@sha256:" + "c3" * 32
IMAGE_PATH = {"storage": {"mode": "image", "nfs": None, "pvc": None,
                          "image": {"reference": MODEL_IMAGE}},
              "clusterVersions": {"kubernetes": "1.35"}}
NODE_CACHE = {"storage": {"mode": "nodeCache", "pvc": None, "nodeCache": {"diskGi": 200}}}
DAEMON_SET = "apps/v1:DaemonSet"
NAMESPACE = "core/v1:Namespace"
CACHE_KINDS = ("core/v1:ServiceAccount", "rbac.authorization.k8s.io/v1:ClusterRole",
               "rbac.authorization.k8s.io/v1:ClusterRoleBinding", DAEMON_SET)
ROWS += [
    Row("NFS export to a model image", "prod", IMAGE_PATH,
        {PV: {"delete"}, PVC: {"delete"}, DEPLOYMENT: {"update"}}, rolls=True),
    Row("model image re-pushed, new digest", "prod",
        {**IMAGE_PATH, "storage": {**IMAGE_PATH["storage"], "image": {
            "reference": MODEL_IMAGE.replace("c3" * 32, "d4" * 32)}}},
        {DEPLOYMENT: {"update"}, PV: set(), PVC: set()}, rolls=True, before=IMAGE_PATH),
    # The namespace's Pod Security moves to privileged first (the store and the engine take
    # its name, so Pulumi updates it before creating them): only it admits their hostPath.
    Row("claim to the node cache", "staging", NODE_CACHE,
        {**{kind: {"create"} for kind in CACHE_KINDS}, PVC: {"delete"}, JOB: {"delete"},
         NETPOL: {"create", "delete"}, DEPLOYMENT: {"update"}, NAMESPACE: {"update"}},
        rolls=True),
    Row("new revision staged beside the served one", "staging",
        {**NODE_CACHE, "model": {"revision": NEW_SHA}},
        {DAEMON_SET: {"update"}, DEPLOYMENT: {"update"}, JOB: set(), PVC: set()},
        rolls=True, before=NODE_CACHE),
    Row("node cache keeps more revisions", "staging",
        {"storage": {**NODE_CACHE["storage"], "nodeCache": {"diskGi": 400, "keepRevisions": 3}}},
        {DAEMON_SET: {"update"}}, rolls=False, before=NODE_CACHE),
    Row("node cache back to a claim", "staging", {},
        {**{kind: {"delete"} for kind in CACHE_KINDS}, PVC: {"create"}, JOB: {"create"},
         NETPOL: {"create", "delete"}, DEPLOYMENT: {"update"}, NAMESPACE: {"update"}},
        rolls=True, before=NODE_CACHE),
]


# Blue-green revisions on staging (README "Blue-green revisions", tests/blue_green.py): one
# `pulumi up` per phase. Phase 0 makes room (one spare L4, no scale to zero during the switch);
# phase 1 creates the green slot beside blue, downloads the new revision beside the old, and
# points the router at both (every request still on blue); Pulumi creates green only after its
# download Job completes and waits for it to be ready before it updates the router
# (planning/revisions.py cites the Deployment await). The ScaledObject follows the slot serving
# model.revision: its name changes, so Pulumi creates green's before deleting blue's. Phase 2
# moves the traffic by the router's weights alone; phase 3 removes blue's Deployment, Service,
# PDB and NetworkPolicy after the router stopped naming them (deletes come last in an update).
SERVICE, PDB = "core/v1:Service", "policy/v1:PodDisruptionBudget"
SWITCH_BACK = switching(100, revision="fedcba9876543210fedcba9876543210fedcba98")
SWITCH_BACK = {**SWITCH_BACK, "blueGreen": {"slot": "blue", "previous": {
    "revision": NEW_REVISION, "vllmVersion": SWITCH_BACK["vllmVersion"], "weight": 100}}}
BLUE_GREEN_ROWS = [
    # The router rolls: its Retry-After is no longer the wake time.
    Row("blue-green phase 0: room made", "staging", ROOM,
        {SCALED: {"update"}, DEPLOYMENT: {"update"}, CONFIG_MAP: {"update"}}, rolls=True),
    Row("blue-green phase 1: new slot beside the old", "staging", PHASE_1,
        {DEPLOYMENT: {"create", "update"}, SERVICE: {"create"}, PDB: {"create"},
         NETPOL: {"create", "update"}, JOB: {"create", "delete"}, SCALED: {"replace"},
         CONFIG_MAP: {"update"}, PVC: set()}, rolls=True, before=ROOM),
    Row("blue-green phase 2: traffic moved", "staging", PHASE_2,
        {DEPLOYMENT: {"update"}, CONFIG_MAP: {"update"}}, rolls=True, before=PHASE_1),
    Row("blue-green rolled back during phase 2", "staging", PHASE_1,
        {DEPLOYMENT: {"update"}, CONFIG_MAP: {"update"}}, rolls=True, before=PHASE_2),
    Row("blue-green phase 3: old slot removed", "staging", PHASE_3,
        {DEPLOYMENT: {"delete", "update"}, SERVICE: {"delete"}, PDB: {"delete"},
         NETPOL: {"delete", "update"}, CONFIG_MAP: {"update"}}, rolls=True, before=PHASE_2),
    Row("blue-green: green steady rerun", "staging", PHASE_3, {}, rolls=False, before=PHASE_3),
    # prod's NFS export holds one revision: a vLLM upgrade alone runs blue-green there. Shared
    # objects (key, logging ConfigMap, monitoring) only relabel their version, in place.
    Row("blue-green: vLLM upgrade beside the old one", "prod", PROD_VERSION_SWITCH,
        {DEPLOYMENT: {"create", "update"}, SERVICE: {"create"}, PDB: {"create"},
         NETPOL: {"create", "update"}, SCALED: {"replace"}, CONFIG_MAP: {"update"},
         SECRET: {"update"}, PV: set(), PVC: set()}, rolls=True, before={"spareGpus": 4}),
    Row("blue-green: the next switch goes back to blue", "staging", SWITCH_BACK,
        {DEPLOYMENT: {"create", "update"}, SERVICE: {"create"}, PDB: {"create"},
         NETPOL: {"create", "update"}, JOB: {"create", "delete"}, SCALED: {"replace"},
         CONFIG_MAP: {"update"}, PVC: set()}, rolls=True, before=PHASE_3),
]
ROWS += BLUE_GREEN_ROWS

# The same switch on the load paths of issue 20 (tests/blue_green.py PATH_PHASES), one row per
# phase per path. No claim or download Job on these paths: phase 1 creates green beside blue
# (blue's Deployment unchanged: its pods keep the previous revision's image volume, ready label
# or prefix) and points the router at both; on the node cache the stager's DaemonSet stages
# the new revision beside the previous one (keepRevisions 2 keeps it, and its label, for
# blue's pods). Phases 2 and 3 are the router's weights, then blue's objects deleted.
SLOT_CREATED = {DEPLOYMENT: {"create", "update"}, SERVICE: {"create"}, PDB: {"create"},
                NETPOL: {"create", "update"}, SCALED: {"replace"}, CONFIG_MAP: {"update"},
                JOB: set(), PVC: set()}
PATH_SWITCH_ROWS = [
    row for path, phases in PATH_PHASES.items() for row in (
        Row(f"blue-green on {path}, phase 1: new slot beside the old", "staging",
            phases["phase 1"],
            {**SLOT_CREATED, **({"apps/v1:DaemonSet": {"update"}}
                                if path == "nodeCache" else {})},
            rolls=True, before=phases["room"]),
        Row(f"blue-green on {path}, phase 2: traffic moved", "staging", phases["phase 2"],
            {DEPLOYMENT: {"update"}, CONFIG_MAP: {"update"}}, rolls=True,
            before=phases["phase 1"]),
        Row(f"blue-green on {path}, phase 3: old slot removed", "staging", phases["phase 3"],
            {DEPLOYMENT: {"delete", "update"}, SERVICE: {"delete"}, PDB: {"delete"},
             NETPOL: {"delete", "update"}, CONFIG_MAP: {"update"}}, rolls=True,
            before=phases["phase 2"]))]
ROWS += PATH_SWITCH_ROWS

# Issue 20, objectStore (rendering/object_store.py): the engine streams from the bucket, so the
# claim and the download Job go (the claim is deleted last, once the old pods have let go of
# it), the engine's fence gains HTTPS egress and its pods roll onto the URI. The credentials
# reach the pods as env from the operator's Secret: a Secret renamed in config rolls them; new
# keys written into the same Secret reach a pod only when it restarts (the kubelet reads
# secretKeyRef env at container start), so rotate by a new Secret name.
def _object_store(secret: str) -> dict:
    return {"storage": {"mode": "objectStore", "pvc": None, "objectStore": {
        "uri": "s3://models/deepseek-r1-distill-qwen-7b", "credentialsSecret": secret}},
            "engine": {"loadFormat": "runai_streamer"}}


ROWS += [
    Row("switched to objectStore", "staging", _object_store("model-reader"),
        {PVC: {"delete"}, JOB: {"delete"}, NETPOL: {"delete", "update"},
         DEPLOYMENT: {"update"}}, rolls=True),
    Row("object-store credentials Secret renamed", "staging", _object_store("model-reader-2"),
        {DEPLOYMENT: {"update"}}, rolls=True, before=_object_store("model-reader")),
    # Warm caches (facts/warm_caches.py): the compile-cache claim is created, the pods mount it
    # and point FlashInfer's cache there. The budgets stay cold (the first pod after the change
    # finds no compile-cache entry: planning/timing.py), so the autoscaler's windows do not move.
    Row("warm caches enabled", "staging", {"engine": {"compileCacheGib": 20}},
        {PVC: {"create"}, DEPLOYMENT: {"update"}},
        rolls=True),
]

@pytest.fixture(scope="module")
def updates(runs):
    """second_up of a row, computed once per row; each distinct config is run once (the stack
    file as it is comes from the session's `runs`: most rows start from it)."""
    cache, ran = {}, {}

    def run_of(stack: str, overrides: Optional[dict]) -> object:
        if not overrides:
            return runs[stack]
        key = (stack, repr(overrides))
        if key not in ran:
            ran[key] = run_stack(stack, overrides)
        return ran[key]

    def update(row: Row):
        key = (row.stack, repr(row.before), repr(row.after), row.job)
        if key not in cache:
            cache[key] = second_up(run_of(row.stack, row.before), run_of(row.stack, row.after),
                                   job_status=JOB_STATUS[row.job] if row.job else None)
        return cache[key]
    return update


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.stack}: {r.name}" for r in ROWS])
def test_a_later_pulumi_up_does_only_what_the_change_needs(row, updates):
    update = updates(row)
    assert update.hazards == []
    ops = update.ops()
    for kind, allowed in row.expect.items():
        got = set().union(*(v for k, v in ops.items() if k.endswith(kind)))
        assert got == allowed, f"{kind}: {got} (expected {allowed})"
    unexpected_replacements = [s.urn for s in update.steps if s.op == "replace" and not any(
        s.kind.endswith(kind) and "replace" in allowed for kind, allowed in row.expect.items())]
    assert unexpected_replacements == []
    unexpected = {k: v for k, v in ops.items() if not any(k.endswith(e) for e in row.expect)
                  and v - {"update"}}
    assert unexpected == {}
    rolled = any(p.startswith(("spec.template.", "spec.leaderWorkerTemplate."))
                 for kind in WORKLOADS for step in update.of(kind) for p in step.paths)
    if row.rolls is not None:
        assert rolled == row.rolls, "pods roll" if rolled else "pods do not roll"


@pytest.mark.parametrize("row", [r for r in ROWS if r.name in ROUTER_ONLY],
                         ids=lambda r: r.name)
def test_a_client_change_rolls_only_the_router(row, updates):
    """A rotated or added client key reaches the router (its pods roll to mount it at once)
    and nothing of the engine: its Deployment, Secret and pods are untouched."""
    update = updates(row)
    changed = {s.urn.rsplit("::", 1)[1]: s for s in update.steps if s.op != "same"}
    engine = [name for name in changed if "router" not in name and "client" not in name]
    assert engine == [], engine
    router = next(s for s in update.of(DEPLOYMENT) if s.urn.endswith("-router"))
    assert any(p.startswith("spec.template.metadata.annotations") for p in router.paths)


def test_turning_scale_to_zero_on_rolls_the_router_and_leaves_the_engine_pods(updates):
    row = next(r for r in ROWS if r.name == "scale to zero turned on")
    update = updates(row)
    rolled = [s.urn.rsplit("::", 1)[1] for s in update.of(DEPLOYMENT)
              if any(p.startswith("spec.template.") for p in s.paths)]
    assert rolled == ["staging-deepseek-r1-7b-router"]
    [scaled] = update.of(SCALED)
    assert "spec.minReplicaCount" in scaled.paths


def test_a_router_digest_rolls_the_router_and_nothing_of_the_engine(updates):
    row = next(r for r in ROWS if r.name == "router digest pinned")
    changed = [s for s in updates(row).steps if s.op != "same"]
    assert [s.urn.rsplit("::", 1)[1] for s in changed] == ["prod-deepseek-r1-32b-router"]
    assert any(p.startswith("spec.template.spec.containers") for p in changed[0].paths)


def test_a_provider_key_moved_into_pulumi_config_rolls_the_router_alone(updates):
    """The program's Secret is created and the router's key reference moves to it; the
    engine's objects do not change."""
    update = updates(next(r for r in ROWS if r.name == "provider key taken from pulumi config"))
    changed = {s.urn.rsplit("::", 1)[1]: s.op for s in update.steps if s.op != "same"}
    assert changed == {"prod-deepseek-r1-32b-router": "update",
                       "prod-deepseek-r1-32b-router-provider-cloud": "create"}


def test_more_redis_memory_restarts_redis_alone(updates):
    """A new redis.conf restarts Redis (its counters start over); the router and the engine
    keep running."""
    update = updates(next(r for r in ROWS if r.name == "deployed Redis given more memory"))
    rolled = [s.urn.rsplit("::", 1)[1] for s in update.of(DEPLOYMENT)
              if any(p.startswith("spec.template.") for p in s.paths)]
    assert rolled == ["prod-deepseek-r1-32b-redis"]


@pytest.mark.parametrize("stack", STACKS)
def test_a_rerun_with_the_same_config_changes_nothing(stack, updates):
    """No generated value, ordering or hash drifts between two runs of the same config."""
    update = updates(Row("no-op", stack, {}, {}))
    assert [s for s in update.steps if s.op != "same"] == []


def test_storage_moves_create_the_new_claim_before_deleting_the_old(updates):
    """A changed immutable field is a new claim (new logical and Kubernetes name): Pulumi creates
    it with the update and deletes the old one last, after the pods rolled off it. A
    replacement of the same resource would also inherit its ignored size from the state."""
    moves = [row for row in ROWS if "storage" in row.after
             and "mode" not in row.after["storage"]]      # a path switch moves off claims
    assert len(moves) == 5
    for row in moves:
        claims = updates(row).of(PVC)
        assert {s.op for s in claims} == {"create", "delete"}, row.name
    for row in ROWS:
        assert not [s for s in updates(row).of(PVC) + updates(row).of(PV) if s.op == "replace"]


def test_a_vllm_upgrade_touches_neither_volumes_nor_the_download(updates):
    update = updates(ROWS[3])
    assert {s.op for s in update.of(JOB) + update.of(PVC)} == {"same"}
    assert "spec.template.spec.containers[0].image" in \
        next(s for s in update.of(DEPLOYMENT)).paths


def test_the_engine_detects_what_it_guards_against():
    """The rules themselves can fail: a fixed claim name replaced delete-first, replicas sent
    without patchForce under an autoscaler, and replicas dropped while solely owned."""
    from tests.transitions import Update, _replica_ownership_hazards, _replacement_hazards, Step
    hazards = _replacement_hazards([Step("u", PVC, "replace", True, ("spec.storageClassName",))],
                                   {}, None)
    assert hazards and "delete-first" in hazards[0]
    before, after = run_stack("prod"), run_stack("prod", NO_AUTOSCALING)
    deployment = after.engine(DEPLOYMENT)
    del deployment.metadata["annotations"]["pulumi.com/patchForce"]
    update = second_up(before, after)
    assert any("conflict" in h for h in update.hazards)
    fixed, dropped = run_stack("staging", NO_AUTOSCALING), run_stack("staging", NO_AUTOSCALING)
    del dropped.engine(DEPLOYMENT).inputs["spec"]["replicas"]
    assert any("reset to 1" in h for h in second_up(fixed, dropped).hazards)
    assert isinstance(update, Update)


def test_the_upgrade_to_group_drains_updates_the_group_in_place():
    """The first `pulumi up` after this release (workers' preStop past the leader's drain,
    checkov waivers on the group's templates): r1-h100's LeaderWorkerSet keeps its name and
    URN and is updated in place, rolling the group once; nothing is replaced. `before` is
    today's run with the previous release's rendering of those fields put back."""
    import copy
    after = run_stack("r1-h100")
    before = copy.deepcopy(after)
    lws = before.one(LWS).inputs["spec"]["leaderWorkerTemplate"]
    leader = lws["leaderTemplate"]["spec"]["containers"][0]
    lws["workerTemplate"]["spec"]["containers"][0]["lifecycle"] = copy.deepcopy(
        leader["lifecycle"])
    for role in ("leaderTemplate", "workerTemplate"):
        annotations = lws[role]["metadata"]["annotations"]
        for key in [k for k in annotations if k.startswith("checkov.io/")]:
            del annotations[key]
    update = second_up(before, after)
    assert update.hazards == []
    assert {k: v for k, v in update.ops().items()} == {LWS: {"update"}}
    [step] = update.of(LWS)
    assert any(p.startswith("spec.leaderWorkerTemplate.workerTemplate.spec.containers[0]"
                            ".lifecycle") for p in step.paths)


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_the_upgrade_to_admission_bounds_rolls_the_engine_once_in_place(stack):
    """The first `pulumi up` after this release adds --max-num-queued-reqs/-tokens to the
    engine (vLLM >= 0.29.0: prod 0.32.0, staging 0.33.0): the engine Deployment is updated in
    place and its pods roll once, one at a time as any template change; nothing is replaced.
    `before` is today's run without those flags (the previous release's rendering)."""
    import copy
    after = run_stack(stack)
    before = copy.deepcopy(after)
    container = before.engine(DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    for flag in ("--max-num-queued-reqs", "--max-num-queued-tokens"):
        at = args.index(flag)
        del args[at:at + 2]
    update = second_up(before, after)
    assert update.hazards == []
    assert update.ops() == {DEPLOYMENT: {"update"}}
    [step] = [s for s in update.of(DEPLOYMENT) if s.op != "same"]
    assert any(p.startswith("spec.template.spec.containers[0].args") for p in step.paths)


def test_the_upgrade_to_admission_bounds_rolls_the_group_once_in_place():
    """r1-h100 (vLLM 0.32.0): the bounds reach the group's `vllm serve` command lines, so the
    LeaderWorkerSet is updated in place and the group rolls once; nothing is replaced."""
    import copy
    import re
    after = run_stack("r1-h100")
    before = copy.deepcopy(after)
    lws = before.one(LWS).inputs["spec"]["leaderWorkerTemplate"]
    flags = re.compile(r" --max-num-queued-(reqs|tokens) \d+")
    for role in ("leaderTemplate", "workerTemplate"):
        container = lws[role]["spec"]["containers"][0]
        for key in ("command", "args"):
            if container.get(key):
                container[key] = [flags.sub("", part) for part in container[key]]
    update = second_up(before, after)
    assert update.hazards == []
    assert update.ops() == {LWS: {"update"}}


def test_the_upgrade_to_admission_aware_routing_updates_the_router_config_in_place():
    """The first `pulumi up` after this release retries a 503 once and no longer cools the
    engine down on 503s: prod's router ConfigMap is updated in place and the router pods roll
    onto it (config checksum); the engine is untouched. `before` is today's run with the
    previous release's router_settings put back."""
    import copy
    import yaml
    after = run_stack("prod")
    before = copy.deepcopy(after)
    config_map = next(r for r in before.of_type(CONFIG_MAP) if r.name.endswith("-router-config"))
    config = yaml.safe_load(config_map.inputs["data"]["config.yaml"])
    settings = config["router_settings"]
    del settings["retry_policy"], settings["allowed_fails_policy"]
    settings["num_retries"] = 0
    config_map.inputs["data"]["config.yaml"] = yaml.safe_dump(config, sort_keys=False)
    router = next(r for r in before.of_type(DEPLOYMENT) if r.name.endswith("-router"))
    router.inputs["spec"]["template"]["metadata"]["annotations"] = {
        k: ("old" if "checksum" in k else v)
        for k, v in router.inputs["spec"]["template"]["metadata"]["annotations"].items()}
    update = second_up(before, after)
    assert update.hazards == []
    assert update.ops() == {CONFIG_MAP: {"update"}, DEPLOYMENT: {"update"}}
    [rolled] = [s for s in update.of(DEPLOYMENT) if s.op != "same"]
    assert rolled.urn.endswith("-router")



@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_the_upgrade_to_the_leaner_router_callbacks_rolls_the_router_alone(stack):
    """The first `pulumi up` after the router stops computing the series its filter drops
    (the router module's Metrics and Services classes) and ignores a client's `no-log`: the
    router's ConfigMap (module text, `global_disable_no_log_param`) is updated in place and
    the router's pods roll once onto it (config checksum); the engine is untouched. `before`
    is today's run with the previous release's config.yaml setting and module put back."""
    import copy
    import yaml
    after = run_stack(stack)
    before = copy.deepcopy(after)
    config_map = next(r for r in before.of_type(CONFIG_MAP) if r.name.endswith("-router-config"))
    data = config_map.inputs["data"]
    config = yaml.safe_load(data["config.yaml"])
    del config["litellm_settings"]["global_disable_no_log_param"]
    data["config.yaml"] = yaml.safe_dump(config, sort_keys=False)
    data["vllm_serving_router.py"] = "# the previous release's module\n"
    router = next(r for r in before.of_type(DEPLOYMENT) if r.name.endswith("-router"))
    annotations = router.inputs["spec"]["template"]["metadata"]["annotations"]
    router.inputs["spec"]["template"]["metadata"]["annotations"] = {
        k: ("old" if "checksum" in k else v) for k, v in annotations.items()}
    update = second_up(before, after)
    assert update.hazards == []
    changed = {s.urn.rsplit("::", 1)[1]: s.op for s in update.steps if s.op != "same"}
    release = after.workload().metadata["name"]
    assert changed == {f"{release}-router": "update", f"{release}-router-config": "update"}


def test_the_upgrade_to_the_rollback_safe_download_replaces_the_finished_job_alone():
    """The download keeps the revision served last (the already-complete branch touches its
    marker, so a rollback's revision is the newest): the first `pulumi up` after this release
    replaces staging's finished download Job, delete-first under its own name (its command is
    a replacement trigger); the new Job finds the marker and exits at once. The claim and the
    engine are untouched. `before` is today's run with the previous release's script."""
    import copy
    after = run_stack("staging")
    before = copy.deepcopy(after)
    [job] = before.of_type(JOB)
    command = job.inputs["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "    os.utime(marker)\n" in command[2]
    command[2] = command[2].replace("    os.utime(marker)\n", "")
    update = second_up(before, after)
    assert update.hazards == []
    changed = [s for s in update.steps if s.op != "same"]
    assert [(s.kind, s.op, s.delete_first) for s in changed] == [(JOB, "replace", True)]

# pulumi-kubernetes provider/pkg/await/checker/job/check_test.go `Test_Job_Checker`: each case
# feeds its workflow's states in order and stops at the first ready one.
@pytest.mark.parametrize("states, ready", [
    (["initialized"], False),                                    # Job added but not running
    (["initialized", "running"], False),                         # Job running but not ready
    (["initialized", "running", "complete"], True),              # Job succeeded
    (["initialized", "running", "backoffLimit"], False),         # backoff limit exceeded
    (["initialized", "running", "deadlineExceeded"], False),     # deadline exceeded
    (["initialized", "running", "backoffLimit",                  # succeeded after backoff limit
      "initialized", "running", "complete"], True),              # reached and resolved
], ids=["added", "running", "succeeded", "backoffLimit", "deadline", "resolved"])
def test_job_readiness_is_the_providers_own_checker(states, ready):
    assert any(job_ready(JOB_STATUS[s]) for s in states) is ready


def _replace_unready(run):
    """The run with its download Job annotated `pulumi.com/replaceUnready: "true"` (what the
    program rendered before this rule was read from the provider's source)."""
    import copy
    run = copy.deepcopy(run)
    run.one(JOB).metadata.setdefault("annotations", {})["pulumi.com/replaceUnready"] = "true"
    return run


@pytest.mark.parametrize("state, op", [
    ("running", "replace"), ("retrying", "replace"), ("backoffLimit", "replace"),
    ("deadlineExceeded", "replace"), ("complete", "same")])
def test_replace_unready_replaces_a_job_that_is_still_running(state, op):
    """The reason the download Job carries no replaceUnready: the provider replaces every Job
    that is not Complete at diff time, a running one too, delete-first (same name): the
    download pod is killed and starts again (pulumi-kubernetes TestReplaceUnready step 3)."""
    staging = _replace_unready(run_stack("staging"))
    [step] = second_up(staging, staging, job_status=JOB_STATUS[state]).of(JOB)
    assert (step.op, step.delete_first) == (op, op == "replace")


def test_without_replace_unready_a_job_that_failed_for_good_fails_every_later_up():
    """pulumi-kubernetes TestReplaceUnready step 2: an update re-awaits the Failed Job and
    fails. The download Job therefore never fails for good (test_download_script.py)."""
    staging = run_stack("staging")
    update = second_up(staging, staging, job_status=JOB_STATUS["backoffLimit"])
    assert [s.op for s in update.of(JOB)] == ["update"]
    assert len(update.hazards) == 1 and "BackoffLimitExceeded" in update.hazards[0]


def test_the_download_job_carries_no_replace_unready():
    job = run_stack("staging").one(JOB)
    assert "pulumi.com/replaceUnready" not in (job.metadata.get("annotations") or {})


# The router's scrape annotations became the shared ones (rendering/kube.py
# scrape_annotations), which name the scheme too. On a stack scraped by annotations (no
# Prometheus Operator) the first `pulumi up` of that code adds one annotation to the router's
# Service: an in-place update; the Service keeps its clusterIP, no pod rolls, nothing else moves.
ROUTER_SCRAPE_ANNOTATIONS_BEFORE = {"prometheus.io/scrape": "true", "prometheus.io/port": "4000",
                                    "prometheus.io/path": "/metrics"}


def test_the_router_scrape_scheme_updates_only_its_service_in_place():
    import copy
    after = run_stack("prod", {"monitoring": {"prometheusOperator": False}})
    before = copy.deepcopy(after)
    (service,) = [r for r in before.of_type("core/v1:Service") if r.name.endswith("-router")]
    service.inputs["metadata"]["annotations"] = dict(ROUTER_SCRAPE_ANNOTATIONS_BEFORE)
    update = second_up(before, after)
    changed = [(s.urn.rsplit("::", 1)[1], s.kind, s.op) for s in update.steps if s.op != "same"]
    assert changed == [("prod-deepseek-r1-32b-router", "core/v1:Service", "update")]
    (step,) = [s for s in update.steps if s.op != "same"]
    assert all(p.startswith("metadata.annotations") for p in step.paths), step.paths
    assert update.hazards == []


def test_the_upgrade_to_kernel_downloads_rebuilds_a_built_image_and_rolls_the_engine_once():
    """The first `pulumi up` after this release on a stack that builds its image on vLLM 0.32+
    passes DOWNLOAD_KERNELS to the build (rendering/image.py): the image is rebuilt in place
    (docker Image inputs change; nothing is replaced); the pushed image's new digest then rolls
    the engine once (the mock's digest is fixed, so only the build shows here). `before` is
    today's run without that build arg (the previous release's rendering)."""
    import copy
    built = {"image": {"build": True, "registry": "registry.example.com/ml"}}
    after = run_stack("prod", built)
    before = copy.deepcopy(after)
    image = before.one("docker:index/image:Image")
    del image.inputs["build"]["args"]["DOWNLOAD_KERNELS"]
    update = second_up(before, after)
    assert update.hazards == []
    assert update.ops() == {"docker:index/image:Image": {"update"}}
    [step] = [s for s in update.steps if s.op != "same"]
    assert step.paths == ("build.args.DOWNLOAD_KERNELS",)


def test_a_drained_cache_node_s_pods_reschedule_only_onto_nodes_whose_cache_is_ready():
    """`kubectl drain` of a cache node: it is cordoned and the engine pod evicted (the PDB lets
    one go). The replacement pod may land only on an uncordoned GPU node labelled ready for
    this revision — never on a GPU node without the cache, where it would find no weights. The
    stager is a DaemonSet pod (drain skips it with --ignore-daemonsets) and the files and the
    label stay on the drained node, so once uncordoned it takes pods again at once."""
    run = run_stack("staging", NODE_CACHE)
    spec = run.workload().inputs["spec"]["template"]["spec"]
    stage = run.one(DAEMON_SET).inputs["spec"]["template"]["spec"]["initContainers"][0]
    ready = next(e["key"] for e in spec["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]
        if e["key"] in stage["command"][2])
    gpu = {"nvidia.com/gpu.product": "NVIDIA-L4"}
    nodes = {"drained": ({**gpu, ready: "ready"}, True), "cached": ({**gpu, ready: "ready"}, False),
             "uncached": (gpu, False), "other-revision": ({**gpu, ready + "-old": "ready"}, False)}
    admitted = {name for name, (labels, cordoned) in nodes.items()
                if node_admits(spec, labels, cordoned)}
    assert admitted == {"cached"}
    assert node_admits(spec, nodes["drained"][0], unschedulable=False)   # uncordoned again
    assert not node_admits({"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}}}}, gpu)
def _changed(update, kind: str) -> dict[str, str]:
    return {s.urn.rsplit("::", 1)[1]: s.op for s in update.of(kind) if s.op != "same"}


def test_phase_0_surges_the_engine_into_the_spare_gpu_without_rolling_it(updates):
    [engine] = [s for s in updates(BLUE_GREEN_ROWS[0]).of(DEPLOYMENT)
                if s.urn.endswith("-deployment")]
    assert engine.paths == ("spec.strategy.rollingUpdate.maxSurge",
                            "spec.strategy.rollingUpdate.maxUnavailable")


def test_phase_1_leaves_the_serving_pods_alone_and_creates_the_new_slot_beside_them(updates):
    """Blue, which serves every request, is rendered from the previous slot's own plan
    exactly as before: its Deployment does not change at all; green is new objects."""
    update = updates(BLUE_GREEN_ROWS[1])
    assert _changed(update, DEPLOYMENT) == {"staging-deepseek-r1-7b-green-deployment": "create",
                                           "staging-deepseek-r1-7b-router": "update"}
    assert _changed(update, SERVICE) == {"staging-deepseek-r1-7b-green-service": "create"}
    assert _changed(update, PDB) == {"staging-deepseek-r1-7b-green-pdb": "create"}
    [router] = [s for s in update.of(DEPLOYMENT) if s.urn.endswith("-router")]
    assert all(p.startswith("spec.template.metadata.annotations") for p in router.paths)


@pytest.mark.parametrize("row", PATH_SWITCH_ROWS[::3], ids=sorted(PATH_PHASES))
def test_phase_1_on_each_load_path_leaves_the_serving_pods_alone(row, updates):
    """Blue's pods keep the previous revision's store pieces (its image volume, its ready
    label, its prefix): its Deployment does not change; green is created beside it."""
    assert _changed(updates(row), DEPLOYMENT) == {
        "staging-deepseek-r1-7b-green-deployment": "create",
        "staging-deepseek-r1-7b-router": "update"}


def test_phase_2_moves_the_traffic_in_the_router_alone(updates):
    update = updates(BLUE_GREEN_ROWS[2])
    changed = {s.urn.rsplit("::", 1)[1] for s in update.steps if s.op != "same"}
    assert changed == {"staging-deepseek-r1-7b-router", "staging-deepseek-r1-7b-router-config"}


def test_phase_3_deletes_exactly_the_old_slots_objects(updates):
    update = updates(BLUE_GREEN_ROWS[4])
    deleted = sorted(s.urn.rsplit("::", 1)[1] for s in update.steps if s.op == "delete")
    assert deleted == [f"staging-deepseek-r1-7b-{child}"
                       for child in ("deployment", "netpol", "pdb", "service")]


def test_a_stack_that_never_switches_keeps_its_engine_names(runs):
    """The blue slot is the names every stack had: nothing named green without a switch."""
    for stack in ("prod", "staging", "r1-h100"):
        assert not [r.name for r in runs[stack].resources if "-green" in r.name]


def test_the_upgrade_to_namespaced_alerts_updates_the_rules_in_place():
    """The first `pulumi up` after this release adds `namespace` to every alerting rule's labels
    (the AlertmanagerConfig's route needs it): prod's two PrometheusRules (the engine's and
    the router's) are updated in place; nothing rolls, nothing else moves. `before` is today's
    run with the previous release's rule labels (severity alone) put back."""
    import copy
    after = run_stack("prod")
    before = copy.deepcopy(after)
    for rule_object in before.of_type("monitoring.coreos.com/v1:PrometheusRule"):
        for group in rule_object.inputs["spec"]["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["labels"] = {"severity": rule["labels"]["severity"]}
    update = second_up(before, after)
    assert update.hazards == []
    assert update.ops() == {"monitoring.coreos.com/v1:PrometheusRule": {"update"}}
    assert len([s for s in update.steps if s.op == "update"]) == 2


def _pod_templates(resource) -> list[dict]:
    """The pod templates of a Deployment or of a LeaderWorkerSet's leader and worker."""
    spec = resource.inputs["spec"]
    if "template" in spec:
        return [spec["template"]]
    group = spec["leaderWorkerTemplate"]
    return [group["leaderTemplate"], group["workerTemplate"]]


def _without_engine_logging(run):
    """`run` as the release before the engine's JSON logs: no `<release>-logging` ConfigMap,
    and no volume, mount or VLLM_LOGGING_CONFIG_PATH in the engine's pods."""
    import copy
    from rendering import vllm_args
    run = copy.deepcopy(run)
    run.resources = [r for r in run.resources if not r.name.endswith("-logging")]
    workload = run.workload()
    for template in _pod_templates(workload):
        spec = template["spec"]
        spec["volumes"] = [v for v in spec["volumes"] if v["name"] != vllm_args.LOGGING_VOLUME]
        for container in spec["containers"]:
            container["volumeMounts"] = [m for m in container["volumeMounts"]
                                         if m["name"] != vllm_args.LOGGING_VOLUME]
            container["env"] = [e for e in container["env"]
                                if e["name"] != "VLLM_LOGGING_CONFIG_PATH"]
    return run


@pytest.mark.parametrize("stack, workload", [("prod", DEPLOYMENT), ("staging", DEPLOYMENT),
                                             ("r1-h100", LWS)])
def test_the_upgrade_to_engine_json_logs_rolls_the_engine_once_in_place(stack, workload, runs):
    """The first `pulumi up` after this release (issue 21, JSON logs) creates the
    `<release>-logging` ConfigMap and mounts it in every engine pod: the engine's workload is
    updated in place and its pods roll once (one at a time, or a group at a time, as any
    template change); nothing is replaced and nothing else moves."""
    after = runs[stack]
    update = second_up(_without_engine_logging(after), after)
    assert update.hazards == []
    assert update.ops() == {CONFIG_MAP: {"create"}, workload: {"update"}}
    [created] = [s for s in update.steps if s.op == "create"]
    assert created.urn.endswith("-logging")
    [rolled] = [s for s in update.of(workload) if s.op != "same"]
    assert any(".volumeMounts" in p or ".volumes" in p for p in rolled.paths), rolled.paths


def _without_router_json_logs(run):
    """`run` as the release before the router's JSON logs: no JSON_LOGS env, no uvicorn
    logging file or `--log_config`, no `json_logs` in config.yaml, the older checksum."""
    import copy
    import yaml
    from rendering import router as render
    run = copy.deepcopy(run)
    config_map = next(r for r in run.of_type(CONFIG_MAP) if r.name.endswith("-router-config"))
    data = config_map.inputs["data"]
    del data[render.LOG_CONFIG_FILE]
    config = yaml.safe_load(data["config.yaml"])
    del config["litellm_settings"]["json_logs"]
    data["config.yaml"] = yaml.safe_dump(config, sort_keys=False)
    router = next(r for r in run.of_type(DEPLOYMENT) if r.name.endswith("-router"))
    template = router.inputs["spec"]["template"]
    template["metadata"]["annotations"][c.ANN_ROUTER_CONFIG_CHECKSUM] = \
        render.config_checksum(data)
    container = template["spec"]["containers"][0]
    container["env"] = [e for e in container["env"] if e["name"] != "JSON_LOGS"]
    at = container["args"].index("--log_config")
    del container["args"][at:at + 2]
    return run


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_the_upgrade_to_router_json_logs_rolls_the_router_alone(stack, runs):
    """The same upgrade on the router: its ConfigMap gains the uvicorn logging file and
    `json_logs`, its container `JSON_LOGS` and `--log_config`; the ConfigMap is updated in
    place and the router's pods roll (container and config checksum); the engine is
    untouched."""
    after = runs[stack]
    update = second_up(_without_router_json_logs(after), after)
    assert update.hazards == []
    changed = {s.urn.rsplit("::", 1)[1]: s.op for s in update.steps if s.op != "same"}
    release = after.workload().metadata["name"]
    assert changed == {f"{release}-router": "update", f"{release}-router-config": "update"}
    [router] = [s for s in update.of(DEPLOYMENT) if s.op != "same"]
    assert any(p.startswith("spec.template.spec.containers[0].args") for p in router.paths)
    assert any(p.startswith("spec.template.metadata.annotations") for p in router.paths)


def test_a_blue_green_vllm_upgrade_leaves_the_serving_engine_alone(updates):
    update = updates(next(r for r in BLUE_GREEN_ROWS if r.stack == "prod"))
    assert _changed(update, DEPLOYMENT) == {"prod-deepseek-r1-32b-green-deployment": "create",
                                           "prod-deepseek-r1-32b-router": "update"}


def _previous_roofline(monkeypatch) -> None:
    """The program as the release before issue 18's roofline fixes computed its timings: the
    experts read at the replica's whole batch under PP, MLA's decode at its prefill head
    dimensions, NVLink at both directions' bandwidth, and no rounding of the per-token figure
    or of --max-num-queued-reqs (planning/granularity.py)."""
    from planning import admission, throughput
    head_dims, link = throughput.head_dims, throughput.link

    def both_ways(gpu, layout):
        kind, bandwidth = link(gpu, layout)
        return kind, bandwidth * 2 if kind == "nvlink" else bandwidth

    monkeypatch.setattr(throughput, "micro_batch_tokens", lambda batch, layout: batch)
    monkeypatch.setattr(throughput, "head_dims",
                        lambda attention, hidden, decode: head_dims(attention, hidden, False))
    monkeypatch.setattr(throughput, "link", both_ways)
    # The release before took the printed figure, one decimal (now stepped up unrounded).
    monkeypatch.setattr(throughput, "stable_ceiling", lambda value: round(value, 1))
    monkeypatch.setattr(admission, "stable_count", lambda value: value)


EDGE_TIMED = ("cert-manager.io/v1:Certificate", "gateway.networking.k8s.io/v1:Gateway",
              "gateway.networking.k8s.io/v1:HTTPRoute",
              "gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy",
              "gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy")
"""The edge's objects that carry the longest request or the edge timeouts (prod's edge)."""


@pytest.mark.parametrize("stack, grace, workload, router, edge", [
    ("prod", (470, 499), DEPLOYMENT, True, True),
    ("staging", (394, 404), DEPLOYMENT, True, False),
    ("r1-h100", (428, 401), LWS, False, False)])
def test_the_upgrade_to_the_fixed_roofline_rolls_the_engine_once_in_place(
        stack, grace, workload, router, edge, monkeypatch):
    """The first `pulumi up` after issue 18's roofline fixes: the drain follows the new time per
    token (prod 52.4 -> 56 ms, staging 87.5 -> 90 ms, r1-h100 48.3 -> 45 ms: grace periods
    470 -> 499, 394 -> 404, 428 -> 401 s) and --max-num-queued-reqs moves to its R20 step
    (prod 76 -> 80, r1-h100 190 -> 200): the engine's workload is updated in place and its
    pods roll once (r1-h100's group once, as a whole); the router's ConfigMap (timeouts) and
    Deployment (its grace period, config checksum) are updated in place and the router rolls
    once; prod's edge objects take the new timeouts in place; nothing is replaced. Later estimate refinements of 1 % roll nothing
    (tests/stacks/test_estimate_nudges.py)."""
    after = run_stack(stack)
    with monkeypatch.context() as previous:
        _previous_roofline(previous)
        _previous_stages(previous)     # the same release sizes each pipeline stage on its own
        _previous_pipeline_time(previous)      # and times a token through each stage
        before = run_stack(stack)
    for run, seconds in zip((before, after), grace):
        template = _pod_templates(run.workload())[0]
        assert template["spec"]["terminationGracePeriodSeconds"] == seconds
    update = second_up(before, after)
    assert update.hazards == []
    expected = {workload: {"update"}}
    if router:
        expected |= {DEPLOYMENT: {"update"}, CONFIG_MAP: {"update"}}
    if edge:
        expected |= {kind: {"update"} for kind in EDGE_TIMED}
    assert update.ops() == expected
    [rolled] = [s for s in update.of(workload) if s.urn.endswith("::" + after.workload().name)]
    assert rolled.op == "update" and any("terminationGracePeriodSeconds" in p
                                         for p in rolled.paths), rolled.paths
def _uniform_stage_budget(cfg, gpu, version, engine, weights_, activations_, groups, stages):
    """The release before per-stage budgets: one budget from the fullest stage's weights and
    the largest activation peak, at the fullest stage's bytes per block."""
    from planning import kv_layout, memory
    mixed = dataclasses.replace(weights_, per_stage_gib=())
    budget = memory._kv_budget(cfg, gpu, version, engine, mixed.per_gpu_gib,
                               activations_.peak_gib, activations_.non_torch_gib)
    fullest = max(range(max(len(stages), 1)),
                  key=lambda i: kv_layout.bytes_per_block(groups, stages[i:i + 1]))
    return [budget] * max(len(stages), 1), fullest


def test_the_upgrade_to_per_stage_kv_budgets_stays_inside_the_r20_steps(monkeypatch, runs):
    """r1-h100 (TP 8 × PP 2): each pipeline stage now has its own weights (DeepSeek's dense
    first layers hold no experts), activation peak (the sampler on the last stage) and KV
    budget, so the group's KV tokens move (779,168 -> 787,360); the same release takes the
    drain and --max-num-queued-reqs up to R20 steps, inside which this refinement stays: the
    first `pulumi up` changes nothing. `before` is the program run with the previous
    release's uniform stages."""
    from planning import config
    from planning.plan import make_plan
    from planning.stack_files import stack_values

    def tokens() -> int:
        return make_plan(config.parse(stack_values("r1-h100"))).outputs()["kvCacheTokens"]
    _previous_stages(monkeypatch)
    before, before_tokens = run_stack("r1-h100"), tokens()
    monkeypatch.undo()
    assert tokens() != before_tokens     # the estimate did move
    update = second_up(before, runs["r1-h100"])
    assert update.hazards == []
    # The same release steps the drain and --max-num-queued-reqs up to R20 numbers
    # (planning/granularity.py): this refinement of the estimate stays inside the steps.
    assert update.ops() == {}


def _previous_stages(monkeypatch) -> None:
    """The previous release's uniform pipeline stages: no dense first layers, one budget."""
    from planning import memory
    monkeypatch.setattr(memory, "dense_layer_count", lambda model: 0)
    monkeypatch.setattr(memory, "stage_budgets", _uniform_stage_budget)


def _previous_pipeline_time(monkeypatch) -> None:
    """The release before per-stage decode times: every stage read as the fullest one (layers
    alike, no dense first layers) with the binding stage's KV, so a token took PP × that step."""
    from planning import memory, throughput

    def fullest(*args, dense_layers=0, dense_mlp_params=0.0, **kwargs):
        stages = memory.weight_gib_per_stage(*args, **kwargs)
        return [max(stages)] * len(stages)

    monkeypatch.setattr(throughput, "weight_gib_per_stage", fullest)
    monkeypatch.setattr(throughput, "stage_kv_read_bytes",
                        lambda model, kv, stages, context:
                        [kv.bytes_per_token * context] * len(stages))


def test_the_upgrade_to_per_stage_decode_times_stays_inside_the_r20_step(runs):
    """r1-h100 (TP 8 × PP 2): a token's time is now the sum of its two stages' own steps
    (stage 0 holds DeepSeek's three dense layers and no head) instead of PP × the fullest
    stage: 42.2 -> 42.1 ms, inside the R20 step the budgets use (45 ms), so the first `pulumi
    up` changes nothing."""
    from planning import config
    from planning.plan import make_plan
    from planning.stack_files import stack_values

    def decode_ms() -> float:
        return make_plan(config.parse(stack_values("r1-h100"))).throughput.decode_ms
    with pytest.MonkeyPatch.context() as previous:
        _previous_pipeline_time(previous)
        before, before_ms = run_stack("r1-h100"), decode_ms()
    assert (before_ms, decode_ms()) == (42.2, 42.1)
    update = second_up(before, runs["r1-h100"])
    assert update.hazards == []
    assert update.ops() == {}
