"""The shared Kubernetes pieces: each written once (rendering/kube.py) and right."""

import pytest

from rendering import kube


def test_dns_egress_allows_udp_and_tcp_53_to_any_address():
    rule = kube.dns_egress()
    assert "to" not in rule
    assert rule["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def test_https_egress_is_tcp_443_to_any_address():
    assert kube.https_egress() == {"ports": [{"protocol": "TCP", "port": 443}]}


def test_disruption_budget_never_blocks_a_drain():
    spec = kube.disruption_budget({"app": "x"})
    assert spec == {"selector": {"matchLabels": {"app": "x"}}, "maxUnavailable": 1,
                    "unhealthyPodEvictionPolicy": "AlwaysAllow"}
    assert "minAvailable" not in spec


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_scrape_annotations_refuse_a_port_that_is_not_tcp(port):
    with pytest.raises(ValueError, match="not a TCP port"):
        kube.scrape_annotations(port)


def test_scrape_annotations_name_port_path_and_scheme():
    assert kube.scrape_annotations(4000, "/m") == {
        "prometheus.io/scrape": "true", "prometheus.io/port": "4000",
        "prometheus.io/path": "/m", "prometheus.io/scheme": "http"}


@pytest.mark.parametrize("port", [1, 65535])
def test_scrape_annotations_accept_every_tcp_port_and_default_to_metrics(port):
    annotations = kube.scrape_annotations(port)
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_service_monitor_keeps_only_named_series_in_its_namespace():
    spec = kube.service_monitor_spec({"a": "b"}, "http", "15s", namespace="ns", keep_regex="vllm:.*")
    assert spec["namespaceSelector"] == {"matchNames": ["ns"]}
    (endpoint,) = spec["endpoints"]
    assert endpoint == {"port": "http", "path": "/metrics", "interval": "15s", "metricRelabelings": [
        {"sourceLabels": ["__name__"], "action": "keep", "regex": "vllm:.*"}]}


def test_service_monitor_without_filters_selects_and_scrapes_only():
    assert kube.service_monitor_spec({"a": "b"}, "http", "30s") == {
        "selector": {"matchLabels": {"a": "b"}},
        "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}]}


def test_http_probe_needs_one_success():
    probe = kube.http_probe("/health", "http", period=10, timeout=5, failures=3)
    assert probe == {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10,
                     "timeoutSeconds": 5, "failureThreshold": 3, "successThreshold": 1}


def test_a_surge_deployment_brings_the_new_pod_up_before_taking_an_old_one_down():
    spec = kube.surge_deployment_spec(2, {"app": "x"}, {"metadata": {}, "spec": {}})
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert spec["replicas"] == 2 and spec["selector"] == {"matchLabels": {"app": "x"}}
    assert spec["revisionHistoryLimit"] == 5      # five old ReplicaSets to roll back to
