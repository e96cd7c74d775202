"""The policy pack over what the real stacks register: both pass, and each broken variant fails.

The pack runs in-process (policy/offline.py drives the same policy objects the CLI loads) over
the resources recorded by one mock run per stack; a broken variant is a deep copy of those
resources with one field changed the way a hand-edit or a regression would.
"""

import json
import re

import pytest
import yaml

from policy import offline
from policy.rules import ALL_POLICIES
from tests.blue_green import PATH_PHASES, PHASE_1, PHASE_2, PHASE_3, ROOM
from tests.harness import ROOT, run_stack, stack_config
from tests.policy.conftest import CONFIGS, recorded_resources


def _find(resources, suffix):
    return next(r["props"] for r in resources if r["type"].endswith(suffix))


def _container(resources):
    spec = _find(resources, "apps/v1:Deployment")["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == "vllm")


def _pod(resources):
    return _find(resources, "apps/v1:Deployment")["spec"]["template"]["spec"]


def _drop(resources, suffix):
    return [r for r in resources if not r["type"].endswith(suffix)]


def test_both_stacks_pass_every_mandatory_rule(runs):
    for stack, run in runs.items():
        violations = offline.run(recorded_resources(run), CONFIGS[stack])
        assert offline.mandatory(violations) == [], stack


@pytest.mark.parametrize("phase", ["room", "phase 1", "phase 2", "phase 3"])
def test_every_phase_of_stagings_blue_green_switch_passes_every_mandatory_rule(phase):
    """Both slots' workloads are inference workloads the pack checks like any other
    (tests/blue_green.py): two Deployments, two Services, two PDBs never over the same pods."""
    overlay = {"room": ROOM, "phase 1": PHASE_1, "phase 2": PHASE_2, "phase 3": PHASE_3}[phase]
    run = run_stack("staging", overlay)
    assert run.error is None, run.error
    assert offline.mandatory(offline.run(recorded_resources(run), CONFIGS["staging"])) == []


PATH_PHASE_CASES = [(path, phase) for path in sorted(PATH_PHASES)
                    for phase in ("phase 1", "phase 2")]


@pytest.mark.parametrize("path, phase", PATH_PHASE_CASES,
                         ids=[f"{path} {phase}" for path, phase in PATH_PHASE_CASES])
def test_both_slots_of_a_switch_on_each_load_path_pass_every_mandatory_rule(path, phase):
    """The previous slot's pods are checked like the new one's: model-image-by-digest (its
    own model image), cache-pod-on-ready-node (its own revision's ready label),
    streamer-has-credentials (the same credentials for the previous prefix)."""
    run = run_stack("staging", PATH_PHASES[path][phase])
    assert run.error is None, run.error
    deployments = [r for r in run.of_type("apps/v1:Deployment")
                   if r.metadata["name"].startswith("staging-deepseek-r1-7b")
                   and not r.metadata["name"].endswith("-router")]
    assert len(deployments) == 2
    assert offline.mandatory(offline.run(recorded_resources(run), CONFIGS["staging"])) == []


def test_the_only_advisories_on_the_real_stacks_are_what_their_files_leave_unpinned(runs):
    """No public source quotes the image digests (README, "Pinning the image"), so every stack
    runs its tags and gets the digest advisory; a stack on a branch gets the revision one."""
    for stack, run in runs.items():
        names = {v.policy for v in offline.run(recorded_resources(run), CONFIGS[stack])}
        revision = stack_config(stack)["model"]["revision"]
        expected = {"image-by-digest"} | (set() if re.fullmatch(r"[0-9a-f]{40}", revision)
                                          else {"model-revision-pinned"})
        assert names == expected, stack


def _startup(resources):
    _container(resources)["startupProbe"]["failureThreshold"] = 1
    return resources


def _liveness(resources):
    container = _container(resources)
    container["livenessProbe"]["failureThreshold"] = container["readinessProbe"][
        "failureThreshold"]
    return resources


def _timeouts(resources):
    del _container(resources)["readinessProbe"]["timeoutSeconds"]
    return resources


def _no_shm(resources):
    pod = _pod(resources)
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "shm"]
    container = _container(resources)
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "shm"]
    return resources


def _gpus(resources):
    _container(resources)["resources"]["requests"]["nvidia.com/gpu"] = "1"
    return resources


def _memory_limit(resources):
    del _container(resources)["resources"]["limits"]["memory"]
    return resources


def _image(reference):
    def mutate(resources):
        _container(resources)["image"] = reference
        return resources
    return mutate


def _literal_key(resources):
    env = _container(resources)["env"]
    env[:] = [e for e in env if e["name"] != "VLLM_API_KEY"]
    env.append({"name": "VLLM_API_KEY", "value": "sk-live-0123456789abcdef"})
    return resources


def _logged_prompts(resources):
    _container(resources)["args"].append("--enable_log_requests")
    return resources


def _streams_without_credentials(resources):
    _container(resources)["args"][0] = "s3://models/deepseek-r1-32b"
    return resources


def _service_links(resources):
    _pod(resources)["enableServiceLinks"] = True
    return resources


def _service_named_vllm(resources):
    _find(resources, "core/v1:Service")["metadata"]["name"] = "vllm"
    return resources


def _short_grace(resources):
    _pod(resources)["terminationGracePeriodSeconds"] = 30
    return resources


def _escalation(resources):
    _container(resources)["securityContext"]["allowPrivilegeEscalation"] = True
    return resources


def _no_spread(resources):
    del _pod(resources)["topologySpreadConstraints"]
    return resources


def _dead_metric(resources):
    rule = _find(resources, "monitoring.coreos.com/v1:PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["expr"] = "vllm:avg_generation_throughput_toks_per_s < 1"
    return resources


def _pinned_revision(resources):
    _find(resources, "apps/v1:Deployment")["metadata"]["annotations"][
        "vllm-serving.dev/model-revision"] = "0" * 40
    return resources


def _low_min_replicas(resources):
    _find(resources, "keda.sh/v1alpha1:ScaledObject")["spec"]["minReplicaCount"] = 1
    return resources


def _blocking_pdb(resources):
    _find(resources, "policy/v1:PodDisruptionBudget")["spec"] = {
        "selector": _find(resources, "policy/v1:PodDisruptionBudget")["spec"]["selector"],
        "maxUnavailable": 0}
    return resources


def _load_balancer(resources):
    _find(resources, "core/v1:Service")["spec"]["type"] = "LoadBalancer"
    return resources


def _autoscaler_target(resources):
    _find(resources, "keda.sh/v1alpha1:ScaledObject")["spec"]["scaleTargetRef"]["name"] = "other"
    return resources


def _unscraped(resources):
    service = _find(resources, "core/v1:Service")
    service["metadata"]["annotations"] = {}
    return _drop(resources, "monitoring.coreos.com/v1:ServiceMonitor")


def _short_route_timeout(resources):
    route = next(r["props"] for r in resources if r["type"].endswith(
        "gateway.networking.k8s.io/v1:HTTPRoute") and "backendRefs" in r["props"]["spec"][
        "rules"][0])    # the API route, not the http→https redirect
    route["spec"]["rules"][0]["timeouts"] = {"request": "15s"}
    return resources


def _default_buffer(resources):
    del _find(resources, "gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy")["spec"][
        "connection"]
    return resources


def _literal_router_key(resources):
    import yaml
    config_map = next(r["props"] for r in resources if r["name"].endswith("-router-config"))
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    config["model_list"][-1]["litellm_params"]["api_key"] = "cloud-key-pasted-here"
    config_map["data"]["config.yaml"] = yaml.safe_dump(config)
    return resources


NETPOL = "networking.k8s.io/v1:NetworkPolicy"
ENGINE_ROUTE = ROOT / "examples" / "engine-httproute.yaml"


def _namespace_wide(resources):
    """The engine's NetworkPolicy as the previous program rendered it: namespaces admitted
    whole (no podSelector beside the namespaceSelector)."""
    for record in resources:
        labels = record["props"].get("metadata", {}).get("labels") or {}
        if record["type"].endswith(NETPOL) and labels.get(
                "app.kubernetes.io/component") == "inference":
            for rule in record["props"]["spec"]["ingress"]:
                for peer in rule["from"]:
                    if "namespaceSelector" in peer:
                        peer.pop("podSelector", None)
    return resources


def _router_namespace_wide(resources):
    """The router's NetworkPolicy as the previous program rendered it: the gateway's and
    Prometheus' namespaces admitted whole to the router port."""
    for record in resources:
        labels = record["props"].get("metadata", {}).get("labels") or {}
        if record["type"].endswith(NETPOL) and labels.get(
                "app.kubernetes.io/component") == "router":
            for rule in record["props"]["spec"]["ingress"]:
                for peer in rule["from"]:
                    peer.pop("podSelector", None)
    return resources


def _engine_route(resources, path="/v1"):
    """staging's resources plus the README's route to the engine (examples/), at `path`."""
    import yaml
    route = yaml.safe_load(ENGINE_ROUTE.read_text())
    route["spec"]["rules"][0]["matches"][0]["path"]["value"] = path
    return resources + [{"type": "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
                         "name": "engine-route", "props": route}]


LWS = "leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"


def _group_template(resources, role):
    return _find(resources, LWS)["spec"]["leaderWorkerTemplate"][f"{role}Template"]


def _group_container(resources, role):
    return next(c for c in _group_template(resources, role)["spec"]["containers"]
                if c["name"] == "vllm")


def _tp_across_nodes(resources):
    _find(resources, LWS)["metadata"]["annotations"][
        "vllm-serving.dev/tensor-parallel-size"] = "16"
    for role in ("leader", "worker"):
        container = _group_container(resources, role)
        container["command"][2] = container["command"][2].replace(
            "--tensor-parallel-size 8", "--tensor-parallel-size 16")
    return resources


def _no_group_restart(resources):
    _find(resources, LWS)["spec"]["leaderWorkerTemplate"]["restartPolicy"] = "None"
    return resources


def _leader_ready(resources):
    _find(resources, LWS)["spec"]["startupPolicy"] = "LeaderReady"
    return resources


def _probed_worker(resources):
    leader = _group_container(resources, "leader")
    _group_container(resources, "worker")["readinessProbe"] = dict(leader["readinessProbe"])
    return resources


def _worker_without_shm(resources):
    pod = _group_template(resources, "worker")["spec"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "shm"]
    container = _group_container(resources, "worker")
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "shm"]
    return resources


def _service_named_like_the_group(resources):
    _find(resources, LWS)["metadata"]["name"] = next(
        r["props"]["metadata"]["name"] for r in resources if r["type"].endswith("core/v1:Service")
        and r["props"]["metadata"]["labels"]["app.kubernetes.io/component"] == "inference")
    return resources


def _group_name_too_long(resources):
    _find(resources, LWS)["metadata"]["name"] = "r1-h100-" + "m" * 43   # 51: "-0" makes 53
    return resources


def _nnodes_twice(resources):
    container = _group_container(resources, "worker")
    container["command"][2] = container["command"][2].rstrip("\n") + " -n3\n"
    return resources


def _model_volume(resources, volume):
    """The engine's `model` volume swapped for another source, as a hand-edit would."""
    _pod(resources)["volumes"] = [volume if v["name"] == "model" else v
                                  for v in _pod(resources)["volumes"]]
    return resources


BROKEN = {
    # rule: (stack, break it)
    "model-image-by-digest": ("staging", lambda r: _model_volume(r, {
        "name": "model", "image": {"reference": "registry.example.com/models/r1:v1"}})),
    "cache-pod-on-ready-node": ("staging", lambda r: _model_volume(r, {
        "name": "model", "hostPath": {"path": "/var/lib/vllm-models", "type": "Directory"}})),
    "group-flags-managed": ("r1-h100", _nnodes_twice),
    "group-names-fit": ("r1-h100", _group_name_too_long),
    "group-subdomain-free": ("r1-h100", _service_named_like_the_group),
    "tensor-parallel-within-a-node": ("r1-h100", _tp_across_nodes),
    "group-recreated-on-restart": ("r1-h100", _no_group_restart),
    "group-can-start": ("r1-h100", _leader_ready),
    "headless-workers-not-http-probed": ("r1-h100", _probed_worker),
    "router-timeouts-cover-longest-request": ("prod", _short_route_timeout),
    "body-limit-covers-largest-prompt": ("prod", _default_buffer),
    "router-keys-from-secrets": ("prod", _literal_router_key),
    "startup-probe-covers-load": ("prod", _startup),
    "liveness-outlasts-readiness": ("prod", _liveness),
    "probe-timeouts": ("prod", _timeouts),
    "shm-for-multi-gpu": ("prod", _no_shm),
    "gpu-matches-parallelism": ("prod", _gpus),
    "cpu-memory-resources": ("prod", _memory_limit),
    "image-pinned": ("prod", _image("vllm/vllm-openai:latest")),
    "image-by-digest": ("prod", _image("vllm/vllm-openai:v0.32.0")),
    "no-literal-secrets": ("prod", _literal_key),
    "engine-flags-allowed": ("prod", _logged_prompts),
    "streamer-has-credentials": ("prod", _streams_without_credentials),
    "service-links-disabled": ("prod", _service_links),
    "no-service-named-vllm": ("prod", _service_named_vllm),
    "grace-covers-drain": ("prod", _short_grace),
    "container-security": ("prod", _escalation),
    "replicas-spread": ("prod", _no_spread),
    "metric-names-exist": ("prod", _dead_metric),
    "min-replicas": ("prod", _low_min_replicas),
    "pdb-for-multi-replica": ("prod", lambda r: _drop(r, "policy/v1:PodDisruptionBudget")),
    "pdb-allows-drain": ("staging", _blocking_pdb),
    "network-policy-per-namespace": ("prod",
                                     lambda r: _drop(r, "networking.k8s.io/v1:NetworkPolicy")),
    "no-public-engine-service": ("prod", _load_balancer),
    "autoscaler-bounds-and-target": ("prod", _autoscaler_target),
    "inference-service-scraped": ("staging", _unscraped),
    "engine-admits-named-pods": ("staging", _namespace_wide),
    "engine-route-guarded-paths": ("staging", lambda r: _engine_route(r, "/")),
    "router-admits-named-pods": ("prod", _router_namespace_wide),
}


def test_every_rule_has_a_broken_variant_of_a_real_stack():
    assert set(BROKEN) | {"model-revision-pinned"} == {p.name for p in ALL_POLICIES}


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_a_broken_variant_of_a_real_stack_is_caught(runs, rule):
    stack, breaker = BROKEN[rule]
    violations = offline.run(breaker(recorded_resources(runs[stack])), CONFIGS[stack])
    caught = [v for v in violations if v.policy == rule]
    assert caught, f"{rule} missed its broken variant; got {[v.policy for v in violations]}"
    level = next(p.enforcement_level.value for p in ALL_POLICIES if p.name == rule)
    assert caught[0].level == level
    assert caught[0].message.rstrip().endswith((".", ")")), caught[0].message


def test_shm_is_checked_on_every_pod_of_a_group(runs):
    violations = offline.run(_worker_without_shm(recorded_resources(runs["r1-h100"])),
                             CONFIGS["r1-h100"])
    caught = [v for v in violations if v.policy == "shm-for-multi-gpu"]
    assert caught and "worker template" in caught[0].message


def test_group_gpus_must_match_the_split(runs):
    resources = recorded_resources(runs["r1-h100"])
    for role in ("leader", "worker"):
        _group_container(resources, role)["resources"]["limits"]["nvidia.com/gpu"] = "4"
        _group_container(resources, role)["resources"]["requests"]["nvidia.com/gpu"] = "4"
    violations = offline.run(resources, CONFIGS["r1-h100"])
    assert "gpu-matches-parallelism" in {v.policy for v in violations}


def test_a_worker_startup_budget_below_the_estimate_is_caught(runs):
    resources = recorded_resources(runs["r1-h100"])
    _group_container(resources, "leader")["startupProbe"]["failureThreshold"] = 5
    violations = offline.run(resources, CONFIGS["r1-h100"])
    assert "startup-probe-covers-load" in {v.policy for v in violations}


def test_pinning_the_revision_silences_the_advisory(runs):
    violations = offline.run(_pinned_revision(recorded_resources(runs["prod"])), CONFIGS["prod"])
    assert "model-revision-pinned" not in {v.policy for v in violations}


@pytest.mark.parametrize("stack", sorted(CONFIGS))
def test_the_previous_namespace_wide_fence_is_refused_on_every_stack(runs, stack):
    violations = offline.run(_namespace_wide(recorded_resources(runs[stack])), CONFIGS[stack])
    caught = [v for v in violations if v.policy == "engine-admits-named-pods"]
    assert caught and all("/invocations" in v.message for v in caught)


def test_the_previous_namespace_wide_router_fence_is_refused_on_prod(runs):
    violations = offline.run(_router_namespace_wide(recorded_resources(runs["prod"])), CONFIGS["prod"])
    caught = [v for v in violations if v.policy == "router-admits-named-pods"]
    assert caught and all("router port" in v.message and "podSelector" in v.message for v in caught)
    assert "engine-admits-named-pods" not in {v.policy for v in violations}


def test_the_readme_route_to_the_engine_passes_every_rule_on_staging(runs):
    violations = offline.run(_engine_route(recorded_resources(runs["staging"])), CONFIGS["staging"])
    assert offline.mandatory(violations) == []
    assert "engine-route-guarded-paths" not in {v.policy for v in violations}


@pytest.mark.parametrize("path", ["/", "/invocations", "/tokenize", "/metrics"])
def test_the_readme_route_widened_to_an_unguarded_path_is_refused(runs, path):
    violations = offline.run(_engine_route(recorded_resources(runs["staging"]), path),
                             CONFIGS["staging"])
    assert [v.policy for v in offline.mandatory(violations)] == ["engine-route-guarded-paths"]


def test_the_readme_route_waits_for_stagings_longest_request():
    import yaml
    from planning.config import parse
    from planning.plan import make_plan
    from tests.harness import stack_config
    route = yaml.safe_load(ENGINE_ROUTE.read_text())
    request = route["spec"]["rules"][0]["timeouts"]["request"]
    longest = make_plan(parse(stack_config("staging"))).drain.longest_request_seconds
    assert request.endswith("s") and int(request[:-1]) >= longest


# --- the traffic rules on prod's router and edge, one field broken at a time ------------------

def _violations(runs, rule, change):
    """Messages of `rule` on prod's resources changed by `change`, under prod's pack config."""
    resources = recorded_resources(runs["prod"])
    change(resources)
    return [v.message for v in offline.run(resources, CONFIGS["prod"]) if v.policy == rule]


def _router_deployment(resources):
    return next(r["props"] for r in resources if r["type"].endswith("apps/v1:Deployment")
                and r["name"].endswith("-router"))


def _router_config(resources, edit):
    config_map = next(r["props"] for r in resources if r["name"].endswith("-router-config"))
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    edit(config)
    config_map["data"]["config.yaml"] = yaml.safe_dump(config)


@pytest.mark.parametrize("change,words", [
    (lambda r: _router_config(r, lambda c: c["router_settings"].update(timeout=60)),
     "router_settings.timeout is 60"),
    (lambda r: _router_config(r, lambda c: c["router_settings"].pop("stream_timeout")),
     "stream_timeout is not set"),
    (lambda r: _router_deployment(r)["spec"]["template"]["spec"].update(
        terminationGracePeriodSeconds=30.0), "terminationGracePeriodSeconds 30"),
    (lambda r: next(x["props"] for x in r if x["type"].endswith("BackendTrafficPolicy"))[
        "spec"]["timeout"]["http"].pop("streamIdleTimeout"), "streamIdleTimeout is not set"),
    (lambda r: next(x["props"] for x in r if x["type"].endswith("BackendTrafficPolicy"))[
        "spec"]["timeout"]["http"].update(streamIdleTimeout="70s"),
     "streamIdleTimeout '70s' is under requestTimeout '"),
])
def test_timeouts_under_the_longest_request_are_caught(runs, change, words):
    messages = _violations(runs, "router-timeouts-cover-longest-request", change)
    assert any(words in m for m in messages), messages


def test_a_32k_client_buffer_and_a_small_router_limit_are_caught(runs):
    def change(resources):
        next(x["props"] for x in resources if x["type"].endswith("ClientTrafficPolicy"))[
            "spec"]["connection"]["bufferLimit"] = "32Ki"
        config_map = next(r["props"] for r in resources if r["name"].endswith("-router-config"))
        clients = json.loads(config_map["data"]["clients.json"])
        clients["maxBodyBytes"] = 32768
        config_map["data"]["clients.json"] = json.dumps(clients)
    messages = _violations(runs, "body-limit-covers-largest-prompt", change)
    assert len(messages) == 2 and all("458752 bytes" in m for m in messages), messages


@pytest.mark.parametrize("limit,words", [
    (None, "requestBuffer.limit is not set, so the edge caps no body"),
    ("32Ki", "requestBuffer.limit is '32Ki', under the largest prompt's body (458752 bytes)"),
])
def test_an_edge_without_a_body_cap_is_caught(runs, limit, words):
    """connection.bufferLimit alone caps nothing; requestBuffer.limit answers 413."""
    def change(resources):
        spec = next(x["props"] for x in resources
                    if x["type"].endswith("BackendTrafficPolicy"))["spec"]
        spec.pop("requestBuffer")
        if limit:
            spec["requestBuffer"] = {"limit": limit}
    messages = _violations(runs, "body-limit-covers-largest-prompt", change)
    assert len(messages) == 1 and words in messages[0], messages


def test_a_router_key_variable_not_from_a_secret_is_caught(runs):
    def change(resources):
        env = _router_deployment(resources)["spec"]["template"]["spec"]["containers"][0]["env"]
        for item in env:
            if item["name"] == "VLLM_SERVING_KEY_CLOUD":
                item.pop("valueFrom")
                item["value"] = "from-a-configmap-maybe"
    messages = _violations(runs, "router-keys-from-secrets", change)
    assert any("os.environ/VLLM_SERVING_KEY_CLOUD" in m for m in messages), messages
