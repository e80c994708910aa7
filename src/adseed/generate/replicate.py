"""``replicate``: FLUX.1 Kontext multi-image (seed photo + brand image → ad) on Replicate.

Wire format, as read in Replicate's documentation (not guessed):

* Create: ``POST /v1/models/{owner}/{name}/predictions`` with ``{"input": {...}}`` and
  ``Authorization: Bearer <token>`` (HTTP API reference, ``models.predictions.create``;
  "Create a prediction"). ``Prefer: wait=N`` (1–60 s) holds the request until the model
  finishes; if it does not, the response is the *incomplete* prediction (status
  ``starting``/``processing``) to be fetched again ("sync mode").
* The prediction object: ``id``, ``model``, ``input``, ``status`` (``starting``,
  ``processing``, ``succeeded``, ``failed``, ``canceled``; ``aborted`` when a deadline
  passes before it starts), ``output``, ``error``, ``created_at``, ``urls.get``.
  Poll with ``GET /v1/predictions/{id}``; cancel with ``POST /v1/predictions/{id}/cancel``;
  ``GET /v1/predictions`` lists the account's predictions newest first, each with its
  ``model``, ``input`` and ``created_at``.
* Errors are problem details ``{"title", "detail", "status"}``: 401 bad token,
  402 "Billing required", 422 invalid input, 429 "Request was throttled" (create is
  rate-limited to 600/min; "Rate limits" page).
* Model ``flux-kontext-apps/multi-image-kontext-pro`` (its API page): inputs ``prompt``,
  ``input_image_1``, ``input_image_2`` (URL or data URI; jpeg, png, gif or webp),
  ``aspect_ratio`` (``match_input_image``, 1:1, 16:9, 9:16, 4:3, 3:4, 3:2, 2:3, 4:5, 5:4,
  21:9, 9:21, 2:1, 1:2), ``seed``, ``output_format`` (jpg | png), ``safety_tolerance``;
  the output is one URI.
* Inline files: a data URI "is only recommended if the file is less than 1MB" ("Input
  files"), so both images go as JPEG data URIs of at most 1 MB and 1024 px.
* ``Cancel-After: <duration>`` ("1m" form, 2025-10-16 changelog) makes Replicate cancel a
  prediction we stopped waiting for, even if this process dies.

One request never starts two billed predictions. Once a prediction id is known, every
retry is a ``GET`` of that id (idempotent); the create itself is the only ambiguous step.
A 429 means Replicate throttled the request and created nothing, and a connect error
means nothing reached it, so those re-POST. After a timeout, a dropped connection or a
5xx the prediction may exist, so before posting again we list recent predictions and
adopt the one whose ``model``, ``prompt`` and ``seed`` match ours: the seed is a nonce
derived from the request (:func:`request_nonce`), so a match is ours (or an identical
earlier request, whose result is equally valid). A prediction we stop waiting for
(deadline, polling failure) is cancelled.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import random
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from adseed.errors import (
    BackendError,
    ConfigError,
    GenerationRefused,
    InvalidInput,
    ProviderRejected,
    ProviderUnavailable,
    QuotaExceeded,
)
from adseed.generate.base import AdRequest
from adseed.generate.hosted import (
    Clock,
    HostedBackend,
    Retrier,
    Transient,
    build_edit_prompt,
    nearest_aspect,
    parse_retry_after,
    request_nonce,
    require_key,
    response_detail,
    retry_settings,
)
from adseed.generate.imaging import cover_fit_png, jpeg_data_uri

if TYPE_CHECKING:
    from adseed.config import Settings

ASPECT_RATIOS = {
    "1:1": 1.0, "16:9": 16 / 9, "9:16": 9 / 16, "4:3": 4 / 3, "3:4": 3 / 4, "3:2": 3 / 2,
    "2:3": 2 / 3, "4:5": 4 / 5, "5:4": 5 / 4, "21:9": 21 / 9, "9:21": 9 / 21, "2:1": 2.0,
    "1:2": 1 / 2,
}  # fmt: skip
IN_PROGRESS = frozenset({"starting", "processing"})
REFUSAL_MARKERS = ("nsfw", "sensitive", "safety", "moderat", "content policy", "e005")
INLINE_IMAGE_MAX_BYTES = 1_000_000
INLINE_IMAGE_MAX_SIDE = 1024
CREATED_SKEW_S = 300.0  # server and local clocks may disagree
_MODEL = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_PREDICTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class ReplicateGenerator(HostedBackend):
    """Calls Replicate's predictions API; see the module docstring for the protocol."""

    name = "replicate"

    def __init__(
        self,
        api_token: str,
        *,
        base_url: str = "https://api.replicate.com",
        model: str = "flux-kontext-apps/multi-image-kontext-pro",
        max_output_bytes: int = 50 * 1024 * 1024,
        poll_interval_s: float = 1.0,
        **hosted: Any,  # timeouts, retry budget, clock: see HostedBackend
    ) -> None:
        if not _MODEL.match(model):
            raise ConfigError(f"replicate_model {model!r}: expected OWNER/NAME")
        super().__init__(api_token, **hosted)
        self.model = model
        self.base_url = httpx.URL(base_url.rstrip("/") + "/")
        self.max_output_bytes = max_output_bytes
        self.poll_interval_s = poll_interval_s

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Clock | None = None, rng: random.Random | None = None
    ) -> ReplicateGenerator:
        token = require_key(
            settings.replicate_api_token, "replicate_api_token", "REPLICATE_API_TOKEN", "replicate"
        )
        return cls(
            token,
            base_url=settings.replicate_base_url,
            model=settings.replicate_model,
            **retry_settings(settings),
            max_output_bytes=settings.max_file_bytes,
            clock=clock,
            rng=rng,
        )

    # -- the one public operation ------------------------------------------------------

    def generate(self, request: AdRequest) -> bytes:
        """Create one prediction, wait for it, fetch its image, fit it to the format."""
        body = self._body(request)  # bad input fails here, before any request
        retrier = self._retrier()
        with httpx.Client(base_url=self.base_url, timeout=self._timeout()) as client:
            prediction = self._create(client, retrier, body)
            finished = False
            try:
                prediction = self._wait(client, retrier, prediction)
                finished = True
                data = self._fetch_output(client, retrier, prediction)
            except BaseException:
                if not finished:
                    self._cancel_quietly(client, prediction["id"])
                raise
        what = f"replicate prediction {prediction['id']} output"
        return cover_fit_png(data, request.format.width, request.format.height, what=what)

    # -- steps -------------------------------------------------------------------------

    def _body(self, request: AdRequest) -> dict[str, Any]:
        if request.brand is None:
            raise InvalidInput(
                "the replicate backend combines two images (multi-image Kontext): "
                "give a brand image"
            )
        inline = {"max_side": INLINE_IMAGE_MAX_SIDE, "max_bytes": INLINE_IMAGE_MAX_BYTES}
        prompt = build_edit_prompt(request, first="the first image", second="the second image")
        return {
            "input": {
                "prompt": prompt,
                "input_image_1": jpeg_data_uri(request.seed, "seed image", **inline),
                "input_image_2": jpeg_data_uri(request.brand, "brand image", **inline),
                "aspect_ratio": nearest_aspect(request.format, ASPECT_RATIOS),
                "output_format": "png",
                "seed": request_nonce(request),
            }
        }

    def _create(self, client: httpx.Client, retrier: Retrier, body: dict) -> dict[str, Any]:
        """POST the prediction; after an ambiguous failure, adopt it instead of re-posting."""
        started = self._clock.time()
        maybe_created = False

        def attempt(_: int) -> dict[str, Any]:
            nonlocal maybe_created
            if maybe_created and (found := self._find_ours(client, body["input"], started)):
                return found
            try:
                response = client.post(self._create_path, json=body, headers=self._create_headers())
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
                raise  # never reached Replicate: posting again is safe
            except httpx.TransportError:
                maybe_created = True  # sent, but the answer was lost
                raise
            maybe_created = maybe_created or response.status_code >= 500
            return self._json(response, "create prediction")

        return _checked_prediction(retrier.run("replicate: create prediction", attempt))

    def _find_ours(self, client: httpx.Client, sent: dict, started: float) -> dict | None:
        """The prediction a lost create response left behind, if Replicate has it."""
        page = self._json(client.get("/v1/predictions", headers=self._auth), "list predictions")
        for item in page.get("results") or []:
            if not isinstance(item, dict) or item.get("model") != self.model:
                continue
            got = item.get("input") or {}
            same = got.get("seed") == sent["seed"] and got.get("prompt") == sent["prompt"]
            if same and _created_at(item) >= started - CREATED_SKEW_S:
                return item
        return None

    def _wait(self, client: httpx.Client, retrier: Retrier, prediction: dict) -> dict[str, Any]:
        """Poll until a terminal status; only ``succeeded`` returns."""
        pid = prediction["id"]
        while (status := prediction["status"]) in IN_PROGRESS:
            if retrier.remaining() < self.poll_interval_s:
                raise ProviderUnavailable(
                    f"replicate prediction {pid} still {status} after the "
                    f"{self.generation_timeout_s:g} s generation timeout; cancelled it"
                )
            self._clock.sleep(self.poll_interval_s)
            polled = retrier.run(
                "replicate: poll prediction",
                lambda _: self._json(
                    client.get(f"/v1/predictions/{pid}", headers=self._auth), "poll prediction"
                ),
            )
            prediction = _checked_prediction(polled)
        if status == "succeeded":
            return prediction
        if status == "failed":
            raise _failure(prediction)
        if status in ("canceled", "aborted"):
            raise BackendError(f"replicate prediction {pid} was {status} before it finished")
        raise BackendError(f"replicate prediction {pid}: unexpected status {status!r}")

    def _fetch_output(self, client: httpx.Client, retrier: Retrier, prediction: dict) -> bytes:
        output = prediction.get("output")
        if isinstance(output, list) and output:
            output = output[0]  # some models wrap their one file in a list
        pid = prediction["id"]
        if not isinstance(output, str) or not output:
            raise BackendError(f"replicate prediction {pid} succeeded without an image URL")
        if output.startswith("data:"):
            return _decode_data_uri(output, pid)
        url = httpx.URL(output)
        if url.scheme not in ("http", "https"):
            raise BackendError(f"replicate prediction {pid}: output is not an http(s) URL")
        # The token goes only to Replicate's own API host, never to a file CDN.
        api = self.base_url
        same_origin = (url.scheme, url.host, url.port) == (api.scheme, api.host, api.port)
        headers = self._auth if same_origin else {}
        return retrier.run(
            "replicate: fetch output", lambda _: self._download(client, url, headers)
        )

    def _download(self, client: httpx.Client, url: httpx.URL, headers: dict) -> bytes:
        with client.stream("GET", url, headers=headers, follow_redirects=True) as response:
            if response.status_code >= 400:
                response.read()
                self._raise_for_status(response, "fetch output")
            chunks, total = [], 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > self.max_output_bytes:
                    raise BackendError(f"replicate output over {self.max_output_bytes:,} bytes")
                chunks.append(chunk)
        return b"".join(chunks)

    def _cancel_quietly(self, client: httpx.Client, pid: str) -> None:
        """Best effort: a prediction nobody waits for should stop (and stop billing)."""
        # If this fails too, the Cancel-After deadline still ends it on Replicate's side.
        with contextlib.suppress(httpx.HTTPError):
            client.post(f"/v1/predictions/{pid}/cancel", headers=self._auth, timeout=10.0)

    # -- HTTP plumbing -----------------------------------------------------------------

    @property
    def _create_path(self) -> str:
        return f"/v1/models/{self.model}/predictions"

    def _create_headers(self) -> dict[str, str]:
        headers = dict(self._auth)
        headers["Cancel-After"] = f"{max(1, math.ceil(self.generation_timeout_s / 60))}m"
        wait = min(60, int(self.request_timeout_s * 0.75))
        if wait >= 1:  # the server's hold ends well before our read timeout
            headers["Prefer"] = f"wait={wait}"
        return headers

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        self._raise_for_status(response, what)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise BackendError(f"replicate {what}: malformed JSON in the response")
        return data

    def _raise_for_status(self, response: httpx.Response, what: str) -> None:
        """Transient for 429/5xx; the specific error for everything else that failed."""
        code = response.status_code
        if code < 400:
            return
        detail = _problem_detail(response)
        if code == 429 or code >= 500:
            wait = parse_retry_after(response.headers, self._clock.time())
            raise Transient(f"HTTP {code}: {detail}", wait)
        if code in (401, 403):
            raise ProviderRejected(
                f"replicate {what}: the API token was refused (HTTP {code}: {detail}); "
                "check REPLICATE_API_TOKEN / replicate_api_token"
            )
        if code == 402:
            raise QuotaExceeded(f"replicate {what}: no credit to run this (HTTP 402: {detail})")
        if code == 404:
            raise ProviderRejected(
                f"replicate {what}: not found (HTTP 404: {detail}); "
                f"is replicate_model {self.model!r} right?"
            )
        raise ProviderRejected(f"replicate {what}: request refused (HTTP {code}: {detail})")


def _checked_prediction(data: dict[str, Any]) -> dict[str, Any]:
    """The prediction, once its id is safe to put in a URL and its status is a string."""
    pid, status = data.get("id"), data.get("status")
    if not isinstance(pid, str) or not _PREDICTION_ID.match(pid) or not isinstance(status, str):
        raise BackendError("replicate returned a malformed prediction (id or status missing)")
    return data


def _failure(prediction: dict) -> BackendError:
    error = str(prediction.get("error") or "no error message")
    if any(marker in error.lower() for marker in REFUSAL_MARKERS):
        return GenerationRefused(
            f"replicate refused to generate this ad (safety filter): {error}. "
            "Change the prompt or the images; retrying the same request will not help"
        )
    return BackendError(f"replicate prediction {prediction['id']} failed: {error}")


def _problem_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response_detail(response)
    if isinstance(body, dict) and (body.get("title") or body.get("detail")):
        return ": ".join(str(body[k]) for k in ("title", "detail") if body.get(k))
    return response_detail(response)


def _created_at(item: dict) -> float:
    try:
        return datetime.fromisoformat(str(item.get("created_at"))).timestamp()
    except ValueError:
        return -math.inf


def _decode_data_uri(uri: str, pid: str) -> bytes:
    header, _, payload = uri.partition(",")
    if not header.endswith(";base64"):
        raise BackendError(f"replicate prediction {pid}: output data URI is not base64")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BackendError(f"replicate prediction {pid}: output data URI is corrupt") from None
