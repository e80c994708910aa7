"""``adseed chat`` (the conversation in the terminal) and ``adseed app`` (the Streamlit app)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import click


@click.command()
@click.option("--session", "session_id", default=None, help="Continue this conversation.")
@click.option("--chat-model", default=None, help="persona (default), openai or fake.")
@click.pass_context
def chat(ctx: click.Context, session_id: str | None, chat_model: str | None) -> None:
    """Talk to the ad agent in the terminal; one line per reply, Ctrl-D or 'quit' to stop."""
    from adseed.cli import _edge

    _edge(_chat)(ctx, session_id, chat_model)


def _chat(ctx: click.Context, session_id: str | None, chat_model: str | None) -> None:
    from adseed.agent.core import Agent
    from adseed.agent.responses_agent import shared_chat_model
    from adseed.cli import _workspace
    from adseed.errors import AdseedError

    ws = _workspace(ctx, agent_chat=chat_model)
    agent = Agent(ws, shared_chat_model(ws.settings))
    session_id = session_id or uuid.uuid4().hex[:12]
    click.echo(f"session {session_id} (acting as {ws.principal.name}); Ctrl-D to stop")
    click.echo("agent> Which audience segment is this ad for?")
    for line in sys.stdin:
        text = line.strip()
        if text.lower() in {"quit", "exit"}:
            break
        if not text:
            continue
        try:
            turn = agent.turn(text, session_id)
        except AdseedError as exc:  # one failed turn does not end the conversation
            click.echo(f"error: {exc}", err=True)
            continue
        click.echo(f"agent> {turn.reply}")
        if turn.last_image:
            click.echo(f"[{turn.last_image['type']}] {turn.last_image['path']}")


@click.command()
@click.option("--port", type=int, default=8501, show_default=True)
@click.option("--url", default=None, help="The `adseed serve` address (setting agent_url).")
@click.pass_context
def app(ctx: click.Context, port: int, url: str | None) -> None:
    """Start the Streamlit app (Image Gen and Chat tabs) against a running `adseed serve`."""
    from adseed.cli import _edge

    _edge(_app)(ctx, port, url)


def _app(ctx: click.Context, port: int, url: str | None) -> None:
    from adseed.cli import _settings
    from adseed.governance.service import OWNER_TOKEN_FILE

    settings = _settings(ctx, agent_url=url)
    token = settings.token
    if not token:  # local use: the CLI acts as the owner, so does the app it starts
        owner = settings.home / OWNER_TOKEN_FILE
        token = owner.read_text().strip() if owner.is_file() else ""
    script = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
    env = {**os.environ, "ADSEED_AGENT_URL": settings.agent_url, "ADSEED_TOKEN": token}
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless=true",
           f"--server.port={port}", "--browser.gatherUsageStats=false"]  # fmt: skip
    click.echo(f"adseed app on http://127.0.0.1:{port} (agent at {settings.agent_url})")
    sys.exit(subprocess.call(cmd, env=env))


COMMANDS = (chat, app)
