"""The router is sized from the engines behind it (issue 19): the plan prints its replicas with
the arithmetic and each client's in-flight bound, and refuses a router that cannot keep up."""

from __future__ import annotations

import copy
import math

import pytest

from facts.router_costs import ROUTER_COST
from planning import router_sizing as rs, throughput
from planning.config import ConfigError
from planning.traffic import LITELLM_VERSION
from tests.harness import stack_config
from tools import plan as plan_tool
from tools.plan import make_plan, parse


def _prod(**router) -> dict:
    values = copy.deepcopy(stack_config("prod"))
    values["traffic"]["router"].update(router)
    return values


def test_the_measured_router_cost_is_for_the_pinned_litellm():
    """A new LiteLLM pin needs `python -m benchmark.router` again before the sizing trusts it."""
    assert ROUTER_COST.litellm_version == LITELLM_VERSION
    assert "benchmark.router" in ROUTER_COST.command and ROUTER_COST.source


def test_the_router_needs_the_replicas_the_engines_peak_asks_for():
    cfg = parse(_prod())
    plan = make_plan(cfg)
    sizing = rs.size(throughput.timed(cfg, plan.throughput), plan.autoscaling.runnable_requests,
                     plan.rollout.max_replicas)
    assert plan.traffic.router_sizing == sizing
    streams = plan.autoscaling.runnable_requests * plan.rollout.max_replicas
    per_token_ms = plan.throughput.per_token_ms     # the roofline's, or shutdown.perTokenMs
    tokens = streams * 1000 / per_token_ms
    requests = streams / (rs.ASSUMED_ANSWER_TOKENS * per_token_ms / 1000)
    cpu = (requests * ROUTER_COST.cpu_ms_per_request + tokens * ROUTER_COST.cpu_ms_per_token
           ) / 1000
    assert sizing.streams == streams and sizing.cpu_needed == pytest.approx(cpu)
    assert sizing.replicas_needed == math.ceil(cpu / rs.ROUTER_UTILISATION)
    assert cfg.traffic.router.replicas >= sizing.replicas_needed, "prod keeps up"
    assert f"{sizing.replicas_needed} replicas" in sizing.reason


@pytest.mark.parametrize("router", [{"replicas": 1}, {"replicas": 1, "cpu": "4"}],
                         ids=["one-replica", "more-cpu-one-worker"])
def test_a_router_that_cannot_keep_up_is_refused_naming_its_keys(router):
    with pytest.raises(ConfigError) as error:
        make_plan(parse(_prod(**router)))
    message = str(error.value)
    assert "traffic.router.replicas 1" in message and "cannot keep up" in message
    assert "tokens/s" in message and "Set traffic.router.replicas to at least" in message


def test_a_client_may_have_a_minutes_requests_in_flight_for_each_minute_a_request_lives():
    assert rs.client_in_flight(60, 398) == 60 * 7
    assert rs.client_in_flight(60, 60) == 60


def test_tools_plan_prints_the_router_sizing_and_every_clients_in_flight_bound(capsys):
    assert plan_tool.main(["prod"]) == 0
    out = capsys.readouterr().out
    assert "router sizing" in out and f"utilisation {rs.ROUTER_UTILISATION:g}" in out
    for client in stack_config("prod")["traffic"]["clients"]:
        assert f"{client['name']}: requestsPerMinute {client['requestsPerMinute']}" in out
    assert "tokensPerMinute 200000 is counted after each answer" in out


@pytest.mark.parametrize("cpu, cores", [("500m", 0.5), ("1500m", 1.5), ("250m", 0.25),
                                        ("2", 2.0), ("1", 1.0)])
def test_a_cpu_quantity_reads_as_cores(cpu, cores):
    assert rs.cores(cpu) == cores


def test_half_a_core_per_pod_needs_twice_the_replicas():
    cfg = parse(_prod(cpu="500m", replicas=10))
    plan = make_plan(cfg)
    sizing = plan.traffic.router_sizing
    assert sizing.cores_per_pod == 0.5
    assert sizing.replicas_needed == math.ceil(sizing.cpu_needed / (rs.ROUTER_UTILISATION * 0.5))
