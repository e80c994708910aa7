"""Path traversal, 250+ payloads against the Python API, the CLI and the Files API.

A canary file outside the workspace is watched with inotify: the test fails if any
payload makes anything open or read it. The caller is the workspace owner (an admin),
so only the path rules stand between a payload and the canary.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner
from gov_helpers import OpenWatch, running_server, seed_workspace

from adseed.cli import main
from adseed.config import resolve_settings
from adseed.errors import AdseedError

DOTS = ["..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "%252e%252e", "%c0%ae%c0%ae", "\uff0e\uff0e", "..%00", "...", "....", "..;"]
SEPS = ["/", "%2f", "%2F", "\\", "%5c", "%252f", "%c0%af", "\uff0f", "\u2215", "//"]
SEEDS = "/Volumes/main/bricks/seeds/"


def payloads(canary: Path) -> list[str]:
    """Every dot form × separator form at two depths, plus absolute and odd forms."""
    out = [f"{SEEDS}{(d + s) * depth}canary/secret.txt" for d in DOTS for s in SEPS for depth in (5, 8)]
    out += [
        str(canary), f"/Volumes/../../..{canary}", f"/Volumes/main/bricks/../../../..{canary}",
        "/etc/passwd", "/Volumes/main/bricks/seeds/../../../../../../etc/passwd",
        f"file://{canary}", f"{SEEDS}\x00../../../../../canary/secret.txt", f"{SEEDS}img0.png\x00.txt",
        f"{SEEDS}link-out", f"{SEEDS}dir-out/secret.txt", "/Volumes/main/bricks/seeds/.staging/../../../../canary/secret.txt",
        "/Volumes/main/bricks/seeds/./img0.png", "/volumes/main/bricks/seeds/img0.png", "/Volumes/main/bricks/..",
        "/Volumes/main/..%2f..%2f..%2fcanary/secret.txt", "/Volumes/%2e%2e/%2e%2e/canary/secret.txt",
    ]
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("traversal")
    canary = tmp / "canary" / "secret.txt"
    canary.parent.mkdir()
    canary.write_text("the canary must never be opened")
    settings = resolve_settings({"home": tmp / "ws", "embedder": "fake"}, env={})
    admin = seed_workspace(settings, tmp / "src")
    seeds_dir = settings.volumes_root / "main" / "bricks" / "seeds"
    os.symlink(canary, seeds_dir / "link-out")  # planted by someone with shell access
    os.symlink(canary.parent, seeds_dir / "dir-out")
    assert len(payloads(canary)) >= 250
    return admin, canary


@pytest.fixture
def watch(world):
    _, canary = world
    w = OpenWatch(canary)
    yield w
    assert w.events() == 0, "the canary outside the workspace was opened"
    w.close()


def _outside_untouched(world) -> None:
    admin, canary = world
    assert sorted(p.name for p in canary.parent.iterdir()) == ["secret.txt"]
    assert canary.read_text() == "the canary must never be opened"  # after the watch closes


def test_python_api_rejects_every_payload(world, watch) -> None:
    admin, canary = world
    for payload in payloads(canary):
        for op in (admin.read_file, admin.list_dir, admin.delete_file):
            with pytest.raises(AdseedError):
                op(payload)
        with pytest.raises(AdseedError):
            admin.write_file(payload, b"overwrite attempt")


def test_cli_rejects_every_payload(world, watch) -> None:
    admin, canary = world
    runner = CliRunner()
    for payload in payloads(canary):
        for args in (["files", "get", payload], ["files", "ls", payload], ["rm", payload]):
            result = runner.invoke(main, ["--home", str(admin.home), *args], env={"ADSEED_TOKEN": ""})
            assert result.exit_code in (2, 3), (payload, result.output)
            assert "the canary" not in result.output


def test_real_cli_subprocess_rejects_a_sample(world, watch) -> None:
    admin, canary = world
    adseed = Path(sys.executable).with_name("adseed")
    for payload in [p for p in payloads(canary) if "\x00" not in p][::40]:
        out = subprocess.run([str(adseed), "--home", str(admin.home), "files", "get", payload],
                             capture_output=True, text=True, timeout=60, env={**os.environ, "ADSEED_TOKEN": ""})  # fmt: skip
        assert out.returncode in (2, 3) and "canary must never" not in out.stdout


def test_files_api_rejects_every_payload(world, watch) -> None:
    admin, canary = world
    token = (admin.home / ".owner-token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}"}
    with running_server(admin.settings) as port:
        for payload in payloads(canary):
            raw = urllib.parse.quote(payload.lstrip("/"), safe="/%\\;.:")  # keep the payload's own encodings
            for method, base in [("GET", "files"), ("GET", "directories"), ("PUT", "files"), ("DELETE", "files")]:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request(method, f"/api/2.0/fs/{base}/{raw}", body=b"x" if method == "PUT" else None, headers=headers)
                response = conn.getresponse()
                body = response.read()
                conn.close()
                assert response.status in (400, 403, 404), (method, payload, response.status, body[:200])
                assert b"canary must never" not in body


def test_nothing_was_written_outside(world) -> None:
    _outside_untouched(world)


def test_the_watch_sees_an_open(tmp_path) -> None:
    """The detector itself: without this, a silent watch would prove nothing."""
    target = tmp_path / "x.txt"
    target.write_text("x")
    w = OpenWatch(target)
    assert w.events() == 0
    target.read_text()
    assert w.events() > 0
    w.close()
