"""The audit trail: an append-only Delta table whose records form a hash chain.

Each record carries the hash of the one before it, so editing or removing any record
breaks every hash after it, and ``verify`` names the first broken one. A head file
holds the last record's hash and the Delta version it was written at: it makes the
next append a file read instead of a table scan, and it lets ``verify`` notice a
truncated tail. ``verify`` also reads the Delta history, where any operation other
than an append (a DELETE, UPDATE, MERGE or overwrite) is itself evidence of tampering.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from adseed.storage.tables import TS, Tables

AUDIT = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("at", TS, nullable=False),
        pa.field("principal", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("object", pa.string(), nullable=False),
        pa.field("allowed", pa.bool_(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("prev_hash", pa.string(), nullable=False),
        pa.field("hash", pa.string(), nullable=False),
    ]
)
GENESIS = "0" * 64
_APPEND_OPS = {"CREATE TABLE", "WRITE"}
_THREAD_LOCK = threading.Lock()


def record_hash(prev: str, seq: int, at: datetime, principal: str, action: str,
                obj: str, allowed: bool, detail: str) -> str:  # fmt: skip
    body = json.dumps(
        [seq, at.isoformat(), principal, action, obj, allowed, detail], ensure_ascii=True
    )
    return hashlib.sha256((prev + body).encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    records: int
    problems: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.ok:
            return f"audit trail intact: {self.records} records, hash chain verified"
        return f"audit trail TAMPERED ({len(self.problems)} problem(s)): " + "; ".join(
            self.problems[:5]
        )


class AuditLog:
    def __init__(self, tables: Tables, home: Path) -> None:
        self.tables = tables
        self.head_file = home / "audit.head"
        self.lock_file = home / "audit.lock"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with _THREAD_LOCK, open(self.lock_file, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _latest_version(self) -> int:
        log = Path(self.tables.uri("audit")) / "_delta_log"
        versions = [
            int(n[:-5]) for n in os.listdir(log) if n.endswith(".json") and n[:-5].isdigit()
        ]
        return max(versions)

    def _head(self) -> tuple[int, str]:
        """(next seq, last hash): from the head file when it is current, else the table."""
        try:
            seq, last, version = self.head_file.read_text().split()
            if int(version) == self._latest_version():
                return int(seq) + 1, last
        except (FileNotFoundError, ValueError):
            pass
        rows = self.tables.read("audit", columns=["seq", "hash"])
        if rows.num_rows == 0:
            return 0, GENESIS
        last_row = rows.sort_by([("seq", "descending")]).slice(0, 1).to_pylist()[0]
        return int(last_row["seq"]) + 1, str(last_row["hash"])

    def record(self, principal: str, action: str, obj: str, allowed: bool, detail: str = "") -> int:
        """Append one record to the chain; returns its sequence number."""
        with self._locked():
            seq, prev = self._head()
            at = datetime.now(UTC)
            digest = record_hash(prev, seq, at, principal, action, obj, allowed, detail)
            row = pa.table(
                {"seq": [seq], "at": [at], "principal": [principal], "action": [action],
                 "object": [obj], "allowed": [allowed], "detail": [detail],
                 "prev_hash": [prev], "hash": [digest]},
                schema=AUDIT,
            )  # fmt: skip
            version = self.tables.append("audit", row)
            tmp = self.head_file.with_suffix(".tmp")
            tmp.write_text(f"{seq} {digest} {version}")
            os.replace(tmp, self.head_file)
            return seq

    def records(self) -> list[dict]:
        return self.tables.read("audit").sort_by("seq").to_pylist()

    def verify(self) -> Verdict:
        rows = self.records()
        problems = list(self._chain_problems(rows))
        try:
            _, head_hash, _ = self.head_file.read_text().split()
            if rows and rows[-1]["hash"] != head_hash:
                problems.append(
                    "the last record is not the one the head file names (tail removed?)"
                )
        except (FileNotFoundError, ValueError):
            if rows:
                problems.append("the head file is missing")
        for entry in self.tables.open("audit").history():
            op = str(entry.get("operation", ""))
            if (
                op not in _APPEND_OPS
                or entry.get("operationParameters", {}).get("mode") == "Overwrite"
            ):
                problems.append(f"Delta version {entry.get('version')} is a {op}, not an append")
        return Verdict(not problems, len(rows), tuple(problems))

    @staticmethod
    def _chain_problems(rows: list[dict]) -> Iterator[str]:
        prev = GENESIS
        for expected_seq, row in enumerate(rows):
            if row["seq"] != expected_seq:
                yield f"record {expected_seq} is missing (found seq {row['seq']})"
                return
            if row["prev_hash"] != prev:
                yield f"record {row['seq']} does not follow record {row['seq'] - 1}"
            fields = ("seq", "at", "principal", "action", "object", "allowed", "detail")
            digest = record_hash(row["prev_hash"], *(row[f] for f in fields))
            if digest != row["hash"]:
                yield f"record {row['seq']} was altered (hash mismatch)"
            prev = row["hash"]
