"""Resource options of the real program, from both stack files (recorded by the mock runner's
stack transformation; mocks alone never see them)."""

from planning.config import parse
from planning.plan import make_plan
from tests.harness import run_stack, stack_config

COMPONENT_PREFIX = "vllm-serving:index:"


def _plan(stack):
    return make_plan(parse(stack_config(stack)))


def test_every_kubernetes_object_is_a_child_named_after_its_component(run):
    components = {r.key: r.name for r in run.resources if r.type.startswith(COMPONENT_PREFIX)}
    for resource in run.resources:
        if resource.type.startswith("kubernetes:") or resource.type.startswith("random:"):
            assert resource.options.parent in components, resource.key
            assert resource.name.startswith(components[resource.options.parent] + "-")


def test_pulumi_waits_as_long_as_the_rollout_may_take(run):
    deployment = run.workload()
    seconds = f"{_plan(run.stack).rollout.timeout_seconds}s"
    assert deployment.options.custom_timeouts["create"] == seconds
    assert deployment.options.custom_timeouts["update"] == seconds


def test_the_deployment_waits_for_the_weights(run):
    store = next(r.key for r in run.resources if r.type.endswith(":ModelStore"))
    assert store in run.workload().options.depends_on


def test_the_workload_waits_for_its_api_key_secret(run):
    """The pods read the key from the Secret by name: it exists before they are created."""
    workload = run.workload()
    secret = next(r.key for r in run.of_type("core/v1:Secret") if r.name.endswith("-api-key")
                  and r.options.parent == workload.options.parent)
    assert secret in workload.options.depends_on


def test_the_workload_waits_for_its_compile_cache_claim():
    run = run_stack("staging", {"engine": {"compileCacheGib": 20}})
    claim = next(r.key for r in run.of_type("core/v1:PersistentVolumeClaim")
                 if r.name.endswith("-compile-cache"))
    assert claim in run.workload().options.depends_on


def test_claims_are_never_resized_and_never_replaced_delete_first(run):
    release = _plan(run.stack).rollout.claim_release_seconds
    claims = run.of_type("core/v1:PersistentVolumeClaim") + run.of_type("core/v1:PersistentVolume")
    assert claims
    for claim in claims:
        assert "spec.resources.requests.storage" in claim.options.ignore_changes
        assert claim.options.delete_before_replace is False
        # A replaced claim is deleted once the old pods have drained and unmounted it.
        assert claim.options.custom_timeouts["delete"] == f"{release}s"


def test_the_download_job_is_awaited_not_replaced_and_survives_image_upgrades(runs):
    job = runs["staging"].one("batch/v1:Job")
    plan = _plan("staging")
    # replaceUnready would replace a download that is still running (test_transitions.py).
    assert "pulumi.com/replaceUnready" not in (job.metadata.get("annotations") or {})
    assert job.options.ignore_changes == ("spec.template.spec.containers[0].image",)
    assert job.options.custom_timeouts["create"] == f"{plan.storage.download_timeout_seconds}s"
    claim = runs["staging"].one("core/v1:PersistentVolumeClaim")
    assert claim.key in job.options.depends_on
    assert "app.kubernetes.io/version" not in job.inputs["spec"]["template"]["metadata"]["labels"]


def test_monitoring_and_autoscaling_follow_the_inference_deployment(run):
    inference = next(r.key for r in run.resources if r.type.endswith(":InferenceDeployment"))
    for kind in (":MetricsStack", ":Autoscaler"):
        component = next(r for r in run.resources if r.type.endswith(kind))
        assert inference in component.options.depends_on


def test_the_api_key_never_reaches_the_state_in_clear(run):
    secret = run.engine("core/v1:Secret")
    assert {"stringData", "data"} <= set(secret.options.additional_secret_outputs)
