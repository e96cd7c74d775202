"""ServingNamespace: the stack's namespace, created first so every other component can use it."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from rendering.namespace import RESTRICTED, namespace_metadata


class ServingNamespace(pulumi.ComponentResource):
    """Creates the namespace (restricted Pod Security; privileged where the node cache mounts a
    hostPath) or adopts an existing one by name."""

    name: pulumi.Output[str]

    def __init__(self, name: str, namespace: str, create: bool,
                 opts: Optional[pulumi.ResourceOptions] = None,
                 pod_security: str = RESTRICTED):
        super().__init__("vllm-serving:index:ServingNamespace", name, None, opts)
        if create:
            ns = k8s.core.v1.Namespace(f"{name}-ns",
                                       metadata=namespace_metadata(namespace, pod_security),
                                       opts=pulumi.ResourceOptions(parent=self))
            self.name = ns.metadata["name"]
        else:
            self.name = pulumi.Output.from_input(namespace)
        self.register_outputs({"name": self.name})
