"""Import LaunchDarkly server-side SDK data (`{"flags": ..., "segments": ...}`) as a vexil document.

Pure data conversion: no I/O, no evaluation, no repairs. What vexil cannot express is reported as a
warning (never silently dropped); data LaunchDarkly itself treats as malformed is carried over as
malformed, so a lenient snapshot (`strict=False`) answers MALFORMED_FLAG exactly where LaunchDarkly does.

Mapping (the full table is in docs/importing-launchdarkly.md):

- flag: `on`, `variations`, `offVariation` -> `off_variation`, `fallthrough`, `prerequisites`
  (`key` -> `flag`), `salt` (LaunchDarkly's default is "", not the flag key, so it is always written),
  `version`, `clientSideAvailability.usingEnvironmentId` (or the older `clientSide`) -> `client_side`.
- targets: without `contextTargets`, `targets` become user targets in order. With `contextTargets`,
  LaunchDarkly evaluates those in order, and an entry of kind user with no values stands for the first
  `targets` entry with the same variation; `targets` entries nothing points at are ignored (warned).
- rules: `variation`/`rollout` -> `serve`; a rule, fallthrough or rollout that serves nothing is left
  without a serve (MALFORMED_FLAG when reached, as in LaunchDarkly).
- rollouts: `algorithm: "launchdarkly-sha1"` keeps every context in its bucket; `bucketBy`,
  `contextKind`, `seed`, `kind`, `untracked` carry over. Weights that do not sum to 100000 are made
  to: LaunchDarkly puts a bucket past the end into the last variation, so the last weight grows, and
  once the running sum reaches 100000 that weight is cut and later variations (never chosen) dropped.
- clauses: operators are renamed (see OPERATORS). An attribute WITHOUT `contextKind` is a literal
  name in LaunchDarkly; one starting with "/" becomes the escaped JSON pointer naming the same
  attribute. WITH `contextKind` it is already a reference and is kept. `segmentMatch` drops the
  attribute. An unknown operator never matches in LaunchDarkly (negate still applies): it becomes an
  `in` clause with no values, which behaves identically, plus a warning. Clause values vexil's
  validator rejects for their operator (objects/arrays, unparseable dates or versions, wrong types,
  regexes Python cannot compile or deems unsafe) are dropped with a warning: LaunchDarkly never
  matches them either, except objects/arrays under `in` and regexes its own engine accepts.
- segments: `included`, `excluded`, `includedContexts`, `excludedContexts`, `salt` (default ""),
  `version`, rules with `weight`, `bucketBy` (a reference only with `rolloutContextKind`),
  `rolloutContextKind`; weighted rules also get `algorithm: "launchdarkly-sha1"`.
- dropped with a warning: deleted items, analytics settings (`trackEvents`, ...), big segments'
  store-held membership, mobile-key availability, and any field this importer does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from vexil.importers._launchdarkly_clauses import OPERATORS, attribute_ref, convert_clause

__all__ = ["ALGORITHM", "OPERATORS", "ConversionWarning", "import_document", "import_document_with_warnings"]

ALGORITHM = "launchdarkly-sha1"
TOTAL_WEIGHT = 100_000
USER = "user"

# Settings that only steer LaunchDarkly's analytics events; they never change an evaluation result.
_EVENT_FIELDS = frozenset(
    {"trackEvents", "trackEventsFallthrough", "debugEventsUntilDate", "samplingRatio", "excludeFromSummaries"}
)
_FLAG_FIELDS = frozenset(
    {"key", "on", "variations", "offVariation", "targets", "contextTargets", "rules", "fallthrough"}
    | {"prerequisites", "salt", "version", "clientSideAvailability", "clientSide", "deleted"}
)
_RULE_FIELDS = frozenset({"id", "description", "variation", "rollout", "clauses"})
_ROLLOUT_FIELDS = frozenset({"variations", "bucketBy", "contextKind", "seed", "kind"})
_SEGMENT_FIELDS = frozenset(
    {"key", "included", "excluded", "includedContexts", "excludedContexts", "rules", "salt", "version"}
    | {"deleted", "unbounded", "unboundedContextKind", "generation"}
)
_SEGMENT_RULE_FIELDS = frozenset({"id", "clauses", "weight", "bucketBy", "rolloutContextKind"})


@dataclass(frozen=True)
class ConversionWarning:
    """Something the import could not carry over as is: where (`flags.f.rules[0]`) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def import_document(ld: Mapping[str, Any]) -> dict[str, Any]:
    """Convert LaunchDarkly server-side data to a vexil document, discarding the warnings."""
    return import_document_with_warnings(ld)[0]


def import_document_with_warnings(ld: Mapping[str, Any]) -> tuple[dict[str, Any], list[ConversionWarning]]:
    """Convert LaunchDarkly server-side data; also return what could not be expressed."""
    converter = _Converter()
    return converter.document(ld), converter.warnings


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


class _Converter:
    def __init__(self) -> None:
        self.warnings: list[ConversionWarning] = []

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(ConversionWarning(path, message))

    def extra_fields(self, item: Mapping[str, Any], known: frozenset[str], path: str) -> None:
        for name, value in item.items():
            if name in known:
                continue
            if name in _EVENT_FIELDS:
                if value:
                    self.warn(
                        f"{path}.{name}", "an analytics-event setting with no vexil equivalent; dropped"
                    )
            else:
                self.warn(f"{path}.{name}", "unknown LaunchDarkly field; dropped")

    def document(self, ld: Mapping[str, Any]) -> dict[str, Any]:
        flags: dict[str, Any] = {}
        segments: dict[str, Any] = {}
        for name in ld:
            if name not in ("flags", "segments"):
                self.warn(name, "unknown top-level field; dropped")
        for key, flag in self.items(ld.get("flags"), "flags"):
            converted = self.flag(key, flag, f"flags.{key}")
            if converted is not None:
                flags[key] = converted
        for key, segment in self.items(ld.get("segments"), "segments"):
            converted = self.segment(key, segment, f"segments.{key}")
            if converted is not None:
                segments[key] = converted
        return {"flags": flags, "segments": segments}

    def items(self, table: object, path: str) -> list[tuple[str, Mapping[str, Any]]]:
        if table is None:
            return []
        if not isinstance(table, Mapping):
            self.warn(path, "not an object; dropped")
            return []
        out = []
        for key, item in table.items():
            if not isinstance(item, Mapping):
                self.warn(f"{path}.{key}", "not an object; dropped")
            elif item.get("deleted") is True:
                self.warn(f"{path}.{key}", "deleted in LaunchDarkly (a tombstone); not imported")
            else:
                if item.get("key", key) != key:
                    self.warn(f"{path}.{key}.key", f"differs from the map key; {key!r} is used")
                out.append((str(key), item))
        return out

    # -- flags ---------------------------------------------------------------------------------

    def flag(self, key: str, f: Mapping[str, Any], path: str) -> dict[str, Any] | None:
        self.extra_fields(f, _FLAG_FIELDS, path)
        variations = f.get("variations", [])
        out: dict[str, Any] = {
            "key": key,
            "variations": list(variations) if isinstance(variations, list) else variations,
            "on": f.get("on", False),
            "off_variation": f.get("offVariation"),
        }
        targets = self.targets(f, path)
        if targets:
            out["targets"] = targets
        rules = [self.rule(r, f"{path}.rules[{i}]") for i, r in enumerate(_list(f.get("rules")))]
        if rules:
            out["rules"] = rules
        fallthrough = self.serve(f.get("fallthrough"), f"{path}.fallthrough")
        if fallthrough is not None:
            out["fallthrough"] = fallthrough
        prerequisites = [
            {"flag": p.get("key"), "variation": p.get("variation")} if isinstance(p, Mapping) else p
            for p in _list(f.get("prerequisites"))
        ]
        if prerequisites:
            out["prerequisites"] = prerequisites
        out["salt"] = f.get("salt", "")
        self.version(f, out, path)
        self.client_side(f, out, path)
        return out

    def version(self, item: Mapping[str, Any], out: dict[str, Any], path: str) -> None:
        version = item.get("version")
        if _is_int(version) and version >= 0:
            out["version"] = version
        elif version is not None:
            self.warn(f"{path}.version", f"{version!r} is not a non-negative integer; dropped")

    def client_side(self, f: Mapping[str, Any], out: dict[str, Any], path: str) -> None:
        availability = f.get("clientSideAvailability")
        if isinstance(availability, Mapping):
            if availability.get("usingEnvironmentId") is True:
                out["client_side"] = True
            if availability.get("usingMobileKey") is True:
                self.warn(
                    f"{path}.clientSideAvailability.usingMobileKey", "vexil has no mobile keys; dropped"
                )
        elif f.get("clientSide") is True:
            out["client_side"] = True

    def targets(self, f: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
        user_targets = _list(f.get("targets"))
        context_targets = _list(f.get("contextTargets"))
        if not context_targets:
            return [t for t in (self.target(t, USER) for t in user_targets) if t is not None]
        out = []
        used: set[int] = set()
        for ct in context_targets:
            if not isinstance(ct, Mapping):
                continue
            kind = ct.get("contextKind") or USER
            if kind == USER and not ct.get("values"):
                # Stands for the first `targets` entry with the same variation (LaunchDarkly's order rule).
                for j, t in enumerate(user_targets):
                    if isinstance(t, Mapping) and t.get("variation") == ct.get("variation"):
                        used.add(j)
                        converted = self.target(t, USER)
                        if converted is not None:
                            out.append(converted)
                        break
            else:
                converted = self.target(ct, kind)
                if converted is not None:
                    out.append(converted)
        for j, t in enumerate(user_targets):
            if j not in used and isinstance(t, Mapping) and t.get("values"):
                self.warn(
                    f"{path}.targets[{j}]",
                    "no contextTargets entry refers to it, so LaunchDarkly never evaluates it; dropped",
                )
        return out

    def target(self, t: object, kind: object) -> dict[str, Any] | None:
        if not isinstance(t, Mapping):
            return None
        values = t.get("values")
        if not values:
            return None  # an empty target matches nothing: dropping it changes no result
        out = {
            "variation": t.get("variation"),
            "values": list(values) if isinstance(values, list) else values,
        }
        if kind != USER:
            out["context_kind"] = kind
        return out

    def rule(self, r: object, path: str) -> object:
        if not isinstance(r, Mapping):
            self.warn(path, "not an object; kept as is (invalid)")
            return r
        self.extra_fields(r, _RULE_FIELDS, path)
        out: dict[str, Any] = {}
        if r.get("id"):
            out["id"] = r["id"]
        if isinstance(r.get("description"), str):
            out["description"] = r["description"]
        out["clauses"] = [
            convert_clause(self.warn, c, f"{path}.clauses[{i}]")
            for i, c in enumerate(_list(r.get("clauses")))
        ]
        serve = self.serve(r, path)
        if serve is not None:
            out["serve"] = serve
        return out

    def serve(self, vr: object, path: str) -> dict[str, Any] | None:
        """LaunchDarkly's VariationOrRollout: a variation wins over a rollout; neither is malformed."""
        if isinstance(vr, Mapping):
            if vr.get("variation") is not None:
                return {"variation": vr["variation"]}
            if isinstance(vr.get("rollout"), Mapping):
                return {"rollout": self.rollout(vr["rollout"], f"{path}.rollout")}
        self.warn(
            path, "serves neither a variation nor a rollout: MALFORMED_FLAG when reached, as in LaunchDarkly"
        )
        return None

    def rollout(self, ro: Mapping[str, Any], path: str) -> dict[str, Any]:
        self.extra_fields(ro, _ROLLOUT_FIELDS, path)
        out: dict[str, Any] = {"variations": self.weights(ro.get("variations"), path), "algorithm": ALGORITHM}
        kind = ro.get("contextKind")
        if kind:
            out["context_kind"] = kind
        bucket_by = ro.get("bucketBy")
        if bucket_by is not None and bucket_by != "":
            out["bucket_by"] = attribute_ref(bucket_by, kind)
        if ro.get("seed") is not None:
            out["seed"] = ro["seed"]
        if ro.get("kind") == "experiment":
            out["kind"] = "experiment"
        elif ro.get("kind") not in (None, "", "rollout"):
            self.warn(
                f"{path}.kind", f"unknown rollout kind {ro['kind']!r}; a plain rollout, as in LaunchDarkly"
            )
        return out

    def weights(self, entries: object, path: str) -> object:
        if not isinstance(entries, list):
            self.warn(f"{path}.variations", "not a list; kept as is (invalid)")
            return entries
        out: list[dict[str, Any]] = []
        for i, e in enumerate(entries):
            if not isinstance(e, Mapping) or not _is_int(e.get("weight")) or e["weight"] < 0:
                self.warn(
                    f"{path}.variations[{i}]", "weight is not a non-negative integer; kept as is (invalid)"
                )
                return list(entries)
            item = {"variation": e.get("variation"), "weight": e["weight"]}
            if e.get("untracked") is True:
                item["untracked"] = True
            out.append(item)
        total = 0
        for i, item in enumerate(out):
            if total + item["weight"] >= TOTAL_WEIGHT:
                item["weight"] = TOTAL_WEIGHT - total
                del out[i + 1 :]  # never chosen: every bucket is below 100000
                break
            total += item["weight"]
        else:
            if out:
                out[-1]["weight"] += TOTAL_WEIGHT - total  # LaunchDarkly: past the end -> last variation
        return out

    # -- segments ------------------------------------------------------------------------------

    def segment(self, key: str, s: Mapping[str, Any], path: str) -> dict[str, Any] | None:
        self.extra_fields(s, _SEGMENT_FIELDS, path)
        out: dict[str, Any] = {"key": key}
        if s.get("unbounded") is True:
            self.warn(
                path,
                "a big segment: its membership lives in LaunchDarkly's big-segment store, which vexil "
                "cannot read; only its rules and key lists are imported",
            )
        for name in ("included", "excluded"):
            if s.get(name):
                out[name] = s[name]
        for source, target in (
            ("includedContexts", "included_contexts"),
            ("excludedContexts", "excluded_contexts"),
        ):
            entries = [
                {"context_kind": e.get("contextKind") or USER, "values": e.get("values") or []}
                for e in _list(s.get(source))
                if isinstance(e, Mapping)
            ]
            if entries:
                out[target] = entries
        rules = [self.segment_rule(r, f"{path}.rules[{i}]") for i, r in enumerate(_list(s.get("rules")))]
        if rules:
            out["rules"] = rules
        out["salt"] = s.get("salt", "")
        self.version(s, out, path)
        return out

    def segment_rule(self, r: object, path: str) -> object:
        if not isinstance(r, Mapping):
            self.warn(path, "not an object; kept as is (invalid)")
            return r
        self.extra_fields(r, _SEGMENT_RULE_FIELDS, path)
        out: dict[str, Any] = {}
        if r.get("id"):
            out["id"] = r["id"]
        out["clauses"] = [
            convert_clause(self.warn, c, f"{path}.clauses[{i}]")
            for i, c in enumerate(_list(r.get("clauses")))
        ]
        if r.get("weight") is not None:
            out["weight"] = r["weight"]
            out["algorithm"] = ALGORITHM
            kind = r.get("rolloutContextKind")
            if kind:
                out["rollout_context_kind"] = kind
            bucket_by = r.get("bucketBy")
            if bucket_by is not None and bucket_by != "":
                out["bucket_by"] = attribute_ref(bucket_by, kind)
        return out
