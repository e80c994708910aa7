"""What the hosted backends (``replicate``, ``openai``) share: the retry policy and the prompt.

Retry policy, the same for both providers:

* retried: HTTP 429 that is a *rate limit*, HTTP 5xx, timeouts and connection errors;
* never retried: safety refusals, quota or billing errors, and every other 4xx (bad key,
  invalid input, unknown model): repeating those cannot succeed and may be billed;
* at most ``max_attempts`` tries per HTTP operation, first try included;
* waits are exponential backoff with *full jitter* (a uniform draw in
  ``[0, min(cap, base · 2^(n-1))]``, AWS's recommendation against synchronised retry
  storms), except that a ``Retry-After`` header (seconds or an HTTP date) or OpenAI's
  ``retry-after-ms`` is obeyed exactly;
* one deadline (``generation_timeout_s``) bounds the whole ad: a wait that would pass
  it fails at once instead of sleeping in vain.

The clock and the sleep are injected (:class:`Clock`) so tests run the whole policy
without waiting.
"""

from __future__ import annotations

import email.utils
import hashlib
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx

from adseed.errors import ConfigError, ProviderUnavailable
from adseed.generate.base import AdFormat, AdRequest

T = TypeVar("T")


class Clock(Protocol):
    """Wall time (for HTTP dates), monotonic time (for deadlines) and sleeping."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Transient(Exception):
    """A failure worth retrying; ``retry_after`` is the server's own wait, if it gave one.

    A signal inside :meth:`Retrier.run`; it never escapes it.
    """

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``Retry-After: <seconds>`` or an HTTP date.

    Returns None when absent or unreadable; a date in the past means "now" (0).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000
            if math.isfinite(value):
                return max(0.0, value)
        except ValueError:
            pass
    raw = (lowered.get("retry-after") or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
        return max(0.0, value) if math.isfinite(value) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


@dataclass
class Retrier:
    """Runs one HTTP operation under the retry policy and the ad's deadline."""

    max_attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    deadline: float = math.inf  # on clock.monotonic()
    clock: Clock = field(default_factory=SystemClock)
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base · 2^(attempt-1))]."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return self.rng.uniform(0.0, ceiling)

    def run(self, what: str, attempt_fn: Callable[[int], T]) -> T:
        """Call ``attempt_fn(n)`` until it returns, retrying only :class:`Transient` failures.

        httpx timeouts and transport errors count as transient. Any other exception
        (refusals, quota, validation) propagates at once.
        """
        for attempt in range(1, self.max_attempts + 1):
            try:
                return attempt_fn(attempt)
            except Transient as exc:
                reason, retry_after = exc.reason, exc.retry_after
            except httpx.TimeoutException as exc:
                reason, retry_after = f"timed out ({type(exc).__name__})", None
            except httpx.TransportError as exc:
                reason, retry_after = f"connection failed ({type(exc).__name__}: {exc})", None
            if attempt == self.max_attempts:
                break
            self._wait(what, attempt, reason, retry_after)
        raise ProviderUnavailable(
            f"{what}: gave up after {self.max_attempts} attempt(s); last: {reason}"
        )

    def _wait(self, what: str, attempt: int, reason: str, retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else self.backoff(attempt)
        if self.clock.monotonic() + delay > self.deadline:
            raise ProviderUnavailable(
                f"{what}: {reason}; the next try (in {delay:.1f} s) would pass the "
                "generation timeout, giving up"
            )
        self.clock.sleep(delay)

    def remaining(self) -> float:
        return self.deadline - self.clock.monotonic()


def require_key(value: str, setting: str, provider_env: str, backend: str) -> str:
    """The API key, or a ConfigError naming both ways to set it (before any request)."""
    if value.strip():
        return value.strip()
    raise ConfigError(
        f"the {backend} backend needs an API key: set {provider_env} or ADSEED_{setting.upper()} "
        f"(or {setting} in adseed.toml)"
    )


def nearest_aspect(fmt: AdFormat, options: Mapping[str, float]) -> str:
    """The option whose width/height ratio is closest to the format's (in log space)."""
    target = math.log(fmt.width / fmt.height)
    return min(options, key=lambda name: abs(math.log(options[name]) - target))


def request_nonce(request: AdRequest) -> int:
    """A 31-bit number derived from the whole request.

    Sent as the model's random seed: the same request reproduces the same picture, and
    the number identifies our prediction when we must look for it after a lost response.
    """
    texts = (request.prompt, request.format.name, request.headline or "", request.cta or "")
    digest = hashlib.sha256()
    for part in (request.seed, request.brand or b"", *(t.encode() for t in texts)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return int.from_bytes(digest.digest()[:4], "big") & 0x7FFFFFFF


def build_edit_prompt(request: AdRequest, *, first: str, second: str) -> str:
    """The instruction sent to an image-editing model given the seed and the brand image.

    ``first``/``second`` name where each image is ("the first image", "the left half").
    Text is asked for only when the request has it: these models render short text
    well, and the compositor's exact typography is not available to them.
    """
    parts = [request.prompt.strip().rstrip(".") + "."] if request.prompt.strip() else []
    if request.brand is not None:
        parts.append(
            f"Compose one photographic advertisement: keep the scene and the main subject of "
            f"{first} clearly visible, and place the product from {second} naturally in it, "
            "with its shape, colours, label and logo unchanged."
        )
    else:
        parts.append(f"Turn {first} into a polished photographic advertisement.")
    if request.headline:
        parts.append(f'Add the headline "{request.headline}" in large, legible type.')
    if request.cta:
        parts.append(f'Add a call-to-action button reading "{request.cta}".')
    if not request.headline and not request.cta:
        parts.append("Do not add any text.")
    return " ".join(parts)


def response_detail(response: httpx.Response, limit: int = 300) -> str:
    """A short human-readable reason from an error body (JSON or text)."""
    text = response.text.strip()
    return text[:limit] + ("…" if len(text) > limit else "")


def retry_settings(settings: Any) -> dict[str, Any]:
    """The timeout and retry settings every hosted backend takes, from the resolved Settings."""
    return {
        "request_timeout_s": settings.request_timeout_s,
        "generation_timeout_s": settings.generation_timeout_s,
        "max_attempts": settings.max_attempts,
        "retry_base_delay_s": settings.retry_base_delay_s,
        "retry_max_delay_s": settings.retry_max_delay_s,
    }


class HostedBackend:
    """What the hosted backends share: the bearer credential, the timeouts, the retry
    budget and the (injectable) clock. Each backend adds its own protocol on top, and
    passes these keyword arguments through unchanged."""

    def __init__(
        self,
        key: str,
        *,
        request_timeout_s: float = 120.0,
        generation_timeout_s: float = 300.0,
        max_attempts: int = 5,
        retry_base_delay_s: float = 1.0,
        retry_max_delay_s: float = 30.0,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.request_timeout_s = request_timeout_s
        self.generation_timeout_s = generation_timeout_s
        self.max_attempts = max_attempts
        self.retry_delays = (retry_base_delay_s, retry_max_delay_s)
        self._auth = {"Authorization": f"Bearer {key}"}
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.request_timeout_s, connect=min(10.0, self.request_timeout_s))

    def _retrier(self) -> Retrier:
        """A retrier for one ad: its deadline starts now and spans every attempt."""
        base, cap = self.retry_delays
        return Retrier(
            max_attempts=self.max_attempts,
            base_delay_s=base,
            max_delay_s=cap,
            deadline=self._clock.monotonic() + self.generation_timeout_s,
            clock=self._clock,
            rng=self._rng,
        )
