"""Document validation: the JSON Schema first, then the cross-field rules a schema cannot express.

Never raises, whatever the input. Semantic checks only read parts that passed the schema, so a mistake
is reported once, at its own path, not again as a cascade of follow-on problems.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

from vexil.engine._attributes import parse_reference
from vexil.engine._operators import Op, value_problem
from vexil.engine._problems import PathPart, Problem, format_path
from vexil.engine._schema import SchemaIssue, SchemaValidator, describe_type, load_schema, show

Path = tuple[PathPart, ...]
Edges = dict[str, list[tuple[str, Path]]]

TOTAL_WEIGHT = 100000
_CYCLE_SHOWN = 8  # longer cycles are abbreviated: a message lists at most this many keys plus the ends
_MISSING: Any = object()  # a field that is absent or failed the schema: every isinstance test rejects it


def validate_document(doc: object) -> list[Problem]:
    """Every problem in a flag document, sorted by path (list indices numerically); [] when valid."""
    issues = SchemaValidator(load_schema()).issues(doc)
    if isinstance(doc, Mapping):
        issues.extend(_Semantics(doc, issues).check())
    unique = {(issue.parts, issue.message) for issue in issues}
    ordered = sorted(unique, key=lambda item: (_sort_key(item[0]), item[1]))
    return [Problem(format_path(parts), message) for parts, message in ordered]


def _sort_key(parts: Path) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in parts)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class _Semantics:
    """One pass over a schema-checked document; `check()` returns the cross-field problems."""

    def __init__(self, doc: Mapping[Any, Any], schema_issues: list[SchemaIssue]) -> None:
        self.dirty: set[Path] = {
            issue.parts[:i] for issue in schema_issues for i in range(len(issue.parts) + 1)
        }
        self.out: list[SchemaIssue] = []
        self.flags = self._entries(doc, "flags")
        self.segments = self._entries(doc, "segments")
        flags, segments = doc.get("flags", {}), doc.get("segments", {})
        # None when the map itself is broken: then "unknown flag/segment" cannot be decided.
        self.flag_keys = {k for k in flags if isinstance(k, str)} if isinstance(flags, Mapping) else None
        self.segment_keys = (
            {k for k in segments if isinstance(k, str)} if isinstance(segments, Mapping) else None
        )
        self.counts: dict[str, int] = {}
        for key, flag in self.flags:
            variations = self._field(flag, ("flags", key), "variations")
            if isinstance(variations, list):
                self.counts[key] = len(variations)
        self.prerequisite_edges: Edges = {}
        self.segment_edges: Edges = {}

    def _entries(self, doc: Mapping[Any, Any], name: str) -> list[tuple[str, Mapping[str, Any]]]:
        entries = doc.get(name)
        if not isinstance(entries, Mapping):
            return []
        return [(k, v) for k, v in entries.items() if isinstance(k, str) and isinstance(v, Mapping)]

    def report(self, path: Path, message: str) -> None:
        self.out.append(SchemaIssue(path, message))

    def _field(self, obj: object, base: Path, name: str) -> Any:
        """obj[name] when present and schema-valid, else _MISSING."""
        if not isinstance(obj, Mapping) or name not in obj or (*base, name) in self.dirty:
            return _MISSING
        return obj[name]

    def _items(
        self, obj: Mapping[str, Any], base: Path, name: str
    ) -> Iterator[tuple[Path, Mapping[str, Any]]]:
        """(path, item) for the object items of the list obj[name]; items decide their own validity."""
        items = obj.get(name)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, Mapping):
                    yield (*base, name, i), item

    def check(self) -> list[SchemaIssue]:
        for key, flag in self.flags:
            self._check_flag(key, flag, ("flags", key))
        for key, segment in self.segments:
            self._check_segment(key, segment, ("segments", key))
        for where, cycle in _cycles(self.prerequisite_edges, "flags"):
            self.report(where, f"prerequisite cycle {cycle}")
        for where, cycle in _cycles(self.segment_edges, "segments"):
            self.report(where, f"segment cycle {cycle}")
        return self.out

    def _check_key(self, obj: Mapping[str, Any], base: Path, key: str) -> None:
        inner = self._field(obj, base, "key")
        if isinstance(inner, str) and inner != key:
            self.report((*base, "key"), f"must equal the map key {show(key)}, not {show(inner)}")

    def _check_flag(self, key: str, flag: Mapping[str, Any], base: Path) -> None:
        self._check_key(flag, base, key)
        n = self.counts.get(key)
        variations = self._field(flag, base, "variations")
        if isinstance(variations, list):
            for i, value in enumerate(variations):
                problem = _json_problem(value)
                if problem is not None:
                    self.report((*base, "variations", i), problem)
        info = self._field(flag, base, "variation_info")
        if isinstance(info, list) and n is not None and len(info) != n:
            entries = "1 entry" if len(info) == 1 else f"{len(info)} entries"
            self.report(
                (*base, "variation_info"), f"has {entries} but the flag has {_plural(n, 'variation')}"
            )
        self._check_index(flag, base, "off_variation", n)
        for path, target in self._items(flag, base, "targets"):
            self._check_index(target, path, "variation", n)
        rule_ids: dict[str, PathPart] = {}
        for path, rule in self._items(flag, base, "rules"):
            rule_id = self._field(rule, path, "id")
            if isinstance(rule_id, str):
                if rule_id in rule_ids:
                    self.report(
                        (*path, "id"),
                        f"duplicate rule id {show(rule_id)} (rules[{rule_ids[rule_id]}] has it too)",
                    )
                else:
                    rule_ids[rule_id] = path[-1]
            for clause_path, clause in self._items(rule, path, "clauses"):
                self._check_clause(clause, clause_path, None)
            self._check_serve(rule, path, "serve", n)
        self._check_serve(flag, base, "fallthrough", n)
        for path, prerequisite in self._items(flag, base, "prerequisites"):
            self._check_prerequisite(key, prerequisite, path)

    def _check_prerequisite(self, key: str, prerequisite: Mapping[str, Any], path: Path) -> None:
        target = self._field(prerequisite, path, "flag")
        if not isinstance(target, str):
            return
        if target == key:
            self.report((*path, "flag"), "a flag cannot be its own prerequisite")
        elif self.flag_keys is not None and target not in self.flag_keys:
            self.report((*path, "flag"), f"unknown flag {show(target)}")
            return
        else:
            self.prerequisite_edges.setdefault(key, []).append((target, (*path, "flag")))
        self._check_index(
            prerequisite, path, "variation", self.counts.get(target), None if target == key else target
        )

    def _check_index(
        self, obj: Mapping[str, Any], base: Path, name: str, n: int | None, owner: str | None = None
    ) -> None:
        index = self._field(obj, base, name)
        if n is None or not isinstance(index, int) or isinstance(index, bool) or 0 <= index < n:
            return
        whose = "the flag has" if owner is None else f"flag {show(owner)} has"
        self.report(
            (*base, name), f"variation {show(index)} is out of range: {whose} {_plural(n, 'variation')}"
        )

    def _check_serve(self, obj: Mapping[str, Any], base: Path, name: str, n: int | None) -> None:
        serve = obj.get(name)
        if not isinstance(serve, Mapping):
            return
        path = (*base, name)
        self._check_index(serve, path, "variation", n)
        rollout = serve.get("rollout")
        if not isinstance(rollout, Mapping):
            return
        path = (*path, "rollout")
        for entry_path, entry in self._items(rollout, path, "variations"):
            self._check_index(entry, entry_path, "variation", n)
        entries = self._field(rollout, path, "variations")
        if isinstance(entries, list):
            total = sum(entry["weight"] for entry in entries)
            if total != TOTAL_WEIGHT:
                self.report((*path, "variations"), f"weights must sum to {TOTAL_WEIGHT}, not {show(total)}")
        self._check_reference(rollout, path, "bucket_by")

    def _check_segment(self, key: str, segment: Mapping[str, Any], base: Path) -> None:
        self._check_key(segment, base, key)
        for path, rule in self._items(segment, base, "rules"):
            for clause_path, clause in self._items(rule, path, "clauses"):
                self._check_clause(clause, clause_path, key)
            self._check_reference(rule, path, "bucket_by")

    def _check_clause(self, clause: Mapping[str, Any], base: Path, segment: str | None) -> None:
        self._check_reference(clause, base, "attribute")
        op, values = self._field(clause, base, "op"), self._field(clause, base, "values")
        if not isinstance(op, str) or not isinstance(values, list):
            return
        try:
            operator = Op(op)
        except ValueError:  # the schema and the operator module disagree; the schema already spoke
            return
        for i, value in enumerate(values):
            path = (*base, "values", i)
            problem = value_problem(operator, value)
            if problem is not None:
                self.report(path, problem)
            elif op != "segment_match":
                continue
            elif not isinstance(value, str):
                self.report(path, f"must be a segment key, not {describe_type(value)}")
            elif self.segment_keys is not None and value not in self.segment_keys:
                self.report(path, f"unknown segment {show(value)}")
            elif segment is not None:
                self.segment_edges.setdefault(segment, []).append((value, path))

    def _check_reference(self, obj: Mapping[str, Any], base: Path, name: str) -> None:
        ref = self._field(obj, base, name)
        if not isinstance(ref, str) or parse_reference(ref) is not None:
            return
        segments = ref[1:].split("/")
        if ref == "/":
            why = 'a JSON pointer must name an attribute after the "/"'
        elif ref.startswith("/") and "" in segments:
            why = 'a JSON pointer cannot have an empty segment ("//" or a trailing "/")'
        elif ref.startswith("/"):
            why = '"~" must be followed by "0" (for "~") or "1" (for "/")'
        else:
            why = "not an attribute name or a JSON pointer"
        self.report((*base, name), f"invalid attribute reference {show(ref)}: {why}")


def _json_problem(value: object) -> str | None:
    """Why value is not plain JSON (a YAML date, NaN, a cycle...), or None; iterative, so depth is free."""
    on_path: set[int] = set()
    stack: list[tuple[object, bool]] = [(value, False)]
    while stack:
        item, leaving = stack.pop()
        if leaving:
            on_path.discard(id(item))
        elif item is None or isinstance(item, str | int):
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"is not JSON: {item!r} is not a JSON number"
        elif isinstance(item, list | Mapping):
            if id(item) in on_path:
                return "is not JSON: it contains itself"
            on_path.add(id(item))
            stack.append((item, True))
            if isinstance(item, list):
                stack.extend((element, False) for element in item)
                continue
            for k, v in item.items():
                if not isinstance(k, str):
                    return f"is not JSON: object keys must be strings, not {describe_type(k)}"
                stack.append((v, False))
        else:
            return f"is not JSON: it contains {describe_type(item)}"
    return None


def _cycles(edges: Edges, noun: str) -> Iterator[tuple[Path, str]]:
    """For every node on a cycle: where its step into the cycle is written, and the cycle from it."""
    for component in _strongly_connected(edges):
        members = set(component)
        if len(component) == 1:
            (node,) = component
            if not any(target == node for target, _ in edges.get(node, ())):
                continue
        # One search per cycle, not per member: every member of a found cycle reuses it, rotated, so a
        # ring of n flags costs O(n), not O(n^2).
        placed: dict[str, tuple[list[str], list[Path], int]] = {}
        for node in sorted(component):
            if node not in placed:
                found = _shortest_cycle(node, edges, members)
                if found is None:  # cannot happen inside a component; never raise over it
                    continue
                nodes, steps = found
                for k, member in enumerate(nodes):
                    placed.setdefault(member, (nodes, steps, k))
            nodes, steps, k = placed[node]
            yield steps[k], _render_cycle(nodes, k, noun)


def _render_cycle(nodes: list[str], start: int, noun: str) -> str:
    n = len(nodes)
    if n <= _CYCLE_SHOWN:
        return " -> ".join([*(nodes[(start + i) % n] for i in range(n)), nodes[start]])
    head = [nodes[(start + i) % n] for i in range(_CYCLE_SHOWN - 1)]
    return " -> ".join([*head, "...", nodes[(start - 1) % n], nodes[start]]) + f" ({n} {noun})"


def _shortest_cycle(start: str, edges: Edges, members: set[str]) -> tuple[list[str], list[Path]] | None:
    """The nodes of a shortest cycle from start (start first, not repeated) and where each step is."""
    parent: dict[str, tuple[str, Path]] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for target, where in edges.get(node, ()):
            if target == start:
                nodes, steps = [node], [where]
                while nodes[-1] != start:
                    previous, step = parent[nodes[-1]]
                    nodes.append(previous)
                    steps.append(step)
                nodes.reverse()
                steps.reverse()
                return nodes, steps
            if target in members and target not in seen:
                seen.add(target)
                parent[target] = (node, where)
                queue.append(target)
    return None


def _strongly_connected(edges: Edges) -> list[list[str]]:
    """Tarjan's algorithm, iterative so that a long prerequisite chain cannot exhaust the stack."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, 0)]
        while work:
            node, position = work[-1]
            successors = edges.get(node, [])
            if position < len(successors):
                work[-1] = (node, position + 1)
                target = successors[position][0]
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                caller = work[-1][0]
                low[caller] = min(low[caller], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(component)
    return out
