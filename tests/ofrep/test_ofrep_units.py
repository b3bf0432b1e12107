"""OFREP building blocks without HTTP: context and result mapping, rate limiter, stream links, settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ofrep_spec import component

from vexil.engine import Context, ErrorKind, Reason, ReasonKind, Result, Snapshot
from vexil.protocol import Put, encode_json
from vexil.server import ServerSettings, SettingsError
from vexil.server._hub import CachedSnapshot
from vexil.server._ofrep_cache import compile_view
from vexil.server._ofrep_codes import OfrepErrorCode, OfrepReason, OfrepRequestError
from vexil.server._ofrep_context import parse_body, request_context, to_vexil
from vexil.server._ofrep_limit import RateLimiter
from vexil.server._ofrep_links import StreamLinks
from vexil.server._ofrep_results import FlagInfo
from vexil.server._ofrep_settings import OfrepSettings


def code_of(body: bytes) -> OfrepErrorCode:
    with pytest.raises(OfrepRequestError) as raised:
        to_vexil(request_context(parse_body(body)))
    return raised.value.code


def test_single_context_maps_targeting_key_to_key_and_keeps_attributes() -> None:
    context = to_vexil({"targetingKey": "u1", "key": "ignored", "email": "a@b.c", "nested": {"plan": "pro"}})
    assert context.kinds == {"user": {"key": "u1", "email": "a@b.c", "nested": {"plan": "pro"}}}
    org = to_vexil({"targetingKey": "o1", "kind": "org", "tier": 2})
    assert org.kinds == {"org": {"key": "o1", "kind": "org", "tier": 2}}


def test_multi_context_takes_each_kind_key_from_its_own_targeting_key_or_key() -> None:
    context = to_vexil(
        {
            "kind": "multi",
            "targetingKey": "top-level-is-not-a-kind",
            "user": {"targetingKey": "u1", "email": "x@y.z"},
            "org": {"key": "o1", "kind": "org"},
        }
    )
    assert context.kinds == {"user": {"key": "u1", "email": "x@y.z"}, "org": {"key": "o1"}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", OfrepErrorCode.PARSE_ERROR),
        (b"{", OfrepErrorCode.PARSE_ERROR),
        (b"[1]", OfrepErrorCode.PARSE_ERROR),
        (b'{"context": NaN}', OfrepErrorCode.PARSE_ERROR),
        (b"{}", OfrepErrorCode.TARGETING_KEY_MISSING),
        (b'{"context": null}', OfrepErrorCode.TARGETING_KEY_MISSING),
        (b'{"context": {"targetingKey": ""}}', OfrepErrorCode.TARGETING_KEY_MISSING),
        (b'{"context": {"kind": "multi", "user": {"plan": "x"}}}', OfrepErrorCode.TARGETING_KEY_MISSING),
        (b'{"context": "u1"}', OfrepErrorCode.INVALID_CONTEXT),
        (b'{"context": {"targetingKey": 7}}', OfrepErrorCode.INVALID_CONTEXT),
        (b'{"context": {"targetingKey": "u", "kind": "no spaces"}}', OfrepErrorCode.INVALID_CONTEXT),
        (b'{"context": {"targetingKey": "u", "kind": "kind"}}', OfrepErrorCode.INVALID_CONTEXT),
        (b'{"context": {"kind": "multi", "user": "u1"}}', OfrepErrorCode.INVALID_CONTEXT),
        (b'{"context": {"kind": "multi", "targetingKey": "u1"}}', OfrepErrorCode.INVALID_CONTEXT),
    ],
)
def test_request_errors_have_the_ofrep_code(body: bytes, code: OfrepErrorCode) -> None:
    assert code_of(body) is code


def _info(flag: dict[str, object]) -> tuple[FlagInfo, Snapshot]:
    snapshot = Snapshot.from_document({"flags": {"f": flag}}, strict=False)
    return FlagInfo.from_document("f", snapshot.flags["f"]), snapshot


def test_reasons_follow_the_documented_table() -> None:
    rollout = {
        "rollout": {"variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}
    }
    info, _ = _info(
        {
            "variations": ["a", "b"],
            "on": True,
            "rules": [
                {"clauses": [{"attribute": "k", "op": "in", "values": [1]}], "serve": {"variation": 1}},
                {"clauses": [{"attribute": "k", "op": "in", "values": [2]}], "serve": rollout},
            ],
            "fallthrough": {"variation": 0},
        }
    )
    assert info.reason(Reason(ReasonKind.OFF)) is OfrepReason.DISABLED
    assert info.reason(Reason(ReasonKind.TARGET_MATCH)) is OfrepReason.TARGETING_MATCH
    assert info.reason(Reason(ReasonKind.RULE_MATCH, rule_index=0)) is OfrepReason.TARGETING_MATCH
    assert info.reason(Reason(ReasonKind.RULE_MATCH, rule_index=1)) is OfrepReason.SPLIT
    assert (
        info.reason(Reason(ReasonKind.PREREQUISITE_FAILED, prerequisite_key="p"))
        is OfrepReason.TARGETING_MATCH
    )
    assert info.reason(Reason(ReasonKind.FALLTHROUGH)) is OfrepReason.UNKNOWN
    static, _ = _info({"variations": ["a"], "on": True, "fallthrough": {"variation": 0}})
    assert static.reason(Reason(ReasonKind.FALLTHROUGH)) is OfrepReason.STATIC
    split, _ = _info({"variations": ["a", "b"], "on": True, "fallthrough": rollout})
    assert split.reason(Reason(ReasonKind.FALLTHROUGH)) is OfrepReason.SPLIT


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ErrorKind.MALFORMED_FLAG, 400, "PARSE_ERROR"),
        (ErrorKind.FLAG_NOT_FOUND, 404, "FLAG_NOT_FOUND"),
        (ErrorKind.USER_NOT_SPECIFIED, 400, "INVALID_CONTEXT"),
        (ErrorKind.WRONG_TYPE, 400, "GENERAL"),
        (ErrorKind.EXCEPTION, 400, "GENERAL"),
    ],
)
def test_engine_errors_become_failures(error: ErrorKind, status: int, code: str) -> None:
    info, _ = _info({"variations": [1], "on": True, "fallthrough": {"variation": 0}, "description": "d"})
    got_status, item = info.to_ofrep(Result(None, None, Reason(ReasonKind.ERROR, error_kind=error)))
    assert (got_status, item["errorCode"]) == (status, code)
    assert item["key"] == "f" and item["errorDetails"] and item["metadata"] == {"description": "d"}
    component("flagNotFound" if status == 404 else "evaluationFailure", item)


def test_a_malformed_flag_evaluates_to_a_parse_error_item() -> None:
    info, snapshot = _info({"variations": [1], "on": True, "fallthrough": {"variation": 5}})
    status, encoded = info.item(snapshot.evaluate("f", {"key": "u"}))
    assert status == 400 and b'"errorCode":"PARSE_ERROR"' in encoded


def test_items_are_encoded_once_per_distinct_result() -> None:
    info, snapshot = _info({"variations": [{"a": 1}], "on": True, "fallthrough": {"variation": 0}})
    first = info.item(snapshot.evaluate("f", {"key": "u1"}))
    second = info.item(snapshot.evaluate("f", {"key": "u2"}))
    assert first[1] is second[1]  # the prebuilt engine result hit the memo
    item = info.to_ofrep(snapshot.evaluate("f", Context.from_dict({"key": "u"})))[1]
    assert item["value"] == {"a": 1} and item["variant"] == "0" and item["reason"] == "STATIC"


def test_token_bucket_refills_at_the_rate_and_says_how_long_to_wait() -> None:
    now = [100.0]
    limiter = RateLimiter(2.0, 3, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("k") == 1  # empty: half a second to the next token, rounded up
    assert limiter.take("other") == 0  # buckets are per key
    now[0] += 0.5
    assert limiter.take("k") == 0
    slow = RateLimiter(0.1, 1, clock=lambda: now[0])
    assert slow.take("k") == 0 and slow.take("k") == 10
    assert RateLimiter(0, 1).take("k") == 0 and not RateLimiter(0, 1).enabled


def test_token_bucket_memory_is_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(1.0, 1, max_keys=10, clock=lambda: now[0])
    for key in range(100):
        limiter.take(key)
    assert len(limiter._buckets) <= 10


def test_stream_tokens_are_signed() -> None:
    links = StreamLinks(b"s" * 32)
    token = links.token(3, 41)
    assert links.verify(token) == (3, 41)
    assert links.verify(token.replace("3.", "4.", 1)) is None
    assert links.verify(token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    assert StreamLinks(b"t" * 32).verify(token) is None
    assert links.verify("") is None and links.verify("1.2") is None and links.verify("a.b.c") is None
    assert links.verify("9" * 40 + ".1.x") is None


def test_stream_entries_are_relative_unless_a_public_url_is_set() -> None:
    relative = StreamLinks(b"s" * 32).entry(1, 2)[1]
    assert b'"endpoint":{"requestUri":"/ofrep/v1/stream?channel=1.2.' in relative
    absolute = StreamLinks(b"s" * 32, public_url="https://flags.example.com", inactivity_seconds=30).entry(
        1, 2
    )
    assert b'"url":"https://flags.example.com/ofrep/v1/stream?channel=1.2.' in absolute[1]
    assert b'"inactivityDelaySec":30' in absolute[1]
    for entries in (relative, absolute[1]):
        (stream,) = json.loads(entries)
        component("eventStream", stream)


def test_settings_from_environment() -> None:
    server = ServerSettings(cors_origins=("https://a.example",))
    defaults = OfrepSettings.from_env(server, {})
    assert defaults.cors_origins == ("https://a.example",) and defaults.rate_limit == 1000.0
    assert (
        len(defaults.stream_secret) == 32
        and defaults.stream_secret != OfrepSettings.from_env(server, {}).stream_secret
    )
    custom = OfrepSettings.from_env(
        server,
        {
            "VEXIL_OFREP_RATE_LIMIT": "5",
            "VEXIL_OFREP_RATE_BURST": "7",
            "VEXIL_OFREP_CORS_ORIGINS": "https://b.example/, *",
            "VEXIL_OFREP_STREAM_SECRET": "x" * 20,
            "VEXIL_OFREP_PUBLIC_URL": "https://flags.example.com/",
            "VEXIL_OFREP_INACTIVITY_SECONDS": "60",
        },
    )
    assert (custom.rate_limit, custom.rate_burst) == (5.0, 7)
    assert custom.cors_origins == ("https://b.example", "*")
    assert custom.stream_secret == b"x" * 20 and custom.public_url == "https://flags.example.com"
    assert custom.inactivity_seconds == 60
    for name, value in [
        ("RATE_LIMIT", "-1"),
        ("RATE_BURST", "0"),
        ("STREAM_SECRET", "short"),
        ("PUBLIC_URL", "ftp://x"),
    ]:
        with pytest.raises(SettingsError, match=f"VEXIL_OFREP_{name}"):
            OfrepSettings.from_env(server, {f"VEXIL_OFREP_{name}": value})


def _cached(version: int, document: dict[str, Any]) -> CachedSnapshot:
    body = encode_json(Put(version, document))
    return CachedSnapshot(version, "p", "e", body, b"", f'"{version}"', "", b"", ([], []), ([], []))


def test_a_new_snapshot_version_compiles_only_what_changed() -> None:
    segment = {"included": ["u1"]}
    in_segment = {"clauses": [{"op": "segment_match", "values": ["s"]}], "serve": {"variation": 1}}
    flags: dict[str, Any] = {
        f"f{i}": {"variations": [i, -i], "on": True, "rules": [in_segment], "fallthrough": {"variation": 0}}
        for i in range(5)
    }
    first = compile_view(1, _cached(1, {"flags": flags, "segments": {"s": segment}}))
    changed = {k: v for k, v in flags.items() if k != "f3"}
    changed["f1"] = {**flags["f1"], "on": False, "off_variation": 1}
    changed["a-new"] = {"variations": ["x"], "on": True, "fallthrough": {"variation": 0}, "client_side": True}
    document = {"flags": changed, "segments": {"s": {"included": ["u2"]}}}
    second = compile_view(1, _cached(2, document), first)
    fresh = Snapshot.from_document(document)
    assert list(second.flags) == list(changed) == list(second.snapshot.flags)  # the document's order
    assert second.client_keys == ("a-new",) and second.version == 2
    assert second.flags["f0"] is first.flags["f0"] and second.flags["f1"] is not first.flags["f1"]
    assert second.snapshot.flag_table["f0"] is first.snapshot.flag_table["f0"]  # not recompiled
    for user in ("u1", "u2", "u3"):
        assert second.snapshot.evaluate_all({"key": user}) == fresh.evaluate_all({"key": user})
