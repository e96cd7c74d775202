"""TrafficEdge: the HTTPRoute to the router, and optionally the Gateway, its certificate and
Envoy Gateway's policies (rendering/gateway.py renders them; wiring/traffic.py builds the args)."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from rendering.gateway import EdgeObject


@dataclasses.dataclass
class TrafficEdgeArgs:
    """Inputs of TrafficEdge, rendered: each object keyed by its Pulumi name's suffix."""

    own_gateway: dict[str, EdgeObject]
    """The Gateway the program creates and what hangs on it; empty on a cluster's Gateway."""
    routes: dict[str, EdgeObject]
    """The API route and its policy."""
    hostnames: list[str]


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
        depends = self._own_gateway(name, args.own_gateway)
        route = self._create(name, "route", args.routes["route"], depends)
        if "backend-policy" in args.routes:
            self._create(name, "backend-policy", args.routes["backend-policy"])

        self.route_name = route.metadata["name"]
        self.hostnames = pulumi.Output.from_input(list(args.hostnames))
        self.register_outputs({"route_name": self.route_name, "hostnames": self.hostnames})

    def _create(self, name: str, suffix: str, obj: EdgeObject,
                depends_on: Optional[list[pulumi.Resource]] = None):
        return k8s.apiextensions.CustomResource(
            f"{name}-{suffix}", api_version=obj.api_version, kind=obj.kind,
            metadata=obj.metadata, spec=obj.spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on))

    def _own_gateway(self, name: str, objects: dict[str, EdgeObject]) -> list[pulumi.Resource]:
        """The Gateway first (its HTTP listener answers the HTTP-01 challenge, and it is
        Programmed — an address and ready proxies — before its certificate exists), then the
        Certificate, the http→https redirect and the ClientTrafficPolicy. Returns what the API
        route waits for."""
        if not objects:
            return []
        gateway = self._create(name, "gateway", objects["gateway"])
        depends: list[pulumi.Resource] = [gateway]
        if "certificate" in objects:
            depends.append(self._create(name, "certificate", objects["certificate"], [gateway]))
        self._create(name, "redirect", objects["redirect"], [gateway])
        if "client-policy" in objects:
            self._create(name, "client-policy", objects["client-policy"])
        return depends
