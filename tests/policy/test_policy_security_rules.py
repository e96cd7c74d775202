"""The security rules (policy/security_checks.py) case by case: pinned images, keys only from
Secrets, unprivileged non-root containers, no forbidden engine flags.

Builders and drivers come from tests/policy/conftest.py; each test changes one thing of a
compliant object and states what the rule must then say (or not say).
"""

from __future__ import annotations

import pytest

from policy import k8s, security_checks
from tests.policy.conftest import (
    DEPLOYMENT,
    DIGEST,
    NS,
    RELEASE,
    leader_worker_set,
    deployment,
    download_job,
    engine,
    pod,
    security,
    validate_resource,
)

HF_TOKEN = "hf_" + "A" * 34
"""Shaped like a Hugging Face token: hf_ and 34 letters."""


def _init(props: dict) -> dict:
    return pod(props)["initContainers"][0]


def _sidecar(**fields) -> dict:
    return {"name": "proxy", "image": f"envoyproxy/envoy:v1.31.0@{DIGEST}",
            "securityContext": security(), **fields}


# --- image-pinned / image-by-digest ---------------------------------------------------------

def test_a_moving_tag_is_accepted_when_a_digest_pins_it():
    props = deployment()
    engine(props)["image"] = f"vllm/vllm-openai:latest@{DIGEST}"
    assert validate_resource("image-pinned", DEPLOYMENT, props) == []
    assert validate_resource("image-by-digest", DEPLOYMENT, props) == []


def test_an_init_container_on_a_moving_tag_is_caught():
    props = deployment()
    _init(props)["image"] = "busybox:latest"
    [message] = validate_resource("image-pinned", DEPLOYMENT, props)
    assert "init container 'wait-for-weights'" in message and "'latest'" in message


def test_a_release_tag_is_pinned_enough_for_the_mandatory_rule():
    props = deployment()
    engine(props)["image"] = "vllm/vllm-openai:v0.18.0"
    _init(props)["image"] = "busybox:1.36"
    assert validate_resource("image-pinned", DEPLOYMENT, props) == []
    messages = validate_resource("image-by-digest", DEPLOYMENT, props)
    assert len(messages) == 2
    assert "container 'vllm'" in messages[0] and "'vllm/vllm-openai:v0.18.0'" in messages[0]
    assert "@sha256:" in messages[0]                    # the fix: pin it by digest
    assert "init container 'wait-for-weights'" in messages[1] and "busybox:1.36" in messages[1]


def test_a_container_without_an_image_is_not_judged():
    props = deployment()
    del engine(props)["image"]
    _init(props)["image"] = ""
    for rule in ("image-pinned", "image-by-digest"):
        assert validate_resource(rule, DEPLOYMENT, props) == [], rule


def test_an_unnamed_container_is_named_by_a_question_mark():
    props = deployment()
    del engine(props)["name"]
    engine(props)["image"] = "vllm/vllm-openai:nightly"
    [message] = validate_resource("image-pinned", DEPLOYMENT, props)
    assert "container '?'" in message
    [message] = validate_resource("image-by-digest", DEPLOYMENT, props)
    assert "container '?'" in message


def test_every_template_of_a_group_is_checked_and_named():
    group = leader_worker_set()
    lwt = group["spec"]["leaderWorkerTemplate"]
    lwt["workerTemplate"]["spec"]["containers"][0]["image"] = "vllm/vllm-openai"
    [message] = validate_resource("image-pinned", k8s.LEADER_WORKER_SET, group)
    assert "(worker template): container 'vllm'" in message and "without a tag" in message


def test_images_of_objects_without_pods_are_not_judged():
    config_map = {"metadata": {"name": "c", "namespace": "x"}, "data": {"image": "a:latest"}}
    assert validate_resource("image-pinned", k8s.CONFIG_MAP, config_map) == []


# --- no-literal-secrets: env ----------------------------------------------------------------

def test_a_literal_key_reveals_only_its_three_character_prefix():
    props = deployment()
    engine(props)["env"].append({"name": "OPENAI_BASE", "value": "sk-proj-" + "q" * 40})
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "env OPENAI_BASE to a literal starting 'sk-'" in message
    assert "sk-p" not in message


def test_an_env_entry_without_a_name_is_reported_as_a_question_mark():
    props = deployment()
    engine(props)["env"].append({"value": HF_TOKEN})
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "sets env ? to a literal starting 'hf_'" in message


def test_a_key_shaped_value_under_a_secret_name_is_reported_once():
    props = deployment()
    engine(props)["env"][0] = {"name": "HF_TOKEN", "value": HF_TOKEN}
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "literal starting 'hf_'" in message


@pytest.mark.parametrize("value, caught", [
    ("", False),              # empty: nothing leaks
    ("true", False), ("FALSE", False), ("0", False), ("123", False),   # flags, not secrets
    ("1234", True),           # four digits may be a PIN
    ("changeme", True),
])
def test_a_secret_named_env_may_hold_only_a_harmless_literal(value, caught):
    props = deployment()
    engine(props)["env"][0] = {"name": "DB_PASSWORD", "value": value}
    messages = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert bool(messages) is caught, messages
    if caught:
        assert "sets env DB_PASSWORD as a literal value" in messages[0]
        assert value not in messages[0]


def test_a_non_secret_name_may_hold_any_literal_that_is_not_key_shaped():
    props = deployment()
    engine(props)["env"].append({"name": "MODEL_NAME", "value": "sk-test"})
    assert validate_resource("no-literal-secrets", DEPLOYMENT, props) == []


def test_secret_name_detection_reads_lower_case_names_too():
    assert security_checks.looks_like_secret_name("hf_token")
    assert security_checks.looks_like_secret_name("db-password")
    assert not security_checks.looks_like_secret_name("model_path")


def test_a_secret_named_env_from_an_empty_or_non_secret_source_is_caught():
    props = deployment()
    engine(props)["env"][0] = {"name": "VLLM_API_KEY", "valueFrom": {}}
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "takes env VLLM_API_KEY from an empty valueFrom" in message
    engine(props)["env"][0] = {"name": "VLLM_API_KEY", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.name"},
        "configMapKeyRef": {"name": "c", "key": "k"}}}
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "from configMapKeyRef, fieldRef rather than a Secret" in message


def test_a_non_secret_env_may_come_from_a_configmap():
    props = deployment()
    engine(props)["env"].append({"name": "MODEL_NAME", "valueFrom": {
        "configMapKeyRef": {"name": "c", "key": "model"}}})
    assert validate_resource("no-literal-secrets", DEPLOYMENT, props) == []


def test_init_containers_and_group_templates_are_checked_for_literal_keys():
    props = deployment()
    _init(props)["env"] = [{"name": "HF_TOKEN", "value": "my-token"}]
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "init container 'wait-for-weights' sets env HF_TOKEN" in message
    group = leader_worker_set()
    worker = group["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
    worker["env"][0] = {"name": "VLLM_API_KEY", "value": "plain"}
    [message] = validate_resource("no-literal-secrets", k8s.LEADER_WORKER_SET, group)
    assert "(worker template): container 'vllm'" in message


# --- no-literal-secrets: command line and ConfigMaps ----------------------------------------

@pytest.mark.parametrize("args", [
    ["--hf-token", HF_TOKEN],                      # a token as its own argument
    [f"--hf-token={HF_TOKEN}"],                    # inside a flag=value token
    ["--model", "/models", "--served-model-name", "r1", "--hf-token", HF_TOKEN],
])
def test_a_key_on_the_command_line_is_caught_without_repeating_it(args):
    props = deployment()
    engine(props)["args"] = args
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "command-line argument that looks like an API key" in message
    assert HF_TOKEN not in message and "A" * 16 not in message


def test_a_key_inside_a_shell_script_of_an_init_container_is_caught():
    props = deployment()
    _init(props)["command"] = ["sh", "-c", f"HF_TOKEN={HF_TOKEN} huggingface-cli download r1"]
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "init container 'wait-for-weights' has a command-line argument" in message


def test_an_api_key_flag_is_reported_once_even_with_a_key_shaped_value():
    props = deployment()
    engine(props)["args"] += ["--api-key", "sk-" + "k" * 40]
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert "passes --api-key on the command line" in message


def test_a_configmap_is_flagged_only_for_the_keys_holding_a_token():
    config_map = {"metadata": {"name": "env", "namespace": "x"},
                  "data": {"model": "deepseek-ai/DeepSeek-R1", "max": "4096",
                           "script": f"#!/bin/sh\nexport HF_TOKEN={HF_TOKEN}\n"}}
    [message] = validate_resource("no-literal-secrets", k8s.CONFIG_MAP, config_map)
    assert "key 'script'" in message and HF_TOKEN not in message


def test_a_configmap_without_tokens_or_data_passes():
    assert validate_resource("no-literal-secrets", k8s.CONFIG_MAP, {
        "metadata": {"name": "env"}, "data": {"a": "sk-test", "b": "hf_short"}}) == []
    assert validate_resource("no-literal-secrets", k8s.CONFIG_MAP, {"metadata": {"name": "e"}}) \
        == []


# --- container-security ---------------------------------------------------------------------

def test_a_container_with_no_security_context_gets_both_findings():
    props = deployment()
    del engine(props)["securityContext"]
    del pod(props)["securityContext"]
    messages = validate_resource("container-security", DEPLOYMENT, props)
    assert len(messages) == 2
    assert "container 'vllm' does not set allowPrivilegeEscalation: false" in messages[0]
    assert "container 'vllm' does not set runAsNonRoot: true" in messages[1]


def test_privileged_false_is_fine_and_a_privileged_init_container_is_caught():
    props = deployment()
    engine(props)["securityContext"]["privileged"] = False
    assert validate_resource("container-security", DEPLOYMENT, props) == []
    _init(props)["securityContext"]["privileged"] = True
    [message] = validate_resource("container-security", DEPLOYMENT, props)
    assert "init container 'wait-for-weights' runs privileged" in message


def test_root_set_on_the_pod_is_caught_unless_the_container_overrides_it():
    props = deployment()
    pod(props)["securityContext"]["runAsUser"] = 0.0
    messages = validate_resource("container-security", DEPLOYMENT, props)
    assert len(messages) == 2 and all("runs as UID 0" in m for m in messages)
    assert "container 'vllm'" in messages[0] and "init container" in messages[1]
    engine(props)["securityContext"]["runAsUser"] = 10001.0
    _init(props)["securityContext"]["runAsUser"] = "10001"
    assert validate_resource("container-security", DEPLOYMENT, props) == []


def test_root_as_a_string_is_still_root_and_reported_once():
    props = deployment()
    engine(props)["securityContext"]["runAsUser"] = "0"
    del engine(props)["securityContext"]["runAsNonRoot"]
    del pod(props)["securityContext"]["runAsNonRoot"]
    messages = validate_resource("container-security", DEPLOYMENT, props)
    assert [m for m in messages if "container 'vllm'" in m] == [messages[0]]
    assert "runs as UID 0" in messages[0]


def test_a_uid_of_one_is_not_root():
    props = deployment()
    engine(props)["securityContext"]["runAsUser"] = 1.0
    assert validate_resource("container-security", DEPLOYMENT, props) == []


def test_the_container_runs_as_non_root_setting_overrides_the_pod():
    props = deployment()
    engine(props)["securityContext"]["runAsNonRoot"] = False
    [message] = validate_resource("container-security", DEPLOYMENT, props)
    assert "container 'vllm' does not set runAsNonRoot: true" in message
    props = deployment()
    pod(props)["securityContext"]["runAsNonRoot"] = False
    assert validate_resource("container-security", DEPLOYMENT, props) == []


def test_an_unnamed_container_is_reported_as_a_question_mark():
    props = download_job()
    container = props["spec"]["template"]["spec"]["containers"][0]
    del container["name"]
    container["securityContext"]["privileged"] = True
    [message] = validate_resource("container-security", k8s.JOB, props, name="download")
    assert "container '?' runs privileged" in message


# --- engine-flags-allowed -------------------------------------------------------------------

def test_a_sidecar_may_pass_flags_the_engine_may_not():
    props = deployment()
    pod(props)["containers"].insert(0, _sidecar(args=["--config=/etc/envoy.yaml"]))
    assert validate_resource("engine-flags-allowed", DEPLOYMENT, props) == []


def test_the_engine_is_found_after_a_sidecar():
    props = deployment()
    pod(props)["containers"].insert(0, _sidecar())
    engine_ = pod(props)["containers"][1]
    engine_["args"] += ["--enable-log-requests", "--disable-log-stats"]
    messages = validate_resource("engine-flags-allowed", DEPLOYMENT, props)
    assert len(messages) == 2
    assert "passes --enable-log-requests, which writes prompts" in messages[0]
    assert "passes --disable-log-stats" in messages[1]


def test_the_engine_flags_are_read_from_the_container_every_engine_rule_judges():
    """The GPU container is the engine even when it is not named vllm (policy/k8s.py
    `engine_container`), for this rule as for the GPU, probe and /dev/shm rules."""
    props = deployment()
    engine(props)["name"] = "engine"
    engine(props)["args"] += ["--enable-log-requests"]
    [message] = validate_resource("engine-flags-allowed", DEPLOYMENT, props)
    assert "passes --enable-log-requests" in message


def test_forbidden_flags_on_a_group_name_the_template():
    group = leader_worker_set()
    worker = group["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
    worker["args"].append("--enable_log_requests")
    [message] = validate_resource("engine-flags-allowed", k8s.LEADER_WORKER_SET, group)
    assert message.startswith("LeaderWorkerSet '")
    assert "(worker template): the vllm container passes --enable-log-requests" in message


# --- every finding names its object and container -------------------------------------------

def _broken_for_every_rule() -> dict:
    """A Deployment whose engine breaks each security rule once."""
    props = deployment()
    engine(props)["image"] = "vllm/vllm-openai:latest"
    engine(props)["env"][0] = {"name": "VLLM_API_KEY", "value": "plain"}
    engine(props)["args"] += ["--enable-log-requests"]
    engine(props)["securityContext"]["privileged"] = True
    return props


RULES = ("image-pinned", "image-by-digest", "no-literal-secrets", "container-security",
         "engine-flags-allowed")


@pytest.mark.parametrize("rule", RULES)
def test_a_finding_starts_with_the_object_and_its_namespace(rule):
    [message] = validate_resource(rule, DEPLOYMENT, _broken_for_every_rule())
    assert message.startswith(f"Deployment '{NS}/{RELEASE}': ")
    if rule != "engine-flags-allowed":
        assert message.startswith(f"Deployment '{NS}/{RELEASE}': container 'vllm' ")


@pytest.mark.parametrize("rule", RULES)
def test_an_object_pulumi_names_is_named_by_its_pulumi_name(rule):
    props = _broken_for_every_rule()
    del props["metadata"]["name"]
    [message] = validate_resource(rule, DEPLOYMENT, props, name="engine")
    assert message.startswith("Deployment 'engine' (Pulumi name): ")


def test_a_secret_finding_on_an_unnamed_container_names_it_by_a_question_mark():
    props = deployment()
    del engine(props)["name"]
    engine(props)["env"][0] = {"name": "VLLM_API_KEY", "value": "plain"}
    [message] = validate_resource("no-literal-secrets", DEPLOYMENT, props)
    assert message.startswith(f"Deployment '{NS}/{RELEASE}': container '?' sets env VLLM_API_KEY")
