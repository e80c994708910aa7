"""Directory listings of volume folders, in the shape of the lakehouse Files API.

Hidden entries (the staging area, lock files) and symbolic links are never listed:
adseed creates neither as content, so one found in a volume is not content either.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from adseed.errors import NotFound
from adseed.storage.volumes import VolumePath, VolumeRef, VolumeStore


def list_volume_dir(
    volumes: VolumeStore, volume: VolumeRef, parts: tuple[str, ...] = ()
) -> list[dict]:
    base = volumes.disk_path(VolumePath(volume, parts)) if parts else volumes.volume_dir(volume)
    prefix = "/".join((volume.path, *parts))
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"no directory at {prefix}") from None
    out = []
    for entry in entries:
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        stat = entry.stat(follow_symlinks=False)
        is_dir = entry.is_dir(follow_symlinks=False)
        out.append(
            {
                "path": f"{prefix}/{entry.name}" + ("/" if is_dir else ""),
                "name": entry.name,
                "is_directory": is_dir,
                "file_size": None if is_dir else stat.st_size,
                "last_modified": int(stat.st_mtime * 1000),
                "last_modified_iso": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
            }
        )
    return out
