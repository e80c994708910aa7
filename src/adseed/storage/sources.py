"""Find and read ingest candidates without trusting the folders they come from.

The arguments a person types are followed as given (a symlinked photo folder is a
normal thing to pass). Inside a folder nothing is taken on trust: a symlink must
resolve inside the folder it was found in, only regular files are ever opened
(FIFOs, sockets and devices are refused from ``lstat`` alone, since opening a FIFO
blocks and opening a device can have side effects), hidden entries are skipped, and
nothing inside the adseed workspace itself is read. Folders are walked in sorted
order with an explicit stack, so runs are deterministic and deep trees cannot
exhaust the recursion limit.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from adseed.errors import RejectedFile

_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """One candidate: what to open, how to name it to a person, or why it is refused."""

    path: Path  # the file to open: the entry itself, or a symlink's resolved target
    display: str  # the entry as found, safe to print on one line
    name: str  # its file name as found (printable), for the volume name and lineage
    reason: str | None = None  # set when refused before opening


def display(path: str | os.PathLike[str]) -> str:
    """A path as one printable line: undecodable bytes replaced, control characters escaped."""
    text = os.fsencode(path).decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def iter_sources(paths: Iterable[str | os.PathLike[str]], *, exclude: Path) -> Iterator[Source]:
    """Every candidate under ``paths``, in argument order and sorted inside folders."""
    fence = os.path.realpath(exclude)
    for arg in paths:
        given = Path(arg)
        try:
            st = os.stat(given)  # arguments are followed: the person named them
        except FileNotFoundError:
            yield _refused(given, "no such file or folder")
            continue
        except OSError as exc:
            yield _refused(given, f"unreadable: {exc.strerror}")
            continue
        real = os.path.realpath(given)
        if _inside(real, fence):
            yield _refused(given, "inside the adseed workspace")
        elif stat.S_ISDIR(st.st_mode):
            yield from _walk(given, real, fence)
        elif stat.S_ISREG(st.st_mode):
            yield Source(Path(real), display(given), display(given.name))
        else:
            yield _refused(given, f"not a regular file ({_file_type(st.st_mode)})")


def read_source(path: Path, max_file_bytes: int) -> bytes:
    """Read a regular file, refusing anything else even if it was swapped in since ``lstat``."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise RejectedFile(f"unreadable: {exc.strerror}") from exc
    with os.fdopen(fd, "rb", buffering=0) as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RejectedFile(f"not a regular file ({_file_type(st.st_mode)})")
        if st.st_size > max_file_bytes:
            raise RejectedFile(f"file too large: {st.st_size:,} bytes (limit {max_file_bytes:,})")
        chunks, total = [], 0
        while chunk := fh.read(_READ_CHUNK):
            chunks.append(chunk)
            total += len(chunk)
            if total > max_file_bytes:
                raise RejectedFile(f"file too large: over {max_file_bytes:,} bytes (it grew)")
    return b"".join(chunks)


def _walk(top: Path, root: str, fence: str) -> Iterator[Source]:
    stack: list[Iterator[os.DirEntry[str] | Source]] = [iter(_listing(top))]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
        elif isinstance(item, Source):
            yield item  # a folder that could not be listed
        elif item.is_dir(follow_symlinks=False):
            if _inside(os.path.realpath(item.path), fence):
                yield _refused(Path(item.path), "inside the adseed workspace")
            else:
                stack.append(iter(_listing(Path(item.path))))
        else:
            yield _entry(Path(item.path), root, fence)


def _listing(folder: Path) -> list[os.DirEntry[str] | Source]:
    try:
        with os.scandir(folder) as it:
            entries = [e for e in it if not e.name.startswith(".")]
    except OSError as exc:
        return [_refused(folder, f"unreadable folder: {exc.strerror}")]
    return sorted(entries, key=lambda e: e.name)


def _entry(path: Path, root: str, fence: str) -> Source:
    """Classify one folder entry from ``lstat`` alone; it is opened later only if regular."""
    try:
        st = os.lstat(path)
        target = path
        if stat.S_ISLNK(st.st_mode):
            real = os.path.realpath(path)
            if not _inside(real, root) or _inside(real, fence):
                return _refused(path, "symlink points outside the input folder")
            st = os.stat(real)
            target = Path(real)
            if stat.S_ISDIR(st.st_mode):
                return _refused(path, "symlink to a folder (not followed)")
    except FileNotFoundError:
        return _refused(path, "broken symlink")
    except OSError as exc:
        return _refused(path, f"unreadable: {exc.strerror}")
    if not stat.S_ISREG(st.st_mode):
        return _refused(path, f"not a regular file ({_file_type(st.st_mode)})")
    return Source(target, display(path), display(path.name))


def _refused(path: Path, reason: str) -> Source:
    return Source(path, display(path), display(path.name), reason)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISDIR, "folder"),
    ):
        if test(mode):
            return name
    return "special file"
