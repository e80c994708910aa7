"""Agent turns end to end on a real workspace (Delta, LanceDB, governance, SQLite sessions).

The chat model here is the deterministic fake, so these stay in the fast tier; the
persona model's conversations are in test_agent_conversations.py.
"""

from __future__ import annotations

import json

import pytest
from agent_helpers import image_tool, seeded_workspace, vector_queries

from adseed.agent.core import Agent
from adseed.agent.fake import FakeChatModel
from adseed.config import resolve_settings
from adseed.errors import PermissionDenied, StateError


@pytest.fixture
def ws(tmp_path):
    settings = resolve_settings({"home": tmp_path / "ws", "embedder": "fake", "agent_chat": "fake"}, env={})
    return seeded_workspace(settings, tmp_path)


def agent(ws, tool=None):
    return Agent(ws, FakeChatModel(), tool or image_tool())


def test_accept_at_once_retrieves_once_and_writes_the_ad(ws):
    a = agent(ws)
    before = vector_queries(ws)
    first = a.turn("dog owners who love parks", "s1")
    assert first.calls == [] and first.stage.value == "proposed"
    shown = a.turn("yes", "s1")
    final = a.turn("yes", "s1")
    assert vector_queries(ws) - before == 1
    (seed_call,), (gen_call,) = shown.calls, final.calls
    assert seed_call.call.arguments() == {"prompt": "a dog in a park", "seed_index": 0, "generate": False}
    assert gen_call.call.arguments() == {"prompt": "a dog in a park", "seed_index": 0, "generate": True}
    candidates = seed_call.result.candidates
    assert all("dog_park" in p for p in candidates)
    assert final.last_image == {"type": "final", "path": gen_call.result.image_path, "seed_path": candidates[0]}
    assert final.last_image["path"].startswith("/Volumes/main/bricks/generated/")
    assert ws.read_file(final.last_image["path"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_rejections_walk_the_same_three_without_a_new_query(ws):
    a = agent(ws)
    before = vector_queries(ws)
    results = [a.turn(m, "s2") for m in ["dog owners who love parks", "yes", "no", "not this one"]]
    shown = [r.last_image["path"] for r in results[1:]]
    assert shown == results[1].calls[0].result.candidates
    assert vector_queries(ws) - before == 1


def test_a_conversation_survives_a_restart(ws):
    agent(ws).turn("dog owners who love parks", "s3")
    agent(ws).turn("yes", "s3")
    fresh = Agent(ws.acting_as(ws.principal), FakeChatModel(), image_tool())  # new objects, same files
    result = fresh.turn("no", "s3")
    assert result.calls[0].call.seed_index == 1
    assert [m["role"] for m in fresh.history("s3").messages] == ["user", "assistant"] * 3


def test_another_principal_cannot_read_or_continue_the_session(ws):
    agent(ws).turn("dog owners who love parks", "shared-id")
    gov = ws.governance
    bob_token = gov.add_principal(ws.principal, "bob", "user", False)
    bob = Agent(ws.as_token(bob_token), FakeChatModel(), image_tool())
    assert bob.history("shared-id").messages == []
    assert bob.turn("yes", "shared-id").stage.value == "start"  # his own, new conversation
    assert len(agent(ws).history("shared-id").messages) == 2  # the admin's is untouched


def test_the_tool_acts_with_the_marketers_rights_never_more(ws):
    gov, me = ws.governance, ws.principal
    reader = gov.add_principal(me, "reader", "user", False)
    for priv, kind, name in [("USE CATALOG", "catalog", "main"), ("USE SCHEMA", "schema", "main.bricks"),
                             ("READ VOLUME", "volume", "main.bricks.seeds"),
                             ("READ VOLUME", "volume", "main.bricks.brand")]:
        gov.grant(me, priv, kind, name, "reader")
    a = Agent(ws.as_token(reader), FakeChatModel(), image_tool())
    a.turn("dog owners who love parks", "r1")
    assert a.turn("yes", "r1").last_image["type"] == "seed"  # may read seeds and pack-shots
    with pytest.raises(PermissionDenied):
        a.turn("yes", "r1")  # may not write the generated volume
    assert a.history("r1").state.stage.value == "seed"  # the failed turn changed nothing
    outsider = gov.add_principal(me, "outsider", "user", False)
    b = Agent(ws.as_token(outsider), FakeChatModel(), image_tool())
    b.turn("dog owners who love parks", "o1")
    with pytest.raises(StateError, match="0 seed photo"):
        b.turn("yes", "o1")  # no readable seeds at all: nothing to show


# -- the second tool: ad copy --------------------------------------------------------------


def _copy_rows(ws):
    from adseed.copy.store import TABLE

    return ws.tables.read(TABLE).to_pylist()


def _generation(ws, image_path):
    from adseed.generate.records import GENERATIONS

    (row,) = [r for r in ws.tables.read(GENERATIONS).to_pylist() if r["path"] == image_path]
    return json.loads(row["parameters"])


def test_copy_asked_for_on_a_seed_is_written_and_the_ad_carries_its_headline(ws):
    a = agent(ws)
    a.turn("dog owners who love parks", "c1")
    a.turn("yes", "c1")
    before = vector_queries(ws)
    asked = a.turn("write copy for the puppy food bag for google search: grain free, real chicken", "c1")
    (written,) = asked.calls
    assert written.name == "write_ad_copy" and asked.last_image is None
    assert written.call.arguments() == {"product": "puppy food bag", "benefits": ["grain free", "real chicken"],
                                        "placement": "google-rsa"}
    assert written.call.audience == "dog owners who love parks"  # the segment, added by the agent
    copy = asked.last_copy
    assert len(copy["headline"]) <= 30 and len(copy["description"]) <= 90  # Google RSA limits
    assert copy["headline"] in asked.reply and asked.stage.value == "seed"  # the photo is still up
    (row,) = [r for r in _copy_rows(ws) if r["brief_sha256"] == copy["brief_sha256"]]
    assert row["placement"] == "google-rsa" and json.loads(row["brief_json"])["audience"] == "dog owners who love parks"
    final = a.turn("yes", "c1")
    assert final.last_image["type"] == "final" and vector_queries(ws) == before  # no new query
    params = _generation(ws, final.last_image["path"])
    assert (params["headline"], params["cta"]) == (copy["headline"], copy["cta"])
    assert "puppy_food" in final.calls[0].result.brand_path  # the product the copy is for


def test_copy_asked_for_on_the_ad_remakes_it_with_the_words_in_one_turn(ws):
    a = agent(ws)
    for m in ["dog owners who love parks", "yes", "yes"]:
        first = a.turn(m, "c2")
    again = a.turn("now a headline for the dog toy: tough, floats", "c2")
    assert [c.name for c in again.calls] == ["write_ad_copy", "generate_ad_image"]  # words first
    assert again.last_image["type"] == "final" and again.last_image["path"] != first.last_image["path"]
    assert _generation(ws, again.last_image["path"])["headline"] == again.last_copy["headline"]
    assert a.history("c2").state.headline == again.last_copy["headline"]


def test_copy_without_product_or_benefits_asks_and_calls_nothing(ws):
    a = agent(ws)
    a.turn("dog owners who love parks", "c3")
    no_product = a.turn("write the copy: grain free", "c3")
    assert no_product.calls == [] and "Which product" in no_product.reply
    no_benefits = a.turn("write copy for the cat food bag", "c3")
    assert no_benefits.calls == [] and "stress" in no_benefits.reply
    assert _copy_rows(ws) == [] and a.history("c3").state.stage.value == "proposed"


def test_the_same_copy_request_is_read_back_not_written_twice(ws):
    a = agent(ws)
    a.turn("dog owners who love parks", "c4")
    ask = "write copy for the puppy food bag: grain free, real chicken"
    first, second = a.turn(ask, "c4").last_copy, a.turn(ask, "c4").last_copy
    assert (first["reused"], second["reused"]) == (False, True)
    assert first["headline"] == second["headline"] and len(_copy_rows(ws)) == 1


def test_a_marketer_without_rights_on_the_copy_table_is_refused_and_nothing_changes(ws):
    gov, me = ws.governance, ws.principal
    reader = gov.add_principal(me, "reader2", "user", False)
    for priv, kind, name in [("USE CATALOG", "catalog", "main"), ("USE SCHEMA", "schema", "main.bricks"),
                             ("READ VOLUME", "volume", "main.bricks.seeds")]:
        gov.grant(me, priv, kind, name, "reader2")
    a = Agent(ws.as_token(reader), FakeChatModel(), image_tool())
    a.turn("dog owners who love parks", "c5")
    with pytest.raises(PermissionDenied):
        a.turn("write copy for the puppy food bag: grain free", "c5")
    assert _copy_rows(ws) == [] and a.history("c5").state.headline is None
