"""Each planning step wires the right inputs to its arithmetic: storage and the download,
the autoscaler target, start-up phases, drain, rollout and host resources, read from plans of
small configs whose figures are worked out by hand in the comments."""

import math
import re

import pytest

from planning import capacity, config, host, memory
from planning.layout import Layout
from planning.plan import make_plan
from tests.planning.conftest import configured

BASE = {
    "vllmVersion": "0.20.0",
    "model": {"preset": "deepseek-r1-distill-qwen-7b", "revision": "main", "servedName": "m",
              "maxModelLen": 16384},
    "gpu": {"type": "l4"},
    "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"},
                "readMibPerSecond": 250},
    "network": {"gatewayNamespaces": ["gateway"]},
}
PVC = {"mode": "pvc", "nfs": None, "pvc": {"storageClass": "rwx"}, "readMibPerSecond": 250}


def plan(**changes):
    return make_plan(configured(BASE, **changes))


# 7B distill: 7,615,616,512 params × 2 B = 14.19 GiB (checkpoint the same).

def test_nfs_storage_holds_one_revision_and_downloads_nothing():
    storage = plan().storage
    assert storage.capacity_gi == 18                 # 14.19 × 1.2 = 17.02 → 18
    assert storage.download_seconds == 0
    assert "× 1 revision⌉" in storage.reason and "download" not in storage.reason


def test_pvc_storage_holds_two_revisions_and_times_the_download_at_its_rate():
    storage = plan(storage=PVC).storage
    assert storage.capacity_gi == 35                 # 14.19 × 1.2 × 2 = 34.05 → 35
    assert storage.download_seconds == 291           # 14,525 MiB / 50 MiB/s
    assert storage.download_timeout_seconds == 891
    fast = plan(storage={**PVC, "pvc": {"storageClass": "rwx", "downloadMibPerSecond": 200}})
    assert fast.storage.download_seconds == 73       # / 200 MiB/s
    assert fast.storage.download_timeout_seconds == 673
    fixed = plan(storage={**PVC, "pvc": {"storageClass": "rwx", "downloadTimeoutMinutes": 30}})
    assert fixed.storage.download_timeout_seconds == 1800
    assert "at 50 MiB/s = 291 s" in plan(storage=PVC).storage.reason


def test_a_configured_capacity_wins():
    assert plan(storage={"capacityGi": 100}).storage.capacity_gi == 100


def test_the_autoscaler_target_counts_every_data_parallel_rank():
    single = plan(model={"preset": "deepseek-v2-lite", "maxModelLen": 8192,
                         "trustRemoteCode": True},
                  gpu={"type": "h100-80gb", "tensorParallel": 1})
    doubled = plan(model={"preset": "deepseek-v2-lite", "maxModelLen": 8192,
                         "trustRemoteCode": True},
                   gpu={"type": "h100-80gb", "tensorParallel": 1, "dataParallel": 2})
    tokens = single.kv.tokens_per_rank
    assert single.autoscaling.runnable_requests == min(1024, tokens // 8192)
    # Each rank is an engine with its own KV cache and max-num-seqs.
    assert doubled.autoscaling.runnable_requests == 2 * min(1024, doubled.kv.tokens_per_rank
                                                            // 8192)
    assert "(autoscaling off)" in single.autoscaling.reason
    on = plan(autoscaling={"enabled": True, "minReplicas": 1, "maxReplicas": 2})
    assert "(autoscaling off)" not in on.autoscaling.reason


def test_startup_phases_follow_the_config():
    cold = plan().startup
    # 28 layers; 0.20 captures 51 sizes for 256 sequences: 30 + 10 + 28 + ceil(17.1) = 86 s.
    assert cold.engine_phases == {"process": 30, "profile": 10, "compile": 28, "graphs": 18}
    assert cold.read_mib_per_second == 250
    assert cold.load_seconds == 59                   # 14,525 MiB / 250
    assert cold.estimated_seconds == 59 + 86
    assert cold.budget_seconds == cold.derived_budget_seconds == 218   # 145 × 1.5 = 217.5
    warm = plan(engine={"compileCacheGib": 10, "compileCacheStorageClass": "rwx"}).startup
    assert warm.engine_phases["compile"] == 28       # the probe allows the cold compile
    assert warm.warm_restart_seconds == 59 + 86 - (28 - 7)   # ceil(0.25 × 28) = 7 when warm
    assert "no compile-cache entry" in warm.reason and "compile-cache" not in cold.reason
    eager = plan(engine={"extraArgs": ["--enforce-eager"]}).startup
    assert "compile" not in eager.engine_phases and "graphs" not in eager.engine_phases
    override = plan(probes={"startupBudgetSeconds": 900}).startup
    assert override.budget_seconds == 900 and override.derived_budget_seconds == 218
    assert "overridden to 900 s" in override.reason and "overridden" not in cold.reason
    assert "peer image pull" not in cold.engine_phases          # one node, no peers


def test_drain_names_who_waits_for_requests():
    new, old = plan().drain, plan(vllmVersion="0.17.0").drain
    assert "--shutdown-timeout" in new.reason and "preStop hook" in old.reason


def test_rollout_surges_into_spare_gpus_and_counts_every_pod():
    measured = {"perTokenMs": 40, "prefillSeconds": 10}
    plain = plan(replicas=2, shutdown=measured).rollout
    assert (plain.surge, plain.max_replicas, plain.max_pods) == (0, 2, 2)
    # grace = preStop 15 + 8192 tokens × 40 ms + 10 s (338) + 15 = 368;
    # 2 rounds × (grace 368 + pull 600 + start-up 218) = 2372 s
    assert plain.timeout_seconds == 2372
    assert plain.claim_release_seconds == 368 + 300
    surged = plan(replicas=2, spareGpus=1, shutdown=measured).rollout
    assert (surged.surge, surged.max_pods) == (1, 3)
    assert surged.timeout_seconds == 2 * (368 + 600 + 218)   # ceil(2 / 1) rounds
    capped = plan(replicas=1, spareGpus=5).rollout
    assert capped.surge == 1                          # never more than the replicas
    # 3 spare GPUs hold one more replica of TP 2, not 1.5.
    tp2 = plan(replicas=2, spareGpus=3, gpu={"type": "l4", "tensorParallel": 2}).rollout
    assert tp2.surge == 1 and isinstance(tp2.surge, int)
    scaled = plan(autoscaling={"enabled": True, "minReplicas": 1, "maxReplicas": 3}).rollout
    assert scaled.max_replicas == 3 and scaled.max_pods == 3
    off = plan(autoscaling={"enabled": False, "maxReplicas": 3}).rollout
    assert off.max_replicas == 1


def test_host_resources_size_the_pod():
    host = plan(gpu={"type": "l4", "tensorParallel": 2},
                resources={"cpuPerGpu": 3, "cpuLimitFactor": 2, "memoryHeadroomGib": 4}).host
    assert host.shm_gib == 2
    assert host.memory_request_gib == 4 + 2 * 5 + 2
    assert host.memory_limit_gib == 16 + 4
    assert host.cpu_request == 3 * 2 + 2 and host.cpu_limit == 16


def test_a_data_parallel_pod_is_sized_for_the_one_api_server_its_engine_is_told_to_run():
    # vLLM 0.20 would start one API server per DP rank (4 here); the pod plans one, and the
    # engine is rendered with exactly that many.
    from rendering.vllm_args import server_args

    cfg = configured(BASE, gpu={"type": "l4", "tensorParallel": 1, "dataParallel": 4})
    pod = make_plan(cfg)
    assert host.API_SERVERS_PER_POD == 1
    assert pod.host.memory_request_gib == (host.API_SERVER_GIB * host.API_SERVERS_PER_POD
                                           + 4 * host.WORKER_GIB + pod.host.shm_gib)
    assert pod.host.cpu_request == (4 * cfg.resources.cpu_per_gpu
                                    + host.API_SERVER_CPU * host.API_SERVERS_PER_POD)
    args = server_args(cfg, pod, "/models/m")
    assert args[args.index("--api-server-count") + 1] == str(host.API_SERVERS_PER_POD)


def test_weights_reason_and_pipeline_stages():
    staged = plan(gpu={"type": "l4", "tensorParallel": 1, "pipelineParallel": 2})
    assert "stages [14, 14]" in staged.weights.reason
    tied = plan(model={"preset": None, "maxModelLen": 4096, "facts": {
        "hf_id": "org/tied", "architecture": "Qwen2ForCausalLM", "params_b": 1.5437,
        "weights_dtype": "bf16", "tie_word_embeddings": True, "layers": 28,
        "hidden_size": 1536, "intermediate_size": 8960, "vocab_size": 151936,
        "attention": {"kind": "gqa", "heads": 12, "kv_heads": 2, "head_dim": 128},
        "max_context": 32768}}, gpu={"type": "l4", "tensorParallel": 1, "pipelineParallel": 2})
    # Tied: the embedding table sits on both stages (first as embedding, last as the head).
    untied_like = 1.5437e9 - 151936 * 1536
    rope = 32768 * 128 * 2                          # RoPE's cos/sin cache, on every GPU
    assert tied.weights.per_gpu_gib * 2**30 == pytest.approx(
        (151936 * 1536 + untied_like / 2) * 2 + rope, rel=1e-6)


def test_activations_follow_the_version_and_eager_mode():
    assert plan().activations.non_torch_gib == pytest.approx(0.25 + 1.0)      # CUDA graphs
    assert plan(vllmVersion="0.19.0").activations.non_torch_gib == pytest.approx(0.25)
    eager = plan(engine={"extraArgs": ["--enforce-eager"]})
    assert eager.activations.non_torch_gib == pytest.approx(0.25)
    old = plan(vllmVersion="0.16.0").activations.peak_gib
    new = plan(vllmVersion="0.17.0").activations.peak_gib
    assert old == pytest.approx(2 * new)                     # 28 vs 14 bytes per logit


def test_the_activations_total_is_the_peak_plus_non_torch_memory():
    """One figure for 'what the profiling run takes besides weights', which the refusals quote."""
    activations = plan().activations
    assert activations.total_gib == pytest.approx(activations.peak_gib + 0.25 + 1.0)

def test_v4_caches_one_byte_per_element_and_fp8_kv_halves_the_rest():
    auto = plan()
    fp8 = plan(model={"kvCacheDtype": "fp8"})
    assert fp8.kv.bytes_per_token == auto.kv.bytes_per_token / 2
    assert auto.kv.block_size == 16


def refusal(**changes) -> str:
    with pytest.raises(config.ConfigError) as error:
        plan(**changes)
    return str(error.value)


def test_a_context_of_exactly_the_models_length_is_allowed_and_one_more_is_not():
    assert plan(model={"maxModelLen": 131072}, gpu={"type": "h100-80gb"})
    assert "model.maxModelLen: 131073 exceeds" in refusal(model={"maxModelLen": 131073})


def test_remote_code_must_be_acknowledged_only_for_models_that_ship_it():
    message = refusal(model={"preset": "deepseek-v2-lite", "maxModelLen": 8192},
                      gpu={"type": "h100-80gb"})
    assert "model.trustRemoteCode" in message
    assert plan(model={"preset": "deepseek-v2-lite", "maxModelLen": 8192,
                       "trustRemoteCode": True}, gpu={"type": "h100-80gb"})
    assert plan(model={"trustRemoteCode": True})          # harmless on a model without code


def test_a_parser_missing_from_the_pinned_version_is_refused_by_key():
    message = refusal(vllmVersion="0.8.0", model={"reasoningParser": "deepseek_r1",
                                                  "toolCallParser": "deepseek_v3"})
    assert "model.toolCallParser: deepseek_v3 is not in vLLM 0.8.0" in message
    assert "model.reasoningParser" not in message          # in vLLM since 0.7.2
    assert plan(vllmVersion="0.8.0", model={"reasoningParser": "auto", "toolCallParser": None})


def test_fp8_kv_on_an_older_gpu_and_version_is_refused():
    message = refusal(vllmVersion="0.8.5", gpu={"type": "a100-80gb"},
                      model={"kvCacheDtype": "fp8"})
    assert "model.kvCacheDtype" in message and "V0 engine" in message
    assert plan(vllmVersion="0.9.0", gpu={"type": "a100-80gb"}, model={"kvCacheDtype": "fp8"})
    assert plan(vllmVersion="0.8.5", model={"kvCacheDtype": "fp8"})      # L4 is 8.9


def test_online_fp8_is_refused_for_16_bit_checkpoints_from_0_31_and_fp8_per_tensor_is_offered():
    # fp8.py Fp8Config.__init__ raises "no longer supports online quantization" in 0.31.0,
    # 0.32.0 and 0.33.0; 0.30.0 (and 0.20.0, 0.25.1, 0.28.0) still quantize online.
    for version in ("0.31.0", "0.32.0", "0.33.0"):
        message = refusal(vllmVersion=version, model={"quantization": "fp8"})
        assert "model.quantization: fp8_per_tensor" in message, message
    assert plan(vllmVersion="0.30.0", model={"quantization": "fp8"})
    online = plan(vllmVersion="0.33.0", model={"quantization": "fp8_per_tensor"})
    assert online.weights.per_gpu_gib == plan(vllmVersion="0.30.0", model={
        "quantization": "fp8"}).weights.per_gpu_gib


def test_fp8_per_tensor_is_refused_before_the_first_release_checked_to_have_it():
    assert "model.quantization" in refusal(vllmVersion="0.19.0",
                                           model={"quantization": "fp8_per_tensor"})


def test_a_fix_the_plan_suggests_is_one_the_pinned_vllm_takes():
    # A 16-bit 14B model does not fit one L4: quantizing to FP8 is among the fixes.
    for version, fix in (("0.30.0", "model.quantization: fp8"),
                         ("0.33.0", "model.quantization: fp8_per_tensor")):
        message = refusal(vllmVersion=version, gpu={"type": "l4", "tensorParallel": 1},
                          model={"preset": "deepseek-r1-distill-qwen-14b"})
        assert message.endswith(fix), message


def test_tensor_parallel_of_a_whole_node_is_allowed_beyond_it_is_not():
    whole = plan(model={"preset": "deepseek-r1-distill-llama-8b"},
                 gpu={"type": "l4", "tensorParallel": 8})
    assert whole.layout.nodes == 1 and whole.layout.gpus_per_node == 8   # 8 L4 per node
    message = refusal(gpu={"type": "l4", "tensorParallel": 16})
    assert "spans nodes" in message


def test_expert_parallelism_needs_experts():
    assert "gpu.expertParallel: the model has no experts" in refusal(
        gpu={"type": "l4", "expertParallel": True})


GPT_OSS_20B = {  # benchmark/cases.yaml's gpt-oss-20b, as stack facts
    "hf_id": "openai/gpt-oss-20b", "architecture": "GptOssForCausalLM", "params_b": 20.91475872,
    "weights_dtype": "mxfp4", "layers": 24, "hidden_size": 2880, "intermediate_size": 2880,
    "vocab_size": 201088, "attention": {"kind": "gqa", "heads": 64, "kv_heads": 8,
                                        "head_dim": 64},
    "parameters": {"embedding": 579133440, "head": 579133440, "norms_and_gates": 8990784,
                   "replicated_linear": 0, "sharded_linear": 637203456,
                   "experts": 19110297600},
    "max_context": 131072, "experts": 32, "experts_per_token": 4,
    "moe_intermediate_size": 2880, "min_vllm": "0.10.1", "min_compute_capability": 8.0}


def test_mxfp4_experts_carry_the_kernel_padding_of_the_gpu_and_split():
    def per_gpu(gpu, **split):
        return plan(model={"preset": None, "facts": GPT_OSS_20B, "maxModelLen": 8192},
                    gpu={"type": gpu, **split}).weights.per_gpu_gib * 2**30
    experts = 19110297600 * 0.53125
    rope = 131072 * 64 * 2                          # RoPE's cos/sin cache, on every GPU
    rest = (579133440 * 2 + 8990784 + 637203456) * 2 + rope
    # H100, TP 2: experts' I per GPU 1440 → 1472 (Triton rounds to 64), and Triton keeps the
    # checkpoint's scales beside its swizzled copy (+ 1/32 B per weight), pads the swizzled
    # scales' rows to 256 (w13 2944 → 3072 rows × 90 groups, w2 2880 → 3072 rows × 46) and
    # makes the biases float32 (+ 2 B × (2944 + 2880)): 32,000 B per expert on 0.20.
    scales_twice = (1 / 32) / 0.53125
    swizzle = 128 * 90 + 192 * 46 + 2 * (2944 + 2880)
    assert per_gpu("h100-80gb", tensorParallel=2) == pytest.approx(
        (experts * (1472 / 1440 + scales_twice + swizzle / (3 * 2880 * 1440 * 0.53125))
         + rest - rope - 8990784 * 2) / 2 + 8990784 * 2 + rope, rel=1e-9)
    # A100, TP 1: Marlin pads I 2880 → 2944 and H 2880 → 3072.
    assert per_gpu("a100-80gb", tensorParallel=1) == pytest.approx(
        experts * 3072 * 2944 / 2880**2 + rest, rel=1e-9)
    # With expert parallelism whole experts stay on a GPU: I is not split, H100 pads nothing.
    whole = 128 * 90 + 192 * 90 + 2 * (5760 + 2880)
    assert per_gpu("h100-80gb", tensorParallel=1, dataParallel=2, expertParallel=True) == (
        pytest.approx(experts * (1 + scales_twice + whole / (3 * 2880**2 * 0.53125)) / 2 + rest,
                      rel=1e-9))


def test_a_16_bit_model_is_never_padded():
    rope = 131072 * 128 * 2                         # RoPE's cos/sin cache, not a weight
    assert plan().weights.per_gpu_gib * 2**30 == pytest.approx(7_615_616_512 * 2 + rope,
                                                               rel=1e-9)


def test_the_kv_cache_holds_a_request_only_with_a_positive_budget_and_enough_tokens():
    kv = plan().kv
    assert kv.holds(kv.tokens_per_rank) and not kv.holds(kv.tokens_per_rank + 1)
    from planning.memory import KvCache
    assert not KvCache(0.0, 1.0, 16, 100, 0.0, "").holds(1)
    assert not KvCache(-1.0, 1.0, 16, 100, 0.0, "").holds(1)
    assert KvCache(0.1, 1.0, 16, 100, 0.0, "").holds(100)


def test_mla_blocks_follow_the_pinned_version_in_the_plan():
    def block(version):
        return plan(vllmVersion=version, model={"preset": "deepseek-v2-lite", "maxModelLen": 8192,
                                                "trustRemoteCode": True},
                    gpu={"type": "h100-80gb"}).kv.block_size
    assert block("0.14.0") == 64 and block("0.15.0") == 16


def test_the_scaling_windows_and_fallback_follow_the_startup_budget_and_config():
    # Budget 218 s (see above): windows clamp(218, 60 | 120 | 300, limit) = 218, 218, 300.
    windows = plan().scaling
    assert (windows.scale_up_window_seconds, windows.scale_up_period_seconds,
            windows.scale_down_window_seconds, windows.scale_down_period_seconds) == (
                218, 218, 300, 300)
    assert windows.fallback_replicas == 1 and "fallback minReplicas 1" in windows.reason
    assert "clamp(start-up 218, 60, 3600) = 218 s" in windows.reason
    long = plan(probes={"startupBudgetSeconds": 2000},
                autoscaling={"enabled": True, "minReplicas": 1, "maxReplicas": 4,
                             "fallbackReplicas": 3}).scaling
    assert (long.scale_up_window_seconds, long.scale_up_period_seconds,
            long.scale_down_window_seconds, long.fallback_replicas) == (2000, 1800, 2000, 3)
    assert "autoscaling.fallbackReplicas 3" in long.reason


def test_the_startup_probe_gives_up_once_the_budget_has_passed():
    start = plan().startup                       # ⌈218 / 10⌉ = 22
    assert (start.probe_period_seconds, start.probe_failure_threshold) == (10, 22)
    slow = plan(probes={"periodSeconds": 15, "startupBudgetSeconds": 900}).startup
    assert slow.probe_failure_threshold == 60
    assert slow.probe_reason == "⌈start-up budget 900 s / probes.periodSeconds 15 s⌉ = 60 probes"


def test_the_plan_names_the_launcher_once_with_its_reason():
    assert plan().launcher == "single"
    assert plan().launcher_reason == "one node per replica: vLLM starts alone"


def test_keda_falls_back_after_three_failed_polls_fifteen_seconds_apart():
    windows = plan().scaling
    assert (windows.polling_seconds, windows.fallback_failures) == (15, 3)
    assert "after 3 failed polls × 15 s = 45 s" in windows.reason


# ------------------------------------------ reasons are written from the arithmetic's names

SHM = re.compile(r"shm = ⌈([\d.]+) \+ ([\d.]+) × (\d+) × (\d+)⌉ = (\d+) GiB")
CPU = re.compile(r"CPU ([\d.]+) × (\d+) \+ ([\d.]+) = ([\d.]+) request, × cpuLimitFactor "
                 r"([\d.]+) = ([\d.]+) limit")
STORAGE = re.compile(r"max\(floor (\d+) Gi, ⌈([\d.]+) GiB × ([\d.]+) × (\d+) revisions?⌉\) = "
                     r"(\d+) Gi")


def _host(gpus: int):
    cfg = config.parse({**BASE, "resources": {"cpuPerGpu": 3, "cpuLimitFactor": 2}})
    return host.host_resources(cfg, Layout(gpus))


@pytest.mark.parametrize("pair_gib", [None, 0.5], ids=["as-is", "constant-changed"])
@pytest.mark.parametrize("gpus", [1, 2, 4, 8])
def test_the_shm_and_cpu_reasons_show_the_arithmetic_of_their_figures(monkeypatch, gpus,
                                                                      pair_gib):
    """The /dev/shm and CPU reasons are the formula's own numbers: change a constant and the
    reason follows the figure (no retyped text)."""
    if pair_gib is not None:
        monkeypatch.setattr(host, "NCCL_SHM_GIB_PER_PAIR", pair_gib)
    pod = _host(gpus)
    base, per_pair, n, n_less_one, shm = SHM.search(pod.reason).groups()
    assert (int(n), int(n_less_one)) == (gpus, gpus - 1)
    assert math.ceil(float(base) + float(per_pair) * gpus * (gpus - 1)) == int(shm) == pod.shm_gib
    per_gpu, local, api, request, factor, limit = map(float, CPU.search(pod.reason).groups())
    assert per_gpu * local + api == request == pod.cpu_request
    assert request * factor == limit == pod.cpu_limit


@pytest.mark.parametrize("floor", [None, 20], ids=["as-is", "floor-changed"])
@pytest.mark.parametrize("checkpoint_gib", [2.0, 14.19, 61.0])
def test_the_storage_reason_names_the_floor_its_arithmetic_applies(monkeypatch, floor,
                                                                   checkpoint_gib):
    if floor is not None:
        monkeypatch.setattr(capacity, "STORAGE_FLOOR_GI", floor)
    storage = capacity.storage(config.parse(BASE), memory.Weights(0, 0, checkpoint_gib, ""))
    low, gib, overhead, revisions, shown = STORAGE.search(storage.reason).groups()
    assert int(low) == (floor or 10)
    assert max(int(low), math.ceil(float(gib) * float(overhead) * int(revisions))) == \
        int(shown) == storage.capacity_gi


def test_a_configured_capacity_and_download_timeout_are_said_to_be_configured():
    """The reason never shows a formula ending in a number the formula did not produce."""
    storage = plan(storage={**PVC, "capacityGi": 100,
                            "pvc": {"storageClass": "rwx", "downloadTimeoutMinutes": 30}}).storage
    assert storage.capacity_gi == 100 and storage.download_timeout_seconds == 1800
    assert "storage.capacityGi 100 Gi" in storage.reason
    assert "storage.pvc.downloadTimeoutMinutes 30 = 1800 s" in storage.reason
    assert not STORAGE.search(storage.reason)
