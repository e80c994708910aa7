"""Copy from any OpenAI-compatible chat-completions endpoint, with JSON-schema output.

Wire format (OpenAI chat completions, also spoken by vLLM, Ollama and llama.cpp's
server): ``POST {base_url}/chat/completions`` with ``messages`` and
``response_format: {"type": "json_schema", "json_schema": {"name", "strict": true,
"schema"}}``; the answer is ``choices[0].message.content`` (a JSON string), or
``choices[0].message.refusal`` when the model declines. Strict mode accepts only a
subset of JSON Schema (every property required, ``additionalProperties: false``), so
the character limits travel in the field descriptions and are enforced here.

What can go wrong, and what happens:

- the answer breaks the schema, a limit or a must-avoid phrase, or is cut off
  (``finish_reason: "length"``): the model is asked again with the problems spelled
  out, at most ``schema_retries`` times, then :class:`BackendError`;
- 408/409/429/5xx, timeouts, refused connections: retried ``http_retries`` times,
  waiting what ``retry-after-ms`` / ``retry-after`` say (capped) or a doubling
  backoff, then :class:`BackendError`;
- 401/403 (key) and 404 (model or URL): :class:`ConfigError` at once, since retrying
  cannot help; other 4xx: :class:`BackendError` with the provider's message;
- a refusal or a content filter stop: :class:`BackendError` at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx
import jsonschema

from adseed.copy.base import CopyVariant, problems
from adseed.copy.placements import (
    FIELDS,
    META_BUTTONS,
    Placement,
    business_name,
    button_label,
)
from adseed.errors import BackendError, ConfigError

if TYPE_CHECKING:
    from adseed.config import Settings
    from adseed.copy.brief import Brief

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_WAIT_S = 30.0
SCHEMA_NAME = "ad_copy"
SYSTEM_PROMPT = (
    "You write advertising copy from a product brief. Answer with JSON matching the "
    "schema and nothing else. Every field must fit its character limit, counted "
    "exactly; shorten by rephrasing, never by cutting a word. Never use any phrase "
    "from the brief's must_avoid list, in any letter case. Make the variants clearly "
    "different from each other. Write in the brief's language and tone. Claim nothing "
    "the brief does not say. image_suggestion is a short description of a photo "
    "for the ad (subject, action, setting), without text in the picture."
)


def response_schema(placement: Placement, n: int) -> dict[str, Any]:
    """The JSON schema sent as ``response_format``: strict mode's subset, limits in words."""
    properties = {
        name: {
            "type": "string",
            "description": f"{spec.platform_field}; at most {spec.limit} characters",
        }
        for name, spec in placement.fields.items()
    }
    variant = {"type": "object", "properties": properties, "required": list(FIELDS),
               "additionalProperties": False}
    return {
        "type": "object",
        "properties": {"variants": {"type": "array", "items": variant,
                                    "description": f"exactly {n} ad variants"}},
        "required": ["variants"],
        "additionalProperties": False,
    }


class ChatCopyWriter:
    """A copy writer backed by an OpenAI-compatible chat model."""

    name = "openai"

    def __init__(self, model: str, base_url: str, api_key: str = "", *,
                 timeout_s: float = 60.0, schema_retries: int = 2, http_retries: int = 3,
                 backoff_s: float = 0.5, temperature: float = 0.8,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.model, self.base_url = model, base_url.rstrip("/")
        self._api_key = api_key
        self.timeout_s, self.backoff_s, self.temperature = timeout_s, backoff_s, temperature
        self.schema_retries, self.http_retries = max(0, schema_retries), max(0, http_retries)
        self._transport, self._sleep = transport, sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> ChatCopyWriter:
        return cls(settings.copy_model, settings.copy_base_url, settings.copy_api_key,
                   timeout_s=float(settings.copy_timeout_s),
                   schema_retries=settings.copy_schema_retries,
                   http_retries=settings.copy_http_retries)

    @property
    def writer_id(self) -> str:
        return f"openai:{self.model}"

    def write(self, brief: Brief, placement: Placement, n: int, seed: int) -> list[CopyVariant]:
        """Ask for ``n`` variants; ask again (bounded) while the answer is unusable."""
        # a brief unfit for the placement fails here, before any request is sent
        business_name(brief.brand, placement, brief.source, brief.must_avoid)
        button_label(brief.cta, placement, brief.source, brief.must_avoid)
        messages = _messages(brief, placement, n)
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        last = ""
        with httpx.Client(base_url=self.base_url + "/", headers=headers,
                          timeout=self.timeout_s, transport=self._transport) as client:
            for _attempt in range(self.schema_retries + 1):
                completion = self._complete(client, messages, placement, n, seed)
                content, problem = _content(completion, self.writer_id)
                variants: list[CopyVariant] = []
                if problem is None:
                    variants, problem = _parse(content, brief, placement, n)
                if problem is None:
                    return variants
                last = problem
                messages = [*messages, {"role": "assistant", "content": content},
                            {"role": "user", "content": _feedback(problem, n)}]
        raise BackendError(f"{self.writer_id} at {self.base_url}: no usable copy after "
                           f"{self.schema_retries + 1} attempts; last problem: {last}")

    def _payload(self, messages: list[dict[str, str]], placement: Placement, n: int,
                 seed: int) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "strict": True,
                                "schema": response_schema(placement, n)},
            },
            "seed": seed,
            "temperature": self.temperature,
        }

    def _complete(self, client: httpx.Client, messages: list[dict[str, str]],
                  placement: Placement, n: int, seed: int) -> dict[str, Any]:
        """One chat completion, through transient failures (bounded)."""
        payload = self._payload(messages, placement, n, seed)
        error, wait = "", 0.0
        for attempt in range(self.http_retries + 1):
            if attempt:
                self._sleep(wait)
            wait = self._backoff(attempt)
            try:
                response = client.post("chat/completions", json=payload)
            except httpx.TimeoutException:
                error = f"no answer within {self.timeout_s:g}s"
                continue
            except httpx.TransportError as exc:
                error = f"cannot reach the endpoint ({exc})"
                continue
            if response.status_code == 200:
                return _json_body(response, self.writer_id)
            error = _error_text(response)
            if response.status_code not in RETRY_STATUSES:
                raise self._fatal(response.status_code, error)
            hinted = _retry_after(response)
            wait = wait if hinted is None else hinted
        raise BackendError(f"{self.writer_id} at {self.base_url}: gave up after "
                           f"{self.http_retries + 1} attempts: {error}")

    def _backoff(self, attempt: int) -> float:
        return float(min(MAX_WAIT_S, self.backoff_s * 2**attempt))

    def _fatal(self, status: int, error: str) -> Exception:
        where = f"{self.writer_id} at {self.base_url}"
        if status in (401, 403):
            return ConfigError(f"{where} refused the API key ({error}); set ADSEED_COPY_API_KEY")
        if status == 404:
            return ConfigError(f"{where}: model or endpoint not found ({error}); "
                               f"check ADSEED_COPY_MODEL and ADSEED_COPY_BASE_URL")
        return BackendError(f"{where} rejected the request ({error})")


def _messages(brief: Brief, placement: Placement, n: int) -> list[dict[str, str]]:
    fields = {name: {"platform_field": spec.platform_field, "max_characters": spec.limit}
              for name, spec in placement.fields.items()}
    task = {"variants": n, "placement": placement.label, "fields": fields,
            "brief": {k: v for k, v in brief.to_dict().items() if k != "placements"}}
    if placement.cta_button:
        task["cta_must_be"] = META_BUTTONS[brief.cta]
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": json.dumps(task, ensure_ascii=False)}]


def _feedback(problem: str, n: int) -> str:
    return (f"That answer cannot be used: {problem}. Write all {n} variants again as JSON "
            f"matching the schema, fixing every problem.")


def _json_body(response: httpx.Response, who: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise BackendError(f"{who}: the endpoint answered 200 with a body that is not JSON") \
            from None
    if not isinstance(body, dict):
        raise BackendError(f"{who}: the endpoint answered 200 with unexpected JSON")
    return body


def _error_text(response: httpx.Response) -> str:
    """"HTTP 429 rate_limit_exceeded: <message>" from the provider's error body."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {"message": str(error)}
    code = error.get("code") or error.get("type") or ""
    message = str(error.get("message") or response.text[:200] or response.reason_phrase)
    return f"HTTP {response.status_code} {code}: {message}".replace("  ", " ")


def _retry_after(response: httpx.Response) -> float | None:
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return min(MAX_WAIT_S, max(0.0, float(response.headers[header]) * scale))
        except (KeyError, ValueError):
            continue
    return None


def _content(completion: dict[str, Any], who: str) -> tuple[str, str | None]:
    """(content, problem to send back) of a completion; refusals are final."""
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", "the response had no choices"
    choice = choices[0]
    message = choice.get("message") or {}
    if message.get("refusal"):
        raise BackendError(f"{who} refused to write this copy: {message['refusal']}")
    if choice.get("finish_reason") == "content_filter":
        raise BackendError(f"{who}: the provider's content filter stopped the answer")
    content = message.get("content")
    if not isinstance(content, str):
        return "", "the message had no text content"
    if choice.get("finish_reason") == "length":
        return content, "the answer was cut off at the token limit; write shorter copy"
    return content, None


def _parse(content: str, brief: Brief, placement: Placement,
           n: int) -> tuple[list[CopyVariant], str | None]:
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        return [], f"the content is not valid JSON ({exc.msg})"
    validator = jsonschema.Draft202012Validator(response_schema(placement, n))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "the top level"
        return [], f"it does not match the schema at {where}: {error.message}"
    rows = data["variants"]
    if len(rows) < n:
        return [], f"it has {len(rows)} variants; exactly {n} are needed"
    business = business_name(brief.brand, placement, brief.source, brief.must_avoid)
    variants = [
        CopyVariant(**{f: " ".join(row[f].split()) for f in FIELDS}, business_name=business)
        for row in rows[:n]
    ]
    if placement.cta_button:  # Meta's CTA is a button chosen by intent, never free text
        variants = [_with_button(v, META_BUTTONS[brief.cta]) for v in variants]
    found = problems(variants, brief, placement)
    return variants, ("; ".join(found) if found else None)


def _with_button(variant: CopyVariant, label: str) -> CopyVariant:
    return replace(variant, cta=label)
