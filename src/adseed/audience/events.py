"""Behaviour events in: read Parquet, CSV or JSON Lines, check every row, append to ``events``.

A bad row never sinks a file: each one is rejected with one line naming where it is
(``line N`` of a text file, ``row N`` of a Parquet file) and why, and the valid rows of
the same file are committed together, in one Delta commit, so a crash leaves either
all of them or none. A file's ``batch`` is the hash of its bytes: ingesting the same
file again changes nothing.

An item is a volume path (``/Volumes/<catalog>/<schema>/<volume>/<file>``) of an asset
in the ``assets`` table: the same identifier every other stage passes around. Events
naming anything else are rejected, so a typo cannot silently vanish from a user.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from adseed.audience.schema import EVENT_TYPES, EVENTS
from adseed.errors import InvalidInput, InvalidPath, NotFound
from adseed.storage.volumes import VolumePath

FIELDS = ("user_id", "item", "event", "ts")
ALIASES = {
    "user_id": ("user_id", "user", "userid"),
    "item": ("item", "item_path", "path", "item_id"),
    "event": ("event", "event_type", "type", "action"),
    "ts": ("ts", "timestamp", "time", "event_time"),
}
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
FORMATS |= {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
MAX_USER_ID = 256
FUTURE_SLACK = timedelta(days=1)  # clocks disagree; a day ahead is still plausibly "now"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

RejectHandler = Callable[[str, str], None]


@dataclass(frozen=True)
class Rejection:
    """One refused row: where it is (``line 3``, ``row 7``) and why."""

    where: str
    reason: str


@dataclass
class RawEvents:
    """Rows as read, before any check: canonical field → values, and where each row is."""

    columns: dict[str, list[Any]]
    where: list[str]
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class CheckedEvents:
    """The valid rows as an ``events`` table, and every rejection in file order."""

    rows: pa.Table
    rejections: list[Rejection]


def sniff_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in ("parquet", "csv", "jsonl"):
            raise InvalidInput(f"unknown events format {fmt!r}: use parquet, csv or jsonl")
        return fmt
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise InvalidInput(
            f"cannot tell the format of {path.name!r} from its extension: "
            "name it .parquet, .csv or .jsonl, or pass --format"
        )
    return found


def read_event_file(path: Path, fmt: str | None = None) -> tuple[RawEvents, str]:
    """Read ``path`` into raw rows; returns them and the sha256 of the bytes read."""
    kind = sniff_format(path, fmt)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"no such events file: {path}") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from exc
    readers = {"parquet": _read_parquet, "csv": _read_csv, "jsonl": _read_jsonl}
    raw = readers[kind](data, path.name)
    return raw, hashlib.sha256(data).hexdigest()


def _canonical(names: Iterable[str], source: str) -> dict[str, str]:
    """Given column names → canonical field for each one we use; all four must be there."""
    lowered = {str(n).strip().lower(): str(n) for n in names}
    found = {}
    for canon, aliases in ALIASES.items():
        hit = next((lowered[a] for a in aliases if a in lowered), None)
        if hit is None:
            raise InvalidInput(
                f"{source}: no {canon!r} column (need {', '.join(FIELDS)}; "
                f"found {', '.join(sorted(lowered)) or 'none'})"
            )
        found[hit] = canon
    return found


def _read_parquet(data: bytes, source: str) -> RawEvents:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidInput(f"{source}: not a readable Parquet file ({exc})") from exc
    return table_to_raw(table, source)


def table_to_raw(table: pa.Table, source: str = "events table") -> RawEvents:
    """An Arrow table with the four fields (or their aliases) → raw rows, ``row N``."""
    mapping = _canonical(table.column_names, source)
    columns = {canon: table[name].to_pylist() for name, canon in mapping.items()}
    return RawEvents(columns, [f"row {i + 1}" for i in range(table.num_rows)])


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _read_csv(data: bytes, source: str) -> RawEvents:
    reader = csv.reader(io.StringIO(_decode(data, source), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(f"{source}: empty file, not even a header") from None
    except csv.Error as exc:
        raise InvalidInput(f"{source}: unreadable CSV header ({exc})") from exc
    positions = {canon: header.index(name) for name, canon in _canonical(header, source).items()}
    raw = RawEvents({f: [] for f in FIELDS}, [])
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return raw
        except csv.Error as exc:
            raw.rejections.append(Rejection(f"line {reader.line_num}", f"unreadable CSV ({exc})"))
            continue
        if not record:
            continue
        if len(record) != len(header):
            reason = f"expected {len(header)} fields, got {len(record)}"
            raw.rejections.append(Rejection(f"line {reader.line_num}", reason))
            continue
        raw.where.append(f"line {reader.line_num}")
        for canon, pos in positions.items():
            raw.columns[canon].append(record[pos])


def _read_jsonl(data: bytes, source: str) -> RawEvents:
    text = _decode(data, source)
    if text.lstrip().startswith("["):
        raise InvalidInput(f"{source}: a JSON array; expected JSON Lines (one object per line)")
    raw = RawEvents({f: [] for f in FIELDS}, [])
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raw.rejections.append(Rejection(f"line {number}", f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(obj, dict):
            raw.rejections.append(Rejection(f"line {number}", "expected a JSON object"))
            continue
        lowered = {str(k).strip().lower(): v for k, v in obj.items()}
        raw.where.append(f"line {number}")
        for canon, aliases in ALIASES.items():
            raw.columns[canon].append(next((lowered[a] for a in aliases if a in lowered), None))
    return raw


def rows_to_raw(rows: Sequence[Mapping[str, Any]]) -> RawEvents:
    """Events given as mappings (the real-time API) → raw rows, numbered ``event N``."""
    raw = RawEvents({f: [] for f in FIELDS}, [])
    for i, row in enumerate(rows, start=1):
        raw.where.append(f"event {i}")
        for canon, aliases in ALIASES.items():
            raw.columns[canon].append(next((row[a] for a in aliases if a in row), None))
    return raw


# -- checks ----------------------------------------------------------------------------


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_user(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"user_id must be text, got {_show(value)}")
    text = str(value).strip()
    if not text:
        raise ValueError("empty user_id")
    if len(text) > MAX_USER_ID:
        raise ValueError(f"user_id longer than {MAX_USER_ID} characters")
    if not text.isprintable():
        raise ValueError(f"user_id {_show(text)} has control characters")
    return text


def check_event(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in EVENT_TYPES:
        raise ValueError(f"unknown event type {_show(value)} (expected view, click or purchase)")
    return text


def parse_ts(value: Any, now: datetime) -> int:
    """A timestamp → microseconds since the epoch (UTC). Naive times are taken as UTC."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"missing or unreadable timestamp {_show(value)}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"timestamp {_show(value)} is not a time")
        if value > 1e11:
            raise ValueError(f"timestamp {_show(value)} looks like milliseconds; use epoch seconds")
        when = _EPOCH + timedelta(seconds=float(value))
    elif isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"unreadable timestamp {_show(value)} (expected ISO 8601 or epoch seconds)"
            ) from None
    else:
        raise ValueError(f"unreadable timestamp {_show(value)}")
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when < _EPOCH:
        raise ValueError(f"timestamp {when.isoformat()} is before 1970")
    if when > now + FUTURE_SLACK:
        raise ValueError(f"timestamp {when.isoformat()} is in the future")
    return (when - _EPOCH) // timedelta(microseconds=1)


class ItemChecker:
    """Items must be volume paths of known assets; each distinct item is checked once."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self._seen: dict[str, str | None] = {}

    def __call__(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"item must be a volume path, got {_show(value)}")
        if value not in self._seen:
            self._seen[value] = self._problem(value)
        problem = self._seen[value]
        if problem:
            raise ValueError(problem)
        return value

    def _problem(self, value: str) -> str | None:
        try:
            VolumePath.parse(value)
        except InvalidPath:
            return f"item {_show(value)} is not a volume path (/Volumes/<catalog>/<schema>/…)"
        if value not in self.known:
            return f"unknown item {_show(value)}: no such asset (ingest it first)"
        return None


def check_rows(
    raw: RawEvents, known_items: set[str], batch: str, now: datetime | None = None
) -> CheckedEvents:
    """Keep the rows whose four fields all pass; one rejection (the first problem) per row."""
    now = now or datetime.now(UTC)
    item_ok = ItemChecker(known_items)
    out: dict[str, list[Any]] = {f: [] for f in FIELDS}
    rejections = list(raw.rejections)
    cols = raw.columns
    for i, where in enumerate(raw.where):
        try:
            values = (
                check_user(cols["user_id"][i]),
                item_ok(cols["item"][i]),
                check_event(cols["event"][i]),
                parse_ts(cols["ts"][i], now),
            )
        except ValueError as exc:
            rejections.append(Rejection(where, str(exc)))
            continue
        for name, value in zip(FIELDS, values, strict=True):
            out[name].append(value)
    rejections.sort(key=_position)
    n = len(out["user_id"])
    rows = pa.table(
        {
            "user_id": pa.array(out["user_id"], pa.string()),
            "item": pa.array(out["item"], pa.string()),
            "event": pa.array(out["event"], pa.string()),
            "ts": pa.array(out["ts"], pa.int64()).cast(EVENTS.field("ts").type),
            "batch": pa.array([batch] * n, pa.string()),
            "ingested_at": pa.array([now] * n, EVENTS.field("ingested_at").type),
        },
        schema=EVENTS,
    )
    return CheckedEvents(rows, rejections)


def _position(rejection: Rejection) -> int:
    digits = rejection.where.rsplit(" ", 1)[-1]
    return int(digits) if digits.isdigit() else 0
