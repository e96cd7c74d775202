"""Alertmanager routing of the stack's alerts: an AlertmanagerConfig (Prometheus Operator,
monitoring.coreos.com/v1alpha1) with one webhook receiver per `monitoring.alerting.receivers`
entry, and the plain alertmanager.yml routing tree the Operator makes of it, which
`amtool config routes test` reads.

What the program deploys and what it expects: it renders the AlertmanagerConfig only. The
Alertmanager (kube-prometheus-stack's, selecting AlertmanagerConfigs in the stack's namespace),
the Secret holding each webhook URL, and for DingTalk and Feishu the adapter that turns
Alertmanager's webhook JSON into a robot message (DingTalk: prometheus-webhook-dingtalk, URL
http://<adapter>:8060/dingtalk/<target>/send; Feishu: a Feishu webhook adapter) are the cluster's.
Alertmanager has no DingTalk or Feishu integration of its own, so every receiver is a
webhook_config whatever its kind.
"""

from __future__ import annotations

from typing import Any, Optional

from planning.config import ConfigError, MonitoringConfig
from planning.config.observability import UNROUTED_RECEIVER, AlertingConfig, AlertReceiver
from rendering import promql

API_VERSION = "monitoring.coreos.com/v1alpha1"
KIND = "AlertmanagerConfig"

BASE_RECEIVER = "null"
"""The root receiver of kube-prometheus-stack's default alertmanager.yml, the base config the
Operator adds AlertmanagerConfig routes to in `routing_tree`."""


def _matcher(name: str, match_type: str, value: str) -> dict[str, str]:
    return {"name": name, "matchType": match_type, "value": value}


def _check_alert_names(alerting: AlertingConfig, alert_names: list[str]) -> None:
    """A receiver's `alerts` must name alerts the stack renders: a typo would route nothing."""
    problems = [
        f"monitoring.alerting.receivers[{index}].alerts: {name!r} is not an alert this stack "
        f"renders; use one of {', '.join(alert_names)} (or leave `alerts` empty for all)"
        for index, receiver in enumerate(alerting.receivers)
        for name in receiver.alerts if name not in alert_names]
    if problems:
        raise ConfigError(problems)


def _child_route(receiver: AlertReceiver) -> dict[str, Any]:
    # continue: an alert goes to every receiver whose filter selects it, not only the first.
    matchers = [_matcher("severity", "=~", "|".join(receiver.severities))]
    if receiver.alerts:
        matchers.append(_matcher("alertname", "=~", "|".join(receiver.alerts)))
    return {"receiver": receiver.name, "matchers": matchers, "continue": True}


def _receiver(receiver: AlertReceiver) -> dict[str, Any]:
    return {"name": receiver.name, "webhookConfigs": [{
        "urlSecret": {"name": receiver.url_secret.name, "key": receiver.url_secret.key},
        "sendResolved": receiver.send_resolved,
    }]}


def alertmanager_config_spec(alerting: AlertingConfig, alert_names: list[str]) -> dict[str, Any]:
    """The AlertmanagerConfig spec: a top route selecting the stack's alerts by name (the
    Operator adds the namespace matcher), one child route per receiver by severity and
    optionally alert name, and an integration-less receiver for what no receiver selects."""
    _check_alert_names(alerting, alert_names)
    return {
        "route": {
            "receiver": UNROUTED_RECEIVER,
            "groupBy": list(alerting.group_by),
            "groupWait": alerting.group_wait,
            "groupInterval": alerting.group_interval,
            "repeatInterval": alerting.repeat_interval,
            "matchers": [_matcher("alertname", "=~", "|".join(sorted(set(alert_names))))],
            "routes": [_child_route(receiver) for receiver in alerting.receivers],
        },
        "receivers": [{"name": UNROUTED_RECEIVER}]
        + [_receiver(receiver) for receiver in alerting.receivers],
    }


def alertmanager_config(name: str, namespace: str, labels: dict[str, str],
                        alerting: AlertingConfig, alert_names: list[str]) -> dict[str, Any]:
    """The whole AlertmanagerConfig object (labels: those the Alertmanager selects on)."""
    return {"apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": alertmanager_config_spec(alerting, alert_names)}


def stack_alertmanager_config(name: str, target: promql.Target, monitoring: MonitoringConfig,
                              has_hpa: bool, labels: dict[str, str],
                              other_alerts: tuple[str, ...] = ()) -> Optional[dict[str, Any]]:
    """The stack's AlertmanagerConfig, or None without receivers. Built from config before
    anything is created, so a receiver naming an unknown alert fails the preview; the alert
    names do not depend on the HPA's name, only on whether there is one. `other_alerts`: the
    names of the stack's other rules (the router's), routed the same way."""
    if not (monitoring.enabled and monitoring.prometheus_operator
            and monitoring.alerting.receivers):
        return None
    names = [alert.name for alert in promql.alerts(
        target, monitoring.thresholds, "hpa" if has_hpa else None, monitoring.dcgm_exporter)]
    names += [alert for alert in other_alerts if alert not in names]
    return alertmanager_config(name, target.namespace, labels, monitoring.alerting, names)


def custom_resource_inputs(manifest: dict[str, Any]) -> dict[str, Any]:
    """A whole custom object as pulumi_kubernetes CustomResource's keyword arguments."""
    return {"api_version": manifest["apiVersion"], "kind": manifest["kind"],
            "metadata": manifest["metadata"], "spec": manifest["spec"]}


def alert_names(rule_groups: list[dict[str, Any]]) -> list[str]:
    """The alert names in rendered rule groups, in order, once each."""
    names = [rule["alert"] for group in rule_groups for rule in group["rules"] if "alert" in rule]
    return list(dict.fromkeys(names))


# --- The Operator's conversion (prometheus-operator pkg/alertmanager/amcfg.go) -------------------


def namespaced(namespace: str, object_name: str, name: str) -> str:
    """amcfg.go makeNamespacedString: receivers are renamed `<namespace>/<object>/<name>`."""
    return f"{namespace}/{object_name}/{name}"


def _matcher_string(matcher: dict[str, str]) -> str:
    """monitoringv1alpha1 Matcher.String: name, match type, then the value quoted with `\\`,
    `"` and newlines escaped (openMetricsEscape)."""
    value = (matcher["value"].replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"'))
    return f'{matcher["name"]}{matcher["matchType"]}"{value}"'


_ROUTE_KEYS = {"groupBy": "group_by", "groupWait": "group_wait",
               "groupInterval": "group_interval", "repeatInterval": "repeat_interval",
               "continue": "continue"}


def _convert_route(route: dict[str, Any], namespace: str, object_name: str) -> dict[str, Any]:
    """amcfg.go ConfigBuilder.convertRoute: the same tree in alertmanager.yml's spelling, each
    receiver namespaced, matchers as strings."""
    out: dict[str, Any] = {"receiver": namespaced(namespace, object_name, route["receiver"])}
    out.update({plain: route[crd] for crd, plain in _ROUTE_KEYS.items() if crd in route})
    if route.get("matchers"):
        out["matchers"] = [_matcher_string(m) for m in route["matchers"]]
    if route.get("routes"):
        out["routes"] = [_convert_route(child, namespace, object_name) for child in route["routes"]]
    return out


def routing_tree(spec: dict[str, Any], namespace: str, object_name: str,
                 urls: dict[str, str]) -> dict[str, Any]:
    """The alertmanager.yml the Operator generates from this AlertmanagerConfig on a base config
    whose root sends to BASE_RECEIVER (amcfg.go AddAlertmanagerConfigs): the top route gets
    `namespace="<object namespace>"` appended and `continue: true` (namespaceEnforcer and
    continueToNextRoute processRoute, the default matcher strategy on Alertmanager >= 0.22) and
    goes first under the root. `urls` maps a receiver name to the URL its Secret holds."""
    top = _convert_route(spec["route"], namespace, object_name)
    top["matchers"] = top.get("matchers", []) + [f'namespace="{namespace}"']
    top["continue"] = True
    receivers = [{"name": BASE_RECEIVER}]
    for receiver in spec["receivers"]:
        plain: dict[str, Any] = {"name": namespaced(namespace, object_name, receiver["name"])}
        if receiver.get("webhookConfigs"):
            plain["webhook_configs"] = [
                {"url": urls[receiver["name"]], "send_resolved": hook["sendResolved"]}
                for hook in receiver["webhookConfigs"]]
        receivers.append(plain)
    return {"route": {"receiver": BASE_RECEIVER, "routes": [top]}, "receivers": receivers}
