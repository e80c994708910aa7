"""The OpenAI-compatible chat model against a local stub that speaks chat completions.

The stub (127.0.0.1, a real HTTP server) answers like the real API: tool_calls with
JSON-string arguments and finish_reason "tool_calls", JSON content for proposals, and
errors as ``{"error": {"message", "type", "code"}}`` with 401, 429 (+ Retry-After),
``insufficient_quota`` and 500. Its "model" is a few rules over the last user message.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from agent_helpers import image_tool, seeded_workspace, vector_queries

from adseed.agent.chat import Brief, Intent, ReadContext, Stage
from adseed.agent.core import Agent
from adseed.agent.openai_chat import OpenAIChatModel
from adseed.config import resolve_settings
from adseed.errors import BackendError, ConfigError


class Stub(BaseHTTPRequestHandler):
    requests: list[dict] = []
    failures: list[tuple[int, dict, dict]] = []  # queued (status, body, headers) to send first

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        Stub.requests.append({"path": self.path, "auth": self.headers.get("authorization"), "body": body})
        if Stub.failures:
            status, payload, headers = Stub.failures.pop(0)
            return self._send(status, payload, headers)
        if self.headers.get("authorization") != "Bearer sk-test":
            return self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})
        return self._send(200, completion(body))

    def _send(self, status, payload, headers=None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def completion(body: dict) -> dict:
    """A chat.completion the way the API shapes it, decided by simple rules."""
    system, last = body["messages"][0]["content"], body["messages"][-1]["content"]
    message: dict = {"role": "assistant", "content": None}
    if "tools" not in body:  # a proposal
        pet = None if "weather" in last else ("cat" if "cat" in last else "beagle")
        message["content"] = "Sure! ```json\n" + json.dumps({"pet": pet, "setting": "in a park", "reason": "friendly"}) + "\n```"
    else:
        prompt = re.search(r"prompt='([^']*)'", system).group(1)
        index = int(re.search(r"seed_index=(\d)", system).group(1))
        gen = "generate=true" in system
        args = None
        if "copy" in last:  # the second tool, its arguments taken from the request
            product = re.search(r"the ad features: ([^)]*)\)", system).group(1)
            benefits = [] if "break" in last else [b.strip() for b in last.split(":")[1].split(",")]
            placement = "google-rsa" if "google" in last else "meta-feed"
            copy_args = {"product": product, "benefits": benefits, "placement": placement}
            message["tool_calls"] = [{"id": "call_copy1", "type": "function",
                                      "function": {"name": "write_ad_copy", "arguments": json.dumps(copy_args)}}]
        elif re.search(r"\b(yes|great|perfect)\b", last):
            args = {"prompt": prompt, "seed_index": index, "generate": gen}
        elif re.search(r"\b(no|another)\b", last):
            args = {"prompt": prompt, "seed_index": min(index + 1, 2), "generate": False}
        elif "snow" in last:
            args = {"prompt": prompt + " in the snow", "seed_index": 0, "generate": False}
        if message.get("tool_calls"):
            pass
        elif args is None:
            message["content"] = "I'm not sure what you mean."
        else:
            message["tool_calls"] = [{"id": "call_abc123", "type": "function",
                                      "function": {"name": "generate_ad_image", "arguments": json.dumps(args)}}]
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": body["model"],
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


@pytest.fixture(scope="module")
def stub_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.fixture
def model(stub_url):
    Stub.requests.clear()
    Stub.failures.clear()
    return OpenAIChatModel(stub_url, "stub-model", "sk-test", timeout_s=5)


def test_the_model_sees_the_minimal_image_tool_and_the_copy_tool(model):
    model.read("yes", ReadContext(Stage.SEED, "dog owners", "a beagle in a park", 0))
    request = Stub.requests[-1]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    image, copy = request["body"]["tools"]
    assert image["function"]["name"] == "generate_ad_image"
    assert set(image["function"]["parameters"]["properties"]) == {"prompt", "seed_index", "generate"}
    assert copy["function"]["name"] == "write_ad_copy"
    assert copy["function"]["parameters"]["required"] == ["product", "benefits", "placement"]


def test_a_copy_call_is_read_as_a_copy_request(model):
    context = ReadContext(Stage.SEED, "dog owners", "a beagle in a park", 0, product="puppy food bag")
    reading = model.read("write the copy for google: grain free, real chicken", context)
    assert reading.intent is Intent.COPY
    assert (reading.product, reading.benefits, reading.placement) == (
        "puppy food bag", ("grain free", "real chicken"), "google-rsa")
    assert "the ad features: puppy food bag" in Stub.requests[-1]["body"]["messages"][0]["content"]
    bad = model.read("write copy but break the schema", context)  # stub sends benefits: []
    assert bad.intent is Intent.UNCLEAR and bad.scores == {"bad_tool_call": 1.0}


def test_proposal_parsed_from_a_fenced_json_answer(model):
    proposal = model.propose(Brief("dog owners in the city"))
    assert (proposal.pet, proposal.setting, proposal.prompt) == ("beagle", "in a park", "a beagle in a park")
    assert model.propose(Brief("what's the weather")) is None
    assert "tools" not in Stub.requests[-1]["body"]


@pytest.mark.parametrize(
    ("stage", "reply", "intent"),
    [(Stage.SEED, "yes", Intent.ACCEPT), (Stage.SEED, "no", Intent.REJECT), (Stage.PROPOSED, "yes", Intent.ACCEPT),
     (Stage.SEED, "somewhere with snow", Intent.REDIRECT), (Stage.SEED, "banana", Intent.UNCLEAR)],
)
def test_tool_calls_are_read_as_intents(model, stage, reply, intent):
    reading = model.read(reply, ReadContext(stage, "dog owners", "a beagle in a park", 0))
    assert reading.intent is intent
    if intent is Intent.REDIRECT:
        assert reading.description == "a beagle in a park in the snow"
    if intent is Intent.UNCLEAR:
        assert reading.text == "I'm not sure what you mean."


def test_a_whole_conversation_through_the_stub(stub_url, tmp_path):
    settings = resolve_settings({"home": tmp_path / "ws", "embedder": "fake", "agent_chat": "openai",
                                 "chat_base_url": stub_url, "chat_model": "stub-model",
                                 "chat_api_key": "sk-test"}, env={})
    ws = seeded_workspace(settings, tmp_path)
    agent = Agent(ws, OpenAIChatModel.from_settings(settings), image_tool())
    before = vector_queries(ws)
    turns = [agent.turn(t, "oa") for t in ["dog owners who love parks", "yes", "no", "perfect"]]
    calls = [c.call.arguments() for t in turns for c in t.calls]
    assert calls == [{"prompt": "a beagle in a park", "seed_index": i, "generate": g} for i, g in [(0, False), (1, False), (1, True)]]
    assert vector_queries(ws) - before == 1
    assert turns[-1].last_image["type"] == "final" and turns[-1].last_image["seed_path"] == turns[1].calls[0].result.candidates[1]


def test_429_is_retried_honouring_retry_after(model):
    Stub.failures.append((429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}, {"Retry-After": "0"}))
    Stub.failures.append((500, {"error": {"message": "server error", "type": "server_error", "code": None}}, {}))
    reading = model.read("yes", ReadContext(Stage.SEED, "d", "a beagle in a park", 0))
    assert reading.intent is Intent.ACCEPT and len(Stub.requests) == 3


def test_quota_errors_are_not_retried_and_say_why(model):
    Stub.failures.append((429, {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}, {}))
    with pytest.raises(BackendError, match="exceeded your current quota"):
        model.propose(Brief("dog owners"))
    assert len(Stub.requests) == 1


def test_persistent_5xx_gives_up_after_three_attempts(model):
    for _ in range(3):
        Stub.failures.append((503, {"error": {"message": "overloaded", "type": "server_error", "code": None}}, {"Retry-After": "0"}))
    with pytest.raises(BackendError, match="503"):
        model.propose(Brief("dog owners"))
    assert len(Stub.requests) == 3


def test_a_wrong_key_is_a_configuration_error(stub_url):
    bad = OpenAIChatModel(stub_url, "stub-model", "sk-wrong", timeout_s=5)
    with pytest.raises(ConfigError, match="Incorrect API key"):
        bad.propose(Brief("dog owners"))


def test_missing_settings_are_named(tmp_path):
    settings = resolve_settings({"home": tmp_path, "agent_chat": "openai"}, env={})
    with pytest.raises(ConfigError, match="chat_base_url and chat_model"):
        OpenAIChatModel.from_settings(settings)
