"""The traffic layer's config, derived numbers and rendered objects (no router process: that
is tests/router/test_router_live.py)."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from facts import conventions as c
from planning import traffic as t
from planning.config import ConfigError, parse
from planning.plan import make_plan
from tests.harness import run_stack, stack_config


def _prod_traffic(**changes) -> dict:
    traffic = copy.deepcopy(stack_config("prod")["traffic"])
    traffic.update(changes)
    return traffic


def _by_kind(run, kind):
    return [r for r in run.resources if r.type.endswith(kind)]


def _api_route(run):
    """The route to the router (not the http→https redirect)."""
    return next(r for r in _by_kind(run, "HTTPRoute") if r.name.endswith("-route"))


# ---------------------------------------------------------------- derived numbers

def test_body_limit_admits_a_max_length_prompt_of_escaped_cjk_text():
    """Unmeasured, a token is assumed to take 12 bytes: up to two CJK characters, each a
    6-byte \\uXXXX escape in JSON."""
    assert t.ASSUMED_BYTES_PER_TOKEN == 12 == len(json.dumps("中文")) - len('""')
    assert t.max_body_bytes(32768) == 458_752 == 32768 * 12 + 65_536
    assert t.max_body_bytes(32768, 6) == 262_144
    assert t.max_body_bytes(1000) % 1024 == 0 and t.max_body_bytes(1000) >= 1000 * 12


def test_the_plan_carries_the_traffic_figures_and_none_without_a_traffic_layer():
    """The traffic budgets are a step of make_plan, derived from the same drain as the
    engine's grace period; a stack without a traffic layer has none."""
    prod = make_plan(parse(stack_config("prod")))
    assert prod.traffic is not None
    longest = prod.drain.longest_request_seconds      # 8192 tokens at the plan's per-token time
    assert prod.traffic.longest_request_seconds == longest
    attempt = longest + 60                            # + the router's queue wait
    assert (prod.traffic.max_body_bytes, prod.traffic.router_timeout_seconds,
            prod.traffic.edge_timeout_seconds, prod.traffic.router_grace_seconds,
            prod.traffic.router_startup_failures) == (
        458_752, attempt, 2 * attempt + 10, 15 + 2 * attempt + 15, 17)
    assert make_plan(parse({**stack_config("staging"), "traffic": {"enabled": False},
                            "autoscaling": {"enabled": False}})).traffic is None


def test_traffic_problems_are_refused_with_every_other_problem_of_the_plan():
    """One ConfigError lists the plan's problems and the traffic layer's together."""
    raw = stack_config("prod")
    traffic = _prod_traffic()
    traffic["aliases"] = [{**traffic["aliases"][0], "maxTokens": 20000}]
    raw = {**raw, "traffic": traffic, "model": {**raw["model"], "maxModelLen": 262144},
           "trafficSecrets": {"providers": {"nope": "sk-x"}}}
    with pytest.raises(ConfigError) as error:
        make_plan(parse(raw))
    found = error.value.problems
    assert any(p.startswith("model.maxModelLen: 262144 exceeds") for p in found), found
    assert any("is over shutdown.maxTokens (8192)" in p for p in found), found
    assert any("trafficSecrets.providers.nope: no provider" in p for p in found), found


def test_timeouts_cover_the_longest_request():
    assert t.router_timeout_seconds(338, 60) == 398
    assert t.stream_idle_seconds(10, 60) == 70
    assert t.edge_timeout_seconds(398) == 408
    assert t.edge_timeout_seconds(398, 398) == 806
    assert t.router_grace_seconds(15, 398) == 428
    assert t.router_grace_seconds(15, 398, 398) == 826


def test_prod_renders_route_router_and_fenced_engine(runs):
    run = runs["prod"]
    kinds = {r.type.rsplit(":", 1)[-1] for r in run.resources}
    assert {"HTTPRoute", "Gateway", "Certificate", "BackendTrafficPolicy",
            "ClientTrafficPolicy"} <= kinds
    route = _api_route(run).inputs["spec"]
    edge = f"{make_plan(parse(stack_config('prod'))).traffic.edge_timeout_seconds}s"
    assert route["rules"][0]["timeouts"] == {"request": edge, "backendRequest": edge}
    assert route["rules"][0]["backendRefs"][0]["port"] == t.ROUTER_PORT
    backend = _by_kind(run, "BackendTrafficPolicy")[0].inputs["spec"]
    assert backend["timeout"]["http"] == {"requestTimeout": edge, "streamIdleTimeout": edge}
    assert backend["connection"]["bufferLimit"] == 458_752
    assert backend["requestBuffer"] == {"limit": "448Ki"}
    client = _by_kind(run, "ClientTrafficPolicy")[0].inputs["spec"]
    assert client["connection"]["bufferLimit"] == 458_752
    # No Service exposes the engine or the router outside the cluster.
    assert {s.inputs["spec"]["type"] for s in _by_kind(run, "core/v1:Service")} == {"ClusterIP"}


def test_staging_stays_internal(runs):
    """Staging has a router (scale to zero behind its cloud fallback) but no traffic.gateway:
    no route and no Service outside the cluster."""
    assert not _by_kind(runs["staging"], "HTTPRoute")
    assert [r for r in runs["staging"].of_type("apps/v1:Deployment")
            if r.name.endswith("-router")]
    assert {s.inputs["spec"]["type"] for s in _by_kind(runs["staging"], "core/v1:Service")} == \
        {"ClusterIP"}


def test_the_router_config_holds_no_secret_and_reads_keys_from_the_environment(runs):
    run = runs["prod"]
    config_map = next(r for r in run.of_type("core/v1:ConfigMap")
                      if r.name.endswith("-router-config"))
    config = yaml.safe_load(config_map.inputs["data"]["config.yaml"])
    keys = [d["litellm_params"]["api_key"] for d in config["model_list"]]
    assert keys and all(k.startswith("os.environ/") for k in keys)
    assert config["general_settings"]["master_key"].startswith("os.environ/")
    router = next(r for r in run.of_type("apps/v1:Deployment") if r.name.endswith("-router"))
    container = router.inputs["spec"]["template"]["spec"]["containers"][0]
    secret_env = {e["name"] for e in container["env"] if "valueFrom" in e}
    assert {k.split("/", 1)[1] for k in keys} <= secret_env
    assert all("secretKeyRef" in e["valueFrom"] for e in container["env"] if "valueFrom" in e)


def test_the_router_pod_is_hardened_like_the_engine(runs):
    router = next(r for r in runs["prod"].of_type("apps/v1:Deployment")
                  if r.name.endswith("-router"))
    spec = router.inputs["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsUser"] == 10001
    assert spec["automountServiceAccountToken"] is False
    container = spec["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(container)
    plan = make_plan(parse(stack_config("prod")))
    # A request that fell back to the cloud finishes: preStop + local + cloud attempt + margin.
    assert spec["terminationGracePeriodSeconds"] == plan.traffic.router_grace_seconds
    # Pinned only by the stack file (tests/planning/test_pins.py); never looked up.
    assert container["image"] == f"{t.ROUTER_IMAGE}:main-v{t.LITELLM_VERSION}"
    assert router.metadata["annotations"][c.ANN_LONGEST_REQUEST_SECONDS] == str(
        plan.drain.longest_request_seconds)


# ---------------------------------------------------------------- refusals

def _problems(traffic: dict) -> str:
    raw = {**stack_config("prod"), "traffic": traffic}
    with pytest.raises(ConfigError) as error:
        parse(raw)
    return str(error.value)


def test_an_unknown_provider_is_refused():
    traffic = _prod_traffic(aliases=[{"name": "a", "cloud": [{"provider": "nope",
                                                              "model": "m"}]}])
    assert "provider 'nope' is not in traffic.providers" in _problems(traffic)


@pytest.mark.parametrize("tag", ["main-v1.82.7", "main-latest", "main-v1.82.8"])
def test_only_the_tested_litellm_runs(tag):
    traffic = _prod_traffic()
    traffic["router"] = {**traffic["router"], "imageTag": tag}
    assert "traffic.router.imageTag" in _problems(traffic)


def test_a_literal_cloud_key_cannot_be_configured():
    traffic = _prod_traffic()
    traffic["providers"] = [{**traffic["providers"][0], "apiKey": "sk-live-0123456789abcdef"}]
    assert "unknown key" in _problems(traffic)


def test_a_traffic_secret_reference_is_checked_by_the_api_servers_rule_like_every_other():
    """traffic's Secret references are the config's one SecretRef (IsConfigMapKey): '..' passes
    the character pattern but the API server refuses it as a secretKeyRef key."""
    traffic = _prod_traffic()
    traffic["clients"] = [{**traffic["clients"][0],
                           "existingSecret": {"name": "client-key", "key": ".."}}]
    assert "cannot be '.' or '..'" in _problems(traffic)


def test_an_alias_cap_over_the_engine_budget_fails_at_preview():
    traffic = _prod_traffic()
    traffic["aliases"] = [{**traffic["aliases"][0], "maxTokens": 20000}]
    run = run_stack("prod", {"traffic": traffic})
    assert run.error is not None and "shutdown.maxTokens" in str(run.error)
    assert "Traceback" not in str(run.error)


def test_a_gateway_without_parents_or_tls_is_refused():
    traffic = _prod_traffic(gateway={"hostnames": ["llm.example.com"]})
    assert "gateway.parentRefs is empty" in _problems(traffic)
    traffic = _prod_traffic(gateway={"hostnames": ["llm.example.com"], "create": True})
    assert "gateway.tls" in _problems(traffic)


def test_attaching_to_the_cluster_gateway_renders_no_gateway_of_its_own():
    traffic = _prod_traffic(gateway={"hostnames": ["llm.example.com"], "create": False,
                                     "tls": None, "parentRefs": [
        {"name": "shared", "namespace": "gateway", "sectionName": "https"}]})
    run = run_stack("prod", {"traffic": traffic})   # None removes a key from the stack file
    assert run.error is None, run.error
    assert not _by_kind(run, "networking.k8s.io/v1:Gateway")
    assert not _by_kind(run, "ClientTrafficPolicy")
    route = _by_kind(run, "HTTPRoute")[0].inputs["spec"]
    assert route["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                    "name": "shared", "namespace": "gateway",
                                    "sectionName": "https"}]


def test_tls_from_an_existing_secret_needs_no_certificate():
    run = run_stack("prod", {"traffic": {"gateway": {"tls": {"issuer": None,
                                                             "existingSecret": "llm-tls"}}}})
    assert run.error is None, run.error
    assert not _by_kind(run, "cert-manager.io/v1:Certificate")
    gateway = _by_kind(run, "networking.k8s.io/v1:Gateway")[0].inputs["spec"]
    assert gateway["listeners"][0]["tls"]["certificateRefs"] == [{"kind": "Secret",
                                                                  "name": "llm-tls"}]
    assert gateway["listeners"][0]["hostname"] == "llm.example.com"
