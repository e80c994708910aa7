"""The replicate backend against a local server speaking Replicate's predictions API.

Asserts the request shapes, the retry policy (what is retried, how often, how long it
waits), that one request never starts two predictions, exact output sizes, and that a
failure leaves no running prediction behind.
"""

from __future__ import annotations

import base64
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
from adseed.generate.replicate import ReplicateGenerator

from stubs.clock import FakeClock
from stubs.http_stub import Fault
from stubs.images import brand_png, png_size, seed_jpeg
from stubs.replicate_stub import MODEL, TOKEN, FileHost, ReplicateStub, problem, throttled

SEED, BRAND = seed_jpeg(), brand_png()


@pytest.fixture
def stub():
    with ReplicateStub() as server:
        yield server


def make(tmp_path, url: str, clock: FakeClock | None = None, **settings) -> ReplicateGenerator:
    values = {
        "home": tmp_path / "ws",
        "replicate_api_token": TOKEN,
        "replicate_base_url": url,
        "request_timeout_s": 2.0,
        **settings,
    }
    return ReplicateGenerator.from_settings(
        resolve_settings(values, env={}), clock=clock or FakeClock(), rng=random.Random(7)
    )


def ad(fmt: str = "1080x1080", brand: bytes | None = BRAND, **kw) -> AdRequest:
    return AdRequest(SEED, brand, "dog owners who love outdoor activities", parse_format(fmt), **kw)


# -- the happy paths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "aspect"),
    [("1080x1080", "1:1"), ("1080x1350", "4:5"), ("1080x1920", "9:16"), ("1200x628", "2:1")],
)
def test_request_shape_and_exact_size(tmp_path, stub, fmt, aspect) -> None:
    png = make(tmp_path, stub.url).generate(ad(fmt, headline="Run free", cta="Shop now"))

    assert png_size(png) == ("PNG", (FORMATS[fmt].width, FORMATS[fmt].height))
    (create,) = stub.calls("create")
    assert create.path == f"/v1/models/{MODEL}/predictions"
    assert create.headers["Authorization"] == f"Bearer {TOKEN}"
    assert create.headers["Content-Type"].startswith("application/json")
    assert create.headers["Prefer"] == "wait=1"  # ¾ of the 2 s request timeout
    assert create.headers["Cancel-After"] == "5m"  # generation timeout 300 s
    sent = create.json()["input"]
    assert sent["aspect_ratio"] == aspect and sent["output_format"] == "png"
    assert isinstance(sent["seed"], int)
    assert "dog owners who love outdoor activities" in sent["prompt"]
    assert '"Run free"' in sent["prompt"] and '"Shop now"' in sent["prompt"]
    for key, expected_size in (("input_image_1", (320, 240)), ("input_image_2", (200, 260))):
        header, _, payload = sent[key].partition(",")
        assert header == "data:image/jpeg;base64"
        with Image.open(io.BytesIO(base64.b64decode(payload))) as img:
            assert (img.format, img.size) == ("JPEG", expected_size)
    assert stub.count() == 1


def test_polls_until_succeeded(tmp_path, stub) -> None:
    stub.polls_to_finish = 3
    clock = FakeClock()
    png = make(tmp_path, stub.url, clock).generate(ad())
    assert png_size(png)[1] == (1080, 1080)
    assert len(stub.calls("get")) == 3
    assert clock.sleeps == [1.0, 1.0, 1.0]  # the poll interval, no retries
    assert stub.count() == 1


def test_same_request_same_seed_and_prompt(tmp_path, stub) -> None:
    gen = make(tmp_path, stub.url)
    gen.generate(ad())
    gen.generate(ad())
    gen.generate(ad(headline="Other"))
    first, second, third = (c.json()["input"] for c in stub.calls("create"))
    assert first == second
    assert third["seed"] != first["seed"]


def test_output_on_another_host_gets_no_token(tmp_path) -> None:
    with FileHost() as cdn, ReplicateStub(files=cdn) as stub:
        png = make(tmp_path, stub.url).generate(ad("1200x628"))
        (download,) = cdn.calls("file")
    assert png_size(png)[1] == (1200, 628)
    assert "Authorization" not in download.headers


def test_data_uri_and_list_outputs(tmp_path, stub) -> None:
    for mode in ("data", "list"):
        stub.output_mode = mode
        assert png_size(make(tmp_path, stub.url).generate(ad()))[1] == (1080, 1080)


# -- what is retried, how often, how long ---------------------------------------------------


def test_429_on_create_honours_retry_after_seconds(tmp_path, stub) -> None:
    stub.fail("create", Fault(throttled("7")), Fault(throttled("3")))
    clock = FakeClock()
    make(tmp_path, stub.url, clock).generate(ad())
    assert clock.sleeps == [7.0, 3.0]
    assert len(stub.calls("create")) == 3
    assert stub.calls("list") == []  # a throttled create created nothing: no need to look
    assert stub.count() == 1


def test_429_on_create_honours_retry_after_http_date(tmp_path, stub) -> None:
    clock = FakeClock()
    when = email.utils.formatdate(clock.now + 12, usegmt=True)
    stub.fail("create", Fault(throttled(when)))
    make(tmp_path, stub.url, clock).generate(ad())
    assert clock.sleeps == [12.0]


def test_persistent_503_gives_up_after_five_attempts(tmp_path, stub) -> None:
    stub.fail("create", *[Fault(problem(503, "Service Unavailable", "try later"))] * 9)
    clock = FakeClock()
    with pytest.raises(ProviderUnavailable, match=r"after 5 attempt\(s\).*HTTP 503"):
        make(tmp_path, stub.url, clock).generate(ad())
    assert len(stub.calls("create")) == 5
    assert len(clock.sleeps) == 4
    for attempt, slept in enumerate(clock.sleeps, start=1):  # full jitter, base 1 s
        assert 0.0 <= slept <= min(30.0, 2 ** (attempt - 1))
    assert stub.count() == 0


def test_timed_out_create_adopts_the_prediction_it_started(tmp_path, stub) -> None:
    """The response is lost after Replicate created the prediction: no second one."""
    stub.fail("create", Fault(lag_s=2.5))
    png = make(tmp_path, stub.url, request_timeout_s=1.0).generate(ad())
    assert png_size(png)[1] == (1080, 1080)
    assert len(stub.calls("create")) == 1  # never posted again
    assert len(stub.calls("list")) == 1
    assert stub.count() == 1


def test_5xx_after_creating_adopts_the_prediction(tmp_path, stub) -> None:
    stub.fail("create", Fault(masked=problem(502, "Bad Gateway", "upstream reset")))
    make(tmp_path, stub.url).generate(ad())
    assert len(stub.calls("create")) == 1
    assert stub.count() == 1


def test_5xx_that_created_nothing_posts_again(tmp_path, stub) -> None:
    stub.fail("create", Fault(problem(500, "Internal Server Error", "oops")))
    make(tmp_path, stub.url).generate(ad())
    assert len(stub.calls("list")) == 1  # looked first, found nothing
    assert len(stub.calls("create")) == 2
    assert stub.count() == 1


def test_transient_poll_errors_are_retried(tmp_path, stub) -> None:
    stub.polls_to_finish = 2
    stub.fail("get", Fault(problem(500, "Internal Server Error", "x")), Fault(throttled("2")))
    make(tmp_path, stub.url).generate(ad())
    assert len(stub.calls("get")) == 4
    assert stub.count() == 1


def test_connection_refused_is_retried_then_reported(tmp_path) -> None:
    with ReplicateStub() as gone:
        url = gone.url
    clock = FakeClock()
    with pytest.raises(ProviderUnavailable, match="connection failed"):
        make(tmp_path, url, clock).generate(ad())
    assert len(clock.sleeps) == 4


# -- never retried: refusals, quota, validation ---------------------------------------------


def test_safety_refusal_is_not_retried(tmp_path, stub) -> None:
    stub.outcome = "failed"
    stub.fail_error = "NSFW content detected. Try running it again, or try a different prompt."
    with pytest.raises(GenerationRefused, match="NSFW content detected"):
        make(tmp_path, stub.url).generate(ad())
    assert len(stub.calls("create")) == 1
    assert stub.count() == 1


def test_failed_prediction_is_a_backend_error_not_retried(tmp_path, stub) -> None:
    stub.outcome = "failed"
    stub.fail_error = "CUDA out of memory"
    with pytest.raises(BackendError, match="CUDA out of memory") as info:
        make(tmp_path, stub.url).generate(ad())
    assert not isinstance(info.value, GenerationRefused)
    assert len(stub.calls("create")) == 1


def test_billing_402_is_quota_not_retried(tmp_path, stub) -> None:
    stub.fail("create", Fault(problem(402, "Billing required", "You need to set up billing")))
    with pytest.raises(QuotaExceeded, match="Billing required"):
        make(tmp_path, stub.url).generate(ad())
    assert len(stub.calls("create")) == 1


def test_bad_token_is_rejected_not_retried(tmp_path, stub) -> None:
    with pytest.raises(ProviderRejected, match="REPLICATE_API_TOKEN"):
        make(tmp_path, stub.url, replicate_api_token="r8_wrong").generate(ad())
    assert len(stub.calls("create")) == 1


def test_validation_422_is_rejected_not_retried(tmp_path, stub) -> None:
    stub.fail("create", Fault(problem(422, "Input validation failed", "prompt is too long")))
    with pytest.raises(ProviderRejected, match="prompt is too long"):
        make(tmp_path, stub.url).generate(ad())
    assert len(stub.calls("create")) == 1


def test_unknown_model_is_rejected(tmp_path, stub) -> None:
    with pytest.raises(ProviderRejected, match="replicate_model"):
        make(tmp_path, stub.url, replicate_model="someone/else").generate(ad())


# -- bad input and configuration fail before any request ---------------------------------


def test_missing_token_is_a_config_error_before_any_request(tmp_path, stub) -> None:
    settings = resolve_settings({"home": tmp_path, "replicate_base_url": stub.url}, env={})
    with pytest.raises(ConfigError, match="REPLICATE_API_TOKEN"):
        ReplicateGenerator.from_settings(settings)
    env_settings = resolve_settings({"home": tmp_path}, env={"REPLICATE_API_TOKEN": TOKEN})
    assert ReplicateGenerator.from_settings(env_settings).model == MODEL
    assert stub.requests == []


@pytest.mark.parametrize(
    ("seed", "brand", "message"),
    [(SEED, None, "brand image"), (b"not an image", BRAND, "seed image"), (SEED, b"", "brand")],
)
def test_bad_input_fails_before_any_request(tmp_path, stub, seed, brand, message) -> None:
    request = AdRequest(seed, brand, "x", parse_format("1080x1080"))
    with pytest.raises(InvalidInput, match=message):
        make(tmp_path, stub.url).generate(request)
    assert stub.requests == []


def test_bad_model_setting_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="OWNER/NAME"):
        make(tmp_path, "http://127.0.0.1:9", replicate_model="../../v1/account")


# -- failures leave nothing behind ----------------------------------------------------------


def test_deadline_cancels_the_running_prediction(tmp_path, stub) -> None:
    stub.polls_to_finish = 1000
    with pytest.raises(ProviderUnavailable, match="generation timeout; cancelled"):
        make(tmp_path, stub.url, generation_timeout_s=5.0).generate(ad())
    assert stub.count() == 1
    assert stub.canceled == [next(iter(stub.predictions))]


def test_persistent_poll_failure_cancels_the_prediction(tmp_path, stub) -> None:
    stub.polls_to_finish = 5
    stub.fail("get", *[Fault(problem(503, "Service Unavailable", "x"))] * 5)
    with pytest.raises(ProviderUnavailable, match="poll prediction"):
        make(tmp_path, stub.url).generate(ad())
    assert len(stub.canceled) == 1


@pytest.mark.parametrize(("mode", "message"), [("none", "without an image URL"),
                                               ("garbage", "not a readable image")])  # fmt: skip
def test_malformed_output_is_a_backend_error(tmp_path, stub, mode, message) -> None:
    stub.output_mode = mode
    with pytest.raises(BackendError, match=message):
        make(tmp_path, stub.url).generate(ad())
    assert stub.count() == 1 and stub.canceled == []  # it had finished: nothing to cancel
