"""The generation service: segment text → top-3 seed photos → (optionally) an ad in a volume.

One call is one request, recorded in MLflow (``adseed.tracing``) as a span
``adseed.generate`` with a child per step: ``retrieve`` (vector query, or the remembered
candidates: attribute ``vector_query``), and with ``generate=True`` also ``generate``
(backend call), ``score`` and ``write``. Called inside an agent turn, those spans are
part of the turn's trace and ``trace_id`` is the turn's; called alone, they are a trace
of their own. Either way the trace carries the tag ``adseed.request_id``, which is also
in the request's ``generations`` row.
Only paths, hashes, sizes and scores go into spans; image bytes never leave this module
except to the backend and the volume.

Everything that can be checked before work starts is checked first (text, seed index,
format, backend, brand path, grants), so a bad request costs nothing and leaves
nothing. The ad is written as ``/Volumes/<catalog>/<schema>/generated/ad-<format>-<sha>.png``
(catalog and schema of the seed's volume); the file is written first and the
``generations`` row second, and the file is deleted again if the row fails, so no file
outlives a failed request and no row points at a missing file. File names are content
hashes, so a request that makes the same bytes as an earlier one reuses its file
(the file is never deleted while a row references it). A process killed between the
two writes leaves at most one unreferenced file, which the next identical request
adopts.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from PIL import Image

from adseed.errors import (
    BackendError,
    InvalidInput,
    NotFound,
    RejectedFile,
    StateError,
)
from adseed.generate.base import (
    DEFAULT_FORMAT,
    AdFormat,
    AdRequest,
    available_generators,
    build_generator,
    parse_format,
)
from adseed.generate.memory import Remembered, SeedMemory, memory_key
from adseed.generate.records import GENERATIONS, generation_row
from adseed.storage.volumes import VolumePath, VolumeRef
from adseed.tracing import Trace, TraceStore

if TYPE_CHECKING:
    from adseed.workspace import Workspace

CANDIDATES = 3
GENERATED_VOLUME = "generated"
REQUEST_TAG = "adseed.request_id"


@runtime_checkable
class LocatingGenerator(Protocol):
    """A backend that can say where it put the product (the compositor can)."""

    def generate_located(
        self, request: AdRequest
    ) -> tuple[bytes, tuple[int, int, int, int] | None]: ...


@dataclass(frozen=True)
class GenerateResult:
    """What one request returns: paths and scores, never image bytes."""

    candidates: list[str]
    seed_index: int
    seed_path: str
    image_path: str | None
    scores: dict[str, float] | None
    trace_id: str | None
    reused_candidates: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The wire shape of ``adseed generate --json``: exactly these six keys."""
        return {
            "candidates": list(self.candidates),
            "seed_index": self.seed_index,
            "seed_path": self.seed_path,
            "image_path": self.image_path,
            "scores": self.scores,
            "trace_id": self.trace_id,
        }


@dataclass(frozen=True)
class _Checked:
    text: str
    seed_index: int
    generate: bool
    fmt: AdFormat
    backend: str
    brand: str | None
    headline: str | None
    cta: str | None


def generate_ad(
    ws: Workspace,
    segment_text: str,
    *,
    seed_index: int = 0,
    generate: bool = False,
    brand: str | None = None,
    backend: str | None = None,
    fmt: str | None = None,
    headline: str | None = None,
    cta: str | None = None,
) -> GenerateResult:
    """Retrieve the top-3 seeds for ``segment_text`` and, with ``generate``, make the ad."""
    req = _check(ws, segment_text, seed_index, generate, brand, backend, fmt, headline, cta)
    trace = Trace("adseed.generate", _trace_inputs(req))
    request_id = uuid.uuid4().hex  # also in the `generations` row: row ↔ trace
    trace.root.set_attributes(**{REQUEST_TAG: request_id})
    trace.tags[REQUEST_TAG] = request_id
    try:
        result = _run(ws, trace, req)
    except Exception as exc:
        trace.finish(error=f"{type(exc).__name__}: {exc}")
        _write_trace(ws, trace)
        raise
    trace.finish({k: v for k, v in result.to_dict().items() if k != "trace_id"})
    return replace(result, trace_id=_write_trace(ws, trace))


def _check(ws, text, seed_index, generate, brand, backend, fmt, headline, cta) -> _Checked:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("segment text is empty: describe the audience")
    if isinstance(seed_index, bool) or not isinstance(seed_index, int):
        raise InvalidInput(f"seed index must be 0, 1 or 2, got {seed_index!r}")
    if not 0 <= seed_index < CANDIDATES:
        raise InvalidInput(f"seed index {seed_index} is out of range: use 0, 1 or 2")
    name = backend or ws.settings.generator
    if generate and name not in available_generators():
        known = ", ".join(sorted(available_generators()))
        raise InvalidInput(f"unknown generation backend {name!r}; registered: {known}")
    brand_path = str(VolumePath.parse(brand)) if brand else None
    for value, what in ((headline, "headline"), (cta, "call to action")):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidInput(f"{what} is empty: leave it out for the default")
    ad_format = parse_format(fmt or DEFAULT_FORMAT)
    clean = " ".join(text.split())
    return _Checked(clean, seed_index, bool(generate), ad_format, name, brand_path, headline, cta)


def _trace_inputs(req: _Checked) -> dict[str, Any]:
    return {
        "segment_text": req.text,
        "seed_index": req.seed_index,
        "generate": req.generate,
        "backend": req.backend if req.generate else None,
        "format": req.fmt.name,
        "brand_path": req.brand,
        "headline": req.headline,
        "cta": req.cta,
    }


def _run(ws: Workspace, trace: Trace, req: _Checked) -> GenerateResult:
    found, reused = _retrieve(ws, trace, req.text)
    candidates = list(found.candidates)
    seed_path = candidates[req.seed_index]
    result = GenerateResult(candidates, req.seed_index, seed_path, None, None, None, reused)
    if not req.generate:
        return result
    image_path, scores = _generate(ws, trace, req, seed_path, candidates)
    return replace(result, image_path=image_path, scores=scores)


def index_version(ws: Workspace) -> str:
    """The Delta versions the vector index reflects; a sync changes it."""
    mark = ws.index.read_watermark()
    return "unsynced" if mark is None else f"{mark.embeddings_version}.{mark.assets_version}"


def _retrieve(ws: Workspace, trace: Trace, text: str) -> tuple[Remembered, bool]:
    inputs = {"segment_text": text, "k": CANDIDATES, "kind": "seed"}
    with trace.span("retrieve", inputs, "RETRIEVER") as span:
        model_id = ws.embedder().model_id
        version = index_version(ws)
        key = memory_key(text, model_id, version, ws.principal.name)
        memory = SeedMemory(ws.home)
        found = memory.recall(key)
        reused = found is not None
        if found is None:
            hits = ws.search([text], k=CANDIDATES, kind="seed")[0].hits
            if len(hits) < CANDIDATES:
                raise StateError(
                    f"only {len(hits)} seed photo(s) in the index for you; {CANDIDATES} are "
                    "needed: ingest more with --kind seed, then embed and sync the index"
                )
            found = Remembered(tuple(h.path for h in hits), tuple(h.score for h in hits))
            found = memory.remember(key, text, model_id, version, ws.principal.name, found)
        span.set_attributes(vector_query=not reused, source="memory" if reused else "index",
                            memory_key=key, index_version=version, model_id=model_id)  # fmt: skip
        span.set_outputs(candidates=list(found.candidates),
                         scores=[round(s, 4) for s in found.scores])  # fmt: skip
    return found, reused


def _generate(
    ws: Workspace, trace: Trace, req: _Checked, seed_path: str, candidates: list[str]
) -> tuple[str, dict[str, float]]:
    from adseed.generate.scores import score_ad

    seed_ref = VolumePath.parse(seed_path).volume
    target = VolumeRef(seed_ref.catalog, seed_ref.schema, GENERATED_VOLUME)
    _require_write(ws, target)
    brand_path = req.brand or default_brand(ws)
    generator = build_generator(req.backend, ws.settings)
    inputs = {"seed_path": seed_path, "brand_path": brand_path, "backend": req.backend,
              "format": req.fmt.name, "headline": req.headline, "cta": req.cta}  # fmt: skip
    with trace.span("generate", inputs, "LLM") as span:
        seed = _read_image(ws, seed_path, "seed image")
        brand = _read_image(ws, brand_path, "brand image")
        request = AdRequest(seed, brand, req.text, req.fmt, req.headline, req.cta)
        if isinstance(generator, LocatingGenerator):
            png, box = generator.generate_located(request)
        else:
            png, box = generator.generate(request), None
        _check_output(png, req.fmt, req.backend)
        sha = hashlib.sha256(png).hexdigest()
        span.set_outputs(sha256=sha, bytes=len(png), width=req.fmt.width, height=req.fmt.height)
    with trace.span("score", {"image_sha256": sha, "seed_path": seed_path,
                              "brand_path": brand_path, "product_box": box}) as span:  # fmt: skip
        scores = score_ad(ws.embedder(), req.text, png, seed, brand, box)
        span.set_outputs(**scores.to_dict(), product_box=scores.product_box)
    params = {"prompt": req.text, "format": req.fmt.name, "headline": req.headline,
              "cta": req.cta, "seed_index": req.seed_index, "candidates": candidates,
              "product_box": scores.product_box, "embedder": ws.embedder().model_id}  # fmt: skip
    row = {"segment_text": req.text, "seed_path": seed_path, "brand_path": brand_path,
           "backend": req.backend, "format": req.fmt.name, "width": req.fmt.width,
           "height": req.fmt.height, "parameters": json.dumps(params, sort_keys=True),
           "scores": scores.to_dict(), "principal": ws.principal.name,
           "request_id": trace.tags[REQUEST_TAG]}  # fmt: skip
    with trace.span("write", {"volume": target.full_name, "sha256": sha}) as span:
        path = target.file_path(f"ad-{req.fmt.name}-{sha[:16]}.png")
        version = write_generation(ws, str(path), png, {**row, "sha256": sha})
        span.set_outputs(image_path=str(path), table=GENERATIONS, table_version=version)
    return str(path), scores.to_dict()


def write_generation(ws: Workspace, path: str, png: bytes, row: dict[str, Any]) -> int:
    """File first, row second; the file goes again if the row fails (unless a row uses it)."""
    target = VolumePath.parse(path)
    existed = ws.volumes.exists(target)
    ws.write_file(path, png)
    try:
        return ws.tables.append(
            GENERATIONS, generation_row(path=path, volume=target.volume.full_name, **row)
        )
    except BaseException:
        with suppress(Exception):
            if not existed or not _referenced(ws, path):
                ws.volumes.delete(target)
        raise


def _referenced(ws: Workspace, path: str) -> bool:
    return ws.tables.read(GENERATIONS, columns=["path"], filters=[("path", "=", path)]).num_rows > 0


def default_brand(ws: Workspace) -> str:
    """The workspace's one brand image (kind ``brand``) readable by the caller."""
    from adseed.governance.securables import Privilege, Securable

    rows = ws.tables.read("assets", columns=["path", "volume"], filters=[("kind", "=", "brand")])
    paths = sorted(
        p
        for p, v in zip(rows["path"].to_pylist(), rows["volume"].to_pylist(), strict=True)
        if ws.governance.authz.allowed(ws.principal, Privilege.READ_VOLUME, Securable.volume(v))
    )
    if not paths:
        raise NotFound(
            "no brand image in the workspace: ingest a pack-shot with --kind brand "
            "(adseed ingest PACK.jpg --volume CATALOG.SCHEMA.brand --kind brand) or pass --brand"
        )
    if len(paths) > 1:
        shown = ", ".join(paths[:5]) + (" …" if len(paths) > 5 else "")
        raise InvalidInput(
            f"{len(paths)} brand images in the workspace; choose one with --brand: {shown}"
        )
    return paths[0]


def _require_write(ws: Workspace, target: VolumeRef) -> None:
    """Refuse before any work when the caller may not write the ad or its row."""
    from adseed.governance.securables import Privilege, Securable

    schema = f"{target.catalog}.{target.schema}"
    who = ws.principal
    ws.governance.require(
        who, "generate", Privilege.WRITE_VOLUME, Securable.volume(target.full_name)
    )
    ws.governance.require(who, "generate", Privilege.MODIFY, Securable.table(schema, GENERATIONS))


def _read_image(ws: Workspace, path: str, what: str) -> bytes:
    from adseed.storage.imagecheck import check_image

    data = ws.read_file(path)
    try:
        check_image(
            data, max_pixels=ws.settings.max_pixels, max_file_bytes=ws.settings.max_file_bytes
        )
    except RejectedFile as exc:
        raise RejectedFile(f"{what} {path}: {exc}") from exc
    return data


def _check_output(png: bytes, fmt: AdFormat, backend: str) -> None:
    try:
        with Image.open(io.BytesIO(png)) as im:
            kind, size = im.format, im.size
    except Exception as exc:  # noqa: BLE001 - any unreadable output is the backend's fault
        raise BackendError(f"backend {backend!r} returned no readable image ({exc})") from exc
    if kind != "PNG" or size != (fmt.width, fmt.height):
        raise BackendError(
            f"backend {backend!r} returned {kind} {size[0]}x{size[1]}, not PNG {fmt.name}"
        )


def _write_trace(ws: Workspace, trace: Trace) -> str | None:
    """Record the trace (inside an agent turn: as part of the turn's trace); a tracing
    failure must not turn a finished request into an error."""
    import logging

    try:
        return TraceStore.for_settings(ws.settings).record(trace)
    except Exception as exc:  # noqa: BLE001 - the store is best effort, the ad is not
        logging.getLogger("adseed.generate").warning("could not record the trace: %s", exc)
        return None
