"""The stack loader resolves config exactly as the Pulumi CLI does before the program runs.

The first table is pulumi/pulumi's own config tests (pkg/workspace/config_project_test.go,
pkg/workspace/config_test.go, sdk/go/common/workspace/project_test.go at 1b59498), each case
named after its test, with the same project and stack files and the same expected values or
error text. The rest pins the rules this project depends on: objects, numbers written as text,
yaml.v3's booleans, `secure:` values, namespaces and ESC environments.
"""

from __future__ import annotations

import pathlib
import shutil
import textwrap

import pytest

from planning import pulumi_cli
from planning.config import ConfigError
from planning.stack_files import SECRET_TEXT, provider_values, resolve, stack_values

ROOT = pathlib.Path(__file__).resolve().parents[2]
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))

TEST_PROJECT = "name: test\nruntime: dotnet\n"


def _cli(project: str, stack: str, name: str = "dev") -> dict[str, str]:
    values = pulumi_cli.resolve_config(
        name, pulumi_cli.load_yaml(textwrap.dedent(project)) or {},
        pulumi_cli.load_yaml(textwrap.dedent(stack)) or {})
    return {key: value.text for key, value in values.items()}


# (pulumi test name, Pulumi.yaml config block, stack file, expected texts or error text)
PULUMI_CASES = [
    ("TestStackConfigIsInheritedFromProjectConfig",
     "config:\n  instanceSize: t3.micro\n  instanceCount: 20\n  protect: true",
     "config:\n  test:instanceSize: t4.large",
     {"test:instanceSize": "t4.large", "test:instanceCount": "20", "test:protect": "true"}),
    ("TestNamespacedConfigValuesAreInheritedCorrectly",
     'config:\n  aws:region: us-west-1\n  pulumi:disable-default-providers: ["*"]\n'
     "  instanceSize: t3.micro",
     "config:\n  test:instanceSize: t4.large",
     {"test:instanceSize": "t4.large", "aws:region": "us-west-1",
      "pulumi:disable-default-providers": '["*"]'}),
    ("TestLoadingStackConfigWithoutNamespacingTheProject",
     "config:\n  aws:region: us-west-1\n  instanceSize: t3.micro",
     "config:\n  instanceSize: t4.large",
     {"test:instanceSize": "t4.large", "aws:region": "us-west-1"}),
    ("TestUntypedProjectConfigValuesAreNotValidated",
     "config:\n  instanceSize: t3.micro\n  aws:region: us-west-1",
     "config:\n  instanceSize: 9999\n  aws:region: 42",
     {"test:instanceSize": "9999", "aws:region": "42"}),
    ("TestUntypedProjectConfigValuesWithOnlyDefaultOrOnlyValue",
     "config:\n  instanceSize:\n    default: t3.micro\n  region:\n    value: us-west-1",
     "config:\n  aws:answer: 42",
     {"test:instanceSize": "t3.micro", "test:region": "us-west-1", "aws:answer": "42"}),
    ("TestUntypedStackConfigValuesDoNeedProjectDeclaration",
     "config:\n  createVpc: true", "config:\n  instanceSize: 42",
     {"test:instanceSize": "42", "test:createVpc": "true"}),
    ("TestUntypedProjectConfigObjectValuesPassedDownToStack",
     "config:\n  instanceSize:\n    value:\n      hello: world\n  aws:config:\n    value:\n"
     "      region: us-west-1",
     "config:\n  aws:whatever: 42",
     {"test:instanceSize": '{"hello":"world"}', "aws:config": '{"region":"us-west-1"}',
      "aws:whatever": "42"}),
    ("TestStackConfigErrorsWhenStackValueIsNotCorrectlyTyped",
     "config:\n  values:\n    type: array\n    items:\n      type: string\n    default: [value]",
     "config:\n  test:values: someValue",
     "Stack 'dev' with configuration key 'values' must be of type 'array<string>'"),
    ("TestStackConfigIntegerTypeIsCorrectlyValidated (valid)",
     "config:\n  importantNumber:\n    type: integer", "config:\n  test:importantNumber: 20",
     {"test:importantNumber": "20"}),
    ("TestStackConfigIntegerTypeIsCorrectlyValidated (invalid)",
     "config:\n  importantNumber:\n    type: integer", "config:\n  test:importantNumber: hello",
     "Stack 'dev' with configuration key 'importantNumber' must be of type 'integer'"),
    ("TestStackConfigErrorsWhenMissingStackValueForConfigTypeWithNoDefault",
     "config:\n  values:\n    type: array\n    items:\n      type: string", "",
     "Stack 'dev' is missing configuration value 'values'"),
    ("TestStackConfigErrorsWhenMissingTwoStackValueForConfigTypeWithNoDefault",
     "config:\n  another:\n    type: string\n  values:\n    type: array\n    items:\n"
     "      type: string", "",
     "Stack 'dev' is missing configuration values 'another' and 'values'"),
    ("TestStackConfigErrorsWhenMissingMultipleStackValueForConfigTypeWithNoDefault",
     "config:\n  hello:\n    type: integer\n  values:\n    type: array\n    items:\n"
     "      type: string\n  world:\n    type: string", "",
     "Stack 'dev' is missing configuration values 'hello', 'values' and 'world'"),
    ("TestStackConfigDoesNotErrorWhenProjectHasNotDefinedConfig",
     "", "config:\n  hello: 21\n  world: 42\n  another: 42",
     {"test:hello": "21", "test:world": "42", "test:another": "42"}),
    ("TestStackConfigSecretIsCorrectlyValidated (valid)",
     "config:\n  importantNumber:\n    type: integer\n    secret: true",
     "config:\n  test:importantNumber:\n    secure: MjA=",
     {"test:importantNumber": SECRET_TEXT}),
    ("TestStackConfigSecretIsCorrectlyValidated (invalid)",
     "config:\n  importantNumber:\n    type: integer\n    secret: true",
     "config:\n  test:importantNumber: 20",
     "Stack 'dev' with configuration key 'importantNumber' must be encrypted as it's secret"),
    ("TestStackConfigUInt64", "", "config:\n  test:instanceSize: 18446744073709551615",
     {"test:instanceSize": "18446744073709551615"}),
    ("TestProjectValidationSucceedsForObjectConfigType",
     "config:\n  example:\n    type: object\n    default: {hello: world}", "",
     {"test:example": '{"hello":"world"}'}),
    ("TestProjectValidationFailsForIncorrectDefaultValueType (integer)",
     "config:\n  instanceSize:\n    type: integer\n    default: hello", "",
     "The default value specified for configuration key 'instanceSize' is not of the expected "
     "type 'integer'"),
    ("TestProjectValidationFailsForIncorrectDefaultValueType (array)",
     "config:\n  values:\n    type: array\n    items:\n      type: array\n      items:\n"
     "        type: string\n    default: [hello]", "",
     "The default value specified for configuration key 'values' is not of the expected type "
     "'array<array<string>>'"),
    ("TestProjectValidationSucceedsForCorrectDefaultValueType",
     "config:\n  instanceSize:\n    type: integer\n    default: 1\n  values:\n    type: array\n"
     "    items:\n      type: array\n      items:\n        type: string\n    default: [[hello]]",
     "", {"test:instanceSize": "1", "test:values": '[["hello"]]'}),
    ("TestNamespacedProjectConfigShouldNotBeExplicitlyTyped",
     "config:\n  aws:region:\n    type: string\n    value:\n      region: us-west-1", "",
     "Configuration key 'aws:region' is not namespaced by the project and should not define a "
     "type"),
    ("TestProjectConfigCannotHaveBothValueAndDefault",
     "config:\n  instanceSize:\n    type: string\n    default: t3.micro\n    value: t4.large", "",
     "project config 'instanceSize' cannot have both a 'default' and 'value' attribute"),
    ("TestProjectConfigCannotBeTypedArrayWithoutItems",
     "config:\n  instanceSize:\n    type: array\n    default: [t3.micro, t4.large]", "",
     "The configuration key 'instanceSize' declares an array but does not specify the "
     "underlying type via the 'items' attribute"),
    ("TestNamespacedProjectConfigShouldNotBeProvideDefault",
     "config:\n  aws:region:\n    default: us-west-1", "",
     "Configuration key 'aws:region' is not namespaced by the project and should not define a "
     "default value. Did you mean to use the 'value' attribute instead of 'default'?"),
]


@pytest.mark.parametrize("project, stack, expected", [case[1:] for case in PULUMI_CASES],
                         ids=[case[0] for case in PULUMI_CASES])
def test_the_loader_agrees_with_pulumis_own_config_tests(project, stack, expected):
    if isinstance(expected, dict):
        assert _cli(TEST_PROJECT + project, stack) == expected
    else:
        with pytest.raises(pulumi_cli.CliError) as error:
            _cli(TEST_PROJECT + project, stack)
        assert expected in str(error.value)


def test_a_type_the_cli_does_not_know_refuses_every_value():
    # pkg/workspace/config_test.go TestValidateStackConfigValues "Type Mismatch".
    declared = {"typeKey": pulumi_cli.Declaration(type="number")}
    value = pulumi_cli.stack_value("not-a-number", SECRET_TEXT)
    with pytest.raises(pulumi_cli.CliError, match="must be of type"):
        pulumi_cli.merge("stackX", "proj", declared, {"proj:typeKey": value}, SECRET_TEXT)


# --- the rules this project's declarations meet -----------------------------------------------

OBJECT_AND_NUMBERS = TEST_PROJECT + """config:
  model: {type: object, default: {}}
  replicas: {type: integer, default: 1}
  createNamespace: {type: boolean, default: true}
  namespace: {type: string, default: llm-serving}
"""

CLI_RULES = [
    ("an object key takes a map", "config:\n  test:model: {maxModelLen: 8192}",
     {"test:model": '{"maxModelLen":8192}'}),
    ("an object key with its default {} is not required", "", {"test:model": "{}"}),
    ("numbers written as text are accepted where integers are declared",
     'config:\n  test:replicas: "2"', {"test:replicas": "2"}),
    ("a whole float is an integer (yaml.v3 reads 2.0 as a float, JSON writes it 2)",
     "config:\n  test:replicas: 2.0", {"test:replicas": "2"}),
    ("inside an object too, Go's JSON writes a whole float as an integer",
     "config:\n  test:model: {maxModelLen: 8192.0, ratio: 0.5, big: 1e21}",
     {"test:model": '{"big":1e+21,"maxModelLen":8192,"ratio":0.5}'}),
    ("text inside an object stays text (`pulumi config set --path` writes 0.9 as text)",
     'config:\n  test:model: {gpuMemoryUtilization: "0.9"}',
     {"test:model": '{"gpuMemoryUtilization":"0.9"}'}),
    ("a boolean is refused where an integer is declared", "config:\n  test:replicas: true",
     "Stack 'dev' with configuration key 'replicas' must be of type 'integer'"),
    ("a fraction is refused where an integer is declared", "config:\n  test:replicas: 2.5",
     "Stack 'dev' with configuration key 'replicas' must be of type 'integer'"),
    ("yes is text to yaml.v3, so not a boolean", "config:\n  test:createNamespace: yes",
     "Stack 'dev' with configuration key 'createNamespace' must be of type 'boolean'"),
    ("text is refused where an object is declared", "config:\n  test:model: deepseek",
     "Stack 'dev' with configuration key 'model' must be of type 'object'"),
    ("a secure value is never an object (its plaintext is text)",
     "config:\n  test:model:\n    secure: AAAA",
     "Stack 'dev' with configuration key 'model' must be of type 'object'"),
    ("a secure leaf inside an object passes through",
     "config:\n  test:model:\n    hfToken: {secure: AAAA}",
     {"test:model": '{"hfToken":"<secret>"}'}),
    ("a string key takes any scalar as text", "config:\n  test:namespace: 2024",
     {"test:namespace": "2024"}),
    ("a null value is the empty string", "config:\n  test:namespace:",
     {"test:namespace": ""}),
    ("the old ns:config:key spelling is the same key", "config:\n  test:config:replicas: 3",
     {"test:replicas": "3"}),
]


@pytest.mark.parametrize("stack, expected", [case[1:] for case in CLI_RULES],
                         ids=[case[0] for case in CLI_RULES])
def test_object_number_and_boolean_declarations_follow_the_cli(stack, expected):
    defaults = {"test:model": "{}", "test:replicas": "1", "test:createNamespace": "true",
                "test:namespace": "llm-serving"}
    if isinstance(expected, dict):
        assert _cli(OBJECT_AND_NUMBERS, stack) == {**defaults, **expected}
    else:
        with pytest.raises(pulumi_cli.CliError) as error:
            _cli(OBJECT_AND_NUMBERS, stack)
        assert expected in str(error.value)


def test_a_key_of_three_parts_that_is_not_ns_config_key_is_refused():
    with pytest.raises(pulumi_cli.CliError, match="could not parse a:b:c as a configuration key"):
        _cli(TEST_PROJECT, "config:\n  a:b:c: 1")


# --- the real files -------------------------------------------------------------------------

def _copy_project(tmp_path: pathlib.Path, stack: str = "prod", text: str | None = None):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(
        text if text is not None else (ROOT / f"Pulumi.{stack}.yaml").read_text())
    return tmp_path


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_the_clis_config_rules(stack):
    resolved = resolve(stack)
    assert f"vllm-serving:vllmVersion" in resolved.config


def test_every_object_key_pulumi_yaml_declares_has_a_default_unless_every_stack_must_set_it():
    project = pulumi_cli.load_yaml((ROOT / "Pulumi.yaml").read_text())
    required = sorted(key for key, declared in pulumi_cli.declarations(project).items()
                      if declared.default is None and declared.value is None)
    assert required == ["gpu", "model", "storage", "vllmVersion"]


def test_a_stack_missing_a_required_key_is_refused_with_the_clis_words(tmp_path):
    text = (ROOT / "Pulumi.staging.yaml").read_text()
    kept = "\n".join(line for line in text.splitlines() if "vllmVersion" not in line)
    _copy_project(tmp_path, "staging", kept)
    with pytest.raises(ConfigError) as error:
        stack_values("staging", tmp_path)
    assert "Stack 'staging' is missing configuration value 'vllmVersion'" in str(error.value)


def test_a_boolean_for_a_declared_integer_is_refused_before_the_program(tmp_path):
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace(
        "vllm-serving:replicas: 2", "vllm-serving:replicas: true")
    with pytest.raises(ConfigError, match="key 'replicas' must be of type 'integer'"):
        stack_values("prod", _copy_project(tmp_path, text=text))


def test_a_number_written_as_text_reaches_the_program_as_a_number(tmp_path):
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace(
        "vllm-serving:replicas: 2", 'vllm-serving:replicas: "2"').replace(
        "maxModelLen: 32768", 'maxModelLen: "32768"')
    values = stack_values("prod", _copy_project(tmp_path, text=text))
    assert values["replicas"] == 2 and values["model"]["maxModelLen"] == "32768"


def test_a_secret_kubeconfig_passes_through_as_a_secret(tmp_path):
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace(
        "kubernetes:context: prod-gpu", "kubernetes:kubeconfig:\n    secure: AAABAGNpcGhlcnRleHQ=")
    resolved = resolve("prod", _copy_project(tmp_path, text=text))
    assert resolved.provider() == {"kubeconfig": SECRET_TEXT}
    assert resolved.secret_keys == ("kubernetes:kubeconfig",)
    assert stack_values("prod", tmp_path) == stack_values("prod")


def test_a_secure_project_number_is_refused_because_the_plan_needs_it(tmp_path):
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace(
        "vllm-serving:replicas: 2", "vllm-serving:replicas:\n    secure: AAAA")
    with pytest.raises(ConfigError, match="vllm-serving:replicas: a secure value"):
        stack_values("prod", _copy_project(tmp_path, text=text))


def test_an_esc_environment_is_refused_with_what_to_do(tmp_path):
    text = "environment:\n  - acme/llm/prod\n" + (ROOT / "Pulumi.prod.yaml").read_text()
    with pytest.raises(ConfigError) as error:
        stack_values("prod", _copy_project(tmp_path, text=text))
    message = str(error.value)
    assert "acme/llm/prod" in message and "pulumi preview --stack prod" in message


def test_a_key_given_with_and_without_the_namespace_is_refused(tmp_path):
    text = (ROOT / "Pulumi.prod.yaml").read_text() + "  replicas: 3\n"
    with pytest.raises(ConfigError, match="replicas: the same key as vllm-serving:replicas"):
        stack_values("prod", _copy_project(tmp_path, text=text))


def test_a_kubernetes_key_the_explicit_provider_never_reads_is_refused(tmp_path):
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace(
        "kubernetes:context: prod-gpu", "kubernetes:context: prod-gpu\n  kubernetes:namespace: x")
    with pytest.raises(ConfigError, match="kubernetes:namespace: not a setting of this program"):
        provider_values("prod", _copy_project(tmp_path, text=text))


# --- Pulumi.yaml is generated from the models ------------------------------------------------

def test_pulumi_yaml_declares_the_config_models_keys_as_generated():
    from tools import pulumi_yaml
    current = (ROOT / "Pulumi.yaml").read_text()
    assert pulumi_yaml.render(current) == current, "run `python -m tools.pulumi_yaml`"
    assert pulumi_yaml.main(["--check"]) == 0


def test_the_generated_declarations_are_ones_the_cli_accepts():
    from tools import pulumi_yaml
    declared = pulumi_cli.declarations(
        pulumi_cli.load_yaml(pulumi_yaml.render((ROOT / "Pulumi.yaml").read_text())))
    assert set(declared) == {f.alias or n for n, f in
                             __import__("planning.config").config.StackConfig.model_fields.items()}


def test_a_model_key_whose_default_is_none_is_left_undeclared_so_no_stack_must_set_it(
        monkeypatch):
    from typing import Optional

    import pydantic

    from tools import pulumi_yaml

    class WithOptional(pydantic.BaseModel):
        name: Optional[str] = None
        size: int = pydantic.Field(default=1, description="How big")

    monkeypatch.setattr(pulumi_yaml, "StackConfig", WithOptional)
    text = pulumi_yaml.render("name: test\nruntime: python\nconfig: {}\n")
    assert pulumi_cli.resolve_config("dev", pulumi_cli.load_yaml(text), {}) == {
        "test:size": pulumi_cli.Value("1", False, False, "1")}
    assert "Not declared (optional, no default the CLI can hold): name." in text


# --- README.md's config reference is generated from the models ------------------------------

def test_readme_config_reference_is_the_one_the_models_generate():
    from tools import config_reference
    current = (ROOT / "README.md").read_text()
    assert config_reference.render(current) == current, "run `python -m tools.config_reference`"
    assert config_reference.main(["--check"]) == 0


def test_readme_config_reference_check_fails_when_the_table_drifts(tmp_path, monkeypatch):
    from tools import config_reference
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text().replace(
        "| `replicas` | `1` |", "| `replicas` | `2` |"))
    monkeypatch.setattr(config_reference, "PATH", readme)
    assert config_reference.main(["--check"]) == 1


def test_readme_config_reference_rows_come_from_keys_defaults_and_descriptions(monkeypatch):
    from typing import Optional

    import pydantic

    from tools import config_reference

    class Ref(pydantic.BaseModel):
        name: str = pydantic.Field(description="Secret name")
        key: str = pydantic.Field(description="Key in it")

    class Inner(pydantic.BaseModel):
        size: int = pydantic.Field(default=1, description="How big")

    class Stack(pydantic.BaseModel):
        inner: Inner = pydantic.Field(default_factory=Inner)
        refs: list[Ref] = pydantic.Field(default_factory=list)
        token: Optional[Ref] = pydantic.Field(default=None, description="A token")

    monkeypatch.setattr(config_reference, "StackConfig", Stack)
    assert list(config_reference.rows()) == [
        ("inner.size", "`1`", "How big."),
        ("refs[].name", "required", "Secret name."),
        ("refs[].key", "required", "Key in it."),
        ("token", "—", "A token. Keys: name, key.")]

    class Undescribed(pydantic.BaseModel):
        size: int = 1

    monkeypatch.setattr(config_reference, "StackConfig", Undescribed)
    with pytest.raises(ValueError, match="size: no description"):
        list(config_reference.rows())


@pytest.mark.parametrize("stack", STACKS)
def test_the_program_reads_from_the_clis_texts_what_the_loader_reads(stack, monkeypatch):
    from pulumi.runtime import config as runtime_config

    from planning.config import from_pulumi_config, parse
    resolved = resolve(stack)
    monkeypatch.setattr(runtime_config, "get_config_env", lambda: dict(resolved.config))
    monkeypatch.setattr(runtime_config, "CONFIG", type("Empty", (), {"get": lambda self: {}})())
    assert from_pulumi_config() == parse(resolved.values())


def test_the_readme_states_the_cli_floor_that_object_config_needs():
    assert f"Pulumi CLI](https://www.pulumi.com/docs/install/) {pulumi_cli.OBJECT_TYPE_SINCE}" \
        in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("text, message", [
    ("config:\n  vllm-serving:replicas: [1\n", "Pulumi.prod.yaml: not valid YAML"),
    ("- just a list\n", "Pulumi.prod.yaml: expected a mapping at the top, found list"),
    ("config: 5\n", "could not unmarshal map: config is a int"),
])
def test_a_malformed_stack_file_is_refused_with_a_message_not_a_traceback(tmp_path, text,
                                                                          message):
    with pytest.raises(ConfigError, match=message):
        stack_values("prod", _copy_project(tmp_path, text=text))


def test_numbers_written_as_text_give_the_same_config_as_numbers(tmp_path):
    # `pulumi config set --path engine.gpuMemoryUtilization 0.9` stores the text "0.9" (object.go
    # `coerce` turns only base-10 integers and true/false into values); `--type string` stores
    # any number as text. The program must read them as the numbers they are.
    from planning.config import parse
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace(
        "maxModelLen: 32768", 'maxModelLen: "32768"\n  vllm-serving:engine:\n'
        '    gpuMemoryUtilization: "0.9"').replace(
        "readMibPerSecond: 400", 'readMibPerSecond: "400"')
    numbers = (ROOT / "Pulumi.prod.yaml").read_text().replace(
        "maxModelLen: 32768", "maxModelLen: 32768\n  vllm-serving:engine:\n"
        "    gpuMemoryUtilization: 0.9")
    (tmp_path / "numbers").mkdir()
    as_text = parse(stack_values("prod", _copy_project(tmp_path, text=text)))
    as_numbers = parse(stack_values("prod", _copy_project(tmp_path / "numbers", text=numbers)))
    assert as_text == as_numbers and as_text.model.max_model_len == 32768


def test_a_key_written_twice_is_refused_as_yaml_v3_refuses_it(tmp_path):
    # go-yaml v3 decode.go `mapping` (uniqueKeys): "mapping key ... already defined"; PyYAML
    # alone would keep the second value without a word.
    text = (ROOT / "Pulumi.prod.yaml").read_text() + "  vllm-serving:replicas: 3\n"
    with pytest.raises(ConfigError, match="mapping key 'vllm-serving:replicas' already defined"):
        stack_values("prod", _copy_project(tmp_path, text=text))
