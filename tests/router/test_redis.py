"""The Redis the router replicas share their limit counters through: deployed by the program when
the stack names none and the router has more than one replica, an existing one kept working,
and the keys the router needs made from `pulumi config set --secret` values.

The rendered redis.conf and the generated Secret's auth.conf are run by a real `redis-server`
(Debian's, on 127.0.0.1; `.ci/run` installs it): password required, the readiness check's exact
command, bounded memory that evicts instead of refusing writes, nothing written to disk.
"""

from __future__ import annotations

import copy
import os
import pathlib
import re
import subprocess
import time

import pytest

from pulumi.runtime import rpc

from planning import traffic as t
from planning.config import ConfigError, parse
from rendering import redis as render
from tests import tools as real_tools
from tests.harness import run_program, run_stack, stack_config
from tools.mockrun import cluster_config
from tests.openai_stub import free_port

REDIS = "vllm-serving:index:RouterRedis"
DEPLOYMENT, SECRET, CONFIG_MAP = "apps/v1:Deployment", "core/v1:Secret", "core/v1:ConfigMap"
PROVIDER_KEY = "sk-provider-key-from-pulumi-config-0123456789"
SECRET_SIG, SECRET_VALUE_SIG = rpc._special_sig_key, rpc._special_secret_sig
"""How Pulumi marks a secret value in a resource's inputs (`pulumi/runtime/rpc.py`)."""


def _prod_traffic(**changes) -> dict:
    traffic = copy.deepcopy(stack_config("prod")["traffic"])
    traffic.update(changes)
    return traffic


def deployed_redis_traffic(**router) -> dict:
    """prod's traffic block with no Redis named (the program deploys one) and the cloud key
    from `pulumi config set --secret --path trafficSecrets.providers.cloud`."""
    traffic = _prod_traffic()
    traffic["router"] = {k: v for k, v in traffic["router"].items() if k != "redis"}
    traffic["router"].update(router)
    traffic["providers"] = [{k: v for k, v in p.items() if k != "apiKeySecret"}
                            for p in traffic["providers"]]
    return traffic


def run_deployed(**router):
    """prod with a program-deployed Redis (its traffic block replaced whole)."""
    run = run_program("prod", {
        **stack_config("prod"), **cluster_config("prod"),
        "traffic": deployed_redis_traffic(**router),
        "trafficSecrets": {"providers": {"cloud": PROVIDER_KEY}}})
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="module")
def deployed():
    return run_deployed()


@pytest.fixture(scope="module")
def prod():
    run = run_stack("prod")
    assert run.error is None, run.error
    return run


def _redis_children(run) -> list:
    return [r for r in run.resources if r.options.parent == f"{REDIS}::{_component(run).name}"]


def _component(run):
    return run.one(REDIS)


def _of(run, kind: str):
    return next(r for r in run.of_type(kind) if r.options.parent
                and r.options.parent.startswith(REDIS))


def _router_container(run) -> dict:
    deployment = next(r for r in run.of_type(DEPLOYMENT) if r.name.endswith("-router"))
    return deployment.inputs["spec"]["template"]["spec"]["containers"][0]


def _env(run) -> dict:
    return {e["name"]: e for e in _router_container(run)["env"]}


def _problems(traffic: dict, secrets: dict | None = None) -> str:
    raw = {**stack_config("prod"), "traffic": traffic, "trafficSecrets": secrets or {}}
    cfg = parse(raw)
    problems = t.secret_problems(cfg.traffic, cfg.traffic_secrets)
    assert problems, "expected a refusal"
    return "; ".join(problems)


# ---------------------------------------------------------------- when the program deploys one

def test_several_replicas_without_a_redis_get_one_deployed_by_the_program(deployed):
    children = {r.kind for r in _redis_children(deployed)}
    assert {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "Secret",
            "ConfigMap", "RandomPassword"} <= children
    component = _component(deployed)
    assert component.options.parent.startswith("vllm-serving:index:TrafficRouter::")
    import yaml
    config_map = next(r for r in deployed.of_type(CONFIG_MAP) if r.name.endswith("-router-config"))
    block = yaml.safe_load(config_map.inputs["data"]["config.yaml"])["general_settings"][
        "coordination_redis"]
    assert block["host"] == "prod-deepseek-r1-32b-router-redis.llm-serving.svc"
    assert block["password"] == "os.environ/VLLM_SERVING_REDIS_PASSWORD"
    ref = _env(deployed)["VLLM_SERVING_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "prod-deepseek-r1-32b-router-redis", "key": render.PASSWORD_KEY}


def test_one_replica_without_a_redis_counts_in_process():
    traffic = deployed_redis_traffic(replicas=1)
    cfg = parse({**stack_config("prod"), "traffic": traffic})
    assert cfg.traffic.router.shared_redis() is None


def test_an_existing_redis_is_kept_and_nothing_is_deployed(prod):
    assert prod.of_type(REDIS) == []
    import yaml
    config_map = next(r for r in prod.of_type(CONFIG_MAP) if r.name.endswith("-router-config"))
    block = yaml.safe_load(config_map.inputs["data"]["config.yaml"])["general_settings"][
        "coordination_redis"]
    assert block["host"] == "redis.llm-serving.svc"
    assert block["socket_timeout"] == t.REDIS_SOCKET_TIMEOUT_SECONDS
    assert block["socket_connect_timeout"] == t.REDIS_SOCKET_TIMEOUT_SECONDS


def test_the_redis_image_is_pinned_by_digest(deployed):
    container = _of(deployed, DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]
    name, digest = container["image"].split("@")
    assert name == "docker.io/library/redis:" + t.REDIS_VERSION
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64


def test_the_redis_pod_is_restricted(deployed):
    spec = _of(deployed, DEPLOYMENT).inputs["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"] == {"cpu": "250m", "memory": "128Mi"}
    assert container["resources"]["requests"] == container["resources"]["limits"]


def test_only_the_router_pods_reach_redis(deployed):
    policy = _of(deployed, "NetworkPolicy").inputs["spec"]
    router = next(r for r in deployed.of_type(DEPLOYMENT) if r.name.endswith("-router"))
    router_selector = router.inputs["spec"]["selector"]["matchLabels"]
    assert policy["ingress"] == [{"from": [{"podSelector": {"matchLabels": router_selector}}],
                                  "ports": [{"protocol": "TCP", "port": 6379}]}]
    assert policy["egress"] == [] and set(policy["policyTypes"]) == {"Ingress", "Egress"}
    redis_selector = _of(deployed, DEPLOYMENT).inputs["spec"]["selector"]["matchLabels"]
    assert policy["podSelector"]["matchLabels"] == redis_selector
    router_policy = next(r for r in deployed.of_type("NetworkPolicy")
                         if r.name.endswith("-router")).inputs["spec"]
    to_redis = [rule for rule in router_policy["egress"]
                if {"protocol": "TCP", "port": 6379} in rule["ports"]]
    assert to_redis == [{"to": [{"podSelector": {"matchLabels": redis_selector}}],
                         "ports": [{"protocol": "TCP", "port": 6379}]}]


def test_a_node_drain_can_evict_redis(deployed):
    pdb = _of(deployed, "PodDisruptionBudget").inputs["spec"]
    assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb


def test_the_generated_password_is_only_in_its_secret(deployed):
    secret = _of(deployed, SECRET)
    assert "stringData" in secret.options.additional_secret_outputs
    password = secret.inputs["stringData"]["value"][render.PASSWORD_KEY]
    assert len(password) >= 32
    everywhere_else = repr([r.inputs for r in deployed.resources if r is not secret])
    assert password not in everywhere_else


def test_maxmemory_is_derived_from_the_memory_limit():
    assert t.redis_maxmemory_mib(128) == 96
    run = run_deployed(redis={"memoryMi": 512})
    assert "maxmemory 384mb" in _of(run, CONFIG_MAP).inputs["data"]["redis.conf"]


# ---------------------------------------------------------------- keys from pulumi config

def test_a_provider_key_from_pulumi_config_becomes_a_secret_the_router_reads(deployed):
    secret = next(r for r in deployed.of_type(SECRET) if r.name.endswith("-provider-cloud"))
    # Pulumi's secret wrapper: the key is stored encrypted in the state.
    assert secret.inputs["stringData"][SECRET_SIG] == SECRET_VALUE_SIG
    assert secret.inputs["stringData"]["value"] == {"api-key": PROVIDER_KEY}
    assert "stringData" in secret.options.additional_secret_outputs
    ref = _env(deployed)["VLLM_SERVING_KEY_CLOUD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "prod-deepseek-r1-32b-router-provider-cloud", "key": "api-key"}
    assert PROVIDER_KEY not in repr(_router_container(deployed))


def test_secrets_the_program_does_not_make_never_hold_the_pods(prod):
    """prod names `cloud-llm-key` and `router-redis`: if they are missing the pods still start
    (the provider answers 401, Redis refuses the connection and the limiter alert fires)
    instead of waiting until `pulumi up` gives up after 600 s."""
    env = _env(prod)
    for name in ("VLLM_SERVING_KEY_CLOUD", "VLLM_SERVING_REDIS_PASSWORD"):
        assert env[name]["valueFrom"]["secretKeyRef"]["optional"] is True, name
    assert env["VLLM_SERVING_ENGINE_KEY"]["valueFrom"]["secretKeyRef"].get("optional") is None


def test_an_external_redis_password_from_pulumi_config_becomes_a_secret():
    traffic = _prod_traffic()
    traffic["router"]["redis"] = {"host": "redis.example.internal", "port": 6380}
    run = run_program("prod", {**stack_config("prod"), **cluster_config("prod"),
                               "traffic": traffic,
                               "trafficSecrets": {"redisPassword": "from-pulumi-config-0123"}})
    assert run.error is None, run.error
    secret = next(r for r in run.of_type(SECRET) if r.name.endswith("-router-redis-password"))
    assert secret.inputs["stringData"]["value"] == {"password": "from-pulumi-config-0123"}
    ref = _env(run)["VLLM_SERVING_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "prod-deepseek-r1-32b-router-redis-password", "key": "password"}
    assert run.of_type(REDIS) == []


def test_a_secure_value_the_tools_cannot_decrypt_still_renders():
    """The plan and render tools see `{secure: v1:...}`; the Secret gets a placeholder."""
    cfg = parse({**stack_config("prod"), "traffic": deployed_redis_traffic(),
                 "trafficSecrets": {"providers": {"cloud": {"secure": "v1:AAAA"}}}})
    assert t.secret_problems(cfg.traffic, cfg.traffic_secrets) == []


@pytest.mark.parametrize("traffic, secrets, words", [
    (deployed_redis_traffic(), {}, "pulumi config set --secret --path "
                                   "trafficSecrets.providers.cloud"),
    (_prod_traffic(), {"providers": {"cloud": PROVIDER_KEY}}, "set twice"),
    (deployed_redis_traffic(), {"providers": {"cloud": PROVIDER_KEY, "clod": PROVIDER_KEY}},
     "trafficSecrets.providers.clod: no provider of that name"),
    (deployed_redis_traffic(), {"providers": {"cloud": PROVIDER_KEY},
                                "redisPassword": "x" * 20}, "generated password"),
    (_prod_traffic(), {"redisPassword": "x" * 20}, "set twice"),
], ids=["no key", "key twice", "unknown provider", "password for a deployed redis",
        "password twice"])
def test_key_sources_are_refused_when_missing_or_doubled(traffic, secrets, words):
    message = _problems(traffic, secrets)
    assert words in message
    assert PROVIDER_KEY not in message and "x" * 20 not in message


@pytest.mark.parametrize("redis, words", [
    ({"host": "redis.example", "memoryMi": 256}, "memoryMi size the Redis the program deploys"),
    ({"passwordSecret": {"name": "r", "key": "p"}}, "passwordSecret is for an existing Redis"),
    ({"port": 6380}, "port is for an existing Redis"),
], ids=["size for an existing redis", "password secret for a deployed one", "port"])
def test_redis_settings_of_the_other_kind_are_refused(redis, words):
    traffic = _prod_traffic()
    traffic["router"]["redis"] = redis
    with pytest.raises(ConfigError) as error:
        parse({**stack_config("prod"), "traffic": traffic})
    assert words in str(error.value)


# ---------------------------------------------------------------- the real redis-server

def _redis_cli(port: int, *args: str, password: str | None = None,
               stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    if password is not None:
        env["REDISCLI_AUTH"] = password
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--no-auth-warning",
                           *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """redis-server with the rendered redis.conf and auth.conf of a 32 Mi Redis: the file as
    rendered but for the auth file's directory; port and bind address (127.0.0.1) overridden on
    the command line (redis-server applies them after the file); a temporary directory as the
    working directory (the pod's workingDir)."""
    redis_server = real_tools.system_tool("redis-server")
    run = run_deployed(redis={"memoryMi": 32})
    conf = _of(run, CONFIG_MAP).inputs["data"]["redis.conf"]
    secret = _of(run, SECRET).inputs["stringData"]["value"]
    container = _of(run, DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]
    tmp = tmp_path_factory.mktemp("redis")
    (tmp / "etc").mkdir(), (tmp / "auth").mkdir(), (tmp / "data").mkdir()
    port = free_port()
    local = conf.replace(render.AUTH_DIR, str(tmp / "auth"))
    assert local.count(str(tmp)) == 1
    (tmp / "etc" / "redis.conf").write_text(local)
    (tmp / "auth" / render.AUTH_FILE).write_text(secret[render.AUTH_FILE])
    command = [redis_server if part == "redis-server" else
               str(tmp / "etc" / "redis.conf") if part.endswith("redis.conf") else part
               for part in container["command"]]
    command += ["--port", str(port), "--bind", "127.0.0.1"]
    assert container["workingDir"] == render.DATA_DIR
    process = subprocess.Popen(command, cwd=tmp / "data", stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    password = secret[render.PASSWORD_KEY]
    deadline = time.monotonic() + 20
    while _redis_cli(port, "ping", password=password).stdout.strip() != "PONG":
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"redis-server did not start:\n{process.stdout.read()}", pytrace=False)
        time.sleep(0.1)
    yield {"port": port, "password": password, "process": process, "data": tmp / "data",
           "readiness": container["readinessProbe"]["exec"]["command"]}
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def test_redis_refuses_clients_without_the_password(server):
    assert "NOAUTH" in _redis_cli(server["port"], "ping").stdout
    wrong = _redis_cli(server["port"], "ping", password="wrong")
    assert "WRONGPASS" in wrong.stdout + wrong.stderr
    assert _redis_cli(server["port"], "ping", password=server["password"]).stdout.strip() \
        == "PONG"


@pytest.mark.parametrize("password, ready", [("right", True), ("wrong", False), (None, False)])
def test_the_readiness_check_passes_only_with_the_password(server, tmp_path, password, ready):
    """The probe's exact command, with the mounted password file right, wrong or missing."""
    if password is not None:
        (tmp_path / render.PASSWORD_KEY).write_text(
            server["password"] if password == "right" else "wrong")
    script = (server["readiness"][2].replace(f"-p {t.REDIS_PORT}", f"-p {server['port']}")
              .replace(render.AUTH_DIR, str(tmp_path)))
    done = subprocess.run(server["readiness"][:2] + [script], env={"PATH": os.environ["PATH"]},
                          timeout=10, capture_output=True, text=True)
    assert (done.returncode == 0) == ready, done.stdout + done.stderr


def test_the_password_is_on_no_command_line_and_in_no_environment(deployed):
    container = _of(deployed, DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]
    assert "env" not in container
    assert "REDISCLI_AUTH" in container["readinessProbe"]["exec"]["command"][2]


def test_redis_runs_with_bounded_memory_and_no_persistence(server):
    def get(name: str) -> list[str]:
        return _redis_cli(server["port"], "config", "get", name,
                          password=server["password"]).stdout.split("\n")[:2]
    assert get("maxmemory") == ["maxmemory", str(24 * 1024 * 1024)]
    assert get("maxmemory-policy") == ["maxmemory-policy", "allkeys-lru"]
    assert get("save") == ["save", ""]
    assert get("appendonly") == ["appendonly", "no"]


def test_a_full_redis_evicts_counters_instead_of_refusing_writes(server):
    """40 MiB of counters into a 24 MiB maxmemory: every write succeeds (a refused write would
    make the replicas count on their own), old keys are evicted."""
    value = "v" * 4096
    commands = "".join(f"SET counter:{i} {value}\r\n" for i in range(10_000))
    done = _redis_cli(server["port"], "--pipe", password=server["password"], stdin=commands)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "errors: 0" in done.stdout, done.stdout
    keys = int(_redis_cli(server["port"], "dbsize", password=server["password"]).stdout)
    assert 0 < keys < 10_000
    evicted = _redis_cli(server["port"], "info", "stats", password=server["password"]).stdout
    assert "evicted_keys:0\r" not in evicted


def test_nothing_is_written_to_disk(server):
    """Counters are disposable: a shutdown leaves no dump.rdb or append-only file behind."""
    _redis_cli(server["port"], "set", "counter:last", "1", password=server["password"])
    _redis_cli(server["port"], "shutdown", password=server["password"])
    server["process"].wait(timeout=20)
    assert list(pathlib.Path(server["data"]).iterdir()) == []


# ---------------------------------------------------------------- the plan

def test_the_startup_probe_covers_a_hung_redis():
    assert t.redis_stall_seconds() == 2 * 11 * (1 + 1)
    assert t.router_startup_failures(True, 10) == 17
    assert t.router_startup_failures(False, 10) == 12


def test_the_plan_prints_the_router_startup_and_the_redis(capsys):
    from tools import plan
    assert plan.main(["prod"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"router start-up +170 s startup probe", out), out
    assert "2 blocking calls × 11 attempts × (socket timeout 1 s + backoff 1 s)" in out
    assert "existing Redis redis.llm-serving.svc:6379" in out


# ---------------------------------------------------------------- checkov and the policy pack

def test_checkov_finds_nothing_on_the_deployed_redis(deployed, tmp_path):
    """prod with a deployed Redis, rendered as `python -m tools.render` writes it; checkov
    (tests/stacks/test_checkov.py's pinned one) fails no check, and skips none, on the Redis objects."""
    import json
    from tests import tools as real_tools
    from tools import render as render_tool
    render_tool.write(render_tool.render_run(deployed, "prod"), tmp_path)
    assert [p for p in tmp_path.iterdir() if "deployment" in p.name and "redis" in p.name]
    done = subprocess.run(real_tools.checkov_command(real_tools.checkov(), ["-d", str(tmp_path)],
                                                  "kubernetes"),
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"})
    results = json.loads(done.stdout)["results"]
    on_redis = [f"{c['check_id']} {c['resource']}" for kind in ("failed_checks",
                                                              "skipped_checks")
                for c in results[kind] if "router-redis" in c["resource"]]
    assert on_redis == []
    assert any("router-redis" in c["resource"] for c in results["passed_checks"])


def test_the_policy_pack_passes_the_deployed_redis(deployed):
    from policy import offline
    from tests.harness import ROOT
    resources = [{"type": r.type, "name": r.name, "props": copy.deepcopy(r.inputs)}
                 for r in deployed.resources]
    config = offline.load_config(ROOT / "policy" / "config" / "prod.json")
    assert offline.mandatory(offline.run(resources, config)) == []


def test_a_missing_client_secret_locks_out_that_client_alone():
    """A client's existingSecret is referenced optionally; generated ones are the program's."""
    traffic = _prod_traffic()
    traffic["clients"] = traffic["clients"] + [
        {"name": "byo", "requestsPerMinute": 10, "tokensPerMinute": 1000,
         "existingSecret": {"name": "byo-key", "key": "token"}}]
    run = run_program("prod", {**stack_config("prod"), **cluster_config("prod"),
                               "traffic": traffic})
    assert run.error is None, run.error
    deployment = next(r for r in run.of_type(DEPLOYMENT) if r.name.endswith("-router"))
    volume = next(v for v in deployment.inputs["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "client-keys")
    optional = {s["secret"]["name"]: s["secret"].get("optional", False)
                for s in volume["projected"]["sources"]}
    assert optional["byo-key"] is True
    assert [name for name, flag in optional.items() if not flag] == [
        "prod-deepseek-r1-32b-router-client-code-review",
        "prod-deepseek-r1-32b-router-client-doc-gen"]
