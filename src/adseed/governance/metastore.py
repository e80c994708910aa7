"""Principals, their hashed API tokens, grants and ownership, in one SQLite file.

Why SQLite and not a Delta table: this is the metastore, read on *every* request
(revocation must take effect on the very next one) and written rarely. A SQLite read
is tens of microseconds and transactional across processes; a Delta snapshot read is
milliseconds. Audit records, which are data, go to a Delta table (see audit.py).
Tokens are 256-bit random strings, so a plain SHA-256 is the right hash for them:
nothing to brute-force, and lookups stay one indexed read.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from adseed.errors import InvalidInput, NotFound, StateError
from adseed.governance.securables import GRANTABLE, Privilege, Securable

_PRINCIPAL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
KINDS = ("user", "service")
TOKEN_PREFIX = "adseed_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS principals (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    is_admin INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS grants (
    principal TEXT NOT NULL REFERENCES principals(name), privilege TEXT NOT NULL,
    kind TEXT NOT NULL, object TEXT NOT NULL, granted_by TEXT NOT NULL, granted_at TEXT NOT NULL,
    PRIMARY KEY (principal, privilege, kind, object));
CREATE TABLE IF NOT EXISTS owners (
    kind TEXT NOT NULL, object TEXT NOT NULL, owner TEXT NOT NULL REFERENCES principals(name),
    PRIMARY KEY (kind, object));
"""


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str
    is_admin: bool = False


@dataclass(frozen=True)
class Grant:
    principal: str
    privilege: Privilege
    securable: Securable
    granted_by: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_principal_name(name: str) -> str:
    if not isinstance(name, str) or not _PRINCIPAL.fullmatch(name):
        raise InvalidInput(f"invalid principal name {name!r}: 1-64 letters, digits, '_.@-'")
    return name


class Metastore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self.path.is_file():
            raise StateError(f"no governance metastore at {self.path}: run 'adseed init'")
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            yield conn
        finally:
            conn.close()

    def create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(_SCHEMA)
        finally:
            conn.close()

    # -- principals ----------------------------------------------------------------------

    def add_principal(self, name: str, kind: str = "user", is_admin: bool = False) -> str:
        """Create a principal and return its token: shown once, stored only hashed."""
        check_principal_name(name)
        if kind not in KINDS:
            raise InvalidInput(f"invalid principal kind {kind!r}: expected user or service")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db() as db:
            try:
                db.execute(
                    "INSERT INTO principals VALUES (?, ?, ?, ?, ?)",
                    (name, kind, hash_token(token), int(is_admin), _now()),
                )
            except sqlite3.IntegrityError:
                raise InvalidInput(f"principal {name!r} already exists") from None
        return token

    def authenticate(self, token: str | None) -> Principal | None:
        if not token or not isinstance(token, str) or len(token) > 256:
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT name, kind, is_admin FROM principals WHERE token_hash = ?",
                (hash_token(token),),
            ).fetchone()
        return Principal(row[0], row[1], bool(row[2])) if row else None

    def principal(self, name: str) -> Principal:
        with self._db() as db:
            row = db.execute(
                "SELECT name, kind, is_admin FROM principals WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no principal named {name!r}")
        return Principal(row[0], row[1], bool(row[2]))

    def principals(self) -> list[Principal]:
        with self._db() as db:
            rows = db.execute("SELECT name, kind, is_admin FROM principals ORDER BY name")
            return [Principal(r[0], r[1], bool(r[2])) for r in rows]

    # -- grants and ownership -------------------------------------------------------------

    def grant(self, principal: str, privilege: Privilege, obj: Securable, by: str) -> bool:
        """Record a grant; False if it already existed."""
        if privilege not in GRANTABLE[obj.kind]:
            raise InvalidInput(f"{privilege.value} cannot be granted on a {obj.kind.value}")
        self.principal(principal)
        with self._db() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO grants VALUES (?, ?, ?, ?, ?, ?)",
                (principal, privilege.value, obj.kind.value, obj.name, by, _now()),
            )
            return cur.rowcount == 1

    def revoke(self, principal: str, privilege: Privilege, obj: Securable) -> bool:
        with self._db() as db:
            cur = db.execute(
                "DELETE FROM grants WHERE principal=? AND privilege=? AND kind=? AND object=?",
                (principal, privilege.value, obj.kind.value, obj.name),
            )
            return cur.rowcount > 0

    def grants(self, principal: str | None = None, obj: Securable | None = None) -> list[Grant]:
        sql, args = "SELECT principal, privilege, kind, object, granted_by FROM grants", []
        where = []
        if principal is not None:
            where.append("principal = ?")
            args.append(principal)
        if obj is not None:
            where.append("kind = ? AND object = ?")
            args += [obj.kind.value, obj.name]
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY kind, object, principal, privilege", args)
            return [Grant(r[0], Privilege(r[1]), Securable.parse(r[2], r[3]), r[4]) for r in rows]

    def privileges_on(self, principal: str, objects: list[Securable]) -> set[Privilege]:
        """Every privilege ``principal`` holds directly on any of ``objects``."""
        if not objects:
            return set()
        clause = " OR ".join("(kind = ? AND object = ?)" for _ in objects)
        args = [principal] + [v for o in objects for v in (o.kind.value, o.name)]
        with self._db() as db:
            rows = db.execute(
                f"SELECT privilege FROM grants WHERE principal = ? AND ({clause})", args
            )
            return {Privilege(r[0]) for r in rows}

    def set_owner(self, obj: Securable, owner: str) -> None:
        self.principal(owner)
        with self._db() as db:
            db.execute(
                "INSERT INTO owners VALUES (?, ?, ?) ON CONFLICT(kind, object) "
                "DO UPDATE SET owner = excluded.owner",
                (obj.kind.value, obj.name, owner),
            )

    def claim(self, obj: Securable, owner: str) -> None:
        """Make ``owner`` the owner of ``obj`` unless it already has one (creation)."""
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO owners VALUES (?, ?, ?)", (obj.kind.value, obj.name, owner)
            )

    def owns_any(self, principal: str, objects: list[Securable]) -> bool:
        if not objects:
            return False
        clause = " OR ".join("(kind = ? AND object = ?)" for _ in objects)
        args = [principal] + [v for o in objects for v in (o.kind.value, o.name)]
        with self._db() as db:
            row = db.execute(f"SELECT 1 FROM owners WHERE owner = ? AND ({clause})", args)
            return row.fetchone() is not None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
