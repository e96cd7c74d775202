"""The Grafana dashboard of one deployment, built with grafana-foundation-sdk.

Pure: returns the dashboard as a dict (or JSON text) for a ConfigMap the Grafana sidecar loads.
Latency and throughput panels read the recording rules in rendering/promql.py, so the dashboard
and the alerts show the same numbers and neither needs to know vLLM's metric renames.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Optional

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from rendering import promql

DATASOURCE_VARIABLE = "datasource"
"""Dashboard variable holding the Prometheus data source, chosen in Grafana's UI."""

GRAFANA_RATE_INTERVAL = "$__rate_interval"
"""Grafana's built-in window for rate(): at least four scrape intervals at any zoom."""

PANEL_WIDTH = 12
PANEL_HEIGHT = 8


@dataclasses.dataclass(frozen=True)
class Query:
    """One line on a panel."""

    expr: str
    legend: str


@dataclasses.dataclass(frozen=True)
class PanelSpec:
    """A time-series panel: title, unit and its queries."""

    title: str
    unit: str
    description: str
    queries: list[Query]


def dashboard_uid(target: promql.Target) -> str:
    """Stable uid (Grafana allows 40 characters) for the namespace + model pair."""
    digest = hashlib.sha256(f"{target.namespace}/{target.served_name}".encode()).hexdigest()
    return f"vllm-{digest[:16]}"


def _quantile_queries(signal: str, target: promql.Target) -> list[Query]:
    rule = promql.quantile_rule_name(signal)
    return [
        Query(f'{rule}{{{target.vllm},quantile="{q}"}}', f"p{int(q * 100)}")
        for q in promql.QUANTILES
    ]


def _latency_panels(target: promql.Target) -> list[PanelSpec]:
    return [
        PanelSpec("Time to first token", "s", "Queue wait plus prefill, per request.",
                  _quantile_queries("time_to_first_token", target)),
        PanelSpec("Inter-token latency", "s", "Time between two output tokens of a request.",
                  _quantile_queries("inter_token_latency", target)),
        PanelSpec("End-to-end request latency", "s",
                  "Whole request; long answers of reasoning models make this large by nature.",
                  _quantile_queries("e2e_latency", target)),
        PanelSpec("Queue time", "s", "Time requests wait before the engine schedules them.",
                  _quantile_queries("queue_time", target)),
    ]


def _load_panels(target: promql.Target) -> list[PanelSpec]:
    version, sel = target.vllm_version, target.vllm
    tokens = {
        kind: promql.recorded(rule) + f"{{{sel}}}" for kind, rule in promql.TOKENS_RULE.items()
    }
    kv = promql.series("kv_cache_usage", version, sel)
    preemptions = promql.rate("preemptions", version, sel, window=GRAFANA_RATE_INTERVAL)
    return [
        PanelSpec("Tokens per second", "short", "Generated and prompt tokens, all replicas.", [
            Query(f"sum({tokens['generation_tokens']})", "generated"),
            Query(f"sum({tokens['prompt_tokens']})", "prompt"),
        ]),
        PanelSpec("Requests running and waiting", "short", "Per replica.", [
            Query(f"sum by (pod) ({promql.series('requests_running', version, sel)})",
                  "running {{pod}}"),
            Query(f"sum by (pod) ({promql.series('requests_waiting', version, sel)})",
                  "waiting {{pod}}"),
        ]),
        PanelSpec("KV-cache usage", "percentunit", "Share of the KV cache in use (0..1).", [
            Query(f"max by (pod, engine) ({kv})", "{{pod}} engine {{engine}}"),
        ]),
        PanelSpec("Prefix-cache hit rate", "percentunit",
                  "Share of prompt tokens served from the prefix cache.", [
                      Query(f"{promql.recorded(promql.PREFIX_HIT_RULE)}{{{sel}}}", "hit rate"),
                  ]),
        PanelSpec("Preemptions per second", "short",
                  "Requests evicted for lack of KV cache and recomputed later.", [
                      Query(f"sum by (pod) ({preemptions})", "{{pod}}"),
                  ]),
    ]


def _health_panels(target: promql.Target, hpa_name: Optional[str]) -> list[PanelSpec]:
    deployment = f'namespace="{target.namespace}",deployment="{target.deployment_name}"'
    replicas = [
        Query(f"sum(kube_deployment_spec_replicas{{{deployment}}})", "desired"),
        Query(f"sum(kube_deployment_status_replicas_ready{{{deployment}}})", "ready"),
    ]
    if hpa_name:
        replicas.append(Query(
            f"sum(kube_horizontalpodautoscaler_status_desired_replicas"
            f'{{namespace="{target.namespace}",horizontalpodautoscaler="{hpa_name}"}})',
            "autoscaler wants",
        ))
    return [
        PanelSpec("HTTP 5xx error ratio", "percentunit", "Share of API requests failing 5xx.", [
            Query(f"{promql.recorded(promql.HTTP_5XX_RULE)}{{{target.service}}}", "5xx ratio"),
        ]),
        PanelSpec("Replicas: desired vs ready", "short",
                  "A gap that lasts longer than the start-up budget means pods cannot start.",
                  replicas),
    ]


def panel_specs(
    target: promql.Target, hpa_name: Optional[str] = None
) -> dict[str, list[PanelSpec]]:
    """The dashboard's rows and their panels."""
    return {
        "Latency": _latency_panels(target),
        "Load and throughput": _load_panels(target),
        "Errors and replicas": _health_panels(target, hpa_name),
    }


def _panel(spec: PanelSpec, datasource: DataSourceRef) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(spec.title)
        .description(spec.description)
        .unit(spec.unit)
        .datasource(datasource)
        .height(PANEL_HEIGHT)
        .span(PANEL_WIDTH)
        .min(0)
        .fill_opacity(10)
        .legend(common_builders.VizLegendOptions()
                .display_mode(LegendDisplayMode.LIST)
                .placement(LegendPlacement.BOTTOM)
                .show_legend(True))
    )
    for index, query in enumerate(spec.queries):
        panel = panel.with_target(
            prometheus.Dataquery()
            .expr(query.expr)
            .legend_format(query.legend)
            .ref_id(chr(ord("A") + index))
        )
    return panel


def dashboard(target: promql.Target, hpa_name: Optional[str] = None) -> dict[str, Any]:
    """The dashboard model as a plain dict (Grafana's JSON)."""
    datasource = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
    builder = (
        dash.Dashboard(f"vLLM {target.served_name} ({target.namespace})")
        .uid(dashboard_uid(target))
        .description(f"vLLM {target.vllm_version} serving {target.served_name}; "
                     "made by vllm-serving, edits in Grafana are overwritten.")
        .tags(["vllm", "vllm-serving"])
        .refresh("30s")
        .time("now-6h", "now")
        .with_variable(
            dash.DatasourceVariable(DATASOURCE_VARIABLE).label("Prometheus").type("prometheus")
        )
    )
    for row, specs in panel_specs(target, hpa_name).items():
        builder = builder.with_row(dash.Row(row))
        for spec in specs:
            builder = builder.with_panel(_panel(spec, datasource))
    model = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    # Grafana keys panel state by id; the SDK leaves them unset or 0.
    for panel_id, panel in enumerate(model["panels"], start=1):
        panel["id"] = panel_id
    return model


def dashboard_json(target: promql.Target, hpa_name: Optional[str] = None) -> str:
    """The dashboard as JSON text, ready for a ConfigMap."""
    return json.dumps(dashboard(target, hpa_name), indent=1, sort_keys=True)


def expressions(model: dict[str, Any]) -> list[str]:
    """Every PromQL expression in a dashboard model (panels and rows' nested panels)."""
    found = []
    for panel in model.get("panels", []):
        for nested in [panel, *panel.get("panels", [])]:
            found += [t["expr"] for t in nested.get("targets", []) if t.get("expr")]
    return found
