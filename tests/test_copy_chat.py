"""The chat-completions writer against a local stub that speaks the real protocol.

The stub (tests/stubs/chat_stub.py) listens on 127.0.0.1, checks requests the way
the provider does (auth, required parameters, strict JSON-schema rules) and answers
with the provider's completion and error bodies, scripted per request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from adseed.config import resolve_settings
from adseed.copy.base import build_writer
from adseed.copy.brief import parse_brief
from adseed.copy.chat import ChatCopyWriter
from adseed.copy.placements import get_placement
from adseed.copy.service import write_copy
from adseed.errors import BackendError, ConfigError, InvalidInput

from stubs.chat_stub import ChatStub, serve

BRIEF = parse_brief({
    "product": "Ridgeline Trail Harness",
    "brand": "Northpaw Outfitters",
    "benefits": ["Padded chest plate", "Reflective trim"],
    "audience": "dog owners who hike",
    "cta": "shop",
    "must_avoid": ["cheap", "guaranteed"],
})
KEY = "sk-test-123"


@pytest.fixture
def stub() -> Iterator[ChatStub]:
    with serve(api_key=KEY) as running:
        yield running


def writer(stub: ChatStub, sleeps: list[float] | None = None, **kw) -> ChatCopyWriter:
    record = sleeps if sleeps is not None else []
    options = {"timeout_s": 5.0, "schema_retries": 2, "http_retries": 3, **kw}
    return ChatCopyWriter("gpt-4o-mini", stub.base_url, KEY, sleep=record.append, **options)


def test_good_answer_and_the_request_on_the_wire(stub: ChatStub) -> None:
    variants = write_copy(BRIEF, get_placement("google-rsa"), 3, 7, writer(stub))
    assert [v.headline for v in variants] == ["Meet the Harness 1", "Meet the Harness 2",
                                              "Meet the Harness 3"]
    assert len(stub.requests) == 1
    body, headers = stub.requests[0], stub.headers[0]
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert body["model"] == "gpt-4o-mini" and body["seed"] == 7
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    item = fmt["json_schema"]["schema"]["properties"]["variants"]["items"]
    assert item["properties"]["headline"]["description"].endswith("at most 30 characters")
    task = json.loads(body["messages"][1]["content"])
    assert task["variants"] == 3 and task["brief"]["must_avoid"] == ["cheap", "guaranteed"]
    assert task["fields"]["description"]["max_characters"] == 90


def test_meta_cta_is_the_button_whatever_the_model_says(stub: ChatStub) -> None:
    variants = write_copy(BRIEF, get_placement("meta-feed"), 2, 0, writer(stub))
    assert {v.cta for v in variants} == {"Shop Now"}
    assert json.loads(stub.requests[0]["messages"][1]["content"])["cta_must_be"] == "Shop Now"


def test_display_gets_the_business_name_from_the_brief(stub: ChatStub) -> None:
    variants = write_copy(BRIEF, get_placement("display"), 1, 0, writer(stub))
    assert variants[0].business_name == "Northpaw Outfitters"


@pytest.mark.parametrize(
    ("bad", "mentions"),
    [
        ("missing_field", "'cta' is a required property"),
        ("extra_field", "Additional properties are not allowed ('price'"),
        ("too_long", "headline is 55 characters; at most 30"),
        ("banned:guaranteed", "contains the banned phrase 'guaranteed'"),
        ("duplicate", "variants 1 and 3 have the same headline"),
        ("not_json", "not valid JSON"),
        ("truncated", "cut off at the token limit"),
    ],
)
def test_a_bad_answer_then_a_good_one(stub: ChatStub, bad: str, mentions: str) -> None:
    stub.script = [bad, "ok"]
    variants = write_copy(BRIEF, get_placement("google-rsa"), 3, 0, writer(stub))
    assert len(variants) == 3 and len(stub.requests) == 2
    retry = stub.requests[1]["messages"]
    assert retry[:2] == stub.requests[0]["messages"]  # same task, then the exchange
    assert retry[2]["role"] == "assistant" and retry[3]["role"] == "user"
    assert mentions in retry[3]["content"]


def test_schema_violations_are_retried_a_bounded_number_of_times(stub: ChatStub) -> None:
    stub.script = ["missing_field"] * 10
    with pytest.raises(BackendError, match="no usable copy after 3 attempts.*'cta'"):
        write_copy(BRIEF, get_placement("google-rsa"), 3, 0, writer(stub))
    assert len(stub.requests) == 3


def test_429_honours_retry_after_then_succeeds(stub: ChatStub) -> None:
    stub.script = ["status:429", "status:429", "ok"]
    sleeps: list[float] = []
    variants = write_copy(BRIEF, get_placement("story"), 2, 0, writer(stub, sleeps))
    assert len(variants) == 2 and len(stub.requests) == 3
    assert sleeps == [0.02, 0.02]  # the stub's retry-after-ms: 20


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_backs_off_then_succeeds(stub: ChatStub, status: int) -> None:
    stub.script = [f"status:{status}", f"status:{status}", "ok"]
    sleeps: list[float] = []
    write_copy(BRIEF, get_placement("story"), 2, 0, writer(stub, sleeps, backoff_s=0.5))
    assert sleeps == [0.5, 1.0] and len(stub.requests) == 3


def test_rate_limit_that_never_ends_is_a_backend_error(stub: ChatStub) -> None:
    stub.script = ["status:429"] * 10
    with pytest.raises(BackendError, match="gave up after 4 attempts: HTTP 429 "
                                           "rate_limit_exceeded: Rate limit reached"):
        write_copy(BRIEF, get_placement("story"), 2, 0, writer(stub))
    assert len(stub.requests) == 4


def test_wrong_key_is_a_config_error_without_retries(stub: ChatStub) -> None:
    bad = ChatCopyWriter("gpt-4o-mini", stub.base_url, "sk-wrong", sleep=lambda s: None)
    with pytest.raises(ConfigError, match="refused the API key .*invalid_api_key"):
        write_copy(BRIEF, get_placement("story"), 1, 0, bad)
    assert stub.requests == []  # refused at the door, never retried


def test_unknown_path_is_a_config_error(stub: ChatStub) -> None:
    lost = ChatCopyWriter("m", stub.base_url.replace("/v1", "/v2"), KEY)
    with pytest.raises(ConfigError, match="model or endpoint not found"):
        write_copy(BRIEF, get_placement("story"), 1, 0, lost)


def test_other_4xx_carries_the_provider_message(stub: ChatStub) -> None:
    stub.script = ["status:400"]
    with pytest.raises(BackendError, match="rejected the request .*HTTP 400"):
        write_copy(BRIEF, get_placement("story"), 1, 0, writer(stub))


@pytest.mark.parametrize(("step", "match"), [("refusal", "refused to write this copy"),
                                             ("content_filter", "content filter")])
def test_refusals_are_final(stub: ChatStub, step: str, match: str) -> None:
    stub.script = [step, "ok"]
    with pytest.raises(BackendError, match=match):
        write_copy(BRIEF, get_placement("story"), 1, 0, writer(stub))
    assert len(stub.requests) == 1


def test_html_from_a_gateway_is_a_backend_error(stub: ChatStub) -> None:
    stub.script = ["garbage_200"]
    with pytest.raises(BackendError, match="not JSON"):
        write_copy(BRIEF, get_placement("story"), 1, 0, writer(stub))


def test_timeouts_are_retried_then_reported(stub: ChatStub) -> None:
    stub.script = ["sleep:0.6", "sleep:0.6"]
    slow = writer(stub, timeout_s=0.2, http_retries=1)
    with pytest.raises(BackendError, match=r"gave up after 2 attempts: no answer within 0.2s"):
        write_copy(BRIEF, get_placement("story"), 1, 0, slow)


def test_nothing_listening_is_a_backend_error() -> None:
    with serve() as gone:
        url = gone.base_url
    lonely = ChatCopyWriter("m", url, http_retries=1, sleep=lambda s: None)
    with pytest.raises(BackendError, match="cannot reach the endpoint"):
        write_copy(BRIEF, get_placement("story"), 1, 0, lonely)


def test_display_without_brand_fails_before_any_request(stub: ChatStub) -> None:
    no_brand = parse_brief({"product": "Harness", "benefits": ["Padded"]})
    with pytest.raises(InvalidInput, match="needs the brief's 'brand'"):
        write_copy(no_brand, get_placement("display"), 1, 0, writer(stub))
    assert stub.requests == []


def test_other_languages_go_to_the_model(stub: ChatStub) -> None:
    french = parse_brief({"product": "Harnais", "benefits": ["Rembourré"], "language": "fr"})
    write_copy(french, get_placement("story"), 1, 0, writer(stub))
    assert json.loads(stub.requests[0]["messages"][1]["content"])["brief"]["language"] == "fr"


def test_built_from_settings_through_the_registry(stub: ChatStub, tmp_path) -> None:
    settings = resolve_settings({"home": tmp_path, "copy_base_url": stub.base_url,
                                 "copy_api_key": KEY, "copy_model": "local-model"}, env={})
    built = build_writer("openai", settings)
    assert built.writer_id == "openai:local-model"
    assert KEY not in repr(settings)
    write_copy(BRIEF, get_placement("story"), 1, 0, built)
    assert stub.requests[0]["model"] == "local-model"
