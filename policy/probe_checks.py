"""Rules on an inference pod's life cycle: start-up that survives weight loading, health checks
that take a busy engine out of traffic before restarting it, and a shutdown that lets requests
finish. Each check takes `(resource_type, pulumi_name, props, config)` and returns messages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from facts import conventions as conv
from policy import k8s
from policy.k8s import fmt, get

DEFAULT_GRACE_SECONDS = 30
"""Kubernetes' terminationGracePeriodSeconds when a pod spec leaves it out."""
DEFAULT_MIN_TIMEOUT_SECONDS = 2
"""A probe timeout of the kubelet's default 1 s is what a busy engine misses."""


def _window(probe: Mapping) -> float:
    """How long a failing probe takes to act: periodSeconds × failureThreshold (defaults 10, 3)."""
    period = k8s.to_number(get(probe, "periodSeconds")) or 10
    failures = k8s.to_number(get(probe, "failureThreshold")) or 3
    return period * failures


def check_startup_probe(resource_type: str, name: str, props: Mapping,
                        config: Mapping) -> list[str]:
    """The vllm container has a startupProbe whose budget (initialDelaySeconds + periodSeconds ×
    failureThreshold) is no shorter than the stated load estimate."""
    out = []
    templates = k8s.inference_templates(resource_type, props, serving=True)
    for where, _, container in k8s.engine_containers(resource_type, props, name, serving=True):
        raw = k8s.stated(props, templates, conv.ANN_ESTIMATED_LOAD_SECONDS)
        estimate = k8s.to_number(raw)
        probe = get(container, "startupProbe")
        if not k8s.is_mapping(probe):
            out.append(
                f"{where} has no startupProbe on its vllm container. While vLLM loads weights "
                "nothing listens, so the liveness probe kills the pod mid-load; add a "
                "startupProbe on /health whose initialDelaySeconds + periodSeconds × "
                "failureThreshold covers the load estimate"
                + (f" of {fmt(estimate)} s." if estimate is not None else "."))
            continue
        if estimate is None:
            state = "missing" if raw is None else f"{raw!r}, not a number of seconds"
            out.append(
                f"{where} does not state how long its model takes to load: annotation "
                f"{conv.ANN_ESTIMATED_LOAD_SECONDS} is {state}. Set it to the estimated seconds "
                "from container start to /health 200 so the startupProbe budget can be checked.")
            continue
        initial = k8s.to_number(get(probe, "initialDelaySeconds")) or 0
        period = k8s.to_number(get(probe, "periodSeconds")) or 10
        failures = k8s.to_number(get(probe, "failureThreshold")) or 3
        budget = initial + period * failures
        if budget < estimate:
            needed = math.ceil((estimate - initial) / period)
            out.append(
                f"{where} gives vLLM {fmt(budget)} s to start (startupProbe initialDelaySeconds "
                f"{fmt(initial)} + periodSeconds {fmt(period)} × failureThreshold "
                f"{fmt(failures)}) "
                f"but states an estimated load time of {fmt(estimate)} s "
                f"({conv.ANN_ESTIMATED_LOAD_SECONDS}); raise the startupProbe failureThreshold to "
                f"at least {needed} so the kubelet does not kill the pod while weights load.")
    return out


def check_liveness_outlasts_readiness(resource_type: str, name: str, props: Mapping,
                                      config: Mapping) -> list[str]:
    """Readiness and liveness probes exist and liveness takes longer to act than readiness."""
    out = []
    for where, _, container in k8s.engine_containers(resource_type, props, name, serving=True):
        readiness = get(container, "readinessProbe")
        liveness = get(container, "livenessProbe")
        if not k8s.is_mapping(readiness):
            out.append(
                f"{where} has no readinessProbe on its vllm container, so a pod whose engine "
                "died keeps receiving traffic; add a readinessProbe on /health.")
        if not k8s.is_mapping(liveness):
            out.append(
                f"{where} has no livenessProbe on its vllm container, so a dead engine is never "
                "restarted; add a livenessProbe on /health with a longer window than readiness.")
        if not (k8s.is_mapping(readiness) and k8s.is_mapping(liveness)):
            continue
        ready_window, live_window = _window(readiness), _window(liveness)
        if live_window <= ready_window:
            live_period = k8s.to_number(get(liveness, "periodSeconds")) or 10
            needed = math.floor(ready_window / live_period) + 1
            out.append(
                f"{where} restarts the vllm container after {fmt(live_window)} s of failed "
                f"liveness checks but takes it out of the Service only after {fmt(ready_window)} s "
                "of failed readiness checks; a busy pod must leave the Service before it is "
                f"restarted, so raise the livenessProbe failureThreshold to at least {needed}.")
    return out


def check_probe_timeouts(resource_type: str, name: str, props: Mapping,
                         config: Mapping) -> list[str]:
    """Every probe of the vllm container sets timeoutSeconds of at least minTimeoutSeconds."""
    minimum = k8s.number_or_default(config, "minTimeoutSeconds", DEFAULT_MIN_TIMEOUT_SECONDS)
    out = []
    for where, _, container in k8s.engine_containers(resource_type, props, name, serving=True):
        for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = get(container, probe_name)
            if not k8s.is_mapping(probe):
                continue
            timeout = k8s.to_number(get(probe, "timeoutSeconds"))
            if timeout is None:
                out.append(
                    f"{where}: the vllm container's {probe_name} does not set timeoutSeconds, so "
                    "the kubelet's default of 1 s applies and an engine busy with a long batch "
                    f"fails it; set timeoutSeconds to at least {fmt(minimum)}.")
            elif timeout < minimum:
                out.append(
                    f"{where}: the vllm container's {probe_name} has timeoutSeconds "
                    f"{fmt(timeout)}, below the minimum of {fmt(minimum)} s; an engine busy with "
                    f"a long batch answers /health late, so set timeoutSeconds to at least "
                    f"{fmt(minimum)}.")
    return out




def check_grace_period(resource_type: str, name: str, props: Mapping, config: Mapping) -> list[str]:
    """terminationGracePeriodSeconds exceeds preStop + vLLM's --shutdown-timeout.

    Each input is the larger of what the object states in its annotations and what its spec
    visibly does, so an understated annotation cannot hide a real sleep or flag.
    """
    out = []
    templates = k8s.inference_templates(resource_type, props)
    for where, spec, container in k8s.engine_containers(resource_type, props, name):
        pre_stop = max([v for v in (
            k8s.to_number(k8s.stated(props, templates, conv.ANN_PRESTOP_SECONDS)),
            k8s.pre_stop_sleep_seconds(container)) if v is not None], default=0)
        shutdown = max([v for v in (
            k8s.to_number(k8s.stated(props, templates, conv.ANN_SHUTDOWN_TIMEOUT_SECONDS)),
            k8s.to_number(k8s.flag_value(k8s.command_tokens(container), "--shutdown-timeout")))
            if v is not None], default=0)
        if k8s.runs_no_api_server(container):
            shutdown = 0   # exits at once on SIGTERM: its preStop alone must fit
        raw = k8s.to_number(get(spec, "terminationGracePeriodSeconds"))
        grace = DEFAULT_GRACE_SECONDS if raw is None else raw
        needed = pre_stop + shutdown
        if grace <= needed:
            out.append(
                f"{where} has terminationGracePeriodSeconds {fmt(grace)}"
                + (" (the default)" if raw is None else "")
                + f" but preStop {fmt(pre_stop)} s + vLLM shutdown timeout {fmt(shutdown)} s = "
                f"{fmt(needed)} s; the kubelet would SIGKILL vLLM while requests still drain, so "
                f"raise terminationGracePeriodSeconds above {fmt(needed)}.")
    return out
