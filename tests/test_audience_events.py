"""Events in: Parquet, CSV and JSON Lines; one clear line per bad row; valid rows kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from audience_helpers import catalogue

from adseed.audience import Audience
from adseed.errors import InvalidInput, NotFound


@pytest.fixture
def setup(workspace, tmp_path):
    items = catalogue(workspace, tmp_path / "photos", per_interest=2)
    return Audience.open(workspace), items


def _events(audience: Audience) -> list[tuple]:
    rows = audience.tables.read("events", columns=["user_id", "item", "event", "ts"])
    return sorted(
        (r["user_id"], r["item"], r["event"], r["ts"].isoformat()) for r in rows.to_pylist()
    )


def test_csv_rejects_each_bad_row_with_its_line_and_keeps_the_rest(setup, tmp_path) -> None:
    audience, items = setup
    good = items["golden retriever"][0]
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    lines = [
        "user_id,item,event,ts",
        f"u1,{good},view,2024-05-01T10:00:00Z",  # line 2: fine
        f"u1,{good},like,2024-05-01T10:00:00Z",  # 3: unknown event type
        f"u2,{good},click",  # 4: a field short
        "u2,/Volumes/main/shop/items/nope.png,click,2024-05-01",  # 5: unknown item
        "u2,photos/dog.jpg,click,2024-05-01",  # 6: not a volume path
        f",{good},view,2024-05-01",  # 7: empty user
        f"u3,{good},view,yesterday",  # 8: unreadable time
        f"u3,{good},view,{future}",  # 9: future
        f"u3,{good},view,1714557600000",  # 10: milliseconds
        f"u3,{good},PURCHASE,1714557600",  # 11: fine (case, epoch seconds)
    ]
    path = tmp_path / "events.csv"
    path.write_text("\n".join(lines) + "\n")
    seen: list[tuple[str, str]] = []
    report = audience.ingest_events(path, on_reject=lambda w, r: seen.append((w, r)))

    assert report.accepted == 2 and not report.duplicate
    where = [r.where for r in report.rejections]
    assert where == [f"line {n}" for n in range(3, 11)]
    reasons = [r.reason for r in report.rejections]
    assert "unknown event type 'like'" in reasons[0]
    assert reasons[1] == "expected 4 fields, got 3"
    assert "unknown item" in reasons[2] and "no such asset" in reasons[2]
    assert "not a volume path" in reasons[3]
    assert reasons[4] == "empty user_id"
    assert "unreadable timestamp 'yesterday'" in reasons[5]
    assert "in the future" in reasons[6]
    assert "milliseconds" in reasons[7]
    assert all("\n" not in r for r in reasons)
    assert seen == [(r.where, r.reason) for r in report.rejections]
    assert _events(audience) == [
        ("u1", good, "view", "2024-05-01T10:00:00+00:00"),
        ("u3", good, "purchase", "2024-05-01T10:00:00+00:00"),
    ]
    assert audience.index.slot("u1") is not None and audience.index.slot("u3") is not None
    assert report.refresh.users == 2


def test_jsonl_with_aliases_bad_json_and_missing_fields(setup, tmp_path) -> None:
    audience, items = setup
    cat = items["siamese cat"][1]
    rows = [
        json.dumps({"user": "a", "path": cat, "event_type": "click", "timestamp": 1714557600}),
        "{not json",
        "[1, 2]",
        "",
        json.dumps({"user_id": "b", "item": cat, "event": "view"}),  # no ts
        json.dumps({"user_id": 42, "item": cat, "event": "view", "ts": "2024-05-01 12:00"}),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(rows) + "\n")
    report = audience.ingest_events(path)
    assert report.accepted == 2
    assert [(r.where, r.reason.split(" (")[0]) for r in report.rejections] == [
        ("line 2", "not valid JSON"),
        ("line 3", "expected a JSON object"),
        ("line 5", "missing or unreadable timestamp None"),
    ]
    assert [row[0] for row in _events(audience)] == ["42", "a"]  # numeric ids become text


def test_parquet_with_typed_timestamps_and_nulls(setup, tmp_path) -> None:
    audience, items = setup
    pug = items["pug dog"][0]
    when = datetime(2024, 6, 1, 8, 30, tzinfo=UTC)
    table = pa.table(
        {
            "user_id": ["p1", "p2", None],
            "item": [pug, pug, pug],
            "event": ["purchase", None, "view"],
            "ts": pa.array([when, when, when], pa.timestamp("ms", tz="UTC")),
        }
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    report = audience.ingest_events(path)
    assert report.accepted == 1
    assert [r.where for r in report.rejections] == ["row 2", "row 3"]
    assert "unknown event type None" in report.rejections[0].reason
    assert "user_id must be text" in report.rejections[1].reason
    assert _events(audience) == [("p1", pug, "purchase", "2024-06-01T08:30:00+00:00")]


def test_the_same_file_twice_is_a_no_op(setup, tmp_path) -> None:
    audience, items = setup
    path = tmp_path / "e.csv"
    path.write_text(f"user_id,item,event,ts\nu,{items['horse'][0]},view,2024-01-01\n")
    assert audience.ingest_events(path).accepted == 1
    again = audience.ingest_events(path)
    assert again.duplicate and "already ingested" in again.summary()
    assert len(_events(audience)) == 1


def test_whole_file_problems_append_nothing(setup, tmp_path) -> None:
    audience, items = setup
    no_event = tmp_path / "a.csv"
    no_event.write_text(f"user_id,item,when\nu,{items['horse'][0]},2024-01-01\n")
    with pytest.raises(InvalidInput, match="no 'event' column"):
        audience.ingest_events(no_event)
    weird = tmp_path / "events.txt"
    weird.write_text("user_id,item,event,ts\n")
    with pytest.raises(InvalidInput, match="--format"):
        audience.ingest_events(weird)
    assert audience.ingest_events(weird, fmt="csv").accepted == 0  # header only: fine, empty
    array = tmp_path / "b.json"
    array.write_text("[{}]")
    with pytest.raises(InvalidInput, match="JSON array"):
        audience.ingest_events(array)
    latin = tmp_path / "c.csv"
    latin.write_bytes("user_id,item,event,ts\nJos\xe9,x,view,1\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        audience.ingest_events(latin)
    broken = tmp_path / "d.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidInput, match="not a readable Parquet"):
        audience.ingest_events(broken)
    with pytest.raises(NotFound):
        audience.ingest_events(tmp_path / "missing.csv")
    assert _events(audience) == []


def test_record_makes_a_new_user_searchable_at_once(setup) -> None:
    audience, items = setup
    now = datetime.now(UTC)
    report = audience.record(
        [
            {"user_id": "rt-1", "item": items["goldfish"][0], "event": "view", "ts": now},
            {"user_id": "rt-1", "item": items["goldfish"][1], "event": "click", "ts": now},
            {"user_id": "rt-2", "item": items["goldfish"][1], "event": "purchase", "ts": now},
            {"user_id": "rt-3", "item": "nope", "event": "view", "ts": now},
        ]
    )
    assert report.accepted == 3 and [r.where for r in report.rejections] == ["event 4"]
    assert [m.user_id for m in audience.similar("rt-1", k=5)] == ["rt-2"]
    assert audience.similar("rt-2", k=1)[0].user_id == "rt-1"
    with pytest.raises(NotFound, match="unknown user 'rt-3'"):
        audience.similar("rt-3")
