"""Values Kubernetes or vLLM would refuse later are refused at preview, naming the key; values
they accept (numbers written as strings, as `pulumi config set --path` writes them) pass."""

import pytest

from facts import k8s_names
from tests.harness import assert_refused_before_any_resource, run_stack

PVC = {"mode": "pvc", "nfs": None, "pvc": {"storageClass": "gp3"}}

REFUSED = {
    "a boolean context length": ({"model": {"maxModelLen": True}}, ["model.maxModelLen", "True"]),
    "a boolean read rate": ({"storage": {"readMibPerSecond": True}},
                            ["storage.readMibPerSecond", "True"]),
    "a boolean fraction": ({"engine": {"gpuMemoryUtilization": True}},
                           ["engine.gpuMemoryUtilization", "True"]),
    "a boolean router limit": (
        {"traffic": {"clients": [{"name": "a", "requestsPerMinute": True,
                                  "tokensPerMinute": 1000}]}},
        ["traffic.clients[0].requestsPerMinute", "True"]),
    "an answer longer than the context": ({"shutdown": {"maxTokens": 4_096_000}},
                                          ["shutdown.maxTokens", "4096000", "model.maxModelLen"]),
    "a storage class Kubernetes refuses": ({"storage": {**PVC, "pvc": {"storageClass": "Fast_SSD"}}},
                                           ["storage.pvc.storageClass", "Fast_SSD", "DNS-1123"]),
    "a compile cache class Kubernetes refuses": (
        {"engine": {"compileCacheGib": 20, "compileCacheStorageClass": "EFS Shared"}},
        ["engine.compileCacheStorageClass", "EFS Shared"]),
    "a priority class Kubernetes refuses": ({"placement": {"priorityClassName": "High Priority"}},
                                            ["placement.priorityClassName", "High Priority"]),
    "a runtime class Kubernetes refuses": ({"placement": {"runtimeClassName": "Nvidia"}},
                                           ["placement.runtimeClassName", "Nvidia"]),
    "a toleration operator Kubernetes refuses": (
        {"placement": {"tolerations": [{"key": "gpu", "operator": "Exist"}]}},
        ["placement.tolerations[0]", "operator", "'Exist'", "Equal, Exists"]),
    "a toleration effect Kubernetes refuses": (
        {"placement": {"tolerations": [{"key": "gpu", "operator": "Exists",
                                        "effect": "NoScheduler"}]}},
        ["placement.tolerations[0]", "effect", "NoScheduler"]),
    "a toleration with no key that is not Exists": (
        {"placement": {"tolerations": [{"operator": "Equal", "value": "x"}]}},
        ["placement.tolerations[0]", "must be Exists when key is empty"]),
    "a toleration field Kubernetes does not have": (
        {"placement": {"tolerations": [{"key": "gpu", "operator": "Exists", "efect": "NoExecute"}]}},
        ["placement.tolerations[0]", "efect"]),
    "an NFS server that is no host": ({"storage": {"nfs": {"server": "nfs server:/export"}}},
                                      ["storage.nfs.server", "nfs server:/export", "IP address"]),
    "a quantity as the network interface": ({"multiNode": {"socketInterface": "-5Gi"}},
                                            ["multiNode.socketInterface", "-5Gi"]),
    "an interface name longer than IFNAMSIZ": (
        {"multiNode": {"socketInterface": "enp0s31f6abcdefg"}},
        ["multiNode.socketInterface", "15"]),
    "a read rate of a terabyte per microsecond": ({"storage": {"readMibPerSecond": 10**12}},
                                                  ["storage.readMibPerSecond", "100000"]),
    "a reasoning parser vLLM does not have": (
        {"model": {"reasoningParser": "deepseek-r1"}},
        ["model.reasoningParser", "deepseek-r1", "0.32.0", "deepseek_r1"]),
    "a tool-call parser vLLM does not have": (
        {"model": {"toolCallParser": "json"}},
        ["model.toolCallParser", "'json'", "hermes"]),
}


@pytest.mark.parametrize("override, expected", REFUSED.values(), ids=REFUSED.keys())
def test_a_value_kubernetes_or_vllm_would_refuse_is_refused_naming_the_key(override, expected):
    assert_refused_before_any_resource("prod", override, expected)


ACCEPTED = {
    "numbers written as strings": {"model": {"maxModelLen": "16384"},
                                   "storage": {"readMibPerSecond": "250"},
                                   "engine": {"gpuMemoryUtilization": "0.9"},
                                   "shutdown": {"perTokenMs": "40"}},
    "a boolean written as a string": {"createNamespace": "true"},
    "a storage class with dots": {"storage": {**PVC, "pvc": {"storageClass": "ebs.csi.aws.com-gp3"}}},
    "tolerations Kubernetes accepts": {"placement": {"tolerations": [
        {"operator": "Exists"},
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]}},
    "an NFS server by DNS name": {"storage": {"nfs": {"server": "nfs-1.storage.example.internal"}}},
    "an NFS server by IPv6 address": {"storage": {"nfs": {"server": "fd00::50"}}},
    "a predictable interface name": {"multiNode": {"socketInterface": "enp175s0f0np0"}},
    "a parser of the pinned vLLM": {"model": {"reasoningParser": "qwen3",
                                              "toolCallParser": "hermes"}},
}


@pytest.mark.parametrize("override", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_a_value_kubernetes_and_vllm_accept_renders(override):
    run = run_stack("prod", override)
    assert run.error is None, run.error


# --- Kubernetes' own test cases (apimachinery validation_test.go) ---------------------------

GOOD_SUBDOMAINS = ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a",
                   "1--a--b--2", "a.a", "ab.a", "abc.a", "a1.a", "a-1.a", "a--1--2--b.a",
                   "a.1", "ab.1", "0.a", "01.a", "1-a.a", "0.0", "01.01", "1--a--b--2",
                   "a" * 253]
BAD_SUBDOMAINS = ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_",
                  "a_", "_a", "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a..b", "1.", ".1",
                  "1..2", " ", "a ", " a", "a b", "1 ", " 1", "1 2", "A.a", "aB.a", "ab.A",
                  "A1.a", "a1.A", "A.1", "aB.1", "A1.1", "1A.1", "0.A", "01.A", "012.A",
                  "1A.a", "1a.A", "A.B.C.D.E", "AA.BB.CC.DD.EE", "a.B.c.d.e", "aa.bB.cc.dd.ee",
                  "a@b", "a,b", "a_b", "a;b", "a:b", "a%b", "a?b", "a$b", "a" * 254]


@pytest.mark.parametrize("value", GOOD_SUBDOMAINS)
def test_kubernetes_good_subdomains_pass(value):
    assert k8s_names.subdomain_problem(value) is None


@pytest.mark.parametrize("value", BAD_SUBDOMAINS)
def test_kubernetes_bad_subdomains_fail(value):
    assert k8s_names.subdomain_problem(value) is not None


GOOD_QUALIFIED = ["simple", "now-with-dashes", "1-starts-with-num", "1234", "simple/simple",
                  "now-with-dashes/simple", "now-with-dashes/now-with-dashes",
                  "now.with.dots/simple", "now-with.dashes-and.dots/simple",
                  "1-num.2-num/3-num", "1234/5678", "1.2.3.4/5678", "Uppercase_Is_OK_123",
                  "example.com/Uppercase_Is_OK_123", "requests.storage-foo", "a" * 63,
                  "a" * 253 + "/" + "b" * 63]
BAD_QUALIFIED = ["nospecialchars%^=@", "cantendwithadash-", "-cantstartwithadash-",
                 "only/one/slash", "Example.com/abc", "example_com/abc", "example.com/",
                 "/simple", "a" * 64, "a" * 254 + "/abc"]


@pytest.mark.parametrize("value", GOOD_QUALIFIED)
def test_kubernetes_good_qualified_names_pass(value):
    assert k8s_names.qualified_name_problem(value) is None


@pytest.mark.parametrize("value", BAD_QUALIFIED)
def test_kubernetes_bad_qualified_names_fail(value):
    assert k8s_names.qualified_name_problem(value) is not None


def test_a_label_key_of_317_characters_the_api_server_accepts_is_accepted():
    key = "a" * 253 + "/" + "b" * 63
    assert len(key) == 317
    run = run_stack("prod", {"placement": {"nodeSelector": {key: "x"}}})
    assert run.error is None, run.error


@pytest.mark.parametrize("name, valid", [
    ("eth0", True), ("enp175s0f0np0", True), ("ib0", True), ("bond0.100", True),
    ("a" * 15, True), ("a" * 16, False), ("", False), (".", False), ("..", False),
    ("eth/0", False), ("eth 0", False), ("eth0:1", False), ("eth\t0", False)])
def test_interface_names_follow_the_kernels_dev_valid_name(name, valid):
    assert (k8s_names.interface_problem(name) is None) is valid
