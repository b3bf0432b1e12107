"""vexil's evaluation benchmark (`make bench`): ns per evaluation beside a floor timed in the same process.

Two vexil contenders: the engine (`Snapshot.evaluate`) and the SDK's public `Client` with events on.

Scenarios, users and the floor are copied from ../shared/bench/peers_eval.py (never imported from it); the
answers are checked before any time is trusted. Env knobs: BENCH_USERS (default 10000), BENCH_S3_USERS
(default 1000), BENCH_REPS (default 7), BENCH_STRICT=1 (exit 1 when a target is missed).
"""

from __future__ import annotations

import gc
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import mmh3
from vexil_peer import ROLLOUT_PCT, RULE_COUNTRIES, RULE_EMAIL_SUFFIX, RULE_PLAN, Vexil, VexilClient

from vexil.engine import Context

N_USERS = int(os.environ.get("BENCH_USERS", "10000"))
N_USERS_S3 = int(os.environ.get("BENCH_S3_USERS", "1000"))
REPS = int(os.environ.get("BENCH_REPS", "7"))
STRICT = os.environ.get("BENCH_STRICT", "") not in ("", "0")
CHUNKS = 10  # user slices per repetition, interleaved across contenders
N_FLAGS_S3 = 50
COMMON_COUNTRIES = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "CA", "MX", "ES"]
COMMON_PLANS = ["free", "pro", "team"]

User = dict[str, str]
Flags = list[tuple[str, str]]
SCENARIOS: dict[str, tuple[str, Flags, float]] = {
    # name -> (description, flags, target ratio to the floor)
    "S1": ("one flag on, no rules", [("s1-simple", "simple")], 1.5),
    "S2": ("3 rules + 20% rollout", [("s2-rules", "rules")], 5.0),
    "S3": ("50 flags/user, evaluate_all", [(f"s3-flag-{i:02d}", "rules") for i in range(N_FLAGS_S3)], 3.0),
}
#: The SDK issue's targets for `Client` (public API, events on), as ratios to the floor.
CLIENT_TARGETS = {"S1": 2.0, "S2": 6.0, "S3": 3.0}
CONTEXT_TARGET_NS = 1000.0


def make_users(n: int, seed: int = 42) -> list[User]:
    """Exactly the peer bench's generator: the same seed gives the same users."""
    rnd = random.Random(seed)
    users = []
    for i in range(n):
        key = "user-%06d-%04x" % (i, rnd.getrandbits(16))  # noqa: UP031 -- kept byte-identical to the peers'
        r = rnd.random()
        country = rnd.choice(RULE_COUNTRIES) if r < 0.01 else rnd.choice(COMMON_COUNTRIES)
        plan = RULE_PLAN if rnd.random() < 0.02 else rnd.choice(COMMON_PLANS)
        if rnd.random() < 0.02:
            email = "u%d%s" % (i, RULE_EMAIL_SUFFIX)  # noqa: UP031
        else:
            email = "u%d@corp%d.io" % (i, rnd.randrange(50))  # noqa: UP031
        app_version = "%d.%d.%d" % (rnd.randrange(1, 4), rnd.randrange(0, 20), rnd.randrange(0, 10))  # noqa: UP031
        users.append(
            {"key": key, "country": country, "plan": plan, "email": email, "app_version": app_version}
        )
    return users


def rule_match(u: User) -> bool:
    return u["country"] in RULE_COUNTRIES or u["plan"] == RULE_PLAN or u["email"].endswith(RULE_EMAIL_SUFFIX)


class Contender(Protocol):
    name: str
    st: dict[str, Any]

    def setup(self, scn: str, flags: Sequence[tuple[str, str]], users: Sequence[User]) -> None: ...
    def runner(self, scn: str) -> Callable[[Sequence[Any]], None]: ...
    def values(self, scn: str, n: int) -> list[Any] | None: ...
    def contexts(self, scn: str) -> Sequence[Any]: ...


class Floor:
    """The peer bench's floor: dict lookup + 1 mmh3 hash + compare (no rules)."""

    name = "floor"

    def __init__(self) -> None:
        self.st: dict[str, tuple[dict[str, tuple[bytes, int]], list[str], list[bytes]]] = {}

    def setup(self, scn: str, flags: Sequence[tuple[str, str]], users: Sequence[User]) -> None:
        store = {k: ((k + ".").encode(), ROLLOUT_PCT * 100) for k, _ in flags}
        self.st[scn] = (store, [k for k, _ in flags], [u["key"].encode() for u in users])

    def contexts(self, scn: str) -> list[bytes]:
        return self.st[scn][-1]

    def runner(self, scn: str) -> Callable[[Sequence[bytes]], None]:
        store, keys, _ = self.st[scn]
        h = mmh3.hash

        def ev(key: str, ukey: bytes) -> bool:
            salt, thr = store[key]
            result: bool = h(salt + ukey, signed=False) % 10000 < thr
            return result

        if len(keys) == 1:
            k0 = keys[0]

            def run(ctxs: Sequence[bytes]) -> None:
                for c in ctxs:
                    ev(k0, c)

            return run

        def run_all(ctxs: Sequence[bytes]) -> None:
            for c in ctxs:
                for k in keys:
                    ev(k, c)

        return run_all

    def values(self, scn: str, n: int) -> None:
        return None  # not a semantic contender


def verify(c: Contender, scn: str, users: Sequence[User], n: int) -> str:
    """The peer bench's answer check; raises SystemExit when the answers are wrong."""
    vals = c.values(scn, n)
    if vals is None:
        return "n/a"
    if scn == "S1":
        bad = sum(1 for v in vals if v is not True)
        if bad:
            raise SystemExit(f"{c.name} S1: {bad} users did not get True")
        return f"all {n} True"
    per_user: list[list[Any]] = [[v] for v in vals] if scn == "S2" else vals
    rm_bad = nonrule_true = nonrule_total = total_true = total = 0
    for u, vs in zip(users[:n], per_user, strict=True):
        for v in vs:
            if v not in (True, False):
                raise SystemExit(f"{c.name} {scn}: non-bool result {v!r}")
            total += 1
            total_true += v
            if rule_match(u):
                rm_bad += v is not True
            else:
                nonrule_total += 1
                nonrule_true += v
    frac_nr = nonrule_true / nonrule_total
    frac = total_true / total
    tol = max(0.03, 4 * (0.16 / nonrule_total) ** 0.5)  # 4 standard deviations of binomial(p=0.2)
    if rm_bad:
        raise SystemExit(f"{c.name} {scn}: {rm_bad} rule-matching evaluations not True")
    if abs(frac_nr - 0.20) > tol:
        raise SystemExit(f"{c.name} {scn}: rollout fraction {frac_nr:.3f} not ~0.20")
    if not 0.18 - tol <= frac <= 0.32 + tol:
        raise SystemExit(f"{c.name} {scn}: True fraction {frac:.3f} implausible")
    return f"True {100 * frac:.1f}% (rollout-only users {100 * frac_nr:.1f}%, rule users all True)"


def time_scenario(
    contenders: Sequence[Contender], scn: str, n_users: int, evals: int
) -> dict[str, list[float]]:
    """Median-ready ns/eval per contender; each rep is cut into slices run by every contender in turn."""
    active = [(c, c.runner(scn)) for c in contenders]
    for c, run in active:  # warm-up, untimed
        run(c.contexts(scn)[: max(200, n_users // 10)])
    gc.collect()
    gc.freeze()  # collections stay on but only scan what evaluation allocates
    try:
        out: dict[str, list[float]] = {c.name: [] for c in contenders}
        for rep in range(REPS):
            tot = dict.fromkeys(out, 0)
            for ci in range(CHUNKS):
                lo, hi = ci * n_users // CHUNKS, (ci + 1) * n_users // CHUNKS
                r = (rep * CHUNKS + ci) % len(active)
                for c, run in active[r:] + active[:r]:
                    ctxs = c.contexts(scn)[lo:hi]
                    t0 = time.perf_counter_ns()
                    run(ctxs)
                    tot[c.name] += time.perf_counter_ns() - t0
            for name, ns in tot.items():
                out[name].append(ns / evals)
    finally:
        gc.unfreeze()
    return out


def time_context_build(users: Sequence[User]) -> list[float]:
    build = Context.from_dict
    out = []
    for _ in range(REPS):
        t0 = time.perf_counter_ns()
        for u in users:
            build(u)
        out.append((time.perf_counter_ns() - t0) / len(users))
    return out


def _row(
    label: str, who: str, floor_ns: str, vexil_ns: str, ratio: str, target: str, ok: bool
) -> tuple[str, ...]:
    return (label, who, floor_ns, vexil_ns, ratio, target, "ok" if ok else "MISSED")


def print_table(medians: dict[tuple[str, str], float], ctx_ns: float) -> int:
    """Print the aligned result table; returns how many targets were missed."""
    rows: list[tuple[str, ...]] = [
        ("scenario", "contender", "floor ns/eval", "vexil ns/eval", "ratio", "target", "verdict")
    ]
    for scn, (desc, _, engine_target) in SCENARIOS.items():
        fl = medians[(scn, Floor.name)]
        label = f"{scn} {desc}" + (" (per flag)" if scn == "S3" else "")
        for name, target in ((Vexil.name, engine_target), (VexilClient.name, CLIENT_TARGETS[scn])):
            vx = medians[(scn, name)]
            ratio = vx / fl
            rows.append(
                _row(
                    label,
                    name,
                    f"{fl:,.0f}",
                    f"{vx:,.0f}",
                    f"{ratio:.2f}x",
                    f"<= {target:g}x",
                    ratio <= target,
                )
            )
    target_ns = f"<= {CONTEXT_TARGET_NS:,.0f} ns"
    rows.append(
        _row(
            "Context.from_dict (ns/context)",
            "-",
            "-",
            f"{ctx_ns:,.0f}",
            "-",
            target_ns,
            ctx_ns <= CONTEXT_TARGET_NS,
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            *(cell.rjust(w) for cell, w in zip(row[1:-1], widths[1:-1], strict=True)),
        ]
        print("  ".join([*cells, row[-1]]))
    return sum(row[-1] == "MISSED" for row in rows)


def main() -> int:
    started = time.perf_counter()
    users_all = make_users(max(N_USERS, N_USERS_S3))
    engine, client = Vexil(), VexilClient()
    contenders: list[Contender] = [Floor(), engine, client]
    print(
        f"vexil eval benchmark: python {platform.python_version()} on {platform.platform()}, "
        f"cpus={os.cpu_count()}; users S1/S2={N_USERS}, S3={N_USERS_S3} x {N_FLAGS_S3} flags; "
        f"median of {REPS} reps, {CHUNKS} interleaved slices/rep, GC on (setup frozen)\n"
    )
    medians: dict[tuple[str, str], float] = {}
    spreads: list[str] = []
    checks: list[str] = []
    for scn, (_, flags, _) in SCENARIOS.items():
        n_users = N_USERS_S3 if scn == "S3" else N_USERS
        users = users_all[:n_users]
        for c in contenders:
            c.setup(scn, flags, users)
        n_check = min(n_users, 2000 if scn != "S3" else 400)
        checks.append(f"{scn} engine: {verify(engine, scn, users, n_check)}")
        checks.append(f"{scn} client: {verify(client, scn, users, n_check)}")
        for name, samples in time_scenario(contenders, scn, n_users, n_users * len(flags)).items():
            medians[(scn, name)] = statistics.median(samples)
            spreads.append(
                f"{scn} {name}: {min(samples):,.0f} / {statistics.median(samples):,.0f} / {max(samples):,.0f}"
            )
        print(f"  {scn} timed ({time.perf_counter() - started:.1f}s elapsed)", file=sys.stderr)
        for c in contenders:
            c.st.pop(scn, None)
        client.close()
        gc.collect()
    ctx_ns = statistics.median(time_context_build(users_all[:N_USERS]))

    missed = print_table(medians, ctx_ns)
    print("\nanswers checked before timing:")
    for line in checks:
        print(f"  {line}")
    print("\nspread, min / median / max ns per eval:")
    for line in spreads:
        print(f"  {line}")
    print(f"\n{missed} target(s) missed; total wall time {time.perf_counter() - started:.1f}s")
    return 1 if STRICT and missed else 0


if __name__ == "__main__":
    sys.exit(main())
