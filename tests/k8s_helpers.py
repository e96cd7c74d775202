"""Small readers for the recorded Kubernetes inputs."""

import shlex

GIB = 2**30
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}


def quantity_bytes(text: str) -> float:
    """'16Gi' -> 17179869184."""
    for suffix, factor in _UNITS.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def pod_template(workload, role: str = "leader"):
    """The pod template of a Deployment, or of a LeaderWorkerSet's leader (or worker)."""
    spec = workload.inputs["spec"]
    if "leaderWorkerTemplate" in spec:
        return spec["leaderWorkerTemplate"][f"{role}Template"]
    return spec["template"]


def pod_spec(workload, role: str = "leader"):
    return pod_template(workload, role)["spec"]


def vllm_container(workload, role: str = "leader"):
    return next(c for c in pod_spec(workload, role)["containers"] if c["name"] == "vllm")


def server_args(container):
    """vLLM's arguments: the container's args, or, for a pod of a multi-node group, the words
    after `vllm serve` on the launch script's exec line (shell variables left as written)."""
    command = container.get("command") or []
    if command[:2] != ["sh", "-c"]:
        return container["args"]
    line = next(l for l in command[2].splitlines() if l.startswith("exec "))
    words = shlex.split(line)[1:]
    return words[2:] if words[:2] == ["vllm", "serve"] else words


def arg_value(container, flag):
    args = server_args(container)
    return args[args.index(flag) + 1] if flag in args else None
