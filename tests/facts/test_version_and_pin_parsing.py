"""Versions, pins and selectors are read by the ecosystem's own parsers, not by hand-split
strings: PEP 440 order (packaging.version), PEP 508 requirements (packaging.requirements), and
Kubernetes' selector semantics."""

import pytest

import facts
from facts import vllm_features
from planning.config import ImageConfig
from policy import k8s


def test_a_release_candidate_comes_before_its_release():
    assert facts.parse_version("0.18.0rc0") < facts.parse_version("0.18.0")
    assert not vllm_features.drains_on_sigterm(facts.parse_version("0.18.0rc0"))
    assert vllm_features.drains_on_sigterm(facts.parse_version("v0.18.0"))
    assert facts.parse_version("0.18.0.post1") > facts.parse_version("0.18.0")
    assert facts.parse_version("0.10.0") > facts.parse_version("0.9.2")


def test_text_that_is_no_version_is_refused_rather_than_read_as_zero():
    with pytest.raises(ValueError, match="x.y.z"):
        facts.parse_version("latest")


@pytest.mark.parametrize("package", ["ray==latest", "ray==", "ray", "ray>=2.40", "ray==2.*",
                                     "ray[cgraph]===whatever", "ray @ https://x/ray.whl",
                                     "ray==2.40.0; python_version<'3'"])
def test_an_extra_package_that_is_not_pinned_to_one_release_is_refused(package):
    with pytest.raises(ValueError, match="pin"):
        ImageConfig(extra_pip_packages=[package])


@pytest.mark.parametrize("package", ["ray==2.40.0", "ray[cgraph]==2.40.0", "flashinfer-python==0.2.5",
                                     "torch==2.5.1+cu124", "Some_Pkg.x==1.0rc1"])
def test_an_exact_pin_passes(package):
    assert ImageConfig(extra_pip_packages=[package]).extra_pip_packages == [package]


@pytest.mark.parametrize("operator", ["Equals", "in", "Gt", ""])
def test_a_selector_with_an_operator_kubernetes_does_not_know_selects_nothing(operator):
    # apimachinery LabelSelectorAsSelector returns an error for any other operator, so such a
    # selector can never select a pod (the API server refuses the object).
    selector = {"matchExpressions": [{"key": "app", "operator": operator, "values": ["x"]}]}
    assert k8s.label_selector_matches(selector, {"app": "x"}) is False


@pytest.mark.parametrize("expression, selects", [
    ({"key": "app", "operator": "In", "values": ["x"]}, True),
    ({"key": "app", "operator": "In", "values": []}, False),
    ({"key": "app", "operator": "NotIn", "values": ["y"]}, True),
    ({"key": "app", "operator": "Exists"}, True),
    ({"key": "app", "operator": "Exists", "values": ["x"]}, False),
    ({"key": "gone", "operator": "DoesNotExist"}, True)])
def test_known_operators_keep_kubernetes_semantics(expression, selects):
    assert k8s.label_selector_matches({"matchExpressions": [expression]}, {"app": "x"}) is selects
