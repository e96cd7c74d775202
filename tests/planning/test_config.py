"""Bad config stops the program before any resource exists, with a message a person can act on."""

import pulumi
import pytest

from tests.conftest import STACKS
from tests.harness import assert_refused_before_any_resource, run_stack

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
    "literal key as a flag value": ({"engine": {"extraArgs": ["--hf-token=hf_" + "abcdefghijklmnopq" * 2]}},
                                    ["--hf-token", "literal secret"]),
    "pvc claim the download cannot write": (
        {"storage": {"mode": "pvc", "nfs": None, "pvc": {"storageClass": "gp3",
                                                          "accessMode": "ReadOnlyMany"}}},
        ["storage.pvc.accessMode", "ReadOnlyMany"]),
    "read-write-once claim with a surge rollout": (
        {"replicas": 1, "spareGpus": 2, "autoscaling": {"enabled": False},
         "storage": {"mode": "pvc", "nfs": None, "pvc": {"storageClass": "gp3",
                                                          "accessMode": "ReadWriteOnce"}}},
        ["storage.pvc.accessMode", "spareGpus", "Multi-Attach"]),
    "compile cache on nfs without a class": ({"engine": {"compileCacheGib": 20}},
                                             ["engine.compileCacheStorageClass", "ReadWriteMany"]),
    "unpinned downloader image": (
        {"storage": {"mode": "pvc", "nfs": None, "pvc": {"storageClass": "gp3",
                                                          "downloaderImage": "python"}}},
        ["storage.pvc.downloaderImage", "not pinned"]),
    "no gateway namespace": ({"network": {"gatewayNamespaces": []}},
                             ["network.gatewayNamespaces is empty", "admit no client"]),
    "no prometheus namespace with monitoring": ({"network": {"prometheusNamespaces": []}},
                                                ["network.prometheusNamespaces", "scrape"]),
    "label value Kubernetes rejects": ({"monitoring": {"releaseLabel": "-5Gi"}},
                                       ["monitoring.releaseLabel", "-5Gi"]),
    "rule label key Kubernetes rejects": ({"monitoring": {"ruleLabels": {"bad key": "x"}}},
                                          ["monitoring.ruleLabels", "bad key"]),
    "node selector value Kubernetes rejects": (
        {"placement": {"nodeSelector": {"pool": "gpu pool"}}},
        ["placement.nodeSelector", "gpu pool"]),
    "mixed-precision facts without parameters by role": (
        {"model": {"preset": None, "facts": {
            "hf_id": "org/m", "architecture": "X", "params_b": 10, "weights_dtype": "fp4-fp8",
            "layers": 4, "hidden_size": 64, "intermediate_size": 128, "vocab_size": 1000,
            "attention": {"kind": "gqa", "heads": 8, "kv_heads": 8, "head_dim": 8},
            "max_context": 32768}}},
        ["model.facts.parameters", "experts", "fp4-fp8"]),
    "cluster not pinned": ({"kubernetes:context": None}, ["kubernetes:context", "pin the cluster"]),
    "expected request longer than the context": (
        {"autoscaling": {"expectedRequestTokens": 65536}},
        ["autoscaling.expectedRequestTokens", "maxModelLen"]),
    "autoscaler target above the KV alert": ({"autoscaling": {"targetUtilization": 0.97}},
                                             ["autoscaling.targetUtilization", "kvCacheUsage"]),
    "online fp8 where vLLM no longer does it": (
        {"vllmVersion": "0.33.0", "model": {"quantization": "fp8"}},
        ["model.quantization", "0.33.0", "fp8_per_tensor"]),
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
    assert_refused_before_any_resource("prod", override, expected)


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
    for stack in STACKS:
        assert "secure" not in repr(stack_config(stack))


def test_a_parser_the_pinned_vllm_lacks_is_refused():
    run = run_stack("prod", {"vllmVersion": "0.19.0", "model": {"reasoningParser": "deepseek_v4"}})
    assert "model.reasoningParser" in str(run.error) and run.resources == []


def test_harmless_extra_args_pass_in_every_spelling():
    run = run_stack("prod", {"engine": {"extraArgs": [
        "--no-enable-log-requests", "--enable_prefix_caching", "--seed=4", "-O", "3"]}})
    assert run.error is None, run.error


@pytest.mark.parametrize("stack", ["prod_eu", "prod.eu", "1prod", "-prod"])
def test_a_stack_name_that_cannot_name_objects_is_refused_before_anything_exists(stack):
    from tests.harness import run_program, stack_config
    run = run_program(stack, {**stack_config("prod"), "kubernetes:context": "c"})
    assert isinstance(run.error, pulumi.RunError), run.error
    assert f"stack name {stack!r}" in str(run.error) and "Traceback" not in str(run.error)
    assert run.resources == []


def test_the_plan_tool_refuses_the_same_stack_names(tmp_path, capsys):
    import shutil
    from planning.config import ConfigError
    from planning.stack_files import stack_values
    from tests.harness import ROOT
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    shutil.copy(ROOT / "Pulumi.prod.yaml", tmp_path / "Pulumi.prod_eu.yaml")
    with pytest.raises(ConfigError, match="stack name 'prod_eu'"):
        stack_values("prod_eu", tmp_path)


def test_an_unpinned_cluster_is_allowed_only_when_the_stack_says_so():
    run = run_stack("staging", {"kubernetes:context": None, "requireCluster": False})
    assert run.error is None, run.error
    assert "context" not in run.one("pulumi:providers:kubernetes").inputs


def test_the_provider_deploys_to_the_pinned_context_with_mutable_configmaps_and_secrets(runs):
    provider = runs["prod"].one("pulumi:providers:kubernetes").inputs
    assert provider["context"] == "prod-gpu"
    assert provider["enableServerSideApply"] == "true" or provider["enableServerSideApply"] is True
    assert provider["enableConfigMapMutable"] in (True, "true")
    assert provider["enableSecretMutable"] in (True, "true")


def test_a_stack_file_may_set_only_the_cluster_from_the_kubernetes_namespace(tmp_path):
    import shutil
    from planning.config import ConfigError
    from planning.stack_files import provider_values
    from tests.harness import ROOT
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    text = (ROOT / "Pulumi.prod.yaml").read_text()
    (tmp_path / "Pulumi.prod.yaml").write_text(text)
    assert provider_values("prod", tmp_path) == {"context": "prod-gpu"}
    (tmp_path / "Pulumi.prod.yaml").write_text(text.replace(
        "kubernetes:context: prod-gpu", "kubernetes:context: prod-gpu\n  aws:region: eu-west-1"))
    with pytest.raises(ConfigError, match="aws:region: not a setting of this program"):
        provider_values("prod", tmp_path)
