"""The engine fence's rules (policy/security_checks.py) case by case: no NetworkPolicy admits a
whole namespace to the engine port, and no HTTPRoute sends unguarded paths to the engine.

vLLM's API key guards only a few path prefixes (facts/vllm_features.py); /invocations serves
inference without it. Builders and drivers come from tests/policy/conftest.py; each test
changes one thing of the compliant stack and states what the rule must then say.
"""

from __future__ import annotations

import pytest

from facts import conventions as conv
from policy import k8s
from policy.traffic_checks import HTTP_ROUTE
from tests.policy.conftest import (
    DEPLOYMENT,
    NS,
    RELEASE,
    leader_worker_set,
    deployment,
    network_policy,
    replace,
    stack,
    validate_stack,
)

ADMITS = "engine-admits-named-pods"
ROUTES = "engine-route-guarded-paths"
MONITORING = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
PROMETHEUS = {**MONITORING,
              "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}


def _policy(*rules: dict, types=("Ingress",), selector=None) -> dict:
    props = network_policy()
    props["spec"]["ingress"] = list(rules)
    props["spec"]["policyTypes"] = list(types)
    if selector is not None:
        props["spec"]["podSelector"] = selector
    return props


def _fence(*rules: dict, **kw) -> list[tuple[str, str | None]]:
    return validate_stack(ADMITS, replace(stack(), k8s.NETWORK_POLICY, _policy(*rules, **kw)))


# --- engine-admits-named-pods ---------------------------------------------------------------

def test_the_compliant_stack_names_prometheus_pods():
    assert network_policy()["spec"]["ingress"][0]["from"] == [PROMETHEUS]
    assert validate_stack(ADMITS, stack()) == []


def test_a_namespace_without_a_pod_selector_is_refused():
    found = _fence({"from": [MONITORING], "ports": [{"port": 8000.0}]})
    assert len(found) == 1
    message, urn = found[0]
    assert "every pod of the namespaces" in message and "/invocations" in message
    assert "podSelector" in message and urn.endswith("vllm-netpol")


def test_an_empty_pod_selector_beside_the_namespace_is_refused():
    peer = {**MONITORING, "podSelector": {}}
    assert len(_fence({"from": [peer], "ports": [{"port": 8000.0}]})) == 1


def test_an_empty_pod_selector_alone_admits_its_whole_namespace():
    found = _fence({"from": [{"podSelector": {"matchLabels": {}}}], "ports": [{"port": 8000.0}]})
    assert len(found) == 1 and "its own namespace" in found[0][0]


@pytest.mark.parametrize("rule", [{}, {"ports": [{"port": "http"}]}],
                         ids=["empty rule", "no from"])
def test_a_rule_without_from_admits_every_source(rule):
    found = _fence(rule)
    assert len(found) == 1 and "every source" in found[0][0]


def test_an_address_range_names_no_pods():
    found = _fence({"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]})
    assert len(found) == 1 and "10.0.0.0/8" in found[0][0]


@pytest.mark.parametrize("ports", [
    [{"port": 8000.0}], [{"port": "http"}], [{"protocol": "TCP"}],
    [{"port": 7000.0, "endPort": 9000.0}], [{"port": 9090.0}, {"port": 8000.0}], None,
], ids=["number", "name", "every TCP port", "range", "second entry", "every port"])
def test_every_way_a_rule_reaches_the_engine_port_is_read(ports):
    rule = {"from": [MONITORING], **({"ports": ports} if ports else {})}
    assert len(_fence(rule)) == 1


@pytest.mark.parametrize("ports", [[{"port": 9090.0}], [{"port": "metrics"}],
                                   [{"port": 8001.0, "endPort": 8100.0}]])
def test_a_namespace_admitted_to_another_port_is_not_this_rules_concern(ports):
    assert _fence({"from": [MONITORING], "ports": ports}) == []


def test_named_pods_in_a_namespace_or_by_expression_are_accepted():
    by_expression = {**MONITORING, "podSelector": {"matchExpressions": [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": ["prometheus"]}]}}
    router = {"podSelector": {"matchLabels": {conv.LABEL_COMPONENT: conv.COMPONENT_ROUTER}}}
    assert _fence({"from": [PROMETHEUS, by_expression, router], "ports": [{"port": 8000.0}]}) == []


def test_a_policy_that_selects_other_pods_or_only_egress_is_not_the_engines_fence():
    other = {"matchLabels": {"app.kubernetes.io/name": "redis"}}
    assert _fence({"from": [MONITORING]}, selector=other) == []
    assert _fence({"from": [MONITORING]}, types=("Egress",)) == []


def test_a_policy_in_another_namespace_does_not_fence_the_engine():
    props = _policy({"from": [MONITORING]})
    props["metadata"]["namespace"] = "elsewhere"
    assert validate_stack(ADMITS, replace(stack(), k8s.NETWORK_POLICY, props)) == []


def test_a_group_worker_admitted_namespace_wide_is_refused_once():
    resources = [r for r in stack() if r["type"] != DEPLOYMENT] + [
        {"type": k8s.LEADER_WORKER_SET, "name": "vllm", "props": leader_worker_set()}]
    resources = replace(resources, k8s.NETWORK_POLICY, _policy({"from": [MONITORING]}))
    assert len(validate_stack(ADMITS, resources)) == 1


# --- engine-route-guarded-paths -------------------------------------------------------------

def _route(*rules: dict, version: str | None = "0.33.0") -> list[dict]:
    """The compliant stack at vLLM `version`, with an HTTPRoute of `rules` to its Service."""
    props = deployment()
    if version is None:
        del props["metadata"]["annotations"][conv.ANN_VLLM_VERSION]
    else:
        props["metadata"]["annotations"][conv.ANN_VLLM_VERSION] = version
    route = {"metadata": {"name": "engine", "namespace": NS},
             "spec": {"parentRefs": [{"name": "edge", "namespace": "gateway"}],
                      "rules": list(rules)}}
    return replace(stack(), DEPLOYMENT, props) + [
        {"type": HTTP_ROUTE, "name": "engine-route", "props": route}]


def _to_engine(*matches: dict, **rule) -> dict:
    out = {"backendRefs": [{"name": RELEASE, "port": 8000.0}], **rule}
    if matches:
        out["matches"] = list(matches)
    return out


def _prefix(value: str, kind: str = "PathPrefix") -> dict:
    return {"path": {"type": kind, "value": value}}


def test_a_route_to_v1_only_is_accepted():
    assert validate_stack(ROUTES, _route(_to_engine(_prefix("/v1")))) == []
    exact = _to_engine(_prefix("/v1/chat/completions", "Exact"))
    assert validate_stack(ROUTES, _route(exact)) == []


@pytest.mark.parametrize("matches, shown", [
    ((), "PathPrefix /"),
    (({},), "PathPrefix /"),
    (({"path": {"value": "/"}},), "PathPrefix /"),
    ((_prefix("/invocations", "Exact"),), "Exact /invocations"),
    ((_prefix("/v1"), _prefix("/tokenize")), "PathPrefix /tokenize"),
    ((_prefix("/v"),), "PathPrefix /v"),
    ((_prefix("/v1.*|/invocations", "RegularExpression"),),
     "RegularExpression /v1.*|/invocations"),
], ids=["no matches", "match without a path", "default type", "invocations", "tokenize",
        "prefix above v1", "regular expression"])
def test_a_route_reaching_an_unguarded_path_is_refused(matches, shown):
    found = validate_stack(ROUTES, _route(_to_engine(*matches)))
    assert len(found) == 1, found
    message, urn = found[0]
    assert shown in message and "/invocations" in message and f"'{RELEASE}'" in message
    assert urn.endswith("engine-route")


@pytest.mark.parametrize("where", ["rule", "backendRef"])
def test_a_rewrite_away_from_the_guarded_prefix_is_refused(where):
    rewrite = {"type": "URLRewrite", "urlRewrite": {"path": {
        "type": "ReplacePrefixMatch", "replacePrefixMatch": "/invocations"}}}
    rule = _to_engine(_prefix("/v1"))
    if where == "rule":
        rule["filters"] = [rewrite]
    else:
        rule["backendRefs"][0]["filters"] = [rewrite]
    found = validate_stack(ROUTES, _route(rule))
    assert len(found) == 1 and "URLRewrite to /invocations" in found[0][0]


def test_the_guarded_prefixes_follow_the_stated_vllm_version():
    cohere = _to_engine(_prefix("/cohere"))
    assert validate_stack(ROUTES, _route(cohere, version="0.33.0")) == []
    found = validate_stack(ROUTES, _route(cohere, version="0.26.0"))
    assert len(found) == 1 and "/v1, /v2, /inference" in found[0][0]


def test_without_a_stated_version_only_v1_counts_as_guarded():
    assert validate_stack(ROUTES, _route(_to_engine(_prefix("/v1")), version=None)) == []
    assert len(validate_stack(ROUTES, _route(_to_engine(_prefix("/v2")), version=None))) == 1


def test_routes_to_other_backends_are_not_this_rules_concern():
    router = {"backendRefs": [{"name": "prod-r1-router", "port": 4000.0}]}
    elsewhere = {"backendRefs": [{"name": RELEASE, "namespace": "other", "port": 8000.0}]}
    pool = {"backendRefs": [{"group": "inference.networking.k8s.io", "kind": "InferencePool",
                             "name": RELEASE}]}
    assert validate_stack(ROUTES, _route(router, elsewhere, pool)) == []


def test_a_route_from_another_namespace_naming_the_engine_is_read():
    resources = _route(_to_engine())
    route = resources[-1]["props"]
    route["metadata"]["namespace"] = "gateway"
    route["spec"]["rules"][0]["backendRefs"][0]["namespace"] = NS
    assert len(validate_stack(ROUTES, resources)) == 1

