"""A small JSON Schema (2020-12) validator for exactly the keywords flag-format.schema.json uses.

Stdlib only; reports every violation in plain English. It must not quietly ignore a keyword: building a
validator from a schema with any other keyword fails, so the schema cannot drift past what is checked.
"""

from __future__ import annotations

import difflib
import importlib.resources
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from vexil.engine._problems import PathPart

SCHEMA_RESOURCE = "flag-format.schema.json"

_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "default"})
_KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "const",
        "not",
        "minLength",
        "pattern",
        "minimum",
        "maximum",
        "minItems",
        "items",
        "required",
        "properties",
        "additionalProperties",
        "propertyNames",
        "oneOf",
        "if",
        "then",
        "else",
    }
)
_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}
# Python renders integers above ~4300 digits only on request; messages never need that many.
_BIG_INT_BITS = 128


Report = Callable[[str], None]


class SchemaIssue(NamedTuple):
    parts: tuple[PathPart, ...]
    message: str


def load_schema() -> dict[str, Any]:
    """The flag-format schema shipped inside the package, freshly parsed (callers may mutate it)."""
    text = importlib.resources.files("vexil.engine").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def show(value: object) -> str:
    """A short, safe rendering of any value for a message (never raises, never huge)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "a very large integer" if value.bit_length() > _BIG_INT_BITS else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(text, ensure_ascii=False)
    return describe_type(value)


def describe_type(value: object) -> str:
    """`an object`, `a string`, `1.5` (a float, where an integer was wanted), `a Python date`..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return f"a Python {type(value).__name__}"


def key_part(key: object) -> str:
    return key if isinstance(key, str) else show(key)


def _has_type(value: object, name: str) -> bool:
    # bool is an int in Python but never a JSON number; integers are strict (1.0 is not an integer).
    if name == "object":
        return isinstance(value, Mapping)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    return value is None


def _json_equal(a: object, b: object) -> bool:
    """JSON equality for scalars: true is not 1, 1 is 1.0 (enum and const hold scalars only)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return a is None and b is None


def _ecma_pattern(pattern: str) -> re.Pattern[str]:
    # ECMA-262 `$` (no multiline flag) matches only at the very end; Python's `$` also matches before a
    # final newline, which would let "key\n" through.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _or_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _suggestion(key: object, known: Sequence[str]) -> str:
    if isinstance(key, bool) and "on" in known:
        # YAML 1.1 (PyYAML) reads the bare key `on:` (and yes/no/off) as a boolean.
        return ' (in YAML, write "on": with quotes; a bare on: means true)'
    if not isinstance(key, str) or not known:
        return ""
    snake = _snake_case(key)
    if snake != key and snake in known:
        return f" (did you mean {json.dumps(snake)}?)"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return f" (did you mean {json.dumps(close[0])}?)" if close else ""


class SchemaValidator:
    """Validates instances against one schema; build once per schema, reuse freely (it is immutable)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._root = schema
        self._patterns: dict[str, re.Pattern[str]] = {}
        defs = schema.get("$defs", {})
        if not isinstance(defs, Mapping):
            raise ValueError("$defs must be an object")
        self._defs: dict[str, Mapping[str, Any]] = {f"#/$defs/{name}": sub for name, sub in defs.items()}
        self._check(schema, "#")

    def _check(self, schema: object, where: str) -> None:
        if not isinstance(schema, Mapping):
            raise ValueError(f"{where}: a schema must be an object here")
        unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
        if unknown:
            raise ValueError(f"{where}: keywords this validator does not implement: {sorted(unknown)}")
        ref = schema.get("$ref")
        if ref is not None and ref not in self._defs:
            raise ValueError(f"{where}: unresolvable $ref {ref!r} (only #/$defs/NAME is supported)")
        for keyword in ("enum", "const"):
            values = schema.get(keyword, []) if keyword == "enum" else [schema.get(keyword)]
            if any(isinstance(v, list | Mapping) for v in values):
                raise ValueError(f"{where}: {keyword} must hold scalars only")
        if "pattern" in schema:
            self._patterns[schema["pattern"]] = _ecma_pattern(schema["pattern"])
        for keyword in ("items", "propertyNames", "not", "if", "then", "else"):
            if keyword in schema:
                self._check(schema[keyword], f"{where}/{keyword}")
        additional = schema.get("additionalProperties")
        if additional is not None and not isinstance(additional, bool):
            self._check(additional, f"{where}/additionalProperties")
        for name, sub in schema.get("properties", {}).items():
            self._check(sub, f"{where}/properties/{name}")
        for i, sub in enumerate(schema.get("oneOf", [])):
            self._check(sub, f"{where}/oneOf/{i}")
        for name, sub in schema.get("$defs", {}).items():
            self._check(sub, f"{where}/$defs/{name}")

    def issues(self, instance: object) -> list[SchemaIssue]:
        """Every violation, in document order."""
        out: list[SchemaIssue] = []
        self._validate(self._root, instance, [], out)
        return out

    def is_valid(self, instance: object) -> bool:
        return not self.issues(instance)

    def _passes(self, schema: Mapping[str, Any], instance: object) -> bool:
        out: list[SchemaIssue] = []
        self._validate(schema, instance, [], out)
        return not out

    def _validate(
        self, schema: Mapping[str, Any], instance: object, path: list[PathPart], out: list[SchemaIssue]
    ) -> None:
        def report(message: str) -> None:
            out.append(SchemaIssue(tuple(path), message))

        ref = schema.get("$ref")
        if ref is not None:
            self._validate(self._defs[ref], instance, path, out)
        types = schema.get("type")
        if types is not None:
            names = [types] if isinstance(types, str) else list(types)
            if not any(_has_type(instance, name) for name in names):
                # The other keywords only make sense for the right type: one clear message is enough.
                wanted = _or_list([_TYPE_NAMES[name] for name in names])
                report(f"must be {wanted}, not {describe_type(instance)}")
                return
        if "enum" in schema and not any(_json_equal(instance, v) for v in schema["enum"]):
            title = schema.get("title")
            if title:
                report(f"unknown {title} {show(instance)}")
            else:
                report(f"must be one of {_or_list([show(v) for v in schema['enum']])}")
        if "const" in schema and not _json_equal(instance, schema["const"]):
            report(f"must be {show(schema['const'])}")
        if "not" in schema and self._passes(schema["not"], instance):
            banned = schema["not"].get("enum")
            if banned is not None:
                report(f"must not be {_or_list([show(v) for v in banned])}")
            else:
                report("is not allowed here")
        if isinstance(instance, str):
            self._validate_string(schema, instance, report)
        elif isinstance(instance, int | float) and not isinstance(instance, bool):
            if "minimum" in schema and instance < schema["minimum"]:
                report(f"must be at least {show(schema['minimum'])}")
            if "maximum" in schema and instance > schema["maximum"]:
                report(f"must be at most {show(schema['maximum'])}")
        elif isinstance(instance, list):
            minimum = schema.get("minItems")
            if minimum is not None and len(instance) < minimum:
                report("must not be empty" if minimum == 1 else f"must have at least {minimum} items")
            items = schema.get("items")
            if items is not None:
                for i, item in enumerate(instance):
                    path.append(i)
                    self._validate(items, item, path, out)
                    path.pop()
        elif isinstance(instance, Mapping):
            self._validate_object(schema, instance, path, out)
        if "oneOf" in schema:
            self._validate_one_of(schema["oneOf"], instance, report)
        if "if" in schema:
            branch = "then" if self._passes(schema["if"], instance) else "else"
            if branch in schema:
                self._validate(schema[branch], instance, path, out)

    def _validate_string(self, schema: Mapping[str, Any], instance: str, report: Report) -> None:
        minimum = schema.get("minLength")
        if minimum is not None and len(instance) < minimum:
            report("must not be empty" if minimum == 1 else f"must be at least {minimum} characters long")
        pattern = schema.get("pattern")
        if pattern is not None and not self._patterns[pattern].search(instance):
            title, description = schema.get("title"), schema.get("description")
            if title and description:
                report(f"{show(instance)} is not a valid {title} ({description})")
            else:
                report(f"{show(instance)} does not match the pattern {pattern}")

    def _validate_object(
        self,
        schema: Mapping[str, Any],
        instance: Mapping[Any, Any],
        path: list[PathPart],
        out: list[SchemaIssue],
    ) -> None:
        for name in schema.get("required", ()):
            if name not in instance:
                out.append(SchemaIssue((*path, name), "is required"))
        properties: Mapping[str, Any] = schema.get("properties", {})
        additional = schema.get("additionalProperties")
        names = schema.get("propertyNames")
        for key, value in instance.items():
            part = key_part(key)
            if names is not None:
                for issue in self._sub_issues(names, key):
                    message = f"the key {issue}" if issue.startswith("must") else issue
                    out.append(SchemaIssue((*path, part), message))
            sub = properties.get(key) if isinstance(key, str) else None
            if sub is None:
                if additional is False:
                    hint = _suggestion(key, list(properties))
                    out.append(SchemaIssue(tuple(path), f"unknown field {show(key)}{hint}"))
                    continue
                if additional is None or additional is True:
                    continue
                sub = additional
            path.append(part)
            self._validate(sub, value, path, out)
            path.pop()

    def _sub_issues(self, schema: Mapping[str, Any], instance: object) -> list[str]:
        out: list[SchemaIssue] = []
        self._validate(schema, instance, [], out)
        return [issue.message for issue in out]

    def _validate_one_of(
        self, branches: Sequence[Mapping[str, Any]], instance: object, report: Report
    ) -> None:
        matched = sum(1 for branch in branches if self._passes(branch, instance))
        if matched == 1:
            return
        required = [branch.get("required") for branch in branches]
        if all(
            set(branch) == {"required"} and isinstance(names, list) and len(names) == 1
            for branch, names in zip(branches, required, strict=True)
        ):
            fields = [json.dumps(names[0]) for names in required if names]
            report(f"must have exactly one of {_or_list(fields)}")
        else:
            report("must match exactly one of the allowed forms")
