"""Connection profiles of the CLI: `<config dir>/vexil/profiles.json` (mode 0600) holds, per profile name, a
server URL, an admin key and a default project; `VEXIL_URL`, `VEXIL_KEY`, `VEXIL_PROJECT` and
`VEXIL_PROFILE` override it.

Reading, resolving and atomically writing that file only; it never prints a key.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from vexil.cli._client import CliError

PROFILES_FILE = "profiles.json"
DEFAULT_PROFILE = "default"
DEFAULT_PROJECT = "default"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/vexil`, else `~/.config/vexil`."""
    environ = os.environ if env is None else env
    base = environ.get("XDG_CONFIG_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".config") / "vexil"


@dataclass(frozen=True, slots=True)
class Profile:
    url: str
    key: str | None = None
    project: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"url": self.url}
        if self.key:
            out["key"] = self.key
        if self.project:
            out["project"] = self.project
        return out


@dataclass(frozen=True, slots=True)
class Connection:
    """What a remote command uses: where, with which key, and the default project."""

    profile: str
    url: str
    key: str
    project: str


class ProfileStore:
    """The profiles file; `path` defaults to `config_dir() / profiles.json`."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else config_dir() / PROFILES_FILE

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"current": DEFAULT_PROFILE, "profiles": {}}
        except OSError as exc:
            raise CliError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        if self.path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            click.echo(f"vexil: warning: {self.path} is readable by others; run chmod 600 on it", err=True)
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CliError(f"{self.path}: not valid JSON ({exc}); fix or delete it") from None
        if not isinstance(data, dict) or not isinstance(data.get("profiles", {}), dict):
            raise CliError(f"{self.path}: unexpected content; fix or delete it")
        return data

    def profiles(self) -> dict[str, Profile]:
        out: dict[str, Profile] = {}
        for name, raw in self._read().get("profiles", {}).items():
            if isinstance(raw, dict) and isinstance(raw.get("url"), str):
                key, project = raw.get("key"), raw.get("project")
                out[str(name)] = Profile(
                    raw["url"],
                    key if isinstance(key, str) else None,
                    project if isinstance(project, str) else None,
                )
        return out

    def current(self) -> str:
        name = self._read().get("current")
        return name if isinstance(name, str) and name else DEFAULT_PROFILE

    def save(self, name: str, profile: Profile, *, make_current: bool) -> None:
        """Add or replace profile `name`, written atomically with mode 0600 (the directory 0700)."""
        data = self._read()
        data.setdefault("profiles", {})[name] = profile.to_dict()
        if make_current or not data.get("current"):
            data["current"] = name
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.path.with_name(self.path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # also when a stale partial file had other permissions
            os.write(fd, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, self.path)

    def resolve(self, profile: str | None, env: Mapping[str, str] | None = None) -> Connection:
        """The connection for `profile` (else VEXIL_PROFILE, else the current one), with the VEXIL_URL,
        VEXIL_KEY and VEXIL_PROJECT variables overriding what the profile says."""
        environ = os.environ if env is None else env
        explicit = profile or environ.get("VEXIL_PROFILE", "").strip() or None
        name = explicit or self.current()
        url_override = environ.get("VEXIL_URL", "").strip()
        key_override = environ.get("VEXIL_KEY", "").strip()
        # With both overrides set, no profiles file is needed (CI); otherwise read it.
        profiles = {} if url_override and key_override and not explicit else self.profiles()
        found = profiles.get(name)
        if explicit and found is None:
            known = ", ".join(sorted(profiles)) or "none yet"
            raise CliError(f"no profile named {name!r} (profiles: {known}); create it with `vexil login`")
        url = url_override or (found.url if found else "")
        key = key_override or (found.key if found and found.key else "")
        if not url:
            raise CliError(
                "no server configured: run `vexil login --url URL`, or set VEXIL_URL and VEXIL_KEY"
            )
        if not key:
            raise CliError(f"no API key for {url}: run `vexil login --url {url}`, or set VEXIL_KEY")
        project = environ.get("VEXIL_PROJECT", "").strip() or (found.project if found else None)
        return Connection(name, url, key, project or DEFAULT_PROJECT)
