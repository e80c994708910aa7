"""The three serving endpoints over HTTP: shapes, governance, 4xx for malformed bodies, OpenAPI."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from agent_helpers import image_tool, seeded_workspace, vector_queries
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from adseed.config import resolve_settings
from adseed.serve.app import create_app
from adseed.serve.endpoints import image_tool as image_tool_dependency

from conftest import make_png

ENC, GEN, AGENT = (f"/serving-endpoints/{n}/invocations" for n in ("encoder", "image-gen", "ad-agent"))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    settings = resolve_settings({"home": tmp / "ws", "embedder": "fake", "agent_chat": "fake"}, env={})
    ws = seeded_workspace(settings, tmp)
    app = create_app(settings)
    tool = image_tool()
    app.dependency_overrides[image_tool_dependency] = lambda: tool
    token = (settings.home / ".owner-token").read_text().strip()
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    return client, ws, app.openapi()


def conforms(openapi: dict, path: str, status: int, body: dict) -> None:
    """Validate a real response body against the schema the server publishes."""
    content = openapi["paths"][path]["post"]["responses"][str(status)]["content"]
    schema = {**content["application/json"]["schema"], "components": openapi["components"]}
    Draft202012Validator(schema).validate(body)


def test_encoder_texts_and_images_give_unit_vectors(served):
    client, ws, openapi = served
    image = base64.b64encode(make_png("dog park grass")).decode()
    r = client.post(ENC, json={"dataframe_split": {"columns": ["text", "image"],
                                                   "data": [["dog park", None], [None, image]]}})
    assert r.status_code == 200, r.text
    conforms(openapi, ENC, 200, r.json())
    vectors = np.array(r.json()["predictions"])
    assert vectors.shape == (2, r.json()["dim"]) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert r.json()["model_id"] == ws.embedder().model_id
    same = client.post(ENC, json={"inputs": {"text": ["dog park"]}}).json()["predictions"][0]
    assert np.allclose(same, vectors[0])


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"inputs": {"text": ["a"], "image": None}, "dataframe_records": [{"text": "b"}]}, 400, "exactly one of"),
        ({"dataframe_records": [{"text": "a", "image": "aGk="}]}, 400, "row 0"),
        ({"dataframe_records": [{"image": "not base64!"}]}, 400, "base64"),
        ({"dataframe_records": [{"image": base64.b64encode(b"hello").decode()}]}, 422, ""),
        ({"dataframe_split": {"columns": ["text"], "data": [["a", "b"]]}}, 400, "row 0 has 2 values"),
        ({"dataframe_records": [{"text": 7}]}, 400, "strings"),
    ],
)
def test_encoder_refuses_malformed_bodies(served, body, status, says):
    client, _, openapi = served
    r = client.post(ENC, json=body)
    assert r.status_code == status, r.text
    assert says in r.json()["message"]
    conforms(openapi, ENC, status, r.json())


def test_image_gen_returns_candidates_and_reuses_them(served):
    client, ws, openapi = served
    before = vector_queries(ws)
    bodies = [{"dataframe_split": {"columns": ["model_input"], "data": [["cat snow winter"]]},
               "params": {"generate": i == 2, "seed_index": i}} for i in range(3)]
    preds = [client.post(GEN, json=b).json()["predictions"][0] for b in bodies]
    for i, p in enumerate(preds):
        assert p["seed_path"] == p["candidates"][i] and len(p["candidates"]) == 3
    assert preds[0]["candidates"][0].endswith("cat_snow_1.png")
    assert preds[0]["image_path"] is None and preds[2]["image_path"].startswith("/Volumes/main/bricks/generated/")
    assert vector_queries(ws) - before == 1
    conforms(openapi, GEN, 200, {"predictions": preds})


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "exactly one of"),
        ({"dataframe_split": {"columns": ["prompt"], "data": [["x"]]}}, "model_input"),
        ({"dataframe_split": {"columns": ["model_input"], "data": [[""]]}}, "non-empty"),
        ({"dataframe_records": [{"model_input": "x"}], "params": {"seed_index": 3}}, "params.seed_index"),
        ({"dataframe_records": [{"model_input": "x"}], "params": {"generate": "yes"}}, "params.generate"),
        ({"dataframe_records": [{"model_input": "x"}], "params": {"seed_idx": 1}}, "seed_idx"),
        ({"dataframe_split": {"columns": ["model_input"], "data": []}}, "data"),
    ],
)
def test_image_gen_refuses_malformed_bodies(served, body, says):
    client, _, openapi = served
    r = client.post(GEN, json=body)
    assert r.status_code == 400 and says in r.json()["message"], r.text
    conforms(openapi, GEN, 400, r.json())


def test_not_json_is_a_400_and_no_token_a_401(served):
    client, _, _ = served
    r = client.post(GEN, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error_code"] == "BAD_REQUEST"
    anonymous = TestClient(client.app)
    assert anonymous.post(GEN, json={"dataframe_records": [{"model_input": "x"}]}).status_code == 401


def say(client, text, session="web-1", **custom):
    body = {"input": [{"role": "user", "content": text}], "custom_inputs": {"session_id": session, **custom}}
    r = client.post(AGENT, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_ad_agent_conversation_over_http(served):
    client, _, openapi = served
    first = say(client, "dog owners who love parks")
    assert first["custom_outputs"]["stage"] == "proposed" and first["custom_outputs"]["last_image"] is None
    seed = say(client, "yes")
    kinds = [item["type"] for item in seed["output"]]
    assert kinds == ["function_call", "function_call_output", "message"]
    assert seed["output"][0]["name"] == "generate_ad_image"
    assert seed["custom_outputs"]["last_image"]["type"] == "seed"
    final = say(client, "yes")
    image = final["custom_outputs"]["last_image"]
    assert image["type"] == "final" and image["seed_path"] == seed["custom_outputs"]["last_image"]["path"]
    assert client.get("/api/2.0/fs/files" + image["path"]).content[:4] == b"\x89PNG"
    for body in (first, seed, final):
        conforms(openapi, AGENT, 200, body)


def test_ad_agent_writes_copy_as_its_second_tool(served):
    client, _, openapi = served
    say(client, "cat people who love the snow", session="copy-1")
    say(client, "yes", session="copy-1")
    out = say(client, "write copy for the cat food bag for google search: high protein, real fish", session="copy-1")
    conforms(openapi, AGENT, 200, out)
    call, result, message = out["output"]
    assert call["name"] == "write_ad_copy" and json.loads(call["arguments"]) == {
        "product": "cat food bag", "benefits": ["high protein", "real fish"], "placement": "google-rsa"}
    copy = out["custom_outputs"]["last_copy"]
    assert json.loads(result["output"]) == copy and copy["placement"] == "google-rsa"
    assert copy["headline"] in message["content"][0]["text"] and out["custom_outputs"]["last_image"] is None
    final = say(client, "yes", session="copy-1")["custom_outputs"]
    assert final["last_image"]["type"] == "final" and final["last_copy"] is None  # no copy this turn


def test_ad_agent_direct_mode(served):
    client, _, _ = served
    out = say(client, "", session="direct-1", direct={"prompt": "dog beach sand", "generate": True})
    image = out["custom_outputs"]["last_image"]
    assert image["type"] == "final" and "dog_beach" in image["seed_path"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"input": []}, "input"),
        ({"input": [{"role": "user", "content": "hi"}], "custom_inputs": {"session_id": "../etc"}}, "session_id"),
        ({"input": [{"role": "user", "content": "hi"}], "custom_inputs": {"sesion_id": "a"}}, "sesion_id"),
        ({"input": [{"role": "robot", "content": "hi"}]}, "input.0.role"),
        ({"input": [{"role": "assistant", "content": "hi"}]}, "user message"),
        ({"input": [{"role": "user", "content": "x"}], "custom_inputs": {"direct": {"prompt": "x", "generate": 1}}}, "generate"),
    ],
)
def test_ad_agent_refuses_malformed_bodies(served, body, says):
    client, _, openapi = served
    r = client.post(AGENT, json=body)
    assert r.status_code == 400 and says in r.json()["message"], r.text
    conforms(openapi, AGENT, 400, r.json())


def test_openapi_documents_the_three_endpoints_and_no_422_validation(served):
    _, _, openapi = served
    for path in (ENC, GEN, AGENT):
        op = openapi["paths"][path]["post"]
        assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")
        assert "400" in op["responses"] and "200" in op["responses"]
    assert "HTTPValidationError" not in openapi["components"]["schemas"]
    gen = openapi["components"]["schemas"]["ImageGenParams"]["properties"]["seed_index"]
    assert (gen["minimum"], gen["maximum"]) == (0, 2)
