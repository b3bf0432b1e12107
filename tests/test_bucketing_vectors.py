"""Checks vexil's bucketing against the published test vectors in tests/bucketing_vectors.json.

The vectors were computed with mmh3 and hashlib directly from the contract's formulas; this module
re-derives them the same way (never through vexil) so a wrong vector cannot hide a wrong engine.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import mmh3
import pytest

from vexil.engine._bucketing import bucket

VECTORS = Path(__file__).resolve().parent / "bucketing_vectors.json"
NATIVE = "vexil-murmur3"
LAUNCHDARKLY = "launchdarkly-sha1"
SCALE = 100000
# The vexil-murmur3 formula ignores the flag key; any value shows that.
UNUSED_FLAG_KEY = "flag-key-is-not-used"


def _vectors() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return data


def _reference(vector: dict[str, Any]) -> int:
    """The contract's formulas, written out independently of vexil."""
    seed: int | None = vector.get("seed")
    value: str = vector["value"]
    if vector["algorithm"] == NATIVE:
        if seed is None:
            hash_seed = int(mmh3.hash(vector["salt"].encode("utf-8"), 0, signed=False))
        else:
            hash_seed = seed & 0xFFFFFFFF
        return int(mmh3.hash(value.encode("utf-8"), hash_seed, signed=False)) % SCALE
    assert vector["algorithm"] == LAUNCHDARKLY
    text = f"{seed}.{value}" if seed is not None else f"{vector['flag_key']}.{vector['salt']}.{value}"
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()
    return int(int(digest[:15], 16) / 0xFFFFFFFFFFFFFFF * SCALE)


def _params() -> list[Any]:
    return [
        pytest.param(
            v, id=f"{v['algorithm']}:{v.get('flag_key', '')}:{v['salt']}:{v.get('seed')}:{v['value']}"
        )
        for v in _vectors()
    ]


def test_vector_set_is_complete() -> None:
    vectors = _vectors()
    native = [v for v in vectors if v["algorithm"] == NATIVE]
    sha1 = [v for v in vectors if v["algorithm"] == LAUNCHDARKLY]
    assert len(native) >= 10 and len(sha1) >= 5
    assert len(native) + len(sha1) == len(vectors)
    assert any("seed" in v for v in native) and any("seed" not in v for v in native)
    assert any("seed" in v for v in sha1) and any("seed" not in v for v in sha1)
    assert all(0 <= v["bucket"] < SCALE for v in vectors)
    assert len({v["bucket"] for v in vectors}) == len(vectors)


@pytest.mark.parametrize("vector", _params())
def test_vector_matches_reference_formula(vector: dict[str, Any]) -> None:
    assert _reference(vector) == vector["bucket"]


@pytest.mark.parametrize("vector", _params())
def test_engine_bucket_matches_vector(vector: dict[str, Any]) -> None:
    flag_key = vector.get("flag_key", UNUSED_FLAG_KEY)
    got = bucket(vector["algorithm"], vector["salt"], vector.get("seed"), vector["value"], flag_key)
    assert type(got) is int
    assert got == vector["bucket"]
