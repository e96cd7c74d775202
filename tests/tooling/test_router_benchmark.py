"""The router benchmark (`python -m benchmark.router`) works and keeps its section of
benchmark/results.md. Its figures are not asserted here (a shared CI box cannot time a router):
one tiny run proves the command measures today's and the new router side by side."""

from __future__ import annotations

import math
import os
import shutil
import subprocess

import pytest
import yaml

from benchmark import router as bench
from benchmark import router_report
from benchmark.router_variants import UNDO_ENV, candidates, features, variants
from rendering import router as render
from tests import tools


def test_a_tiny_run_measures_todays_and_the_new_router_in_the_same_run():
    result = bench.run(["today", "new"], bench.Settings(requests=3, streamed=1, seconds=1,
                                                        warmup=1, spaced=2))
    assert set(result["figures"]) == {"today", "new"}
    for row in result["figures"].values():
        for key in ("added_p50_ms", "added_p99_ms", "spaced_added_p50_ms",
                    "spaced_added_p99_ms", "cpu_ms_per_request", "cpu_ms_per_token",
                    "load_added_p99_ms", "load_rps"):
            assert math.isfinite(row[key]), (key, row)
        assert row["cpu_ms_per_request"] > 0
    assert len(result["loads"]) >= 3   # the machine's load beside every phase
    text = router_report.section(result)
    assert text.startswith(router_report.HEADING) and "| today |" in text and "| new |" in text
    assert "spaced, added p50" in text and router_report.PROFILE in text


def test_today_undoes_every_lever_and_new_is_the_rendered_router(tmp_path):
    config = {"model_list": [{"litellm_params": {"model": "hosted_vllm/m"},
                              "model_info": {"id": "a--local", **render.ZERO_PRICING}}],
              "general_settings": {"master_key": "k"},
              "litellm_settings": {"prometheus_metrics_config": [{"group": "g", "metrics": []}],
                                   "global_disable_no_log_param": True}}
    args = ["--config", "c", "--log_config", "l.json"]
    env = {**render.LIMITER_ENV, "PYTHONPATH": "/etc/litellm"}
    chosen = variants(["today", "new"], tmp_path / "shim")
    assert chosen["new"](config, args, env) == (config, args, env)
    today, today_args, today_env = chosen["today"](config, args, env)
    assert today["model_list"][0]["model_info"] == {"id": "a--local"}
    assert "prometheus_metrics_config" not in today["litellm_settings"]
    assert "global_disable_no_log_param" not in today["litellm_settings"]
    assert "--log_config" not in today_args
    assert not set(render.LIMITER_ENV) & set(today_env)
    assert today_env["PYTHONPATH"].split(":")[0] == str(tmp_path / "shim")
    # The undos run in the router process, the packages' first (before LiteLLM's import).
    assert today_env[UNDO_ENV].split(",") == ["bench_without_packages",
                                              "bench_without_gauge_skip",
                                              "bench_without_service_skip"]
    assert "httptools" in (tmp_path / "shim" / "bench_without_packages.py").read_text()
    assert config["litellm_settings"]["prometheus_metrics_config"], "the rendered one is kept"


@pytest.mark.parametrize("variant,cached,new,undone", [
    ("new-without-gauge-skip", "litellm_logging._PrometheusLogger", "Metrics",
     "PrometheusLogger"),
    ("new-without-service-skip", "_service_logger.PrometheusServicesLogger", "Services",
     "LiteLLMs")])
def test_an_undo_inside_the_router_process_brings_back_litellms_own_class(
        tmp_path, variant, cached, new, undone):
    """The undo runs in the router process: with it the router module leaves LiteLLM's class
    in place, so the variant measures LiteLLM's own callback."""
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(render.AUTH_SOURCE, config)
    undo = variants([variant], tmp_path / "shim")[variant]
    probe = ("import vllm_serving_router\n"
             "from litellm import _service_logger\n"
             "from litellm.litellm_core_utils import litellm_logging\n"
             f"print('CLASS', {cached}.__name__)\n")
    classes = {}
    for name, env in {"new": {"PYTHONPATH": str(config)},
                      "undone": undo({}, [], {"PYTHONPATH": str(config)})[2]}.items():
        done = subprocess.run([str(tools.router_venv() / "bin" / "python"), "-c", probe],
                              env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env},
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        classes[name] = [l for l in done.stdout.splitlines() if l.startswith("CLASS")]
    assert classes == {"new": [f"CLASS {new}"], "undone": [f"CLASS {undone}"]}


def _rendered_shape() -> tuple[dict, list[str], dict[str, str]]:
    config = {"model_list": [], "general_settings": {"master_key": "k", "coordination_redis": {
        "host": "127.0.0.1"}}, "litellm_settings": {
            "callbacks": ["vllm_serving_router.caps", "prometheus"],
            "service_callback": ["prometheus_system"], "turn_off_message_logging": True}}
    env = {**render.GUARD_ENV, **render.LIMITER_ENV}
    return config, ["--config", "c"], env


def test_each_candidate_lever_changes_only_its_own_switch():
    config, args, env = _rendered_shape()
    expected = {"httpx-transport": ({}, {"DISABLE_AIOHTTP_TRANSPORT": "True"}),
                "log-error": ({}, {"LITELLM_LOG": "ERROR"}),
                "no-redaction": ({"turn_off_message_logging": False}, {})}
    assert set(candidates()) == set(expected)
    for name, (settings, extra_env) in expected.items():
        changed, changed_args, changed_env = candidates()[name](config, args, env)
        assert changed["litellm_settings"] == {**config["litellm_settings"], **settings}, name
        assert changed_env == {**env, **extra_env} and changed_args == args, name
    assert config["litellm_settings"]["turn_off_message_logging"] is True, "rendered one kept"


def test_each_feature_probe_removes_only_that_behaviour():
    config, args, env = _rendered_shape()
    probes = features()
    no_metrics = probes["prometheus"](config, args, env)[0]["litellm_settings"]
    assert no_metrics["callbacks"] == ["vllm_serving_router.caps"]
    assert "service_callback" not in no_metrics
    assert probes["caps"](config, args, env)[0]["litellm_settings"]["callbacks"] == \
        ["prometheus"]
    no_redis = probes["redis"](config, args, env)[0]
    assert "coordination_redis" not in no_redis["general_settings"]
    assert no_redis["litellm_settings"]["callbacks"] == config["litellm_settings"]["callbacks"]
    unguarded = probes["guard"](config, args, env)[2]
    assert "LITELLM_WORKER_STARTUP_HOOKS" not in unguarded
    assert unguarded["PYTHONPATH"] == render.CONFIG_DIR, "the auth module still loads"
    assert config["general_settings"]["coordination_redis"], "the rendered one is kept"


def test_every_candidate_and_feature_probe_is_a_variant_by_name(tmp_path):
    names = [f"new-with-{name}" for name in candidates()] + \
            [f"new-minus-{name}" for name in features()]
    assert set(variants(names, tmp_path)) == set(names)


def test_an_unknown_variant_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match="unknown variant.*fastest"):
        variants(["fastest"], tmp_path)


def test_the_router_section_is_replaced_in_place_and_survives_the_kv_benchmark_rewrite():
    old = f"# results\n\ntext\n\n{router_report.HEADING}\n\nold figures\n{router_report.END}\n"
    new_section = f"{router_report.HEADING}\n\nnew figures\n{router_report.END}"
    replaced = router_report.replace_section(old, new_section)
    assert "new figures" in replaced and "old figures" not in replaced
    assert replaced.startswith("# results\n\ntext\n")
    appended = router_report.replace_section("# results\n", new_section)
    assert appended.endswith(new_section + "\n")
    rewritten = router_report.keep_section("# results (rewritten)\n", replaced)
    assert rewritten.startswith("# results (rewritten)") and "new figures" in rewritten
