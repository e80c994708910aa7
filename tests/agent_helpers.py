"""Shared set-up for the agent tests: a workspace with labelled seeds and brand images.

``image_tool()`` is the real generation service (compositor backend) behind the agent's
one-tool adapter, so every scripted conversation writes real ads and lineage rows.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

from adseed.config import Settings
from adseed.workspace import Workspace

from conftest import make_png

SEEDS = {  # file name → the words the fake embedder sees in it
    "dog_park_1.png": "dog park grass",
    "dog_park_2.png": "dog park bench",
    "dog_park_3.png": "dog park tree",
    "dog_beach_1.png": "dog beach sand",
    "dog_beach_2.png": "dog beach waves",
    "cat_park_1.png": "cat park grass",
    "cat_snow_1.png": "cat snow winter",
    "cat_sofa_1.png": "cat sofa indoors",
}
BRANDS = {"puppy_food.png": "puppy food bag", "cat_food.png": "cat food bag", "toy.png": "dog toy"}


def seeded_workspace(settings: Settings, tmp: Path) -> Workspace:
    """Seeds in main.bricks.seeds, pack-shots in main.bricks.brand, embedded and synced."""
    ws = Workspace.init(settings, owner="admin")
    for volume, files, kind in (("seeds", SEEDS, "seed"), ("brand", BRANDS, "brand")):
        src = tmp / volume
        src.mkdir(parents=True, exist_ok=True)
        for i, (name, label) in enumerate(files.items()):
            (src / name).write_bytes(make_png(label, size=(64, 48), color=(40 * i % 255, 90, 60)))
        ws.ingest([src], f"main.bricks.{volume}", kind=kind)
    ws.embed()
    ws.sync_index()
    return ws


def vector_queries(ws: Workspace, principal: str | None = None) -> int:
    """How many seed searches the audit trail holds (for one principal, or everyone).

    Brand look-ups (kind=brand, when the agent picks the product for the ad) are not
    counted: the flow's promise is about the seed photos' top-3.
    """
    return sum(
        1
        for r in ws.governance.audit.records()
        if r["action"] == "search"
        and "kind=seed" in r["detail"]
        and (principal is None or r["principal"] == principal)
    )


def image_tool():
    """The agent's one tool: the real generation service behind its adapter."""
    from adseed.agent.tools import generate_ad_image

    return generate_ad_image


@contextmanager
def serving(settings: Settings, tool=None):
    """``adseed serve``'s app on a real socket in a thread; yields its base URL."""
    import uvicorn

    from adseed.serve.app import create_app
    from adseed.serve.endpoints import image_tool as image_tool_dependency

    app = create_app(settings)
    chosen = tool or image_tool()
    app.dependency_overrides[image_tool_dependency] = lambda: chosen
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
