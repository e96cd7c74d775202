"""The stack outputs a person needs for a first request exist: the engine's endpoint and, when
the program generated the API key, the key itself as a secret output
(`pulumi stack output apiKey --show-secrets`); the README's example reads only outputs that
exist."""

import re

import pulumi
import pytest

from tests.conftest import STACKS
from tests.harness import FAKE_API_KEY, ROOT, run_stack


def exported(monkeypatch, stack, overrides=None):
    """{name: (value, is secret)} of every stack output of a mock run."""
    values, secret = {}, {}
    real = pulumi.export

    def record(name, value):
        out = pulumi.Output.from_input(value)
        out.apply(lambda v: values.__setitem__(name, v))
        pulumi.Output.from_input(out.is_secret()).apply(lambda s: secret.__setitem__(name, s))
        return real(name, value)

    monkeypatch.setattr(pulumi, "export", record)
    run = run_stack(stack, overrides)
    assert run.error is None, run.error
    return {name: (values.get(name), secret.get(name)) for name in secret}


def test_a_generated_api_key_is_a_secret_stack_output(monkeypatch):
    outputs = exported(monkeypatch, "staging")
    assert outputs["apiKey"] == (FAKE_API_KEY, True)
    assert outputs["endpoint"][0].startswith("http://") and outputs["endpoint"][1] is False


def test_a_key_from_an_existing_secret_is_not_read_into_the_outputs(monkeypatch):
    outputs = exported(monkeypatch, "staging",
                       {"apiKey": {"existingSecret": {"name": "my-key", "key": "token"}}})
    assert "apiKey" not in outputs
    assert outputs["apiKeySecret"] == ("my-key", False)


def test_the_readmes_first_request_reads_only_outputs_every_stack_has(monkeypatch):
    text = (ROOT / "README.md").read_text()
    named = set(re.findall(r"pulumi stack output (\w+)", text))
    assert {"apiKey", "endpoint", "service", "namespace"} <= named, named
    for stack in STACKS:
        overrides = {"apiKey": {"existingSecret": None}}
        outputs = exported(monkeypatch, stack, overrides)
        assert named <= set(outputs), (stack, named - set(outputs))
