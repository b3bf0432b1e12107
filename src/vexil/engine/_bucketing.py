"""Bucketing algorithms: map (salt, value) to a bucket in [0, 100000) for percentage rollouts.

Pure functions plus a registry; see docs/bucketing.md. Adding a vendor's algorithm is one factory here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import mmh3

BUCKETS = 100_000
NATIVE = "vexil-murmur3"
LAUNCHDARKLY = "launchdarkly-sha1"

# A hasher maps a bucketable string to a bucket; factories bind the per-flag constants once at load.
Hasher = Callable[[str], int]
HasherFactory = Callable[[str, str, "int | None"], Hasher]


def native_seed(salt: str, seed: int | None) -> int:
    """murmur3's seed for a rollout: its own `seed`, else the hash of the salt."""
    # The salt is hashed once at load into murmur3's seed, so evaluation hashes only the value:
    # no string concatenation on the hot path, and different salts give independent buckets.
    return (seed & 0xFFFFFFFF) if seed is not None else int(mmh3.hash(salt, 0, signed=False))


def _native(key: str, salt: str, seed: int | None) -> Hasher:
    h = mmh3.hash
    s = native_seed(salt, seed)

    def bucket(value: str) -> int:
        return int(h(value, s, signed=False) % BUCKETS)

    return bucket


_LD_SCALE = float(0xFFFFFFFFFFFFFFF)


def _launchdarkly(key: str, salt: str, seed: int | None) -> Hasher:
    prefix = f"{seed}." if seed is not None else f"{key}.{salt}."
    sha1 = hashlib.sha1

    def bucket(value: str) -> int:
        digest = sha1((prefix + value).encode(), usedforsecurity=False).hexdigest()
        # LaunchDarkly compares the float fraction against weight/100000; scaling and flooring keeps
        # `bucket < cumulative weight` equivalent to LaunchDarkly's `fraction < weight / 100000`.
        return int(int(digest[:15], 16) / _LD_SCALE * BUCKETS)

    return bucket


ALGORITHMS: dict[str, HasherFactory] = {NATIVE: _native, LAUNCHDARKLY: _launchdarkly}


def hasher(algorithm: str, key: str, salt: str, seed: int | None) -> Hasher:
    """Return the bucket function for one rollout; raises KeyError for an unknown algorithm."""
    return ALGORITHMS[algorithm](key, salt, seed)


def bucket(algorithm: str, salt: str, seed: int | None, value: str, flag_key: str) -> int:
    """One-off bucket computation (tests, docs and tools; the engine binds hashers at load)."""
    return hasher(algorithm, flag_key, salt, seed)(value)


def bucketable(value: object) -> str | None:
    """The string a context attribute buckets as: strings as-is, integers in decimal, else None."""
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[return-value]
    if cls is int:
        return str(value)
    if cls is float and value.is_integer():  # type: ignore[attr-defined]
        return str(int(value))  # type: ignore[call-overload]
    return None
