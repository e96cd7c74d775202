"""The engine is reachable only by named pods: the router's where the stack has one, otherwise
the gateway's proxy pods, and Prometheus' own pods — each by a pod selector, never a whole
namespace (vLLM's /invocations, /tokenize and /metrics need no key: tests/facts/test_vllm_api_key.py).
The router's port the same way: the gateway's proxy pods and Prometheus' pods, so no other pod
skips the edge's body cap and per-address limit on its way to the router.

The default selectors are the labels the upstream controllers put on their pods, pinned here
with the upstream's own golden data, so a selector that stops matching them fails a test.
"""

from __future__ import annotations

import copy

import pulumi
import pytest

from planning.config import NetworkConfig
from policy import k8s
from planning.traffic import ROUTER_PORT
from rendering.vllm_args import PORT
from tests.conftest import STACKS
from tests.harness import run_program, run_stack, stack_config
from tests.transitions import second_up
from tools.mockrun import Run, cluster_config, deep_merge

NETWORK_POLICY = "networking.k8s.io/v1:NetworkPolicy"

ENVOY_PROXY_POD = {
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
    "app.kubernetes.io/name": "envoy",
    "gateway.envoyproxy.io/owning-gateway-name": "default",
    "gateway.envoyproxy.io/owning-gateway-namespace": "default",
}
"""spec.template.metadata.labels of envoyproxy/gateway's golden proxy Deployment,
internal/infrastructure/kubernetes/proxy/testdata/deployments/default.yaml (identical in v1.2.0,
v1.5.0 and v1.9.0), set by resource_provider.go `getPodLabels` from resource.go
`EnvoyAppLabel` plus the owning-gateway labels (gatewayapi/translator.go)."""
ENVOY_GATEWAY_CONTROLLER_POD = {
    "control-plane": "envoy-gateway", "app.kubernetes.io/name": "gateway-helm",
    "app.kubernetes.io/instance": "eg", "app.kubernetes.io/managed-by": "Helm",
}
"""The Envoy Gateway controller's pod (charts/gateway-helm/templates/envoy-gateway-deployment.yaml
with `eg.selectorLabels`, v1.9.0): it runs in the proxies' namespace but never proxies traffic."""
PROMETHEUS_OPERATOR_POD = {
    "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/managed-by": "prometheus-operator",
    "app.kubernetes.io/instance": "kube-prometheus-stack-prometheus",
    "prometheus": "kube-prometheus-stack-prometheus",
    "operator.prometheus.io/shard": "0",
    "operator.prometheus.io/name": "kube-prometheus-stack-prometheus",
}
"""Pod labels the Prometheus Operator sets on every Prometheus pod (prometheus-operator
pkg/prometheus/server/statefulset.go `makeStatefulSetSpec`, podSelectorLabels), for
kube-prometheus-stack's Prometheus named kube-prometheus-stack-prometheus."""
PROMETHEUS_CHART_SERVER_POD = {
    "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/component": "server",
    "app.kubernetes.io/instance": "prometheus",
}
"""The prometheus-community `prometheus` chart's server pod (charts/prometheus/templates/
_helpers.tpl `prometheus.server.matchLabels`): a Prometheus without the operator (staging)."""
GRAFANA_POD = {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "kps"}
"""Another pod of the monitoring namespace that must not reach the engine."""


WITHOUT_ROUTER = {"traffic": None, "autoscaling": None}
"""Staging without its traffic layer: the engine exposed to the gateway directly (README
"Exposing the engine without the router")."""


def _with_network(stack: str, router: bool = True, **keys) -> Run:
    """The stack run with these `network` keys replaced whole (a selector is not merged);
    `router` False: without its traffic layer, so the gateway's proxies are the engine's
    peers."""
    values = {**stack_config(stack), **cluster_config(stack)}
    if not router:
        values = deep_merge(values, WITHOUT_ROUTER)
    values["network"] = {**values["network"], **keys}
    return run_program(stack, values)


def _selects(peer: dict, pod: dict[str, str]) -> bool:
    return k8s.label_selector_matches(peer["podSelector"], pod)


def _http_peers(run: Run) -> list[dict]:
    spec = run.engine(NETWORK_POLICY).inputs["spec"]
    rules = [rule for rule in spec["ingress"] if rule.get("ports")]
    assert [rule["ports"] for rule in rules] == [[{"protocol": "TCP", "port": PORT}]]
    return rules[0]["from"]


def _namespaces(peer: dict) -> set[str]:
    (expression,) = peer["namespaceSelector"]["matchExpressions"]
    assert (expression["key"], expression["operator"]) == ("kubernetes.io/metadata.name", "In")
    return set(expression["values"])


# --- the defaults match the upstream pods -------------------------------------------------

def test_the_default_gateway_selector_matches_envoy_gateways_proxy_pods_only():
    peer = {"podSelector": {"matchLabels": NetworkConfig().gateway_pods}}
    assert _selects(peer, ENVOY_PROXY_POD)
    assert not _selects(peer, ENVOY_GATEWAY_CONTROLLER_POD)


@pytest.mark.parametrize("pod", [PROMETHEUS_OPERATOR_POD, PROMETHEUS_CHART_SERVER_POD],
                         ids=["prometheus-operator", "prometheus chart"])
def test_the_default_prometheus_selector_matches_prometheus_pods(pod):
    peer = {"podSelector": {"matchLabels": NetworkConfig().prometheus_pods}}
    assert _selects(peer, pod)
    assert not _selects(peer, GRAFANA_POD)


# --- every stack admits named pods only ----------------------------------------------------

def test_every_peer_of_the_engine_port_names_its_pods(run):
    """No peer admits a whole namespace (a namespaceSelector without a podSelector, or an
    empty podSelector): that would let any pod there call /invocations without a key."""
    for peer in _http_peers(run):
        assert set(peer) - {"namespaceSelector", "podSelector"} == set()
        assert peer["podSelector"]["matchLabels"], peer


def test_without_a_router_the_gateway_proxies_and_prometheus_reach_the_engine(runs):
    without_router = [run for run in runs.values() if not _has_router(run)]
    for run in without_router + [_with_network("staging", router=False)]:
        gateway, prometheus = _http_peers(run)
        assert _namespaces(gateway) == {"gateway"}
        assert _selects(gateway, ENVOY_PROXY_POD)
        assert not _selects(gateway, ENVOY_GATEWAY_CONTROLLER_POD)
        assert _namespaces(prometheus) == {"monitoring"}
        assert _selects(prometheus, PROMETHEUS_OPERATOR_POD)
        assert _selects(prometheus, PROMETHEUS_CHART_SERVER_POD)
        assert not _selects(prometheus, GRAFANA_POD)


def _has_router(run: Run) -> bool:
    return any(r.name.endswith("-router") for r in run.of_type("apps/v1:Deployment"))


def test_behind_the_router_only_the_router_and_prometheus_reach_the_engine(runs):
    run = runs["prod"]
    router, prometheus = _http_peers(run)
    router_pods = next(r for r in run.of_type("apps/v1:Deployment")
                       if r.name.endswith("-router")).inputs["spec"]["selector"]["matchLabels"]
    assert router == {"podSelector": {"matchLabels": router_pods}}
    assert _namespaces(prometheus) == {"monitoring"}
    assert _selects(prometheus, PROMETHEUS_OPERATOR_POD)
    assert not _selects(prometheus, ENVOY_PROXY_POD)


def test_a_narrower_gateway_selector_is_rendered_as_given():
    own = {"gateway.envoyproxy.io/owning-gateway-name": "edge",
           "app.kubernetes.io/component": "proxy"}
    run = _with_network("staging", router=False, gatewayPods=own)
    assert run.error is None, run.error
    assert _http_peers(run)[0]["podSelector"] == {"matchLabels": own}


def test_the_old_network_keys_alone_still_work():
    run = run_stack("staging", {"network": {"gatewayPods": None, "prometheusPods": None},
                                **WITHOUT_ROUTER})
    assert run.error is None, run.error
    gateway, prometheus = _http_peers(run)
    assert gateway["podSelector"]["matchLabels"] == NetworkConfig().gateway_pods
    assert prometheus["podSelector"]["matchLabels"] == NetworkConfig().prometheus_pods


@pytest.mark.parametrize("key", ["gatewayPods", "prometheusPods"])
def test_an_empty_pod_selector_is_refused_before_anything_exists(key):
    run = _with_network("staging", **{key: {}})
    assert isinstance(run.error, pulumi.RunError), run.error
    message = str(run.error)
    for fragment in (f"network.{key}", "every pod", "/invocations"):
        assert fragment in message, message
    assert run.resources == []


def test_a_selector_label_kubernetes_refuses_is_refused():
    run = run_stack("staging", {"network": {"prometheusPods": {"app name": "prometheus"}}})
    assert isinstance(run.error, pulumi.RunError) and "network.prometheusPods" in str(run.error)


# --- the router's port: the gateway's proxies and Prometheus, by selector -------------------

def _router_policy(run: Run):
    (policy,) = [r for r in run.of_type(NETWORK_POLICY)
                 if r.metadata["labels"].get("app.kubernetes.io/component") == "router"]
    return policy


def _router_peers(run: Run) -> list[dict]:
    rules = _router_policy(run).inputs["spec"]["ingress"]
    assert [rule["ports"] for rule in rules] == [[{"protocol": "TCP", "port": ROUTER_PORT}]]
    return rules[0]["from"]


def test_the_router_port_admits_the_gateway_proxies_and_prometheus_pods_only(runs):
    gateway, prometheus = _router_peers(runs["prod"])
    assert _namespaces(gateway) == {"gateway", "envoy-gateway-system"}
    assert _selects(gateway, ENVOY_PROXY_POD)
    assert not _selects(gateway, ENVOY_GATEWAY_CONTROLLER_POD)
    assert _namespaces(prometheus) == {"monitoring"}
    assert _selects(prometheus, PROMETHEUS_OPERATOR_POD)
    assert not _selects(prometheus, GRAFANA_POD)


def test_the_router_port_takes_the_same_selectors_as_the_engine():
    own = {"gateway.envoyproxy.io/owning-gateway-name": "edge"}
    run = _with_network("prod", gatewayPods=own)
    assert run.error is None, run.error
    assert _router_peers(run)[0]["podSelector"] == {"matchLabels": own}


# --- what the second `pulumi up` does ------------------------------------------------------

def _namespace_wide(run: Run) -> Run:
    """The run as the previous program rendered it: the same objects, with the engine's
    NetworkPolicy admitting whole namespaces (no podSelector on those peers)."""
    before = copy.deepcopy(run)
    spec = before.engine(NETWORK_POLICY).inputs["spec"]
    for rule in spec["ingress"]:
        for peer in rule["from"]:
            if "namespaceSelector" in peer:
                peer.pop("podSelector", None)
    return before


@pytest.mark.parametrize("stack", STACKS)
def test_upgrading_to_the_pod_fence_updates_only_the_network_policy_in_place(stack, runs):
    update = second_up(_namespace_wide(runs[stack]), runs[stack])
    assert update.hazards == []
    changed = [(s.kind, s.op, s.paths) for s in update.steps if s.op != "same"]
    assert [(kind, op) for kind, op, _ in changed] == [(NETWORK_POLICY, "update")]
    assert all(path.startswith("spec.ingress") for path in changed[0][2])


def _router_namespace_wide(run: Run) -> Run:
    """The run as the previous program rendered it: the router's NetworkPolicy admitting every
    pod of the gateway's and Prometheus' namespaces (one peer, no podSelector)."""
    before = copy.deepcopy(run)
    spec = _router_policy(before).inputs["spec"]
    namespaces = sorted(set().union(*(_namespaces(peer) for peer in spec["ingress"][0]["from"])))
    spec["ingress"][0]["from"] = [{"namespaceSelector": {"matchExpressions": [{
        "key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces}]}}]
    return before


def test_narrowing_the_router_port_updates_only_its_network_policy_in_place(runs):
    update = second_up(_router_namespace_wide(runs["prod"]), runs["prod"])
    assert update.hazards == []
    changed = [(s.kind, s.op, s.paths) for s in update.steps if s.op != "same"]
    assert [(kind, op) for kind, op, _ in changed] == [(NETWORK_POLICY, "update")]
    assert all(path.startswith("spec.ingress") for path in changed[0][2])
