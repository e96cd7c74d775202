"""Requirements on the multi-node stack (Pulumi.r1-h100.yaml) and its variants: a
LeaderWorkerSet whose pods come from the one pod template, a launch that follows the pinned
vLLM version, a leader found by IP or a clear failure, and a group that is fenced, probed and
scaled as a group. The launch scripts are run for real with `sh` in
tests/stacks/test_multinode_launch_scripts.py; the stacks' fixtures are tests/stacks/conftest.py's."""

from __future__ import annotations

from planning.config import parse
from planning.plan import make_plan
from planning.stack_files import stack_values
from rendering import multinode
from tests.harness import run_stack
from tests.k8s_helpers import pod_spec, server_args, vllm_container
from tests.stacks.conftest import launch_script

LWS = "leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"


def _lws(run):
    return run.one(LWS)


def _container(run, role):
    return vllm_container(_lws(run), role)


def test_the_plan_spans_two_nodes_and_the_lws_has_one_pod_per_node(group):
    plan = make_plan(parse(stack_values("r1-h100")))
    spec = _lws(group).inputs["spec"]
    assert spec["leaderWorkerTemplate"]["size"] == plan.layout.nodes == 2
    for role in ("leader", "worker"):
        limits = _container(group, role)["resources"]["limits"]
        assert int(limits["nvidia.com/gpu"]) == plan.layout.gpus_per_node == 8
        anti = pod_spec(_lws(group), role)["affinity"]["podAntiAffinity"]
        term = anti["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"] == {
            multinode.LABEL_NAME: _lws(group).metadata["name"]}
    # no Deployment: the group is the workload
    assert not [r for r in group.of_type("apps/v1:Deployment")]


def test_a_lost_pod_recreates_the_group_and_workers_start_with_the_leader(group):
    spec = _lws(group).inputs["spec"]
    # The group is recreated when a pod restarts, once all its pods started (lws#725).
    assert spec["leaderWorkerTemplate"]["restartPolicy"] == "RecreateGroupAfterStart"
    assert spec["startupPolicy"] == "LeaderCreated"
    assert spec["rolloutStrategy"]["rollingUpdateConfiguration"] == {"maxUnavailable": 1,
                                                                     "maxSurge": 0}


def test_leader_and_workers_share_the_pod_template_and_differ_only_where_they_must(group):
    leader, worker = pod_spec(_lws(group), "leader"), pod_spec(_lws(group), "worker")
    for key in ("volumes", "securityContext", "tolerations", "terminationGracePeriodSeconds",
                "enableServiceLinks", "affinity"):
        assert leader[key] == worker[key], key
    lead, work = _container(group, "leader"), _container(group, "worker")
    for key in ("env", "resources", "volumeMounts", "securityContext", "image"):
        assert lead[key] == work[key], key
    # The headless worker outlives the leader's drain (tests/components/test_multinode_drain.py).
    assert lead["lifecycle"] != work["lifecycle"]
    shm = next(v for v in worker["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "15Gi"}
    # The leader serves and is probed over HTTP; the headless worker is probed by an exec.
    assert lead["readinessProbe"]["httpGet"]["path"] == "/health"
    assert "readinessProbe" not in work
    for probe in ("startupProbe", "livenessProbe"):
        assert "httpGet" not in work[probe] and "29501" in " ".join(work[probe]["exec"]["command"])
    assert work["startupProbe"]["failureThreshold"] == lead["startupProbe"]["failureThreshold"]


def test_native_launch_flags_follow_the_layout(group):
    leader_args, worker_args = (server_args(_container(group, role)) for role in ("leader",
                                                                                   "worker"))
    for args in (leader_args, worker_args):
        assert args[args.index("--tensor-parallel-size") + 1] == "8"
        assert args[args.index("--pipeline-parallel-size") + 1] == "2"
        assert args[args.index("--nnodes") + 1] == "2"
        assert args[args.index("--node-rank") + 1] == "$LWS_WORKER_INDEX"
        assert args[args.index("--master-addr") + 1] == "$LEADER_IP"
        assert "--distributed-executor-backend" not in args
    assert "--headless" in worker_args and "--headless" not in leader_args
    # NCCL's rendezvous waits as long as the start-up budget (its default is 600 s).
    budget = make_plan(parse(stack_values("r1-h100"))).startup.budget_seconds
    for args in (leader_args, worker_args):
        assert args[args.index("--distributed-timeout-seconds") + 1] == str(budget)


def test_engine_ready_wait_matches_the_startup_budget_and_nics_come_from_config(group):
    plan = make_plan(parse(stack_values("r1-h100")))
    env = {e["name"]: e.get("value") for e in _container(group, "worker")["env"]}
    assert env["VLLM_ENGINE_READY_TIMEOUT_S"] == str(plan.startup.budget_seconds)
    assert env["NCCL_SOCKET_IFNAME"] == env["GLOO_SOCKET_IFNAME"] == "eth0"
    assert "NCCL_IB_HCA" not in env


def test_the_service_sends_clients_to_the_leaders_only(group):
    service = group.engine("core/v1:Service")
    assert service.inputs["spec"]["selector"][multinode.LABEL_WORKER_INDEX] == "0"


def test_the_lws_keeps_its_own_headless_service_name_free(group):
    """The LWS controller creates a headless Service named like the LWS (the pods' DNS
    subdomain) only if no Service has that name: the engine Service must not take it."""
    names = {s.metadata["name"] for s in group.of_type("core/v1:Service")}
    assert _lws(group).metadata["name"] not in names
    assert _lws(group).metadata["name"] == group.engine("core/v1:Service").metadata["name"] + "-group"


def test_a_group_topology_key_is_an_annotation_of_the_lws_itself():
    run = run_stack("r1-h100", {"multiNode": {"groupTopologyKey": "topology.example.com/block"}})
    assert run.error is None, run.error
    lws = run.one(LWS)
    assert lws.metadata["annotations"][multinode.ANN_EXCLUSIVE_TOPOLOGY] == (
        "topology.example.com/block")
    for role in ("leader", "worker"):
        template = lws.inputs["spec"]["leaderWorkerTemplate"][f"{role}Template"]
        assert multinode.ANN_EXCLUSIVE_TOPOLOGY not in template["metadata"]["annotations"]


def test_the_network_policy_admits_the_group_to_itself_on_every_port(group):
    policy = group.engine("networking.k8s.io/v1:NetworkPolicy").inputs["spec"]
    selector = policy["podSelector"]["matchLabels"]
    assert {"from": [{"podSelector": {"matchLabels": selector}}]} in policy["ingress"]
    assert {"to": [{"podSelector": {"matchLabels": selector}}]} in policy["egress"]
    # From outside, still only port 8000.
    outside = [rule for rule in policy["ingress"] if "ports" in rule]
    assert outside and all(rule["ports"] == [{"protocol": "TCP", "port": 8000}]
                           for rule in outside)


def test_one_group_at_a_time_may_be_disrupted(group):
    pdb = group.engine("policy/v1:PodDisruptionBudget").inputs["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"]["matchLabels"].items() <= pod_spec(
        _lws(group))["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"].items()


def test_pulumi_waits_for_the_groups_to_be_available(group):
    annotations = _lws(group).metadata["annotations"]
    assert annotations["pulumi.com/waitFor"] == "condition=Available"
    # The leader's start-up budget covers a peer pod still pulling the image on a cold node.
    assert plan_phase("peer image pull") == 600
    plan = make_plan(parse(stack_values("r1-h100")))
    assert annotations["pulumi.com/timeoutSeconds"] == str(plan.rollout.timeout_seconds)
    assert _lws(group).options.custom_timeouts["create"] == f"{plan.rollout.timeout_seconds}s"


def plan_phase(name):
    return make_plan(parse(stack_values("r1-h100"))).startup.engine_phases[name]


def test_an_autoscaler_scales_groups_never_pods():
    run = run_stack("r1-h100", {"replicas": 1, "autoscaling": {
        "enabled": True, "engine": "keda", "minReplicas": 1, "maxReplicas": 2}})
    assert run.error is None, run.error
    target = run.one("keda.sh/v1alpha1:ScaledObject").inputs["spec"]["scaleTargetRef"]
    assert target == {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
                      "name": run.one(LWS).metadata["name"]}
    assert run.one(LWS).options.ignore_changes == ("spec.replicas",)


def test_alerts_know_the_groups_pods(group):
    rules = group.one("monitoring.coreos.com/v1:PrometheusRule").inputs["spec"]["groups"]
    exprs = " ".join(r["expr"] for g in rules for r in g["rules"])
    name = _lws(group).metadata["name"]
    assert f'pod=~"{name}-[0-9]+(-[0-9]+)?"' in exprs
    assert "kube_deployment_status_replicas_ready" not in exprs


def test_data_expert_groups_serve_from_every_pod_with_hybrid_load_balancing(expert_group):
    for role in ("leader", "worker"):
        container = _container(expert_group, role)
        args = server_args(container)
        assert "--headless" not in args and "--data-parallel-hybrid-lb" in args
        assert args[args.index("--data-parallel-size") + 1] == "16"
        assert args[args.index("--data-parallel-size-local") + 1] == "8"
        assert args[args.index("--data-parallel-start-rank") + 1] == "$((LWS_WORKER_INDEX * 8))"
        assert "--enable-expert-parallel" in args
        assert container["readinessProbe"]["httpGet"]["path"] == "/health"
        # RDMA devices and the HCA; no added capability (non-root: never effective).
        assert container["resources"]["limits"]["rdma/ib"] == "8"
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        # One API server per pod, as the host memory plan counts.
        assert args[args.index("--api-server-count") + 1] == "1"
    service = expert_group.engine("core/v1:Service")
    assert multinode.LABEL_WORKER_INDEX not in service.inputs["spec"]["selector"]
    namespace = expert_group.one("core/v1:Namespace").inputs["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_ray_launch_is_used_only_when_asked_and_with_ray_in_the_image(ray_group):
    leader, worker = launch_script(ray_group, "leader"), launch_script(ray_group, "worker")
    assert "ray start --head --port=6379" in leader
    assert "--distributed-executor-backend ray" in leader and "--nnodes" not in leader
    assert 'exec ray start --address="$LEADER_IP:6379" --block' in worker
    assert "vllm serve" not in worker


def test_r1_on_h200_stays_a_deployment():
    run = run_stack("r1-h100", {"gpu": {"type": "h200"}})
    assert run.error is None, run.error
    assert run.of_type(LWS) == [] and len(run.of_type("apps/v1:Deployment")) == 1

