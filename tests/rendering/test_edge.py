"""The edge (Gateway API and Envoy Gateway objects) against what the real tools do with them:
Envoy Gateway's translation into Envoy routes (tests/envoy_gateway.py, pinned here by its
own golden test data), the version floors (tests/stacks/test_cluster_versions.py),
pulumi-kubernetes' `pulumi.com/waitFor`, and TLS that can issue."""

from __future__ import annotations

import json
import re

import pytest

from planning.config import ConfigError, parse
from planning.plan import make_plan
from tests import envoy_gateway as eg
from tests.harness import stack_config


def _edge(run, kind: str, suffix: str = ""):
    found = [r for r in run.resources if r.type.endswith(f":{kind}") and r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def _object(resource) -> dict:
    """A recorded custom resource as the API server receives it."""
    _, api_version, kind = resource.type.split(":")
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": resource.metadata["name"]}, "spec": resource.inputs["spec"]}


# ------------------------------------------------ Envoy Gateway's translation, pinned upstream

GOLDEN_XDS = [
    # internal/xds/translator/testdata/in/xds-ir/http-route-timeout.yaml (IR, in seconds) →
    # out/xds-ir/http-route-timeout.routes.yaml (Envoy route fields).
    ("first-route", {"traffic": {"timeout": {"http": {
        "requestTimeout": 5, "maxStreamDuration": 30, "streamIdleTimeout": 20}}}}, None,
     {"timeout": 5, "idleTimeout": 20, "maxStreamDuration": 30}),
    ("second-route", {"traffic": {"timeout": {"http": {
        "requestTimeout": 4000, "maxStreamDuration": 0}}}}, None,
     {"timeout": 4000, "idleTimeout": 4000, "maxStreamDuration": 0}),
    ("third-route", {"traffic": {"timeout": {"http": {"requestTimeout": 0}}}}, None,
     {"timeout": 0, "idleTimeout": 0}),
    ("forth-route", {"timeout": 10, "traffic": {"timeout": {"http": {"requestTimeout": 5}}}},
     None, {"timeout": 10, "idleTimeout": 3600}),
    ("fifth-route", {"timeout": 10}, None, {"timeout": 10, "idleTimeout": 3600}),
    ("sixth-route", {"timeout": 0}, None, {"timeout": 0, "idleTimeout": 0}),
    ("seventh-route", {"timeout": 0, "traffic": {"timeout": {"http": {"requestTimeout": 5}}}},
     None, {"timeout": 0, "idleTimeout": 0}),
    # second-listener: a ClientTrafficPolicy streamIdleTimeout (10s) on the listener, so the
    # route gets no idle timeout of its own.
    ("second-listener/first-route", {"traffic": {"timeout": {"http": {"requestTimeout": 5}}}},
     10, {"timeout": 5}),
    # in/xds-ir/request-buffer.yaml → out/xds-ir/request-buffer.routes.yaml
    ("request-buffer httproute-1", {"traffic": {"requestBuffer": {"limit": "4Mi"}}}, None,
     {"maxRequestBytes": 4194304}),
    ("request-buffer httproute-2", {"traffic": {"requestBuffer": {"limit": "8Mi"}}}, None,
     {"maxRequestBytes": 8388608}),
]


@pytest.mark.parametrize("name,ir,listener_idle,expected", GOLDEN_XDS,
                         ids=[case[0] for case in GOLDEN_XDS])
def test_the_translation_model_reproduces_envoy_gateways_golden_routes(
        name, ir, listener_idle, expected):
    assert eg.xds_route(ir, listener_idle) == expected


GOLDEN_LISTENERS = [
    # in/xds-ir/client-timeout.yaml → out/xds-ir/client-timeout.listeners.yaml (first-listener)
    ({"requestReceivedTimeout": "5s", "requestHeadersReceivedTimeout": "15s",
      "idleTimeout": "10s"},
     {"requestTimeout": 5, "requestHeadersTimeout": 15,
      "commonHttpProtocolOptions.idleTimeout": 10}),
    # in/xds-ir/client-stream-idle-timeout.yaml → out/.../client-stream-idle-timeout.listeners
    ({"requestReceivedTimeout": "5s", "idleTimeout": "10s", "streamIdleTimeout": "1h"},
     {"requestTimeout": 5, "commonHttpProtocolOptions.idleTimeout": 10,
      "streamIdleTimeout": 3600}),
]


@pytest.mark.parametrize("http,expected", GOLDEN_LISTENERS)
def test_the_listener_model_reproduces_envoy_gateways_golden_listeners(http, expected):
    assert eg.xds_listener({"timeout": {"http": http}}) == expected


GOLDEN_IR = [
    # internal/gatewayapi/testdata/backendtrafficpolicy-with-httproute-timeout.{in,out}.yaml:
    # rule timeouts.request 130s → IR route timeout 2m10s.
    ({"timeouts": {"request": "130s"}}, None, {"timeout": 130}),
    # backendtrafficpolicy-with-timeout.{in,out}.yaml (the Gateway-wide policy's http block).
    ({}, {"timeout": {"http": {"connectionIdleTimeout": "16s", "maxConnectionDuration": "17s",
                               "requestTimeout": "18s", "maxStreamDuration": "30s",
                               "streamIdleTimeout": "20s"}}},
     {"traffic": {"timeout": {"http": {"connectionIdleTimeout": 16, "maxConnectionDuration": 17,
                                       "requestTimeout": 18, "maxStreamDuration": 30,
                                       "streamIdleTimeout": 20}}}}),
    # backendtrafficpolicy-request-buffer.{in,out}.yaml
    ({}, {"requestBuffer": {"limit": "4Mi"}}, {"traffic": {"requestBuffer": {"limit": "4Mi"}}}),
]


@pytest.mark.parametrize("rule,policy,expected", GOLDEN_IR)
def test_the_policy_model_reproduces_envoy_gateways_golden_ir(rule, policy, expected):
    assert eg.ir_route(rule, policy) == expected


def test_a_request_buffer_is_refused_beside_an_upgrade_or_out_of_range():
    """internal/gatewayapi/backendtrafficpolicy.go `buildRequestBuffer` and its caller; our
    rendered policy sets no httpUpgrade (tests below translate it)."""
    with pytest.raises(ValueError, match="httpUpgrade"):
        eg.ir_route({}, {"requestBuffer": {"limit": "4Mi"}, "httpUpgrade": [{"type": "x"}]})
    with pytest.raises(ValueError, match="out of range"):
        eg.ir_route({}, {"requestBuffer": {"limit": "5Gi"}})


def test_a_backend_request_timeout_wins_unless_the_rule_retries():
    """internal/gatewayapi/route.go `processRouteTimeout`; a bad duration falls back to 15 s."""
    rule = {"timeouts": {"request": "30s", "backendRequest": "20s"}}
    assert eg.ir_route(rule) == {"timeout": 20}
    assert eg.ir_route({**rule, "retry": {"attempts": 2}}) == {"timeout": 30}
    assert eg.ir_route({"timeouts": {"request": "soon"}}) == {"timeout": 15}


def _prod_edge_route(run) -> dict:
    """The Envoy route prod's API HTTPRoute and BackendTrafficPolicy become, on a listener
    whose ClientTrafficPolicy sets its own stream idle timeout."""
    route = _edge(run, "HTTPRoute", "-route").inputs["spec"]["rules"][0]
    policy = _edge(run, "BackendTrafficPolicy").inputs["spec"]
    client = _edge(run, "ClientTrafficPolicy").inputs["spec"]
    listener_idle = eg.seconds(client["timeout"]["http"]["streamIdleTimeout"])
    return eg.xds_route(eg.ir_route(route, policy), listener_idle)


def test_the_edge_outlasts_a_non_streamed_request_that_falls_back_to_the_cloud(runs):
    """A non-streamed request is silent until its answer: the local attempt runs out, then the
    cloud answers at the end of its own budget. Envoy's idle timer (408) and route timeout
    (504) must both still be running then, or the fallback never reaches the client."""
    plan = _prod_plan().traffic
    answer_at = plan.router_timeout_seconds + plan.cloud_attempt_seconds
    route = _prod_edge_route(runs["prod"])
    assert plan.cloud_attempt_seconds > 0          # prod's internal-default falls back
    assert route["idleTimeout"] > answer_at and route["timeout"] > answer_at
    assert route["idleTimeout"] >= plan.router_timeout_seconds + plan.stream_idle_seconds


def test_the_old_70_second_route_idle_timeout_would_cut_every_long_answer(runs):
    """The rule the fix rests on: the policy's streamIdleTimeout, not the request timeout,
    becomes the route's idle timer (prod rendered 70 s before: Envoy's "stream timeout")."""
    route = _edge(runs["prod"], "HTTPRoute", "-route").inputs["spec"]["rules"][0]
    policy = json.loads(json.dumps(_edge(runs["prod"], "BackendTrafficPolicy").inputs["spec"]))
    policy["timeout"]["http"]["streamIdleTimeout"] = "70s"
    assert eg.xds_route(eg.ir_route(route, policy))["idleTimeout"] == 70


def test_the_body_cap_is_envoys_buffer_filter_at_the_derived_limit(runs):
    """requestBuffer.limit becomes the route's buffer filter max_request_bytes (413 above);
    a max-length prompt of escaped CJK text fits under it."""
    plan = _prod_plan().traffic
    route = _prod_edge_route(runs["prod"])
    assert route["maxRequestBytes"] == plan.max_body_bytes
    text = "中文" * stack_config("prod")["model"]["maxModelLen"]
    body = json.dumps({"model": "internal-default", "messages": [
        {"role": "user", "content": text}]}).encode()
    assert len(body) <= route["maxRequestBytes"]


def _prod_plan():
    from planning.plan import make_plan
    return make_plan(parse(stack_config("prod")))


# ------------------------------------------------ measured inputs


def test_a_measured_bytes_per_token_replaces_the_assumed_figure():
    cfg = parse({**stack_config("prod"), "traffic": {**stack_config("prod")["traffic"],
                                                     "bytesPerToken": 6}})
    from planning.plan import make_plan
    plan = make_plan(cfg).traffic
    assert plan.max_body_bytes == 262_144
    assert "measured" in plan.reasons["body limit"]


@pytest.mark.parametrize("value", [True, 0, -3, 100, "many"])
def test_a_nonsense_bytes_per_token_is_refused(value):
    with pytest.raises(ConfigError) as error:
        parse({**stack_config("prod"), "traffic": {**stack_config("prod")["traffic"],
                                                   "bytesPerToken": value}})
    assert "bytesPerToken" in str(error.value)


def test_the_plan_says_which_inputs_are_assumed(capsys):
    from tools import plan as plan_tool
    assert plan_tool.main(["prod"]) == 0
    out = capsys.readouterr().out
    plan = make_plan(parse(stack_config("prod")))
    assert re.search(rf"edge idle\s+{plan.traffic.edge_idle_seconds} s", out)
    assert (f"input shutdown.perTokenMs = {plan.throughput.per_token_ms:g} ms (roofline"
            in out)
    assert "input traffic.bytesPerToken = 12 bytes (assumed" in out


def test_a_measured_per_token_time_is_shown_as_measured(capsys, monkeypatch):
    from tools import plan as plan_tool
    values = {**stack_values_with({"shutdown": {"perTokenMs": 55}}),
              "traffic": {"enabled": False}, "autoscaling": {"enabled": False}}
    monkeypatch.setattr(plan_tool, "stack_values", lambda stack: values)
    assert plan_tool.main(["staging"]) == 0
    out = capsys.readouterr().out
    assert "input shutdown.perTokenMs = 55 ms (measured)" in out
    assert "bytesPerToken" not in out and "Traffic layer" not in out     # no traffic layer


def stack_values_with(change: dict) -> dict:
    from planning.stack_files import stack_values
    from tools.mockrun import deep_merge
    return deep_merge(stack_values("staging"), change)


# ------------------------------------------------ pulumi.com/waitFor


def _wait_expressions(value: str) -> list[str]:
    """pulumi-kubernetes provider/pkg/metadata/overrides.go `ReadyCondition`: a JSON array of
    expressions (all must hold) or one expression; each `jsonpath=` or `condition=`."""
    try:
        values = json.loads(value)
    except ValueError:
        values = [value]
    assert values, "at least one condition must be specified"
    for expr in values:
        assert expr.startswith(("jsonpath=", "condition=")), expr
        if expr.startswith("jsonpath="):
            # provider/pkg/jsonpath/jsonpath.go `Parse`: split on "=" keeping "==", at most a
            # path and a value, the path in braces, no shell quotes.
            parts = expr.removeprefix("jsonpath=").replace("==", "\0").split("=")
            assert len(parts) <= 2 and all(parts), expr
            assert re.fullmatch(r"\{.*\}", parts[0]) and not parts[0].startswith("'"), expr
    return values


def _select(obj: dict, path: str) -> list:
    """The JSONPath subset the edge's waitFor uses: `.field`, `[*]`, `[?(@.k=="v")]`."""
    nodes = [obj]
    for step in re.findall(r'\.(\w+)|\[\*\]|\[\?\(@\.(\w+)=="([^"]*)"\)\]', path):
        field, key, want = step
        if field:
            nodes = [n[field] for n in nodes if isinstance(n, dict) and field in n]
        elif key:
            nodes = [item for n in nodes if isinstance(n, list) for item in n
                     if isinstance(item, dict) and item.get(key) == want]
        else:
            nodes = [item for n in nodes if isinstance(n, list) for item in n]
    return nodes


def _satisfied(expr: str, obj: dict) -> bool:
    """kubectl's condition check (provider/pkg/await/condition/kubectl.go `checkCondition`)
    or provider/pkg/jsonpath `Matches` (the first selected value equals the wanted one)."""
    if expr.startswith("condition="):
        kind, _, want = expr.removeprefix("condition=").partition("=")
        return any(c["type"].lower() == kind.lower() and c["status"].lower() ==
                   (want or "True").lower() for c in obj.get("status", {}).get("conditions", []))
    path, want = expr.removeprefix("jsonpath=").replace("==", "\0").split("=")
    found = _select(obj, path.replace("\0", "==").strip("{}"))
    return bool(found) and str(found[0]) == want


def _status(kind: str, **conditions: str) -> dict:
    listed = [{"type": k, "status": v} for k, v in conditions.items()]
    if kind == "HTTPRoute":
        return {"status": {"parents": [{"conditions": listed}]}}
    if kind.endswith("TrafficPolicy"):
        return {"status": {"ancestors": [{"conditions": listed}]}}
    return {"status": {"conditions": listed}}


@pytest.mark.parametrize("kind,ready,not_ready", [
    ("Gateway", {"Accepted": "True", "Programmed": "True"},
     {"Accepted": "True", "Programmed": "False"}),
    ("Certificate", {"Ready": "True"}, {"Ready": "False"}),
    ("HTTPRoute", {"Accepted": "True", "ResolvedRefs": "True"},
     {"Accepted": "True", "ResolvedRefs": "False"}),
    ("BackendTrafficPolicy", {"Accepted": "True"}, {"Accepted": "False"}),
    ("ClientTrafficPolicy", {"Accepted": "True"}, {}),
])
def test_pulumi_up_waits_until_each_edge_object_is_ready(runs, kind, ready, not_ready):
    for resource in (r for r in runs["prod"].resources if r.type.endswith(f":{kind}")):
        expressions = _wait_expressions(resource.metadata["annotations"]["pulumi.com/waitFor"])
        assert all(_satisfied(e, _status(kind, **ready)) for e in expressions), expressions
        assert not all(_satisfied(e, _status(kind, **not_ready)) for e in expressions)


# ------------------------------------------------ TLS that can issue


def test_the_gateway_answers_http_01_on_port_80_and_redirects_the_rest(runs):
    run = runs["prod"]
    listeners = _edge(run, "Gateway").inputs["spec"]["listeners"]
    http = [item for item in listeners if item["protocol"] == "HTTP"]
    assert http == [{"name": "http", "protocol": "HTTP", "port": 80,
                     "allowedRoutes": {"namespaces": {"from": "Same"}}}]
    redirect = _edge(run, "HTTPRoute", "-redirect").inputs["spec"]
    assert [p["sectionName"] for p in redirect["parentRefs"]] == ["http"]
    assert redirect["rules"][0]["filters"] == [{"type": "RequestRedirect", "requestRedirect": {
        "scheme": "https", "statusCode": 301}}]
    api = _edge(run, "HTTPRoute", "-route").inputs["spec"]
    assert all(p["sectionName"].startswith("https-") for p in api["parentRefs"])
    # The certificate is requested once the Gateway (and its HTTP listener) is up; the Gateway
    # does not wait for the certificate (it is Programmed without it).
    gateway, certificate = _edge(run, "Gateway"), _edge(run, "Certificate")
    assert gateway.key in certificate.options.depends_on
    assert certificate.key not in gateway.options.depends_on


def test_the_redirect_states_no_limits_it_does_not_forward(runs):
    annotations = _edge(runs["prod"], "HTTPRoute", "-redirect").metadata["annotations"]
    assert set(annotations) == {"pulumi.com/waitFor"}


def test_every_edge_object_validates_against_the_shared_schemas(runs):
    from tests.manifest_checks import custom_problems
    for resource in runs["prod"].resources:
        if resource.type.split(":")[-1] in ("Gateway", "HTTPRoute", "Certificate",
                                            "BackendTrafficPolicy", "ClientTrafficPolicy"):
            obj = {**_object(resource), "metadata": resource.metadata}
            assert custom_problems(obj) == [], resource.name
