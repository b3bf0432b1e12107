"""`vexil.server`'s public surface, `ServerSettings.from_env_and_args`, and the auth cache's TTL."""

from __future__ import annotations

from pathlib import Path

import pytest

import vexil.server
from vexil.server import ServerSettings, SettingsError
from vexil.server._auth import Authenticator
from vexil.server._problems import ProblemError
from vexil.service import Service
from vexil.store import open_store


def test_all_is_the_public_surface() -> None:
    assert set(vexil.server.__all__) == {
        "RelaySettings",
        "ServerSettings",
        "SettingsError",
        "create_app",
        "create_relay_app",
        "openapi_document",
        "parse_client_keys",
    }
    for name in vexil.server.__all__:
        assert getattr(vexil.server, name) is not None
    public = {n for n in vars(vexil.server) if not n.startswith("_")}
    assert public - set(vexil.server.__all__) <= {"annotations"}


def test_defaults() -> None:
    settings = ServerSettings.from_env_and_args({})
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.1", 7070, Path(".vexil"))
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.database_url is None and settings.demo is False and settings.cors_origins == ()


def test_environment_then_arguments() -> None:
    env = {
        "VEXIL_PORT": "8080",
        "VEXIL_HOST": "0.0.0.0",
        "VEXIL_DATABASE_URL": "postgresql://db/vexil",
        "VEXIL_DEMO": "yes",
        "VEXIL_MAX_BODY_BYTES": "2048",
        "VEXIL_CORS_ORIGINS": "https://a.example, https://b.example",
        "VEXIL_DATA_DIR": "/srv/vexil",
        "UNRELATED": "x",
    }
    from_env = ServerSettings.from_env_and_args(env)
    assert from_env.port == 8080 and from_env.host == "0.0.0.0" and from_env.demo is True
    assert from_env.database_url == "postgresql://db/vexil" and from_env.max_body_bytes == 2048
    assert from_env.cors_origins == ("https://a.example", "https://b.example")
    assert from_env.data_dir == Path("/srv/vexil")
    overridden = ServerSettings.from_env_and_args(env, port=9090, demo=False, host=None)
    assert overridden.port == 9090 and overridden.demo is False
    assert overridden.host == "0.0.0.0"  # None means "not given": the environment still applies


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"VEXIL_PORT": "http"}, "VEXIL_PORT"),
        ({"VEXIL_PORT": "70000"}, "VEXIL_PORT"),
        ({"VEXIL_DEMO": "maybe"}, "VEXIL_DEMO"),
        ({"VEXIL_MAX_BODY_BYTES": "0"}, "VEXIL_MAX_BODY_BYTES"),
        ({"VEXIL_AUTH_CACHE_SECONDS": "-1"}, "VEXIL_AUTH_CACHE_SECONDS"),
        ({"VEXIL_LOG_LEVEL": "loud"}, "VEXIL_LOG_LEVEL"),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        ServerSettings.from_env_and_args(env)


def test_bad_argument_names_its_option() -> None:
    with pytest.raises(SettingsError, match="--port"):
        ServerSettings.from_env_and_args({}, port=-1)
    with pytest.raises(TypeError, match="colour"):
        ServerSettings.from_env_and_args({}, colour="red")


@pytest.mark.anyio
async def test_auth_cache_expires_after_ttl(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    try:
        service = Service(store)
        boot = service.ensure_default()
        assert boot.admin_secret is not None
        secret = boot.admin_secret.reveal()
        now = [100.0]
        auth = Authenticator(service, ttl=5.0, clock=lambda: now[0])
        principal = await auth.authorize(secret)
        assert principal.key_id is not None
        # Revoked behind the authenticator's back (another process): still trusted until the TTL passes.
        service.revoke_key(principal, principal.key_id)
        assert await auth.authorize(secret) == principal
        now[0] += 5.1
        with pytest.raises(ProblemError, match="invalid or revoked"):
            await auth.authorize(secret)
    finally:
        store.close()


def test_repr_hides_the_database_url() -> None:
    settings = ServerSettings.from_env_and_args({"VEXIL_DATABASE_URL": "postgresql://u:hunter2@db/vexil"})
    assert settings.database_url == "postgresql://u:hunter2@db/vexil"
    assert "hunter2" not in repr(settings)
