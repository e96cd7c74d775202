"""What every later `pulumi up` does, from both real stack files: each row changes the config
the way an operator would and checks the update pulumi-kubernetes would make (tests/transitions.py
encodes its replacement and ownership rules). Adding a row is one line."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pytest

from tests.conftest import STACKS
from tests.harness import run_stack, stack_config
from tests.transitions import JOB_STATUS, job_ready, second_up

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

ROUTERS_FOR_DCP = _prod_traffic(lambda t: t["router"].update(replicas=7))

ROWS = [
    Row("no-op rerun", "prod", {}, {}, rolls=False),
    Row("no-op rerun", "staging", {}, {}, rolls=False),
    Row("vLLM minor upgrade", "prod", {"vllmVersion": "0.33.0"}, {DEPLOYMENT: {"update"}},
        rolls=True),
    Row("vLLM minor upgrade", "staging", {"vllmVersion": "0.34.0"},
        {DEPLOYMENT: {"update"}, JOB: set(), PVC: set()}, rolls=True),
    # Issue 18: decode context parallelism is a sized engine key; turning it on changes the
    # engine's arguments only (the KV capacity it buys is the plan's), so the engine rolls. The
    # doubled capacity needs 7 routers on prod (planning/router_sizing.py), set before and after.
    Row("decode context parallel on", "prod",
        {"engine": {"decodeContextParallel": 2}, **ROUTERS_FOR_DCP},
        {DEPLOYMENT: {"update"}}, rolls=True, before=ROUTERS_FOR_DCP),
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
    moves = [row for row in ROWS if "storage" in row.after]
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
