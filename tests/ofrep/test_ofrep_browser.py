"""A real browser: a page bundled from the published `@openfeature/web-sdk` and
`@openfeature/ofrep-web-provider` (npm ci + esbuild at set-up, nothing fetched at run time), served from
another origin, loaded in headless Debian Chromium through Playwright; a flag toggled through the admin API
changes the page without a reload.

Leaves a screenshot in test-artifacts/ofrep-browser.png.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from ofrep_live import LiveServer, running
from playwright.sync_api import Page, sync_playwright

WEB = Path(__file__).resolve().parent / "web"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = ROOT / "test-artifacts" / "ofrep-browser.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`npm ci` and esbuild in a temporary copy of tests/ofrep/web (parallel workers never share a tree)."""
    npm = shutil.which("npm")
    assert npm, "npm is required for the browser test (Debian: apt-get install -y npm)"
    work = tmp_path_factory.mktemp("ofrep-web")
    for name in ("package.json", "package-lock.json", "index.html"):
        shutil.copy2(WEB / name, work / name)
    shutil.copytree(WEB / "src", work / "src")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work, check=True, timeout=300
    )
    subprocess.run([npm, "run", "--silent", "build"], cwd=work, check=True, timeout=120)
    site = work / "dist"
    shutil.copy2(work / "index.html", site / "index.html")
    assert (site / "page.js").stat().st_size > 10_000
    return site


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No request log on stderr."""


@pytest.fixture(scope="module")
def site(bundle: Path) -> Iterator[str]:
    """The page on its own origin (127.0.0.1, another port), so every OFREP call is a CORS request."""
    handler = functools.partial(_Quiet, directory=str(bundle))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(site: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"VEXIL_OFREP_CORS_ORIGINS": site, "VEXIL_HEARTBEAT_SECONDS": "5"}
    with running(tmp_path_factory.mktemp("ofrep-browser"), env) as started:
        yield started


@pytest.fixture
def page() -> Iterator[Page]:
    assert CHROMIUM.exists(), "Debian Chromium is required: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 900, "height": 500})
        finally:
            browser.close()


def test_the_page_follows_a_flag_toggled_through_the_admin_api(
    server: LiveServer, site: str, page: Page
) -> None:
    key = server.new_key("client")
    flag = server.flag({"variations": [False, True], "client_side": True}, {"on": False})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{site}/index.html?{urlencode({'baseUrl': server.url, 'key': key, 'flag': flag})}")
    page.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=15_000)
    output = page.locator("#flag")
    assert output.text_content() == "OFF"
    assert output.get_attribute("data-reason") == "DISABLED"
    load_id = page.evaluate("window.vexilLoadId")

    toggled = time.perf_counter()
    response = httpx.patch(
        f"{server.url}/api/v1/projects/default/flags/{flag}/environments/production",
        headers={**server.admin(), "Content-Type": "application/merge-patch+json"},
        content=b'{"on": true}',
    )
    assert response.status_code == 200, response.text
    page.wait_for_function("document.getElementById('flag').textContent === 'ON'", timeout=10_000)
    seen_after = time.perf_counter() - toggled

    assert output.get_attribute("data-reason") == "STATIC" and output.get_attribute("data-variant") == "1"
    assert page.evaluate("window.vexilLoadId") == load_id, "the page reloaded"
    assert page.evaluate("window.vexilChanges") >= 1
    assert page.locator("#status").text_content() == "ready"
    assert not errors, errors
    assert seen_after < 5.0, seen_after
    # The change came over the OFREP stream (the provider polls not at all by default), then a bulk refetch.
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'vexil_http_request_duration_seconds_count{method="GET",route="/ofrep/v1/stream"}' in metrics
    bulk_ok = 'vexil_http_requests_total{method="POST",route="/ofrep/v1/evaluate/flags",status="200"} '
    assert float(metrics.split(bulk_ok)[1].split()[0]) >= 2  # the first load and the refetch after the event
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACT))
    assert ARTIFACT.stat().st_size > 1000
