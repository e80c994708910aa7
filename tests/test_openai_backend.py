"""The openai backend against a local server speaking the Images API's edit endpoint.

Asserts the multipart request shape, the retry policy (rate limits and 5xx retried with
the server's waits; refusals, quota and validation errors never), exact output sizes,
and that malformed answers are clear errors.
"""

from __future__ import annotations

import email.utils
import io
import random

import pytest
from PIL import Image

from adseed.config import resolve_settings
from adseed.errors import (
    BackendError,
    ConfigError,
    GenerationRefused,
    InvalidInput,
    ProviderRejected,
    ProviderUnavailable,
    QuotaExceeded,
)
from adseed.generate.base import FORMATS, AdRequest, parse_format
from adseed.generate.openai_images import OpenAIImageGenerator

from stubs.clock import FakeClock
from stubs.http_stub import Fault
from stubs.images import brand_png, png_size, seed_jpeg
from stubs.openai_stub import (
    KEY,
    OpenAIStub,
    form_of,
    insufficient_quota,
    moderation_blocked,
    rate_limited,
    server_error,
)

SEED, BRAND = seed_jpeg(), brand_png()


@pytest.fixture
def stub():
    with OpenAIStub() as server:
        yield server


def make(tmp_path, url: str, clock: FakeClock | None = None, **settings) -> OpenAIImageGenerator:
    values = {
        "home": tmp_path / "ws",
        "openai_api_key": KEY,
        "openai_base_url": f"{url}/v1",
        "request_timeout_s": 2.0,
        **settings,
    }
    return OpenAIImageGenerator.from_settings(
        resolve_settings(values, env={}), clock=clock or FakeClock(), rng=random.Random(3)
    )


def ad(fmt: str = "1080x1080", brand: bytes | None = BRAND, **kw) -> AdRequest:
    return AdRequest(SEED, brand, "cat people who love cosy evenings", parse_format(fmt), **kw)


@pytest.mark.parametrize(
    ("fmt", "size"),
    [
        ("1080x1080", "1024x1024"),
        ("1080x1350", "1024x1536"),
        ("1080x1920", "1024x1536"),
        ("1200x628", "1536x1024"),
    ],
)
def test_request_shape_and_exact_size(tmp_path, stub, fmt, size) -> None:
    png = make(tmp_path, stub.url).generate(ad(fmt, cta="Adopt today"))

    assert png_size(png) == ("PNG", (FORMATS[fmt].width, FORMATS[fmt].height))
    (call,) = stub.calls("edits")
    assert call.headers["Authorization"] == f"Bearer {KEY}"
    form = form_of(call)
    assert form["fields"] == {
        "model": "gpt-image-1",
        "prompt": form["fields"]["prompt"],
        "n": "1",
        "size": size,
        "quality": "auto",
        "output_format": "png",
        "input_fidelity": "high",
    }
    assert "cat people who love cosy evenings" in form["fields"]["prompt"]
    assert '"Adopt today"' in form["fields"]["prompt"]
    names = [name for name, _, _ in form["images"]]
    assert names == ["image[]", "image[]"]
    decoded = [Image.open(io.BytesIO(data)) for _, _, data in form["images"]]
    assert [(i.format, i.size, i.mode) for i in decoded] == [
        ("PNG", (320, 240), "RGB"),
        ("PNG", (200, 260), "RGBA"),  # the cut-out keeps its transparency
    ]


def test_without_brand_sends_one_image(tmp_path, stub) -> None:
    make(tmp_path, stub.url).generate(ad(brand=None))
    assert [n for n, _, _ in form_of(stub.calls("edits")[0])["images"]] == ["image[]"]


# -- retried --------------------------------------------------------------------------------


def test_rate_limit_honours_retry_after_ms_then_retry_after(tmp_path, stub) -> None:
    clock = FakeClock()
    date = email.utils.formatdate(clock.now + 20, usegmt=True)
    stub.fail(
        "edits",
        Fault(rate_limited(**{"retry-after-ms": "1500", "Retry-After": "9"})),
        Fault(rate_limited(**{"Retry-After": "4"})),
        Fault(rate_limited(**{"Retry-After": date})),
    )
    make(tmp_path, stub.url, clock).generate(ad())
    assert clock.sleeps == [1.5, 4.0, 20.0 - 5.5]  # the date is absolute: 5.5 s already passed
    assert len(stub.calls("edits")) == 4


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_up_to_five_attempts(tmp_path, stub, status) -> None:
    stub.fail("edits", *[Fault(server_error(status))] * 4)
    clock = FakeClock()
    png = make(tmp_path, stub.url, clock).generate(ad())
    assert png_size(png)[1] == (1080, 1080)
    assert len(stub.calls("edits")) == 5
    assert all(0 <= s <= min(30, 2 ** (n - 1)) for n, s in enumerate(clock.sleeps, 1))


def test_persistent_server_errors_give_up(tmp_path, stub) -> None:
    stub.fail("edits", *[Fault(server_error(500))] * 5)
    with pytest.raises(ProviderUnavailable, match=r"after 5 attempt\(s\).*HTTP 500"):
        make(tmp_path, stub.url).generate(ad())
    assert len(stub.calls("edits")) == 5


def test_timeout_is_retried(tmp_path, stub) -> None:
    stub.fail("edits", Fault(delay_s=2.5))
    png = make(tmp_path, stub.url, request_timeout_s=1.0).generate(ad())
    assert png_size(png)[1] == (1080, 1080)
    assert len(stub.calls("edits")) == 2


def test_retry_after_beyond_the_deadline_fails_at_once(tmp_path, stub) -> None:
    stub.fail("edits", Fault(rate_limited(**{"Retry-After": "600"})))
    clock = FakeClock()
    with pytest.raises(ProviderUnavailable, match="would pass the generation timeout"):
        make(tmp_path, stub.url, clock, generation_timeout_s=60.0).generate(ad())
    assert clock.sleeps == []
    assert len(stub.calls("edits")) == 1


# -- never retried --------------------------------------------------------------------------


def test_moderation_refusal_is_not_retried(tmp_path, stub) -> None:
    stub.fail("edits", Fault(moderation_blocked()))
    with pytest.raises(GenerationRefused, match="rejected by the safety system"):
        make(tmp_path, stub.url).generate(ad())
    assert len(stub.calls("edits")) == 1


def test_quota_429_is_not_retried(tmp_path, stub) -> None:
    stub.fail("edits", Fault(insufficient_quota()))
    clock = FakeClock()
    with pytest.raises(QuotaExceeded, match="exceeded your current quota"):
        make(tmp_path, stub.url, clock).generate(ad())
    assert len(stub.calls("edits")) == 1 and clock.sleeps == []


def test_invalid_parameter_400_is_not_retried(tmp_path, stub) -> None:
    with pytest.raises(ProviderRejected, match="Invalid value: 'ultra'"):
        make(tmp_path, stub.url, openai_image_quality="ultra").generate(ad())
    assert len(stub.calls("edits")) == 1


def test_bad_key_is_rejected_not_retried(tmp_path, stub) -> None:
    with pytest.raises(ProviderRejected, match="OPENAI_API_KEY"):
        make(tmp_path, stub.url, openai_api_key="sk-wrong").generate(ad())
    assert len(stub.calls("edits")) == 1


@pytest.mark.parametrize(
    ("mode", "message"),
    [("empty", "no b64_json"), ("not_base64", "not valid base64"), ("not_image", "readable")],
)
def test_malformed_output_is_a_backend_error(tmp_path, stub, mode, message) -> None:
    stub.output_mode = mode
    with pytest.raises(BackendError, match=message):
        make(tmp_path, stub.url).generate(ad())
    assert len(stub.calls("edits")) == 1


# -- configuration and bad input fail before any request ------------------------------------


def test_missing_key_is_a_config_error_before_any_request(tmp_path, stub) -> None:
    settings = resolve_settings({"home": tmp_path, "openai_base_url": stub.url}, env={})
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIImageGenerator.from_settings(settings)
    from_env = resolve_settings({"home": tmp_path}, env={"OPENAI_API_KEY": KEY})
    assert OpenAIImageGenerator.from_settings(from_env).model == "gpt-image-1"
    assert stub.requests == []


def test_non_image_seed_fails_before_any_request(tmp_path, stub) -> None:
    request = AdRequest(b"GIF89a-truncated", BRAND, "x", parse_format("1080x1080"))
    with pytest.raises(InvalidInput, match="seed image"):
        make(tmp_path, stub.url).generate(request)
    assert stub.requests == []
