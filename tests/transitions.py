"""What a second `pulumi up` does: pulumi-kubernetes' replacement rules and server-side apply
field ownership, applied to two mock runs of the program (before and after a config change).

The rules, from pulumi-kubernetes v4 (provider/pkg/provider):
- diff.go `forceNewProperties`: the input paths whose change replaces an object, per kind;
  `metadata.name` and `metadata.namespace` for every kind. ConfigMap and Secret data too,
  unless the provider sets enableConfigMapMutable / enableSecretMutable.
- provider.go `Diff`: a replacement is delete-first when the object has an explicit
  metadata.name that did not change (it could not exist twice); otherwise the new object is
  created first and the old one deleted at the end of the update. A Job annotated
  `pulumi.com/replaceUnready: "true"` is replaced when the *live* Job is not ready at the time
  of the diff (`job_ready`): a Job still running is replaced too, not only a failed one.
- pulumi/pulumi pkg/resource/deploy/step_generator.go: a resource whose last await did not
  finish (its create timed out, failed or was cancelled: `InitErrors` in the state) and whose
  diff is empty gets an empty update step "to continue awaiting initialization"; the Job
  awaiter then waits for the same Job again, and fails at once on a Job that failed for good
  (pulumi-kubernetes tests/sdk/nodejs TestReplaceUnready, step 2: op update, the update fails).
- ignoreChanges: the engine keeps the old input at each ignored path before diffing; under SSA
  an ignored field another manager owns is dropped from the patch (`handleSSAIgnoreFields`).
- SSA: an apply of a field another manager owns fails with a conflict unless forced
  (`pulumi.com/patchForce: "true"`); a field the program stops sending and alone owned is
  removed, i.e. reset to its default (Kubernetes server-side apply docs).
- pulumi-random: every input of a random resource forces a new value.
Resources are identified by URN: type chain of their parents plus name.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional

from tools.mockrun import Resource, Run

META_FORCE_NEW = ("metadata.name", "metadata.namespace")
FORCE_NEW = {
    "batch/v1:Job": ("spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
    "core/v1:PersistentVolume": tuple(f"spec.{source}" for source in (
        "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc",
        "flexVolume", "flocker", "gcePersistentDisk", "glusterfs", "hostPath", "iscsi", "local",
        "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO",
        "storageos", "vsphereVolume")),
    "core/v1:PersistentVolumeClaim": ("spec.accessModes", "spec.selector",
                                      "spec.storageClassName", "spec.volumeName"),
    "apps/v1:Deployment": ("spec.selector",),
    "apps/v1:DaemonSet": ("spec.selector",),
    "rbac.authorization.k8s.io/v1:ClusterRoleBinding": ("roleRef",),
    "core/v1:Service": ("spec.clusterIP",),
    "core/v1:Secret": ("type",),
}
"""Per kind (type token suffix), beyond metadata.name/namespace (diff.go, v4.32)."""
MUTABLE_UNLESS = {"core/v1:ConfigMap": ("enableConfigMapMutable", ("data", "binaryData")),
                  "core/v1:Secret": ("enableSecretMutable", ("data", "stringData"))}
REPLICAS = "spec.replicas"
AUTOSCALER_KINDS = ("keda.sh/v1alpha1:ScaledObject", "autoscaling/v2:HorizontalPodAutoscaler")


@dataclasses.dataclass(frozen=True)
class Step:
    """What the engine does with one resource."""

    urn: str
    kind: str                 # type token suffix, e.g. apps/v1:Deployment
    op: str                   # same | update | replace | create | delete
    delete_first: bool = False
    paths: tuple[str, ...] = ()   # changed input paths (after ignoreChanges)


@dataclasses.dataclass
class Update:
    """The steps of one `pulumi up` and the hazards it meets on a live cluster."""

    steps: list[Step]
    hazards: list[str]

    def of(self, kind: str) -> list[Step]:
        return [s for s in self.steps if s.kind.endswith(kind)]

    def ops(self) -> dict[str, set[str]]:
        """{kind: set of ops} for every kind that is not unchanged."""
        out: dict[str, set[str]] = {}
        for step in self.steps:
            if step.op != "same":
                out.setdefault(step.kind, set()).add(step.op)
        return out


def kind_of(resource: Resource) -> str:
    return resource.type.split(":", 1)[1] if resource.type.startswith("kubernetes:") else \
        resource.type


def _urns(run: Run) -> dict[str, Resource]:
    by_key = {r.key: r for r in run.resources}

    def chain(resource: Resource) -> str:
        parent = by_key.get(resource.options.parent or "")
        return f"{chain(parent)}${resource.type}" if parent else resource.type

    return {f"{chain(r)}::{r.name}": r for r in run.resources}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf paths (`spec.template.spec.containers[0].image`) to values."""
    if isinstance(value, dict) and value:
        out = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def under(path: str, root: str) -> bool:
    """`path` is `root` or inside it."""
    return path == root or path.startswith(root + ".") or path.startswith(root + "[")


def _changed(old: dict, new: dict, ignored: tuple[str, ...]) -> tuple[str, ...]:
    before, after = flatten(old), flatten(new)
    paths = set(before) | set(after)
    # ignoreChanges: the engine keeps the old value at every ignored path.
    return tuple(sorted(p for p in paths if not any(under(p, i) for i in ignored)
                        and before.get(p, _MISSING) != after.get(p, _MISSING)))


_MISSING = object()


def _force_new(kind: str, provider: dict) -> tuple[str, ...]:
    paths = META_FORCE_NEW + FORCE_NEW.get(kind, ())
    if kind in MUTABLE_UNLESS:
        flag, data = MUTABLE_UNLESS[kind]
        if not provider.get(flag):
            paths += data
    return paths


def _named(resource: Resource) -> Optional[tuple[str, str]]:
    meta = resource.metadata
    return (meta["name"], meta.get("namespace", "")) if meta.get("name") else None


JOB_FAILED_FOR_GOOD = ("BackoffLimitExceeded", "DeadlineExceeded")
"""Failed-condition reasons the Job checker reports as errors (checker/job/check.go
`collectJobConditionErrors`); the Job controller never restarts a Job that carries one."""
JOB_STATUS = {
    # The live `status` of a Job at the second `pulumi up`, one per state in pulumi-kubernetes'
    # own checker fixtures (provider/pkg/await/checker/internal/states/kubernetes/job/*.json).
    "initialized": {},
    "running": {"active": 1, "startTime": "2019-07-11T19:30:43Z"},
    "complete": {"startTime": "2019-07-11T19:30:43Z", "succeeded": 1,
                 "conditions": [{"type": "Complete", "status": "True"}]},
    "backoffLimit": {"startTime": "2019-09-04T18:19:35Z", "failed": 2, "conditions": [
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]},
    "deadlineExceeded": {"startTime": "2019-09-09T21:53:56Z", "failed": 1, "conditions": [
        {"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]},
    # Not a fixture: a pod of the Job failed (evicted, node lost) and the Job controller runs
    # another; an attempt that exits non-zero under restartPolicy OnFailure only restarts the
    # container, so the Job reads "running" then.
    "retrying": {"active": 1, "failed": 1, "startTime": "2019-09-04T18:19:35Z"},
}


def job_conditions(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status.get("conditions") or []}


def job_failed_for_good(status: dict) -> bool:
    failed = job_conditions(status).get("Failed")
    return bool(failed) and failed["status"] == "True" and \
        failed.get("reason") in JOB_FAILED_FOR_GOOD


def job_ready(status: dict) -> bool:
    """pulumi-kubernetes' point-in-time Job readiness, the one `Diff` asks for replaceUnready
    (provider.go `Diff`: readLiveObject, then checkjob.NewJobChecker().Ready): the conditions
    jobStarted (status.startTime set) and jobComplete (no Failed condition with a
    JOB_FAILED_FOR_GOOD reason, and Complete=True), in order (checker.go `readyDetails`).
    Not the last await's result in the state: the live object, read at diff time."""
    complete = job_conditions(status).get("Complete")
    return status.get("startTime") is not None and not job_failed_for_good(status) and \
        bool(complete) and complete["status"] == "True"


def second_up(before: Run, after: Run, unready_jobs: bool = False,
              job_status: Optional[dict] = None) -> Update:
    """The update `pulumi up` of `after` makes over the state `before` left, and its hazards.
    `job_status`: the live status of `before`'s Jobs at that moment (a JOB_STATUS value; None:
    complete, awaited by the last `pulumi up`). `unready_jobs`: shorthand for a Job that failed
    for good (JOB_STATUS["backoffLimit"])."""
    assert before.error is None and after.error is None, (before.error, after.error)
    if unready_jobs and job_status is None:
        job_status = JOB_STATUS["backoffLimit"]
    old, new = _urns(before), _urns(after)
    provider = next((r.inputs for r in after.resources
                     if r.type == "pulumi:providers:kubernetes"), {})
    steps, hazards = [], []
    for urn in sorted(set(old) | set(new)):
        o, n = old.get(urn), new.get(urn)
        if n is None:
            steps.append(Step(urn, kind_of(o), "delete"))
            continue
        kind = kind_of(n)
        if o is None:
            steps.append(Step(urn, kind, "create"))
            continue
        changed = _changed(o.inputs, n.inputs, n.options.ignore_changes)
        if n.type.startswith("random:"):
            forcing = changed
        else:
            forcing = tuple(p for p in changed if any(
                under(p, f) for f in _force_new(kind, provider) + n.options.replace_on_changes))
        live = job_status if kind.endswith("batch/v1:Job") and job_status is not None else None
        forcing += _replace_unready(n, live)
        if forcing:
            same_name = _named(n) is not None and _named(n) == _named(o)
            delete_first = (n.options.delete_before_replace
                            if n.options.delete_before_replace is not None else same_name)
            steps.append(Step(urn, kind, "replace", delete_first, forcing))
        else:
            # An unfinished await (the Job is not ready) left InitErrors: an empty update.
            awaiting = live is not None and not job_ready(live)
            steps.append(Step(urn, kind, "update" if changed or awaiting else "same",
                              paths=changed))
            if live is not None and job_failed_for_good(live):
                hazards.append(f"{urn}: the update awaits a Job that failed for good "
                               f"({job_conditions(live)['Failed'].get('reason')}): it fails "
                               "at once, every `pulumi up`, until the Job is replaced")
    hazards += _replacement_hazards(steps, new, after)
    hazards += _replica_ownership_hazards(before, after, old, new, steps)
    return Update(steps, hazards)


def _replace_unready(resource: Resource, live: Optional[dict]) -> tuple[str, ...]:
    """provider.go `Diff`: `pulumi.com/replaceUnready: "true"` in the new inputs (metadata
    `IsAnnotationTrue`) on a Job whose live object is not `job_ready` adds the annotation to
    the replace keys. Only Jobs (other kinds get a warning)."""
    annotations = resource.metadata.get("annotations") or {}
    if live is None or annotations.get("pulumi.com/replaceUnready") != "true" or job_ready(live):
        return ()
    return ("metadata.annotations.pulumi.com/replaceUnready",)


def _replacement_hazards(steps: list[Step], new: dict[str, Resource], after: Run) -> list[str]:
    """A claim or volume replaced delete-first while pods mount it never finishes deleting
    (kubernetes.io/pvc-protection, pv-protection): the update hangs."""
    out = []
    for step in steps:
        if step.op == "replace" and step.delete_first and re.search(
                r"PersistentVolume(Claim)?$", step.kind):
            out.append(f"{step.urn}: replaced delete-first under the same name while mounted "
                       f"(changed {list(step.paths)})")
        if step.op == "replace" and step.delete_first and step.kind.endswith("core/v1:Secret"):
            out.append(f"{step.urn}: Secret deleted before its replacement exists; pods that "
                       "start meanwhile fail")
    return out


def _replica_ownership_hazards(before: Run, after: Run, old: dict, new: dict,
                               steps: list[Step]) -> list[str]:
    """spec.replicas of each Deployment or LeaderWorkerSet (scaled in groups through the same
    /scale subresource): who owns it live, and what the patch does to it."""
    out = []
    targets_before = {_target(r) for r in before.resources
                      if any(r.type.endswith(k) for k in AUTOSCALER_KINDS)}
    by_urn = {s.urn: s for s in steps}
    for urn, n in new.items():
        if not n.type.endswith(("apps/v1:Deployment", "LeaderWorkerSet")) or urn not in old:
            continue
        o, step = old[urn], by_urn[urn]
        if step.op != "update":
            continue   # nothing is sent: nothing to conflict with
        autoscaler_owns = n.metadata.get("name") in targets_before
        ignored = any(under(REPLICAS, i) for i in n.options.ignore_changes)
        sends = "replicas" in n.inputs.get("spec", {})
        forced = (n.metadata.get("annotations") or {}).get("pulumi.com/patchForce") == "true"
        if sends and not ignored and autoscaler_owns and not forced:
            out.append(f"{urn}: applies spec.replicas, which the autoscaler's manager owns: "
                       "server-side apply conflict")
        sent_before = "replicas" in o.inputs.get("spec", {})
        if sent_before and not sends and not ignored and not autoscaler_owns:
            out.append(f"{urn}: stops sending spec.replicas it alone owned: reset to 1")
    return out


def _target(resource: Resource) -> Optional[str]:
    ref = resource.inputs.get("spec", {}).get("scaleTargetRef", {})
    return ref.get("name")


def node_admits(pod_spec: dict, node_labels: dict[str, str], unschedulable: bool = False) -> bool:
    """Whether the scheduler may place a pod with `pod_spec` on a node: not cordoned (the
    NodeUnschedulable filter; the pods here tolerate no `node.kubernetes.io/unschedulable`
    taint), its nodeSelector, and its required node affinity as kubernetes
    staging/src/k8s.io/component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go
    `LazyErrorNodeSelector.Match` reads it: terms ORed, a term's expressions ANDed, an empty
    term matching nothing (operators In, NotIn, Exists, DoesNotExist)."""
    if unschedulable:
        return False
    if any(node_labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = (pod_spec.get("affinity", {}).get("nodeAffinity", {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True

    def holds(expression: dict) -> bool:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        return {"In": key in node_labels and node_labels[key] in values,
                "NotIn": node_labels.get(key) not in values,
                "Exists": key in node_labels,
                "DoesNotExist": key not in node_labels}[operator]

    return any(term.get("matchExpressions") and all(holds(e) for e in term["matchExpressions"])
               for term in required["nodeSelectorTerms"])
