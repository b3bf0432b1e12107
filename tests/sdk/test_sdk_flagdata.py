"""Applying put/patch/delete by the protocol's version rules: newer wins, deletes leave tombstones."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vexil.engine import ErrorKind
from vexil.protocol import Delete, ItemKind, Message, Patch, Put
from vexil.sdk._flagdata import FlagData

CTX = {"key": "u1"}


def flag(value: Any, version: int) -> dict[str, Any]:
    return {"on": True, "variations": [value], "fallthrough": {"variation": 0}, "version": version}


def value(data: FlagData, key: str) -> Any:
    return data.snapshot.evaluate(key, CTX).value


def test_a_new_holder_has_no_version() -> None:
    assert FlagData().version is None


def test_put_replaces_everything_and_sets_the_version() -> None:
    data = FlagData()
    assert len(data.snapshot) == 0
    assert data.apply(Put(5, {"flags": {"a": flag(1, 4), "b": flag(2, 5)}, "segments": {}}))
    assert (value(data, "a"), value(data, "b"), data.version) == (1, 2, 5)
    assert data.current_version(ItemKind.FLAG, "a") == 4
    assert data.apply(Put(2, {"flags": {"c": flag(3, 1)}}))  # a put is accepted at any time, any version
    assert "a" not in data.snapshot and value(data, "c") == 3 and data.version == 2


def test_patch_applies_only_when_newer() -> None:
    data = FlagData()
    data.apply(Put(5, {"flags": {"a": flag("old", 5)}}))
    assert not data.apply(Patch(5, ItemKind.FLAG, "a", flag("same", 5)))
    assert not data.apply(Patch(3, ItemKind.FLAG, "a", flag("older", 3)))
    assert value(data, "a") == "old"
    assert data.apply(Patch(6, ItemKind.FLAG, "a", flag("new", 6)))
    assert value(data, "a") == "new" and data.version == 6
    assert data.apply(Patch(7, ItemKind.FLAG, "b", flag("created", 7)))
    assert value(data, "b") == "created"


def test_a_delete_leaves_a_tombstone_that_blocks_older_patches() -> None:
    data = FlagData()
    data.apply(Put(5, {"flags": {"a": flag("x", 5)}}))
    assert data.apply(Delete(8, ItemKind.FLAG, "a"))
    assert "a" not in data.snapshot
    assert data.tombstones == {(ItemKind.FLAG, "a"): 8}
    assert not data.apply(Patch(7, ItemKind.FLAG, "a", flag("late", 7)))  # would resurrect it
    assert not data.apply(Delete(8, ItemKind.FLAG, "a"))
    assert data.snapshot.evaluate("a", CTX).reason.error_kind is ErrorKind.FLAG_NOT_FOUND
    assert data.apply(Patch(9, ItemKind.FLAG, "a", flag("recreated", 9)))
    assert value(data, "a") == "recreated" and not data.tombstones


def test_a_delete_of_an_unknown_item_still_records_its_tombstone() -> None:
    data = FlagData()
    assert data.apply(Delete(3, ItemKind.FLAG, "ghost"))
    assert not data.apply(Patch(2, ItemKind.FLAG, "ghost", flag(1, 2)))


def test_a_put_forgets_tombstones() -> None:
    data = FlagData()
    data.apply(Delete(9, ItemKind.FLAG, "a"))
    data.apply(Put(1, {"flags": {}}))
    assert data.apply(Patch(2, ItemKind.FLAG, "a", flag(1, 2)))


def test_segments_have_their_own_versions_and_change_evaluation() -> None:
    flag_doc = {
        "on": True,
        "variations": [False, True],
        "fallthrough": {"variation": 0},
        "rules": [{"clauses": [{"op": "segment_match", "values": ["beta"]}], "serve": {"variation": 1}}],
        "version": 1,
    }
    data = FlagData()
    data.apply(Put(1, {"flags": {"f": flag_doc, "beta": flag(0, 1)}, "segments": {}}))
    assert value(data, "f") is False
    assert data.apply(Patch(2, ItemKind.SEGMENT, "beta", {"included": ["u1"], "version": 2}))
    assert value(data, "f") is True
    assert data.current_version(ItemKind.FLAG, "beta") == 1  # a flag of the same key is a different item
    assert data.apply(Delete(3, ItemKind.SEGMENT, "beta"))
    assert value(data, "f") is False


def test_items_without_a_version_are_older_than_any_patch() -> None:
    data = FlagData()
    data.apply(Put(0, {"flags": {"a": {"on": True, "variations": [1], "fallthrough": {"variation": 0}}}}))
    assert data.current_version(ItemKind.FLAG, "a") == -1
    assert data.apply(Patch(0, ItemKind.FLAG, "a", flag(2, 0)))


def test_a_malformed_item_evaluates_to_malformed_flag_without_hiding_the_others() -> None:
    data = FlagData()
    data.apply(
        Put(1, {"flags": {"good": flag(1, 1), "bad": {"on": True, "variations": "nope", "version": 1}}})
    )
    assert value(data, "good") == 1
    assert data.snapshot.evaluate("bad", CTX).reason.error_kind is ErrorKind.MALFORMED_FLAG


# -- model-based: any sequence of messages ends where "newest version per item wins" says ---------------

KEYS = ["a", "b", "c"]
messages = st.lists(
    st.one_of(
        st.builds(
            lambda v, k, x: Patch(v, ItemKind.FLAG, k, flag(x, v)),
            st.integers(0, 20),
            st.sampled_from(KEYS),
            st.integers(0, 99),
        ),
        st.builds(lambda v, k: Delete(v, ItemKind.FLAG, k), st.integers(0, 20), st.sampled_from(KEYS)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_the_result_matches_a_model_of_the_version_rules(sequence: list[Message]) -> None:
    data = FlagData()
    data.apply(Put(0, {"flags": {}}))
    model: dict[str, tuple[int, Any]] = {}  # key -> (version, value or None when deleted)
    for message in sequence:
        assert isinstance(message, Patch | Delete)
        held = model.get(message.key, (-1, None))[0]
        changed = data.apply(message)
        assert changed == (message.version > held)
        if changed:
            model[message.key] = (
                message.version,
                message.item["variations"][0] if isinstance(message, Patch) else None,
            )
    for key in KEYS:
        version, expected = model.get(key, (-1, None))
        if expected is None:
            assert key not in data.snapshot
        else:
            assert value(data, key) == expected
        assert data.current_version(ItemKind.FLAG, key) == version
