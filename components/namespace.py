"""ServingNamespace: the stack's namespace, created first so every other component can use it."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from facts import conventions as c


class ServingNamespace(pulumi.ComponentResource):
    """Creates the namespace (restricted Pod Security) or adopts an existing one by name."""

    name: pulumi.Output[str]

    def __init__(self, name: str, namespace: str, create: bool,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:ServingNamespace", name, None, opts)
        if create:
            ns = k8s.core.v1.Namespace(
                f"{name}-ns",
                metadata={"name": namespace, "labels": {
                    c.LABEL_PART_OF: c.PART_OF, c.LABEL_MANAGED_BY: "pulumi",
                    # vLLM needs no privileges: the restricted profile holds every pod to that.
                    "pod-security.kubernetes.io/enforce": "restricted"}},
                opts=pulumi.ResourceOptions(parent=self))
            self.name = ns.metadata["name"]
        else:
            self.name = pulumi.Output.from_input(namespace)
        self.register_outputs({"name": self.name})
