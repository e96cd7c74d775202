"""Builders and drivers for the policy tests: one compliant object of each kind, and the
pulumi-policy argument types that hand an object to a rule.

Rules are driven through pulumi-policy's own argument types (`ResourceValidationArgs`,
`StackValidationArgs`, `PolicyResource`) with props behind the SDK's unknown-checking proxy, as
`pulumi preview --policy-pack policy` hands them over. Numbers are floats, as under Pulumi mocks
and the analyzer's protobuf structs. Test modules import these as `tests.policy.conftest`; no test
module imports another (tests/architecture/test_tests_layout.py).
"""

from __future__ import annotations

import copy
import json

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from facts import conventions as conv
from policy import k8s, offline, rules
from tests.conftest import STACKS
from tests.harness import ROOT

NS = "llm-serving"
RELEASE = "prod-r1"
VERSION = "0.18.0"
SHA = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"vllm/vllm-openai:v{VERSION}@{DIGEST}"
SELECTOR = {conv.LABEL_NAME: "vllm", conv.LABEL_INSTANCE: RELEASE,
            conv.LABEL_COMPONENT: conv.COMPONENT_INFERENCE}
LABELS = {**SELECTOR, conv.LABEL_VERSION: VERSION, conv.LABEL_PART_OF: conv.PART_OF,
          conv.LABEL_MANAGED_BY: "pulumi"}
DEPLOYMENT, SERVICE = k8s.DEPLOYMENT, k8s.SERVICE
POLICIES = {policy.name: policy for policy in rules.ALL_POLICIES}


# --- builders: one compliant object of each kind --------------------------------------------

def probe(period=10.0, timeout=5.0, failures=3.0) -> dict:
    return {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": period,
            "timeoutSeconds": timeout, "failureThreshold": failures, "successThreshold": 1.0}


def security() -> dict:
    return {"allowPrivilegeEscalation": False, "privileged": False, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}}


def deployment() -> dict:
    """A compliant inference Deployment: TP 2, two replicas, Guaranteed QoS."""
    annotations = {
        conv.ANN_VLLM_VERSION: VERSION, conv.ANN_MODEL: "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B",
        conv.ANN_MODEL_REVISION: SHA, conv.ANN_ESTIMATED_LOAD_SECONDS: "600",
        conv.ANN_TENSOR_PARALLEL: "2", conv.ANN_PIPELINE_PARALLEL: "1",
        conv.ANN_DATA_PARALLEL: "1", conv.ANN_PRESTOP_SECONDS: "15",
        conv.ANN_SHUTDOWN_TIMEOUT_SECONDS: "60",
    }
    container = {
        "name": "vllm", "image": IMAGE,
        "args": ["--model", "/models", "--tensor-parallel-size", "2", "--shutdown-timeout", "60"],
        "ports": [{"name": "http", "containerPort": 8000.0}],
        "env": [
            {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "api", "key": "key"}}},
            {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
            {"name": "HF_HUB_DISABLE_IMPLICIT_TOKEN", "value": "1"},
            {"name": "HF_HUB_OFFLINE", "value": "1"},
        ],
        "resources": {
            "requests": {"nvidia.com/gpu": "2", "cpu": "8", "memory": "96Gi"},
            "limits": {"nvidia.com/gpu": "2", "cpu": "8000m", "memory": "96Gi"},
        },
        "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"},
                         {"name": "model", "mountPath": "/models", "readOnly": True}],
        "startupProbe": probe(failures=90.0),
        "readinessProbe": probe(failures=3.0),
        "livenessProbe": probe(failures=6.0),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "15"]}}},
        "securityContext": security(),
    }
    init = {
        "name": "wait-for-weights", "image": IMAGE, "command": ["sh", "-c", "test -f /m/done"],
        "resources": {"requests": {"cpu": "200m", "memory": "128Mi"},
                      "limits": {"cpu": "200m", "memory": "128Mi"}},
        "securityContext": security(),
    }
    spec = {
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 90.0,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 2000.0, "fsGroup": 2000.0},
        "topologySpreadConstraints": [{"maxSkew": 1.0, "topologyKey": "kubernetes.io/hostname",
                                       "whenUnsatisfiable": "DoNotSchedule",
                                       "labelSelector": {"matchLabels": SELECTOR}}],
        "containers": [container],
        "initContainers": [init],
        "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}},
                    {"name": "model", "persistentVolumeClaim": {"claimName": "weights"}}],
    }
    return {
        "metadata": {"name": RELEASE, "namespace": NS, "labels": dict(LABELS),
                     "annotations": annotations},
        "spec": {"replicas": 2.0, "selector": {"matchLabels": SELECTOR},
                 "template": {"metadata": {"labels": dict(LABELS)}, "spec": spec}},
    }


def service() -> dict:
    return {"metadata": {"name": RELEASE, "namespace": NS, "labels": dict(LABELS)},
            "spec": {"type": "ClusterIP", "selector": dict(SELECTOR),
                     "ports": [{"name": "http", "port": 8000.0, "targetPort": "http"}]}}


def pdb() -> dict:
    return {"metadata": {"name": RELEASE, "namespace": NS, "labels": dict(LABELS)},
            "spec": {"maxUnavailable": 1.0, "selector": {"matchLabels": dict(SELECTOR)}}}


def network_policy() -> dict:
    return {"metadata": {"name": RELEASE, "namespace": NS},
            "spec": {"podSelector": {"matchLabels": dict(SELECTOR)}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                         "kubernetes.io/metadata.name": "monitoring"}}, "podSelector": {
                         "matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]}]}}


def service_monitor() -> dict:
    return {"metadata": {"name": RELEASE, "namespace": NS,
                         "labels": {**LABELS, "release": "kube-prometheus-stack"}},
            "spec": {"selector": {"matchLabels": dict(SELECTOR)},
                     "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}]}}


def prometheus_rule() -> dict:
    return {"metadata": {"name": RELEASE, "namespace": NS, "labels": dict(LABELS),
                         "annotations": {conv.ANN_VLLM_VERSION: VERSION}},
            "spec": {"groups": [{"name": "vllm", "rules": [
                {"alert": "VllmQueueDeep", "expr": "sum(vllm:num_requests_waiting) > 20",
                 "for": "2m"},
                {"alert": "VllmTtftSlow", "expr": "histogram_quantile(0.99, sum by (le) "
                 "(rate(vllm:time_to_first_token_seconds_bucket[5m]))) > 5"},
                {"record": "vllm:generation_tokens:rate5m",
                 "expr": "sum(rate(vllm:generation_tokens_total[5m]))"},
                {"alert": "VllmHung", "expr": "vllm:generation_tokens:rate5m == 0 and "
                 "sum(vllm:num_requests_running) > 0"},
            ]}]}}


def scaled_object() -> dict:
    return {"metadata": {"name": RELEASE, "namespace": NS, "labels": dict(LABELS),
                         "annotations": {conv.ANN_VLLM_VERSION: VERSION}},
            "spec": {"scaleTargetRef": {"name": RELEASE}, "minReplicaCount": 2.0,
                     "maxReplicaCount": 4.0,
                     "triggers": [{"type": "prometheus", "metadata": {
                         "serverAddress": "http://prometheus:9090", "threshold": "12",
                         "query": 'sum(vllm:num_requests_waiting{model_name="r1"}) + '
                                  'sum(vllm:num_requests_running{model_name="r1"})'}}]}}


def hpa() -> dict:
    return {"metadata": {"name": RELEASE, "namespace": NS},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": RELEASE},
                     "minReplicas": 2.0, "maxReplicas": 4.0}}


def dashboard() -> dict:
    board = {"panels": [{"targets": [{"expr": "sum(vllm:num_requests_running)"},
                                     {"expr": "sum(rate(vllm:prompt_tokens_total[5m]))"}]}]}
    return {"metadata": {"name": f"{RELEASE}-dashboard", "namespace": "monitoring",
                         "labels": {**LABELS, "grafana_dashboard": "1"}},
            "data": {"vllm.json": json.dumps(board)}}


def download_job() -> dict:
    return {"metadata": {"name": f"{RELEASE}-download", "namespace": NS},
            "spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 1000.0},
                "containers": [{
                    "name": "download", "image": f"python:3.11-slim@{DIGEST}",
                    "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
                        "name": "hf", "key": "token"}}}],
                    "securityContext": {"allowPrivilegeEscalation": False},
                }]}}}}


def stack() -> list[dict]:
    """A compliant stack as recorded resources: {type, name, props}."""
    return [
        {"type": DEPLOYMENT, "name": "vllm", "props": deployment()},
        {"type": SERVICE, "name": "vllm-svc", "props": service()},
        {"type": k8s.PDB, "name": "vllm-pdb", "props": pdb()},
        {"type": k8s.NETWORK_POLICY, "name": "vllm-netpol", "props": network_policy()},
        {"type": k8s.SERVICE_MONITOR, "name": "vllm-sm", "props": service_monitor()},
        {"type": k8s.PROMETHEUS_RULE, "name": "vllm-rules", "props": prometheus_rule()},
        {"type": k8s.SCALED_OBJECT, "name": "vllm-keda", "props": scaled_object()},
        {"type": k8s.CONFIG_MAP, "name": "vllm-dashboard", "props": dashboard()},
        {"type": k8s.JOB, "name": "download", "props": download_job()},
        {"type": "kubernetes:core/v1:Secret", "name": "api",
         "props": {"metadata": {"name": "api", "namespace": NS},
                   "stringData": {"key": "sk-" + "x" * 40}}},
        {"type": "pulumi:providers:kubernetes", "name": "k8s", "props": {}},
    ]


# --- drivers: the SDK's own argument types --------------------------------------------------

def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def urn_of(resource_type: str, name: str) -> str:
    return f"urn:pulumi:test::vllm-serving::{resource_type}::{name}"


def validate_resource(policy_name: str, resource_type: str, props: dict,
                      config: dict | None = None, name: str = "vllm") -> list[str]:
    """Messages one resource policy reports for one object."""
    policy = POLICIES[policy_name]
    assert isinstance(policy, ResourceValidationPolicy)
    reported: list[str] = []
    args = ResourceValidationArgs(resource_type, unknown_checking_proxy(copy.deepcopy(props)),
                                  urn_of(resource_type, name), name, _opts(), None, config)
    policy.validate(args, lambda message, urn=None: reported.append(message))
    return reported


def validate_stack(policy_name: str, resources: list[dict],
                   config: dict | None = None) -> list[tuple[str, str | None]]:
    """(message, urn) pairs one stack policy reports."""
    policy = POLICIES[policy_name]
    assert isinstance(policy, StackValidationPolicy)
    subjects = [PolicyResource(r["type"], unknown_checking_proxy(copy.deepcopy(r["props"])),
                               urn_of(r["type"], r["name"]), r["name"], _opts(), None, None, [], {})
                for r in resources]
    reported: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs(subjects, config),
                    lambda message, urn=None: reported.append((message, urn)))
    return reported


def engine(props: dict) -> dict:
    return props["spec"]["template"]["spec"]["containers"][0]


def pod(props: dict) -> dict:
    return props["spec"]["template"]["spec"]


def replace(resources: list[dict], resource_type: str, props: dict) -> list[dict]:
    return [dict(r, props=props) if r["type"] == resource_type else r for r in resources]


def without(resources: list[dict], resource_type: str) -> list[dict]:
    return [r for r in resources if r["type"] != resource_type]



# --- a two-node group and a message check ------------------------------------------------

def assert_names_the_object(rule: str, change, opening: str) -> None:
    """A Deployment broken by `change` is refused by `rule` in a message that opens with
    Kind 'namespace/name' then `opening`, or with 'pulumi-name' (Pulumi name) when the object
    has no metadata.name."""
    props = deployment()
    change(props)
    [message] = validate_resource(rule, DEPLOYMENT, props, name="r1-engine")
    assert message.startswith(f"Deployment '{NS}/{RELEASE}'{opening}"), message
    props = deployment()
    del props["metadata"]["name"]
    change(props)
    [message] = validate_resource(rule, DEPLOYMENT, props, name="r1-engine")
    assert message.startswith(f"Deployment 'r1-engine' (Pulumi name){opening}"), message


def group_template(props: dict, role: str) -> dict:
    """A LeaderWorkerSet's `leader` or `worker` pod template."""
    return props["spec"]["leaderWorkerTemplate"][f"{role}Template"]


def group_engine(props: dict, role: str) -> dict:
    """The engine container of a LeaderWorkerSet's leader or worker template."""
    return group_template(props, role)["spec"]["containers"][0]


def leader_worker_set(tp: int = 8, gpus: str = "8", restart=None, startup=None, worker_probe=False):
    """A two-node LeaderWorkerSet: leader serving, worker --headless."""
    props = deployment()
    template = props["spec"].pop("template")
    props["metadata"]["annotations"][conv.ANN_TENSOR_PARALLEL] = str(tp)
    worker = copy.deepcopy(template)
    for part in (template, worker):
        engine = part["spec"]["containers"][0]
        engine["resources"]["requests"]["nvidia.com/gpu"] = gpus
        engine["resources"]["limits"]["nvidia.com/gpu"] = gpus
        engine["args"] = ["--tensor-parallel-size", str(tp), "--nnodes", "2"]
    worker_engine = worker["spec"]["containers"][0]
    worker_engine["args"].append("--headless")
    if not worker_probe:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            worker_engine.pop(probe, None)
    lwt = {"size": 2.0, "leaderTemplate": template, "workerTemplate": worker}
    if restart is not None:
        lwt["restartPolicy"] = restart
    props["spec"] = {"replicas": 1.0, "leaderWorkerTemplate": lwt}
    if startup is not None:
        props["spec"]["startupPolicy"] = startup
    return props


# --- the real stacks as the pack sees them ------------------------------------------------

CONFIGS = {stack: (offline.load_config(ROOT / "policy" / "config" / f"{stack}.json")
                  if (ROOT / "policy" / "config" / f"{stack}.json").exists() else {})
           for stack in STACKS}
"""Each stack's --policy-pack-config; a stack without one runs the pack's defaults."""


def recorded_resources(run) -> list[dict]:
    """A mock run's resources as the offline runner reads them: {type, name, props}, props a
    deep copy so a test may break them."""
    return [{"type": r.type, "name": r.name, "props": copy.deepcopy(r.inputs)}
            for r in run.resources]
