"""``adseed chat`` as a subprocess: the conversation in a terminal, stdin in, replies out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from agent_helpers import seeded_workspace

from adseed.config import resolve_settings

pytestmark = pytest.mark.e2e
SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_chat_in_the_terminal_proposes_and_asks_again_on_nonsense(tmp_path):
    settings = resolve_settings({"home": tmp_path / "ws", "embedder": "fake"}, env={})
    seeded_workspace(settings, tmp_path)
    env = {**os.environ, "PYTHONPATH": SRC, "ADSEED_HOME": str(settings.home), "ADSEED_EMBEDDER": "fake"}
    run = subprocess.run(
        [sys.executable, "-m", "adseed.cli", "chat", "--chat-model", "fake", "--session", "term-1"],
        input="?\ndog owners who love parks\nquit\n", capture_output=True, text=True, env=env, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("agent> ")]
    assert lines[0] == "agent> Which audience segment is this ad for?"
    assert "could not read that as an audience" in lines[1]
    assert lines[2].startswith("agent> How about a dog in a park?")
    again = subprocess.run(  # the session was stored: a second process continues it
        [sys.executable, "-m", "adseed.cli", "chat", "--chat-model", "fake", "--session", "term-1"],
        input="qwerty\n", capture_output=True, text=True, env=env, timeout=120,
    )
    assert "Shall I look for photos of that idea" in again.stdout
