"""A local stand-in for OpenAI's ``POST /v1/images/edits``, in its documented wire format.

Parses the multipart body like the real endpoint (``image[]`` parts, text fields),
validates it against the GPT image models' parameters, and answers
``{"created", "data": [{"b64_json"}], "usage", ...}``; errors are
``{"error": {"message", "type", "param", "code"}}``. The helpers below build the real
error bodies for refusals, quota, rate limits and server errors.
"""

from __future__ import annotations

import base64
import io
import time
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from PIL import Image

from stubs.http_stub import Recorded, Reply, StubServer

KEY = "sk-stub-key"
SIZES = {"1024x1024", "1536x1024", "1024x1536", "auto"}
QUALITIES = {"low", "medium", "high", "auto"}
FIELDS = {"prompt", "model", "n", "size", "quality", "output_format", "input_fidelity",
          "background", "output_compression", "moderation", "user"}  # fmt: skip


def error(status: int, message: str, type_: str, code: str | None, param: str | None = None,
          **headers: str) -> Reply:  # fmt: skip
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return Reply.json(status, body, **headers)


def moderation_blocked() -> Reply:
    return error(400, "Your request was rejected by the safety system. If you believe this is an "
                 "error, contact us at help.openai.com and include the request ID req_stub.",
                 "image_generation_user_error", "moderation_blocked")  # fmt: skip


def insufficient_quota() -> Reply:
    return error(429, "You exceeded your current quota, please check your plan and billing "
                 "details.", "insufficient_quota", "insufficient_quota")  # fmt: skip


def rate_limited(**headers: str) -> Reply:
    return error(429, "Rate limit reached for gpt-image-1 in organization org-stub on images per "
                 "minute (IPM): Limit 5, Used 5, Requested 1.", "requests",
                 "rate_limit_exceeded", **headers)  # fmt: skip


def server_error(status: int = 500) -> Reply:
    return error(status, "The server had an error while processing your request. Sorry about that!",
                 "server_error", None)  # fmt: skip


class OpenAIStub(StubServer):
    def __init__(self) -> None:
        super().__init__()
        self.output_mode = "png"  # png | empty | not_base64 | not_image

    def route(self, method: str, path: str) -> str:
        return "edits" if (method, path) == ("POST", "/v1/images/edits") else ""

    def answer(self, request: Recorded) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return error(401, "Incorrect API key provided.", "invalid_request_error",
                         "invalid_api_key")  # fmt: skip
        try:
            fields, images = parse_form(request)
        except ValueError as exc:
            return error(400, str(exc), "invalid_request_error", None)
        problem = validate(fields, images)
        if problem:
            return error(400, problem[1], "invalid_request_error", "invalid_value", problem[0])
        return self._result(fields)

    def _result(self, fields: dict[str, str]) -> Reply:
        size = fields.get("size", "auto")
        width, height = (1024, 1024) if size == "auto" else map(int, size.split("x"))
        png = output_png(width, height)
        b64 = {"png": base64.b64encode(png).decode(), "empty": None, "not_base64": "%%%",
               "not_image": base64.b64encode(b"plain text").decode()}[self.output_mode]  # fmt: skip
        data = [] if b64 is None else [{"b64_json": b64}]
        return Reply.json(200, {
            "created": int(time.time()), "data": data, "background": "opaque",
            "output_format": "png", "quality": fields.get("quality", "auto"), "size": size,
            "usage": {"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210,
                      "input_tokens_details": {"text_tokens": 10, "image_tokens": 40}},
        })  # fmt: skip


def parse_form(request: Recorded) -> tuple[dict[str, str], list[tuple[str, str, bytes]]]:
    """(text fields, [(field name, content type, bytes)]) from a multipart/form-data body."""
    ctype = request.headers.get("Content-Type", "")
    if not ctype.startswith("multipart/form-data"):
        raise ValueError("Invalid Content-Type header, expected multipart/form-data")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + request.body
    )
    assert isinstance(message, EmailMessage)
    fields: dict[str, str] = {}
    images: list[tuple[str, str, bytes]] = []
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        if part.get_filename():
            images.append((name, part.get_content_type(), payload))
        else:
            fields[name] = payload.decode()
    return fields, images


def validate(
    fields: dict[str, str], images: list[tuple[str, str, bytes]]
) -> tuple[str, str] | None:  # noqa: E501
    """(param, message) for the first invalid parameter, like the real 400s; None if valid."""
    for name in fields:
        if name not in FIELDS:
            return name, f"Unknown parameter: '{name}'."
    if not fields.get("prompt"):
        return "prompt", "Missing required parameter: 'prompt'."
    checks = [("size", SIZES), ("quality", QUALITIES), ("output_format", {"png", "jpeg", "webp"}),
              ("input_fidelity", {"high", "low"})]  # fmt: skip
    for name, allowed in checks:
        if name in fields and fields[name] not in allowed:
            supported = ", ".join(sorted(allowed))
            return name, f"Invalid value: '{fields[name]}'. Supported values are: {supported}."
    if fields.get("n", "1") != "1":
        return "n", "This test stub only makes one image per request."
    if not 1 <= len(images) <= 16 or any(n not in ("image", "image[]") for n, _, _ in images):
        return "image", "Provide between 1 and 16 images as 'image[]'."
    for _, _, data in images:
        try:
            with Image.open(io.BytesIO(data)) as img:
                ok = img.format in ("PNG", "JPEG", "WEBP")
        except Exception:
            ok = False
        if not ok:
            return "image", "Invalid image file or mode for image, please check your image file."
    return None


def output_png(width: int, height: int) -> bytes:
    img = Image.new("RGB", (width, height), (20, 90, 60))
    img.paste((250, 250, 250), (width // 3, height // 3, 2 * width // 3, 2 * height // 3))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def form_of(request: Recorded) -> dict[str, Any]:
    """Test helper: the parsed form of a recorded request."""
    fields, images = parse_form(request)
    return {"fields": fields, "images": images}
