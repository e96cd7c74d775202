"""A stack's config, cluster and plan from the Pulumi program's configuration, checked whole:
every problem is one message, raised before any resource exists."""

from __future__ import annotations

import pulumi

from planning import checks
from planning.config import (ClusterConfig, ConfigError, StackConfig, check_cluster,
                             check_stack_name, cluster_from_pulumi_config, from_pulumi_config)
from planning.pins import unpinned_warnings
from planning.plan import Plan, make_plan


def load_stack(stack: str) -> tuple[StackConfig, ClusterConfig, Plan]:
    """The stack's config, cluster and plan; any problem stops the program as a RunError,
    which Pulumi prints as a plain message, without a traceback. What runs unpinned (never on
    a production stack, which refuses it) is said as a warning at every preview."""
    try:
        cfg, cluster, plan = _checked(stack)
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
    for warning in unpinned_warnings(cfg) + checks.warnings(cfg, plan):
        pulumi.log.warn(warning)
    return cfg, cluster, plan


def _checked(stack: str) -> tuple[StackConfig, ClusterConfig, Plan]:
    """Validate the stack's name, config and cluster, derive the plan (its checks include the
    traffic layer's)."""
    check_stack_name(stack)
    cfg = from_pulumi_config()
    cluster = cluster_from_pulumi_config()
    check_cluster(cluster, cfg.require_cluster, stack)
    return cfg, cluster, make_plan(cfg)
