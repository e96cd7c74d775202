"""A kubeconfig reaches the provider as a secret, so the state stores it encrypted, and a stack
whose kubeconfig is `secure:` can be planned and rendered.

pulumi-kubernetes does not mark the provider's `kubeconfig` input secret (provider/pkg/gen/
schema.go: the Provider's InputProperties "kubeconfig" has no `Secret: true`), so a plain string
handed to `k8s.Provider` is written to the state in plaintext. Wrapping it changes no diff: the
provider's DiffConfig (provider/pkg/provider/provider.go) unmarshals olds and news without
KeepSecrets, so the same kubeconfig as a secret compares equal and nothing is replaced.
"""

from __future__ import annotations

import pathlib
import shutil

from planning.config import parse
from planning.plan import make_plan
from planning.stack_files import SECRET_TEXT, stack_values
from tests.harness import run_stack
from tools.render import render_run

ROOT = pathlib.Path(__file__).resolve().parents[2]
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")
KUBECONFIG = "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: s3cr3t}}]\n"


def _is_secret(value) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG[0]) == SECRET_SIG[1]


def _stack_with_secure_kubeconfig(tmp_path: pathlib.Path) -> pathlib.Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    (tmp_path / "Pulumi.prod.yaml").write_text((ROOT / "Pulumi.prod.yaml").read_text().replace(
        "kubernetes:context: prod-gpu",
        "kubernetes:kubeconfig:\n    secure: v1:c2FsdA==:Y2lwaGVydGV4dA=="))
    return tmp_path


def test_a_plain_kubeconfig_reaches_the_provider_as_a_secret():
    run = run_stack("prod", {"kubernetes:context": None, "kubernetes:kubeconfig": KUBECONFIG})
    assert run.error is None, run.error
    kubeconfig = run.one("pulumi:providers:kubernetes").inputs["kubeconfig"]
    assert _is_secret(kubeconfig) and kubeconfig["value"] == KUBECONFIG


def test_a_secure_kubeconfig_stack_runs_under_mocks_with_the_kubeconfig_secret(tmp_path):
    run = run_stack("prod", root=_stack_with_secure_kubeconfig(tmp_path))
    assert run.error is None, run.error
    kubeconfig = run.one("pulumi:providers:kubernetes").inputs["kubeconfig"]
    assert _is_secret(kubeconfig) and kubeconfig["value"] == SECRET_TEXT


def test_a_secure_kubeconfig_stack_can_be_planned_and_rendered(tmp_path):
    root = _stack_with_secure_kubeconfig(tmp_path)
    assert make_plan(parse(stack_values("prod", root))) == make_plan(parse(stack_values("prod")))
    files = render_run(run_stack("prod", root=root), "prod")
    assert files and not any(SECRET_TEXT in text for text in files.values())


def test_a_context_is_not_made_secret(runs):
    context = runs["prod"].one("pulumi:providers:kubernetes").inputs["context"]
    assert context == "prod-gpu"
