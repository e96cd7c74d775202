"""Where vLLM's API server waits a fixed 600 s for its engines, and how many API servers a
`vllm serve` starts by default (issue: engine start-up rules, read from the 0.11.0-0.15.0 and
0.34.0 wheels' vllm/v1/engine/core_client.py, utils.py and entrypoints/cli/serve.py)."""

from facts import vllm_features
from facts.vllm_features import parse as V


def test_one_api_server_waits_for_its_engines_without_a_deadline_in_every_version():
    # It launches the engines itself (launch_core_engines → wait_for_engine_startup, no
    # deadline); the 600 s poll after it runs when every engine has sent READY.
    for version in ("0.8.4", "0.10.0", "0.11.0", "0.13.0", "0.14.0", "0.20.0"):
        assert not vllm_features.engine_ready_deadline_binds(V(version), api_servers=1)


def test_the_fixed_600_s_wait_binds_on_several_api_servers_before_0_14():
    # run_multi_api_server: the parent launches the engines, each API server process polls
    # 600 s while they load; from 0.14.0 VLLM_ENGINE_READY_TIMEOUT_S raises it.
    assert vllm_features.engine_ready_deadline_binds(V("0.13.0"), api_servers=2)
    assert vllm_features.engine_ready_deadline_binds(V("0.11.0"), api_servers=8)
    assert not vllm_features.engine_ready_deadline_binds(V("0.14.0"), api_servers=2)
    assert vllm_features.ENGINE_READY_DEFAULT_SECONDS == 600


def test_from_0_15_vllm_serve_starts_one_api_server_per_data_parallel_rank_by_default():
    assert vllm_features.default_api_servers(V("0.14.0"), data_parallel=4) == 1
    assert vllm_features.default_api_servers(V("0.15.0"), data_parallel=4) == 4
    assert vllm_features.default_api_servers(V("0.34.0"), data_parallel=2) == 2
    assert vllm_features.default_api_servers(V("0.34.0"), data_parallel=1) == 1
