"""``openai``: gpt-image-1 image *edits* with the seed photo and the brand image together.

Wire format, as read in OpenAI's API reference ("Create image edit", ``POST
/v1/images/edits``) and its SDKs (not guessed):

* ``multipart/form-data`` with ``Authorization: Bearer <key>``. Several input images are
  sent as repeated ``image[]`` parts (png, webp or jpg, < 50 MB each, up to 16 for the
  GPT image models); text fields ``prompt``, ``model``, ``n``, ``size`` (``1024x1024``,
  ``1536x1024``, ``1024x1536`` or ``auto``), ``quality`` (``low``, ``medium``, ``high``,
  ``auto``), ``output_format`` (``png``), ``input_fidelity`` (``high`` keeps faces and
  product details closer to the inputs).
* The response is JSON ``{"created", "data": [{"b64_json": "..."}], "usage", ...}``: GPT
  image models always return base64, never a URL, so there is nothing to fetch later.
* Errors are JSON ``{"error": {"message", "type", "param", "code"}}``. A safety refusal
  is HTTP 400 with ``code: "moderation_blocked"`` (type ``image_generation_user_error``;
  older models say ``content_policy_violation``); an exhausted account is HTTP 429 with
  ``code``/``type`` ``insufficient_quota`` (or 400 ``billing_hard_limit_reached``); a rate
  limit is 429 ``rate_limit_exceeded``. The SDK reads ``retry-after-ms`` before
  ``Retry-After``; so do we.

Only a rate-limit 429, 5xx and timeouts are retried (see :mod:`adseed.generate.hosted`).
The edit is one POST that returns the image in its body; a retry after a lost response
can cost a second generation on OpenAI's bill, but the lost image is never delivered or
stored anywhere we can reach, so one request still yields exactly one image.
"""

from __future__ import annotations

import base64
import binascii
import random
from typing import TYPE_CHECKING, Any

import httpx

from adseed.errors import (
    BackendError,
    GenerationRefused,
    ProviderRejected,
    QuotaExceeded,
)
from adseed.generate.base import AdRequest
from adseed.generate.hosted import (
    Clock,
    HostedBackend,
    Transient,
    build_edit_prompt,
    nearest_aspect,
    parse_retry_after,
    require_key,
    response_detail,
    retry_settings,
)
from adseed.generate.imaging import cover_fit_png, upload_png

if TYPE_CHECKING:
    from adseed.config import Settings

SIZES = {"1024x1024": 1.0, "1536x1024": 1.5, "1024x1536": 1024 / 1536}
REFUSAL_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
UPLOAD_MAX_SIDE = 1536  # the largest size the model renders; more only costs upload time


class OpenAIImageGenerator(HostedBackend):
    """Calls the Images API's edit endpoint; see the module docstring for the protocol."""

    name = "openai"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        model: str = "gpt-image-1",
        quality: str = "auto",
        input_fidelity: str = "high",
        **hosted: Any,  # timeouts, retry budget, clock: see HostedBackend
    ) -> None:
        super().__init__(api_key, **hosted)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.quality = quality
        self.input_fidelity = input_fidelity

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Clock | None = None, rng: random.Random | None = None
    ) -> OpenAIImageGenerator:
        key = require_key(settings.openai_api_key, "openai_api_key", "OPENAI_API_KEY", "openai")
        return cls(
            key,
            base_url=settings.openai_base_url,
            model=settings.openai_image_model,
            quality=settings.openai_image_quality,
            input_fidelity=settings.openai_input_fidelity,
            **retry_settings(settings),
            clock=clock,
            rng=rng,
        )

    def generate(self, request: AdRequest) -> bytes:
        """One edit request (retried only on transient failures), fitted to the format."""
        fields, files = self._form(request)  # bad input fails here, before any request
        retrier = self._retrier()
        with httpx.Client(timeout=self._timeout()) as client:

            def attempt(_: int) -> dict[str, Any]:
                response = client.post(
                    f"{self.base_url}/images/edits", data=fields, files=files, headers=self._auth
                )
                return self._json(response)

            payload = retrier.run("openai: image edit", attempt)
        image = _first_image(payload)
        return cover_fit_png(
            image, request.format.width, request.format.height, what="openai image edit output"
        )

    def _form(self, request: AdRequest) -> tuple[dict[str, str], list[tuple[str, tuple]]]:
        images = [("seed.png", request.seed, "seed image")]
        if request.brand is not None:
            images.append(("brand.png", request.brand, "brand image"))
        files = [
            ("image[]", (name, upload_png(data, what, max_side=UPLOAD_MAX_SIDE), "image/png"))
            for name, data, what in images
        ]
        second = "the second image" if request.brand is not None else "(none)"
        fields = {
            "model": self.model,
            "prompt": build_edit_prompt(request, first="the first image", second=second),
            "n": "1",
            "size": nearest_aspect(request.format, SIZES),
            "quality": self.quality,
            "output_format": "png",
        }
        if self.input_fidelity:
            fields["input_fidelity"] = self.input_fidelity
        return fields, files

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        self._raise_for_status(response)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise BackendError("openai image edit: malformed JSON in the response")
        return data

    def _raise_for_status(self, response: httpx.Response) -> None:
        """Refusal and quota first (a 429 can be either); then transient; then the rest."""
        code = response.status_code
        if code < 400:
            return
        error = _error_object(response)
        kind = {str(error.get("code") or ""), str(error.get("type") or "")}
        message = str(error.get("message") or response_detail(response))
        if kind & REFUSAL_CODES:
            raise GenerationRefused(
                f"openai refused to generate this ad (safety system): {message} "
                "Change the prompt or the images; retrying the same request will not help"
            )
        if kind & QUOTA_CODES:
            raise QuotaExceeded(f"openai: the account is out of quota (HTTP {code}): {message}")
        if code == 429 or code >= 500:
            wait = parse_retry_after(response.headers, self._clock.time())
            raise Transient(f"HTTP {code}: {message}", wait)
        if code in (401, 403):
            raise ProviderRejected(
                f"openai: the API key was refused (HTTP {code}): {message} "
                "Check OPENAI_API_KEY / openai_api_key"
            )
        raise ProviderRejected(f"openai image edit refused (HTTP {code}): {message}")


def _error_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _first_image(payload: dict[str, Any]) -> bytes:
    data = payload.get("data")
    item = data[0] if isinstance(data, list) and data else None
    b64 = item.get("b64_json") if isinstance(item, dict) else None
    if not isinstance(b64, str) or not b64:
        raise BackendError("openai image edit: the response holds no b64_json image")
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise BackendError("openai image edit: b64_json is not valid base64") from None
