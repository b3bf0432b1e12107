"""The console in real Chromium against a real `vexil serve`: sign in, create a flag, add a rule with a
clause and a rollout, turn it on and off in production with the typed confirmation, read the audit entry
and its diff, debug an evaluation, hit a conflict with a change made through the API, and a reader's view.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, Server, screenshot, sign_in, vexil_serve
from playwright.sync_api import Browser, Page, expect, sync_playwright

FLAG = "browser-checkout"
TIMEOUT_MS = 10_000


def _seed_usage(server: Server) -> None:
    """Evaluation counts through the events endpoint, so the list shows real usage numbers."""
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    body = {"name": "web", "kind": "server", "project": "default", "environment": "production"}
    key = httpx.post(f"{server.url}/api/v1/keys", headers=admin, json=body).json()["key"]
    end = datetime.now(UTC) - timedelta(minutes=3)
    events = [
        {
            "kind": "summary",
            "flag": flag,
            "variation": variation,
            "version": None,
            "count": count,
            "window_start": (end - timedelta(minutes=1)).isoformat(),
            "window_end": end.isoformat(),
        }
        for flag, variation, count in [
            ("new-checkout", 0, 8120),
            ("new-checkout", 1, 2034),
            ("search-ranking", 0, 15310),
            ("max-upload-mb", 1, 420),
        ]
    ]
    sent = httpx.post(f"{server.url}/events/v1/bulk", headers={"Authorization": f"Bearer {key}"}, json=events)
    assert sent.status_code == 202, sent.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with vexil_serve(tmp_path_factory.mktemp("console")) as running:
        _seed_usage(running)
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install -y chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    # Console errors include Content-Security-Policy violations (inline code, outside resources); error
    # statuses the tests provoke on purpose (a reader opening the editor) are not JavaScript errors.
    tab.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    try:
        yield tab
    finally:
        context.close()
    assert not errors, errors  # no JavaScript errors (a CSP violation would be one)


def _confirm_toggle(page: Page, environment: str, verb: str, comment: str) -> None:
    row = page.locator(f"#env-{environment}")
    row.locator("summary").click()
    row.get_by_label(f"Type {FLAG} to confirm").fill(FLAG)
    row.get_by_label("Why").fill(comment)
    row.get_by_role("button", name=f"Turn {verb} in {environment}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Turned {FLAG} {verb} in {environment}")


def test_flag_lifecycle(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    screenshot(page, "signin")
    sign_in(page, server, server.admin_key)
    page.goto(server.url + "/p/default/production/flags")
    expect(page.locator("table.flags")).to_contain_text("new-checkout")
    screenshot(page, "flags")

    # Create a flag.
    page.get_by_role("link", name="New flag").click()
    page.get_by_label("Key", exact=True).fill(FLAG)
    page.get_by_label("Description").fill("One-page checkout, corporate users first")
    page.get_by_label("Tags").fill("checkout, web")
    page.get_by_role("button", name="Create flag").click()
    expect(page.get_by_role("status")).to_contain_text(f"Created {FLAG}")

    # A rule with a clause and a 25/75 rollout, the total updating live.
    page.get_by_role("link", name="Edit targeting").click()
    page.get_by_role("button", name="+ Add rule").click()
    rule = page.locator("#rule-0")
    rule.get_by_label("Rule 1 condition 1: attribute", exact=True).fill("email")
    rule.get_by_label("Rule 1 condition 1: operator").select_option("ends_with")
    rule.get_by_label("Rule 1 condition 1: values, one per line").fill("@corp.test")
    rule.get_by_label("Rule 1 description").fill("Corporate users")
    rule.locator("select[name='r0.serve']").select_option("rollout")
    total = rule.locator(".rollout-total")
    expect(total).to_be_visible()
    expect(rule.get_by_label("Rule 1 condition 1: attribute", exact=True)).to_have_value("email")
    rule.get_by_label("Percentage for false", exact=True).fill("25")
    expect(total).to_have_text("Total 25% (must be 100%)")
    rule.get_by_label("Percentage for true", exact=True).fill("75")
    expect(total).to_have_text("Total 100%")
    page.get_by_label("Comment for the audit log").fill("corporate users first")
    screenshot(page, "targeting-editor")
    page.get_by_role("button", name="Save production").click()
    expect(page.get_by_role("status")).to_contain_text(f"Saved the targeting of {FLAG} in production")
    expect(page.locator(".rule-view")).to_contain_text('email ends with "@corp.test"')
    expect(page.locator(".rule-view")).to_contain_text("rollout 25% false / 75% true")

    # On in production, through the typed confirmation.
    _confirm_toggle(page, "production", "on", "launch for corporate users")
    expect(page.locator("#env-production .switch")).to_contain_text("On")
    screenshot(page, "flag")

    # The debugger evaluates in every environment and highlights the deciding rule.
    page.get_by_role("link", name="Debug", exact=True).click()
    context = {"kind": "user", "key": "u-7", "email": "ada@corp.test"}
    page.get_by_label("Evaluate as").fill(json.dumps(context, indent=2))
    page.get_by_role("button", name="Evaluate").click()
    production = page.get_by_role("article", name="Result in production")
    expect(production.locator(".rule-view.decided")).to_contain_text("Matched")
    expect(production.locator(".rule-view.decided")).to_contain_text("Corporate users")
    expect(production.locator(".verdict .reason")).to_contain_text("RULE_MATCH · rule 1")
    development = page.get_by_role("article", name="Result in development")
    expect(development.locator(".verdict .reason")).to_have_text("OFF")
    screenshot(page, "debugger")

    # Off again (the kill switch), then the audit entry with its diff and comment.
    page.goto(f"{server.url}/p/default/production/flags/{FLAG}")
    _confirm_toggle(page, "production", "off", "rollback: checkout errors")
    page.goto(f"{server.url}/p/default/production/history?flag={FLAG}")
    entry = page.locator(".audit-entry").first
    expect(entry).to_contain_text("rollback: checkout errors")
    expect(entry).to_contain_text("targeting of")
    change = entry.locator("table.diff tr", has=page.locator("th", has_text=re.compile(r"^on$")))
    expect(change.locator("del")).to_have_text("true")
    expect(change.locator("ins")).to_have_text("false")
    screenshot(page, "history")


def test_conflict_with_a_change_made_through_the_api(page: Page, server: Server) -> None:
    sign_in(page, server, server.admin_key)
    page.goto(f"{server.url}/p/default/development/flags/search-ranking/targeting")
    page.get_by_role("button", name="+ Add target").click()
    page.get_by_label("Target 1").locator("textarea").fill("vip-1\nvip-2")
    response = httpx.patch(
        f"{server.url}/api/v1/projects/default/flags/search-ranking/environments/development",
        headers={
            "Authorization": f"Bearer {server.admin_key}",
            "X-Vexil-Comment": "ops: semantic by default",
        },
        json={"fallthrough": {"variation": 1}},
    )
    assert response.status_code == 200, response.text
    page.get_by_role("button", name="Save development").click()
    alert = page.locator("#conflict")
    expect(alert).to_contain_text("Someone else changed this targeting while you were editing")
    expect(alert).to_contain_text("ops: semantic by default")
    expect(alert.locator("table.diff")).to_contain_text("fallthrough.variation")
    expect(page.get_by_label("Target 1").locator("textarea")).to_have_value("vip-1\nvip-2")
    screenshot(page, "conflict")
    page.get_by_role("button", name="Save development").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the targeting of search-ranking in development")
    stored = httpx.get(
        f"{server.url}/api/v1/projects/default/flags/search-ranking/environments/development",
        headers={"Authorization": f"Bearer {server.admin_key}"},
    ).json()
    assert stored["fallthrough"] == {"variation": 1}  # theirs, not lost
    assert stored["targets"] == [{"variation": 0, "values": ["vip-1", "vip-2"]}]  # ours


def test_reader_cannot_edit(page: Page, server: Server) -> None:
    created = httpx.post(
        f"{server.url}/api/v1/keys",
        headers={"Authorization": f"Bearer {server.admin_key}"},
        json={"name": "product-reader", "kind": "admin", "role": "reader"},
    )
    assert created.status_code == 201
    sign_in(page, server, created.json()["key"])
    page.goto(f"{server.url}/p/default/production/flags/new-checkout")
    expect(page.locator(".targeting-view")).to_contain_text("Employees see it first")
    expect(page.get_by_role("link", name="Edit targeting")).to_have_count(0)
    expect(page.locator("form[action$='/toggle']")).to_have_count(0)
    expect(page.get_by_role("link", name="API keys")).to_have_count(0)
    expect(page.locator(".who .role")).to_have_text("reader")
    page.goto(f"{server.url}/p/default/production/flags/new-checkout/targeting")
    expect(page.get_by_role("heading", level=1)).to_have_text("Read-only access")
    page.goto(f"{server.url}/p/default/production/segments/beta-testers")
    expect(page.locator("#editor")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("user-1")


def test_other_pages_render(page: Page, server: Server) -> None:
    sign_in(page, server, server.admin_key)
    page.goto(f"{server.url}/p/default/production/segments/beta-testers")
    expect(page.get_by_label("Included keys (one per line)")).to_have_value("user-1\nuser-2")
    screenshot(page, "segment")
    page.goto(f"{server.url}/p/default/production/keys")
    expect(page.locator("table.keys")).to_contain_text("bootstrap")
    screenshot(page, "keys")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/p/default/production/flags")
    expect(page.locator("table.flags")).to_contain_text("search-ranking")
    screenshot(page, "flags-mobile")
