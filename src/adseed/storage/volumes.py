"""Volume names and volume paths, and the only code that turns them into disk paths.

A volume path looks like the lakehouse's: ``/Volumes/<catalog>/<schema>/<volume>/<rel>``.
Every component is checked against a strict whitelist *before* it meets the file
system, so ``..``, separators, NUL, percent-encodings, backslashes and look-alike
characters never reach ``open``. The resolved disk path is then checked again to
lie inside the volume (defence in depth against symlinks placed in a volume).
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from adseed.errors import InvalidName, InvalidPath

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
# File names: letters, digits and a few safe marks; no leading dot, no separators.
_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=@ ()-]{0,199}")
_PREFIX = "/Volumes/"


def check_name(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a valid catalog/schema/volume name, else raise InvalidName."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidName(
            f"invalid {what} {name!r}: use 1-64 letters, digits, '_' or '-', not starting with '-'"
        )
    return name


def check_file_name(name: str) -> str:
    """Return ``name`` if it is safe as one path component inside a volume."""
    if (
        not isinstance(name, str)
        or not _FILE.fullmatch(name)
        or name.endswith((".", " "))
        or ".." in name
    ):
        raise InvalidName(f"invalid file name {name!r} inside a volume")
    return name


def sanitize_file_name(name: str) -> str:
    """Map an arbitrary input file name to a safe volume file name, keeping it readable.

    The extension is split off the original name first, so a stem that sanitises to
    nothing keeps it (``猫.jpg`` → ``file.jpg``), and the stem is cut before its
    trailing dots are stripped, so a cut never yields ``stem..jpg``.
    """
    head, dot, tail = name.rpartition(".")
    if dot and head and re.fullmatch(r"[A-Za-z0-9]{1,16}", tail):
        return f"{_sanitize_stem(head)}.{tail}"
    return _sanitize_stem(name)


def _sanitize_stem(text: str) -> str:
    base = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9_.+=@()-]+", "_", base)
    base = re.sub(r"\.{2,}", ".", base).lstrip("._-")
    return base[:150].rstrip(". ") or "file"


@dataclass(frozen=True, order=True)
class VolumeRef:
    """A volume, named ``catalog.schema.volume``."""

    catalog: str
    schema: str
    volume: str

    @classmethod
    def parse(cls, full_name: str) -> VolumeRef:
        parts = full_name.split(".") if isinstance(full_name, str) else []
        if len(parts) != 3:
            raise InvalidName(f"invalid volume {full_name!r}: expected CATALOG.SCHEMA.VOLUME")
        catalog, schema, volume = parts
        return cls(
            check_name(catalog, "catalog"),
            check_name(schema, "schema"),
            check_name(volume, "volume"),
        )

    @property
    def full_name(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.volume}"

    @property
    def path(self) -> str:
        """The volume's own path, ``/Volumes/c/s/v``."""
        return f"{_PREFIX}{self.catalog}/{self.schema}/{self.volume}"

    def file_path(self, rel: str) -> VolumePath:
        return VolumePath.parse(f"{self.path}/{rel}")


@dataclass(frozen=True, order=True)
class VolumePath:
    """A file inside a volume: ``/Volumes/<catalog>/<schema>/<volume>/<a>/<b.jpg>``."""

    volume: VolumeRef
    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> VolumePath:
        if not isinstance(text, str) or not text.startswith(_PREFIX):
            raise InvalidPath(f"invalid volume path {text!r}: must start with {_PREFIX}")
        if any(c in text for c in ("\x00", "\\", "%")) or "//" in text:
            raise InvalidPath(f"invalid volume path {text!r}: forbidden character or empty part")
        parts = text[len(_PREFIX) :].split("/")
        if len(parts) < 4:
            raise InvalidPath(f"invalid volume path {text!r}: no file inside the volume")
        try:
            volume = VolumeRef(*(check_name(p) for p in parts[:3]))
            rel = tuple(check_file_name(p) for p in parts[3:])
        except InvalidName as exc:
            raise InvalidPath(f"invalid volume path {text!r}: {exc}") from exc
        return cls(volume, rel)

    def __str__(self) -> str:
        return "/".join((self.volume.path, *self.parts))

    @property
    def name(self) -> str:
        return self.parts[-1]


def parse_folder(text: str) -> tuple[VolumeRef, tuple[str, ...]]:
    """A volume root (``/Volumes/c/s/v``) or a folder inside one, checked like a file path."""
    if not isinstance(text, str) or not text.startswith(_PREFIX):
        raise InvalidPath(f"invalid volume path {text!r}: must start with {_PREFIX}")
    trimmed = text[:-1] if text.endswith("/") and len(text) > len(_PREFIX) else text
    parts = trimmed[len(_PREFIX) :].split("/")
    if len(parts) == 3:  # check_name allows only letters, digits, "_" and "-"
        try:
            return VolumeRef(*(check_name(p) for p in parts)), ()
        except InvalidName as exc:
            raise InvalidPath(f"invalid volume path {text!r}: {exc}") from exc
    inner = VolumePath.parse(trimmed)
    return inner.volume, inner.parts


class VolumeStore:
    """Maps volumes to folders under ``<home>/Volumes`` and writes files atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def volume_dir(self, volume: VolumeRef) -> Path:
        return self.root / volume.catalog / volume.schema / volume.volume

    def disk_path(self, path: VolumePath) -> Path:
        """The file's location on disk; raises InvalidPath if it would leave its volume."""
        base = self.volume_dir(path.volume)
        target = base.joinpath(*path.parts)
        real_base = os.path.realpath(base)
        real_target = os.path.realpath(target)
        if os.path.commonpath([real_base, real_target]) != real_base or real_target == real_base:
            raise InvalidPath(f"volume path {path} resolves outside its volume")
        return target

    def exists(self, path: VolumePath) -> bool:
        return self.disk_path(path).is_file()

    def read_bytes(self, path: VolumePath) -> bytes:
        from adseed.errors import NotFound

        disk = self.disk_path(path)
        try:
            fd = os.open(disk, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError as exc:
            raise NotFound(f"no file at {path}") from exc
        except OSError as exc:
            raise InvalidPath(f"cannot open {path}: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as fh:
            return fh.read()

    def staging_dir(self, volume: VolumeRef) -> Path:
        """Hidden per-volume folder for files written but not yet committed."""
        return self.volume_dir(volume) / ".staging"

    def stage(self, volume: VolumeRef, data: bytes) -> Path:
        """Write ``data`` durably to a new file in the volume's staging folder."""
        staging = self.staging_dir(volume)
        staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=staging, prefix="stage-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o644)  # mkstemp makes 0600; volume files are shared reading
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)

    def publish(self, staged: Path, path: VolumePath) -> None:
        """Move a staged file to its final place (atomic rename within one file system)."""
        target = self.disk_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)

    def write_atomic(self, path: VolumePath, data: bytes) -> None:
        self.publish(self.stage(path.volume, data), path)

    def delete(self, path: VolumePath) -> bool:
        disk = self.disk_path(path)
        try:
            disk.unlink()
        except FileNotFoundError:
            return False
        return True

    def list_files(self, volume: VolumeRef) -> list[VolumePath]:
        """Every committed file of a volume (staging excluded), as volume paths."""
        base = self.volume_dir(volume)
        out: list[VolumePath] = []
        if not base.is_dir():
            return out
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = PurePosixPath(Path(dirpath).relative_to(base).as_posix())
            for name in filenames:
                if not name.startswith("."):
                    out.append(VolumePath(volume, tuple((rel / name).parts)))
        return sorted(out)
