"""How the weights reach a starting engine on each path (planning/delivery.py) and which
budget each figure uses: the startup probe the restart budget (it counts from container start),
rollouts, the autoscaler's windows and the wake-up the first start on a node, which also pays
the path's per-node stage; plus the refusals and warnings of the load paths."""

from __future__ import annotations

import dataclasses
import math

import pytest

from facts import load_paths
from facts.vllm_features import parse as V
from planning import checks, config, delivery, timing
from planning.layout import Layout
from planning.plan import make_plan
from tests.planning.conftest import SMALL_7B, with_changes

DIGEST = "sha256:" + "b" * 64
IMAGE = {"mode": "image", "nfs": None, "readMibPerSecond": 2000,
         "image": {"reference": f"registry.example.com/m@{DIGEST}", "pullMibPerSecond": 100}}
CACHE = {"mode": "nodeCache", "nfs": None, "readMibPerSecond": 2000,
         "nodeCache": {"diskGi": 100, "downloadMibPerSecond": 50}}
STORE = {"mode": "objectStore", "nfs": None, "objectStore": {"uri": "s3://models/m"},
         "streamingReadMibPerSecond": 1000}


@pytest.fixture(autouse=True)
def every_mode_planned(monkeypatch):
    """Planning is under test, not whether a mode's objects are rendered yet."""
    monkeypatch.setattr(load_paths, "RENDERED_MODES", frozenset(
        {"nfs", "pvc", "image", "nodeCache", "objectStore"}))


def cfg_of(**changes) -> config.StackConfig:
    base = {**SMALL_7B, "vllmVersion": "0.33.0",
            "clusterVersions": {"kubernetes": "1.35"}}
    return config.parse(with_changes(base, **changes))


def problems(**changes) -> list[str]:
    with pytest.raises(config.ConfigError) as refused:
        make_plan(cfg_of(**changes))
    return refused.value.problems


ONE_NODE = Layout(tensor_parallel=8, pipeline_parallel=1, data_parallel=1, expert_parallel=1,
                  nodes=1, reason="")
TWO_NODES = Layout(tensor_parallel=8, pipeline_parallel=2, data_parallel=1, expert_parallel=1,
                   nodes=2, reason="")


# --- what each pod reads ---------------------------------------------------------------------

@pytest.mark.parametrize("loader", ["auto", "safetensors"])
def test_the_default_loader_reads_the_whole_checkpoint_on_every_pod(loader):
    assert delivery.pod_read_gib(loader, 641.3, TWO_NODES)[0] == 641.3


@pytest.mark.parametrize("loader", ["fastsafetensors", "instanttensor", "runai_streamer_sharded"])
def test_split_loaders_read_the_pods_share_of_the_files(loader):
    assert delivery.pod_read_gib(loader, 641.3, TWO_NODES)[0] == pytest.approx(641.3 / 2)


def test_runai_streamer_ranks_each_stream_every_file():
    assert delivery.pod_read_gib("runai_streamer", 100.0, ONE_NODE)[0] == 800.0
    single = Layout(1, 1, 1, 1, 1, "")
    assert delivery.pod_read_gib("runai_streamer", 100.0, single)[0] == 100.0


# --- at which rate ---------------------------------------------------------------------------

def test_an_unmeasured_read_rate_is_budgeted_as_a_slow_mount_and_warned_about():
    cfg = cfg_of(storage={"readMibPerSecond": None})
    rate, why = delivery.read_rate(cfg, V("0.33.0"))
    assert rate == delivery.UNMEASURED_READ_MIB_PER_SECOND == 50
    assert "not set" in why
    plan = make_plan(cfg)
    assert plan.startup.load_seconds == math.ceil(plan.weights.checkpoint_gib * 1024 / 50)
    assert any(warning.startswith("storage.readMibPerSecond is not set")
               for warning in checks.warnings(cfg, plan))


def test_a_measured_read_rate_is_not_warned_about():
    cfg = cfg_of()
    assert not [w for w in checks.warnings(cfg, make_plan(cfg)) if "readMibPerSecond" in w]


@pytest.mark.parametrize("loader", ["runai_streamer", "fastsafetensors", "instanttensor"])
def test_a_streaming_loader_reads_at_the_measured_streaming_rate_only(loader):
    assert delivery.read_rate(cfg_of(engine={"loadFormat": loader}), V("0.33.0"))[0] == 250
    fast = cfg_of(engine={"loadFormat": loader}, storage={"streamingReadMibPerSecond": 3000})
    assert delivery.read_rate(fast, V("0.33.0"))[0] == 3000


@pytest.mark.parametrize("version, credited", [("0.19.0", True), ("0.18.0", False)])
def test_nfs_prefetch_is_credited_from_the_release_that_does_it_by_itself(version, credited):
    cfg = cfg_of(storage={"streamingReadMibPerSecond": 900})
    rate, why = delivery.read_rate(cfg, V(version))
    assert (rate == 900) is credited
    assert ("prefetches NFS files" in why) is credited


def test_a_claim_gets_no_prefetch_credit():
    cfg = cfg_of(storage={"mode": "pvc", "nfs": None, "pvc": {"storageClass": "rwx"},
                          "streamingReadMibPerSecond": 900})
    assert delivery.read_rate(cfg, V("0.33.0"))[0] == 250


def test_an_object_store_streams_at_its_measured_rate():
    cfg = cfg_of(storage=STORE, engine={"loadFormat": "runai_streamer"})
    assert delivery.read_rate(cfg, V("0.33.0"))[0] == 1000


# --- once per node ---------------------------------------------------------------------------

def test_an_image_pull_downloads_then_unpacks_on_the_nodes_disk():
    stage, seconds, why = delivery.node_stage(cfg_of(storage=IMAGE), 100.0, 2000)
    mib = 100 * 1024
    assert stage == "model image pull"
    assert seconds == math.ceil(mib / 100 + load_paths.UNPACK_DISK_PASSES * mib / 2000)
    assert "storage.image.pullMibPerSecond 100" in why


def test_a_node_cache_downloads_then_verifies_once_per_node():
    stage, seconds, why = delivery.node_stage(cfg_of(storage=CACHE), 100.0, 2000)
    verify = min(2000, delivery.SHA256SUM_MIB_PER_SECOND)
    assert (stage, seconds) == ("cache staging", math.ceil(102400 / 50 + 102400 / verify))
    assert "storage.nodeCache.downloadMibPerSecond 50" in why


def test_the_stagers_verify_pass_is_no_faster_than_sha256sum_hashes():
    """The staging script checks every file with coreutils' sha256sum, one file after another:
    on a disk faster than the hash the pass is CPU-bound (2000 MiB/s NVMe, ~260 MiB/s hash)."""
    seconds = delivery.node_stage(cfg_of(storage=CACHE), 100.0, 2000)[1]
    assert seconds >= 102400 / 50 + 102400 / 300


def test_the_stage_runs_at_the_disks_rate_not_the_loaders_streaming_rate():
    """containerd's unpack and the stager's verify read the disk plainly; a streaming loader's
    measured rate (storage.streamingReadMibPerSecond) is the engine's, not theirs."""
    for storage in (IMAGE, CACHE):
        streaming = {**storage, "readMibPerSecond": 200, "streamingReadMibPerSecond": 20000}
        slow = {**storage, "readMibPerSecond": 200}
        fast = delivery.delivery(cfg_of(storage=streaming, engine={"loadFormat": "fastsafetensors"}),
                                 100.0, Layout(1, 1, 1, False, 1, ""), V("0.33.0"), 0.0)
        base = delivery.delivery(cfg_of(storage=slow, engine={"loadFormat": "fastsafetensors"}),
                                 100.0, Layout(1, 1, 1, False, 1, ""), V("0.33.0"), 0.0)
        assert fast.read_mib_per_second == 20000
        assert fast.stage_seconds == base.stage_seconds, storage["mode"]


@pytest.mark.parametrize("storage", [{}, STORE], ids=["nfs", "objectStore"])
def test_paths_without_a_node_stage_stage_nothing(storage):
    assert delivery.node_stage(cfg_of(storage=storage, engine={
        "loadFormat": "runai_streamer"}), 100.0, 400) == ("", 0, "")


# --- which budget each figure uses -------------------------------------------------------------

def test_the_first_start_on_a_node_adds_the_stage_the_probe_does_not_count():
    plan = make_plan(cfg_of(storage=IMAGE))
    start = plan.startup
    assert start.stage == "model image pull" and start.stage_seconds > 0
    assert start.first_start_budget_seconds == math.ceil(
        (start.stage_seconds + start.estimated_seconds) * 1.5)
    assert start.probe_failure_threshold == math.ceil(start.budget_seconds / 10)
    assert "first start on a node adds the model image pull" in start.reason


def test_rollout_and_autoscaler_windows_use_the_first_start():
    plan = make_plan(cfg_of(storage=IMAGE))
    first = plan.startup.first_start_budget_seconds
    assert plan.rollout.timeout_seconds == timing.rollout_timeout_seconds(
        1, 0, first, plan.drain.grace_seconds)
    assert plan.scaling.scale_up_window_seconds == min(first, 3600)


def test_on_nfs_the_first_start_is_the_restart():
    start = make_plan(cfg_of()).startup
    assert start.first_start_budget_seconds == start.budget_seconds and start.stage == ""


R1_GROUP = {"model": {"preset": "deepseek-r1", "maxModelLen": 32768},
            "multiNode": {"socketInterface": "eth0"}}


def test_a_groups_leader_waits_for_its_peers_model_image_pull_in_its_probe_budget():
    # The kubelet pulls an image volume after the pod is scheduled, on whatever node.
    start = make_plan(cfg_of(**R1_GROUP, clusterVersions={"kubernetes": "1.35"},
                             storage=IMAGE)).startup
    assert start.engine_phases["peer model image pull"] == start.stage_seconds
    assert start.engine_phases["peer image pull"] == timing.IMAGE_PULL_SECONDS
    assert start.first_start_budget_seconds == start.budget_seconds


def test_a_node_cache_group_never_waits_for_a_stage_in_its_probe_budget():
    # Its pods require the cache's ready label: a peer only lands on a staged node.
    start = make_plan(cfg_of(**R1_GROUP,
                             storage={**CACHE, "nodeCache": {"diskGi": 2000}})).startup
    assert "peer cache staging" not in start.engine_phases
    assert start.engine_phases["peer image pull"] == timing.IMAGE_PULL_SECONDS
    assert start.first_start_budget_seconds > start.budget_seconds


# --- refusals and warnings -------------------------------------------------------------------

@pytest.mark.parametrize("loader, version", [("instanttensor", "0.17.0"),
                                             ("runai_streamer_sharded", "0.8.4"),
                                             ("fastsafetensors", "0.8.1")])
def test_a_loader_older_than_its_first_release_is_refused(loader, version):
    cfg = cfg_of(engine={"loadFormat": loader})
    plan = make_plan(cfg)
    old = dataclasses.replace(plan, version=V(version))
    problem = checks.loader_in_the_pinned_version(cfg, old)
    assert problem.startswith(f"engine.loadFormat: {loader} is not in vLLM")
    assert checks.loader_in_the_pinned_version(cfg, plan) is None


def test_an_object_store_needs_the_streamer():
    found = problems(storage=STORE)
    assert any("only runai_streamer reads s3:// and gs://" in p for p in found)


def test_gs_needs_the_release_whose_streamer_reads_it():
    cfg = cfg_of(storage={**STORE, "objectStore": {"uri": "gs://models/m"}},
                 engine={"loadFormat": "runai_streamer"})
    plan = make_plan(cfg)
    assert "reads s3:// only" in checks.object_store_read_by_the_streamer(
        cfg, dataclasses.replace(plan, version=V("0.10.1")))
    assert checks.object_store_read_by_the_streamer(cfg, plan) is None


def test_an_image_volume_without_the_clusters_version_is_refused():
    found = problems(storage=IMAGE, clusterVersions={"kubernetes": None})
    assert any(p.startswith("clusterVersions.kubernetes is not set") for p in found)


@pytest.mark.parametrize("minor", ["1.31", "1.32"])
def test_an_image_volume_below_the_beta_is_refused(minor):
    found = problems(storage=IMAGE, clusterVersions={"kubernetes": minor})
    assert any(f"clusterVersions.kubernetes: {minor} has no image volumes" in p for p in found)


@pytest.mark.parametrize("minor, warned", [("1.33", True), ("1.34", True), ("1.35", False)])
def test_an_image_volume_where_the_gate_is_off_by_default_is_warned_about(minor, warned):
    cfg = cfg_of(storage=IMAGE, clusterVersions={"kubernetes": minor})
    found = [w for w in checks.warnings(cfg, make_plan(cfg)) if "ImageVolume" in w]
    assert bool(found) is warned


def test_a_cache_disk_too_small_for_its_revisions_is_refused_with_the_arithmetic():
    found = problems(storage={**CACHE, "nodeCache": {"diskGi": 30}})
    assert any(p.startswith("storage.nodeCache.diskGi: 30 Gi cannot hold keepRevisions 2")
               for p in found)


def test_kubernetes_image_volume_support_follows_the_feature_gate_table():
    assert [load_paths.image_volume_support(minor) for minor in
            ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36")] == [
        "none", "none", "none", "gated", "gated", "default", "default"]


@pytest.mark.parametrize("version, skips", [("0.18.0", True), ("0.17.0", False)])
def test_under_expert_parallelism_a_pod_reads_only_its_ranks_experts_from_0_18(version, skips):
    """R1 as TP 8 × DP 2 with expert parallelism over two nodes: each pod holds 8 of the 16
    EP ranks, so from 0.18 it reads the dense part and half of the experts."""
    cfg = cfg_of(vllmVersion=version, model={"preset": "deepseek-r1", "maxModelLen": 32768},
                 gpu={"type": "h100-80gb", "tensorParallel": 8, "dataParallel": 2,
                      "expertParallel": True},
                 multiNode={"socketInterface": "eth0", "rdma": {"resourceName": "rdma/ib"}})
    plan = make_plan(cfg)
    checkpoint = plan.weights.checkpoint_gib
    share = delivery.expert_share(plan.model.parameter_groups(), plan.model.weights_dtype)
    assert 0.9 < share < 1.0                      # R1's routed experts are most of its bytes
    expected = checkpoint * (1 - share) + checkpoint * share / 2 if skips else checkpoint
    assert plan.startup.read_gib == pytest.approx(expected)
    assert ("skips other ranks' experts" in plan.startup.reason) is skips


def test_the_read_rates_reason_names_the_key_it_came_from():
    assert delivery.read_rate(cfg_of(), V("0.33.0"))[1] == "storage.readMibPerSecond 250 MiB/s"
    fast = cfg_of(engine={"loadFormat": "fastsafetensors"},
                  storage={"streamingReadMibPerSecond": 3000})
    assert delivery.read_rate(fast, V("0.33.0"))[1].startswith(
        "storage.streamingReadMibPerSecond 3000 MiB/s [fastsafetensors loader]")


def test_the_step_credits_nfs_prefetch_by_the_pinned_version():
    cfg = cfg_of(storage={"streamingReadMibPerSecond": 900})
    assert delivery.delivery(cfg, 10.0, ONE_NODE, V("0.19.0"), 0.0).read_mib_per_second == 900
    assert delivery.delivery(cfg, 10.0, ONE_NODE, V("0.18.0"), 0.0).read_mib_per_second == 250


@pytest.mark.parametrize("storage, staged", [(IMAGE, True), ({}, False)], ids=["image", "nfs"])
def test_the_steps_reason_says_the_per_node_stage_only_where_there_is_one(storage, staged):
    step = delivery.delivery(cfg_of(storage=storage), 10.0, ONE_NODE, V("0.33.0"), 0.0)
    assert ("once per node" in step.reason) is staged
    assert step.reason.endswith("at every start") is not staged


def test_the_expert_share_is_the_experts_bytes_over_all_bytes():
    groups = {"embedding": 1.0, "head": 0.0, "norms_and_gates": 0.0, "replicated_linear": 0.0,
              "sharded_linear": 1.0, "experts": 2.0}
    assert delivery.expert_share(groups, "bf16") == pytest.approx(0.5)
    assert delivery.expert_share(dict.fromkeys(groups, 0.0), "bf16") == 0.0


def test_a_pod_holding_more_ranks_than_the_ep_group_reads_every_expert_once():
    stacked = Layout(tensor_parallel=4, pipeline_parallel=2, data_parallel=1,
                     expert_parallel=True, nodes=1, reason="")
    assert delivery.local_experts_read_gib(100.0, 0.9, stacked)[0] == pytest.approx(100.0)


def test_pulumi_waits_for_the_node_cache_stager_as_long_as_its_staging_takes():
    plan = make_plan(cfg_of(**R1_GROUP, storage={**CACHE, "nodeCache": {"diskGi": 2000}}))
    # Download at 50 MiB/s and verify at 2000 MiB/s, then the stager pod's start.
    assert plan.storage.download_seconds == plan.startup.stage_seconds
    assert plan.storage.download_timeout_seconds == plan.startup.stage_seconds + 600
    assert plan.storage.capacity_gi == 2000


def test_a_node_cache_in_a_namespace_the_stack_does_not_create_warns_of_its_pod_security():
    cfg = cfg_of(storage={**CACHE, "nodeCache": {"diskGi": 100}}, createNamespace=False)
    found = checks.warnings(cfg, make_plan(cfg))
    assert any("createNamespace false" in warning and "enforce=privileged" in warning
               for warning in found)
    created = cfg_of(storage={**CACHE, "nodeCache": {"diskGi": 100}})
    assert not any("enforce=privileged" in w for w in checks.warnings(created, make_plan(created)))


def test_the_expert_read_reason_counts_the_pods_ranks_over_the_ep_group_in_whole_ranks():
    """TP 8 × DP 2 with expert parallelism over two pods: 8 of the 16 EP ranks on each."""
    two_pods = Layout(tensor_parallel=8, pipeline_parallel=1, data_parallel=2,
                      expert_parallel=True, nodes=2, reason="")
    gib, why = delivery.local_experts_read_gib(100.0, 0.9, two_pods)
    assert gib == pytest.approx(100.0 * 0.1 + 100.0 * 0.9 / 2)
    assert why == ("checkpoint 100.0 GiB × (1 − experts 0.90) + experts × 8/16 ranks' "
                   "(vLLM skips other ranks' experts)")


def test_the_runai_streamer_read_reason_counts_the_pods_ranks_in_whole_ranks():
    """TP 8 × PP 2 over two pods: 8 ranks on each, each streaming every file."""
    gib, why = delivery.pod_read_gib("runai_streamer", 100.0, TWO_NODES)
    assert gib == 800.0
    assert why == "checkpoint 100.0 GiB × 8 ranks (each streams every file)"
