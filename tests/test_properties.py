"""Property tests of the engine: determinism, rollout distribution, monotonic growth and independence.

Statistical checks use a 4-sigma binomial tolerance and derandomized Hypothesis examples, so a run is
reproducible: the same inputs always hash the same way and either always pass or always fail.
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vexil.engine import Snapshot
from vexil.engine._bucketing import bucket

NATIVE = "vexil-murmur3"
LAUNCHDARKLY = "launchdarkly-sha1"
SCALE = 100000
SIGMAS = 4  # two-sided tail of a normal beyond 4 sigma: 6.3e-5 per check
N_KEYS = 20000

# Statistical tests are deterministic functions of their examples: derandomize so every run draws the same.
STATISTICAL = settings(max_examples=4, derandomize=True, database=None, deadline=None)
PROPERTY = settings(max_examples=60, derandomize=True, database=None, deadline=None)

FLAG_KEYS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,30}", fullmatch=True)
SALTS = st.text(max_size=20)
CONTEXT_KEYS = st.text(min_size=1, max_size=20)


def _clause(attribute: str, op: str, values: list[Any], **extra: Any) -> dict[str, Any]:
    return {"attribute": attribute, "op": op, "values": values, **extra}


def _rollout(weights: list[tuple[int, int]], **extra: Any) -> dict[str, Any]:
    return {"rollout": {"variations": [{"variation": v, "weight": w} for v, w in weights], **extra}}


RICH_DOCUMENT: dict[str, Any] = {
    "segments": {
        "half-of-europe": {"rules": [{"clauses": [_clause("country", "in", ["fr", "de"])], "weight": 50000}]},
    },
    "flags": {
        "three-way": {
            "variations": ["a", "b", "c"],
            "on": True,
            "fallthrough": _rollout([(0, 20000), (1, 30000), (2, 50000)]),
        },
        "by-email": {
            "variations": [1, 2],
            "on": True,
            "fallthrough": _rollout([(0, 50000), (1, 50000)], bucket_by="email"),
        },
        "experiment": {
            "variations": ["control", "treatment"],
            "on": True,
            "fallthrough": {
                "rollout": {
                    "kind": "experiment",
                    "variations": [
                        {"variation": 0, "weight": 40000},
                        {"variation": 1, "weight": 60000, "untracked": True},
                    ],
                }
            },
        },
        "sha1-seeded": {
            "variations": [True, False],
            "on": True,
            "fallthrough": _rollout([(0, 33333), (1, 66667)], algorithm=LAUNCHDARKLY, seed=7),
        },
        "by-org": {
            "variations": ["x", "y"],
            "on": True,
            "fallthrough": _rollout([(0, 25000), (1, 75000)], context_kind="org"),
        },
        "rules": {
            "variations": ["r0", "r1", "r2", "r3", "fall"],
            "on": True,
            "targets": [{"variation": 4, "values": ["vip"]}],
            "rules": [
                {
                    "clauses": [{"op": "segment_match", "values": ["half-of-europe"]}],
                    "serve": {"variation": 0},
                },
                {
                    "clauses": [_clause("email", "matches", ["@example\\.(com|org)$"])],
                    "serve": {"variation": 1},
                },
                {
                    "clauses": [_clause("age", "gte", [18]), _clause("version", "semver_lt", ["2.0.0"])],
                    "serve": {"variation": 2},
                },
                {
                    "clauses": [_clause("groups", "starts_with", ["beta"], negate=True)],
                    "serve": _rollout([(3, 50000), (4, 50000)]),
                },
            ],
            "fallthrough": {"variation": 4},
        },
    },
}

USERS = st.fixed_dictionaries(
    {"key": CONTEXT_KEYS},
    optional={
        "email": st.text(max_size=12) | st.sampled_from(["a@example.com", "b@example.org"]),
        "country": st.sampled_from(["fr", "de", "us"]),
        "age": st.integers(-5, 120) | st.floats(allow_nan=False, allow_infinity=False),
        "version": st.sampled_from(["1.0.0", "2.1", "1.5.0-rc.1", "x"]),
        "groups": st.lists(st.sampled_from(["beta", "alpha", "gamma"]), max_size=3),
    },
)
CONTEXTS = USERS | st.builds(
    lambda user, org: {"kind": "multi", "user": user, "org": org},
    USERS,
    st.fixed_dictionaries({"key": CONTEXT_KEYS}),
)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _rollout_flag(weights: list[tuple[int, int]], salt: str | None = None, **extra: Any) -> dict[str, Any]:
    flag: dict[str, Any] = {
        "variations": ["on", "off", "third"],
        "on": True,
        "fallthrough": _rollout(weights, **extra),
    }
    if salt is not None:
        flag["salt"] = salt
    return flag


def _tolerance(n: int, p: float) -> float:
    return SIGMAS * math.sqrt(n * p * (1 - p))


# -- determinism


@functools.cache
def _rich_snapshot(copy: int) -> Snapshot:
    """Snapshot number `copy` of RICH_DOCUMENT, each built from its own deep copy of the document."""
    return Snapshot.from_document(json.loads(json.dumps(RICH_DOCUMENT)))


@PROPERTY
@given(context=CONTEXTS)
def test_same_snapshot_same_answer(context: dict[str, Any]) -> None:
    snap = _rich_snapshot(0)
    first = {k: r.to_dict() for k, r in snap.evaluate_all(context).items()}
    second = {k: snap.evaluate(k, context).to_dict() for k in RICH_DOCUMENT["flags"]}
    assert _canonical(first) == _canonical(second)
    assert _canonical(first) == _canonical({k: r.to_dict() for k, r in snap.evaluate_all(context).items()})


@PROPERTY
@given(context=CONTEXTS)
def test_two_snapshots_of_one_document_agree(context: dict[str, Any]) -> None:
    one, two = _rich_snapshot(1), _rich_snapshot(2)
    assert one is not two
    for key in RICH_DOCUMENT["flags"]:
        assert _canonical(one.evaluate(key, context).to_dict()) == _canonical(
            two.evaluate(key, context).to_dict()
        )


_CHILD = """
import json, sys
from vexil.engine import Snapshot
from vexil.engine._bucketing import bucket
job = json.load(sys.stdin)
snap = Snapshot.from_document(job["document"])
json.dump({
    "buckets": [bucket(a, salt, seed, value, key) for a, salt, seed, value, key in job["buckets"]],
    "results": [{k: r.to_dict() for k, r in snap.evaluate_all(c).items()} for c in job["contexts"]],
}, sys.stdout, sort_keys=True)
"""


def _determinism_job() -> dict[str, Any]:
    buckets: list[tuple[str, str, int | None, str, str]] = []
    for i in range(200):
        value = f"user-{i}-ü"
        if i % 4 == 0:
            buckets.append((NATIVE, "det-salt", None, value, "det-flag"))
        elif i % 4 == 1:
            buckets.append((NATIVE, "det-salt", -i * 7919, value, "det-flag"))
        elif i % 4 == 2:
            buckets.append((LAUNCHDARKLY, "det-salt", None, value, "det-flag"))
        else:
            buckets.append((LAUNCHDARKLY, "det-salt", i, value, "det-flag"))
    contexts = [
        {"key": f"u{i}", "email": f"u{i}@example.com", "country": ["fr", "de", "us"][i % 3], "age": i}
        for i in range(100)
    ]
    contexts += [{"kind": "multi", "user": {"key": f"u{i}"}, "org": {"key": f"o{i}"}} for i in range(100)]
    return {"document": RICH_DOCUMENT, "buckets": buckets, "contexts": contexts}


def _in_process(job: dict[str, Any]) -> dict[str, Any]:
    snap = Snapshot.from_document(job["document"])
    out = {
        "buckets": [bucket(a, salt, seed, value, key) for a, salt, seed, value, key in job["buckets"]],
        "results": [{k: r.to_dict() for k, r in snap.evaluate_all(c).items()} for c in job["contexts"]],
    }
    parsed: dict[str, Any] = json.loads(_canonical(out))
    return parsed


@pytest.mark.parametrize("hash_seed", ["1", "4242"])
def test_fresh_process_agrees(hash_seed: str) -> None:
    job = _determinism_job()
    # A different PYTHONHASHSEED in the child catches any dependence on hash() or set/dict order of str.
    child = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        timeout=90,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
    )
    theirs = json.loads(child.stdout)
    ours = _in_process(job)
    assert len(theirs["buckets"]) == 200
    assert theirs == ours
    assert len(set(theirs["buckets"])) > 190  # 200 draws from 100000 buckets rarely collide


# -- distribution


@pytest.mark.parametrize("algorithm", [NATIVE, LAUNCHDARKLY])
@STATISTICAL
@given(salt=SALTS, prefix=st.text(max_size=6))
def test_rollout_distribution(algorithm: str, salt: str, prefix: str) -> None:
    weights = [(0, 20000), (1, 30000), (2, 50000)]
    snap = Snapshot.from_document({"flags": {"dist": _rollout_flag(weights, salt=salt, algorithm=algorithm)}})
    counts = [0, 0, 0]
    for i in range(N_KEYS):
        variation = snap.evaluate("dist", {"key": f"{prefix}{i}"}).variation
        assert variation is not None
        counts[variation] += 1
    for variation, weight in weights:
        p = weight / SCALE
        # Under a uniform hash each count is Binomial(N_KEYS, p); 4 sigma is 226, 259 and 283 keys here.
        assert abs(counts[variation] - N_KEYS * p) <= _tolerance(N_KEYS, p), (counts, salt, prefix)


# -- monotonic growth


@pytest.mark.parametrize("on_first", [True, False])
@PROPERTY
@given(
    a=st.integers(0, SCALE),
    b=st.integers(0, SCALE),
    salt=SALTS,
    extra_keys=st.lists(CONTEXT_KEYS, max_size=30),
)
def test_raising_the_percentage_never_removes_anyone(
    on_first: bool, a: int, b: int, salt: str, extra_keys: list[str]
) -> None:
    low, high = sorted((a, b))

    def weights(p: int) -> list[tuple[int, int]]:
        # variation 0 is "on", variation 1 is "off"; on_first decides which comes first in the rollout
        return [(0, p), (1, SCALE - p)] if on_first else [(1, SCALE - p), (0, p)]

    snap = Snapshot.from_document(
        {
            "flags": {
                "at-low": _rollout_flag(weights(low), salt=salt),
                "at-high": _rollout_flag(weights(high), salt=salt),
            }
        }
    )
    keys = [f"k{i}" for i in range(1000)] + extra_keys
    on_low = {k for k in keys if snap.evaluate("at-low", {"key": k}).value == "on"}
    on_high = {k for k in keys if snap.evaluate("at-high", {"key": k}).value == "on"}
    assert on_low <= on_high, sorted(on_low - on_high)[:5]
    if low == 0:
        assert not on_low
    if high == SCALE:
        assert on_high == set(keys)


# -- independence


@STATISTICAL
@given(
    keys=st.tuples(FLAG_KEYS, FLAG_KEYS).filter(lambda pair: pair[0] != pair[1]), prefix=st.text(max_size=6)
)
def test_two_flags_bucket_independently(keys: tuple[str, str], prefix: str) -> None:
    first, second = keys
    half = [(0, 50000), (1, 50000)]
    snap = Snapshot.from_document({"flags": {first: _rollout_flag(half), second: _rollout_flag(half)}})
    contexts = [{"key": f"{prefix}{i}"} for i in range(N_KEYS)]
    both = sum(
        1
        for c in contexts
        if snap.evaluate(first, c).variation == 0 and snap.evaluate(second, c).variation == 0
    )
    # Independent 50% rollouts: both-on is Binomial(N_KEYS, 1/4); 4 sigma is 245 keys.
    assert abs(both - N_KEYS / 4) <= _tolerance(N_KEYS, 0.25), (both, keys, prefix)

    xs = [bucket(NATIVE, first, None, c["key"], first) for c in contexts]
    ys = [bucket(NATIVE, second, None, c["key"], second) for c in contexts]
    # Pearson's r of independent samples has standard deviation about 1/sqrt(n): 4 sigma is 0.028.
    assert abs(_correlation(xs, ys)) <= SIGMAS / math.sqrt(N_KEYS), keys


def _correlation(xs: list[int], ys: list[int]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    return cov / math.sqrt(vx * vy)
