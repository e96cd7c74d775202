"""Bad config stops the program before any resource exists, with a message a person can act on."""

import pulumi
import pytest

from tests.harness import run_stack

CASES = {
    "wrong type": ({"replicas": "two"}, ["replicas", "two"]),
    "unknown key": ({"model": {"maxModelLength": 4096}}, ["model.maxModelLength", "unknown key"]),
    "unknown top-level key": ({"replica": 2}, ["replica", "unknown key"]),
    "out of range": ({"engine": {"gpuMemoryUtilization": 1.5}},
                     ["engine.gpuMemoryUtilization", "1.5"]),
    "tensor parallel larger than a node": ({"gpu": {"tensorParallel": 16}},
                                           ["gpu", "16", "perNode"]),
    "tensor parallel not dividing heads": ({"gpu": {"tensorParallel": 3}},
                                           ["gpu.tensorParallel", "40 attention heads"]),
    "latest tag": ({"image": {"tag": "latest"}}, ["image.tag", "latest"]),
    "tag contradicting the version": ({"image": {"tag": "v0.9.0"}}, ["image.tag", "vllmVersion"]),
    "managed flag in extra args": ({"engine": {"extraArgs": ["--max-model-len=4096"]}},
                                   ["engine.extraArgs", "--max-model-len", "model.maxModelLen"]),
    "metrics disabled in extra args": ({"engine": {"extraArgs": ["--disable-log-stats"]}},
                                       ["engine.extraArgs", "--disable-log-stats"]),
    "request logging in extra args": ({"engine": {"extraArgs": ["--enable-log-requests"]}},
                                      ["engine.extraArgs", "--enable-log-requests"]),
    "literal api key in extra args": ({"engine": {"extraArgs": ["--api-key", "sk-abcdef123456"]}},
                                      ["engine.extraArgs", "--api-key"]),
    # vLLM rewrites `_` to `-` in option names and has `--no-` forms: read them the same way.
    "underscore spelling of a forbidden flag": (
        {"engine": {"extraArgs": ["--enable_log_requests"]}},
        ["engine.extraArgs", "--enable_log_requests (--enable-log-requests)", "prompts"]),
    "api key with = and underscores": ({"engine": {"extraArgs": ["--api_key=abc"]}},
                                       ["engine.extraArgs", "--api_key (--api-key)", "Secret"]),
    "underscore spelling of a managed flag": (
        {"engine": {"extraArgs": ["--max_model_len=65536"]}},
        ["engine.extraArgs", "--max_model_len (--max-model-len)", "model.maxModelLen"]),
    "negated managed flag": ({"engine": {"extraArgs": ["--no-trust-remote-code"]}},
                             ["--no-trust-remote-code (--trust-remote-code)",
                              "model.trustRemoteCode"]),
    "config file in extra args": ({"engine": {"extraArgs": ["--config", "/tmp/x.yaml"]}},
                                  ["--config", "file"]),
    "literal key as a flag value": ({"engine": {"extraArgs": ["--hf-token=hf_abcdefghijklmn"]}},
                                    ["--hf-token", "literal secret"]),
    "unknown preset": ({"model": {"preset": "deepseek-v5"}}, ["model.preset", "deepseek-v5"]),
    "context beyond the model": ({"model": {"maxModelLen": 1000000}},
                                 ["model.maxModelLen", "131072"]),
    "min above max replicas": ({"autoscaling": {"minReplicas": 5, "maxReplicas": 3}},
                               ["autoscaling.minReplicas", "maxReplicas"]),
    "vllm too old for v1": ({"vllmVersion": "0.7.3"}, ["vllmVersion", "0.8.0"]),
    "version not x.y.z": ({"vllmVersion": "latest"}, ["vllmVersion", "latest"]),
    "nfs without server": ({"storage": {"nfs": None}}, ["storage.nfs.server"]),
    "read-write-once claim shared by replicas": (
        {"storage": {"mode": "pvc", "nfs": None, "pvc": {"storageClass": "gp3",
                                                          "accessMode": "ReadWriteOnce"}}},
        ["storage.pvc.accessMode", "Multi-Attach"]),
    "liveness not longer than readiness": ({"probes": {"livenessFailures": 2}},
                                           ["probes.livenessFailures"]),
    "startup budget shorter than the load": ({"probes": {"startupBudgetSeconds": 400}},
                                             ["probes.startupBudgetSeconds", "acknowledgeShort"]),
    "build without registry": ({"image": {"build": True}}, ["image.registry"]),
    "unpinned extra package": ({"image": {"extraPipPackages": ["flashinfer"]}},
                               ["image.extraPipPackages", "flashinfer"]),
}


@pytest.mark.parametrize("override, expected", CASES.values(), ids=CASES.keys())
def test_invalid_config_fails_with_a_readable_message_and_creates_nothing(override, expected):
    run = run_stack("prod", override)
    assert isinstance(run.error, pulumi.RunError), run.error
    message = str(run.error)
    assert message.startswith("The stack configuration is invalid; nothing was created.")
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "Traceback" not in message
    assert run.resources == []


def test_every_problem_is_listed_at_once():
    run = run_stack("prod", {"replicas": 0, "image": {"tag": "nightly"},
                             "engine": {"extraArgs": ["--disable-log-stats"]}})
    message = str(run.error)
    assert "replicas" in message and "image.tag" in message and "engine.extraArgs" in message


def test_a_short_startup_budget_is_accepted_only_when_acknowledged():
    run = run_stack("prod", {"probes": {"startupBudgetSeconds": 400,
                                        "acknowledgeShortStartup": True}})
    assert run.error is None, run.error


def test_the_real_stack_files_hold_no_ciphertext():
    from tests.harness import stack_config
    for stack in ("prod", "staging"):
        assert "secure" not in repr(stack_config(stack))


def test_a_parser_the_pinned_vllm_lacks_is_refused():
    run = run_stack("prod", {"vllmVersion": "0.19.0", "model": {"reasoningParser": "deepseek_v4"}})
    assert "model.reasoningParser" in str(run.error) and run.resources == []


def test_harmless_extra_args_pass_in_every_spelling():
    run = run_stack("prod", {"engine": {"extraArgs": [
        "--no-enable-log-requests", "--enable_prefix_caching", "--swap-space=4", "-O", "3"]}})
    assert run.error is None, run.error
