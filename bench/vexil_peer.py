"""vexil as a contender of the shared peer benchmark: `PEERS_EXTRA=bench.vexil_peer:Vexil` (see its header).

Writes the peers' S1/S2/S3 flags in vexil's format and evaluates them; timing and checks stay in the harness.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vexil.engine import Context, Snapshot

RULE_COUNTRIES = ("NZ", "IS", "LU")
RULE_PLAN = "enterprise"
RULE_EMAIL_SUFFIX = "@example.com"
ROLLOUT_PCT = 20

Run = Callable[[Sequence[Context]], None]


def vexil_flag(kind: str) -> dict[str, Any]:
    """S1 "simple": on, serves True; S2 "rules": three rules to True, then a 20% rollout to True."""
    flag: dict[str, Any] = {
        "on": True,
        "variations": [True, False],
        "off_variation": 1,
        "fallthrough": {"variation": 0},
    }
    if kind == "simple":
        return flag
    clauses = [
        {"attribute": "country", "op": "in", "values": list(RULE_COUNTRIES)},
        {"attribute": "plan", "op": "in", "values": [RULE_PLAN]},
        {"attribute": "email", "op": "ends_with", "values": [RULE_EMAIL_SUFFIX]},
    ]
    flag["rules"] = [
        {"id": f"r-{clause['attribute']}", "clauses": [clause], "serve": {"variation": 0}}
        for clause in clauses
    ]
    flag["fallthrough"] = {
        "rollout": {
            "variations": [
                {"variation": 0, "weight": ROLLOUT_PCT * 1000},
                {"variation": 1, "weight": (100 - ROLLOUT_PCT) * 1000},
            ]
        }
    }
    return flag


def flag_document(flags: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"flags": {key: vexil_flag(kind) for key, kind in flags}}


class Vexil:
    """The peer-bench contender interface: setup, runner, values, ctx_fn, close (no base class needed)."""

    name = "vexil"
    pkg: str | None = "vexil"
    bulk = True
    note = "Snapshot.from_document(dict) compiled once; S1/S2 evaluate(key, Context); S3 = evaluate_all()"
    time_ctx = True

    def __init__(self) -> None:
        self.st: dict[str, tuple[Snapshot, list[str], list[Context]]] = {}

    def ctx_fn(self, scn: str) -> Callable[[Mapping[str, Any]], Context]:
        return Context.from_dict

    def setup(self, scn: str, flags: Sequence[tuple[str, str]], users: Sequence[Mapping[str, Any]]) -> None:
        snapshot = Snapshot.from_document(flag_document(flags))
        build = self.ctx_fn(scn)
        self.st[scn] = (snapshot, [key for key, _ in flags], [build(user) for user in users])

    def contexts(self, scn: str) -> list[Context]:
        return self.st[scn][-1]

    def runner(self, scn: str) -> Run:
        snapshot, keys, _ = self.st[scn]
        if len(keys) == 1:
            k0 = keys[0]
            ev = snapshot.evaluate

            def run(ctxs: Sequence[Context]) -> None:
                for c in ctxs:
                    ev(k0, c)

            return run
        ev_all = snapshot.evaluate_all

        def run_all(ctxs: Sequence[Context]) -> None:
            for c in ctxs:
                ev_all(c)

        return run_all

    def values(self, scn: str, n: int) -> list[Any]:
        snapshot, keys, ctxs = self.st[scn]
        if len(keys) == 1:
            return [snapshot.evaluate(keys[0], c).value for c in ctxs[:n]]
        out: list[Any] = []
        for c in ctxs[:n]:
            results = snapshot.evaluate_all(c)
            out.append([results[k].value for k in keys])
        return out

    def close(self) -> None:
        pass
