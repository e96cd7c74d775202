"""The API server's rules for names and values a stack file passes straight into objects.

Encoded from Kubernetes' own source, so config refuses at preview what the API server would
refuse at apply (after other objects of the same `pulumi up` exist):

- `k8s.io/apimachinery/pkg/util/validation/validation.go`: `IsDNS1123Subdomain` (the format
  `dns1123LabelFmt(\\.dns1123LabelFmt)*`, at most `DNS1123SubdomainMaxLength` 253), which
  StorageClass, PriorityClass and RuntimeClass names must be (their `ValidateXName` is
  `apimachineryvalidation.NameIsDNSSubdomain`), and `IsQualifiedName` (= `content.IsLabelKey`:
  an optional DNS-1123 subdomain prefix and '/', then a name of at most 63 characters,
  `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`), which label and toleration keys must be.
- `pkg/apis/core/validation/validation.go` `ValidateTolerations` and `validateTaintEffect`.
- Linux `net/core/dev.c` `dev_valid_name`, for network interface names.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = DNS1123_LABEL + r"(\." + DNS1123_LABEL + r")*"
SUBDOMAIN_MAX = 253
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
QUALIFIED_NAME_MAX = 63
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
LABEL_VALUE_MAX = 63


def subdomain_problem(value: str) -> str | None:
    """Why `value` is not a DNS-1123 subdomain (IsDNS1123Subdomain), or None."""
    if len(value) > SUBDOMAIN_MAX:
        return f"is {len(value)} characters; a DNS-1123 subdomain has at most {SUBDOMAIN_MAX}"
    if not re.fullmatch(DNS1123_SUBDOMAIN, value):
        return ("is not a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting "
                "and ending with a letter or digit (e.g. fast-ssd or gpu.example.com)")
    return None


def qualified_name_problem(value: str) -> str | None:
    """Why `value` is not a qualified name / label key (IsQualifiedName), or None."""
    prefix, slash, name = value.rpartition("/")
    if slash and (not prefix or subdomain_problem(prefix)):
        return (f"has the prefix {prefix!r}, which is not a DNS-1123 subdomain of at most "
                f"{SUBDOMAIN_MAX} characters")
    if len(name) > QUALIFIED_NAME_MAX:
        return f"has a name part of {len(name)} characters; at most {QUALIFIED_NAME_MAX}"
    if not re.fullmatch(QUALIFIED_NAME, name):
        return ("is not a qualified name: an optional DNS subdomain prefix and '/', then "
                "letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a label value (IsValidLabelValue), or None."""
    if len(value) > LABEL_VALUE_MAX or not re.fullmatch(LABEL_VALUE, value):
        return ("is not a label value: at most 63 letters, digits, '-', '_' or '.', starting "
                "and ending with a letter or digit, or empty")
    return None


CONFIG_MAP_KEY = r"[-._a-zA-Z0-9]+"


def secret_key_problem(value: str) -> str | None:
    """Why `value` cannot be a key of a Secret (IsConfigMapKey, which `secretKeyRef.key` and a
    Secret's data keys are validated with), or None."""
    if len(value) > SUBDOMAIN_MAX or not re.fullmatch(CONFIG_MAP_KEY, value):
        return ("is not a Secret key: letters, digits, '-', '_' or '.', at most 253 "
                "(e.g. api-key or token)")
    if value in (".", ".."):
        return "cannot be '.' or '..'"
    return None


def host_problem(value: str) -> str | None:
    """Why `value` cannot name an NFS server, or None. The API server only requires a non-empty
    `nfs.server` (validation.go `validateNFSVolumeSource`); the kubelet then hands it to
    mount.nfs, which needs an IP address or a resolvable DNS name, so anything else leaves the
    pod in ContainerCreating with a mount error."""
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if subdomain_problem(value.lower()) is None:
        return None
    return "is neither an IP address nor a DNS name (e.g. 10.0.1.50 or nfs.example.internal)"


IFNAMSIZ = 16
"""include/uapi/linux/if.h: the buffer of an interface name, with its NUL."""


def interface_problem(value: str) -> str | None:
    """Why `value` is not a Linux network interface name, or None.

    net/core/dev.c `dev_valid_name`: non-empty, shorter than IFNAMSIZ (so at most 15 bytes),
    not "." or "..", and no '/', ':' or whitespace. Two rules are added here: printable ASCII
    only (the name goes into NCCL_SOCKET_IFNAME and GLOO_SOCKET_IFNAME), and no leading '-',
    '^' or '=' or any ',' — NCCL reads '^' as "exclude", '=' as "exact match" and ',' as a
    list, and no kernel or udev naming scheme makes a name that starts with '-' (such a value
    is another key's, e.g. a quantity like -5Gi, pasted here)."""
    rule = "; give the node's NIC as `ip link` lists it, e.g. eth0 or ens5"
    if not value or len(value.encode()) >= IFNAMSIZ:
        return f"a network interface name has 1 to {IFNAMSIZ - 1} characters (IFNAMSIZ){rule}"
    if value in (".", ".."):
        return f"a network interface name cannot be '.' or '..'{rule}"
    if any(char in "/:," or not char.isascii() or not char.isprintable() or char.isspace()
           for char in value):
        return f"a network interface name holds no '/', ':', ',', whitespace or non-ASCII{rule}"
    if value[0] in "-^=":
        return f"a network interface name does not start with '-', '^' or '='{rule}"
    return None


TOLERATION_OPERATORS = ("Equal", "Exists")
"""ValidateTolerations: the operators every supported Kubernetes release accepts ("" = Equal).
Lt/Gt exist only behind the alpha TaintTolerationComparisonOperators gate."""
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
"""validateTaintEffect with allowEmpty: these, or empty (every effect)."""
TOLERATION_FIELDS = ("key", "operator", "value", "effect", "tolerationSeconds")


def toleration_problems(toleration: Any) -> list[str]:
    """What the API server would refuse in one toleration (ValidateTolerations), as phrases
    that follow the toleration's key path."""
    if not isinstance(toleration, Mapping):
        return [f"must be a mapping with {', '.join(TOLERATION_FIELDS)}"]
    problems = [f"{field}: not a toleration field (allowed: {', '.join(TOLERATION_FIELDS)})"
                for field in toleration if field not in TOLERATION_FIELDS]
    text = {field: toleration.get(field, "") for field in ("key", "operator", "value", "effect")}
    for field, value in text.items():
        if not isinstance(value, str):
            problems.append(f"{field}: must be a string, got {value!r}")
    if problems:
        return problems
    key, operator, value, effect = (text[f] for f in ("key", "operator", "value", "effect"))
    if key and (why := qualified_name_problem(key)):
        problems.append(f"key: {key!r} {why}")
    if not key and operator != "Exists":
        problems.append("operator: must be Exists when key is empty (match every taint)")
    if operator not in ("", *TOLERATION_OPERATORS):
        problems.append(f"operator: {operator!r} is not one of {', '.join(TOLERATION_OPERATORS)}")
    elif operator == "Exists" and value:
        problems.append(f"value: must be empty with operator Exists (given {value!r})")
    elif operator != "Exists" and (why := label_value_problem(value)):
        problems.append(f"value: {value!r} {why}")
    if effect and effect not in TAINT_EFFECTS:
        problems.append(f"effect: {effect!r} is not one of {', '.join(TAINT_EFFECTS)} (or empty)")
    seconds = toleration.get("tolerationSeconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
        problems.append(f"tolerationSeconds: must be a whole number, got {seconds!r}")
    elif seconds is not None and effect != "NoExecute":
        problems.append("tolerationSeconds: only with effect NoExecute")
    return problems
