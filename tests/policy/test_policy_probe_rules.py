"""The life-cycle rules (policy/probe_checks.py) in detail: what each probe field counts for
when it is set and when Kubernetes' default applies, where a stated figure may sit, and how a
message names the object it refuses. Builders and drivers are tests/policy/conftest.py's.
"""

from __future__ import annotations

import pytest

from facts import conventions as conv
from policy import k8s
from tests.policy.conftest import (
    assert_names_the_object,
    DEPLOYMENT,
    NS,
    RELEASE,
    leader_worker_set,
    deployment,
    engine,
    pod,
    validate_resource,
)

LWS = k8s.LEADER_WORKER_SET
STARTUP, LIVENESS = "startup-probe-covers-load", "liveness-outlasts-readiness"
TIMEOUTS, GRACE = "probe-timeouts", "grace-covers-drain"


def _startup(props: dict) -> dict:
    return engine(props)["startupProbe"]


def _estimate(props: dict, seconds: str) -> dict:
    props["metadata"]["annotations"][conv.ANN_ESTIMATED_LOAD_SECONDS] = seconds
    return props


# --- how messages name the object -----------------------------------------------------------

def _short_startup(props):
    _startup(props)["failureThreshold"] = 30.0


def _short_liveness(props):
    engine(props)["livenessProbe"]["failureThreshold"] = 3.0


def _short_timeout(props):
    engine(props)["readinessProbe"]["timeoutSeconds"] = 1.0


def _short_grace(props):
    pod(props)["terminationGracePeriodSeconds"] = 60.0


BROKEN = [  # rule, the change, what the message says right after naming the object
    (STARTUP, _short_startup, " gives vLLM 300 s to start"),
    (LIVENESS, _short_liveness, " restarts the vllm container after 30 s"),
    (TIMEOUTS, _short_timeout, ": the vllm container's readinessProbe has timeoutSeconds 1,"),
    (GRACE, _short_grace, " has terminationGracePeriodSeconds 60 but preStop 15 s"),
]


@pytest.mark.parametrize("rule, change, opening", BROKEN)
def test_a_message_names_the_object_by_namespace_and_name_or_its_pulumi_name(rule, change,
                                                                             opening):
    assert_names_the_object(rule, change, opening)


# --- startupProbe ---------------------------------------------------------------------------

@pytest.mark.parametrize("probe_fields, estimate, passes", [
    # No initialDelaySeconds counts as 0: 599 checks 1 s apart are 599 s, one short of 600.
    ({"periodSeconds": 1.0, "failureThreshold": 599.0}, "600", False),
    ({"periodSeconds": 1.0, "failureThreshold": 600.0}, "600", True),
    # No periodSeconds counts as Kubernetes' 10 s: 59 checks are 590 s, 60 are 600 s.
    ({"failureThreshold": 59.0}, "600", False),
    ({"failureThreshold": 60.0}, "600", True),
    # No failureThreshold counts as Kubernetes' 3: 3 × 150 s = 450 s; 3 × 200 s = 600 s.
    ({"periodSeconds": 150.0}, "600", False),
    ({"periodSeconds": 200.0}, "600", True),
])
def test_unset_startup_probe_fields_count_as_kubernetes_defaults(probe_fields, estimate, passes):
    props = _estimate(deployment(), estimate)
    for field in ("initialDelaySeconds", "periodSeconds", "failureThreshold"):
        _startup(props).pop(field, None)
    _startup(props).update(probe_fields)
    messages = validate_resource(STARTUP, DEPLOYMENT, props)
    assert (messages == []) is passes, messages


def test_the_suggested_failure_threshold_is_the_smallest_that_covers_the_estimate():
    # 25 s delay + 10 s × 50 = 525 s < 600 s. 25 + 10 × 57 = 595 s is still short; 58 gives
    # 605 s.
    props = deployment()
    _startup(props).update(initialDelaySeconds=25.0, periodSeconds=10.0, failureThreshold=50.0)
    [message] = validate_resource(STARTUP, DEPLOYMENT, props)
    assert "gives vLLM 525 s to start" in message
    assert "failureThreshold to at least 58 so" in message


def test_an_estimate_that_is_not_a_number_is_quoted_back():
    props = _estimate(deployment(), "ten minutes")
    [message] = validate_resource(STARTUP, DEPLOYMENT, props)
    assert "is 'ten minutes', not a number of seconds" in message
    assert "missing" not in message


def test_a_missing_startup_probe_without_an_estimate_quotes_no_figure():
    props = deployment()
    del engine(props)["startupProbe"]
    del props["metadata"]["annotations"][conv.ANN_ESTIMATED_LOAD_SECONDS]
    [message] = validate_resource(STARTUP, DEPLOYMENT, props)
    assert message.endswith("failureThreshold covers the load estimate."), message


# --- readiness and liveness windows ---------------------------------------------------------

def _windows(readiness: dict, liveness: dict) -> dict:
    props = deployment()
    for name, fields in (("readinessProbe", readiness), ("livenessProbe", liveness)):
        probe = engine(props)[name]
        probe.pop("periodSeconds")
        probe.pop("failureThreshold")
        probe.update(fields)
    return props


@pytest.mark.parametrize("readiness, liveness, passes", [
    # The period counts: readiness acts after 5 s × 3 = 15 s, liveness after 10 s × 2 = 20 s.
    ({"periodSeconds": 5.0, "failureThreshold": 3.0},
     {"periodSeconds": 10.0, "failureThreshold": 2.0}, True),
    # The threshold counts on both sides: 10 s × 5 = 50 s against 60 s, 50 s and 40 s.
    ({"periodSeconds": 10.0, "failureThreshold": 5.0},
     {"periodSeconds": 10.0, "failureThreshold": 6.0}, True),
    ({"periodSeconds": 10.0, "failureThreshold": 5.0},
     {"periodSeconds": 10.0, "failureThreshold": 5.0}, False),
    ({"periodSeconds": 10.0, "failureThreshold": 5.0},
     {"periodSeconds": 10.0, "failureThreshold": 4.0}, False),
    # An unset period is 10 s: readiness 10 s × 3 = 30 s against liveness 16 s × 2 = 32 s.
    ({"failureThreshold": 3.0}, {"periodSeconds": 16.0, "failureThreshold": 2.0}, True),
    ({"periodSeconds": 10.0, "failureThreshold": 3.0}, {"failureThreshold": 3.0}, False),
    # An unset threshold is 3: readiness 10 s × 3 = 30 s against liveness 10 s × 4 = 40 s.
    ({"periodSeconds": 10.0}, {"periodSeconds": 10.0, "failureThreshold": 4.0}, True),
    ({"periodSeconds": 10.0, "failureThreshold": 3.0}, {"periodSeconds": 10.0}, False),
])
def test_each_window_is_period_times_threshold_with_kubernetes_defaults(readiness, liveness,
                                                                       passes):
    messages = validate_resource(LIVENESS, DEPLOYMENT, _windows(readiness, liveness))
    assert (messages == []) is passes, messages


@pytest.mark.parametrize("liveness, needed", [
    # Readiness acts after 30 s. Liveness every 5 s: 6 failures are 30 s, 7 are 35 s.
    ({"periodSeconds": 5.0, "failureThreshold": 6.0}, 7),
    # Liveness with the default 10 s period: 3 failures are 30 s, 4 are 40 s.
    ({"failureThreshold": 3.0}, 4),
])
def test_the_suggested_liveness_threshold_is_the_smallest_that_outlasts_readiness(liveness,
                                                                                  needed):
    props = _windows({"periodSeconds": 10.0, "failureThreshold": 3.0}, liveness)
    [message] = validate_resource(LIVENESS, DEPLOYMENT, props)
    assert message.endswith(f"failureThreshold to at least {needed}."), message


def test_a_missing_readiness_probe_is_reported_once_and_not_compared():
    props = deployment()
    del engine(props)["readinessProbe"]
    engine(props)["livenessProbe"]["failureThreshold"] = 3.0   # 30 s, as short as any default
    [message] = validate_resource(LIVENESS, DEPLOYMENT, props)
    assert "has no readinessProbe" in message


def test_a_missing_liveness_probe_is_caught():
    props = deployment()
    del engine(props)["livenessProbe"]
    [message] = validate_resource(LIVENESS, DEPLOYMENT, props)
    assert "has no livenessProbe" in message and "longer window than readiness" in message


# --- probe timeouts -------------------------------------------------------------------------

def test_every_probe_present_is_checked_even_when_an_earlier_one_is_missing():
    props = deployment()
    del engine(props)["startupProbe"]
    engine(props)["livenessProbe"]["timeoutSeconds"] = 1.0
    [message] = validate_resource(TIMEOUTS, DEPLOYMENT, props)
    assert "livenessProbe has timeoutSeconds 1, below the minimum of 2 s" in message


def test_a_timeout_equal_to_the_default_minimum_passes_and_one_below_is_caught():
    props = deployment()
    for name in ("startupProbe", "readinessProbe", "livenessProbe"):
        engine(props)[name]["timeoutSeconds"] = 2.0
    assert validate_resource(TIMEOUTS, DEPLOYMENT, props) == []
    engine(props)["startupProbe"]["timeoutSeconds"] = 1.5
    [message] = validate_resource(TIMEOUTS, DEPLOYMENT, props)
    assert "startupProbe has timeoutSeconds 1.5" in message


# --- groups: the probe rules read the serving (leader) pods only ----------------------------

def test_probe_rules_pass_a_group_whose_headless_workers_have_no_probes():
    for rule in (STARTUP, LIVENESS, TIMEOUTS):
        assert validate_resource(rule, LWS, leader_worker_set()) == [], rule


def test_probe_timeouts_do_not_judge_a_workers_probes():
    props = leader_worker_set(worker_probe=True)
    worker = props["spec"]["leaderWorkerTemplate"]["workerTemplate"]
    worker["spec"]["containers"][0]["readinessProbe"]["timeoutSeconds"] = 1.0
    assert validate_resource(TIMEOUTS, LWS, props) == []


def test_probe_messages_on_a_group_name_the_leader_template():
    props = leader_worker_set()
    leader = props["spec"]["leaderWorkerTemplate"]["leaderTemplate"]
    leader["spec"]["containers"][0]["readinessProbe"]["timeoutSeconds"] = 1.0
    [message] = validate_resource(TIMEOUTS, LWS, props)
    assert message.startswith(f"LeaderWorkerSet '{NS}/{RELEASE}' (leader template): "), message


# --- grace period ---------------------------------------------------------------------------

def test_a_prestop_sleep_action_counts_like_a_sleep_command():
    # sleep 40 s + shutdown 60 s = 100 s, above the stated 15 s preStop and the 90 s grace.
    props = deployment()
    engine(props)["lifecycle"]["preStop"] = {"sleep": {"seconds": 40.0}}
    [message] = validate_resource(GRACE, DEPLOYMENT, props)
    assert "preStop 40 s + vLLM shutdown timeout 60 s = 100 s" in message


def test_several_sleeps_in_a_prestop_command_add_up():
    props = deployment()
    engine(props)["lifecycle"]["preStop"]["exec"]["command"] = [
        "sh", "-c", "sleep 10; curl -s localhost:8000/drain && sleep 20"]
    [message] = validate_resource(GRACE, DEPLOYMENT, props)
    assert "preStop 30 s + vLLM shutdown timeout 60 s = 90 s" in message


def test_a_stated_prestop_longer_than_the_visible_sleep_counts():
    props = deployment()
    props["metadata"]["annotations"][conv.ANN_PRESTOP_SECONDS] = "30"   # the command sleeps 15
    [message] = validate_resource(GRACE, DEPLOYMENT, props)
    assert "preStop 30 s + vLLM shutdown timeout 60 s = 90 s" in message


@pytest.mark.parametrize("annotation, flag, shutdown, total", [("90", "60", 90, 105),
                                                               ("60", "120", 120, 135)])
def test_the_longer_of_the_stated_and_the_flagged_shutdown_timeout_counts(annotation, flag,
                                                                         shutdown, total):
    props = deployment()
    props["metadata"]["annotations"][conv.ANN_SHUTDOWN_TIMEOUT_SECONDS] = annotation
    engine(props)["args"] = ["--model", "/models", "--tensor-parallel-size", "2",
                             "--shutdown-timeout", flag]
    [message] = validate_resource(GRACE, DEPLOYMENT, props)
    assert f"preStop 15 s + vLLM shutdown timeout {shutdown} s = {total} s" in message


def test_drain_figures_may_be_stated_on_the_pod_template():
    props = deployment()
    annotations = props["metadata"]["annotations"]
    props["spec"]["template"]["metadata"]["annotations"] = {
        conv.ANN_PRESTOP_SECONDS: annotations.pop(conv.ANN_PRESTOP_SECONDS),
        conv.ANN_SHUTDOWN_TIMEOUT_SECONDS: "80"}
    del annotations[conv.ANN_SHUTDOWN_TIMEOUT_SECONDS]
    [message] = validate_resource(GRACE, DEPLOYMENT, props)
    assert "preStop 15 s + vLLM shutdown timeout 80 s = 95 s" in message


def test_no_prestop_and_no_shutdown_timeout_count_as_zero():
    props = deployment()
    annotations = props["metadata"]["annotations"]
    del annotations[conv.ANN_PRESTOP_SECONDS], annotations[conv.ANN_SHUTDOWN_TIMEOUT_SECONDS]
    del engine(props)["lifecycle"]
    engine(props)["args"] = ["--model", "/models", "--tensor-parallel-size", "2"]
    pod(props)["terminationGracePeriodSeconds"] = 1.0
    assert validate_resource(GRACE, DEPLOYMENT, props) == []
    pod(props)["terminationGracePeriodSeconds"] = 0.0
    [message] = validate_resource(GRACE, DEPLOYMENT, props)
    assert "preStop 0 s + vLLM shutdown timeout 0 s = 0 s" in message


def test_the_grace_period_of_a_group_without_vllm_on_its_leader_is_read_on_its_workers():
    props = leader_worker_set()
    templates = props["spec"]["leaderWorkerTemplate"]
    templates["leaderTemplate"]["spec"]["containers"] = [
        {"name": "coordinator", "image": "busybox", "resources": {}}]
    templates["workerTemplate"]["spec"]["terminationGracePeriodSeconds"] = 10.0
    [message] = validate_resource(GRACE, LWS, props)
    assert message.startswith(f"LeaderWorkerSet '{NS}/{RELEASE}' (worker template) has "
                              "terminationGracePeriodSeconds 10 but"), message


def test_a_headless_worker_needs_room_for_its_prestop_only():
    """A --headless TP × PP worker exits at once on SIGTERM (vLLM serve.py run_headless):
    vLLM's shutdown timeout does not apply to it, its preStop sleep must fit the grace."""
    props = leader_worker_set()
    worker = props["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]
    worker["containers"][0]["args"] += ["--shutdown-timeout", "300"]
    worker["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", "50"]}}}
    worker["terminationGracePeriodSeconds"] = 60.0
    assert validate_resource(GRACE, LWS, props) == []
    worker["terminationGracePeriodSeconds"] = 50.0
    [message] = validate_resource(GRACE, LWS, props)
    assert "(worker template) has terminationGracePeriodSeconds 50 but preStop 50 s" in message
