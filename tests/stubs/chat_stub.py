"""A local stand-in for an OpenAI-compatible chat-completions server, on 127.0.0.1.

It speaks the real wire format: ``POST /v1/chat/completions`` with a JSON body,
``Authorization: Bearer`` checked when a key is set, request validation with the
provider's error bodies (``{"error": {"message", "type", "param", "code"}}``),
strict ``json_schema`` response formats checked the way the provider checks them
(every property required, ``additionalProperties: false``), and completions shaped
like the provider's (``id``, ``object: "chat.completion"``, ``choices[0].message``
with ``content`` and ``refusal``, ``finish_reason``, ``usage``).

Tests script what comes back, one step per request (then the default, a good
answer): ``ok``, ``missing_field``, ``extra_field``, ``too_long``, ``banned:<phrase>``,
``duplicate``, ``not_json``, ``truncated``, ``refusal``, ``content_filter``,
``status:<code>`` (with the provider's error body; 429 carries ``retry-after-ms``),
``sleep:<seconds>`` (answers late, for timeouts), ``garbage_200``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERRORS = {
    400: ("invalid_request_error", None, "Invalid request"),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-wr***ng."),
    404: ("invalid_request_error", "model_not_found",
          "The model `nope` does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded",
          "Rate limit reached for requests. Please try again in 20ms."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later"),
}


@dataclass
class ChatStub:
    """Shared state between the test and the server thread."""

    api_key: str | None = None
    script: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def _error(status: int, message: str | None = None, param: str | None = None) -> dict[str, Any]:
    kind, code, default = ERRORS.get(status, ("server_error", None, "error"))
    return {"error": {"message": message or default, "type": kind, "param": param, "code": code}}


def check_request(body: Any) -> tuple[int, dict[str, Any]] | None:
    """The provider's 400 for a malformed request, or None when it is well formed."""
    if not isinstance(body, dict):
        return 400, _error(400, "We could not parse the JSON body of your request.")
    for name in ("model", "messages"):
        if name not in body:
            return 400, _error(400, f"Missing required parameter: '{name}'.", name)
    fmt = body.get("response_format")
    if fmt is None:
        return None
    if fmt.get("type") not in ("text", "json_object", "json_schema"):
        return 400, _error(400, "Invalid value for 'response_format.type'.", "response_format")
    if fmt["type"] == "json_schema":
        spec = fmt.get("json_schema") or {}
        for name in ("name", "schema"):
            if name not in spec:
                return 400, _error(400, f"Missing required parameter: "
                                        f"'response_format.json_schema.{name}'.")
        if spec.get("strict"):
            problem = _strict_problem(spec["schema"], ())
            if problem:
                return 400, _error(400, f"Invalid schema for response_format "
                                        f"'{spec['name']}': {problem}", "response_format")
    return None


def _strict_problem(schema: dict[str, Any], path: tuple[str, ...]) -> str | None:
    if schema.get("type") == "object":
        if schema.get("additionalProperties") is not False:
            return (f"In context={path}, 'additionalProperties' is required to be supplied "
                    f"and to be false.")
        props = schema.get("properties", {})
        if sorted(schema.get("required", [])) != sorted(props):
            return f"In context={path}, 'required' is required to include every key in properties."
        for key, sub in props.items():
            problem = _strict_problem(sub, (*path, "properties", key))
            if problem:
                return problem
    if schema.get("type") == "array":
        return _strict_problem(schema.get("items", {}), (*path, "items"))
    return None


def good_variants(task: dict[str, Any]) -> list[dict[str, str]]:
    """Short, distinct, clean copy for the task the writer sent (its limits are in it)."""
    n, product = int(task["variants"]), task["brief"]["product"].split()[-1]
    return [
        {
            "headline": f"Meet the {product} {i}",
            "title": f"Made for you, take {i}",
            "description": f"Option {i}: a simple {product.lower()} for every day.",
            "cta": "Shop Now",
            "image_suggestion": f"a happy dog in a garden, scene {i}",
        }
        for i in range(1, n + 1)
    ]


def content_for(step: str, task: dict[str, Any]) -> tuple[str, str]:
    """(content, finish_reason) for a scripted answer step."""
    variants = good_variants(task)
    if step == "missing_field":
        del variants[0]["cta"]
    elif step == "extra_field":
        variants[0]["price"] = "9.99"
    elif step == "too_long":
        variants[0]["headline"] = "An extremely long headline that runs far past any limit"
    elif step.startswith("banned:"):
        variants[-1]["description"] = f"Now {step.split(':', 1)[1].upper()} for you."
    elif step == "duplicate":
        variants[-1]["headline"] = variants[0]["headline"]
    text = json.dumps({"variants": variants})
    if step == "not_json":
        return "Sure! Here is your copy: " + text, "stop"
    if step == "truncated":
        return text[: len(text) // 2], "length"
    return text, "stop"


def completion(body: dict[str, Any], step: str) -> dict[str, Any]:
    task = json.loads(body["messages"][1]["content"])
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    finish = "stop"
    if step == "refusal":
        message["refusal"] = "I'm sorry, I can't help with that request."
    elif step == "content_filter":
        finish = "content_filter"
    else:
        message["content"], finish = content_for(step, task)
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_stub",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }


Answer = tuple[int, Any, dict[str, str], bytes | None]


def answer(stub: ChatStub, path: str, auth: str | None, raw: bytes) -> Answer:
    """(status, JSON payload, extra headers, raw body) for one request, as the provider would."""
    if path != "/v1/chat/completions":
        return 404, _error(404, f"Invalid URL (POST {path})"), {}, None
    if stub.api_key and auth != f"Bearer {stub.api_key}":
        return 401, _error(401), {}, None
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    stub.requests.append(body)
    bad = check_request(body)
    if bad:
        return bad[0], bad[1], {}, None
    step = stub.script.pop(0) if stub.script else "ok"
    if step.startswith("sleep:"):
        time.sleep(float(step.split(":")[1]))
        step = "ok"
    if step.startswith("status:"):
        code = int(step.split(":")[1])
        return code, _error(code), {"retry-after-ms": "20"} if code == 429 else {}, None
    if step == "garbage_200":
        return 200, None, {}, b"<html>gateway</html>"
    return 200, completion(body, step), {}, None


def _handler(stub: ChatStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/v1/chat/completions":
                stub.headers.append(dict(self.headers))
            status, payload, headers, body = answer(
                stub, self.path, self.headers.get("Authorization"), raw)
            data = body if body is not None else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout tests): that is the point

    return Handler


@contextmanager
def serve(api_key: str | None = None) -> Iterator[ChatStub]:
    """Run the stub on a free port of 127.0.0.1 for the duration of a ``with`` block."""
    stub = ChatStub(api_key=api_key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True  # a deliberately slow answer must not hold up shutdown
    stub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
