"""The engine logs JSON lines (issue 21, operations output): every stack's engine pods mount the
logging ConfigMap rendered for their vLLM version and point VLLM_LOGGING_CONFIG_PATH at it, the
ConfigMap exists before the pods (the workload waits for it), and a multi-node group's leader
and workers log the same way. What the config itself does is tests/rendering/test_logging_config.py's."""

from __future__ import annotations

import json

import pytest

from rendering import vllm_args
from tests.conftest import STACKS
from tests.harness import run_stack
from tests.k8s_helpers import pod_spec, vllm_container


def _logging_config_map(run):
    (config_map,) = [r for r in run.of_type("core/v1:ConfigMap") if r.name.endswith("-logging")
                     and r.options.parent == run.workload().options.parent]
    return config_map


@pytest.mark.parametrize("stack", STACKS)
def test_every_engine_pod_reads_the_json_logging_config_its_version_renders(stack):
    run = run_stack(stack)
    workload = run.workload()
    config_map = _logging_config_map(run)
    assert config_map.key in workload.options.depends_on
    data = config_map.inputs["data"][vllm_args.LOGGING_CONFIG_FILE]
    assert json.loads(data)["version"] == 1
    roles = ("leader", "worker") if workload.type.endswith("LeaderWorkerSet") else ("leader",)
    for role in roles:
        container, spec = vllm_container(workload, role), pod_spec(workload, role)
        env = {e["name"]: e.get("value") for e in container["env"]}
        path = env["VLLM_LOGGING_CONFIG_PATH"]
        (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
        assert mount["readOnly"] is True
        (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
        assert volume["configMap"]["name"] == config_map.inputs["metadata"]["name"]
        assert path.endswith("/" + vllm_args.LOGGING_CONFIG_FILE)


def test_a_version_without_json_logging_mounts_nothing():
    run = run_stack("staging", {"vllmVersion": "0.10.1"})
    assert run.error is None, run.error
    assert not [r for r in run.of_type("core/v1:ConfigMap") if r.name.endswith("-logging")]
    env = {e["name"] for e in vllm_container(run.workload())["env"]}
    assert "VLLM_LOGGING_CONFIG_PATH" not in env
