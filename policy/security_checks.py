"""Rules that keep secrets and privileges out of every workload the stack creates: pinned images,
keys only from Secrets, unprivileged non-root containers. Each check takes
`(resource_type, pulumi_name, props, config)` and returns messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Optional

from facts import conventions, vllm_cli
from facts.secrets import contains_secret, looks_like_secret
from policy import k8s
from policy.k8s import get, items

MOVING_TAGS = ("latest", "nightly")
SECRET_NAME_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIALS")
# Flags such as HF_HUB_DISABLE_IMPLICIT_TOKEN=1 have secret-looking names but carry no secret.
_HARMLESS_LITERAL = re.compile(r"^(true|false|yes|no|on|off|\d{1,3})$", re.IGNORECASE)


def split_image(image: str) -> tuple[str, Optional[str], Optional[str]]:
    """'reg:5000/repo:tag@sha256:...' -> ('reg:5000/repo', 'tag', 'sha256:...')."""
    reference, _, digest = image.partition("@")
    head, _, last = reference.rpartition("/")
    tag = None
    if ":" in last:
        last, tag = last.split(":", 1)
    repository = f"{head}/{last}" if head else last
    return repository, tag, digest or None


def _images(resource_type: str, props: Mapping):
    for role, template in k8s.pod_templates(resource_type, props):
        for container_kind, container in k8s.containers(k8s.pod_spec(template)):
            image = get(container, "image")
            if isinstance(image, str) and image:
                yield role, container_kind, get(container, "name", default="?"), image


def check_image_pinned(resource_type: str, name: str, props: Mapping, config: Mapping) -> list[str]:
    """No container image is untagged or uses a moving tag (latest, nightly)."""
    out = []
    who = k8s.describe(resource_type, props, name)
    for role, container_kind, cname, image in _images(resource_type, props):
        _, tag, digest = split_image(image)
        subject = f"{k8s.where(who, role)}: {container_kind} '{cname}'"
        if digest:
            continue
        if tag is None:
            out.append(
                f"{subject} uses image '{image}' without a tag, which means :latest and changes "
                "under a running stack; pin a release tag (for vLLM, v<version>) or a digest.")
        elif tag in MOVING_TAGS:
            out.append(
                f"{subject} uses image '{image}', whose tag '{tag}' moves to new builds; pin a "
                "release tag (for vLLM, v<version>) or a digest.")
    return out


def check_image_digest(resource_type: str, name: str, props: Mapping, config: Mapping) -> list[str]:
    """Every container image is referenced by digest (advisory)."""
    who = k8s.describe(resource_type, props, name)
    return [
        f"{k8s.where(who, role)}: {container_kind} '{cname}' uses image '{image}' by tag; a "
        "tag can be pushed again, so reference it by digest (image@sha256:...) to run exactly "
        "what was reviewed."
        for role, container_kind, cname, image in _images(resource_type, props)
        if split_image(image)[2] is None
    ]


def looks_like_secret_name(env_name: str) -> bool:
    """VLLM_API_KEY, HF_TOKEN, DB_PASSWORD...: a word of the name ends in KEY, TOKEN, SECRET,
    PASSWORD. Words, not substrings, so TOKENIZERS_PARALLELISM is not taken for a token."""
    words = re.split(r"[^A-Za-z0-9]+", env_name.upper())
    return any(word.endswith(SECRET_NAME_WORDS) for word in words if word)


def check_no_literal_secrets(resource_type: str, name: str, props: Mapping,
                             config: Mapping) -> list[str]:
    """API keys and tokens only come from Secrets: secret-named env vars use secretKeyRef, no env
    value or argument starts like a key (sk-, hf_), no --api-key on the command line, and no
    ConfigMap holds one. Messages never repeat the value."""
    who = k8s.describe(resource_type, props, name)
    out = []
    if resource_type == k8s.CONFIG_MAP:
        for key, value in k8s.known_dict(get(props, "data")).items():
            if isinstance(value, str) and contains_secret(value):
                out.append(
                    f"{who} key '{key}' contains what looks like a literal API key or Hugging "
                    "Face token; ConfigMaps are not secret, so move it to a Secret and reference "
                    "it from there.")
        return out
    for role, template in k8s.pod_templates(resource_type, props):
        where = k8s.where(who, role)
        for container_kind, container in k8s.containers(k8s.pod_spec(template)):
            cname = get(container, "name", default="?")
            subject = f"{where}: {container_kind} '{cname}'"
            for env in items(container, "env"):
                env_name = str(get(env, "name", default="?"))
                value = get(env, "value")
                value_from = get(env, "valueFrom")
                if isinstance(value, str) and looks_like_secret(value):
                    out.append(
                        f"{subject} sets env {env_name} to a literal starting "
                        f"'{value[:3]}', which looks like an API key or Hugging Face token that "
                        "anyone reading the object or the Pulumi state can see; put it in a "
                        "Secret and use valueFrom.secretKeyRef.")
                elif looks_like_secret_name(env_name):
                    if isinstance(value, str) and value and not _HARMLESS_LITERAL.match(value):
                        out.append(
                            f"{subject} sets env {env_name} as a literal value; a key or token "
                            "in the pod spec is readable by anyone who can read the object, so "
                            "put it in a Secret and use valueFrom.secretKeyRef.")
                    elif k8s.is_mapping(value_from) and "secretKeyRef" not in value_from:
                        source = ", ".join(sorted(value_from)) or "an empty valueFrom"
                        out.append(
                            f"{subject} takes env {env_name} from {source} rather than a "
                            "Secret; use valueFrom.secretKeyRef.")
            tokens = k8s.command_tokens(container)
            if k8s.flag_value(tokens, "--api-key") is not None:
                out.append(
                    f"{subject} passes --api-key on the command line, which puts the key in the "
                    "pod spec and the process list; set VLLM_API_KEY from a Secret instead.")
            elif any(looks_like_secret(token) or contains_secret(token) for token in tokens):
                out.append(
                    f"{subject} has a command-line argument that looks like an API key or Hugging "
                    "Face token; pass it through an env var from a Secret instead.")
    return out


def check_container_security(resource_type: str, name: str, props: Mapping,
                             config: Mapping) -> list[str]:
    """No container is privileged or may escalate privileges, and every one runs as non-root."""
    out = []
    who = k8s.describe(resource_type, props, name)
    for role, template in k8s.pod_templates(resource_type, props):
        spec = k8s.pod_spec(template)
        pod_context = get(spec, "securityContext", default={})
        for container_kind, container in k8s.containers(spec):
            cname = get(container, "name", default="?")
            subject = f"{k8s.where(who, role)}: {container_kind} '{cname}'"
            context = get(container, "securityContext", default={})
            if get(context, "privileged") is True:
                out.append(
                    f"{subject} runs privileged, which hands it every host device and the "
                    "kernel; the NVIDIA device plugin already exposes the GPUs, so remove "
                    "privileged: true.")
            if get(context, "allowPrivilegeEscalation") is not False:
                out.append(
                    f"{subject} does not set allowPrivilegeEscalation: false (unset means "
                    "allowed); set it in the container's securityContext.")
            user = get(context, "runAsUser")
            if user is None:
                user = get(pod_context, "runAsUser")
            non_root = get(context, "runAsNonRoot")
            if non_root is None:
                non_root = get(pod_context, "runAsNonRoot")
            if k8s.to_number(user) == 0:
                out.append(
                    f"{subject} runs as UID 0 (runAsUser: 0); run it as a non-root user (this "
                    "program's pods use UID 10001) with runAsNonRoot: true.")
            elif non_root is not True:
                out.append(
                    f"{subject} does not set runAsNonRoot: true on the container or the pod; the "
                    "vLLM image runs as root by default, so set runAsNonRoot: true and a "
                    "non-root runAsUser.")
    return out


def check_engine_flags(resource_type: str, name: str, props: Mapping,
                       config: Mapping) -> list[str]:
    """The vllm container passes no flag that leaks prompts or keys or removes the metrics, in
    any spelling vLLM accepts (`--enable_log_requests`, `--api-key=…`)."""
    out = []
    who = k8s.describe(resource_type, props, name)
    for role, template in k8s.inference_templates(resource_type, props):
        for _, container in k8s.containers(k8s.pod_spec(template)):
            if get(container, "name") != conventions.ENGINE_CONTAINER:
                continue
            for token in k8s.command_tokens(container):
                reason = vllm_cli.forbidden_reason(token)
                if reason:
                    out.append(f"{k8s.where(who, role)}: the vllm container passes "
                               f"{vllm_cli.canonical_flag(token)}, which {reason}; remove it.")
    return out
