"""Load flag documents and contexts (JSON or YAML) from files and arguments into plain JSON data.

Reading and parsing only: no schema checks (the engine validates); every failure is one DocumentError line.
"""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path
from typing import Any

import click
import yaml

_YAML_SUFFIXES = frozenset({".yaml", ".yml"})
_KEEP_TAGS = frozenset({"tag:yaml.org,2002:null", "tag:yaml.org,2002:merge"})
_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
# The YAML 1.2 core schema: PyYAML implements YAML 1.1, which reads the flag field `on:` as the boolean
# True, `yes`/`no` as booleans, `2024-01-01` as a date, `012` as octal and `1:30` as the integer 90.
_CORE_RESOLVERS = (
    ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), "tTfF"),
    (_INT_TAG, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        "-+.0123456789",
    ),
)


class DocumentError(click.ClickException):
    """A file or argument that cannot be read or parsed; exit code 2, like click's usage errors."""

    exit_code = 2


def _core_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


@functools.cache
def _loader() -> type[yaml.SafeLoader]:
    """A safe loader for the YAML 1.2 core schema that rejects duplicate keys."""

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue  # merged keys may be overridden on purpose
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    continue  # unhashable: the base class reports it
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag in _KEEP_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for tag, regexp, first in _CORE_RESOLVERS:
        Loader.add_implicit_resolver(tag, regexp, list(first))
    Loader.add_constructor(_INT_TAG, _core_int)
    return Loader


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def loads_strict(text: str) -> Any:
    """Strict JSON: no NaN/Infinity, no duplicate keys; raises ValueError."""
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_pairs)


def parse_json(text: str, what: str) -> Any:
    try:
        return loads_strict(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"{what}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise DocumentError(f"{what}: invalid JSON: {exc}") from None


def parse_yaml(text: str, what: str) -> Any:
    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 -- _loader() is a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        raise DocumentError(f"{what}: invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise DocumentError(f"{what}: invalid YAML: {exc}") from None
    _check_json_data(data, what, "")
    return data


def _check_json_data(value: Any, what: str, path: str) -> None:
    """YAML can express more than JSON (binary, sets, non-string keys, NaN); the format is JSON data."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DocumentError(f"{what}: {path or 'document'}: {value} is not a JSON number")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_data(item, what, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise DocumentError(f"{what}: {path or 'document'}: key {key!r} is not a string")
            _check_json_data(item, what, f"{path}.{key}" if path else key)
        return
    raise DocumentError(f"{what}: {path or 'document'}: not JSON data ({type(value).__name__})")


def read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DocumentError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_document(path: str) -> Any:
    """Parse a flag document: JSON when the name ends in .json, else YAML (which also reads JSON)."""
    text = read_text(path)
    if not text.strip():
        raise DocumentError(f"{path}: the file is empty (an empty flag document is written {{}})")
    if Path(path).suffix.lower() == ".json":
        return parse_json(text, path)
    if Path(path).suffix.lower() not in _YAML_SUFFIXES and text.lstrip().startswith(("{", "[")):
        return parse_json(text, path)
    return parse_yaml(text, path)


def load_context(arg: str) -> dict[str, Any]:
    """`--context` is inline JSON, or `@path.json` to read it from a file."""
    if arg.startswith("@"):
        what = arg[1:]
        data = parse_json(read_text(what), what)
    else:
        what = "--context"
        data = parse_json(arg, what)
    if not isinstance(data, dict):
        raise DocumentError(f"{what}: a context must be a JSON object, got {json_type(data)}")
    return data


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
