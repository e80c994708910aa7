"""Batch embedding over a real Delta table: resumable, idempotent, skips bad bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from adseed.embed.batch import embed_missing, pending_assets
from adseed.embed.fake import FakeEmbedder
from adseed.errors import RejectedFile
from adseed.storage.tables import ASSETS

from conftest import make_png


def _add_assets(ws, items: list[tuple[str, bytes]]) -> None:
    now = datetime.now(UTC)
    ws.tables.append(
        "assets",
        pa.table(
            {
                "path": [p for p, _ in items],
                "volume": ["main.t.v"] * len(items),
                "sha256": [f"sha-{p}" for p, _ in items],
                "content": [b for _, b in items],
                "size_bytes": [len(b) for _, b in items],
                "width": [32] * len(items),
                "height": [24] * len(items),
                "format": ["PNG"] * len(items),
                "kind": ["seed"] * len(items),
                "tags": [[] for _ in items],
                "source_name": [p.rsplit("/", 1)[-1] for p, _ in items],
                "ingested_at": [now] * len(items),
            },
            schema=ASSETS,
        ),
    )


class PickyEmbedder(FakeEmbedder):
    """The fake, but refusing bytes that are not a PNG, as a real decoder would."""

    def embed_images(self, images):
        for i, data in enumerate(images):
            if not data.startswith(b"\x89PNG"):
                raise RejectedFile(f"image {i}: cannot decode image")
        return super().embed_images(images)


def test_embeds_each_asset_once_and_resumes(workspace) -> None:
    items = [(f"/Volumes/main/t/v/{i}.png", make_png(f"dog {i}")) for i in range(10)]
    _add_assets(workspace, items[:6])
    emb = FakeEmbedder()
    first = embed_missing(workspace.tables, emb, workspace.settings)
    assert (first.embedded, first.already) == (6, 0)
    version = workspace.tables.version("asset_embeddings")
    again = embed_missing(workspace.tables, emb, workspace.settings)
    assert (again.embedded, again.already) == (0, 6)
    assert workspace.tables.version("asset_embeddings") == version  # nothing written

    _add_assets(workspace, items[6:])
    third = embed_missing(workspace.tables, emb, workspace.settings)
    assert (third.embedded, third.already) == (4, 6)
    rows = workspace.tables.read("asset_embeddings")
    assert sorted(rows["path"].to_pylist()) == sorted(p for p, _ in items)
    vectors = np.array(rows["vector"].to_pylist(), dtype=np.float32)
    assert vectors.shape == (10, emb.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_vectors_match_direct_embedding(workspace) -> None:
    items = [(f"/Volumes/main/t/v/{i}.png", make_png(f"cat {i}")) for i in range(3)]
    _add_assets(workspace, items)
    emb = FakeEmbedder()
    embed_missing(workspace.tables, emb, workspace.settings)
    rows = workspace.tables.read("asset_embeddings").sort_by("path")
    expected = emb.embed_images([b for _, b in sorted(items)])
    np.testing.assert_allclose(np.array(rows["vector"].to_pylist()), expected, atol=1e-6)


def test_bad_bytes_are_skipped_with_a_reason(workspace) -> None:
    items = [("/Volumes/main/t/v/good1.png", make_png("a")), ("/Volumes/main/t/v/bad.png", b"junk")]
    items.append(("/Volumes/main/t/v/good2.png", make_png("b")))
    _add_assets(workspace, items)
    seen = []
    report = embed_missing(
        workspace.tables, PickyEmbedder(), workspace.settings, on_skip=lambda p, r: seen.append(p)
    )
    assert report.embedded == 2
    assert [p for p, _ in report.skipped] == seen == ["/Volumes/main/t/v/bad.png"]
    assert "cannot decode" in report.skipped[0][1]
    todo, _ = pending_assets(workspace.tables, PickyEmbedder().model_id)
    assert todo["path"].to_pylist() == ["/Volumes/main/t/v/bad.png"]  # retried next run


def test_models_are_kept_apart(workspace) -> None:
    _add_assets(workspace, [("/Volumes/main/t/v/x.png", make_png("x"))])
    embed_missing(workspace.tables, FakeEmbedder(dim=32), workspace.settings)
    report = embed_missing(workspace.tables, FakeEmbedder(dim=16), workspace.settings)
    assert report.embedded == 1
    ids = workspace.tables.read("asset_embeddings")["model_id"].to_pylist()
    assert sorted(ids) == ["fake-bow-16", "fake-bow-32"]


def test_embed_after_rm_and_reingest(workspace, tmp_path) -> None:
    """A DELETE rewrites Delta files; reading contents afterwards must still work."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        (photos / f"p{i}.png").write_bytes(make_png(f"pet {i}", color=(i * 40, 10, 10)))
    report = workspace.ingest([photos], "main.t.v")
    workspace.embed()
    workspace.remove([report.paths[0]])
    (photos / "late.png").write_bytes(make_png("late", color=(1, 2, 3)))
    workspace.ingest([photos], "main.t.v")
    again = workspace.embed()
    assert (again.embedded, again.already) == (2, 3)  # the removed photo came back, plus late.png
