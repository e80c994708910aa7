"""Conversations persisted in the workspace, one namespace per principal.

Why SQLite (``<home>/agent/sessions.db``) and not a Delta table: a session is read
and rewritten on every turn and the whole turn must stay well under 50 ms; one Delta
commit costs ~50 ms on 2 cores, a SQLite upsert well under 1 ms, and SQLite is
transactional across the server's threads and processes. Sessions are keyed by
(principal, session_id): a principal can neither read nor overwrite another's
conversation, and cannot even tell whether an id is in use by someone else — the same
id simply names its own, separate conversation. Writes are optimistic (a version
number): two turns racing on one session cannot both land; the loser gets a clear
StateError instead of silently dropping the other's turn.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adseed.agent.policy import State
from adseed.errors import InvalidInput, StateError
from adseed.storage.sqlite import SqliteFile

_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    principal TEXT NOT NULL, session_id TEXT NOT NULL, version INTEGER NOT NULL,
    state TEXT NOT NULL, messages TEXT NOT NULL, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, PRIMARY KEY (principal, session_id));
"""


@dataclass
class Session:
    """One conversation: the policy state and the transcript (text, tool calls, images)."""

    principal: str
    session_id: str
    state: State = field(default_factory=State)
    messages: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0  # 0: not stored yet

    def add(self, role: str, text: str, **extra: Any) -> dict[str, Any]:
        message = {"role": role, "text": text, **{k: v for k, v in extra.items() if v is not None}}
        self.messages.append(message)
        return message

    def history(self, turns: int = 6) -> tuple[tuple[str, str], ...]:
        """The last few (role, text) pairs, for a chat model's context."""
        pairs = [(m["role"], m["text"]) for m in self.messages if m.get("text")]
        return tuple(pairs[-turns:])


def check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not _ID.fullmatch(session_id):
        raise InvalidInput(
            f"invalid session_id {session_id!r}: 1-128 letters, digits, '_', '.', ':', '-'"
        )
    return session_id


def new_session_id() -> str:
    return uuid.uuid4().hex


class SessionStore:
    def __init__(self, home: Path) -> None:
        self.path = home / "agent" / "sessions.db"
        self._file = SqliteFile(self.path, _SCHEMA)

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.connect()

    def load(self, principal: str, session_id: str) -> Session:
        """The principal's session of that id, or a new empty one (not stored until saved)."""
        check_session_id(session_id)
        with self._db() as db:
            row = db.execute(
                "SELECT version, state, messages FROM sessions WHERE principal=? AND session_id=?",
                (principal, session_id),
            ).fetchone()
        if row is None:
            return Session(principal, session_id)
        state = State.from_dict(json.loads(row[1]))
        return Session(principal, session_id, state, json.loads(row[2]), int(row[0]))

    def save(self, session: Session) -> None:
        """Store a session; fails if someone else saved it since it was loaded."""
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        state = json.dumps(session.state.to_dict())
        messages = json.dumps(session.messages)
        key = (session.principal, session.session_id)
        with self._db() as db:
            if session.version == 0:
                cur = db.execute(
                    "INSERT OR IGNORE INTO sessions VALUES (?, ?, 1, ?, ?, ?, ?)",
                    (*key, state, messages, now, now),
                )
            else:
                cur = db.execute(
                    "UPDATE sessions SET version=version+1, state=?, messages=?, updated_at=? "
                    "WHERE principal=? AND session_id=? AND version=?",
                    (state, messages, now, *key, session.version),
                )
        if cur.rowcount != 1:
            raise StateError(
                f"session {session.session_id!r} changed while this turn ran: send it again"
            )
        session.version += 1

    def list(self, principal: str) -> list[dict[str, Any]]:
        """The principal's own sessions, newest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT session_id, updated_at, state FROM sessions WHERE principal=? "
                "ORDER BY updated_at DESC",
                (principal,),
            ).fetchall()
        return [
            {"session_id": r[0], "updated_at": r[1], "stage": json.loads(r[2])["stage"]}
            for r in rows
        ]
