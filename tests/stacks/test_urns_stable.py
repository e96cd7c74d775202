"""Nothing live is replaced by a change of layout: every stack the program renders keeps each
URN its recorded baseline holds (or carries an alias to it) and changes no replacement trigger.

The baselines (tests/fixtures/urns/<stack>.json) were written by `python -m tools.urn_baseline
--write` at the commit each names. The engine's matching is replayed from pulumi's source
(pkg/resource/deploy/step_generator.go `generateSteps`, `generateAliases`,
`collapseAliasToUrn`, `inheritedChildAlias`); the comparison is pinned below on small programs
run through the same mock runner, whose stack transformation records `aliases=`.
"""

from __future__ import annotations

import json
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pytest

from tools import urn_baseline
from tools.mockrun import run_stack, run_under_mocks

STACKS = urn_baseline.stack_names()


def _recorded_stacks() -> list[str]:
    return sorted(p.stem for p in urn_baseline.FIXTURES.glob("*.json"))


@pytest.mark.parametrize("stack", sorted(set(STACKS) | set(_recorded_stacks())))
def test_every_live_object_keeps_its_urn_and_its_replacement_triggers(stack, runs):
    assert stack in STACKS, (
        f"tests/fixtures/urns/{stack}.json records a stack that has no Pulumi.{stack}.yaml: "
        "delete the baseline with the stack, or restore the stack file")
    run = runs[stack] if stack in runs else run_stack(stack)
    problems = urn_baseline.check(stack, run)
    assert not problems, "\n".join([*problems, urn_baseline.RE_RECORD])


def test_each_baseline_names_the_commit_it_was_recorded_from():
    for stack in STACKS:
        recorded = urn_baseline.load(stack)
        assert len(recorded["commit"]) == 40 and recorded["stack"] == stack


# --- the comparison, on small programs ----------------------------------------------------------

class _Store(pulumi.ComponentResource):
    """A component with one ConfigMap named from it, as the program's components are."""

    def __init__(self, name: str, type_token: str = "demo:index:Store", child: str = "-config",
                 aliases: tuple = (), child_aliases: tuple = (), config_name: str = "app-config",
                 parent: Optional[pulumi.Resource] = None) -> None:
        super().__init__(type_token, name, None,
                         pulumi.ResourceOptions(aliases=list(aliases), parent=parent))
        self.config = k8s.core.v1.ConfigMap(
            f"{name}{child}", metadata={"name": config_name, "namespace": "serving"},
            data={"k": "v"}, opts=pulumi.ResourceOptions(parent=self, aliases=list(child_aliases)))
        self.register_outputs({})


def _records(program) -> dict:
    return urn_baseline.records(run_under_mocks(program, stack="demo"))


@pytest.fixture(scope="module")
def baseline() -> dict:
    """The records of the "deployed" program: a Store `app` with its ConfigMap `app-config`."""
    return _records(lambda: _Store("app"))


OLD_COMPONENT = "urn:pulumi:demo::vllm-serving::demo:index:Store::app"
OLD_CONFIG = ("urn:pulumi:demo::vllm-serving::demo:index:Store$kubernetes:core/v1:ConfigMap"
              "::app-config")


def test_the_baseline_holds_each_resource_under_its_urn_with_its_triggers(baseline):
    assert list(baseline) == [OLD_COMPONENT, OLD_CONFIG]
    # No provider sets enableConfigMapMutable here: the data is a trigger too.
    assert baseline[OLD_CONFIG]["triggers"] == {"metadata.name": "app-config",
                                                "metadata.namespace": "serving", "data.k": "v"}
    assert baseline[OLD_COMPONENT]["triggers"] == {}


def test_the_same_program_keeps_everything(baseline):
    assert urn_baseline.compare(baseline, _records(lambda: _Store("app"))) == []


def test_a_renamed_child_fails_naming_the_urn_it_deletes(baseline):
    problems = urn_baseline.compare(baseline, _records(lambda: _Store("app", child="-settings")))
    assert problems == [f"{OLD_CONFIG} (kubernetes:core/v1:ConfigMap) is gone: no resource has "
                        "this URN or an alias to it, so `pulumi up` deletes the live object"]


def test_a_renamed_child_with_an_alias_to_its_old_name_keeps_it(baseline):
    current = _records(lambda: _Store("app", child="-settings",
                                      child_aliases=(pulumi.Alias(name="app-config"),)))
    assert current["urn:pulumi:demo::vllm-serving::demo:index:Store$kubernetes:core/v1:ConfigMap"
                   "::app-settings"]["aliases"] == [{"name": "app-config"}]
    assert urn_baseline.compare(baseline, current) == []


def test_a_new_component_type_token_fails_for_the_component_and_every_child(baseline):
    problems = urn_baseline.compare(baseline, _records(
        lambda: _Store("app", type_token="demo:index:ModelStore")))
    assert [p.split(" ")[0] for p in problems] == [OLD_COMPONENT, OLD_CONFIG]


def test_an_alias_to_the_old_type_token_keeps_the_component_and_its_children(baseline):
    """The children inherit the parent's alias (step_generator.go `generateAliases`)."""
    current = _records(lambda: _Store("app", type_token="demo:index:ModelStore",
                                      aliases=(pulumi.Alias(type_="demo:index:Store"),)))
    assert urn_baseline.compare(baseline, current) == []


def test_a_renamed_component_keeps_children_named_from_it_through_its_alias(baseline):
    """`inheritedChildAlias`: a child named `{parent}-x` is looked up as `{old parent}-x`."""
    current = _records(lambda: _Store("web", aliases=(pulumi.Alias(name="app"),)))
    assert urn_baseline.compare(baseline, current) == []
    assert urn_baseline.compare(baseline, _records(lambda: _Store("web"))) != []


def test_a_child_moved_to_another_parent_is_kept_by_an_alias_to_the_old_parent(baseline):
    def moved(with_alias: bool):
        def program():
            old = pulumi.ComponentResource("demo:index:Store", "app", None)
            old.register_outputs({})
            new = pulumi.ComponentResource("demo:index:Settings", "app", None)
            k8s.core.v1.ConfigMap("app-config", metadata={"name": "app-config",
                                                          "namespace": "serving"},
                                  data={"k": "v"}, opts=pulumi.ResourceOptions(
                                      parent=new,
                                      aliases=[pulumi.Alias(parent=old)] if with_alias else []))
            new.register_outputs({})
        return _records(program)

    assert urn_baseline.compare(baseline, moved(with_alias=True)) == []
    assert [p.split(" ")[0] for p in urn_baseline.compare(baseline, moved(False))] == [OLD_CONFIG]


def test_an_alias_to_a_parent_that_was_itself_renamed_means_the_parents_old_urn(baseline):
    """`collapseAliasToUrn`: an alias's parent that matched through its own alias stands for
    its old URN."""
    def program():
        store = pulumi.ComponentResource("demo:index:ModelStore", "app", None,
                                         pulumi.ResourceOptions(
                                             aliases=[pulumi.Alias(type_="demo:index:Store")]))
        store.register_outputs({})
        settings = pulumi.ComponentResource("demo:index:Settings", "app", None)
        k8s.core.v1.ConfigMap("app-config", metadata={"name": "app-config", "namespace": "serving"},
                              data={"k": "v"}, opts=pulumi.ResourceOptions(
                                  parent=settings, aliases=[pulumi.Alias(parent=store)]))
        settings.register_outputs({})

    assert urn_baseline.compare(baseline, _records(program)) == []


def test_a_top_level_resource_moved_under_a_component_is_kept_by_a_no_parent_alias():
    def top_level():
        k8s.core.v1.ConfigMap("app-config", metadata={"name": "app-config", "namespace": "serving"},
                              data={"k": "v"})

    before = _records(top_level)
    current = _records(lambda: _Store("app", child_aliases=(
        pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE),)))
    assert urn_baseline.compare(before, current) == []


def test_a_changed_replacement_trigger_fails_naming_the_path(baseline):
    problems = urn_baseline.compare(baseline, _records(
        lambda: _Store("app", config_name="app-config-v2")))
    assert problems == [f"{OLD_CONFIG}: replacement trigger metadata.name changes from "
                        "'app-config' to 'app-config-v2', so the live object is replaced"]


def test_a_trigger_the_new_program_ignores_does_not_replace(baseline):
    """The engine keeps the old input at every ignoreChanges path before diffing."""
    def program():
        store = pulumi.ComponentResource("demo:index:Store", "app", None)
        k8s.core.v1.ConfigMap("app-config", metadata={"name": "app-config", "namespace": "serving"},
                              data={"k": "changed"}, opts=pulumi.ResourceOptions(
                                  parent=store, ignore_changes=["data"]))

    assert urn_baseline.compare(baseline, _records(program)) == []


def test_a_new_replace_on_changes_path_the_baseline_did_not_record_fails(baseline):
    def program():
        store = pulumi.ComponentResource("demo:index:Store", "app", None)
        k8s.core.v1.ConfigMap("app-config", metadata={"name": "app-config", "namespace": "serving",
                                                      "labels": {"a": "b"}},
                              data={"k": "v"}, opts=pulumi.ResourceOptions(
                                  parent=store, replace_on_changes=["metadata.labels"]))

    problems = urn_baseline.compare(baseline, _records(program))
    assert problems == [f"{OLD_CONFIG}: replacement trigger(s) ['metadata.labels'] are not in the "
                        "baseline, so their old values are unknown"]


def test_no_secret_reaches_the_baseline_only_its_digest():
    def program():
        k8s.core.v1.Secret("key", metadata={"name": "key"},
                           string_data={"api-key": pulumi.Output.secret("hunter2")})

    recorded = json.dumps(_records(program))
    assert "hunter2" not in recorded
    assert '"stringData.api-key": "secret:sha256:' in recorded


def test_a_changed_random_input_fails_since_every_input_makes_a_new_value():
    def password(length: float):
        return lambda: random.RandomPassword("app-key", length=length, special=False)

    problems = urn_baseline.compare(_records(password(48)), _records(password(64)))
    assert problems and "replacement trigger length changes from 48.0 to 64.0" in problems[0]


def test_a_new_resource_is_allowed(baseline):
    def with_extra():
        store = _Store("app")
        k8s.core.v1.ConfigMap("app-extra", data={"k": "v"},
                              opts=pulumi.ResourceOptions(parent=store))

    assert urn_baseline.compare(baseline, _records(with_extra)) == []


def test_two_resources_claiming_one_old_urn_fail(baseline):
    def twice():
        store = _Store("app", child="-a", child_aliases=(pulumi.Alias(name="app-config"),))
        k8s.core.v1.ConfigMap("app-b", metadata={"name": "app-config", "namespace": "serving"},
                              opts=pulumi.ResourceOptions(
                                  parent=store, aliases=[pulumi.Alias(name="app-config")]))

    problems = urn_baseline.compare(baseline, _records(twice))
    assert any(f"both claim {OLD_CONFIG}" in p for p in problems)


def test_the_inherited_child_alias_follows_pulumis_own_example():
    """step_generator.go `inheritedChildAlias` comment: child `newapp-function` of `newapp`,
    whose alias is `awsx:ec2:Vpc::app`, is looked up as `app-function` under that parent."""
    assert urn_baseline._inherited(
        "stackname", "aws:s3/bucket:Bucket", "newapp-function", "newapp",
        "urn:pulumi:stackname::projectname::awsx:ec2:Vpc::app") == (
        "urn:pulumi:stackname::vllm-serving::awsx:ec2:Vpc$aws:s3/bucket:Bucket::app-function")
