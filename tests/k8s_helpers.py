"""Small readers for the recorded Kubernetes inputs."""

GIB = 2**30
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}


def quantity_bytes(text: str) -> float:
    """'16Gi' -> 17179869184."""
    for suffix, factor in _UNITS.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def pod_spec(deployment):
    return deployment.inputs["spec"]["template"]["spec"]


def vllm_container(deployment):
    return next(c for c in pod_spec(deployment)["containers"] if c["name"] == "vllm")


def arg_value(container, flag):
    args = container["args"]
    return args[args.index(flag) + 1] if flag in args else None
