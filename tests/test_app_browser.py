"""End to end in headless Chromium: type a segment in the Chat tab, accept, see the ad.

Drives Debian's chromium with Playwright (no browser download: ``executable_path``).
The app runs as a real ``streamlit run`` process against a real server on a socket.
The screenshot lands in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from agent_helpers import seeded_workspace, serving

from adseed.config import resolve_settings

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install -y chromium)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_streamlit(url: str, token: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "ADSEED_AGENT_URL": url, "ADSEED_TOKEN": token,
           "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "src/adseed/app/streamlit_app.py"),
         "--server.headless=true", f"--server.port={port}", "--browser.gatherUsageStats=false"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/_stcore/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start: " + proc.stderr.read().decode()[-2000:])


def test_chat_tab_from_segment_to_rendered_ad(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    settings = resolve_settings({"home": tmp_path / "ws", "embedder": "fake", "agent_chat": "persona"}, env={})
    seeded_workspace(settings, tmp_path)
    token = (settings.home / ".owner-token").read_text().strip()
    with serving(settings) as url:
        proc, base = start_streamlit(url, token)
        try:
            with playwright.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1100, "height": 1500})
                page.goto(base, wait_until="networkidle")
                page.get_by_role("tab", name="Chat").click()
                box = page.get_by_placeholder("Describe your audience, then answer the agent")
                box.fill("dog owners who love the outdoors")
                box.press("Enter")
                page.get_by_text("How about").wait_for(timeout=60_000)
                box.fill("yes, sounds great")
                box.press("Enter")
                page.locator("img[alt='Seed photo']").wait_for(timeout=60_000)
                box.fill("perfect, make the ad")
                box.press("Enter")
                ad = page.locator("img[alt='Your ad']")
                ad.wait_for(timeout=60_000)
                width = ad.evaluate("img => img.complete ? img.naturalWidth : 0")
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "chat-e2e.png"), full_page=True)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert width > 0  # the ad was decoded by the browser, not just a broken <img>
    assert (ARTIFACTS / "chat-e2e.png").stat().st_size > 10_000
