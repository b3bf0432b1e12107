"""The `vexil` console script (validate, eval) run for real in a subprocess on temporary files.

Expected results come from the engine in-process, so these tests check the CLI's wiring, not semantics.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import vexil.cli
from vexil.engine import Snapshot

# Hand-written YAML on purpose: `on:` must be the field "on", not YAML 1.1's boolean True.
FLAGS_YAML = """\
flags:
  new-checkout:
    description: The new checkout flow
    variations: [true, false]
    on: true
    off_variation: 1
    rules:
      - id: beta-countries
        clauses:
          - {attribute: country, op: in, values: [NZ, IS]}
        serve: {variation: 0}
      - id: staff
        clauses:
          - {op: segment_match, values: [staff]}
        serve: {variation: 0}
    fallthrough:
      rollout:
        variations:
          - {variation: 0, weight: 20000}
          - {variation: 1, weight: 80000}
  banner-text:
    variations: ["hello", "kia ora"]
    on: false
    off_variation: 0
    fallthrough: {variation: 1}
segments:
  staff:
    included: [u-staff]
"""

INVALID_YAML = """\
flags:
  new-checkout:
    variations: [true, false]
    on: true
    rules:
      - clauses:
          - {attribute: country, op: equals, values: [NZ]}
        serve: {variation: 0}
  broken:
    variations: [1]
    on: yes-please
"""

CONTEXTS: list[dict[str, Any]] = [
    {"key": "u-nz", "country": "NZ"},
    {"key": "u-staff", "country": "DE"},
    {"key": "u-1", "country": "FR"},
    {"key": "u-2"},
    {"kind": "org", "key": "o-1"},
    {"country": "NZ"},  # no key: an invalid context is an evaluation result, not a CLI error
]


def _vexil() -> str:
    beside = Path(sys.executable).parent / "vexil"
    found = str(beside) if beside.exists() else shutil.which("vexil")
    assert found, "the vexil console script is not installed: pip install -e ."
    return found


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VEXIL_DEBUG"}
    proc = subprocess.run(
        [_vexil(), *args], input=stdin, capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture
def doc() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_as_json_text())
    return data


def _as_json_text() -> str:
    """The same document as FLAGS_YAML, as JSON (the YAML and JSON inputs must mean the same)."""
    rollout = {"variations": [{"variation": 0, "weight": 20000}, {"variation": 1, "weight": 80000}]}
    return json.dumps(
        {
            "flags": {
                "new-checkout": {
                    "description": "The new checkout flow",
                    "variations": [True, False],
                    "on": True,
                    "off_variation": 1,
                    "rules": [
                        {
                            "id": "beta-countries",
                            "clauses": [{"attribute": "country", "op": "in", "values": ["NZ", "IS"]}],
                            "serve": {"variation": 0},
                        },
                        {
                            "id": "staff",
                            "clauses": [{"op": "segment_match", "values": ["staff"]}],
                            "serve": {"variation": 0},
                        },
                    ],
                    "fallthrough": {"rollout": rollout},
                },
                "banner-text": {
                    "variations": ["hello", "kia ora"],
                    "on": False,
                    "off_variation": 0,
                    "fallthrough": {"variation": 1},
                },
            },
            "segments": {"staff": {"included": ["u-staff"]}},
        }
    )


@pytest.fixture
def yaml_file(tmp_path: Path) -> Path:
    path = tmp_path / "flags.yaml"
    path.write_text(FLAGS_YAML, encoding="utf-8")
    return path


@pytest.fixture
def json_file(tmp_path: Path) -> Path:
    path = tmp_path / "flags.json"
    path.write_text(_as_json_text(), encoding="utf-8")
    return path


@pytest.fixture
def invalid_file(tmp_path: Path) -> Path:
    path = tmp_path / "invalid.yaml"
    path.write_text(INVALID_YAML, encoding="utf-8")
    return path


def expected(doc: dict[str, Any], flag: str, context: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = Snapshot.from_document(doc).evaluate(flag, context).to_dict()
    return result


def test_public_names() -> None:
    assert vexil.cli.__all__ == ["cli", "main"]
    assert all(callable(getattr(vexil.cli, name)) for name in vexil.cli.__all__)


# ---- validate ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_validate_ok(fmt: str, yaml_file: Path, json_file: Path, doc: dict[str, Any]) -> None:
    proc = run("validate", str(yaml_file if fmt == "yaml" else json_file))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"ok: {len(doc['flags'])} flags, {len(doc['segments'])} segment\n"


def test_validate_invalid_lists_every_problem(invalid_file: Path) -> None:
    proc = run("validate", str(invalid_file))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) >= 3  # bad op, missing fallthrough (x2), bad `on`
    assert all(": " in line for line in lines), lines
    assert any(line.startswith("flags.new-checkout.rules[0].clauses[0].op: ") for line in lines), lines
    assert any(line.startswith("flags.new-checkout") and "fallthrough" in line for line in lines), lines
    assert any(line.startswith("flags.broken.on: ") for line in lines), lines
    assert f"{len(lines)} problems" in proc.stderr


def test_validate_reports_root_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    proc = run("validate", str(path))
    assert proc.returncode == 1
    assert proc.stdout.strip(), "a non-object document must be reported as a problem"


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("missing.yaml", None, "cannot read"),
        ("bad.yaml", "flags:\n  a: [1, 2\n", "invalid YAML at line"),
        ("bad.json", '{"flags": {"a": }', "invalid JSON at line 1"),
        ("dup.yaml", "flags: {}\nflags: {}\n", "duplicate key 'flags'"),
        ("empty.yaml", "  \n", "empty"),
        ("binary.yaml", b"\xff\xfe\x00flags", "not UTF-8"),
        ("nan.json", '{"flags": {"a": {"variations": [NaN]}}}', "NaN"),
    ],
)
def test_validate_unreadable_or_unparsable(
    tmp_path: Path, name: str, content: str | bytes | None, needle: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    proc = run("validate", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert needle in proc.stderr


def test_validate_a_directory(tmp_path: Path) -> None:
    proc = run("validate", str(tmp_path))
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr


def test_yaml_1_1_words_are_strings(tmp_path: Path) -> None:
    # `yes`, `2024-01-01` and `012` keep their YAML 1.2 meaning: string, string, the integer 12.
    path = tmp_path / "words.yaml"
    path.write_text(
        "flags:\n  f:\n    variations: [yes, 2024-01-01, 012]\n"
        "    on: true\n    fallthrough: {variation: 2}\n",
        encoding="utf-8",
    )
    proc = run("eval", str(path), "f", "--context", '{"key": "u"}')
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["value"] == 12
    proc = run("eval", str(path), "--all", "--context", '{"key": "u"}')
    assert json.loads(proc.stdout)["f"]["variation"] == 2


# ---- eval ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("context", CONTEXTS)
def test_eval_single(
    fmt: str, context: dict[str, Any], yaml_file: Path, json_file: Path, doc: dict[str, Any]
) -> None:
    path = yaml_file if fmt == "yaml" else json_file
    proc = run("eval", str(path), "new-checkout", "--context", json.dumps(context))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected(doc, "new-checkout", context)


def test_eval_single_semantics(yaml_file: Path) -> None:
    nz = json.loads(
        run("eval", str(yaml_file), "new-checkout", "--context", '{"key": "u", "country": "NZ"}').stdout
    )
    assert nz["value"] is True
    assert nz["reason"]["kind"] == "RULE_MATCH"
    assert nz["reason"]["rule_id"] == "beta-countries"
    staff = json.loads(run("eval", str(yaml_file), "new-checkout", "--context", '{"key": "u-staff"}').stdout)
    assert staff["reason"]["rule_id"] == "staff"
    off = json.loads(run("eval", str(yaml_file), "banner-text", "--context", '{"key": "u"}').stdout)
    assert off == {"value": "hello", "variation": 0, "reason": {"kind": "OFF"}}
    missing = json.loads(run("eval", str(yaml_file), "no-such-flag", "--context", '{"key": "u"}').stdout)
    assert missing["reason"] == {"kind": "ERROR", "error_kind": "FLAG_NOT_FOUND"}


def test_eval_context_from_file(tmp_path: Path, yaml_file: Path, doc: dict[str, Any]) -> None:
    ctx_path = tmp_path / "ctx.json"
    ctx_path.write_text(json.dumps(CONTEXTS[0]), encoding="utf-8")
    proc = run("eval", str(yaml_file), "new-checkout", "--context", f"@{ctx_path}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected(doc, "new-checkout", CONTEXTS[0])


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_eval_all(fmt: str, yaml_file: Path, json_file: Path, doc: dict[str, Any]) -> None:
    context = CONTEXTS[1]
    proc = run(
        "eval", str(yaml_file if fmt == "yaml" else json_file), "--all", "--context", json.dumps(context)
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert list(out) == list(doc["flags"])
    assert out == {key: expected(doc, key, context) for key in doc["flags"]}


def _cases() -> tuple[str, list[dict[str, Any] | None]]:
    """A JSONL batch with bad lines in the middle; None marks where an error line is expected."""
    lines: list[tuple[str, dict[str, Any] | None]] = [
        (json.dumps({"flag": "new-checkout", "context": CONTEXTS[0]}), {"flag": "new-checkout", "ctx": 0}),
        ('{"flag": "new-checkout", "context": ', None),  # bad JSON
        (json.dumps({"context": CONTEXTS[1]}), {"flag": None, "ctx": 1}),  # no flag: all flags
        ("", {}),  # blank: skipped, no output
        ("[1, 2]", None),  # not an object
        (json.dumps({"flag": "new-checkout"}), None),  # missing context
        (json.dumps({"flag": "banner-text", "context": "u-1"}), None),  # context not an object
        (json.dumps({"flag": 7, "context": CONTEXTS[2]}), None),  # flag not a string
        (json.dumps({"flag": "new-checkout", "context": CONTEXTS[2], "extra": 1}), None),  # unknown field
        (json.dumps({"flag": "new-checkout", "context": CONTEXTS[5]}), {"flag": "new-checkout", "ctx": 5}),
        (json.dumps({"flag": "banner-text", "context": CONTEXTS[3]}), {"flag": "banner-text", "ctx": 3}),
    ]
    return "\n".join(text for text, _ in lines) + "\n", [want for _, want in lines]


def _check_batch(stdout: str, wants: list[dict[str, Any] | None], doc: dict[str, Any]) -> None:
    outputs = [json.loads(line) for line in stdout.splitlines()]
    expected_lines = [(n, want) for n, want in enumerate(wants, start=1) if want != {}]
    assert len(outputs) == len(expected_lines)
    for out, (lineno, want) in zip(outputs, expected_lines, strict=True):
        if want is None:
            assert set(out) == {"line", "error"}, out
            assert out["line"] == lineno
            assert isinstance(out["error"], str) and out["error"]
        elif want["flag"] is None:
            context = CONTEXTS[want["ctx"]]
            assert out == {key: expected(doc, key, context) for key in doc["flags"]}
        else:
            assert out == expected(doc, want["flag"], CONTEXTS[want["ctx"]])


def test_eval_batch_file(tmp_path: Path, yaml_file: Path, doc: dict[str, Any]) -> None:
    text, wants = _cases()
    cases = tmp_path / "cases.jsonl"
    cases.write_text(text, encoding="utf-8")
    proc = run("eval", str(yaml_file), "--batch", str(cases))
    assert proc.returncode == 0, proc.stderr
    _check_batch(proc.stdout, wants, doc)


def test_eval_batch_stdin(json_file: Path, doc: dict[str, Any]) -> None:
    text, wants = _cases()
    proc = run("eval", str(json_file), "--batch", "-", stdin=text)
    assert proc.returncode == 0, proc.stderr
    _check_batch(proc.stdout, wants, doc)


def test_eval_batch_error_messages(yaml_file: Path) -> None:
    text = '{"flag": "x", "context": \n[1]\n{"flag": "x"}\n'
    proc = run("eval", str(yaml_file), "--batch", "-", stdin=text)
    errors = [json.loads(line)["error"] for line in proc.stdout.splitlines()]
    assert errors[0].startswith("invalid JSON")
    assert "object" in errors[1]
    assert "context" in errors[2]


def test_eval_batch_line_not_utf8(tmp_path: Path, yaml_file: Path, doc: dict[str, Any]) -> None:
    good = json.dumps({"flag": "new-checkout", "context": CONTEXTS[0]}).encode()
    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(b'{"flag": "\xff"}\n' + good + b"\n")
    proc = run("eval", str(yaml_file), "--batch", str(cases))
    assert proc.returncode == 0
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first == {"line": 1, "error": "not UTF-8 text"}
    assert second == expected(doc, "new-checkout", CONTEXTS[0])


def test_eval_invalid_document(invalid_file: Path, tmp_path: Path) -> None:
    proc = run("eval", str(invalid_file), "new-checkout", "--context", '{"key": "u"}')
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "flags.new-checkout.rules[0].clauses[0].op: " in proc.stderr
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"flag": "new-checkout", "context": {"key": "u"}}) + "\n", encoding="utf-8")
    proc = run("eval", str(invalid_file), "--batch", str(cases))
    assert proc.returncode == 1
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["new-checkout"],  # no --context
        ["--all"],  # no --context
        [],  # no mode
        ["new-checkout", "--all", "--context", "{}"],  # two modes
        ["--batch", "-", "--context", "{}"],  # --context with --batch
        ["new-checkout", "--context", "{not json"],
        ["new-checkout", "--context", "[1]"],
        ["new-checkout", "--context", "@/no/such/context.json"],
    ],
)
def test_eval_usage_errors(args: list[str], yaml_file: Path) -> None:
    proc = run("eval", str(yaml_file), *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip()


def test_eval_unreadable_batch(yaml_file: Path, tmp_path: Path) -> None:
    proc = run("eval", str(yaml_file), "--batch", str(tmp_path / "missing.jsonl"))
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr


# ---- the group ------------------------------------------------------------------------------------


def test_help_lists_commands() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for command in ("validate", "eval", "serve"):
        assert command in proc.stdout
