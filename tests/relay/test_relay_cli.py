"""`vexil relay`'s options: keys from options or `VEXIL_RELAY_*` variables, and usage errors that say what
is wrong without echoing a key."""

from __future__ import annotations

from click.testing import CliRunner

from vexil.cli.main import cli

SERVER, CLIENT = "vxs_" + "s" * 43, "vxc_" + "c" * 43


def test_usage_errors_name_the_problem_not_the_key() -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["relay", "--sdk-key", SERVER])
    assert missing.exit_code == 2 and "--upstream" in missing.output
    wrong_kind = runner.invoke(cli, ["relay", "--upstream", "http://up.test", "--sdk-key", CLIENT])
    assert wrong_kind.exit_code == 2 and "server SDK keys" in wrong_kind.output
    unmapped = runner.invoke(
        cli, ["relay", "--upstream", "http://up.test", "--sdk-key", SERVER, "--client-key", CLIENT]
    )
    assert unmapped.exit_code == 2 and "CLIENT_KEY=SERVER_KEY" in unmapped.output
    for result in (wrong_kind, unmapped):
        assert SERVER not in result.output and CLIENT not in result.output


def test_keys_and_upstream_come_from_the_environment_too() -> None:
    env = {"VEXIL_RELAY_UPSTREAM": "ftp://up.test", "VEXIL_RELAY_SDK_KEYS": f"{SERVER} vxs_other"}
    result = CliRunner().invoke(cli, ["relay"], env=env)
    assert result.exit_code == 2 and "--upstream must be an http(s) URL" in result.output
    env = {"VEXIL_RELAY_UPSTREAM": "http://up.test", "VEXIL_RELAY_SDK_KEYS": f"{SERVER} {CLIENT}"}
    result = CliRunner().invoke(cli, ["relay"], env=env)  # split on spaces: the second is not a server key
    assert result.exit_code == 2 and "server SDK keys" in result.output
