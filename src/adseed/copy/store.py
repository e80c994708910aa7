"""The Delta table ``copy``: every variant written, keyed so a run can be found again.

One run (brief hash, writer id, placement, seed, number of variants) is one Delta
commit holding all of its variants, so a failed run leaves no rows and a run is
never half there. ``brief_json`` keeps the normalised brief itself, so any row can
be reproduced from the table alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

from adseed.copy.base import CopyVariant
from adseed.storage.tables import TS, Tables

TABLE = "copy"
COPY_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("brief_sha256", pa.string(), nullable=False),
        pa.field("product", pa.string(), nullable=False),
        pa.field("writer", pa.string(), nullable=False),
        pa.field("writer_id", pa.string(), nullable=False),
        pa.field("placement", pa.string(), nullable=False),
        pa.field("language", pa.string(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("variants", pa.int32(), nullable=False),
        pa.field("variant", pa.int32(), nullable=False),
        pa.field("headline", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("description", pa.string(), nullable=False),
        pa.field("cta", pa.string(), nullable=False),
        pa.field("image_suggestion", pa.string(), nullable=False),
        pa.field("business_name", pa.string()),
        pa.field("brief_json", pa.string(), nullable=False),
        pa.field("created_at", TS, nullable=False),
    ]
)
_VARIANT_FIELDS = ("headline", "title", "description", "cta", "image_suggestion", "business_name")


def run_id(brief_sha256: str, writer_id: str, placement: str, seed: int, variants: int) -> str:
    """The key of one run: what must match for earlier rows to be the same copy."""
    key = f"{brief_sha256}|{writer_id}|{placement}|{seed}|{variants}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def create_table(tables: Tables) -> None:
    """Migration step: the ``copy`` table, with change data feed like every adseed table."""
    tables.create(TABLE, COPY_SCHEMA)


def find_run(tables: Tables, rid: str) -> list[CopyVariant] | None:
    """The variants of an earlier run, in order, or None when there is none.

    Two processes racing on one run may both append it; rows are read back by
    variant index and the first commit's row wins, so readers always see one copy.
    """
    rows = tables.read(TABLE, ["variant", *_VARIANT_FIELDS, "created_at"],
                       filters=[("run_id", "=", rid)])
    if rows.num_rows == 0:
        return None
    by_index: dict[int, dict[str, object]] = {}
    for row in sorted(rows.to_pylist(), key=lambda r: (r["variant"], r["created_at"])):
        by_index.setdefault(int(row["variant"]), row)
    return [
        CopyVariant(**{f: by_index[i][f] for f in _VARIANT_FIELDS})  # type: ignore[arg-type]
        for i in sorted(by_index)
    ]


def save_run(tables: Tables, rid: str, meta: dict[str, object],
             variants: Sequence[CopyVariant]) -> int:
    """Append all variants of one run in one commit; returns the table version."""
    now = datetime.now(UTC)
    rows = [
        {**meta, "run_id": rid, "variants": len(variants), "variant": i,
         **{f: getattr(v, f) for f in _VARIANT_FIELDS}, "created_at": now}
        for i, v in enumerate(variants)
    ]
    return tables.append(TABLE, pa.Table.from_pylist(rows, schema=COPY_SCHEMA))
