"""ServingNamespace: the stack's namespace, created first so every other component can use it."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from facts import conventions as c


class ServingNamespace(pulumi.ComponentResource):
    """Creates the namespace (restricted Pod Security; privileged only for RDMA's IPC_LOCK) or
    adopts an existing one by name."""

    name: pulumi.Output[str]

    def __init__(self, name: str, namespace: str, create: bool,
                 opts: Optional[pulumi.ResourceOptions] = None,
                 pod_security: str = "restricted"):
        super().__init__("vllm-serving:index:ServingNamespace", name, None, opts)
        if create:
            ns = k8s.core.v1.Namespace(
                f"{name}-ns",
                metadata={"name": namespace, "labels": {
                    c.LABEL_PART_OF: c.PART_OF, c.LABEL_MANAGED_BY: "pulumi",
                    # vLLM needs no privileges: the restricted profile holds every pod to that.
                    # RDMA (IPC_LOCK) is only admitted by `privileged`; the namespace then
                    # still warns and audits against restricted.
                    "pod-security.kubernetes.io/enforce": pod_security,
                    **({} if pod_security == "restricted" else {
                        "pod-security.kubernetes.io/warn": "restricted",
                        "pod-security.kubernetes.io/audit": "restricted"})}},
                opts=pulumi.ResourceOptions(parent=self))
            self.name = ns.metadata["name"]
        else:
            self.name = pulumi.Output.from_input(namespace)
        self.register_outputs({"name": self.name})
