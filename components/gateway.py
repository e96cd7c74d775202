"""TrafficEdge: the HTTPRoute to the router, and optionally the Gateway, its certificate and
Envoy Gateway's policies."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from planning.traffic import ROUTER_PORT, GatewayConfig, TrafficPlan
from rendering import gateway as render


@dataclasses.dataclass
class TrafficEdgeArgs:
    """Inputs of TrafficEdge."""

    release: str
    namespace: pulumi.Input[str]
    gateway: GatewayConfig
    plan: TrafficPlan
    router_service: pulumi.Input[str]
    router_port: int
    labels: dict[str, str]


def edge_args(gateway: GatewayConfig, traffic: TrafficPlan, release: str,
              namespace: pulumi.Input[str], router_service: pulumi.Input[str],
              labels: dict[str, str]) -> TrafficEdgeArgs:
    """The edge in front of the router's Service, labelled like the router."""
    return TrafficEdgeArgs(release=release, namespace=namespace, gateway=gateway, plan=traffic,
                           router_service=router_service, router_port=ROUTER_PORT,
                           labels=labels)


class TrafficEdge(pulumi.ComponentResource):
    """Gateway, its Certificate and an http→https redirect route (when `gateway.create`),
    the HTTPRoute, and with Envoy Gateway a BackendTrafficPolicy on the route (plus a
    ClientTrafficPolicy on a Gateway it owns). Each object carries `pulumi.com/waitFor`
    (rendering/gateway.py `wait_for`), so `pulumi up` fails when TLS never issues."""

    route_name: pulumi.Output[str]
    hostnames: pulumi.Output[list]

    def __init__(self, name: str, args: TrafficEdgeArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("vllm-serving:index:TrafficEdge", name, None, opts)
        gateway, plan = args.gateway, args.plan
        child = pulumi.ResourceOptions(parent=self)
        base = f"{args.release}-edge"
        annotations = render.derived_annotations(plan)

        def metadata(object_name: str, kind: str, limits: bool = True) -> dict:
            """`limits`: the object forwards requests, so it states the figures the policy
            pack checks it against (the redirect forwards none)."""
            return {"name": object_name, "namespace": args.namespace, "labels": args.labels,
                    "annotations": {**(annotations if limits else {}),
                                    **render.wait_for(kind)}}

        own_gateway = base
        depends = (self._own_gateway(name, args, base, metadata) if gateway.create else [])
        route = k8s.apiextensions.CustomResource(
            f"{name}-route", api_version=render.GATEWAY_API, kind="HTTPRoute",
            metadata=metadata(base, "HTTPRoute"),
            spec=render.http_route_spec(gateway, plan, own_gateway, args.router_service,
                                        args.router_port),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends))
        if gateway.envoy_gateway:
            k8s.apiextensions.CustomResource(
                f"{name}-backend-policy", api_version=render.ENVOY_GATEWAY_API,
                kind="BackendTrafficPolicy", metadata=metadata(base, "BackendTrafficPolicy"),
                spec=render.backend_traffic_policy_spec(gateway, plan, base), opts=child)

        self.route_name = route.metadata["name"]
        self.hostnames = pulumi.Output.from_input(list(gateway.hostnames))
        self.register_outputs({"route_name": self.route_name, "hostnames": self.hostnames})

    def _own_gateway(self, name: str, args: TrafficEdgeArgs, base: str,
                     metadata) -> list[pulumi.Resource]:
        """The Gateway first (its HTTP listener answers the HTTP-01 challenge, and it is
        Programmed — an address and ready proxies — before its certificate exists), then the
        Certificate, the http→https redirect and the ClientTrafficPolicy. Returns what the API
        route waits for."""
        gateway, child = args.gateway, pulumi.ResourceOptions(parent=self)
        tls_secret = gateway.tls.existing_secret or f"{base}-tls"
        gw = k8s.apiextensions.CustomResource(
            f"{name}-gateway", api_version=render.GATEWAY_API, kind="Gateway",
            metadata=metadata(base, "Gateway"),
            spec=render.gateway_spec(gateway, tls_secret), opts=child)
        depends: list[pulumi.Resource] = [gw]
        after_gateway = pulumi.ResourceOptions(parent=self, depends_on=[gw])
        if gateway.tls.issuer:
            depends.append(k8s.apiextensions.CustomResource(
                f"{name}-certificate", api_version=render.CERT_MANAGER_API,
                kind="Certificate", metadata=metadata(f"{base}-tls", "Certificate"),
                spec=render.certificate_spec(gateway, tls_secret), opts=after_gateway))
        k8s.apiextensions.CustomResource(
            f"{name}-redirect", api_version=render.GATEWAY_API, kind="HTTPRoute",
            metadata=metadata(f"{base}-redirect", "HTTPRoute", limits=False),
            spec=render.redirect_route_spec(gateway, base), opts=after_gateway)
        if gateway.envoy_gateway:
            k8s.apiextensions.CustomResource(
                f"{name}-client-policy", api_version=render.ENVOY_GATEWAY_API,
                kind="ClientTrafficPolicy", metadata=metadata(base, "ClientTrafficPolicy"),
                spec=render.client_traffic_policy_spec(args.plan, base), opts=child)
        return depends
