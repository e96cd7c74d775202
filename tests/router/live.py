"""The real router's launch pieces, shared by the modules that start it (tests/router/): the
pinned LiteLLM, test secrets, a recording proxy, the rendered files made runnable, the launch
and the wait until it is live."""

from __future__ import annotations

import copy
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import yaml

from planning.traffic import LITELLM_VERSION
from rendering import router as render
from tests.harness import ROOT, Run, run_stack, stack_config
from tests import tools as real_tools
from tests.openai_stub import StubUpstream, free_port

ROUTER_VENV = ROOT / ".venv-router"
LITELLM = ROUTER_VENV / "bin" / "litellm"
ENGINE_KEY = "engine-key-for-tests-0123456789"
CLOUD_KEY = "sk-cloud-test-key-0123456789abcdefghijkl"
MASTER_KEY = "sk-master-test-key-0123456789abcdef"
REDIS_PASSWORD = "redis-test-password-0123456789"
LIMITED = {"name": "limited", "requestsPerMinute": 3, "tokensPerMinute": 1_000_000}
SHARED = {"name": "shared", "requestsPerMinute": 4, "tokensPerMinute": 1_000_000}
BENCH = {"name": "bench", "requestsPerMinute": 10_000, "tokensPerMinute": 100_000_000}
TOKENS = {"name": "tokens", "requestsPerMinute": 1_000, "tokensPerMinute": 40}
"""A client whose token budget a few answers of the stub (12 tokens each) use up."""
CONCURRENT = 30
"""Short requests doc-gen has in flight at once (issue 19: with max_tokens reserved up front,
its 200k tokens a minute refused the 25th)."""
START_SECONDS = 120


def _tool(path: pathlib.Path, hint: str) -> str:
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is missing: {hint}", pytrace=False)
    return str(path)


class RecordingProxy:
    """An HTTP(S) proxy that records every connection attempt and refuses it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.seen.append(conn.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace"))
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    self.seen.append("(unreadable)")


def _router_files(run: Run) -> tuple[dict[str, str], dict[str, Any]]:
    config_map = next(r for r in run.of_type("core/v1:ConfigMap")
                      if r.name.endswith("-router-config"))
    deployment = next(r for r in run.of_type("apps/v1:Deployment") if r.name.endswith("-router"))
    return dict(config_map.inputs["data"]), deployment.inputs["spec"]["template"]["spec"]


def router_inputs(files: dict[str, str], pod: dict, config: dict, tmp: pathlib.Path,
                  secret_values: dict[str, str], proxy_port: int
                  ) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The router pod's files under `tmp` (the ConfigMap's, with `config` as config.yaml; one
    test key per client in the client-keys volume; /tmp), its args with the mount paths moved
    there, and its environment with the Secret values given: (args, env, {client: key})."""
    container = pod["containers"][0]
    config_dir = tmp / "config"
    config_dir.mkdir()
    for name, text in {**files, "config.yaml": yaml.safe_dump(config, sort_keys=False)}.items():
        (config_dir / name).write_text(text)

    # The client-keys volume: `<client>/api-key`, one test key per client.
    keys_dir = tmp / "clients"
    keys = {}
    volume = next(v for v in pod["volumes"] if v["name"] == "client-keys")
    for source in volume["projected"]["sources"]:
        for item in source["secret"]["items"]:
            client = item["path"].split("/")[0]
            keys[client] = f"client-key-{client}-0123456789abcdef"
            (keys_dir / item["path"]).parent.mkdir(parents=True, exist_ok=True)
            (keys_dir / item["path"]).write_text(keys[client])

    mounts = {m["mountPath"]: {"config": config_dir, "client-keys": keys_dir,
                               "tmp": tmp / "tmp"}[m["name"]] for m in container["volumeMounts"]}
    (tmp / "tmp").mkdir()

    def local_path(value: str) -> str:
        for mount, path in mounts.items():
            if value == mount or value.startswith(mount + "/"):
                return str(path) + value[len(mount):]
        return value

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "HTTP_PROXY": f"http://127.0.0.1:{proxy_port}",
           "HTTPS_PROXY": f"http://127.0.0.1:{proxy_port}",
           "http_proxy": f"http://127.0.0.1:{proxy_port}",
           "https_proxy": f"http://127.0.0.1:{proxy_port}",
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = local_path(item["value"])
        else:
            env[item["name"]] = secret_values[item["name"]]
    return [local_path(a) for a in container["args"]], env, keys


def launch_router(litellm: str, args: list[str], env: dict[str, str], tmp: pathlib.Path,
                  name: str, config: pathlib.Path | None = None) -> dict:
    """One `litellm` process on a free 127.0.0.1 port: {url, process, log}; `config`: a
    directory whose config.yaml replaces the rendered one."""
    port = free_port()
    args = list(args)
    if config is not None:
        args[args.index("--config") + 1] = str(config / "config.yaml")
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    log = tmp / f"{name}.log"
    process = subprocess.Popen([litellm, *args], env=env, cwd=tmp / "tmp",
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    return {"url": f"http://127.0.0.1:{port}", "process": process, "log": log}


def _wait_live(routers: list[dict], started: float) -> None:
    """Until every router answers its liveness route; fail with its log when it exits or
    takes longer than START_SECONDS."""
    for router in routers:
        while True:
            if router["process"].poll() is not None:
                pytest.fail(f"the router exited:\n{router['log'].read_text()[-4000:]}",
                            pytrace=False)
            try:
                if requests.get(router["url"] + "/health/liveliness", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() - started > START_SECONDS:
                pytest.fail(f"the router did not start in {START_SECONDS} s:\n"
                            f"{router['log'].read_text()[-4000:]}", pytrace=False)
            time.sleep(0.2)
