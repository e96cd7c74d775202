"""ModelStore: the model weights, read-only to every replica."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from rendering import model_store as render


@dataclasses.dataclass
class ModelStoreArgs:
    """Inputs of ModelStore: its objects, rendered (rendering/model_store.py `store_objects`)."""

    objects: render.StoreObjects
    download_timeout_seconds: int
    """How long Pulumi waits for the download Job (the plan's download budget)."""
    release_timeout_seconds: int
    """How long a replaced claim may stay in use: the pods' grace period plus a margin."""


class ModelStore(pulumi.ComponentResource):
    """Weights on NFS (a PV bound by name) or on a many-reader PVC filled by a download Job
    (whose pod a NetworkPolicy limits to DNS and HTTPS egress); in an OCI model image (nothing
    to create: the pod mounts it); or staged per node by a DaemonSet (nodeCache)."""

    claim_name: pulumi.Output[Optional[str]]
    """The PersistentVolumeClaim every replica mounts read-only (None: image, nodeCache)."""
    model_dir: pulumi.Output[str]
    """The directory vLLM serves the model from."""
    ready_marker: Optional[str]
    """File whose presence means the weights are complete (pvc mode), else None."""

    def __init__(self, name: str, args: ModelStoreArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:ModelStore", name, None, opts)
        objects = args.objects
        # Sizes are fixed at creation: a bound NFS claim cannot be resized and no claim can
        # shrink, so a later plan (another model, a new formula) must not patch them. Grow a
        # dynamic claim with `kubectl edit pvc` where its class allows expansion. A replaced
        # claim (new name) is deleted only once the old pods are gone: wait that long.
        claim_opts = pulumi.ResourceOptions(
            parent=self, ignore_changes=["spec.capacity", "spec.resources.requests.storage"],
            delete_before_replace=False,
            custom_timeouts=pulumi.CustomTimeouts(delete=f"{args.release_timeout_seconds}s"))
        claim = objects.claim
        if objects.volume is not None:
            volume = k8s.core.v1.PersistentVolume(
                f"{name}-pv-{_suffix(objects.volume)}", **objects.volume, opts=claim_opts)
            claim = {**claim, "spec": {**claim["spec"], "volumeName": volume.metadata["name"]}}
        pvc = (k8s.core.v1.PersistentVolumeClaim(f"{name}-pvc-{_suffix(claim)}", **claim,
                                                 opts=claim_opts) if claim is not None else None)
        self.download_job = self._download(name, args, pvc)
        self.stager = self._node_cache(name, args)
        self.ready_marker = objects.ready_marker
        self.model_volume = objects.model_volume
        self.required_node_labels = dict(objects.required_node_labels)
        self.pull_secrets = list(objects.pull_secrets)
        self.claim_name = (pvc.metadata["name"] if pvc is not None
                           else pulumi.Output.from_input(None))
        self.model_dir = pulumi.Output.from_input(objects.model_dir)
        self.register_outputs({"claim_name": self.claim_name, "model_dir": self.model_dir})

    def _node_cache(self, name: str, args: ModelStoreArgs) -> Optional[k8s.apps.v1.DaemonSet]:
        """nodeCache mode: the stager's ServiceAccount, its node-labelling ClusterRole and
        binding, its NetworkPolicy and the DaemonSet, waited on (every node staged and
        verified) for the plan's download budget."""
        cache = args.objects.node_cache
        if cache is None:
            return None
        child = pulumi.ResourceOptions(parent=self)
        sa, role_, bind = cache.service_account, cache.cluster_role, cache.role_binding
        account = k8s.core.v1.ServiceAccount(
            f"{name}-cache-sa", metadata=sa["metadata"],
            automount_service_account_token=sa["automountServiceAccountToken"], opts=child)
        role = k8s.rbac.v1.ClusterRole(f"{name}-cache-role", metadata=role_["metadata"],
                                       rules=role_["rules"], opts=child)
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-cache-binding", metadata=bind["metadata"], role_ref=bind["roleRef"],
            subjects=bind["subjects"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, role]))
        netpol = k8s.networking.v1.NetworkPolicy(f"{name}-cache-netpol", **cache.network_policy,
                                                 opts=child)
        seconds = f"{args.download_timeout_seconds}s"
        return k8s.apps.v1.DaemonSet(
            f"{name}-cache", **cache.daemon_set,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[binding, netpol],
                custom_timeouts=pulumi.CustomTimeouts(create=seconds, update=seconds)))

    def _download(self, name: str, args: ModelStoreArgs,
                  pvc: Optional[k8s.core.v1.PersistentVolumeClaim]) -> Optional[k8s.batch.v1.Job]:
        """pvc mode: the download pod's NetworkPolicy (DNS and HTTPS out, nothing in) and the
        download Job, waited on for the plan's download budget."""
        objects = args.objects
        if objects.download_job is None:
            return None
        netpol = k8s.networking.v1.NetworkPolicy(
            f"{name}-download-netpol", **objects.download_network_policy,
            opts=pulumi.ResourceOptions(parent=self))
        seconds = f"{args.download_timeout_seconds}s"
        return k8s.batch.v1.Job(
            f"{name}-download-{_suffix(objects.download_job)}", **objects.download_job,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[pvc, netpol],
                # The image follows vllmVersion by default; a Job's template is immutable,
                # so an upgrade must not replace (re-run) a finished download. A new
                # revision or claim is a new Job (logical name and metadata.name carry the
                # hash), so ignoreChanges never carries an old image into it.
                ignore_changes=["spec.template.spec.containers[0].image"],
                custom_timeouts=pulumi.CustomTimeouts(create=seconds, update=seconds)))


def _suffix(obj: dict) -> str:
    """The hash the object's name ends in (rendering/model_store.py `name_suffix`)."""
    return render.name_suffix(obj["metadata"]["name"])
