"""Names the LeaderWorkerSet controller derives from a LeaderWorkerSet's name, and the limit
Kubernetes puts on them. Shared by the program (rendering/multinode.py names the LWS) and the
policy pack (policy/multinode_checks.py refuses an LWS whose groups cannot start).

What the LWS controller creates (kubernetes-sigs/lws, HEAD 060ab4da):

- the leader StatefulSet, named like the LWS (`leaderworkerset_controller.go`
  `constructLeaderStatefulSetApplyConfiguration`: `StatefulSet(lws.Name, …)`); its pods, the
  leaders, are `<lws>-<groupIndex>`;
- per group a worker StatefulSet named after its leader pod, `<lws>-<groupIndex>`
  (`pod_controller.go` `constructWorkerStatefulSetApplyConfiguration`:
  `StatefulSet(leaderPod.Name, …)`), with ordinals from 1: workers `<lws>-<groupIndex>-<i>`;
- with subdomainPolicy Shared, one headless Service named like the LWS
  (`reconcileHeadlessServices`), so `LWS_LEADER_ADDRESS` is
  `<lws>-<groupIndex>.<lws>.<namespace>` (`pkg/utils/pod/pod_utils.go` `AddLWSVariables`).

The StatefulSet controller labels every pod `controller-revision-hash: <sts>-<hash>`
(kubernetes `pkg/controller/statefulset/stateful_set_utils.go` `setPodRevision` with the
revision's name; `pkg/controller/history/controller_history.go` `ControllerRevisionName` =
`prefix-hash`, the hash `rand.SafeEncodeString(fmt.Sprint(uint32))`, up to 10 characters). A
label value is at most 63 characters, so a StatefulSet named over 63 − 1 − 10 = 52 characters
creates no pod, ever (kubernetes/kubernetes#64023): the group's leader starts alone and waits
for workers that never come.
"""

from __future__ import annotations

LABEL_VALUE_MAX = 63
REVISION_HASH_MAX = 10
"""Characters of `rand.SafeEncodeString(fmt.Sprint(uint32))`: 4294967295 has 10 digits."""
STATEFULSET_NAME_MAX = LABEL_VALUE_MAX - 1 - REVISION_HASH_MAX
"""52: longest StatefulSet name whose pods' controller-revision-hash label fits."""


def worker_statefulset_name(lws_name: str, group_index: int) -> str:
    """The worker StatefulSet (and leader pod) of one group: `<lws>-<groupIndex>`."""
    return f"{lws_name}-{group_index}"


def longest_name(max_groups: int) -> int:
    """Longest LWS name whose every group (indexes 0 … max_groups − 1) gets a worker
    StatefulSet of at most STATEFULSET_NAME_MAX characters."""
    return STATEFULSET_NAME_MAX - len(f"-{max(max_groups, 1) - 1}")


def names_fit(lws_name: str, max_groups: int) -> bool:
    """True when the last group's worker StatefulSet name (the longest) fits."""
    return len(lws_name) <= longest_name(max_groups)
