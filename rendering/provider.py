"""The Kubernetes provider's inputs for a stack's cluster."""

from __future__ import annotations

from typing import Any, Callable

from planning.config import ClusterConfig


def provider_inputs(cluster: ClusterConfig, secret: Callable[[str], Any]) -> dict[str, Any]:
    """Keyword inputs of pulumi_kubernetes.Provider; `secret` marks a value secret
    (pulumi.Output.secret: rendering stays free of the Pulumi runtime)."""
    return dict(
        context=cluster.context, cluster=cluster.cluster,
        # A kubeconfig holds credentials and pulumi-kubernetes does not mark this input secret
        # (provider/pkg/gen/schema.go), so it would be stored in plaintext; as a secret it is
        # encrypted, and DiffConfig (unmarshalled without KeepSecrets) sees no change.
        kubeconfig=secret(cluster.kubeconfig) if cluster.kubeconfig else None,
        # Server-side apply, so field ownership lets an autoscaler own spec.replicas.
        enable_server_side_apply=True,
        # Update ConfigMaps and Secrets in place: by default a data change replaces them, and a
        # named object is replaced delete-first (the API key Secret would vanish under the pods).
        enable_config_map_mutable=True, enable_secret_mutable=True)
