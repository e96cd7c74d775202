"""What vLLM accepts, the config accepts: engine.gpuMemoryUtilization over vLLM's own range
(0, 1] with a warning at the extremes, and tensor parallelism across nodes when RDMA is
configured, with its cost in the plan's reason."""

import pytest

from planning import checks, config
from planning.plan import make_plan
from tests.planning.conftest import SMALL_7B

BASE = {"vllmVersion": "0.33.0", **SMALL_7B}
R1 = {**BASE, "model": {"preset": "deepseek-r1", "revision": "main", "servedName": "r1",
                        "maxModelLen": 32768}}
RDMA = {"rdma": {"resourceName": "rdma/ib", "count": 1}}


def raw(base=BASE, **changes):
    values = {**base}
    for key, value in changes.items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    return values


def plan(base=BASE, **changes):
    return make_plan(config.parse(raw(base, **changes)))


def refusal(base=BASE, **changes) -> str:
    with pytest.raises(config.ConfigError) as error:
        plan(base, **changes)
    return str(error.value)


@pytest.mark.parametrize("utilization", [0.15, 0.3, 0.99, 1.0])
def test_utilizations_vllm_takes_are_valid_config(utilization):
    # vllm/config/cache.py CacheConfig.gpu_memory_utilization: Field(gt=0, le=1) in every
    # wheel read (0.16.0 … 0.34.0); 0.15 and 1.0 appear in public start-up logs.
    cfg = config.parse(raw(vllmVersion="0.34.0", engine={"gpuMemoryUtilization": utilization}))
    assert cfg.engine.gpu_memory_utilization == utilization


@pytest.mark.parametrize("utilization", [0, -0.1, 1.01])
def test_utilizations_vllm_refuses_are_refused_by_key(utilization):
    with pytest.raises(config.ConfigError) as error:
        config.parse(raw(engine={"gpuMemoryUtilization": utilization}))
    assert "engine.gpuMemoryUtilization" in str(error.value)


def test_all_of_the_gpu_is_refused_where_vllm_checks_free_memory_against_it():
    # Before 0.34 (and with the measured size off) vLLM raises at start when the free memory
    # it finds is below total × utilization (vllm/v1/worker/utils.py request_memory); the
    # CUDA context already holds some: 79.19 × 1.0 > 79.19 − 0.5.
    message = refusal(engine={"gpuMemoryUtilization": 1.0})
    assert "engine.gpuMemoryUtilization: 1.0" in message and "0.99" in message
    assert plan(engine={"gpuMemoryUtilization": 0.99}).engine.gpu_memory_utilization == 0.99
    # 0.34 sizes from measured memory and only caps at the request: 1.0 is its default.
    assert plan(vllmVersion="0.34.0", engine={"gpuMemoryUtilization": 1.0})
    assert "engine.gpuMemoryUtilization" in refusal(
        vllmVersion="0.34.0", engine={"gpuMemoryUtilization": 1.0,
                                      "extraArgs": ["--no-enable-extensible-kv-cache"]})


def _warnings(**changes) -> list[str]:
    cfg = config.parse(raw(**changes))
    return checks.warnings(cfg, make_plan(cfg))


def test_a_utilization_at_the_extremes_is_warned_about_by_key():
    assert _warnings() == []
    low = _warnings(engine={"gpuMemoryUtilization": 0.15})
    assert len(low) == 1 and "engine.gpuMemoryUtilization: 0.15" in low[0]
    high = _warnings(engine={"gpuMemoryUtilization": 0.99})
    # 79.19 × 0.01 − 0.5 = 0.29 GiB left, below the 1 GiB vLLM 0.34 keeps itself.
    assert len(high) == 1 and "0.29 GiB" in high[0]
    assert _warnings(engine={"gpuMemoryUtilization": 0.95}) == []


def test_on_0_34_a_habitual_utilization_below_one_is_said_to_withhold_memory():
    # vLLM 0.34 warns itself (extensible_kv_cache.py measure_kv_cache_blocks) when 0.7 < u < 1
    # keeps ≥ 1 GiB of free memory out of the cache; the plan says it at preview.
    said = _warnings(vllmVersion="0.34.0", engine={"gpuMemoryUtilization": 0.9})
    assert len(said) == 1 and "withholds" in said[0] and "leave it unset" in said[0]
    assert _warnings(vllmVersion="0.34.0") == []
    assert _warnings(vllmVersion="0.34.0", engine={"gpuMemoryUtilization": 0.6}) == []


def test_tensor_parallel_across_nodes_without_rdma_is_refused_and_names_rdma():
    message = refusal(R1, gpu={"type": "h100-80gb", "tensorParallel": 16})
    assert "spans nodes" in message and "multiNode.rdma" in message


def test_tensor_parallel_16_over_two_nodes_of_eight_runs_with_rdma_and_says_its_cost():
    # The common DeepSeek-R1 recipe: TP 16 over 2 × 8 H100 with RDMA.
    r1 = plan(R1, gpu={"type": "h100-80gb", "tensorParallel": 16}, multiNode=RDMA)
    assert (r1.layout.tensor_parallel, r1.layout.nodes, r1.layout.gpus_per_node) == (16, 2, 8)
    assert "all-reduce" in r1.layout.reason and "RDMA" in r1.layout.reason
    assert "custom all-reduce" in r1.layout.reason


def test_the_warning_thresholds_are_half_the_gpu_and_vllms_own_0_7():
    assert _warnings(engine={"gpuMemoryUtilization": 0.5}) == []
    assert len(_warnings(engine={"gpuMemoryUtilization": 0.49})) == 1
    # vLLM 0.34 warns only for 0.7 < utilization < 1.0 (measure_kv_cache_blocks).
    assert _warnings(vllmVersion="0.34.0", engine={"gpuMemoryUtilization": 0.7}) == []
    assert len(_warnings(vllmVersion="0.34.0", engine={"gpuMemoryUtilization": 0.71})) == 1
    assert _warnings(vllmVersion="0.34.0", engine={"gpuMemoryUtilization": 1.0}) == []
