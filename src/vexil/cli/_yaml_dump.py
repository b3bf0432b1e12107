"""Write JSON data as diff-friendly YAML that the CLI's YAML 1.2 loader (and YAML 1.1 tools) read back to
exactly the same data: block style, indented lists, no anchors, no line wrapping, keys in the given order.

Formatting only: callers decide the key order (see `_flagfile.canonical`).
"""

from __future__ import annotations

import functools
from typing import Any

import yaml

from vexil.cli._docs import _loader

_STR_TAG = "tag:yaml.org,2002:str"


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # the same object twice is written twice, never as an anchor and alias

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # list items indented under their key


@functools.cache
def _core_resolver() -> yaml.SafeLoader:
    return _loader()("")


def _resolves_to(resolver: yaml.resolver.BaseResolver, value: str) -> Any:
    """The tag a plain (unquoted) scalar `value` gets from `resolver`."""
    return resolver.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Double-quote what YAML 1.1 (on, yes, 2024-01-01) or the 1.2 core schema (0o17, 1e5) would read as
    # something else than a string, like docs/flag-format.md writes "on"; multi-line text as a block.
    style: str | None = None
    if _resolves_to(_core_resolver(), value) != _STR_TAG or _resolves_to(dumper, value) != _STR_TAG:
        style = '"'
    elif "\n" in value and value == value.strip() and value.replace("\n", "").isprintable():
        style = "|"
    elif not value.isprintable():
        style = '"'  # line separators, controls: escaped, never folded into spaces by a plain or '' scalar
    return dumper.represent_scalar(_STR_TAG, value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """YAML text for JSON data (dicts keep their order)."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
        indent=2,
    )
