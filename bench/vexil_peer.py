"""vexil as contenders of the shared peer benchmark (its header): `PEERS_EXTRA=bench.vexil_peer:Vexil` and
`bench.vexil_peer:VexilClient`, comma-separated.

Writes the peers' S1/S2/S3 flags in vexil's format and evaluates them through the engine (`Vexil`) and
through the SDK's public `Client` (`VexilClient`); timing and answer checks stay in the harness.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from vexil.engine import Context, Snapshot
from vexil.sdk import Client

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


def _fake_server(document: Mapping[str, Any]) -> httpx.MockTransport:
    """The SDK endpoints in process: the snapshot for the client to poll once, and 202 for event batches."""
    body = json.dumps({"version": 1, "document": document}).encode()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/sdk/v1/snapshot":
            return httpx.Response(
                200, content=body, headers={"content-type": "application/json", "etag": '"1"'}
            )
        if request.url.path == "/events/v1/bulk":
            request.read()
            return httpx.Response(202, json={"accepted": 1})
        return httpx.Response(404)

    return httpx.MockTransport(handle)


class VexilClient(Vexil):
    """`vexil.Client` through its public API with events on: what an application actually calls."""

    name = "vexil-client"
    note = (
        "vexil.Client (public API, events on: counters + background sender) fed by an in-process fake "
        "server; S1/S2 client.bool(key, Context, False); S3 client.all_flags(Context)"
    )

    def __init__(self) -> None:
        super().__init__()
        self.clients: dict[str, Client] = {}

    def setup(self, scn: str, flags: Sequence[tuple[str, str]], users: Sequence[Mapping[str, Any]]) -> None:
        client = Client(
            "vxs_bench",
            "http://bench.invalid",
            stream=False,  # the data source does not touch evaluation; polling once keeps the fake simple
            poll_interval=3600,
            transport=_fake_server(flag_document(flags)),
        )
        if not client.wait_until_ready(5):
            raise SystemExit(f"vexil-client {scn}: not ready: {client.status()}")
        self.clients[scn] = client
        build = self.ctx_fn(scn)
        self.st[scn] = (client.snapshot, [key for key, _ in flags], [build(user) for user in users])

    def runner(self, scn: str) -> Run:
        client = self.clients[scn]
        _, keys, _ = self.st[scn]
        if len(keys) == 1:
            k0 = keys[0]
            variation = client.bool

            def run(ctxs: Sequence[Context]) -> None:
                for c in ctxs:
                    variation(k0, c, False)

            return run
        all_flags = client.all_flags

        def run_all(ctxs: Sequence[Context]) -> None:
            for c in ctxs:
                all_flags(c)

        return run_all

    def values(self, scn: str, n: int) -> list[Any]:
        client = self.clients[scn]
        _, keys, ctxs = self.st[scn]
        if len(keys) == 1:
            return [client.bool(keys[0], c, False) for c in ctxs[:n]]
        out: list[Any] = []
        for c in ctxs[:n]:
            values = client.all_flags(c)
            out.append([values[k] for k in keys])
        return out

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()
