"""The vllm-serving policy pack's rules, wrapped as pulumi-policy objects.

The checks are plain functions in small modules, testable and runnable offline without the
Pulumi CLI:

* `probe_checks`, `resource_checks`, `security_checks`, `workload_checks`, `metrics`: resource
  checks taking `(resource_type, pulumi_name, props, config)` and returning `list[str]`;
* `stack_checks`: stack checks taking `(resources, config)`, each resource having
  `resource_type`, `name`, `urn` and `props` (a `pulumi_policy.PolicyResource`), and returning
  `list[(message, urn)]`.

This module names them, states their level (mandatory unless the issue marks them advisory) and
config schema, and lists them in `ALL_POLICIES`. Policies cannot read stack config: what a rule
needs is stated on the objects (facts/conventions.py) and facts come from the shared `facts`
package, never from the program (`planning/`, `rendering/`, `components/`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional


from pulumi_policy import (  # noqa: E402
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.metrics import check_metric_names  # noqa: E402
from policy.model_delivery_checks import (  # noqa: E402
    check_cache_pod_on_ready_node,
    check_model_image_pinned,
)
from policy.probe_checks import (  # noqa: E402
    DEFAULT_MIN_TIMEOUT_SECONDS,
    check_grace_period,
    check_liveness_outlasts_readiness,
    check_probe_timeouts,
    check_startup_probe,
)
from policy.multinode_checks import (  # noqa: E402
    check_group_can_start,
    check_group_flags,
    check_group_names_fit,
    check_group_restart_policy,
    check_headless_workers_not_http_probed,
    check_tensor_parallel_in_a_pod,
)
from policy.resource_checks import check_cpu_memory, check_gpu_count, check_shm  # noqa: E402
from policy.security_checks import (  # noqa: E402
    check_container_security,
    check_engine_admits_named_pods,
    check_engine_flags,
    check_engine_routes_guarded,
    check_image_digest,
    check_image_pinned,
    check_no_literal_secrets,
    check_router_admits_named_pods,
)
from policy.streamer_checks import check_streamer_credentials  # noqa: E402
from policy.stack_checks import (  # noqa: E402
    check_autoscalers,
    check_group_subdomain_free,
    check_min_replicas,
    check_network_policy,
    check_no_public_service,
    check_pdb_allows_drain,
    check_pdb_present,
    check_services_scraped,
)
from policy.traffic_checks import (  # noqa: E402
    check_body_limits,
    check_router_keys_from_secrets,
    check_router_timeouts,
)
from policy.workload_checks import (  # noqa: E402
    check_model_revision,
    check_service_links,
    check_service_name,
    check_spread,
)

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY
ResourceCheck = Callable[[str, str, Mapping, Mapping], list[str]]
"""(resource_type, pulumi_name, props, config) -> violation messages."""
StackCheck = Callable[[Sequence[Any], Mapping], list[tuple[str, Optional[str]]]]
"""(resources, config) -> (message, urn of the offending resource) pairs."""


def resource_policy(name: str, description: str, check: ResourceCheck,
                    level: EnforcementLevel = MANDATORY,
                    config_schema: Optional[PolicyConfigSchema] = None) -> ResourceValidationPolicy:
    """A ResourceValidationPolicy reporting each message of `check`."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(args.resource_type, args.name, args.props, args.get_config()):
            report_violation(message, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    enforcement_level=level, config_schema=config_schema)


def stack_policy(name: str, description: str, check: StackCheck,
                 level: EnforcementLevel = MANDATORY,
                 config_schema: Optional[PolicyConfigSchema] = None) -> StackValidationPolicy:
    """A StackValidationPolicy reporting each (message, urn) of `check`."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for message, urn in check(args.resources, args.get_config()):
            report_violation(message, urn)

    return StackValidationPolicy(name=name, description=description, validate=validate,
                                 enforcement_level=level, config_schema=config_schema)


MIN_REPLICAS_SCHEMA = PolicyConfigSchema(properties={"minReplicas": {
    "type": "integer", "minimum": 0, "default": 1,
    "description": "Fewest replicas (or autoscaler minimum) an inference workload may run; 0 "
                   "lets an environment scale an idle model to zero (autoscaling.minReplicas 0)"}})
PROBE_TIMEOUT_SCHEMA = PolicyConfigSchema(properties={"minTimeoutSeconds": {
    "type": "integer", "minimum": 1, "default": DEFAULT_MIN_TIMEOUT_SECONDS,
    "description": "Smallest timeoutSeconds allowed on the vllm container's probes."}})

RESOURCE_POLICIES = [
    resource_policy("startup-probe-covers-load",
                    "The vllm container has a startupProbe whose budget covers the stated model "
                    "load time.", check_startup_probe),
    resource_policy("liveness-outlasts-readiness",
                    "The vllm container has readiness and liveness probes, and liveness takes "
                    "longer to act than readiness.", check_liveness_outlasts_readiness),
    resource_policy("probe-timeouts",
                    "Every probe of the vllm container sets an explicit timeoutSeconds above the "
                    "kubelet's 1 s default.", check_probe_timeouts,
                    config_schema=PROBE_TIMEOUT_SCHEMA),
    resource_policy("shm-for-multi-gpu",
                    "Pods with more than one GPU mount a Memory emptyDir at /dev/shm, sized "
                    "inside the container's memory limit.", check_shm),
    resource_policy("gpu-matches-parallelism",
                    "nvidia.com/gpu requests equal limits and equal tensor × pipeline × data "
                    "parallel sizes.", check_gpu_count),
    resource_policy("cpu-memory-resources",
                    "Inference containers set CPU and memory requests and a memory limit as "
                    "their QoS class requires.", check_cpu_memory),
    resource_policy("image-pinned",
                    "Container images carry a fixed tag or digest, never latest, nightly or no "
                    "tag.", check_image_pinned),
    resource_policy("image-by-digest",
                    "Container images are referenced by digest.", check_image_digest, ADVISORY),
    resource_policy("streamer-has-credentials",
                    "An engine streaming its weights from object storage takes its credentials "
                    "from a Secret or a workload identity, not the node's.",
                    check_streamer_credentials),
    resource_policy("model-image-by-digest",
                    "Model images mounted as image volumes are referenced by digest.",
                    check_model_image_pinned),
    resource_policy("cache-pod-on-ready-node",
                    "An inference pod reading a node's model cache (hostPath) is scheduled only "
                    "on nodes labelled ready for it.", check_cache_pod_on_ready_node),
    resource_policy("no-literal-secrets",
                    "API keys and tokens come from Secrets, never literal values in pod specs, "
                    "arguments or ConfigMaps.", check_no_literal_secrets),
    resource_policy("engine-flags-allowed",
                    "The vllm container passes no flag that logs prompts, puts the key on the "
                    "command line, reads an unchecked config file or removes the metrics, in "
                    "any spelling vLLM accepts.", check_engine_flags),
    resource_policy("service-links-disabled",
                    "Inference pods set enableServiceLinks: false.", check_service_links),
    resource_policy("no-service-named-vllm",
                    "No Service is named vllm (it would inject VLLM_PORT).", check_service_name),
    resource_policy("grace-covers-drain",
                    "terminationGracePeriodSeconds exceeds preStop plus vLLM's shutdown timeout.",
                    check_grace_period),
    resource_policy("container-security",
                    "No container is privileged or may escalate privileges; all run as non-root.",
                    check_container_security),
    resource_policy("replicas-spread",
                    "Replicas of an inference workload are spread across nodes.", check_spread,
                    ADVISORY),
    resource_policy("metric-names-exist",
                    "Alert, autoscaler and dashboard expressions use only vLLM metric names that "
                    "exist for the pinned vLLM version.", check_metric_names, ADVISORY),
    resource_policy("model-revision-pinned",
                    "The served model revision is a commit SHA, not a moving branch.",
                    check_model_revision, ADVISORY),
    resource_policy("tensor-parallel-within-a-node",
                    "The tensor-parallel size is at most the GPUs of one pod (one node).",
                    check_tensor_parallel_in_a_pod),
    resource_policy("group-flags-managed",
                    "Each pod of a LeaderWorkerSet sets the group launch flags once, and none "
                    "that breaks the group, in any spelling vLLM accepts.", check_group_flags),
    resource_policy("group-recreated-on-restart",
                    "A LeaderWorkerSet recreates its whole group when one of its pods restarts.",
                    check_group_restart_policy),
    resource_policy("group-can-start",
                    "A LeaderWorkerSet creates its workers with the leader (not LeaderReady).",
                    check_group_can_start),
    resource_policy("headless-workers-not-http-probed",
                    "Headless vLLM workers have no HTTP probes.",
                    check_headless_workers_not_http_probed),
]
STACK_POLICIES = [
    stack_policy("group-names-fit",
                 "Every group's worker StatefulSet name (<lws>-<groupIndex>) fits in 52 "
                 "characters, counting the autoscaler's most replicas and the surge.",
                 check_group_names_fit),
    stack_policy("group-subdomain-free",
                 "No Service takes a LeaderWorkerSet's name (the group's headless Service).",
                 check_group_subdomain_free),
    stack_policy("min-replicas",
                 "Inference workloads keep the environment's minimum number of replicas.",
                 check_min_replicas, config_schema=MIN_REPLICAS_SCHEMA),
    stack_policy("pdb-for-multi-replica",
                 "Every inference workload that can run several replicas has a "
                 "PodDisruptionBudget.", check_pdb_present),
    stack_policy("pdb-allows-drain",
                 "No PodDisruptionBudget over inference pods forbids every eviction.",
                 check_pdb_allows_drain),
    stack_policy("network-policy-per-namespace",
                 "Every namespace with inference pods has a NetworkPolicy selecting them.",
                 check_network_policy),
    stack_policy("no-public-engine-service",
                 "No LoadBalancer or NodePort Service exposes the inference pods directly.",
                 check_no_public_service),
    stack_policy("autoscaler-bounds-and-target",
                 "Autoscalers have min <= max and scale a workload the stack creates.",
                 check_autoscalers),
    stack_policy("inference-service-scraped",
                 "Every inference Service is scraped by a ServiceMonitor or scrape annotations.",
                 check_services_scraped),
    stack_policy("router-timeouts-cover-longest-request",
                 "The router's, the route's and Envoy Gateway's request timeouts cover the "
                 "engine's longest request (each model's own timeout too), a stream-idle "
                 "timeout is set, and the router's grace period exceeds its preStop plus its "
                 "timeout.", check_router_timeouts),
    stack_policy("body-limit-covers-largest-prompt",
                 "Every body limit in front of the engine (Envoy Gateway buffers, the router) "
                 "admits the body of a prompt of model.maxModelLen tokens.", check_body_limits),
    stack_policy("engine-admits-named-pods",
                 "No NetworkPolicy admits a whole namespace, every source or an address range "
                 "to the inference pods' port; every peer names pods (vLLM's key leaves "
                 "/invocations open).", check_engine_admits_named_pods),
    stack_policy("router-admits-named-pods",
                 "No NetworkPolicy admits a whole namespace, every source or an address range "
                 "to the router's port; the gateway's proxies and Prometheus are named by pod "
                 "selector (the edge's limits hold only on the gateway's path).",
                 check_router_admits_named_pods),
    stack_policy("engine-route-guarded-paths",
                 "An HTTPRoute to an inference Service matches only paths vLLM's API key guards "
                 "(/v1...), never / or /invocations.", check_engine_routes_guarded),
    stack_policy("router-keys-from-secrets",
                 "The router's config names every key as os.environ/<VAR>, each filled from a "
                 "Secret.", check_router_keys_from_secrets),
]
ALL_POLICIES = RESOURCE_POLICIES + STACK_POLICIES
"""Every policy of the pack, in the order `pulumi preview` lists them."""
