"""The traffic rules (policy/traffic_checks.py) on a synthetic router and edge, one requirement
per test: every timeout in front of the engine covers its longest request, every body limit
admits its largest prompt, and the router reads its keys from Secrets.

The objects are shaped like prod's rendered ones (tests/planning/test_traffic.py): the engine's longest
request is 338 s, LiteLLM's timeout 398 s with a 70 s stream timeout, the edge's 408 s, the
router's grace period 428 s and the largest body 262 144 bytes. Rules are driven through the
pack's own policies with pulumi-policy's argument types (tests/policy/conftest.py).
"""

from __future__ import annotations

import json

import pytest
import yaml

from facts import conventions as conv
from policy import k8s, traffic_checks as tc
from tests.policy.conftest import NS, urn_of, deployment, validate_stack

TIMEOUTS = "router-timeouts-cover-longest-request"
BODY = "body-limit-covers-largest-prompt"
KEYS = "router-keys-from-secrets"
ROUTER = "prod-r1-router"
CONFIG = "prod-r1-router-config"
LONGEST = "338"
LARGEST = "262144"
EDGE_ANNOTATIONS = {conv.ANN_LONGEST_REQUEST_SECONDS: LONGEST, conv.ANN_MAX_BODY_BYTES: LARGEST}


# --- builders: prod's traffic objects, compliant ------------------------------------------

def litellm(timeout=398.0, stream_timeout=70.0) -> dict:
    """LiteLLM's config.yaml: the engine first, then a cloud fallback; keys from the env."""
    return {
        "model_list": [
            {"model_name": "r1", "litellm_params": {
                "model": "hosted_vllm/r1", "api_base": f"http://prod-r1.{NS}.svc:8000/v1",
                "api_key": "os.environ/VLLM_API_KEY", "timeout": timeout}},
            {"model_name": "r1", "litellm_params": {
                "model": "openai/gpt-4o", "api_base": "https://api.openai.com/v1",
                "api_key": "os.environ/PROVIDER_OPENAI_API_KEY", "timeout": timeout}},
        ],
        "router_settings": {"routing_strategy": "simple-shuffle", "timeout": timeout,
                            "stream_timeout": stream_timeout},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY",
                             "custom_auth": "vllm_serving_auth.user_api_key_auth"},
    }


def config_map(config: dict | None = None, clients: dict | None = None, name=CONFIG,
               namespace=NS) -> dict:
    data = {"config.yaml": yaml.safe_dump(litellm() if config is None else config,
                                          sort_keys=False),
            "clients.json": json.dumps({"clients": [], "maxBodyBytes": 262144}
                                       if clients is None else clients)}
    return {"metadata": {"name": name, "namespace": namespace}, "data": data}


def secret_env(name: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": "keys", "key": name.lower()}}}


def router(config=CONFIG, grace=428.0) -> dict:
    """The LiteLLM Deployment: router label on its pods, the ConfigMap at its config volume."""
    labels = {conv.LABEL_NAME: "vllm", conv.LABEL_INSTANCE: "prod-r1",
              conv.LABEL_COMPONENT: conv.COMPONENT_ROUTER}
    spec = {"terminationGracePeriodSeconds": grace,
            "containers": [{
                "name": "litellm", "image": "ghcr.io/berriai/litellm:main-v1.82.6",
                "env": [{"name": "VLLM_SERVING_ROUTER_SETTINGS", "value": "/config/clients.json"},
                        secret_env("LITELLM_MASTER_KEY"), secret_env("VLLM_API_KEY"),
                        secret_env("PROVIDER_OPENAI_API_KEY")],
                "volumeMounts": [{"name": "config", "mountPath": "/config", "readOnly": True}],
                "lifecycle": {"preStop": {"exec": {"command": ["sleep", "15"]}}}}],
            "volumes": [{"name": "config", "configMap": {"name": config}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]}
    if grace is None:
        del spec["terminationGracePeriodSeconds"]
    return {"metadata": {"name": ROUTER, "namespace": NS, "labels": dict(labels),
                         "annotations": dict(EDGE_ANNOTATIONS)},
            "spec": {"replicas": 1.0, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": spec}}}


def route(*requests) -> dict:
    """The HTTPRoute to the router; one rule per given request timeout (default 408s)."""
    rules = [{"name": "openai", "backendRefs": [{"name": ROUTER, "port": 4000.0}],
              "timeouts": {"request": request, "backendRequest": request}}
             for request in (requests or ("408s",))]
    return {"metadata": {"name": "prod-r1", "namespace": NS,
                         "annotations": dict(EDGE_ANNOTATIONS)},
            "spec": {"parentRefs": [{"name": "prod-r1-gateway"}], "rules": rules}}


def backend_policy(request="408s", idle="408s", buffer=262144.0,
                   request_buffer="256Ki") -> dict:
    """The route's idle timer as long as its request timeout (the router is silent until its
    answer starts), and the body cap (requestBuffer) at the largest body."""
    return {"metadata": {"name": "prod-r1", "namespace": NS,
                         "annotations": dict(EDGE_ANNOTATIONS)},
            "spec": {"targetRefs": [{"kind": "HTTPRoute", "name": "prod-r1"}],
                     "timeout": {"http": {"requestTimeout": request,
                                          "streamIdleTimeout": idle}},
                     "connection": {"bufferLimit": buffer},
                     "requestBuffer": {"limit": request_buffer}}}


def client_policy(buffer=262144.0) -> dict:
    return {"metadata": {"name": "prod-r1-gateway", "namespace": NS,
                         "annotations": dict(EDGE_ANNOTATIONS)},
            "spec": {"targetRefs": [{"kind": "Gateway", "name": "prod-r1-gateway"}],
                     "connection": {"bufferLimit": buffer},
                     "timeout": {"http": {"streamIdleTimeout": "70s"}}}}


def traffic(**props) -> list[dict]:
    """prod's traffic layer as recorded resources; `name=props` replaces one object's props."""
    objects = {
        "config": (k8s.CONFIG_MAP, config_map()),
        "engine": (k8s.DEPLOYMENT, deployment()),
        "router": (k8s.DEPLOYMENT, router()),
        "route": (tc.HTTP_ROUTE, route()),
        "backend": (tc.BACKEND_POLICY, backend_policy()),
        "client": (tc.CLIENT_POLICY, client_policy()),
    }
    out = []
    for name, (resource_type, default) in objects.items():
        value = props.get(name, default)
        if value is not None:
            out.append({"type": resource_type, "name": name, "props": value})
    return out


def urn(name: str, resource_type: str) -> str:
    return urn_of(resource_type, name)


ROUTER_URN = urn("router", k8s.DEPLOYMENT)
CONFIG_URN = urn("config", k8s.CONFIG_MAP)
ROUTE_URN = urn("route", tc.HTTP_ROUTE)
BACKEND_URN = urn("backend", tc.BACKEND_POLICY)
CLIENT_URN = urn("client", tc.CLIENT_POLICY)


def messages(rule: str, resources: list[dict]) -> list[str]:
    return [message for message, _ in validate_stack(rule, resources)]


# --- the helpers: Gateway API durations and Kubernetes sizes --------------------------------

@pytest.mark.parametrize("text, value", [("408s", 408.0), ("6m48s", 408.0), ("1h", 3600.0),
                                         ("250ms", 0.25), ("1h2m3s500ms", 3723.5),
                                         ("0s", 0.0)])
def test_gateway_api_durations_read_as_seconds(text, value):
    assert tc.seconds(text) == value


@pytest.mark.parametrize("text", ["408", "15 s", "1.5s", "s", "", "1d", "6m48", 408.0, None])
def test_what_is_no_gateway_api_duration_reads_as_none(text):
    assert tc.seconds(text) is None


@pytest.mark.parametrize("value, size", [(262144.0, 262144.0), (262144, 262144.0),
                                         ("262144", 262144.0), ("256Ki", 262144.0),
                                         ("2Mi", 2097152.0), ("1Gi", 1073741824.0),
                                         ("300k", 300000.0), ("3M", 3e6), ("2G", 2e9),
                                         ("1.5Mi", 1572864.0), ("1Ti", 2.0**40), ("1e6", 1e6)])
def test_body_sizes_read_as_bytes(value, size):
    assert tc.size_bytes(value) == size


@pytest.mark.parametrize("value", ["256KiB", "Ki", "lots", "", None, ["256Ki"], True])
def test_what_is_no_size_reads_as_none(value):
    assert tc.size_bytes(value) is None


# --- the compliant layer --------------------------------------------------------------------

@pytest.mark.parametrize("rule", [TIMEOUTS, BODY, KEYS])
def test_prods_traffic_layer_passes_every_traffic_rule(rule):
    assert validate_stack(rule, traffic()) == []


def test_a_stack_without_router_or_edge_has_nothing_to_check():
    resources = traffic(config=None, router=None, route=None, backend=None, client=None)
    for rule in (TIMEOUTS, BODY, KEYS):
        assert validate_stack(rule, resources) == []


# --- router-timeouts-cover-longest-request: the router ---------------------------------------

def test_a_router_timeout_shorter_than_the_longest_request_is_caught():
    config = litellm(timeout=337.0)
    for entry in config["model_list"]:
        del entry["litellm_params"]["timeout"]
    assert validate_stack(TIMEOUTS, traffic(config=config_map(config))) == [(
        "Deployment 'llm-serving/prod-r1-router': LiteLLM router_settings.timeout is 337.0, "
        "under the longest request (338 s); a long generation would be cut. Set it to at "
        "least that.", ROUTER_URN)]


def test_a_router_timeout_equal_to_the_longest_request_is_enough():
    resources = traffic(config=config_map(litellm(timeout=338.0)), router=router(grace=354.0))
    assert validate_stack(TIMEOUTS, resources) == []


def test_each_models_own_timeout_must_cover_the_longest_request_too():
    # LiteLLM applies a model's litellm_params.timeout to its calls, over router_settings.
    config = litellm()
    config["model_list"][1]["litellm_params"]["timeout"] = 30.0
    assert validate_stack(TIMEOUTS, traffic(config=config_map(config))) == [(
        "Deployment 'llm-serving/prod-r1-router': LiteLLM model_list[1] ('r1') sets "
        "litellm_params.timeout 30.0, under the longest request (338 s); that model's long "
        "generations would be cut. Set it to at least that, or leave it out to use "
        "router_settings.timeout.", ROUTER_URN)]
    config["model_list"][1]["litellm_params"]["timeout"] = "600"
    assert "sets litellm_params.timeout '600'" in messages(TIMEOUTS,
                                                           traffic(config=config_map(config)))[0]
    del config["model_list"][1]["litellm_params"]["timeout"]      # router_settings applies
    assert validate_stack(TIMEOUTS, traffic(config=config_map(config))) == []


@pytest.mark.parametrize("timeout", [None, "398"])
def test_a_router_timeout_that_is_unset_or_no_number_is_caught(timeout):
    config = litellm()
    if timeout is None:
        del config["router_settings"]["timeout"]
    else:
        config["router_settings"]["timeout"] = timeout
    found = messages(TIMEOUTS, traffic(config=config_map(config)))
    assert len(found) == 1 and f"router_settings.timeout is {timeout!r}" in found[0]


def test_models_with_their_own_timeouts_still_need_the_routers():
    config = litellm()
    config["router_settings"] = {"stream_timeout": 70.0}     # the model list still says 398
    found = messages(TIMEOUTS, traffic(config=config_map(config)))
    assert len(found) == 1 and "router_settings.timeout is None" in found[0]


@pytest.mark.parametrize("settings", [None, {}])
def test_a_router_without_router_settings_has_neither_timeout(settings):
    config = litellm()
    config["router_settings"] = settings
    found = messages(TIMEOUTS, traffic(config=config_map(config)))
    assert len(found) == 2
    assert "router_settings.timeout is None" in found[0]
    assert "stream_timeout is not set" in found[1]


@pytest.mark.parametrize("stream_timeout", [None, "70s"])
def test_a_router_without_a_numeric_stream_timeout_is_caught(stream_timeout):
    resources = traffic(config=config_map(litellm(stream_timeout=stream_timeout)))
    assert validate_stack(TIMEOUTS, resources) == [(
        "Deployment 'llm-serving/prod-r1-router': LiteLLM router_settings.stream_timeout is "
        "not set, so a stalled stream holds its connection until the total timeout; set it "
        "to the time to first token.", ROUTER_URN)]


@pytest.mark.parametrize("data", [{"config.yaml": "router_settings: [timeout: 398",
                                   "clients.json": "{}"},
                                  {"config.yaml": "", "clients.json": "{}"},
                                  {"clients.json": "{}"}, {}])
def test_a_router_config_that_cannot_be_read_or_is_empty_states_no_timeout(data):
    broken = config_map()
    broken["data"] = data
    found = messages(TIMEOUTS, traffic(config=broken))
    assert len(found) == 2 and "timeout is None" in found[0]


def test_a_broken_clients_json_does_not_hide_the_timeouts_of_config_yaml():
    broken = config_map()
    broken["data"]["clients.json"] = "{maxBodyBytes: 262144"
    assert validate_stack(TIMEOUTS, traffic(config=broken)) == []


def test_a_router_config_without_clients_json_still_states_its_timeouts():
    readable = config_map()
    del readable["data"]["clients.json"]
    assert validate_stack(TIMEOUTS, traffic(config=readable)) == []


def test_a_router_whose_config_map_is_missing_has_no_timeout():
    found = messages(TIMEOUTS, traffic(config=None))
    assert len(found) == 2 and "router_settings.timeout is None" in found[0]


def test_a_router_reads_the_config_map_of_its_own_namespace_only():
    elsewhere = config_map(namespace="other")
    found = messages(TIMEOUTS, traffic(config=elsewhere))
    assert len(found) == 2 and "router_settings.timeout is None" in found[0]


def test_a_router_reads_the_config_map_named_by_its_config_volume():
    found = messages(TIMEOUTS, traffic(router=router(config="another-config")))
    assert len(found) == 2 and "router_settings.timeout is None" in found[0]


def test_only_a_config_map_is_read_as_the_router_config():
    """A Secret of the ConfigMap's name and namespace is not the router's config."""
    resources = [dict(r, type="kubernetes:core/v1:Secret") if r["name"] == "config" else r
                 for r in traffic()]
    found = messages(TIMEOUTS, resources)
    assert len(found) == 2 and "router_settings.timeout is None" in found[0]


def test_a_router_without_the_longest_request_annotation_is_caught():
    for stated in ({conv.ANN_MAX_BODY_BYTES: LARGEST},
                   {**EDGE_ANNOTATIONS, conv.ANN_LONGEST_REQUEST_SECONDS: "long"},
                   {**EDGE_ANNOTATIONS, conv.ANN_LONGEST_REQUEST_SECONDS: ["338"]}):
        unstated = router()
        unstated["metadata"]["annotations"] = stated
        # Nothing else about it is judged: no timeout to compare with.
        unstated["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 1.0
        assert validate_stack(TIMEOUTS, traffic(router=unstated)) == [(
            f"Deployment 'llm-serving/prod-r1-router' does not state "
            f"{conv.ANN_LONGEST_REQUEST_SECONDS}, so its timeouts cannot be checked; set it to "
            "the engine's longest request.", ROUTER_URN)]


def test_the_longest_request_is_read_from_the_router_annotation():
    longer = router()
    longer["metadata"]["annotations"][conv.ANN_LONGEST_REQUEST_SECONDS] = "400"
    found = messages(TIMEOUTS, traffic(router=longer))
    # router_settings and both models at 398 s, each under 400 s.
    assert len(found) == 3 and all("under the longest request (400 s)" in m for m in found)


def test_a_router_is_found_by_its_pod_label_not_its_name_or_object_labels():
    unlabelled = router()
    unlabelled["spec"]["template"]["metadata"]["labels"][conv.LABEL_COMPONENT] = "inference"
    assert validate_stack(TIMEOUTS, traffic(router=unlabelled, config=None)) == []
    # The pod label alone makes it a router, whatever the Deployment's own labels.
    relabelled = router()
    relabelled["metadata"]["labels"] = {}
    assert len(messages(TIMEOUTS, traffic(router=relabelled, config=None))) == 2


def test_only_a_deployment_is_judged_as_a_router():
    resources = [dict(r, type=k8s.STATEFUL_SET) if r["name"] == "router" else r
                 for r in traffic(config=config_map(litellm(timeout=1.0)))]
    assert validate_stack(TIMEOUTS, resources) == []


def test_every_router_is_judged_after_unrelated_objects():
    """Objects before the router (a ConfigMap, an engine Deployment, a router that states no
    longest request) do not end the search."""
    unstated = router()
    unstated["metadata"]["name"] = "other-router"
    del unstated["metadata"]["annotations"][conv.ANN_LONGEST_REQUEST_SECONDS]
    config = litellm(timeout=100.0)
    config["model_list"] = []
    resources = traffic(config=config_map(config))
    resources.insert(1, {"type": k8s.DEPLOYMENT, "name": "first", "props": unstated})
    found = validate_stack(TIMEOUTS, resources)
    assert [urn_ for _, urn_ in found] == [urn("first", k8s.DEPLOYMENT), ROUTER_URN]
    assert "router_settings.timeout is 100.0" in found[1][0]


def test_the_router_config_is_the_config_map_the_router_container_mounts():
    two = router()
    two["spec"]["template"]["spec"]["volumes"].insert(
        0, {"name": "old", "configMap": {"name": "old-config"}})     # declared, not mounted
    old = config_map(litellm(timeout=1.0), name="old-config")
    resources = traffic(router=two) + [{"type": k8s.CONFIG_MAP, "name": "old", "props": old}]
    assert validate_stack(TIMEOUTS, resources) == []
    # A mounted ConfigMap without config.yaml (say, extra CA certificates) is not it either.
    two["spec"]["template"]["spec"]["containers"][0]["volumeMounts"].insert(
        0, {"name": "old", "mountPath": "/certs"})
    certs = config_map(name="old-config")
    certs["data"] = {"ca.crt": "-----BEGIN CERTIFICATE-----"}
    resources = traffic(router=two) + [{"type": k8s.CONFIG_MAP, "name": "old", "props": certs}]
    assert validate_stack(TIMEOUTS, resources) == []
    # A volume of a ConfigMap this stack does not create does not hide the one it does.
    external = router()
    external["spec"]["template"]["spec"]["volumes"].append(
        {"name": "ext", "configMap": {"name": "made-elsewhere"}})
    found = messages(TIMEOUTS, traffic(router=external, config=config_map(litellm(timeout=1.0))))
    assert any("router_settings.timeout is 1.0" in m for m in found), found


# --- router-timeouts-cover-longest-request: the grace period --------------------------------

def test_a_router_grace_period_must_exceed_its_prestop_and_its_timeout():
    # The router sleeps 15 s in preStop, then finishes streams of up to 398 s: 413 s.
    assert validate_stack(TIMEOUTS, traffic(router=router(grace=413.0))) == [(
        "Deployment 'llm-serving/prod-r1-router': terminationGracePeriodSeconds 413.0 does not "
        "exceed the preStop sleep (15 s) + the router timeout (398.0 s), so a rollout cuts "
        "running streams; set it above their sum.", ROUTER_URN)]
    assert validate_stack(TIMEOUTS, traffic(router=router(grace=414.0))) == []


def test_without_a_prestop_sleep_the_grace_period_must_exceed_the_timeout_alone():
    bare = router(grace=399.0)
    del bare["spec"]["template"]["spec"]["containers"][0]["lifecycle"]
    assert validate_stack(TIMEOUTS, traffic(router=bare)) == []
    bare["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 398.0
    assert "(0 s) + the router timeout" in messages(TIMEOUTS, traffic(router=bare))[0]


@pytest.mark.parametrize("grace", [None, "428"])
def test_a_router_grace_period_unset_or_no_number_is_caught(grace):
    found = messages(TIMEOUTS, traffic(router=router(grace=grace)))
    assert len(found) == 1 and f"terminationGracePeriodSeconds {grace!r} does not" in found[0]


def test_a_grace_period_is_not_judged_without_a_router_timeout():
    config = litellm()
    del config["router_settings"]["timeout"]
    found = messages(TIMEOUTS, traffic(config=config_map(config), router=router(grace=None)))
    assert len(found) == 1 and "router_settings.timeout is None" in found[0]


# --- router-timeouts-cover-longest-request: the HTTPRoute -----------------------------------

@pytest.mark.parametrize("request_timeout", ["15s", "337s", "5m37s", "1s", "500ms"])
def test_a_route_timeout_under_the_longest_request_is_caught(request_timeout):
    found = validate_stack(TIMEOUTS, traffic(route=route(request_timeout)))
    assert found == [(f"HTTPRoute 'llm-serving/prod-r1' rule 0: timeouts.request is "
                      f"{request_timeout!r}; Envoy Gateway's default is 15 s. Set it to at "
                      "least the longest request (338 s).", ROUTE_URN)]


@pytest.mark.parametrize("request_timeout", ["338s", "5m38s", "408s", "1h", "0s"])
def test_a_route_timeout_of_the_longest_request_or_more_or_none_at_all_passes(request_timeout):
    """0s switches the timeout off (Gateway API), which cuts nothing."""
    assert validate_stack(TIMEOUTS, traffic(route=route(request_timeout))) == []


@pytest.mark.parametrize("request_timeout", [None, "408", 408.0])
def test_a_route_without_a_readable_timeout_gets_envoys_15_s_and_is_caught(request_timeout):
    found = messages(TIMEOUTS, traffic(route=route(request_timeout)))
    assert len(found) == 1 and f"timeouts.request is {request_timeout!r}" in found[0]


def test_a_route_rule_without_timeouts_is_caught():
    bare = route()
    del bare["spec"]["rules"][0]["timeouts"]
    found = messages(TIMEOUTS, traffic(route=bare))
    assert len(found) == 1 and "rule 0: timeouts.request is None" in found[0]


def test_every_rule_of_a_route_is_judged_and_named_by_its_index():
    found = validate_stack(TIMEOUTS, traffic(route=route("408s", "15s", "10s")))
    assert [(m.split(": ")[0], u) for m, u in found] == [
        ("HTTPRoute 'llm-serving/prod-r1' rule 1", ROUTE_URN),
        ("HTTPRoute 'llm-serving/prod-r1' rule 2", ROUTE_URN)]


def test_the_longest_request_is_read_from_the_routes_own_annotation():
    longer = route("408s")
    longer["metadata"]["annotations"][conv.ANN_LONGEST_REQUEST_SECONDS] = "500"
    found = messages(TIMEOUTS, traffic(route=longer))
    assert len(found) == 1 and "(500 s)" in found[0]


def test_a_route_that_states_no_longest_request_is_not_judged_but_later_ones_are():
    foreign = route("15s")
    foreign["metadata"]["annotations"] = {}
    resources = traffic(route=foreign)
    resources.append({"type": tc.HTTP_ROUTE, "name": "second", "props": route("15s")})
    assert [u for _, u in validate_stack(TIMEOUTS, resources)] == [urn("second", tc.HTTP_ROUTE)]


def test_only_an_http_route_is_judged_as_a_route():
    resources = [dict(r, type="kubernetes:gateway.networking.k8s.io/v1:GRPCRoute")
                 if r["name"] == "route" else r for r in traffic(route=route("15s"))]
    assert validate_stack(TIMEOUTS, resources) == []


# --- router-timeouts-cover-longest-request: the BackendTrafficPolicy ------------------------

@pytest.mark.parametrize("request_timeout", ["15s", "337s", "1s", "500ms"])
def test_an_envoy_request_timeout_under_the_longest_request_is_caught(request_timeout):
    found = validate_stack(TIMEOUTS, traffic(backend=backend_policy(request=request_timeout)))
    assert found == [(f"BackendTrafficPolicy 'llm-serving/prod-r1': timeout.http.requestTimeout "
                      f"is {request_timeout!r}, under the longest request (338 s).",
                      BACKEND_URN)]


@pytest.mark.parametrize("request_timeout", ["338s", "408s", "0s"])
def test_an_envoy_request_timeout_of_the_longest_request_or_more_or_off_passes(request_timeout):
    assert validate_stack(TIMEOUTS, traffic(backend=backend_policy(request=request_timeout))) \
        == []


@pytest.mark.parametrize("request_timeout", [None, "408"])
def test_an_envoy_policy_without_a_readable_request_timeout_is_caught(request_timeout):
    found = messages(TIMEOUTS, traffic(backend=backend_policy(request=request_timeout)))
    assert len(found) == 1 and f"requestTimeout is {request_timeout!r}" in found[0]


@pytest.mark.parametrize("idle", [None, "70"])
def test_an_envoy_policy_without_a_stream_idle_timeout_is_caught(idle):
    found = validate_stack(TIMEOUTS, traffic(backend=backend_policy(idle=idle)))
    assert found == [("BackendTrafficPolicy 'llm-serving/prod-r1': timeout.http."
                      "streamIdleTimeout is not set; with a long request timeout Envoy Gateway "
                      "then keeps no idle deadline. Set it to the route's request timeout.",
                      BACKEND_URN)]


@pytest.mark.parametrize("idle,caught", [("70s", True), ("407s", True), ("408s", False),
                                         ("1h", False), ("0s", False)])
def test_an_envoy_idle_timer_shorter_than_the_request_timeout_is_caught(idle, caught):
    """A non-streamed answer is silent until complete: Envoy's route idle timer (408) must
    not fire before the request timeout."""
    found = messages(TIMEOUTS, traffic(backend=backend_policy(idle=idle)))
    assert bool(found) == caught and all("cuts it first" in m for m in found), found


@pytest.mark.parametrize("spec", [{}, {"timeout": {}}, {"timeout": {"http": None}}])
def test_an_envoy_policy_without_http_timeouts_is_caught_for_both(spec):
    bare = backend_policy()
    bare["spec"] = spec
    found = messages(TIMEOUTS, traffic(backend=bare))
    assert len(found) == 2 and "requestTimeout is None" in found[0]
    assert "streamIdleTimeout is not set" in found[1]


def test_the_longest_request_is_read_from_the_envoy_policys_own_annotation():
    longer = backend_policy()
    longer["metadata"]["annotations"][conv.ANN_LONGEST_REQUEST_SECONDS] = "500"
    found = messages(TIMEOUTS, traffic(backend=longer))
    assert len(found) == 1 and "(500 s)" in found[0]


def test_an_envoy_policy_that_states_no_longest_request_is_not_judged_but_later_ones_are():
    foreign = backend_policy(request="15s", idle=None)
    foreign["metadata"]["annotations"] = {}
    resources = traffic(backend=foreign)
    resources.append({"type": tc.BACKEND_POLICY, "name": "second",
                      "props": backend_policy(request="15s")})
    assert [u for _, u in validate_stack(TIMEOUTS, resources)] == \
        [urn("second", tc.BACKEND_POLICY)]


def test_only_a_backend_traffic_policy_is_judged_for_request_timeouts():
    """The ClientTrafficPolicy states the same annotations but has no request timeout."""
    resources = [dict(r, type=tc.CLIENT_POLICY) if r["name"] == "backend" else r
                 for r in traffic(backend=backend_policy(request="15s", idle=None))]
    assert validate_stack(TIMEOUTS, resources) == []


# --- body-limit-covers-largest-prompt: Envoy Gateway ----------------------------------------

@pytest.mark.parametrize("buffer", [262143.0, "255Ki", "262143", 32768.0])
def test_an_envoy_buffer_under_the_largest_body_is_caught(buffer):
    found = validate_stack(BODY, traffic(client=client_policy(buffer=buffer)))
    assert found == [(f"ClientTrafficPolicy 'llm-serving/prod-r1-gateway': connection."
                      f"bufferLimit is {buffer!r} (Envoy's default is 32 KiB), under the largest "
                      "prompt's body (262144 bytes): long prompts would get 413. Raise it.",
                      CLIENT_URN)]


@pytest.mark.parametrize("buffer", [262144.0, "256Ki", "262144", "1Mi"])
def test_an_envoy_buffer_of_the_largest_body_or_more_passes(buffer):
    resources = traffic(client=client_policy(buffer=buffer),
                        backend=backend_policy(buffer=buffer))
    assert validate_stack(BODY, resources) == []


@pytest.mark.parametrize("buffer", [None, "256 KiB"])
def test_an_envoy_buffer_unset_or_unreadable_is_caught_on_both_policies(buffer):
    resources = traffic(client=client_policy(buffer=buffer),
                        backend=backend_policy(buffer=buffer))
    assert [u for _, u in validate_stack(BODY, resources)] == [BACKEND_URN, CLIENT_URN]


def test_the_largest_body_is_read_from_the_envoy_policys_own_annotation():
    larger = client_policy()
    larger["metadata"]["annotations"][conv.ANN_MAX_BODY_BYTES] = "300000"
    found = messages(BODY, traffic(client=larger))
    assert len(found) == 1 and "(300000 bytes)" in found[0]


def test_an_envoy_policy_that_states_no_largest_body_is_not_judged_but_later_ones_are():
    foreign = backend_policy(buffer=None)
    foreign["metadata"]["annotations"] = {conv.ANN_LONGEST_REQUEST_SECONDS: LONGEST}
    assert [u for _, u in validate_stack(BODY, traffic(backend=foreign,
                                                       client=client_policy(buffer=None)))] \
        == [CLIENT_URN]


def test_only_envoy_policies_are_judged_for_buffers():
    resources = [dict(r, type="kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy")
                 if r["name"] == "client" else r for r in traffic(client=client_policy(1.0))]
    assert validate_stack(BODY, resources) == []


# --- body-limit-covers-largest-prompt: the router -------------------------------------------

@pytest.mark.parametrize("clients", [{"maxBodyBytes": 262143}, {}, {"maxBodyBytes": "256Ki"}])
def test_a_router_body_limit_under_unset_or_unreadable_is_caught(clients):
    found = validate_stack(BODY, traffic(config=config_map(clients=clients)))
    assert found == [(f"ConfigMap 'llm-serving/prod-r1-router-config': the router's maxBodyBytes "
                      f"is {clients.get('maxBodyBytes')!r}, under the largest prompt's body "
                      "(262144 bytes).", CONFIG_URN)]


@pytest.mark.parametrize("limit", [262144, 262144.0, 1048576])
def test_a_router_body_limit_of_the_largest_body_or_more_passes(limit):
    assert validate_stack(BODY, traffic(config=config_map(clients={"maxBodyBytes": limit}))) \
        == []


def test_an_unreadable_clients_json_has_no_body_limit():
    broken = config_map()
    broken["data"]["clients.json"] = "{maxBodyBytes: 262144"
    found = messages(BODY, traffic(config=broken))
    assert len(found) == 1 and "maxBodyBytes is None" in found[0]


def test_the_largest_body_is_read_from_the_router_annotation():
    larger = router()
    larger["metadata"]["annotations"][conv.ANN_MAX_BODY_BYTES] = "300000"
    found = messages(BODY, traffic(router=larger))
    assert len(found) == 1 and "(300000 bytes)" in found[0]


def test_a_router_body_limit_is_not_judged_without_annotation_or_config_map():
    unstated = router()
    del unstated["metadata"]["annotations"][conv.ANN_MAX_BODY_BYTES]
    assert validate_stack(BODY, traffic(router=unstated,
                                        config=config_map(clients={}))) == []
    assert validate_stack(BODY, traffic(config=None)) == []
    no_volume = router()
    no_volume["spec"]["template"]["spec"]["volumes"] = []
    assert validate_stack(BODY, traffic(router=no_volume)) == []


def test_every_router_is_judged_for_its_body_limit():
    """A router before it that states no largest body does not end the search."""
    unstated = router(config="first-config")
    del unstated["metadata"]["annotations"][conv.ANN_MAX_BODY_BYTES]
    first = config_map(clients={}, name="first-config")
    resources = [{"type": k8s.CONFIG_MAP, "name": "first-config", "props": first},
                 {"type": k8s.DEPLOYMENT, "name": "first", "props": unstated},
                 {"type": k8s.DEPLOYMENT, "name": "second", "props": router(config="none")}] \
        + traffic(config=config_map(clients={}))
    assert [u for _, u in validate_stack(BODY, resources)] == [CONFIG_URN]


# --- router-keys-from-secrets ---------------------------------------------------------------

def _with(config: dict) -> list[dict]:
    return traffic(config=config_map(config))


def test_a_literal_provider_key_in_the_router_config_is_caught():
    config = litellm()
    config["model_list"][1]["litellm_params"]["api_key"] = "sk-live-0123456789"
    assert validate_stack(KEYS, _with(config)) == [(
        "ConfigMap 'llm-serving/prod-r1-router-config': config.yaml "
        "model_list[1].litellm_params.api_key is a literal value; a ConfigMap is readable by "
        "anyone who can read the namespace. Write os.environ/<VAR> and fill <VAR> from a "
        "Secret.", CONFIG_URN)]


def test_literal_master_key_and_redis_password_are_caught_where_they_sit():
    config = litellm()
    config["general_settings"]["master_key"] = "sk-master"
    config["general_settings"]["coordination_redis"] = {"host": "redis", "password": "hunter2"}
    config["master_key"] = "sk-top"
    found = messages(KEYS, _with(config))
    assert [m.split("config.yaml ")[1].split(" is a literal")[0] for m in found] == [
        "general_settings.master_key", "general_settings.coordination_redis.password",
        "master_key"]


def test_other_literal_fields_and_non_string_keys_are_not_secrets():
    config = litellm()
    config["model_list"][0]["litellm_params"]["api_base"] = "literal-but-no-key"
    config["general_settings"]["api_key_header"] = "Authorization"
    assert validate_stack(KEYS, _with(config)) == []


def test_a_router_config_with_only_env_references_passes_and_each_must_come_from_a_secret():
    unset = router()
    env = unset["spec"]["template"]["spec"]["containers"][0]["env"]
    unset["spec"]["template"]["spec"]["containers"][0]["env"] = [
        e for e in env if e["name"] != "PROVIDER_OPENAI_API_KEY"]
    assert validate_stack(KEYS, traffic(router=unset)) == [(
        "Deployment 'llm-serving/prod-r1-router': the router config reads "
        "os.environ/PROVIDER_OPENAI_API_KEY, which the container mounting it does not set "
        "from a Secret (valueFrom.secretKeyRef); a variable of another container or an init "
        "container never reaches the router.", ROUTER_URN)]


@pytest.mark.parametrize("where", ["containers", "initContainers"])
def test_a_secret_variable_counts_only_in_the_container_that_reads_the_config(where):
    # os.environ/ resolves in the router process; a sidecar's or an init container's
    # environment never reaches it.
    moved = router()
    spec = moved["spec"]["template"]["spec"]
    env = spec["containers"][0]["env"]
    spec["containers"][0]["env"] = [e for e in env if e["name"] != "VLLM_API_KEY"]
    spec.setdefault(where, []).append({"name": "helper", "image": "busybox:1.36",
                                       "env": [secret_env("VLLM_API_KEY")]})
    found = messages(KEYS, traffic(router=moved))
    assert [m.split("os.environ/")[1].split(",")[0] for m in found] == ["VLLM_API_KEY"]


def test_an_init_container_mounting_the_config_is_not_the_router():
    early = router()
    spec = early["spec"]["template"]["spec"]
    env = spec["containers"][0]["env"]
    spec["containers"][0]["env"] = [e for e in env if e["name"] != "VLLM_API_KEY"]
    spec["initContainers"] = [{"name": "check", "image": "busybox:1.36",
                               "env": [secret_env("VLLM_API_KEY")],
                               "volumeMounts": [{"name": "config", "mountPath": "/config"}]}]
    found = messages(KEYS, traffic(router=early))
    assert [m.split("os.environ/")[1].split(",")[0] for m in found] == ["VLLM_API_KEY"]


def test_a_router_container_that_does_not_mount_the_config_reads_none_of_it():
    unmounted = router()
    del unmounted["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    found = messages(KEYS, traffic(router=unmounted))
    assert [m.split("os.environ/")[1].split(",")[0] for m in found] == [
        "LITELLM_MASTER_KEY", "PROVIDER_OPENAI_API_KEY", "VLLM_API_KEY"]


def test_a_variable_set_as_a_plain_value_or_from_a_config_map_is_not_from_a_secret():
    plain = router()
    env = plain["spec"]["template"]["spec"]["containers"][0]["env"]
    env[1] = {"name": "LITELLM_MASTER_KEY", "value": "sk-master"}
    env[2] = {"name": "VLLM_API_KEY", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}
    found = messages(KEYS, traffic(router=plain))
    assert [m.split("os.environ/")[1].split(",")[0] for m in found] == \
        ["LITELLM_MASTER_KEY", "VLLM_API_KEY"]


def test_every_missing_variable_is_reported_once_in_order():
    config = litellm()
    config["model_list"][0]["litellm_params"]["api_key"] = "os.environ/B_KEY_2"
    config["model_list"][1]["litellm_params"]["api_key"] = "os.environ/A_KEY"
    config["general_settings"]["also"] = ["os.environ/A_KEY"]
    found = messages(KEYS, _with(config))
    assert [m.split("os.environ/")[1].split(",")[0] for m in found] == ["A_KEY", "B_KEY_2"]


def test_a_router_without_its_config_map_has_no_keys_to_check():
    assert validate_stack(KEYS, traffic(config=None)) == []
    no_volume = router()
    no_volume["spec"]["template"]["spec"]["volumes"] = []
    assert validate_stack(KEYS, traffic(router=no_volume)) == []


def test_every_router_is_judged_for_its_keys():
    """A router before it without a ConfigMap does not end the search."""
    config = litellm()
    config["general_settings"]["master_key"] = "sk-master"
    resources = [{"type": k8s.DEPLOYMENT, "name": "first", "props": router(config="none")}] \
        + _with(config)
    assert [u for _, u in validate_stack(KEYS, resources)] == [CONFIG_URN]


def test_an_unreadable_router_config_is_reported_not_passed():
    broken = config_map()
    broken["data"]["config.yaml"] = "model_list: [api_key: sk-live"
    assert validate_stack(KEYS, traffic(config=broken)) == [(
        "ConfigMap 'llm-serving/prod-r1-router-config': config.yaml does not parse as YAML, so "
        "its keys cannot be checked (and LiteLLM would not start); fix the file.", CONFIG_URN)]
    # A second router after the unreadable one is still judged.
    literal = litellm()
    literal["general_settings"]["master_key"] = "sk-master"
    second = router(config="second-config")
    second["metadata"]["name"] = "second-router"
    resources = traffic(config=broken) + [
        {"type": k8s.DEPLOYMENT, "name": "second", "props": second},
        {"type": k8s.CONFIG_MAP, "name": "second-config",
         "props": config_map(literal, name="second-config")}]
    assert [u for _, u in validate_stack(KEYS, resources)] == [
        CONFIG_URN, urn("second-config", k8s.CONFIG_MAP)]
    # A broken clients.json does not hide config.yaml's keys.
    clients_broken = config_map()
    clients_broken["data"]["clients.json"] = "{not json"
    assert validate_stack(KEYS, traffic(config=clients_broken)) == []


def test_literal_keys_in_several_list_entries_are_all_caught():
    config = litellm()
    for entry in config["model_list"]:
        entry["litellm_params"]["api_key"] = "sk-pasted"
    found = messages(KEYS, _with(config))
    assert [m.split("config.yaml ")[1].split(" is a literal")[0] for m in found] == [
        "model_list[0].litellm_params.api_key", "model_list[1].litellm_params.api_key"]


def test_an_object_without_a_name_is_named_by_its_pulumi_name():
    nameless = route("15s")
    del nameless["metadata"]["name"]
    [(message, _)] = validate_stack(TIMEOUTS, traffic(route=nameless))
    assert message.startswith("HTTPRoute 'route' (Pulumi name) rule 0:")
