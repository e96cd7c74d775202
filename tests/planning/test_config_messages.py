"""Every message and document names config keys that exist, spelled as the code reads them,
and says what a valid value looks like."""

import ast
import pathlib
import re
import typing

import pulumi
import pytest
from pydantic import BaseModel

from planning.config import StackConfig
from tests.harness import ROOT, run_stack

TOP_KEYS = sorted({field.alias or name for name, field in StackConfig.model_fields.items()},
                  key=len, reverse=True)
KEY_PATH = re.compile(r"(?<![\w./-])(" + "|".join(TOP_KEYS)
                      + r")((?:\.[a-zA-Z][A-Za-z0-9]*(?:\[\d+\])?)+)")
SOURCES = ("*.py", "planning/*.py", "planning/config/*.py", "rendering/*.py", "components/*.py", "tools/*.py",
           "facts/*.py")
DOCUMENTS = ("*.md", "docs/*.md")


def _model_in(annotation) -> typing.Optional[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def resolves(path: str) -> tuple[bool, bool]:
    """(first key after the section exists, the whole path exists) through the config
    models; a path that goes below a free-form mapping or list resolves."""
    model: typing.Optional[type[BaseModel]] = StackConfig
    parts = re.sub(r"\[\d+\]", "", path).split(".")
    mapping_key = False
    for depth, part in enumerate(parts):
        if mapping_key:   # a name the operator chose (`trafficSecrets.providers.<name>`)
            mapping_key = False
            continue
        if model is None:
            return True, True
        fields = {field.alias or name: field for name, field in model.model_fields.items()}
        if part not in fields:
            return depth > 1, False
        mapping_key = _is_mapping(fields[part].annotation)
        model = _model_in(fields[part].annotation)
    return True, True


def _is_mapping(annotation) -> bool:
    """A dict field (possibly Optional): its next path part is a free-form key."""
    if typing.get_origin(annotation) is dict:
        return True
    return any(_is_mapping(a) for a in typing.get_args(annotation))


def mentioned_keys():
    """(where, dotted key path) for every config key path in the documents and in the string
    literals of the program. A path counts as a config key when its first key exists or it
    is camelCase (so `model.safetensors.index.json` or `monitoring.coreos.com` do not)."""
    for pattern in DOCUMENTS:
        for path in ROOT.glob(pattern):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for match in KEY_PATH.finditer(line):
                    yield f"{path.name}:{number}", match[0]
    for pattern in SOURCES:
        for path in ROOT.glob(pattern):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    for match in KEY_PATH.finditer(node.value):
                        yield f"{path.relative_to(ROOT)}:{node.lineno}", match[0]


def test_every_config_key_a_message_or_document_names_exists():
    missing = []
    for where, key in mentioned_keys():
        first_exists, exists = resolves(key)
        looks_like_a_key = first_exists or any(c.isupper() for c in key)
        if looks_like_a_key and not exists:
            missing.append(f"{where}: {key}")
    assert missing == []


def _every_model(model=StackConfig, seen=None):
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    yield model
    for field in model.model_fields.values():
        inner = _model_in(field.annotation)
        if inner is not None:
            yield from _every_model(inner, seen)


def test_every_key_is_the_plain_camel_case_of_its_name():
    # pydantic's to_camel capitalizes after a digit (e2e_p99_seconds -> e2EP99Seconds), which
    # nobody would type; each key is spelled the way its words read.
    wrong = []
    for model in _every_model():
        for name, field in model.model_fields.items():
            first, *rest = name.split("_")
            plain = first + "".join(word[:1].upper() + word[1:] for word in rest)
            if (field.alias or name) not in (plain, name):
                wrong.append(f"{model.__name__}.{name}: {field.alias}, not {plain}")
    assert wrong == []


def test_the_thresholds_docs_monitoring_md_lists_are_accepted():
    text = (ROOT / "docs" / "monitoring.md").read_text()
    section = text.split("### `monitoring.thresholds`", 1)[1].split("\n\n", 3)[2]
    rows = dict(re.findall(r"`(\w+)` \(`([^`]+)`\)", section))
    assert "e2eP99Seconds" in rows
    thresholds = {key: float(value) if re.fullmatch(r"[\d.]+", value) else value
                  for key, value in rows.items()}
    run = run_stack("prod", {"monitoring": {"thresholds": thresholds}})
    assert run.error is None, run.error


def test_the_old_spelling_of_the_end_to_end_threshold_still_reads():
    run = run_stack("prod", {"monitoring": {"thresholds": {"e2EP99Seconds": 90}}})
    assert run.error is None, run.error


@pytest.mark.parametrize("version", ["0.33", "v0.33.0", "latest", "0.33.0rc1"])
def test_a_version_that_is_not_x_y_z_says_what_to_write(version):
    run = run_stack("prod", {"vllmVersion": version})
    message = str(run.error)
    assert "vllmVersion: not a vLLM release version" in message, message
    assert f"(given {version!r})" in message
    assert "x.y.z, e.g. 0.33.0" in message and "pattern" not in message


def test_a_traffic_block_that_is_switched_off_is_refused_rather_than_ignored():
    # r1-h100 has no traffic block of its own (staging's is on).
    run = run_stack("r1-h100", {"traffic": {"enabled": False, "clients": [
        {"name": "team-a", "requestsPerMinute": 60, "tokensPerMinute": 100000}]}})
    assert isinstance(run.error, pulumi.RunError), run.error
    message = str(run.error)
    assert "traffic.enabled is false" in message and "traffic.clients" in message
    assert "set traffic.enabled: true" in message and run.resources == []
    assert run_stack("r1-h100", {"traffic": {"enabled": False}}).error is None


def test_no_text_recommends_rendering_manifests_the_program_cannot_render():
    # The program builds its own provider, which has no renderYamlToDirectory setting, so
    # pointing people at it for "manifests to apply" sends them nowhere.
    texts = [(ROOT / "README.md").read_text(), (ROOT / "tools" / "render.py").read_text(),
             *(path.read_text() for path in (ROOT / "docs").glob("*.md"))]
    for text in texts:
        flat = re.sub(r"\s+", " ", text)
        assert not re.search(r"use the (Kubernetes )?provider's `?renderYamlToDirectory", flat)


def test_a_key_path_through_a_named_mapping_resolves_and_a_misspelt_one_does_not():
    """`trafficSecrets.providers.<name>` names a provider the operator chose (a dict key), so
    it resolves; a misspelt field before or after such a name still does not."""
    assert resolves("trafficSecrets.providers.other") == (True, True)
    assert resolves("trafficSecrets.provider.other")[1] is False
    assert resolves("trafficSecrets.redisPasswrd")[1] is False
