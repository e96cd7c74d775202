"""The stack files of one repository can all be deployed: no two stacks on the same cluster
claim a namespace that one of them creates (the second `pulumi up` would fail with
AlreadyExists, and destroying the first would delete the second's objects with the namespace),
and the README's "Adding a stack" steps lead to a stack that passes this."""

import re
import shutil

from planning.config import parse
from planning.stack_files import provider_values, stack_values
from tests.conftest import STACKS, stack_names
from tests.harness import ROOT


def namespace_clashes(root, stacks) -> list[str]:
    """Pairs of stacks sharing a (kubernetes:context, namespace) where one creates it."""
    claims: dict[tuple, list[tuple[str, bool]]] = {}
    for stack in stacks:
        cfg = parse(stack_values(stack, root))
        context = provider_values(stack, root).get("context", "<current context>")
        claims.setdefault((context, cfg.namespace), []).append((stack, cfg.create_namespace))
    return [f"{', '.join(s for s, _ in holders)} share namespace {namespace} on {context}"
            for (context, namespace), holders in claims.items()
            if len(holders) > 1 and any(creates for _, creates in holders)]


def test_no_two_stack_files_claim_a_namespace_one_of_them_creates():
    assert namespace_clashes(ROOT, STACKS) == []


def _copy_of_staging(tmp_path, text_change=lambda text: text):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    for stack in STACKS:
        shutil.copy(ROOT / f"Pulumi.{stack}.yaml", tmp_path)
    text = (ROOT / "Pulumi.staging.yaml").read_text().replace(
        "servedName: deepseek-r1-7b", "servedName: qwen-7b")
    (tmp_path / "Pulumi.staging2.yaml").write_text(text_change(text))


def test_a_copy_of_staging_that_keeps_its_namespace_is_refused(tmp_path):
    _copy_of_staging(tmp_path)
    clashes = namespace_clashes(tmp_path, stack_names_in(tmp_path))
    assert clashes == ["staging, staging2 share namespace llm-staging on staging-gpu"]


def test_the_readmes_adding_a_stack_steps_give_the_copy_its_own_namespace(tmp_path):
    readme = (ROOT / "README.md").read_text()
    steps = readme.split("## Adding a stack", 1)[1].split("\n## ", 1)[0]
    first = steps.split("\n2. ", 1)[0]
    assert "vllm-serving:namespace" in first, first
    _copy_of_staging(tmp_path, lambda text: text.replace(
        "vllm-serving:namespace: llm-staging", "vllm-serving:namespace: llm-staging2"))
    assert namespace_clashes(tmp_path, stack_names_in(tmp_path)) == []
    assert "tests find every `Pulumi.<stack>.yaml`" in re.sub(r"\s+", " ", steps)


def stack_names_in(root) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def test_the_tests_run_every_stack_file_of_the_repository():
    assert list(STACKS) == stack_names_in(ROOT) == list(stack_names())
