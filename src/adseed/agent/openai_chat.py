"""Any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, llama.cpp server).

The hosted model sees the conversation and two tools: the minimal image tool
``generate_ad_image(prompt, seed_index, generate)`` and the copy tool ``write_ad_copy
(product, benefits, placement)``. Its choice *is* its reading of the reply: calling the
image tool with the prompt on screen and ``generate=true`` means "yes, make the ad",
the next ``seed_index`` means "not quite", a different prompt is a redirect worded by
the model itself, a copy call is a request for the ad's words, and plain text means it
did not understand (the text is shown). The
deterministic policy then decides what actually runs, so a model that calls the tool
out of turn cannot skip a step. Proposals are asked for as a small JSON object.

Wire format: ``POST {base_url}/chat/completions`` with a bearer key; errors come back
as ``{"error": {"message", "type", "code"}}``. 429 (except ``insufficient_quota``), 5xx
and timeouts are retried with backoff, honouring Retry-After; the rest fail at once
with the provider's message.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

import httpx

from adseed.agent.chat import Brief, Intent, Proposal, ReadContext, Reading, Stage
from adseed.agent.tools import (
    COPY_TOOL_NAME,
    COPY_TOOL_SPEC,
    TOOL_NAME,
    TOOL_SPEC,
    check_arguments,
    check_copy_arguments,
)
from adseed.errors import BackendError, ConfigError, InvalidInput

if TYPE_CHECKING:
    from adseed.config import Settings

ATTEMPTS = 3
MAX_WAIT_S = 10.0
PROPOSE_SYSTEM = (
    "You plan pet-brand ads. Given an audience segment, propose ONE pet (a breed where it "
    "helps) and ONE setting for the ad photo, with a one-line reason. Answer with a JSON "
    'object only: {"pet": "...", "setting": "...", "reason": "..."}. If the text is not a '
    'description of an audience, answer {"pet": null}.'
)
READ_SYSTEM = (
    "You help a marketer pick the photo for a pet-brand ad. Current step: {step}\n"
    "Express the marketer's reply as ONE call of generate_ad_image:\n"
    "- they accept: call it with prompt={prompt!r}, seed_index={index}, generate={accept_gen};\n"
    "- they want another photo: the same prompt with seed_index={next_index}, generate=false;\n"
    "- they ask for a change (another pet, setting or product): a new prompt describing the "
    "photo, seed_index=0, generate=false.\n"
    "If they ask for the ad's words (copy, headline, text), call write_ad_copy instead, with "
    "the product (the ad features: {product}) and the benefits they want stressed.\n"
    "If the reply is none of these, do not call a tool: answer in one short sentence."
)


class OpenAIChatModel:
    name = "openai"

    def __init__(
        self, base_url: str, model: str, api_key: str = "", timeout_s: float = 60.0
    ) -> None:
        if not base_url or not model:
            raise ConfigError(
                "the openai chat model needs chat_base_url and chat_model "
                "(ADSEED_CHAT_BASE_URL, ADSEED_CHAT_MODEL)"
            )
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(headers=headers, timeout=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChatModel:
        return cls(
            settings.chat_base_url, settings.chat_model, settings.chat_api_key,
            float(settings.chat_timeout_s),
        )  # fmt: skip

    # -- the interface --------------------------------------------------------------------

    def propose(self, brief: Brief) -> Proposal | None:
        ask = {"segment": brief.segment, "pet": brief.pet, "setting": brief.setting,
               "already_tried": list(brief.avoid)}  # fmt: skip
        messages = [
            {"role": "system", "content": PROPOSE_SYSTEM},
            {"role": "user", "content": json.dumps(ask)},
        ]
        message = self._complete(messages, tools=False)
        data = _json_object(message.get("content") or "")
        if not data.get("pet"):
            return None
        pet = str(brief.pet or data["pet"])
        setting = str(brief.setting or data.get("setting") or "")
        return Proposal(pet, setting, str(data.get("reason") or ""), "openai")

    def read(self, reply: str, context: ReadContext) -> Reading:
        messages = [{"role": "system", "content": _read_system(context)}]
        messages += [{"role": r, "content": t} for r, t in context.history]
        messages.append({"role": "user", "content": reply})
        message = self._complete(messages, tools=True)
        calls = [c for c in message.get("tool_calls") or [] if _is_our_call(c)]
        text = message.get("content") or None
        if not calls:
            return Reading(Intent.UNCLEAR, text=text)
        return _reading_from_call(calls[0], context, text)

    # -- the wire -------------------------------------------------------------------------

    def _complete(self, messages: list[dict[str, Any]], tools: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0}
        if tools:
            body |= {"tools": [TOOL_SPEC, COPY_TOOL_SPEC], "tool_choice": "auto"}
        response = self._post(body)
        try:
            message = response.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"chat model at {self.url} sent an unreadable answer") from exc
        if not isinstance(message, dict):
            raise BackendError(f"chat model at {self.url} sent an unreadable answer")
        return message

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = self.client.post(self.url, json=body)
            except httpx.TimeoutException as exc:
                if attempt == ATTEMPTS:
                    raise BackendError(f"chat model at {self.url} timed out") from exc
                time.sleep(_backoff(attempt, None))
                continue
            except httpx.HTTPError as exc:
                raise BackendError(f"chat model at {self.url} unreachable: {exc}") from exc
            if response.status_code < 400:
                return response
            if not _retryable(response) or attempt == ATTEMPTS:
                raise _error(response, self.url)
            time.sleep(_backoff(attempt, response.headers.get("retry-after")))
        raise AssertionError("unreachable")  # pragma: no cover


def _read_system(ctx: ReadContext) -> str:
    steps = {
        Stage.PROPOSED: f"you proposed photos of {ctx.prompt!r}; waiting for a yes or no.",
        Stage.SEED: f"photo {ctx.seed_index + 1} of 3 for {ctx.prompt!r} is on screen.",
        Stage.FINAL: f"the ad made from photo {ctx.seed_index + 1} of {ctx.prompt!r} is shown.",
    }
    accept_gen = "false" if ctx.stage is Stage.PROPOSED else "true"
    return READ_SYSTEM.format(
        step=steps.get(ctx.stage, "waiting for a segment."), prompt=ctx.prompt,
        index=ctx.seed_index, accept_gen=accept_gen, next_index=min(ctx.seed_index + 1, 2),
        product=ctx.product or "none chosen yet",
    )  # fmt: skip


def _is_our_call(call: Any) -> bool:
    names = (TOOL_NAME, COPY_TOOL_NAME)
    return isinstance(call, dict) and (call.get("function") or {}).get("name") in names


def _reading_from_call(call: dict[str, Any], ctx: ReadContext, text: str | None) -> Reading:
    """What the model's image-tool call says about the reply; a malformed call: ask again."""
    if call["function"]["name"] == COPY_TOOL_NAME:
        return _reading_from_copy_call(call, text)
    try:
        args = _arguments(call)
        prompt, index, generate = check_arguments(
            args.get("prompt"), args.get("seed_index"), args.get("generate")
        )
    except InvalidInput:
        return Reading(Intent.UNCLEAR, text=text, scores={"bad_tool_call": 1.0})
    if not _same_prompt(prompt, ctx.prompt):
        return Reading(Intent.REDIRECT, description=prompt, text=text)
    if ctx.stage is Stage.PROPOSED or generate:
        return Reading(Intent.ACCEPT, text=text)
    if index != ctx.seed_index:
        return Reading(Intent.REJECT, text=text)
    return Reading(Intent.UNCLEAR, text=text)


def _reading_from_copy_call(call: dict[str, Any], text: str | None) -> Reading:
    try:
        args = _arguments(call)
        product, benefits, placement = check_copy_arguments(
            args.get("product"), args.get("benefits"), args.get("placement")
        )
    except InvalidInput:
        return Reading(Intent.UNCLEAR, text=text, scores={"bad_tool_call": 1.0})
    return Reading(
        Intent.COPY, product=product, benefits=benefits, placement=placement, text=text
    )


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    """A tool call's arguments: a JSON object in a string, as the API sends them."""
    try:
        args = json.loads(call["function"].get("arguments") or "{}")
    except (ValueError, AttributeError) as exc:
        raise InvalidInput("the tool call's arguments are not JSON") from exc
    if not isinstance(args, dict):
        raise InvalidInput("the tool call's arguments are not a JSON object")
    return args


def _same_prompt(a: str, b: str) -> bool:
    wa, wb = set(re.findall(r"[a-z]+", a.lower())), set(re.findall(r"[a-z]+", b.lower()))
    return bool(wa | wb) and len(wa & wb) / len(wa | wb) >= 0.8


def _json_object(text: str) -> dict[str, Any]:
    """The first JSON object in a model's answer (models like to wrap it in prose or ```)."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    try:
        data = json.loads(match.group(0)) if match else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise BackendError(f"chat model did not answer with a JSON object: {text[:200]!r}")
    return data


def _retryable(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return _error_code(response) != "insufficient_quota"
    return response.status_code >= 500


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"].get("code") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""


def _error(response: httpx.Response, url: str) -> Exception:
    try:
        detail = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        detail = response.text[:200]
    status = response.status_code
    if status in (401, 403, 404):
        return ConfigError(f"chat model at {url} refused the request ({status}): {detail}")
    return BackendError(f"chat model at {url} failed ({status}): {detail}")


def _backoff(attempt: int, retry_after: str | None) -> float:
    try:
        wait = float(retry_after) if retry_after is not None else 0.5 * 2 ** (attempt - 1)
    except ValueError:
        wait = 0.5 * 2 ** (attempt - 1)
    return max(0.0, min(wait, MAX_WAIT_S))
