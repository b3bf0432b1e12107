"""What every command that talks to a server shares: the `--profile`, `--project` and `--json` options, and
a `Remote` that resolves the connection lazily and owns the HTTP client for one command.

Plumbing only; each `_cmd_*` module holds its commands.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

from vexil.cli._client import ApiClient, CliError
from vexil.cli._docs import DocumentError
from vexil.cli._profiles import Connection, ProfileStore

F = TypeVar("F", bound=Callable[..., Any])


class Remote:
    """The server of one command invocation; the connection is resolved on first use."""

    def __init__(self, profile: str | None, store: ProfileStore | None = None) -> None:
        self._profile = profile
        self._store = store or ProfileStore()
        self._connection: Connection | None = None
        self._api: ApiClient | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self._store.resolve(self._profile)
        return self._connection

    @property
    def api(self) -> ApiClient:
        if self._api is None:
            self._api = ApiClient(self.connection.url, self.connection.key)
        return self._api

    def project(self, explicit: str | None) -> str:
        """`--project`, else VEXIL_PROJECT, else the profile's project, else `default`."""
        return explicit or self.connection.project

    def close(self) -> None:
        if self._api is not None:
            self._api.close()


def remote(f: F) -> F:
    """Add `--profile` and pass `remote: Remote` to the command function; file and argument parse errors
    become one `vexil: ...` line (exit 1)."""

    @functools.wraps(f)
    def wrapper(*args: Any, profile: str | None, **kwargs: Any) -> Any:
        server = Remote(profile)
        try:
            return f(*args, remote=server, **kwargs)
        except DocumentError as exc:  # an unreadable file or bad JSON argument: the CLI's error style
            raise CliError(exc.format_message()) from None
        finally:
            server.close()

    option = click.option(
        "--profile",
        metavar="NAME",
        default=None,
        help="Connection profile from `vexil login` [default: VEXIL_PROFILE, else the current one].",
    )
    return cast(F, option(wrapper))


def project_option(f: F) -> F:
    return click.option(
        "-p",
        "--project",
        metavar="KEY",
        default=None,
        help="Project key [default: VEXIL_PROJECT, else the profile's project, else 'default'].",
    )(f)


def env_option(required: bool = True) -> Callable[[F], F]:
    return click.option(
        "-e", "--env", "env", metavar="ENV", required=required, help="Environment key, e.g. production."
    )


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of text.")(
        f
    )


def comment_option(f: F) -> F:
    return click.option("-m", "--comment", metavar="TEXT", default=None, help="Comment for the audit log.")(f)


def yes_option(f: F) -> F:
    return click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")(f)


def confirm(yes: bool, question: str) -> None:
    """Ask before something destructive unless `--yes`; a non-interactive run without `--yes` aborts."""
    if not yes:
        click.confirm(question, abort=True, err=True)
