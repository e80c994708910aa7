"""Hostile input: files and names built to crash, hang, exhaust or escape ingest.

Each bad file must be rejected once with a reason a person understands, the run must
go on, and nothing outside the workspace may be touched.
"""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import socket
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from adseed.errors import InvalidName, RejectedFile
from adseed.storage.imagecheck import check_image, sniff_format
from adseed.storage.ingest import ingest
from adseed.storage.volumes import VolumeRef
from adseed.workspace import Workspace

from conftest import make_jpeg, make_png

VOLUME = "main.bricks.seeds"
REF = VolumeRef.parse(VOLUME)
LIMITS = {"max_pixels": 40_000_000, "max_file_bytes": 50 * 1024 * 1024}


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width``×``height`` but carries almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def encoded(fmt: str, size=(20, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 60, 90)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail instead of hanging forever if a FIFO is ever opened for reading."""

    def boom(signum, frame):
        raise TimeoutError("ingest blocked: a FIFO or device was opened")

    previous = signal.signal(signal.SIGALRM, boom)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# -- imagecheck on bytes --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_accepted_formats(fmt: str) -> None:
    info = check_image(encoded(fmt), **LIMITS)
    assert (info.width, info.height, info.format) == (20, 10, fmt)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file (0 bytes)"),
        (b"hello, I am text with a .jpg name", "not an image"),
        (b"%PDF-1.7\n", "not an image"),
        (make_jpeg()[:200], "truncated or corrupt JPEG"),
        (make_png()[:60], "PNG"),
        (png_header(100, 100), "truncated or corrupt PNG"),
        (png_header(7000, 7000), "too many pixels: 7000x7000 = 49,000,000 (limit 40,000,000)"),
        (png_header(20000, 20000), "too many pixels"),
        (b"\xff\xd8\xff" + b"\x00" * 50, "JPEG"),
        (b"GIF89a" + b"\xff" * 20, "GIF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"BM" + b"\x00" * 60, "BMP"),
    ],
)
def test_rejected_bytes(data: bytes, reason: str) -> None:
    with pytest.raises(RejectedFile) as caught:
        check_image(data, **LIMITS)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_pixel_limit_is_checked_before_decoding() -> None:
    """7000×7000 claims 49 Mpx but holds no data: decoding it would say 'truncated'."""
    with pytest.raises(RejectedFile, match="too many pixels: 7000x7000"):
        check_image(png_header(7000, 7000), **LIMITS)


def test_real_compressible_bomb_is_rejected() -> None:
    buf = io.BytesIO()
    Image.new("1", (7000, 7000)).save(buf, format="PNG")  # 49 Mpx in a few KB
    assert len(buf.getvalue()) < 50_000
    with pytest.raises(RejectedFile, match="too many pixels"):
        check_image(buf.getvalue(), **LIMITS)


def test_pillow_bomb_guard_becomes_our_rejection() -> None:
    """With our limit raised above Pillow's, Pillow's warning/error must still reject, not print."""
    loose = {**LIMITS, "max_pixels": 10**10}
    for side in (10_000, 20_000):  # Pillow warns above 89 Mpx and raises above 179 Mpx
        with pytest.raises(RejectedFile, match="too many pixels, possible decompression bomb"):
            check_image(png_header(side, side), **loose)


def test_format_is_decided_by_content_not_extension() -> None:
    assert sniff_format(make_png()) == "PNG"
    assert sniff_format(make_jpeg()) == "JPEG"
    assert sniff_format(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None


def test_file_byte_limit() -> None:
    with pytest.raises(RejectedFile, match="file too large"):
        check_image(make_png(size=(64, 64)), max_pixels=10**6, max_file_bytes=10)


# -- a hostile folder -------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the input: a valid image ingest must never reach, and a canary."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.jpg").write_bytes(make_jpeg(color=(1, 2, 3)))
    (folder / "canary.txt").write_text("untouched")
    return folder


@pytest.fixture
def hostile(tmp_path: Path, outside: Path, monkeypatch) -> tuple[Path, dict[str, str]]:
    """An input folder of bad entries, each with the reason it must be rejected for."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "zero.jpg").write_bytes(b"")
    (src / "truncated.jpg").write_bytes(make_jpeg(size=(64, 64))[:300])
    (src / "text.jpg").write_text("I am a text file with a photo's name\n")
    (src / "bomb.png").write_bytes(png_header(20000, 20000))
    (src / "escape.jpg").symlink_to(outside / "secret.jpg")
    (src / "escape_dir").symlink_to(outside, target_is_directory=True)
    (src / "dotdot.jpg").symlink_to("../outside/secret.jpg")
    (src / "broken.jpg").symlink_to(src / "missing.jpg")
    os.mkfifo(src / "pipe.jpg")
    expected = {
        "zero.jpg": "empty file (0 bytes)",
        "truncated.jpg": "truncated or corrupt JPEG",
        "text.jpg": "not an image",
        "bomb.png": "too many pixels",
        "escape.jpg": "symlink points outside the input folder",
        "escape_dir": "symlink points outside the input folder",
        "dotdot.jpg": "symlink points outside the input folder",
        "broken.jpg": "broken symlink",
        "pipe.jpg": "not a regular file (FIFO)",
    }
    sock = socket.socket(socket.AF_UNIX)
    try:
        monkeypatch.chdir(src)  # AF_UNIX paths are short: bind by relative name
        sock.bind("sock.jpg")
        expected["sock.jpg"] = "not a regular file (socket)"
    except OSError:
        pass
    finally:
        sock.close()
    return src, expected


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()}


def test_hostile_folder_is_rejected_file_by_file(
    workspace: Workspace, hostile, outside: Path, no_hang
) -> None:
    src, expected = hostile
    before = snapshot(outside)
    version = workspace.tables.version("assets")
    rejected: list[tuple[str, str]] = []

    report = workspace.ingest([src], VOLUME, on_reject=lambda s, r: rejected.append((s, r)))

    assert report.summary() == f"ingested 0, duplicates 0, rejected {len(expected)}"
    got = {Path(source).name: reason for source, reason in rejected}
    assert len(rejected) == len(got) == len(expected)  # once per file
    for name, reason in expected.items():
        assert reason in got[name], (name, got[name])
    assert workspace.tables.version("assets") == version
    assert workspace.volumes.list_files(REF) == []
    assert snapshot(outside) == before


def test_good_files_survive_among_bad_ones(workspace: Workspace, hostile, no_hang) -> None:
    src, expected = hostile
    (src / "good.png").write_bytes(make_png("good"))
    (src / "inside_link.png").symlink_to(src / "good.png")  # stays inside: a duplicate
    report = workspace.ingest([src], VOLUME)
    assert (report.ingested, report.duplicates, report.rejected) == (1, 1, len(expected))
    assert [p.name for p in workspace.volumes.list_files(REF)] == ["good.png"]


def test_hidden_entries_and_link_loops_are_skipped(workspace: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / ".git").mkdir(parents=True)
    (src / ".git" / "x.png").write_bytes(make_png(color=(5, 5, 5)))
    (src / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (src / "loop").symlink_to(src, target_is_directory=True)
    report = workspace.ingest([src], VOLUME)
    assert report.rejections[0].reason == "symlink to a folder (not followed)"
    assert (report.ingested, report.rejected) == (0, 1)


def test_control_characters_in_names_stay_on_one_line(workspace: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "evil\nrejected secret: fine.jpg").write_text("text")
    (src / "ok\x1b[31m.png").write_bytes(make_png())
    lines: list[str] = []
    report = workspace.ingest([src], VOLUME, on_reject=lambda s, r: lines.append(f"{s}: {r}"))
    assert len(lines) == 1 and "\n" not in lines[0] and "evil\\nrejected" in lines[0]
    assert report.paths == (f"{REF.path}/ok_x1b_31m.png",)


def test_workspace_itself_is_never_an_input(workspace: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(make_png())
    workspace.ingest([src], VOLUME)
    report = workspace.ingest([workspace.home, workspace.volumes.volume_dir(REF)], VOLUME)
    assert [r.reason for r in report.rejections] == ["inside the adseed workspace"] * 2


def test_oversized_file_is_refused_before_reading(workspace: Workspace, tmp_path: Path) -> None:
    ws = Workspace.open(dataclasses.replace(workspace.settings, max_file_bytes=1000))
    src = tmp_path / "in"
    src.mkdir()
    with open(src / "huge.png", "wb") as fh:
        fh.truncate(10**12)  # a sparse terabyte: reading it would never finish
    report = ws.ingest([src], VOLUME)
    assert "file too large: 1,000,000,000,000 bytes" in report.rejections[0].reason


# -- hostile volume names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "main.bricks..",
        "main.bricks.../x",
        "main.bricks.a/b",
        "main/../x.bricks.seeds",
        "main.bricks.se\x00eds",
        "main.bricks.%2e%2e",
        "main.bricks.%2f",
        "main.bricks.a%2fb",
        "main.bricks.a\\b",
        "main.bricks.a\uff0fb",  # fullwidth solidus
        "main.bricks.\uff0e\uff0e",  # fullwidth full stops
        "main.bricks.-x",
        "",
    ],
)
def test_hostile_volume_names_write_nothing(
    workspace: Workspace, tmp_path: Path, name: str
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(make_png())
    version = workspace.tables.version("assets")
    with pytest.raises(InvalidName):
        workspace.ingest([tmp_path / "in"], name)
    assert list(workspace.settings.volumes_root.iterdir()) == []
    assert workspace.tables.version("assets") == version


@pytest.mark.parametrize("parts", [("..", "x", "y"), ("a", "b/../../c", "d"), ("a.b", "c", "d")])
def test_unparsed_volume_ref_is_checked_again(workspace: Workspace, tmp_path: Path, parts) -> None:
    """A VolumeRef built directly skips parse(); ingest must not trust it either."""
    (tmp_path / "a.png").write_bytes(make_png())
    with pytest.raises(InvalidName):
        ingest(
            workspace.volumes,
            workspace.tables,
            workspace.settings,
            [tmp_path / "a.png"],
            VolumeRef(*parts),
        )
    assert list(workspace.settings.volumes_root.iterdir()) == []


def test_symlink_planted_in_volume_is_not_followed(
    workspace: Workspace, tmp_path: Path, outside: Path
) -> None:
    volume_dir = workspace.volumes.volume_dir(REF)
    volume_dir.mkdir(parents=True)
    (volume_dir / "a.png").symlink_to(outside / "canary.txt")
    before = snapshot(outside)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(make_png())
    report = workspace.ingest([tmp_path / "in"], VOLUME)
    assert report.paths == (f"{REF.path}/a-2.png",)
    assert snapshot(outside) == before


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("猫.jpg", "file.jpg"),  # all non-ASCII stem keeps its extension
        ("a" * 149 + ".b.jpg", "a" * 149 + ".jpg"),  # a cut never leaves "stem..jpg"
        ("../../etc/passwd", "etc_passwd"),
        ("..jpg", "file.jpg"),
        ("\x00\n.png", "file.png"),
    ],
)
def test_sanitised_names_are_always_valid(name: str, expected: str) -> None:
    from adseed.storage.volumes import check_file_name, sanitize_file_name

    assert check_file_name(sanitize_file_name(name)) == expected
