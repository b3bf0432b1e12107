"""Offline clients: a JSON or YAML flag file (optionally watched), a cache file, a bootstrap dict."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from sdk_support import flag, wait_for

from vexil.engine import ErrorKind
from vexil.sdk import Client, SourceErrorKind, State

CTX = {"key": "u1"}


def write(path: Path, text: str) -> None:
    path.write_text(text)
    # Make the change visible to an mtime check even on coarse-grained file systems.
    stamp = time.time_ns() + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": {"a": flag("json")}}))
    with Client.from_file(path) as client:
        assert client.string("a", CTX, "") == "json"
        status = client.status()
        assert (status.source, status.state, status.ready) == ("file", State.VALID, True)


def test_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "flags.yaml"
    path.write_text(yaml.safe_dump({"flags": {"a": flag("yaml")}, "segments": {}}))
    with Client.from_file(str(path)) as client:
        assert client.string("a", CTX, "") == "yaml"


def test_a_cache_file_is_a_flag_file_too(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_text(json.dumps({"version": 12, "document": {"flags": {"a": flag(1)}}}))
    with Client.from_file(path) as client:
        assert client.number("a", CTX, 0) == 1
        assert client.status().version == 12


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("flags.json", "{nope"),
        ("flags.yaml", "a: [unclosed"),
        ("flags.json", "[1, 2]"),
        ("absent.json", None),
    ],
)
def test_a_bad_or_missing_file_is_reported_not_raised(
    tmp_path: Path, name: str, text: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with Client.from_file(path) as client:
        assert client.detail("a", CTX, 0).reason.error_kind is ErrorKind.CLIENT_NOT_READY
        error = client.status().error
        assert error is not None and error.kind is SourceErrorKind.FILE
    assert "cannot load flags" in caplog.text


def test_watch_reloads_changes_and_keeps_the_flags_through_a_broken_edit(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": {"a": flag(1)}}))
    with Client.from_file(path, watch=True, watch_interval=0.02) as client:
        assert client.number("a", CTX, 0) == 1
        write(path, json.dumps({"flags": {"a": flag(2)}}))
        wait_for(lambda: client.number("a", CTX, 0) == 2)
        write(path, "{half written")
        wait_for(lambda: client.status().error is not None)
        assert client.number("a", CTX, 0) == 2  # the last good flags stay
        write(path, json.dumps({"flags": {"a": flag(3)}}))
        wait_for(lambda: client.number("a", CTX, 0) == 3)
        assert client.status().error is None


def test_without_watch_changes_are_not_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": {"a": flag(1)}}))
    with Client.from_file(path) as client:
        write(path, json.dumps({"flags": {"a": flag(2)}}))
        time.sleep(0.1)
        assert client.number("a", CTX, 0) == 1


def test_bootstrap_from_a_dict_and_from_an_envelope() -> None:
    with Client.from_dict({"flags": {"a": flag(True)}}) as client:
        assert client.bool("a", CTX, False) is True
        assert client.status().source == "bootstrap"
    with Client.from_dict({"version": 3, "document": {"flags": {"a": flag(False)}}}) as client:
        assert client.bool("a", CTX, True) is False
        assert client.status().version == 3
    with pytest.raises(ValueError, match="object"):
        Client.from_dict([])  # type: ignore[arg-type]
