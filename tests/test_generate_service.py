"""The generation service on a real workspace: Delta tables, LanceDB index, MLflow store.

Retrieval uses the fake embedder (retrieval quality is not the point here); the
compositor draws real ads. Every failure case checks that nothing was left behind:
no file in the generated volume, no ``generations`` row.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from adseed.errors import InvalidInput, InvalidPath, NotFound, RejectedFile, StateError
from adseed.generate.memory import SeedMemory
from adseed.generate.records import GENERATIONS
from adseed.generate.service import REQUEST_TAG, generate_ad
from adseed.tracing import TraceStore
from adseed.workspace import Workspace

from generate_fixtures import (  # noqa: F401 (fixtures)
    BRAND,
    SEGMENT,
    mlflow_template_fixture,
    pack_shot,
    ready_fixture,
    seed_photo,
    write_images,
)

GENERATED = Path("Volumes/main/bricks/generated")


def _spans(ws: Workspace, trace_id: str) -> dict[str, dict]:
    return {s["name"]: s for s in TraceStore.for_settings(ws.settings).spans(trace_id)}


def _nothing_written(ws: Workspace) -> None:
    folder = ws.home / GENERATED
    assert not folder.exists() or not [p for p in folder.iterdir() if p.name != ".staging"]
    assert ws.tables.read(GENERATIONS).num_rows == 0


def test_retrieve_only(ready: Workspace) -> None:
    result = generate_ad(ready, SEGMENT)
    assert len(result.candidates) == 3 and len(set(result.candidates)) == 3
    assert all(p.startswith("/Volumes/main/bricks/seeds/dog_") for p in result.candidates)
    assert result.seed_path == result.candidates[0]
    assert result.image_path is None and result.scores is None
    assert result.trace_id and result.trace_id.startswith("tr-")
    spans = _spans(ready, result.trace_id)
    assert set(spans) == {"adseed.generate", "retrieve"}
    assert spans["retrieve"]["attributes"]["vector_query"] is True
    assert spans["retrieve"]["outputs"]["candidates"] == result.candidates
    _nothing_written(ready)


def test_seed_index_reuses_the_three_without_a_new_query(ready: Workspace, monkeypatch) -> None:
    first = generate_ad(ready, SEGMENT)

    def no_query(*args, **kwargs):
        raise AssertionError("a new vector query was made")

    monkeypatch.setattr(Workspace, "search", no_query)
    later = Workspace.open(ready.settings)  # a fresh object: nothing cached in memory
    for index in (1, 2):
        again = generate_ad(later, "  Dog owners who love   the outdoors ", seed_index=index)
        assert again.candidates == first.candidates
        assert again.seed_path == first.candidates[index] and again.reused_candidates
        retrieve = _spans(later, again.trace_id)["retrieve"]
        assert retrieve["attributes"]["vector_query"] is False
        assert retrieve["attributes"]["source"] == "memory"
        assert retrieve["outputs"]["candidates"] == first.candidates
    assert SeedMemory(ready.home).count() == 1


def test_a_synced_index_gets_a_fresh_query(ready: Workspace, tmp_path: Path) -> None:
    generate_ad(ready, SEGMENT)
    more = {"dog_snow.png": seed_photo(subject=(0.6, 0.4), label="dog outdoor snow", tone=30)}
    ready.ingest([write_images(tmp_path / "more", more)], "main.bricks.seeds", kind="seed")
    ready.embed()
    ready.sync_index()
    result = generate_ad(ready, SEGMENT, seed_index=1)
    assert _spans(ready, result.trace_id)["retrieve"]["attributes"]["vector_query"] is True
    assert SeedMemory(ready.home).count() == 2


def test_generate_writes_the_ad_its_row_and_one_trace(ready: Workspace) -> None:
    result = generate_ad(ready, SEGMENT, seed_index=2, generate=True, fmt="1080x1350",
                         headline="Fuel every adventure", cta="Shop now")  # fmt: skip
    assert result.image_path.startswith("/Volumes/main/bricks/generated/ad-1080x1350-")
    data = ready.read_file(result.image_path)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    rows = ready.tables.read(GENERATIONS).to_pylist()
    assert len(rows) == 1
    row = rows[0]
    assert row["path"] == result.image_path and row["volume"] == "main.bricks.generated"
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert (row["segment_text"], row["seed_path"], row["brand_path"]) == (
        SEGMENT, result.candidates[2], BRAND
    )
    assert (row["backend"], row["format"], row["width"], row["height"]) == (
        "compositor", "1080x1350", 1080, 1350
    )
    params = json.loads(row["parameters"])
    assert params["headline"] == "Fuel every adventure" and params["seed_index"] == 2
    assert params["candidates"] == result.candidates and len(params["product_box"]) == 4
    assert dict(row["scores"]) == result.scores
    assert set(result.scores) == {"alignment", "brand_preservation", "seed_faithfulness"}
    assert result.scores["brand_preservation"] > 0.9  # the product is there, unaltered

    spans = _spans(ready, result.trace_id)
    assert set(spans) == {"adseed.generate", "retrieve", "generate", "score", "write"}
    assert {s["parent"] for n, s in spans.items() if n != "adseed.generate"} == {"adseed.generate"}
    assert spans["generate"]["inputs"]["seed_path"] == result.candidates[2]
    assert spans["generate"]["outputs"]["sha256"] == row["sha256"]
    assert spans["write"]["outputs"]["image_path"] == result.image_path
    assert spans["adseed.generate"]["attributes"][REQUEST_TAG] == row["request_id"]
    text = json.dumps(list(spans.values()), default=str)
    assert len(text) < 20_000 and "base64" not in text  # paths and numbers, never bytes


def test_same_ad_twice_shares_the_file_and_adds_a_row(ready: Workspace) -> None:
    one = generate_ad(ready, SEGMENT, generate=True, headline="Same words")
    two = generate_ad(ready, SEGMENT, generate=True, headline="Same words")
    assert one.image_path == two.image_path  # deterministic backend, content-named file
    assert ready.tables.read(GENERATIONS).num_rows == 2


def test_process_tracking_uri_is_left_alone(ready: Workspace, tmp_path, monkeypatch) -> None:
    import mlflow
    from mlflow.tracking import is_tracking_uri_set

    monkeypatch.chdir(tmp_path)
    before = (is_tracking_uri_set(), os.environ.get("MLFLOW_TRACKING_URI"))
    generate_ad(ready, SEGMENT, generate=True)
    assert (is_tracking_uri_set(), os.environ.get("MLFLOW_TRACKING_URI")) == before
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()
    assert (ready.home / "mlflow.db").is_file()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mine.db'}")
    try:
        generate_ad(ready, SEGMENT)
        assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'mine.db'}"
    finally:
        mlflow.set_tracking_uri(None)


def test_a_failed_request_is_traced_as_an_error(ready: Workspace) -> None:
    from mlflow import MlflowClient

    with pytest.raises(NotFound):
        generate_ad(ready, SEGMENT, generate=True, brand="/Volumes/main/bricks/brand/gone.png")
    client = MlflowClient(f"sqlite:///{ready.home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("adseed").experiment_id
    traces = client.search_traces(locations=[experiment])
    assert len(traces) == 1 and traces[0].info.state.value == "ERROR"


def _hostile_setup(ws: Workspace, case: str, tmp_path: Path) -> dict:
    if case == "not-an-image brand":
        ws.write_file("/Volumes/main/bricks/brand/notes.png", b"just some text, not a PNG")
        return {"brand": "/Volumes/main/bricks/brand/notes.png"}
    if case == "two brands, none chosen":
        extra = write_images(tmp_path / "b2", {"other.png": pack_shot(color=(20, 90, 200))})
        ws.ingest([extra], "main.bricks.brand", kind="brand")
        return {}
    return {}


HOSTILE = [
    ("seed index 3", {"seed_index": 3}, InvalidInput, "out of range"),
    ("seed index -1", {"seed_index": -1}, InvalidInput, "out of range"),
    ("seed index True", {"seed_index": True}, InvalidInput, "0, 1 or 2"),
    ("unknown format", {"fmt": "1000x1000"}, InvalidInput, "unknown format"),
    ("unknown backend", {"backend": "dalle9"}, InvalidInput, "unknown generation backend"),
    ("missing brand", {"brand": "/Volumes/main/bricks/brand/nope.png"}, NotFound, "no file"),
    ("escaping brand path", {"brand": "/Volumes/main/bricks/../../etc/passwd"}, InvalidPath, "invalid volume path"),
    ("not-an-image brand", {}, RejectedFile, "brand image /Volumes/main/bricks/brand/notes.png"),
    ("two brands, none chosen", {}, InvalidInput, "2 brand images"),
    ("glyph the font lacks", {"headline": "Grüße"}, InvalidInput, "no glyph"),
    ("empty headline", {"headline": "  "}, InvalidInput, "headline is empty"),
]


@pytest.mark.parametrize(("case", "kwargs", "error", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_requests_fail_clearly_and_leave_nothing(
    ready: Workspace, tmp_path: Path, case: str, kwargs: dict, error: type, message: str
) -> None:
    kwargs = {**kwargs, **_hostile_setup(ready, case, tmp_path)}
    with pytest.raises(error, match=message):
        generate_ad(ready, SEGMENT, generate=True, **kwargs)
    _nothing_written(ready)


def test_too_few_seeds_and_no_brand(tmp_path: Path, mlflow_template) -> None:
    from adseed.config import resolve_settings

    ws = Workspace.init(resolve_settings({"home": tmp_path / "ws", "embedder": "fake"}, env={}))
    two = {"a.png": seed_photo(label="dog a"), "b.png": seed_photo(label="dog b", tone=20)}
    ws.ingest([write_images(tmp_path / "s", two)], "main.bricks.seeds", kind="seed")
    ws.embed()
    ws.sync_index()
    with pytest.raises(StateError, match="only 2 seed photo"):
        generate_ad(ws, SEGMENT, generate=True)
    third = {"c.png": seed_photo(label="dog c", tone=40)}
    ws.ingest([write_images(tmp_path / "s3", third)], "main.bricks.seeds", kind="seed")
    ws.embed()
    ws.sync_index()
    with pytest.raises(NotFound, match="no brand image in the workspace"):
        generate_ad(ws, SEGMENT, generate=True)
    _nothing_written(ws)


def test_a_failed_row_takes_its_file_with_it(ready: Workspace, monkeypatch) -> None:
    from adseed.storage.tables import Tables

    real_append = Tables.append

    def failing(self, name, rows):
        if name == GENERATIONS:
            raise OSError("disk full")
        return real_append(self, name, rows)

    monkeypatch.setattr(Tables, "append", failing)
    with pytest.raises(OSError, match="disk full"):
        generate_ad(ready, SEGMENT, generate=True)
    _nothing_written(ready)


def test_a_failed_row_keeps_a_file_an_earlier_row_uses(ready: Workspace, monkeypatch) -> None:
    from adseed.storage.tables import Tables

    first = generate_ad(ready, SEGMENT, generate=True)
    real_append = Tables.append
    monkeypatch.setattr(Tables, "append", lambda self, name, rows: (_ for _ in ()).throw(
        OSError("disk full")) if name == GENERATIONS else real_append(self, name, rows))  # fmt: skip
    with pytest.raises(OSError):
        generate_ad(ready, SEGMENT, generate=True)
    assert ready.read_file(first.image_path)[:4] == b"\x89PNG"
    assert ready.tables.read(GENERATIONS).num_rows == 1


def test_a_principal_without_write_grants_is_refused_before_work(ready: Workspace) -> None:
    from adseed.errors import PermissionDenied

    token = ready.governance.add_principal(ready.principal, "analyst", "user", False)
    ready.governance.grant(ready.principal, "READ VOLUME", "schema", "main.bricks", "analyst")
    ready.governance.grant(ready.principal, "USE CATALOG", "catalog", "main", "analyst")
    ready.governance.grant(ready.principal, "USE SCHEMA", "schema", "main.bricks", "analyst")
    analyst = ready.as_token(token)
    assert len(generate_ad(analyst, SEGMENT).candidates) == 3  # may retrieve
    with pytest.raises(PermissionDenied):
        generate_ad(analyst, SEGMENT, generate=True)
    _nothing_written(ready)
