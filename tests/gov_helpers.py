"""Shared set-up for governance tests: a workspace with three volumes, five principals."""

from __future__ import annotations

import ctypes
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from adseed.config import Settings
from adseed.serve.app import create_app
from adseed.workspace import Workspace

from conftest import make_png

VOLUMES = ("main.bricks.seeds", "main.bricks.brand", "main.other.photos")


def seed_workspace(settings: Settings, tmp: Path) -> Workspace:
    """An owner-initialised workspace: two labelled images per volume, embedded and synced."""
    admin = Workspace.init(settings, owner="admin")
    for volume in VOLUMES:
        src = tmp / volume
        src.mkdir(parents=True)
        for i in range(2):
            label = f"{volume.split('.')[-1]} photo {i}"
            (src / f"img{i}.png").write_bytes(make_png(label, color=(i, len(volume), 7)))
        admin.ingest([src], volume)
    admin.embed()
    admin.sync_index()
    return admin


class Principals:
    """Tokens of the test principals, each a different shape of grant."""

    def __init__(self, admin: Workspace) -> None:
        gov, me = admin.governance, admin.principal
        owner_token = (admin.home / ".owner-token").read_text().strip()
        self.tokens = {"admin": owner_token}
        for name in ("cat_reader", "schema_writer", "vol_reader", "no_use", "nobody", "svc"):
            kind = "service" if name == "svc" else "user"
            self.tokens[name] = gov.add_principal(me, name, kind, False)
        grants = [
            ("cat_reader", "USE CATALOG", "catalog", "main"),
            ("cat_reader", "USE SCHEMA", "catalog", "main"),
            ("cat_reader", "READ VOLUME", "catalog", "main"),
            ("cat_reader", "SELECT", "catalog", "main"),
            ("schema_writer", "USE CATALOG", "catalog", "main"),
            ("schema_writer", "USE SCHEMA", "schema", "main.bricks"),
            ("schema_writer", "READ VOLUME", "schema", "main.bricks"),
            ("schema_writer", "WRITE VOLUME", "schema", "main.bricks"),
            ("schema_writer", "MODIFY", "schema", "main.bricks"),
            ("schema_writer", "SELECT", "schema", "main.bricks"),
            ("vol_reader", "USE CATALOG", "catalog", "main"),
            ("vol_reader", "USE SCHEMA", "schema", "main.bricks"),
            ("vol_reader", "READ VOLUME", "volume", "main.bricks.seeds"),
            ("no_use", "READ VOLUME", "volume", "main.bricks.seeds"),
            ("no_use", "SELECT", "catalog", "main"),
            ("svc", "USE CATALOG", "catalog", "main"),
            ("svc", "ALL PRIVILEGES", "schema", "main.other"),
        ]
        for who, privilege, kind, name in grants:
            gov.grant(me, privilege, kind, name, who)


@contextmanager
def running_server(settings: Settings):
    """The real app on a real socket (http.client can then send unnormalised paths)."""
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class OpenWatch:
    """Linux inotify on one file: did anything open or read it since the watch began?"""

    IN_ACCESS, IN_OPEN = 0x1, 0x20

    def __init__(self, path: Path) -> None:
        self.libc = ctypes.CDLL("libc.so.6", use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        mask = self.IN_ACCESS | self.IN_OPEN
        if self.libc.inotify_add_watch(self.fd, str(path).encode(), mask) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch")

    def events(self) -> int:
        try:
            return len(os.read(self.fd, 65536))
        except BlockingIOError:
            return 0

    def close(self) -> None:
        os.close(self.fd)
