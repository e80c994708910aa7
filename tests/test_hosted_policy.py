"""The retry policy, Retry-After parsing and the settings the hosted backends read."""

from __future__ import annotations

import email.utils
import random

import httpx
import pytest

from adseed.config import resolve_settings
from adseed.errors import ConfigError, GenerationRefused, ProviderUnavailable
from adseed.generate.base import AdRequest, parse_format
from adseed.generate.hosted import (
    Retrier,
    Transient,
    build_edit_prompt,
    parse_retry_after,
    request_nonce,
)

from stubs.clock import FakeClock

NOW = 1_750_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"Retry-After": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"Retry-After": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),  # past: now
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),  # the finer header wins
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-3"}, 0.0),
        ({}, None),
    ],
)
def test_parse_retry_after(headers, expected) -> None:
    assert parse_retry_after(headers, NOW) == expected


def _retrier(clock: FakeClock, **kw) -> Retrier:
    return Retrier(clock=clock, rng=random.Random(1), **kw)


def test_retries_transients_then_succeeds() -> None:
    clock, calls = FakeClock(), []

    def attempt(n: int) -> str:
        calls.append(n)
        if n == 1:
            raise Transient("HTTP 429", retry_after=4.0)
        if n == 2:
            raise httpx.ReadTimeout("slow")
        if n == 3:
            raise httpx.ConnectError("refused")
        return "ok"

    assert _retrier(clock).run("op", attempt) == "ok"
    assert calls == [1, 2, 3, 4]
    assert clock.sleeps[0] == 4.0  # Retry-After obeyed exactly
    assert 0 <= clock.sleeps[1] <= 2.0 and 0 <= clock.sleeps[2] <= 4.0  # full jitter


def test_full_jitter_is_spread_and_capped() -> None:
    retrier = Retrier(base_delay_s=1.0, max_delay_s=5.0, rng=random.Random(0))
    draws = [retrier.backoff(6) for _ in range(2000)]
    assert max(draws) <= 5.0 and min(draws) >= 0.0
    assert 2.0 < sum(draws) / len(draws) < 3.0  # uniform on [0, 5]: mean 2.5


def test_gives_up_after_max_attempts() -> None:
    clock, calls = FakeClock(), []

    def attempt(n: int) -> None:
        calls.append(n)
        raise Transient("HTTP 503")

    with pytest.raises(
        ProviderUnavailable, match=r"op: gave up after 3 attempt\(s\); last: HTTP 503"
    ):
        _retrier(clock, max_attempts=3).run("op", attempt)
    assert calls == [1, 2, 3] and len(clock.sleeps) == 2


def test_other_errors_are_never_retried() -> None:
    calls = []

    def attempt(n: int) -> None:
        calls.append(n)
        raise GenerationRefused("no")

    with pytest.raises(GenerationRefused):
        _retrier(FakeClock()).run("op", attempt)
    assert calls == [1]


def test_a_wait_past_the_deadline_fails_without_sleeping() -> None:
    clock = FakeClock()

    def attempt(n: int) -> None:
        raise Transient("HTTP 429", retry_after=120.0)

    with pytest.raises(ProviderUnavailable, match="would pass the generation timeout"):
        _retrier(clock, deadline=clock.monotonic() + 60).run("op", attempt)
    assert clock.sleeps == []


def test_nonce_and_prompt_follow_the_request() -> None:
    fmt = parse_format("1080x1350")
    base = AdRequest(b"seed", b"brand", "hikers", fmt, headline="Go", cta="Buy")
    same = AdRequest(b"seed", b"brand", "hikers", fmt, headline="Go", cta="Buy")
    assert request_nonce(base) == request_nonce(same)
    variants = [
        AdRequest(b"seeD", b"brand", "hikers", fmt),
        AdRequest(b"seed", None, "hikers", fmt),
        AdRequest(b"seed", b"brand", "hikers", parse_format("1200x628")),
    ]
    assert len({request_nonce(base), *map(request_nonce, variants)}) == 4
    prompt = build_edit_prompt(base, first="image A", second="image B")
    assert prompt.startswith("hikers.") and "image B" in prompt and '"Go"' in prompt
    plain = build_edit_prompt(AdRequest(b"s", None, "hikers", fmt), first="A", second="B")
    assert "Do not add any text" in plain and "product" not in plain


def test_provider_env_vars_fill_in_keys_below_adseed_ones(tmp_path) -> None:
    env = {"REPLICATE_API_TOKEN": "r8_env", "OPENAI_API_KEY": "sk-env"}
    s = resolve_settings({"home": tmp_path}, env=env)
    assert (s.replicate_api_token, s.openai_api_key) == ("r8_env", "sk-env")
    s = resolve_settings({"home": tmp_path}, env={**env, "ADSEED_OPENAI_API_KEY": "sk-adseed"})
    assert s.openai_api_key == "sk-adseed"
    (tmp_path / "adseed.toml").write_text('replicate_api_token = "r8_file"\n')
    assert resolve_settings({"home": tmp_path}, env=env).replicate_api_token == "r8_file"
    assert "r8_" not in repr(s) and "sk-" not in repr(s)  # secrets stay out of logs


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("ADSEED_MAX_ATTEMPTS", "0", "max_attempts"),
        ("ADSEED_REQUEST_TIMEOUT_S", "0", "request_timeout_s"),
        ("ADSEED_GENERATION_TIMEOUT_S", "fast", "generation_timeout_s"),
        ("ADSEED_DIFFUSERS_STEPS", "0", "diffusers_steps"),
    ],
)
def test_bad_hosted_settings_are_config_errors(tmp_path, key, value, message) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_settings({"home": tmp_path}, env={key: value})
