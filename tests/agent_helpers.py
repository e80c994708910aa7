"""Shared set-up for the agent tests: a workspace with labelled seeds and brand images.

``image_tool()`` is the generation service of issue 4 when it is importable. Until that
branch is merged, it is ``StandInService`` below: a TEST-ONLY stand-in that does the
part the agent depends on (a governed top-3 search remembered per prompt; with
generate, a PNG written through ``Workspace.write_file`` into ``<c>.<s>.generated``)
and nothing more: no compositor, no scores, no tracing. It is never shipped in src/.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from adseed.agent.tools import ToolResult, check_arguments
from adseed.config import Settings
from adseed.errors import NotFound
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
    """How many index searches the audit trail holds (for one principal, or everyone)."""
    return sum(
        1
        for r in ws.governance.audit.records()
        if r["action"] == "search" and (principal is None or r["principal"] == principal)
    )


class StandInService:
    """TEST-ONLY stand-in for issue 4's service (see the module docstring)."""

    def __init__(self) -> None:
        self.remembered: dict[tuple[str, str], list[str]] = {}

    def __call__(
        self, ws: Workspace, prompt: str, seed_index: int, generate: bool, brand: str | None = None
    ) -> ToolResult:
        prompt, seed_index, generate = check_arguments(prompt, seed_index, generate)
        key = (ws.principal.name, prompt)
        if key not in self.remembered:
            hits = ws.search([prompt], k=3, kind="seed")[0].hits
            if len(hits) < 3:
                raise NotFound(f"fewer than 3 seed photos you may read match {prompt!r}")
            self.remembered[key] = [h.path for h in hits]
        candidates = self.remembered[key]
        seed = candidates[seed_index]
        image = None
        if generate:
            ad = Image.open(io.BytesIO(ws.read_file(seed))).convert("RGB").resize((108, 108))
            if brand:
                ad.paste(Image.open(io.BytesIO(ws.read_file(brand))).convert("RGB").resize((30, 30)))
            buf = io.BytesIO()
            ad.save(buf, format="PNG")
            digest = hashlib.sha256(f"{seed}|{brand}|{prompt}".encode()).hexdigest()[:12]
            parts = seed.split("/")
            image = ws.write_file(f"/Volumes/{parts[2]}/{parts[3]}/generated/ad_{digest}.png", buf.getvalue())
        return ToolResult(candidates, seed_index, seed, image, None, None, brand)


def image_tool():
    """The real generation service when merged, else the test-only stand-in."""
    try:
        from adseed.generate.service import generate_ad  # noqa: F401
    except ImportError:
        return StandInService()
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
