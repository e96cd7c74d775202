"""How raw stack config becomes typed config: what the Pulumi CLI hands over, GPU facts from
the catalog or the stack, durations, stack names, and messages that name the exact key.

Plain unit tests of planning/config/; the whole-program refusals (nothing created, no
traceback) are in tests/planning/test_config.py.
"""

import json

import pytest

from planning import config
from tests.harness import stack_config

STAGING = stack_config("staging")


def problems(**changes) -> list[str]:
    with pytest.raises(config.ConfigError) as error:
        config.parse({**STAGING, **changes})
    return error.value.problems


# --- GPU facts --------------------------------------------------------------------------------

def test_a_catalog_gpu_takes_every_fact_from_the_catalog():
    gpu = config.GpuConfig(type="l4").resolved()
    assert gpu == config.GpuFacts(name="NVIDIA L4", product_labels=["NVIDIA-L4"],
                                  memory_gib=21.96, compute_capability=8.9, per_node=8,
                                  interconnect="pcie", memory_bandwidth_gb_s=300,
                                  bf16_tflops=121, fp8_tflops=242, link_gb_s=32)


def test_each_fact_set_in_the_stack_overrides_the_catalog():
    gpu = config.GpuConfig(type="l4", productLabels=["NVIDIA-L4-custom"], memoryGib=20.0,
                           computeCapability=9.0, perNode=4, interconnect="nvlink").resolved()
    assert gpu == config.GpuFacts(name="NVIDIA L4", product_labels=["NVIDIA-L4-custom"],
                                  memory_gib=20.0, compute_capability=9.0, per_node=4,
                                  interconnect="nvlink", memory_bandwidth_gb_s=300,
                                  bf16_tflops=121, fp8_tflops=242, link_gb_s=32)


def test_a_gpu_outside_the_catalog_is_described_in_full_and_defaults_to_pcie():
    gpu = config.GpuConfig(productLabels=["X-1"], memoryGib=47.5, computeCapability=8.6,
                           perNode=2).resolved()
    assert gpu == config.GpuFacts(name="custom", product_labels=["X-1"], memory_gib=47.5,
                                  compute_capability=8.6, per_node=2, interconnect="pcie")
    assert "without gpu.type, set gpu.memoryGib, gpu.perNode" in " ".join(
        problems(gpu={"productLabels": ["X-1"], "computeCapability": 8.6}))


# --- durations --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["30s", "2m", "1h30m", "1d", "500ms", "10s0ms"])
def test_a_prometheus_duration_is_accepted(value):
    cfg = config.parse({**STAGING, "monitoring": {"scrapeInterval": value}})
    assert cfg.monitoring.scrape_interval == value


@pytest.mark.parametrize("value", ["", "0", "0s", "0m0s", "5", "30m1h", "2 m", "1.5m"])
def test_anything_else_is_refused_naming_the_key_and_the_value_once(value):
    assert problems(monitoring={"scrapeInterval": value}) == [
        "monitoring.scrapeInterval: not a Prometheus duration above zero; write a number with a "
        f"unit, largest unit first, such as 30s, 2m or 1h30m (given {value!r})"]


# --- messages ---------------------------------------------------------------------------------

def test_an_error_lists_every_problem_under_one_heading():
    error = config.ConfigError(["a: wrong", "b: missing"])
    assert error.problems == ["a: wrong", "b: missing"]
    assert str(error) == ("The stack configuration is invalid; nothing was created.\n"
                          "  - a: wrong\n  - b: missing")


def test_a_key_inside_a_list_is_named_with_its_index():
    assert config._key_path(("traffic", "clients", 0, "name")) == "traffic.clients[0].name"
    assert config._key_path(("a", "b", "c", 2)) == "a.b.c[2]"
    assert config._key_path((0, "name")) == "[0].name"
    assert config._key_path(("engine", "extraArgs", 1, 0)) == "engine.extraArgs[1][0]"


def test_validator_messages_lose_pydantics_prefix_and_missing_keys_say_so():
    found = problems(storage={"mode": "nfs", "nfs": {"path": "/m"}})
    assert found == ["storage.nfs.server: required but not set"]
    found = problems(gpu={"type": "b300"})
    assert len(found) == 1 and found[0].startswith("gpu: gpu.type 'b300' is not known")
    assert "Value error" not in found[0]


def test_a_problem_of_the_whole_config_is_reported_without_a_key():
    found = problems(image={"tag": "v0.9.0"})            # contradicts vllmVersion
    assert len(found) == 1 and found[0].startswith("image.tag ") and "vllmVersion" in found[0]


# --- stack names ------------------------------------------------------------------------------

def test_a_stack_name_of_up_to_40_characters_is_accepted():
    config.check_stack_name("a" * 40)
    config.check_stack_name("Prod-EU-1")              # objects use it lower-cased
    with pytest.raises(config.ConfigError) as error:
        config.check_stack_name("a" * 41)
    assert f"stack name {'a' * 41!r}" in str(error.value)


def test_a_bad_stack_name_comes_with_a_rename_to_run():
    with pytest.raises(config.ConfigError) as error:
        config.check_stack_name("Prod_EU")
    assert "`pulumi stack rename prod-eu`" in str(error.value)
    with pytest.raises(config.ConfigError) as error:
        config.check_stack_name("__")
    assert "`pulumi stack rename prod`" in str(error.value)


# --- what the Pulumi CLI hands over -----------------------------------------------------------

def pulumi_config(monkeypatch, values: dict) -> config.StackConfig:
    """Run from_pulumi_config with `values` as the CLI passes them: every value as text,
    objects and numbers as JSON."""
    from pulumi.runtime import config as runtime_config
    text = {f"vllm-serving:{key}": value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()}
    text["aws:region"] = "eu-west-1"                         # another project's key: ignored
    monkeypatch.setattr(runtime_config, "get_config_env", lambda: text)
    monkeypatch.setattr(runtime_config, "CONFIG", type("Empty", (), {"get": lambda self: {}})())
    return config.from_pulumi_config()


def test_objects_and_numbers_arrive_as_json_text_and_are_parsed(monkeypatch):
    cfg = pulumi_config(monkeypatch, STAGING)
    assert cfg == config.parse(STAGING)


def test_a_version_or_namespace_that_looks_like_a_number_stays_text(monkeypatch):
    # `pulumi config set namespace 2024` stores "2024", which JSON reads as a number.
    cfg = pulumi_config(monkeypatch, {**STAGING, "namespace": "2024"})
    assert cfg.namespace == "2024"
    # "0.20" would become the float 0.2: the text is kept, and refused as not x.y.z.
    with pytest.raises(config.ConfigError) as error:
        pulumi_config(monkeypatch, {**STAGING, "vllmVersion": "0.20"})
    assert "(given '0.20')" in str(error.value)


def test_a_namespace_left_out_is_the_default_llm_serving(monkeypatch):
    values = {k: v for k, v in STAGING.items() if k != "namespace"}
    assert pulumi_config(monkeypatch, values).namespace == "llm-serving"
