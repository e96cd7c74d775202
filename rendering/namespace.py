"""The stack's namespace as plain data."""

from __future__ import annotations

from facts import conventions as c


RESTRICTED = "restricted"
PRIVILEGED = "privileged"


def pod_security_level(storage_mode: str) -> str:
    """The Pod Security level a namespace must enforce for the stack's pods: restricted (vLLM
    needs no privileges), except on the node-cache path, whose stager and engine pods mount a
    hostPath, which only the privileged level admits (pod-security-admission
    policy/check_hostPathVolumes.go, baseline and up: "hostPath volumes are forbidden")."""
    return PRIVILEGED if storage_mode == "nodeCache" else RESTRICTED


def namespace_metadata(name: str, level: str = RESTRICTED) -> dict:
    """Metadata of a namespace the stack creates: labelled as ours, holding every pod to
    `level`; below restricted, restricted still warns and audits, so anything past the
    hostPath the node cache needs shows up at apply."""
    labels = {c.LABEL_PART_OF: c.PART_OF, c.LABEL_MANAGED_BY: "pulumi",
              "pod-security.kubernetes.io/enforce": level}
    if level != RESTRICTED:
        labels["pod-security.kubernetes.io/warn"] = RESTRICTED
        labels["pod-security.kubernetes.io/audit"] = RESTRICTED
    return {"name": name, "labels": labels}
