"""The console's routes without a browser: sessions and cookie flags, CSRF, roles, the toggle's typed
confirmation, the editors (actions, validation, conflicts), keys, history, the debugger, and that the API
keeps precedence over the console's mount.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ui_support import (
    console_app,
    csrf_of,
    form_fields,
    post_form,
    replace_field,
    sign_in,
    signed_in_page,
    text_of,
)

import vexil.ui
from vexil.service import Principal

pytestmark = pytest.mark.anyio
FLAG = "/p/default/production/flags/new-checkout"
DEV_FLAG = "/p/default/development/flags/new-checkout"


def test_public_surface() -> None:
    assert set(vexil.ui.__all__) == {"UiSettings", "ui_routes"}
    assert callable(vexil.ui.ui_routes)


async def test_pages_need_a_session(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        response = await c.client.get("/p/default/production/flags?q=x")
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?next=%2Fp%2Fdefault%2Fproduction%2Fflags%3Fq%3Dx"
        posted = await c.client.post(f"{FLAG}/toggle", data={"environment": "production", "on": "false"})
        assert posted.status_code == 401
        assert c.service.get_targeting(Principal.system(), "default", "new-checkout", "production").on


async def test_session_cookie_flags_over_tls(tmp_path: Path) -> None:
    async with console_app(tmp_path, base_url="https://testserver") as c:
        response = await sign_in(c.client, c.admin_key)
        assert response.status_code == 303
        cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("vexil_session="))
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=strict", "secure", "path=/"} <= flags
        assert c.admin_key not in cookie  # the key stays on the server
        page = await c.client.get("/p/default/production/flags")
        assert page.status_code == 200 and "new-checkout" in page.text


async def test_no_secure_flag_over_plain_http(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        response = await sign_in(c.client, c.admin_key)
        cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("vexil_session="))
        assert "secure" not in cookie.lower() and "httponly" in cookie.lower()


async def test_sign_in_refuses_bad_sdk_and_forged_attempts(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        bad = await sign_in(c.client, "vxa_not-a-key")
        assert bad.status_code == 401 and "not valid" in text_of(bad.text)
        assert not any(v.startswith("vexil_session=") for v in bad.headers.get_list("set-cookie"))
        sdk = c.service.create_key(
            Principal.system(),
            {"name": "s", "kind": "server", "project": "default", "environment": "production"},
        )
        refused = await sign_in(c.client, sdk.secret.reveal())
        assert refused.status_code == 403 and "SDK key" in refused.text
        c.client.cookies.clear()
        forged = await c.client.post("/signin", data={"key": c.admin_key, "csrf_token": "guess"})
        assert forged.status_code == 403
        assert not any(v.startswith("vexil_session=") for v in forged.headers.get_list("set-cookie"))


async def test_csrf_and_origin_are_checked_on_every_post(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        page = await signed_in_page(c.client, c.admin_key, DEV_FLAG)
        version = c.service.get_targeting(
            Principal.system(), "default", "new-checkout", "development"
        ).version
        body = {"environment": "development", "on": "false", "version": str(version)}
        missing = await c.client.post(f"{DEV_FLAG}/toggle", data=body)
        wrong = await c.client.post(f"{DEV_FLAG}/toggle", data={**body, "csrf_token": "x" * 43})
        foreign = await c.client.post(
            f"{DEV_FLAG}/toggle",
            data={**body, "csrf_token": csrf_of(page)},
            headers={"Origin": "https://evil.test"},
        )
        assert [r.status_code for r in (missing, wrong, foreign)] == [403, 403, 403]
        assert "Form expired" in missing.text
        assert c.service.get_targeting(Principal.system(), "default", "new-checkout", "development").on
        ok = await c.client.post(
            f"{DEV_FLAG}/toggle",
            data={**body, "csrf_token": csrf_of(page)},
            headers={"Origin": "http://testserver"},
        )
        assert ok.status_code == 303
        assert not c.service.get_targeting(Principal.system(), "default", "new-checkout", "development").on


async def test_reader_sees_no_edit_controls_and_cannot_post(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        reader = await c.key("reader", "ro")
        page = await signed_in_page(c.client, reader, FLAG)
        assert "Edit targeting" not in page and "/toggle" not in page and "Settings" not in page
        assert 'role="switch"' not in page and "API keys" not in page
        flags = await c.client.get("/p/default/production/flags")
        assert "New flag" not in flags.text
        csrf = csrf_of(page)
        toggle = await c.client.post(
            f"{FLAG}/toggle", data={"csrf_token": csrf, "environment": "development", "on": "false"}
        )
        editor = await c.client.get(f"{FLAG}/targeting")
        save = await c.client.post(f"{FLAG}/targeting", data={"csrf_token": csrf, "op": "save"})
        create = await c.client.post(
            "/p/default/production/new-flag", data={"csrf_token": csrf, "key": "x", "kind": "boolean"}
        )
        keys = await c.client.get("/p/default/production/keys")
        assert [r.status_code for r in (toggle, editor, save, create, keys)] == [403, 403, 403, 403, 403]
        assert c.service.get_targeting(Principal.system(), "default", "new-checkout", "development").on
        assert "x" not in {f.key for f in c.service.list_flags(Principal.system(), "default")}
        segment = await c.client.get("/p/default/production/segments/beta-testers")
        assert segment.status_code == 200 and 'id="editor"' not in segment.text


async def test_critical_toggle_needs_typed_confirmation_and_comment(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        page = await signed_in_page(c.client, c.admin_key, FLAG)
        version = c.service.get_targeting(Principal.system(), "default", "new-checkout", "production").version
        base = {
            "csrf_token": csrf_of(page),
            "environment": "production",
            "on": "false",
            "version": str(version),
        }
        for extra in ({}, {"confirm": "new-checkout"}, {"confirm": "wrong", "comment": "why"}):
            refused = await c.client.post(f"{FLAG}/toggle", data={**base, **extra})
            assert refused.status_code == 422
            assert "type the flag key" in text_of(refused.text)
        assert c.service.get_targeting(Principal.system(), "default", "new-checkout", "production").on
        done = await c.client.post(
            f"{FLAG}/toggle", data={**base, "confirm": "new-checkout", "comment": "incident 42"}
        )
        assert done.status_code == 303
        assert not c.service.get_targeting(Principal.system(), "default", "new-checkout", "production").on
        history = await c.client.get("/p/default/production/history?flag=new-checkout")
        assert "incident 42" in history.text and "Turned new-checkout off in production" in history.text


async def test_stale_toggle_is_a_conflict_that_shows_what_changed(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        page = await signed_in_page(c.client, c.admin_key, DEV_FLAG)
        fields = dict(form_fields(page, "env-development"))
        c.service.patch_targeting(
            Principal.system("alice"),
            "default",
            "new-checkout",
            "development",
            {"off_variation": 1},
            comment="hm",
        )
        stale = await c.client.post(f"{DEV_FLAG}/toggle", data={**fields, "csrf_token": csrf_of(page)})
        assert stale.status_code == 409
        text = text_of(stale.text)
        assert "changed in development after you opened the page" in text and "alice" in text
        assert "off_variation" in text
        assert c.service.get_targeting(Principal.system(), "default", "new-checkout", "development").on


async def test_editor_actions_validation_and_save(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        page = await signed_in_page(c.client, c.admin_key, f"{FLAG}/targeting")
        fields = form_fields(page, "editor")
        added = await post_form(c.client, f"{FLAG}/targeting", [*fields, ("op", "add-rule")])
        assert added.status_code == 200 and "Rule 2" in added.text
        fields = form_fields(added.text, "editor")
        fields = replace_field(fields, "r1.c0.attribute", "country")
        fields = replace_field(fields, "r1.c0.values", "NL\nBE")
        fields = replace_field(fields, "r1.serve", "rollout")
        shown = await post_form(c.client, f"{FLAG}/targeting", [*fields, ("op", "refresh")])
        assert 'name="r1.pct0"' in shown.text and "js-pct" in shown.text
        fields = form_fields(shown.text, "editor")
        fields = replace_field(replace_field(fields, "r1.pct0", "30"), "r1.pct1", "60")
        bad = await post_form(c.client, f"{FLAG}/targeting", [*fields, ("op", "save")])
        assert bad.status_code == 422 and "add up to 90%, not 100%" in text_of(bad.text)
        fields = replace_field(fields, "r1.pct1", "70")
        saved = await post_form(
            c.client, f"{FLAG}/targeting", [*fields, ("op", "save"), ("comment", "nl+be")]
        )
        assert saved.status_code == 303, text_of(saved.text)
        body = c.service.get_targeting(Principal.system(), "default", "new-checkout", "production").body
        rule = body["rules"][1]
        assert rule["clauses"] == [{"attribute": "country", "op": "in", "values": ["NL", "BE"]}]
        assert rule["serve"] == {
            "rollout": {"variations": [{"variation": 0, "weight": 30000}, {"variation": 1, "weight": 70000}]}
        }
        assert body["rules"][0]["id"] == "staff" and body["on"] is True


async def test_editor_reports_engine_validation(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        page = await signed_in_page(c.client, c.admin_key, f"{FLAG}/targeting")
        fields = replace_field(form_fields(page, "editor"), "r0.c0.op", "matches")
        fields = replace_field(fields, "r0.c0.values", "(unclosed")
        refused = await post_form(c.client, f"{FLAG}/targeting", [*fields, ("op", "save")])
        assert refused.status_code == 422
        assert "Rule 1 › clause 1" in text_of(refused.text)


async def test_editor_conflict_keeps_both_changes_visible(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        page = await signed_in_page(c.client, c.admin_key, f"{FLAG}/targeting")
        fields = replace_field(form_fields(page, "editor"), "r0.description", "Staff first")
        c.service.patch_targeting(
            Principal.system("bob"), "default", "new-checkout", "production", {"on": False}, comment="kill"
        )
        conflict = await post_form(c.client, f"{FLAG}/targeting", [*fields, ("op", "save")])
        assert conflict.status_code == 409
        text = text_of(conflict.text)
        assert "Someone else changed this targeting while you were editing" in text
        assert "bob" in text and "kill" in text
        stored = c.service.get_targeting(Principal.system(), "default", "new-checkout", "production")
        assert (
            stored.body["on"] is False and stored.body["rules"][0]["description"] == "Employees see it first"
        )
        merged = dict(form_fields(conflict.text, "editor"))
        assert merged["on"] == "false" and merged["r0.description"] == "Staff first"
        assert merged["version"] == str(stored.version)
        again = await post_form(c.client, f"{FLAG}/targeting", [*merged.items(), ("op", "save")])
        assert again.status_code == 303
        final = c.service.get_targeting(Principal.system(), "default", "new-checkout", "production").body
        assert final["on"] is False and final["rules"][0]["description"] == "Staff first"


async def test_htmx_editor_requests_get_fragments_and_redirects(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        page = await signed_in_page(c.client, c.admin_key, f"{FLAG}/targeting")
        htmx = {"HX-Request": "true"}
        fields = replace_field(form_fields(page, "editor"), "ft.pct0", "10")
        bad = await post_form(c.client, f"{FLAG}/targeting", [*fields, ("op", "save")], htmx)
        assert bad.status_code == 200 and "not 100%" in text_of(bad.text)  # htmx swaps only 2xx by default
        fields = replace_field(fields, "ft.pct1", "90")
        saved = await post_form(c.client, f"{FLAG}/targeting", [*fields, ("op", "save")], htmx)
        assert saved.headers["HX-Redirect"] == FLAG


async def test_create_flag_and_duplicate(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        page = await signed_in_page(c.client, c.admin_key, "/p/default/production/new-flag")
        data = {
            "csrf_token": csrf_of(page),
            "key": "dark-mode",
            "kind": "string",
            "variations": "light\ndark",
        }
        created = await c.client.post("/p/default/production/new-flag", data={**data, "tags": "ui, web"})
        assert created.status_code == 303 and created.headers["location"].endswith("/flags/dark-mode")
        flag = c.service.get_flag(Principal.system(), "default", "dark-mode")
        assert flag.variations == ["light", "dark"] and flag.body["tags"] == ["ui", "web"]
        again = await c.client.post("/p/default/production/new-flag", data=data)
        assert again.status_code == 422 and "already exists" in text_of(again.text)
        listed = await c.client.get("/p/default/production/flags?tag=ui")
        assert "dark-mode" in listed.text and "new-checkout" not in listed.text


async def test_flag_list_filters(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        await signed_in_page(c.client, c.admin_key, "/")
        off = await c.client.get("/p/default/production/flags?state=off")
        assert "maintenance-banner" in off.text and "/flags/new-checkout" not in off.text
        found = await c.client.get("/p/default/production/flags?q=ranking")
        assert "search-ranking" in found.text and "/flags/max-upload-mb" not in found.text
        stale = await c.client.get("/p/default/production/flags?stale=1")
        assert stale.text.count('class="flag-key"') == 4  # nothing was ever evaluated
        none = await c.client.get("/p/default/production/flags?q=zzz")
        assert "No flag matches these filters" in none.text


async def test_segment_editor_saves_and_conflicts(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        path = "/p/default/production/segments/beta-testers"
        page = await signed_in_page(c.client, c.admin_key, path)
        fields = replace_field(form_fields(page, "editor"), "included", "user-1\nuser-3")
        saved = await post_form(c.client, path, [*fields, ("op", "save")])
        assert saved.status_code == 303
        segment = c.service.get_segment(Principal.system(), "default", "production", "beta-testers")
        assert segment.body["included"] == ["user-1", "user-3"]
        conflict = await post_form(c.client, path, [*fields, ("op", "save")])  # the old version again
        assert conflict.status_code == 409 and "changed this segment" in text_of(conflict.text)


async def test_keys_are_shown_once_and_revocation_ends_sessions(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        page = await signed_in_page(c.client, c.admin_key, "/p/default/production/keys")
        data = {"csrf_token": csrf_of(page), "name": "ci-writer", "kind": "admin", "role": "writer"}
        created = await c.client.post("/p/default/production/keys", data=data)
        assert created.status_code == 201
        secret = next(k for k in c.service.list_keys(Principal.system()) if k.name == "ci-writer")
        shown = created.text.split('id="new-secret"')[1].split('value="')[1].split('"')[0]
        assert shown.startswith("vxa_") and c.service.authorize(shown).name == "ci-writer"
        listing = await c.client.get("/p/default/production/keys")
        assert shown not in listing.text and secret.prefix in listing.text
        revoked = await c.client.post(
            f"/p/default/production/keys/{secret.id}/revoke", data={"csrf_token": csrf_of(listing.text)}
        )
        assert revoked.status_code == 303
        assert c.service.get_key(Principal.system(), secret.id).revoked


async def test_sign_out_ends_the_session(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        page = await signed_in_page(c.client, c.admin_key, "/p/default/production/flags")
        cookie = c.client.cookies.get("vexil_session")
        out = await c.client.post("/signout", data={"csrf_token": csrf_of(page)})
        assert out.status_code == 303 and out.headers["location"] == "/signin"
        c.client.cookies.set("vexil_session", cookie or "")
        after = await c.client.get("/p/default/production/flags")
        assert after.status_code == 303 and after.headers["location"].startswith("/signin")


async def test_debugger_highlights_and_explains(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        await signed_in_page(c.client, c.admin_key, "/")
        context = json.dumps({"key": "u9", "email": "ada@example.com"})
        page = await c.client.get(
            "/p/default/production/debugger", params={"flag": "new-checkout", "context": context}
        )
        assert page.status_code == 200
        assert (
            'id="rule-view-0" aria-current="true"' in page.text and "RULE_MATCH · rule 1 (staff)" in page.text
        )
        assert "Recent contexts" in page.text
        bad = await c.client.get("/p/default/production/debugger", params={"context": "{nope"})
        assert bad.status_code == 422 and "not valid JSON" in text_of(bad.text)
        everything = await c.client.get("/p/default/production/debugger", params={"context": context})
        assert everything.text.count("reason-") >= 4


async def test_security_headers_and_api_precedence(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        page = await c.client.get("/signin")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
        api = await c.client.get("/api/v1/nowhere")
        assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
        wrong_method = await c.client.request("DELETE", "/api/v1/projects")
        assert wrong_method.status_code == 405
        projects = await c.client.get("/api/v1/projects", headers={"Authorization": f"Bearer {c.admin_key}"})
        assert projects.status_code == 200 and projects.headers["content-type"].startswith("application/json")
        static = await c.client.get("/static/htmx.min.js")
        assert static.status_code == 200 and static.text.startswith("/*! htmx 2.")


async def test_oversized_forms_are_refused(tmp_path: Path) -> None:
    async with console_app(tmp_path, max_body_bytes=2048) as c:
        page = await signed_in_page(c.client, c.admin_key, "/p/default/production/new-flag")
        big = await c.client.post(
            "/p/default/production/new-flag", data={"csrf_token": csrf_of(page), "description": "x" * 5000}
        )
        assert big.status_code == 413


async def test_switcher_keeps_the_page_and_falls_back_safely(tmp_path: Path) -> None:
    async with console_app(tmp_path) as c:
        await signed_in_page(c.client, c.admin_key, "/")
        same_flag = await c.client.get(
            "/switch",
            params={"project": "default", "environment": "development", "section": "flags/new-checkout/x"},
        )
        assert same_flag.headers["location"] == "/p/default/development/flags/new-checkout"
        unknown_env = await c.client.get("/switch", params={"project": "default", "environment": "nope"})
        assert unknown_env.headers["location"] == "/p/default/development/flags"  # the non-critical one
        history = await c.client.get(
            "/switch", params={"project": "default", "environment": "production", "section": "history"}
        )
        assert history.headers["location"] == "/p/default/production/history"
        bare = await c.client.get("/p/default/production")
        assert bare.headers["location"] == "/p/default/production/flags"
        missing = await c.client.get("/p/default/staging/flags")
        assert missing.status_code == 404 and "staging" in text_of(missing.text)
