"""Helpers of the browser tests: a real `vexil serve --demo` subprocess (temporary data directory, a port
the kernel picks) and Debian's Chromium driven by Playwright (never a browser Playwright downloads).

With VEXIL_SCREENSHOTS=1, `screenshot()` saves full-page PNGs under docs/screenshots/ for the README.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
_LISTENING = re.compile(r"Uvicorn running on http://[^:]+:(\d+)")


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    log: Path
    url: str
    admin_key: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _vexil() -> str:
    beside = Path(sys.executable).parent / "vexil"
    found = str(beside) if beside.exists() else shutil.which("vexil")
    assert found, "the vexil console script is not installed: pip install -e ."
    return found


@contextmanager
def vexil_serve(data_dir: Path, timeout: float = 20.0) -> Iterator[Server]:
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEXIL_")}
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [_vexil(), "serve", "--demo", "--data-dir", str(data_dir), "--port", "0"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**env, "VEXIL_LOG_LEVEL": "info"},
        )
    try:
        deadline = time.monotonic() + timeout
        port = 0
        while not port:
            found = _LISTENING.search(log.read_text(errors="replace"))
            if found:
                port = int(found.group(1))
            elif proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"vexil serve did not start:\n{log.read_text(errors='replace')}")
            else:
                time.sleep(0.05)
        key = (data_dir / "admin.key").read_text().strip()
        yield Server(proc, log, f"http://127.0.0.1:{port}", key)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot for the docs when VEXIL_SCREENSHOTS=1 (a no-op otherwise)."""
    if os.environ.get("VEXIL_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")


def sign_in(page: Page, server: Server, key: str) -> None:
    page.goto(server.url + "/")
    page.get_by_label("Admin key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/flags$"))
