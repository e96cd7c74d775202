"""Requirements on what both real stacks deploy (Pulumi mocks, from Pulumi.<stack>.yaml)."""

import json

import pytest

from planning import host, timing
from planning.config import parse
from planning.plan import make_plan
from facts import conventions as c
from tests.harness import FAKE_API_KEY, FAKE_DIGEST, run_stack, stack_config
from tests.k8s_helpers import (GIB, arg_value, pod_spec, pod_template, quantity_bytes,
                               server_args, vllm_container)


def _deployment(run):
    """The engine's workload: its Deployment, or the LeaderWorkerSet of a multi-node stack
    (whose leader pod the helpers read)."""
    return run.workload()


def test_shm_is_a_memory_emptydir_sized_for_the_split(run):
    deployment = _deployment(run)
    volume = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "shm")
    gpus = int(deployment.metadata["annotations"][c.ANN_TENSOR_PARALLEL])
    assert volume["emptyDir"]["medium"] == "Memory"
    assert quantity_bytes(volume["emptyDir"]["sizeLimit"]) == host.shm_gib(gpus) * GIB
    mount = next(m for m in vllm_container(deployment)["volumeMounts"] if m["name"] == "shm")
    assert mount["mountPath"] == "/dev/shm"


def test_shm_counts_inside_the_memory_request_and_limit(run):
    deployment = _deployment(run)
    container = vllm_container(deployment)
    shm = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "shm")
    shm_bytes = quantity_bytes(shm["emptyDir"]["sizeLimit"])
    request = quantity_bytes(container["resources"]["requests"]["memory"])
    limit = quantity_bytes(container["resources"]["limits"]["memory"])
    gpus = int(container["resources"]["limits"]["nvidia.com/gpu"])
    # Processes alone (API server + one worker per GPU) plus the shm volume.
    processes = (host.API_SERVER_GIB + host.WORKER_GIB * gpus) * GIB
    assert request >= processes + shm_bytes
    assert limit > request   # Burstable: page-cache headroom only in the limit


def test_startup_budget_covers_the_estimated_weight_load(run):
    deployment = _deployment(run)
    probe = vllm_container(deployment)["startupProbe"]
    budget = probe["periodSeconds"] * probe["failureThreshold"]
    estimate = float(deployment.metadata["annotations"][c.ANN_ESTIMATED_LOAD_SECONDS])
    assert probe["httpGet"]["path"] == "/health"
    assert budget >= estimate * 1.5 - probe["periodSeconds"]


def test_probes_have_explicit_timeouts_and_liveness_outlasts_readiness(run):
    container = vllm_container(_deployment(run))
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[kind]["timeoutSeconds"] > 1, kind
    readiness = container["readinessProbe"]
    liveness = container["livenessProbe"]
    assert (liveness["periodSeconds"] * liveness["failureThreshold"]
            > readiness["periodSeconds"] * readiness["failureThreshold"])


def test_gpu_requests_equal_limits_and_match_tensor_parallel_size(run):
    deployment = _deployment(run)
    container = vllm_container(deployment)
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert requests["nvidia.com/gpu"] == limits["nvidia.com/gpu"]
    tp = int(arg_value(container, "--tensor-parallel-size"))
    assert int(limits["nvidia.com/gpu"]) == tp
    assert "CUDA_VISIBLE_DEVICES" not in {e["name"] for e in container["env"]}


def test_pods_only_land_on_accepted_gpu_products_and_tolerate_the_gpu_taint(run):
    spec = pod_spec(_deployment(run))
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    expression = terms["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert expression["key"] == "nvidia.com/gpu.product" and expression["values"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in (
        spec["tolerations"])
    spread = spec["topologySpreadConstraints"][0]
    assert spread["topologyKey"] == "kubernetes.io/hostname"


def test_service_selects_the_pods_on_a_named_port_and_is_not_called_vllm(run):
    service = run.engine("core/v1:Service")
    template_labels = pod_template(_deployment(run))["metadata"]["labels"]
    assert service.inputs["spec"]["type"] == "ClusterIP"
    assert service.metadata["name"] != "vllm"
    for key, value in service.inputs["spec"]["selector"].items():
        if key.startswith("leaderworkerset.sigs.k8s.io/"):
            # Set on the pods by the LWS controller: worker-index 0 is each group's leader.
            assert run.workload().type.endswith("LeaderWorkerSet") and (key, value) == (
                "leaderworkerset.sigs.k8s.io/worker-index", "0")
            continue
        assert template_labels[key] == value
    port = service.inputs["spec"]["ports"][0]
    assert port["name"] == "http" and port["targetPort"] == "http"


def test_api_key_reaches_the_pod_only_through_a_secret(run):
    container = vllm_container(_deployment(run))
    key_env = next(e for e in container["env"] if e["name"] == "VLLM_API_KEY")
    assert "value" not in key_env and key_env["valueFrom"]["secretKeyRef"]["key"]
    assert "--api-key" not in server_args(container)
    holders = [r.type for r in run.resources if FAKE_API_KEY in json.dumps(r.inputs)]
    assert holders == ["kubernetes:core/v1:Secret"]


def test_api_key_checksum_rolls_pods_when_the_key_changes(run):
    annotations = pod_template(_deployment(run))["metadata"]["annotations"]
    assert len(annotations[c.ANN_API_KEY_CHECKSUM]) == 64


def test_network_policy_fences_every_engine_pod_both_ways(run):
    """Ingress and egress, one rule for the HTTP port (who it admits, by pod:
    tests/rendering/test_engine_fence.py; a multi-node group also admits itself:
    tests/stacks/test_multinode_stack.py), over every engine pod."""
    policy = run.engine("networking.k8s.io/v1:NetworkPolicy").inputs["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    http = [rule for rule in policy["ingress"] if "ports" in rule]
    assert len(http) == 1
    # The policy covers every engine pod; the Service may select the group leaders only.
    service_selector = run.engine("core/v1:Service").inputs["spec"]["selector"]
    assert policy["podSelector"]["matchLabels"].items() <= service_selector.items()


def _replicas(run):
    """Fixed replicas, or the autoscaler's minimum when the Deployment leaves it out."""
    spec = _deployment(run).inputs["spec"]
    if "replicas" in spec:
        return spec["replicas"]
    return stack_config(run.stack)["autoscaling"]["minReplicas"]


def test_disruption_budget_keeps_capacity_without_blocking_drains(run):
    pdb = run.engine("policy/v1:PodDisruptionBudget").inputs["spec"]
    replicas = _replicas(run)
    assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb
    assert pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    # prod keeps one of its two replicas serving through a drain; single-replica stacks allow
    # the eviction (a PDB never blocks a node drain).
    expected = {"prod": 2, "staging": 1, "r1-h100": 1}[run.stack]
    assert replicas == expected


def test_pod_runs_non_root_without_privileges(run):
    spec = pod_spec(_deployment(run))
    container = vllm_container(_deployment(run))
    assert spec["enableServiceLinks"] is False
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert {"/home/vllm", "/tmp"} <= writable


def test_deployment_timeout_annotation_covers_the_whole_rollout(run):
    deployment = _deployment(run)
    timeout = float(deployment.metadata["annotations"]["pulumi.com/timeoutSeconds"])
    probe = vllm_container(deployment)["startupProbe"]
    budget = probe["periodSeconds"] * probe["failureThreshold"]
    replicas = _replicas(run)
    assert timeout >= replicas * (budget + timing.IMAGE_PULL_SECONDS) - 10 * replicas
    if deployment.type.endswith("LeaderWorkerSet"):
        # No progress deadline on an LWS: Pulumi waits for its Available condition.
        assert deployment.metadata["annotations"]["pulumi.com/waitFor"] == "condition=Available"
    else:
        assert deployment.inputs["spec"]["progressDeadlineSeconds"] == timeout


def test_grace_period_outlasts_prestop_and_shutdown_timeout(run):
    deployment = _deployment(run)
    annotations = deployment.metadata["annotations"]
    grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
    assert grace > (float(annotations[c.ANN_PRESTOP_SECONDS])
                    + float(annotations[c.ANN_SHUTDOWN_TIMEOUT_SECONDS]))
    pre_stop = vllm_container(deployment)["lifecycle"]["preStop"]
    assert "exec" in pre_stop


def test_image_is_the_configured_version_pinned_exactly_as_the_stack_file_pins_it(run):
    """The digest comes from the stack file or nowhere: no registry lookup (planning/pins.py)."""
    deployment = _deployment(run)
    image = vllm_container(deployment)["image"]
    version = deployment.metadata["labels"]["app.kubernetes.io/version"]
    digest = stack_config(run.stack).get("image", {}).get("digest")
    assert image == f"vllm/vllm-openai:v{version}" + (f"@{digest}" if digest else "")
    assert run.calls == []


def test_model_is_served_offline_from_a_read_only_mount(run):
    container = vllm_container(_deployment(run))
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["HF_HUB_OFFLINE"] == "1"
    model_mount = next(m for m in container["volumeMounts"] if m["name"] == "model")
    assert model_mount["readOnly"] is True
    # `vllm serve <model>`: the positional form, whatever the image's entrypoint.
    args = server_args(container)
    if container["command"][:2] == ["sh", "-c"]:
        assert "exec vllm serve " in container["command"][2]
    else:
        assert container["command"] == ["vllm", "serve"]
    assert "--model" not in args and args[0].startswith(model_mount["mountPath"])


def test_prompts_never_reach_the_logs_and_metrics_stay_on(run):
    args = vllm_container(_deployment(run))["args"]
    assert "--enable-log-requests" not in args
    assert "--disable-log-stats" not in args


def test_prod_has_the_seeds_shape(runs):
    run = runs["prod"]
    container = vllm_container(_deployment(run))
    assert arg_value(container, "--tensor-parallel-size") == "2"
    assert arg_value(container, "--max-model-len") == "32768"
    assert _replicas(run) >= 2
    values = pod_spec(_deployment(run))["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchExpressions"][0]["values"]
    assert "NVIDIA-A100-SXM4-80GB" in values


def test_prod_weights_come_from_nfs_bound_by_name(runs):
    run = runs["prod"]
    volume = run.one("core/v1:PersistentVolume").inputs
    claim = run.one("core/v1:PersistentVolumeClaim").inputs
    assert volume["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert volume["spec"]["nfs"]["readOnly"] is True
    assert claim["spec"]["storageClassName"] == ""
    assert claim["spec"]["volumeName"] == volume["metadata"]["name"]
    assert not run.of_type("batch/v1:Job")


def test_staging_downloads_weights_once_with_a_job_the_pods_wait_for(runs):
    run = runs["staging"]
    job = run.one("batch/v1:Job").inputs
    claim = run.one("core/v1:PersistentVolumeClaim").inputs
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert "ttlSecondsAfterFinished" not in job["spec"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    script = container["command"][-1]
    revision = stack_config("staging")["model"]["revision"]
    assert f"revision='{revision}'" in script and "allow_patterns" in script
    # The token is a file from the Secret, never an env var; optional: the namespace is created
    # by the same update, so the Secret may not exist yet.
    assert not [e for e in container["env"] if "valueFrom" in e or e["name"] == "HF_TOKEN"]
    volume = next(v for v in job["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "hf-token")
    assert volume["secret"] == {"secretName": "hf-token", "optional": True,
                                "items": [{"key": "token", "path": "token"}]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "hf-token")
    assert mount == {"name": "hf-token", "mountPath": "/var/run/secrets/hf", "readOnly": True}
    assert "os.environ['HF_TOKEN_PATH'] = '/var/run/secrets/hf/token'" in script
    assert script.index("HF_TOKEN_PATH") < script.index("from huggingface_hub import")
    assert "token=" not in script
    init = pod_spec(_deployment(run))["initContainers"][0]
    assert ".download-complete" in init["command"][-1]
    # A complete directory is never touched again (nothing is removed before the marker check
    # exits, and after it only a killed attempt's partial files); the marker is written last.
    assert "unlink" not in script[:script.index("if marker.exists()")]
    assert script.count("unlink") == 1 and "stale.unlink" in script
    assert script.index("if marker.exists()") < script.index("snapshot_download(repo_id")
    assert script.rindex("os.replace(partial, marker)") > script.index("snapshot_download(")


def test_a_new_revision_downloads_beside_the_served_one_and_rolls_the_pods(runs):
    old = runs["staging"]
    new = run_stack("staging", {"model": {"revision": "a" * 40}})
    old_dir = vllm_container(_deployment(old))["args"][0]
    new_dir = vllm_container(_deployment(new))["args"][0]
    assert old_dir.endswith("/" + stack_config("staging")["model"]["revision"])
    assert new_dir.endswith("/" + "a" * 40)
    assert new_dir in new.one("batch/v1:Job").inputs["spec"]["template"]["spec"][
        "containers"][0]["command"][-1]
    template = _deployment(new).inputs["spec"]["template"]["metadata"]["annotations"]
    assert template[c.ANN_MODEL_REVISION] == "a" * 40
    claim = new.one("core/v1:PersistentVolumeClaim").inputs["spec"]["resources"]["requests"]
    weights = make_plan(parse(stack_config("staging"))).weights.total_gib
    assert quantity_bytes(claim["storage"]) >= 2 * weights * GIB   # room for two revisions


def test_single_gpu_staging_replaces_its_pod_without_surge(runs):
    strategy = _deployment(runs["staging"]).inputs["spec"]["strategy"]["rollingUpdate"]
    assert strategy == {"maxSurge": 0, "maxUnavailable": 1}


def test_spare_gpus_allow_a_surge_rollout():
    run = run_stack("prod", {"spareGpus": 2})
    strategy = run.engine("apps/v1:Deployment").inputs["spec"]["strategy"]["rollingUpdate"]
    assert strategy == {"maxSurge": 1, "maxUnavailable": 0}


@pytest.mark.parametrize("version, present, absent", [
    ("0.10.0", ["--disable-log-requests"], ["--shutdown-timeout"]),
    ("0.16.0", [], ["--disable-log-requests", "--shutdown-timeout"]),
    ("0.18.0", ["--shutdown-timeout"], ["--disable-log-requests"]),
])
def test_flags_follow_the_pinned_vllm_version(version, present, absent):
    run = run_stack("staging", {"vllmVersion": version})
    assert run.error is None, run.error
    args = vllm_container(run.engine("apps/v1:Deployment"))["args"]
    for flag in present:
        assert flag in args
    for flag in absent:
        assert flag not in args


def test_before_vllm_0_18_the_prestop_hook_waits_for_running_requests():
    run = run_stack("staging", {"vllmVersion": "0.11.0"})
    command = vllm_container(run.engine("apps/v1:Deployment"))["lifecycle"]["preStop"]["exec"][
        "command"]
    assert command[0] == "python3" and "vllm:num_requests_running" in command[-1]
    # The policy pack reads how long preStop may take from the annotation: sleep + drain wait.
    annotations = run.engine("apps/v1:Deployment").metadata["annotations"]
    plan = make_plan(parse({**stack_config("staging"), "vllmVersion": "0.11.0"}))
    assert annotations[c.ANN_PRESTOP_SECONDS] == str(
        plan.drain.pre_stop_seconds + plan.drain.longest_request_seconds)
    assert annotations[c.ANN_SHUTDOWN_TIMEOUT_SECONDS] == "0"


def test_building_the_image_never_happens_during_preview():
    run = run_stack("prod", {"image": {"build": True, "registry": "registry.example.com/ml"}})
    assert run.error is None, run.error
    build = run.one("docker:index/image:Image").inputs
    assert build["buildOnPreview"] is False
    assert build["imageName"] == "registry.example.com/ml/prod-deepseek-r1-32b:v0.32.0"
    assert build["build"]["args"]["VLLM_IMAGE"] == "vllm/vllm-openai:v0.32.0"
    image = vllm_container(run.engine("apps/v1:Deployment"))["image"]
    assert image.endswith("@" + FAKE_DIGEST)


def test_an_autoscaled_deployment_starts_at_replicas_and_then_leaves_the_count_alone(runs):
    prod = _deployment(runs["prod"])
    assert prod.inputs["spec"]["replicas"] == 2   # the starting count, sent on create
    assert prod.options.ignore_changes == ("spec.replicas",)
    assert "pulumi.com/patchForce" not in prod.metadata["annotations"]


def test_a_fixed_replica_count_is_owned_by_the_program_even_after_an_autoscaler():
    staging = _deployment(run_stack("staging", {"autoscaling": {"enabled": False}}))
    assert staging.inputs["spec"]["replicas"] == 1 and staging.options.ignore_changes == ()
    # An autoscaler that ran before still owns spec.replicas: take it over, no SSA conflict.
    assert staging.metadata["annotations"]["pulumi.com/patchForce"] == "true"


def test_a_digest_pinned_in_config_is_used_without_a_registry_lookup():
    digest = "sha256:" + "cd" * 32
    run = run_stack("prod", {"image": {"digest": digest}})
    image = vllm_container(run.engine("apps/v1:Deployment"))["image"]
    assert image == f"vllm/vllm-openai:v0.32.0@{digest}"


