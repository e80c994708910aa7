"""A local stand-in for Replicate's predictions API, in its documented wire format.

Routes: ``POST /v1/models/{owner}/{name}/predictions`` (create, honours ``Prefer: wait``),
``GET /v1/predictions/{id}`` (poll: ``starting`` → ``processing`` → terminal after
``polls_to_finish`` polls), ``GET /v1/predictions`` (list, newest first),
``POST /v1/predictions/{id}/cancel``, and the output files under ``/files/``
(optionally on a second "CDN" server, as Replicate serves them from another host).
Errors are problem details ``{"title", "detail", "status"}`` like the real API.
The create body is validated against the multi-image-kontext-pro input schema.
"""

from __future__ import annotations

import base64
import io
import math
import re
import secrets
import string
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from stubs.http_stub import Recorded, Reply, StubServer

MODEL = "flux-kontext-apps/multi-image-kontext-pro"
TOKEN = "r8_stub_token"
ASPECTS = {
    "match_input_image": None, "1:1": 1.0, "16:9": 16 / 9, "9:16": 9 / 16, "4:3": 4 / 3,
    "3:4": 3 / 4, "3:2": 3 / 2, "2:3": 2 / 3, "4:5": 4 / 5, "5:4": 5 / 4, "21:9": 21 / 9,
    "9:21": 9 / 21, "2:1": 2.0, "1:2": 1 / 2,
}  # fmt: skip
INPUT_FIELDS = {"prompt", "input_image_1", "input_image_2", "aspect_ratio", "seed",
                "output_format", "safety_tolerance"}  # fmt: skip
_CREATE = re.compile(r"^/v1/models/([^/]+)/([^/]+)/predictions$")
_ONE = re.compile(r"^/v1/predictions/([A-Za-z0-9_-]+)$")
_CANCEL = re.compile(r"^/v1/predictions/([A-Za-z0-9_-]+)/cancel$")
_FILE = re.compile(r"^/files/([A-Za-z0-9_-]+)\.png$")


def problem(status: int, title: str, detail: str, **headers: str) -> Reply:
    reply = Reply.json(status, {"title": title, "detail": detail, "status": status}, **headers)
    reply.headers["Content-Type"] = "application/problem+json"
    return reply


def throttled(retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    detail = "Request was throttled. Expected available in 1 second."
    return problem(429, "Too Many Requests", detail, **headers)


class FileHost(StubServer):
    """Serves output files without auth, like Replicate's delivery host."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}

    def route(self, method: str, path: str) -> str:
        return "file" if method == "GET" and _FILE.match(path) else ""

    def answer(self, request: Recorded) -> Reply:
        match = _FILE.match(request.path)
        data = self.files.get(match.group(1)) if match else None
        if data is None:
            return Reply(404, b"not found")
        return Reply(200, data, {"Content-Type": "image/png"})


class ReplicateStub(StubServer):
    def __init__(self, files: FileHost | None = None) -> None:
        super().__init__()
        self.file_host = files
        self.local_files: dict[str, bytes] = {}
        self.predictions: dict[str, dict[str, Any]] = {}
        self.polls_to_finish = 0  # 0: finishes inside a Prefer: wait create
        self.outcome = "succeeded"  # or "failed"
        self.fail_error = "Prediction failed for an unknown reason"
        self.output_mode = "url"  # url | list | none | garbage | data
        self.canceled: list[str] = []

    # -- routing -----------------------------------------------------------------------

    def route(self, method: str, path: str) -> str:
        path = path.split("?")[0]
        table = [("POST", _CREATE, "create"), ("POST", _CANCEL, "cancel"),
                 ("GET", _ONE, "get"), ("GET", _FILE, "file")]  # fmt: skip
        for verb, pattern, name in table:
            if method == verb and pattern.match(path):
                return name
        return "list" if (method, path) == ("GET", "/v1/predictions") else ""

    def answer(self, request: Recorded) -> Reply:
        if request.route == "file":
            match = _FILE.match(request.path)
            data = self.local_files.get(match.group(1)) if match else None
            return Reply(200, data, {"Content-Type": "image/png"}) if data else Reply(404)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        handler = getattr(self, f"_{request.route}")
        return handler(request)

    # -- endpoints ---------------------------------------------------------------------

    def _create(self, request: Recorded) -> Reply:
        match = _CREATE.match(request.path)
        if not match or f"{match.group(1)}/{match.group(2)}" != MODEL:
            return problem(404, "Not found", "The requested model does not exist")
        error = validate_input(request)
        if error:
            return problem(422, "Input validation failed", error)
        pid = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))
        now = _now()
        with self.lock:
            self.predictions[pid] = {
                "id": pid, "model": MODEL, "version": "hidden", "input": request.json()["input"],
                "logs": "", "output": None, "error": None, "status": "starting",
                "created_at": now, "started_at": None, "completed_at": None,
                "data_removed": False, "source": "api", "_polls_left": self.polls_to_finish,
            }  # fmt: skip
            if self.polls_to_finish == 0 and "wait" in request.headers.get("Prefer", ""):
                self._finish(pid)
            return Reply.json(201, self._public(pid), Location=f"{self.url}/v1/predictions/{pid}")

    def _get(self, request: Recorded) -> Reply:
        pid = _ONE.match(request.path).group(1)  # type: ignore[union-attr]
        with self.lock:
            pred = self.predictions.get(pid)
            if pred is None:
                return problem(404, "Not found", "Prediction not found")
            if pred["status"] in ("starting", "processing"):
                pred["_polls_left"] -= 1
                if pred["_polls_left"] <= 0:
                    self._finish(pid)
                else:
                    pred["status"], pred["started_at"] = "processing", pred["started_at"] or _now()
            return Reply.json(200, self._public(pid))

    def _list(self, request: Recorded) -> Reply:
        with self.lock:
            results = [self._public(pid) for pid in reversed(self.predictions)]
        return Reply.json(200, {"next": None, "previous": None, "results": results})

    def _cancel(self, request: Recorded) -> Reply:
        pid = _CANCEL.match(request.path).group(1)  # type: ignore[union-attr]
        with self.lock:
            pred = self.predictions.get(pid)
            if pred is None:
                return problem(404, "Not found", "Prediction not found")
            if pred["status"] in ("starting", "processing"):
                pred["status"], pred["completed_at"] = "canceled", _now()
                self.canceled.append(pid)
            return Reply.json(200, self._public(pid))

    # -- prediction life cycle -----------------------------------------------------------

    def _finish(self, pid: str) -> None:
        pred = self.predictions[pid]
        pred["started_at"] = pred["started_at"] or _now()
        pred["completed_at"] = _now()
        if self.outcome == "failed":
            pred["status"], pred["error"] = "failed", self.fail_error
            return
        pred["status"] = "succeeded"
        png = output_png(pred["input"].get("aspect_ratio", "1:1"))
        data = b"this is not an image" if self.output_mode == "garbage" else png
        host = self.file_host
        (host.files if host else self.local_files)[pid] = data
        url = f"{host.url if host else self.url}/files/{pid}.png"
        b64 = base64.b64encode(png).decode()
        pred["output"] = {"url": url, "list": [url], "none": None, "garbage": url,
                          "data": f"data:image/png;base64,{b64}"}[self.output_mode]  # fmt: skip

    def _public(self, pid: str) -> dict[str, Any]:
        pred = {k: v for k, v in self.predictions[pid].items() if not k.startswith("_")}
        pred["urls"] = {"get": f"{self.url}/v1/predictions/{pid}",
                        "cancel": f"{self.url}/v1/predictions/{pid}/cancel"}  # fmt: skip
        return pred

    def count(self) -> int:
        with self.lock:
            return len(self.predictions)


def validate_input(request: Recorded) -> str | None:
    """The schema checks Replicate runs before it creates anything; None when valid."""
    if not request.headers.get("Content-Type", "").startswith("application/json"):
        return "request body must be JSON"
    try:
        body = request.json()
    except ValueError:
        return "request body is not valid JSON"
    inp = body.get("input") if isinstance(body, dict) else None
    if not isinstance(inp, dict):
        return "input: Invalid type. Expected: object"
    unknown = set(inp) - INPUT_FIELDS
    if unknown:
        return f"input: Additional property {sorted(unknown)[0]} is not allowed"
    if not isinstance(inp.get("prompt"), str) or not inp["prompt"]:
        return "prompt is required"
    for key in ("input_image_1", "input_image_2"):
        if not _is_image_uri(inp.get(key)):
            return f"{key}: must be a URL or data URI of a jpeg, png, gif or webp image"
    if inp.get("aspect_ratio", "match_input_image") not in ASPECTS:
        return f"aspect_ratio: must be one of {', '.join(ASPECTS)}"
    if inp.get("output_format", "png") not in ("jpg", "png"):
        return "output_format: must be one of jpg, png"
    if "seed" in inp and not isinstance(inp["seed"], int):
        return "seed: Invalid type. Expected: integer"
    return None


def _is_image_uri(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if value.startswith(("http://", "https://")):
        return True
    header, _, payload = value.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        return False
    try:
        with Image.open(io.BytesIO(base64.b64decode(payload, validate=True))) as img:
            return img.format in ("JPEG", "PNG", "GIF", "WEBP")
    except Exception:
        return False


def output_png(aspect_ratio: str) -> bytes:
    """A small generated 'ad' at the requested aspect ratio (about 96² pixels)."""
    ratio = ASPECTS.get(aspect_ratio) or 1.0
    size = (round(96 * math.sqrt(ratio)), round(96 / math.sqrt(ratio)))
    img = Image.new("RGB", size, (30, 120, 200))
    img.paste((240, 200, 40), (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
