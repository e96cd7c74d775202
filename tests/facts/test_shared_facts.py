"""The program and the policy pack read shared facts from one place (facts/), so the policy's
verdict on what the program emits can never drift from the program's own rule."""

from __future__ import annotations

import itertools

import pytest

import facts
from facts import conventions, secrets
from planning import config
from policy import k8s, metrics, security_checks, workload_checks
from rendering import pod, promql

SIGNALS = sorted(facts.vllm_metrics()["signals"])


def _versions_in_facts() -> list[str]:
    """Every version the metric facts name, plus the patch after each and X.Y.0 of each minor."""
    named = {entry[key] for signal in facts.vllm_metrics()["signals"].values()
             for entry in signal["names"] for key in ("since", "hidden") if key in entry}
    versions = set()
    for text in named:
        major, minor, patch = facts.parse_version(text).release[:3]
        versions |= {f"{major}.{minor}.{patch}", f"{major}.{minor}.{patch + 1}",
                     f"{major}.{minor + 1}.0", f"{major}.{max(minor - 1, 0)}.5"}
    return sorted(v for v in versions if facts.parse_version(v) >= facts.parse_version("0.8.0"))


VERSIONS = _versions_in_facts()


def test_the_versions_cover_every_rename_in_the_facts():
    assert len(VERSIONS) >= 10


@pytest.mark.parametrize("version", VERSIONS)
def test_policy_accepts_exactly_the_names_the_program_queries(version):
    emitted = set()
    for signal in SIGNALS:
        try:
            emitted |= set(promql.metric_names(signal, version))
        except ValueError:
            assert facts.rollout_metric_names(signal, version) == []
    assert emitted == set(metrics.allowed_names(version))
    assert emitted, f"no metric at all for {version}"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_name_hidden_before_the_previous_minor_is_refused_by_both(version):
    pinned = facts.parse_version(version)
    for signal in SIGNALS:
        for entry in facts.vllm_metrics()["signals"][signal]["names"]:
            if "hidden" not in entry:
                continue
            hidden = facts.parse_version(entry["hidden"])
            major, minor = pinned.major, pinned.minor
            floor = facts.parse_version(f"{major}.{minor - 1}.0" if minor else f"{major - 1}.0.0")
            gone = hidden <= floor
            in_program = entry["name"] in facts.rollout_metric_names(signal, version)
            assert in_program is (not gone and facts.parse_version(entry["since"]) <= pinned)
            assert metrics.is_allowed(entry["name"], version) is (
                in_program or entry["name"] in metrics.allowed_names(version))


TOKENS = [
    ("hf_" + "a" * 34, True),                 # a Hugging Face token
    ("sk-" + "B" * 48, True),                 # an OpenAI-style key
    ("sk-proj-" + "x1_" * 10, True),
    ("sk-" + "a" * 15, False),                # one short of the threshold
    ("sk-" + "a" * 16, True),                 # exactly the threshold
    ("sk-test", False),
    ("hf_transfer", False),
    ("--model-name=sk-short", False),
    ("token", False),
]


@pytest.mark.parametrize("token,expected", TOKENS)
def test_config_and_policy_agree_on_what_looks_like_a_secret(token, expected):
    assert secrets.looks_like_secret(token) is expected
    # The program refuses it in engine.extraArgs ...
    refused = True
    try:
        config.EngineConfig(extra_args=["--served-model-alias=" + token])
    except Exception:  # noqa: BLE001 - pydantic's ValidationError
        refused = True
    else:
        refused = False
    assert refused is expected
    # ... and the policy pack flags it in an env value, a command token and a ConfigMap.
    container = {"name": "vllm", "image": "x@sha256:" + "0" * 64,
                 "env": [{"name": "SOME_VALUE", "value": token}], "args": [token]}
    props = {"metadata": {"name": "d"},
             "spec": {"template": {"spec": {"containers": [container]}}}}
    found = security_checks.check_no_literal_secrets(k8s.DEPLOYMENT, "d", props, {})
    assert bool(found) is expected
    cm = {"metadata": {"name": "c"}, "data": {"f": f"key: {token}\n"}}
    assert bool(security_checks.check_no_literal_secrets(k8s.CONFIG_MAP, "c", cm, {})) is expected


def test_gpu_resource_and_topology_key_are_one_definition():
    assert pod.GPU_RESOURCE is conventions.GPU_RESOURCE is k8s.GPU_RESOURCE
    assert pod.GPU_PRODUCT_LABEL is conventions.GPU_PRODUCT_LABEL
    assert workload_checks.HOSTNAME_KEY is conventions.HOSTNAME_TOPOLOGY_KEY


def test_no_module_outside_facts_spells_the_shared_literals():
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[2]
    literals = ['"nvidia.com/gpu"', '"kubernetes.io/hostname"', '"nvidia.com/gpu.product"',
                '"sk-"', '"hf_"']
    offenders = []
    for path in itertools.chain(*(root.glob(f"{d}/*.py") for d in
                                  ("planning", "rendering", "components", "policy"))):
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(root)}: {lit}" for lit in literals if lit in text]
    assert offenders == []


def test_planning_and_rendering_run_deepseek_v4_in_one_cache_format():
    """The plan sizes V4's cache in the format the rendered flags start vLLM with."""
    from facts import model_families
    from planning.plan import make_plan
    from rendering.vllm_args import server_args
    cfg = config.parse({
        "vllmVersion": "0.20.0",
        "model": {"preset": "deepseek-v4-flash", "revision": "main", "servedName": "m",
                  "maxModelLen": 131072},
        "gpu": {"type": "h200", "tensorParallel": 1, "dataParallel": 4, "expertParallel": True},
        "storage": {"mode": "nfs", "nfs": {"server": "nfs", "path": "/m"}},
        "network": {"gatewayNamespaces": ["gateway"]},
    })
    plan = make_plan(cfg)
    args = server_args(cfg, plan, "/models/m")
    assert args[args.index("--block-size") + 1] == str(plan.kv.block_size)
    assert args[args.index("--kv-cache-dtype") + 1] == model_families.kv_cache_dtype(
        plan.model.attention, cfg.model.kv_cache_dtype) == "fp8"
