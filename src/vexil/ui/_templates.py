"""The Jinja2 environment of the console: templates from this package, autoescaped, with the formatting
helpers as filters and cache-busting static URLs.

Built per app by `ui_routes` (it hashes the static files then); rendering only, no data access.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jinja2

from ._diff import compact
from ._drafts import OPERATORS, TYPE_LABELS, TYPES
from ._summaries import (
    OP_LABELS,
    clause_text,
    humane_path,
    iso_text,
    percent,
    rollout_parts,
    serve_text,
    targeting_summary,
    variation_label,
    when,
)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def static_versions() -> dict[str, str]:
    """A short content hash per static file, so browsers may cache them and still see new releases."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        for path in STATIC.iterdir()
        if path.is_file()
    }


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def build_templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    versions = static_versions()
    env.globals.update(
        static=lambda name: f"/static/{name}?v={versions.get(name, '0')}",
        OPERATORS=OPERATORS,
        OP_LABELS=OP_LABELS,
        TYPES=TYPES,
        TYPE_LABELS=TYPE_LABELS,
        variation_label=variation_label,
        serve_text=serve_text,
        rollout_parts=rollout_parts,
    )
    env.filters.update(
        compact=compact,
        pretty=_pretty,
        clause_text=clause_text,
        summary=targeting_summary,
        when=when,
        iso=iso_text,
        humane_path=humane_path,
        percent=percent,
    )
    return env
