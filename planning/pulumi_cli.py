"""The Pulumi CLI's config resolution, encoded from its source, so a stack file is checked offline
exactly as `pulumi preview` checks it before the program runs.

Read from pulumi/pulumi at 1b5949891b3cefcb9974752b24a5ecef0acc86c8 (Aug 2026); each rule names
the file and function it mirrors:

- YAML: the CLI reads both files with gopkg.in/yaml.v3 (`sdk/go/common/encoding/marshal.go`),
  whose plain-scalar rules (go-yaml `resolve.go` `resolve`) differ from PyYAML's YAML 1.1:
  only true/True/TRUE and false/False/FALSE are booleans (`yes`, `on` stay text), `0o17` and
  `017` are octal, `1e3` is a float, `1:30` and dates stay text.
- A stack value becomes text, an object (JSON text) or ciphertext
  (`sdk/go/common/resource/config/object.go` `unmarshalObject`, `MarshalString`,
  `isSecureValue`); a null value is never unmarshalled and stays "" (yaml.v3 skips
  unmarshalers for null; `loaders.go` `checkForEmptyConfig` warns so).
- Keys: a key without a namespace gets the project's (`loaders.go`
  `stackConfigNamespacedWithProject`); `ns:name` or the old `ns:config:name`
  (`resource/config/key.go` `ParseKey`).
- Pulumi.yaml: short-hand values (`project.go` `RewriteShorthandConfigValues`), the schema's
  attributes and types (`project.json` `configTypeDeclaration`, `simpleConfigType`) and
  `Project.Validate`.
- Merge and validation (`pkg/workspace/config.go` `mergeConfig`, `createConfigValue`,
  `validateStackConfigValues`, `validateStackConfigValue`; `project.go` `ValidateConfigValue`):
  a declared key of the project's namespace with no stack value, `default` or `value` is
  required in every stack; typed keys are checked against the stack's text.
- `type: object` exists since CLI 3.186.0 (pulumi#20129 adds it to the schema) but is validated
  only since 3.187.0 (pulumi#20132, CHANGELOG 3.187.0 "[yaml] Allow config values to be parsed
  with type `object`"): 3.186 refuses every object value. Hence OBJECT_TYPE_SINCE.

Not mirrored: ESC environments (`mergeConfig` merges an `environment:`'s `pulumiConfig` under the
stack's values; opening one needs Pulumi Cloud, so `stack_files` refuses such a stack) and project
keys with a path (`a.b`), which this project does not declare.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import math
import re
from typing import Any, Optional

import yaml

OBJECT_TYPE_SINCE = "3.187.0"
"""The first Pulumi CLI that accepts values of `type: object` config (CHANGELOG 3.187.0)."""

TYPES = ("string", "integer", "boolean", "array", "object")
"""project.json `simpleConfigType`."""
DECLARATION_ATTRIBUTES = ("type", "items", "description", "secret", "default", "value")
"""project.json `configTypeDeclaration` (additionalProperties: false)."""


class CliError(ValueError):
    """What the CLI would print and stop on (every problem, where the CLI stops at its first)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class Ciphertext:
    """A `secure:` value: the CLI decrypts it for the program; offline its text is unknown."""

    def __init__(self, ciphertext: str):
        self.ciphertext = ciphertext

    def __repr__(self) -> str:
        return "Ciphertext(...)"


# --- YAML the way gopkg.in/yaml.v3 reads it ------------------------------------------------

_GO_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^([-+]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-")
_SPECIAL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
            "FALSE": False, "": None, "~": None, "null": None, "Null": None, "NULL": None,
            ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _go_int(plain: str) -> Optional[int]:
    """strconv.ParseInt(plain, 0, 64), then ParseUint: None when neither parses."""
    match = _GO_INT.match(plain)
    if not match:
        return None
    sign, digits = match.groups()
    prefix = digits[:2].lower()
    if prefix in ("0x", "0b", "0o"):
        number = int(digits[2:], {"0x": 16, "0b": 2, "0o": 8}[prefix])
    else:
        number = int(digits, 8 if digits[0] == "0" else 10)   # a leading 0 means octal
    number = -number if sign == "-" else number
    if _INT64[0] <= number <= _INT64[1] or (not sign and number < 2 ** 64):
        return number
    return None


def go_scalar(text: str) -> Any:
    """A plain (unquoted) scalar as yaml.v3 `resolve` types it."""
    if text in _SPECIAL:
        return _SPECIAL[text]
    if text.lstrip("+-") in (".inf", ".Inf", ".INF"):
        return -math.inf if text.startswith("-") else math.inf
    if text[0] == ".":
        try:
            return float(text)
        except ValueError:
            return text
    if text[0] not in "+-0123456789" or _TIMESTAMP.match(text):
        return text     # into an `any`, yaml.v3 keeps a timestamp as text
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _GO_FLOAT.match(plain):
        return float(plain)
    return text


class GoYamlLoader(yaml.SafeLoader):
    """PyYAML with yaml.v3's plain-scalar rules instead of YAML 1.1's, and its refusal of a key
    written twice in one mapping (decode.go `mapping`, uniqueKeys), where PyYAML keeps the last."""

    def construct_mapping(self, node, deep=False):
        seen: dict[tuple, int] = {}
        for key, _ in node.value:
            spelled = (key.id, key.value if isinstance(key.value, str) else id(key))
            if spelled in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"line {key.start_mark.line + 1}: mapping key {key.value!r} "
                    f"already defined at line {seen[spelled]}", key.start_mark)
            seen[spelled] = key.start_mark.line + 1
        return super().construct_mapping(node, deep)


GoYamlLoader.yaml_implicit_resolvers = {}
GoYamlLoader.add_implicit_resolver("tag:pulumi-cli:plain", re.compile(r".*", re.S), None)
GoYamlLoader.add_constructor(
    "tag:pulumi-cli:plain", lambda loader, node: go_scalar(loader.construct_scalar(node)))


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=GoYamlLoader)  # noqa: S506 (a SafeLoader subclass)


# --- one config value ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Value:
    """A config value as the CLI holds it: `text` is what the program is handed (ciphertext
    stays a Ciphertext in `content`), `content` what typed validation looks at."""

    text: str
    secure: bool
    object: bool
    content: Any


def go_json_float(number: float) -> str:
    """encoding/json's text for a float64: positional, or exponent outside [1e-6, 1e21)."""
    if math.isnan(number) or math.isinf(number):
        raise CliError([f"json: unsupported value: {number}"])
    if number == 0 or 1e-6 <= abs(number) < 1e21:
        text = format(decimal.Decimal(repr(number)), "f")
        return text[:-2] if text.endswith(".0") else text
    return re.sub(r"e([-+])0(\d)$", r"e\1\2", repr(number))


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        if _is_secure(value):
            return Ciphertext(value["secure"])
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def _is_secure(value: Any) -> bool:
    """object.go `isSecureValue`: a map with exactly one `secure` key holding text."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("secure"), str)


def _dumps(content: Any, secret_text: str) -> str:
    """encoding/json's text for an object value: keys sorted, no spaces, floats as Go writes
    them (2.0 is `2`, so the program reads the integer the CLI hands it)."""
    if isinstance(content, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{_dumps(content[key], secret_text)}"
                              for key in sorted(content)) + "}"
    if isinstance(content, list):
        return "[" + ",".join(_dumps(item, secret_text) for item in content) + "]"
    if isinstance(content, Ciphertext):
        return json.dumps(secret_text)
    if isinstance(content, float):
        return go_json_float(content)
    return json.dumps(content)


def stack_value(raw: Any, secret_text: str) -> Value:
    """A stack file's value as `MarshalString` turns it into a config.Value; a secure value's
    text (and a secure leaf's, inside an object) is `secret_text`."""
    if raw is None:
        return Value("", False, False, "")
    if isinstance(raw, bool):
        return Value("true" if raw else "false", False, False, "true" if raw else "false")
    if isinstance(raw, int):
        return Value(str(raw), False, False, str(raw))
    if isinstance(raw, float):
        return Value(go_json_float(raw), False, False, go_json_float(raw))
    if isinstance(raw, str):
        return Value(raw, False, False, raw)
    if _is_secure(raw):
        return Value(secret_text, True, False, Ciphertext(raw["secure"]))
    content = _json_ready(raw)
    text = _dumps(content, secret_text)
    return Value(text, _has_ciphertext(content), True, content)


def _has_ciphertext(content: Any) -> bool:
    if isinstance(content, Ciphertext):
        return True
    if isinstance(content, dict):
        return any(_has_ciphertext(v) for v in content.values())
    if isinstance(content, list):
        return any(_has_ciphertext(v) for v in content)
    return False


def project_value(raw: Any, secret_text: str) -> Value:
    """config.go `createConfigValue`: a project default or value; string, int and bool become
    text, anything else (floats too) JSON."""
    if isinstance(raw, (str, bool, int)):
        text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        return Value(text, False, False, text)
    content = _json_ready(raw)
    return Value(_dumps(content, secret_text), False, True, content)


# --- Pulumi.yaml --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Declaration:
    """project.go `ProjectConfigType`; a `default` or `value` of None is absent (YAML null)."""

    type: Optional[str] = None
    items: Optional[dict] = None
    description: str = ""
    secret: bool = False
    default: Any = None
    value: Any = None


def in_project(project: str, key: str) -> bool:
    """project.go `configKeyIsNamespacedByProject`."""
    return ":" not in key or key.startswith(project + ":")


def declarations(project: dict) -> dict[str, Declaration]:
    """Pulumi.yaml's `config:` after `LoadProjectBytes`: the schema's attributes, short-hand
    values rewritten (`RewriteShorthandConfigValues`), then `Project.Validate`."""
    name, config = project.get("name"), project.get("config") or {}
    if isinstance(config, str):
        return {}   # the old spelling of stackConfigDir
    problems, declared = [], {}
    for key, raw in config.items():
        if isinstance(raw, (str, bool, int, list)):
            raw = {"default" if in_project(name, key) else "value": raw}
        if not isinstance(raw, dict):
            problems.append(f"#/config/{key}: expected a string, integer, boolean, array or a "
                            "declaration")
            continue
        problems += [f"#/config/{key}: '{attribute}' not allowed; the allowed attributes are "
                     + ", ".join(f"'{a}'" for a in sorted(DECLARATION_ATTRIBUTES))
                     for attribute in sorted(set(raw) - set(DECLARATION_ATTRIBUTES))]
        declared[key] = Declaration(**{a: raw[a] for a in DECLARATION_ATTRIBUTES if a in raw})
        problems += _declaration_problems(name, key, declared[key])
    if problems:
        raise CliError(problems)
    return declared


def _declaration_problems(project: str, key: str, declared: Declaration) -> list[str]:
    """project.go `Project.Validate` (and project.json's type names)."""
    if declared.type is not None and declared.type not in TYPES:
        return [f"#/config/{key}/type: value must be one of {', '.join(TYPES)}"]
    if declared.default is not None and declared.value is not None:
        return [f"project config '{key}' cannot have both a 'default' and 'value' attribute"]
    if not in_project(project, key):
        if declared.type is not None:
            return [f"Configuration key '{key}' is not namespaced by the project and should not "
                    "define a type"]
        if declared.default is not None:
            return [f"Configuration key '{key}' is not namespaced by the project and should not "
                    "define a default value. Did you mean to use the 'value' attribute instead "
                    "of 'default'?"]
        if declared.value is None:
            return [f"Configuration key '{key}' is namespaced and must provide an attribute "
                    "'value'"]
        return []
    if declared.type == "array" and declared.items is None:
        return [f"The configuration key '{key}' declares an array but does not specify the "
                "underlying type via the 'items' attribute"]
    if declared.type is not None and declared.default is not None and not value_fits(
            declared.type, declared.items, declared.default):
        return [f"The default value specified for configuration key '{key}' is not of the "
                f"expected type '{type_name(declared.type, declared.items)}'"]
    return []


def type_name(name: str, items: Optional[dict]) -> str:
    """project.go `InferFullTypeName`."""
    if items is not None:
        return f"array<{type_name(items.get('type'), items.get('items'))}>"
    return name


def _go_atoi(text: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[0-9]+", text)) and _INT64[0] <= int(text) <= _INT64[1]


def value_fits(name: str, items: Optional[dict], value: Any) -> bool:
    """project.go `ValidateConfigValue`. A Ciphertext is a string the CLI would decrypt: it
    fits `string`, never `object` or `array`, and `integer`/`boolean` cannot be told offline
    (accepted here, and the program's own validation sees the plaintext)."""
    if isinstance(value, Ciphertext):
        return name not in ("object", "array")
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        if isinstance(value, bool):
            return False      # Go's value.(int) is false for a bool; Python's bool is an int
        if isinstance(value, int):
            return _INT64[0] <= value <= _INT64[1]
        if isinstance(value, float):
            return not math.isnan(value) and (math.isinf(value) or value == math.trunc(value))
        return isinstance(value, str) and _go_atoi(value)
    if name == "boolean":
        return value in ("true", "false") or isinstance(value, bool)
    if name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(value_fits(items.get("type"), items.get("items"), item) for item in value)


# --- the stack's config: merged and validated -------------------------------------------

def parse_key(project: str, key: str) -> str:
    """`ns:name` for a stack file's key (loaders.go `stackConfigNamespacedWithProject`,
    key.go `ParseKey`)."""
    if ":" not in key:
        return f"{project}:{key}"
    parts = key.split(":")
    if len(parts) == 2 or (len(parts) == 3 and parts[1] == "config"):
        return f"{parts[0]}:{parts[-1]}"
    raise CliError([f"could not parse {key} as a configuration key (configuration keys should "
                    "be of the form `<namespace>:<name>`)"])


def missing_keys_message(stack: str, missing: list[str]) -> str:
    """config.go `missingStackConfigurationKeysError` and `formatMissingKeys`."""
    quoted = [f"'{key}'" for key in sorted(missing)]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return (f"Stack '{stack}' is missing configuration "
            f"{'value' if len(quoted) == 1 else 'values'} {listed}")


def merge(stack: str, project: str, declared: dict[str, Declaration], values: dict[str, Value],
          secret_text: str) -> dict[str, Value]:
    """config.go `mergeConfig` (validate=true, as preview and up run it): the project's defaults
    and values under the stack's, the required-key rule, then each typed key checked."""
    merged, missing = dict(values), []
    for key in sorted(declared):
        full = key if ":" in key else f"{project}:{key}"
        if full in merged:
            continue
        given = declared[key].default if declared[key].default is not None else declared[key].value
        if given is not None:
            merged[full] = project_value(given, secret_text)
        elif full.split(":", 1)[0] == project:
            missing.append(key)
    if missing:
        raise CliError([missing_keys_message(stack, missing)])
    problems = [problem for key in sorted(declared) if declared[key].type is not None
                for problem in _value_problems(stack, key, declared[key],
                                               merged[key if ":" in key else f"{project}:{key}"])]
    if problems:
        raise CliError(problems)
    return merged


def _value_problems(stack: str, key: str, declared: Declaration, value: Value) -> list[str]:
    """config.go `validateStackConfigValue`."""
    if declared.secret and not value.secure:
        return [f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's "
                "secret"]
    if not value_fits(declared.type, declared.items, value.content):
        return [f"Stack '{stack}' with configuration key '{key}' must be of type "
                f"'{type_name(declared.type, declared.items)}'"]
    return []


def stack_config(project: str, document: dict, secret_text: str) -> dict[str, Value]:
    """A stack file's `config:` with every key namespaced, each value as the CLI holds it."""
    values: dict[str, Value] = {}
    spelled: dict[str, str] = {}
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise CliError([f"could not unmarshal map: config is a {type(config).__name__}, not a "
                        "map of keys to values"])
    for key, raw in config.items():
        full = parse_key(project, str(key))
        if full in values:
            raise CliError([f"{key}: the same key as {spelled[full]} (a key without a namespace "
                            f"gets {project}:); keep one of them"])
        values[full], spelled[full] = stack_value(raw, secret_text), str(key)
    return values


def resolve_config(stack: str, project: dict, document: dict,
                   secret_text: str = "<secret>") -> dict[str, Value]:
    """What `pulumi preview --stack <stack>` hands the program, from the parsed Pulumi.yaml and
    Pulumi.<stack>.yaml, or the CliError it stops with."""
    name = project.get("name")
    return merge(stack, name, declarations(project), stack_config(name, document, secret_text),
                 secret_text)
