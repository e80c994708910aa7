"""The conversation policy alone: a pure state machine, stepped with the fake chat model."""

from __future__ import annotations

import pytest

from adseed.agent.chat import Intent, ReadContext, Reading, Stage
from adseed.agent.fake import FakeChatModel
from adseed.agent.policy import State, ToolCall, step
from adseed.agent.sessions import SessionStore, check_session_id
from adseed.errors import InvalidInput, StateError

MODEL = FakeChatModel()


def run(replies: list[str], state: State | None = None) -> tuple[State, list[ToolCall], list[str]]:
    state = state or State()
    calls, texts = [], []
    for reply in replies:
        ctx = ReadContext(state.stage, state.segment, state.prompt, state.seed_index)
        reading = MODEL.read(reply, ctx) if state.stage is not Stage.START else Reading(Intent.UNCLEAR)
        decided = step(state, reading, MODEL.propose, reply)
        state = decided.state
        texts.append(decided.reply)
        if decided.call:
            calls.append(decided.call)
    return state, calls, texts


def test_segment_is_proposed_before_anything_is_retrieved():
    state, calls, texts = run(["dog owners who love parks"])
    assert state.stage is Stage.PROPOSED and calls == []
    assert state.proposal is not None and state.proposal.pet == "dog"
    assert "How about a dog in a park?" in texts[0]


def test_accept_at_once_shows_seed_zero_then_generates_with_it():
    state, calls, _ = run(["dog owners who love parks", "yes", "yes"])
    assert [c.arguments() for c in calls] == [
        {"prompt": "a dog in a park", "seed_index": 0, "generate": False},
        {"prompt": "a dog in a park", "seed_index": 0, "generate": True},
    ]
    assert state.stage is Stage.FINAL


def test_three_rejections_give_a_new_description_and_seed_zero_of_it():
    state, calls, texts = run(["dog owners who love parks", "yes", "no", "no", "no", "yes"])
    assert [(c.prompt, c.seed_index, c.generate) for c in calls] == [
        ("a dog in a park", 0, False),
        ("a dog in a park", 1, False),
        ("a dog in a park", 2, False),
        ("a dog on a beach", 0, False),
        ("a dog on a beach", 0, True),
    ]
    assert "None of those three worked" in texts[4]
    assert state.tried == ("a dog in a park", "a dog on a beach")


def test_unclear_reply_changes_nothing_and_calls_nothing():
    before, _, _ = run(["dog owners who love parks", "yes"])
    after, calls, texts = run(["qwerty"], before)
    assert after == before and calls == []
    assert "didn't catch that" in texts[0]


def test_nonsense_segment_is_asked_again():
    state, calls, texts = run(["?"])
    assert state == State() and calls == [] and "audience" in texts[0]


def test_redirect_pet_while_a_seed_is_shown_requeries_at_seed_zero():
    state, calls, _ = run(["dog owners who love parks", "yes", "no", "make it a cat"])
    assert calls[-1] == ToolCall("a cat in a park", 0, False, None)
    assert state.pet == "cat" and state.seed_index == 0 and state.rejections == 0


def test_product_redirect_keeps_the_seed_and_regenerates_the_final_ad():
    state, calls, _ = run(["dog owners who love parks", "yes", "yes", "use the puppy food bag"])
    assert calls[-1] == ToolCall("a dog in a park", 0, True, "puppy food bag")
    shown, calls2, _ = run(["dog owners who love parks", "yes", "use the puppy food bag"])
    assert len(calls2) == 1 and shown.product == "puppy food bag" and shown.stage is Stage.SEED


def test_restart_forgets_everything():
    state, _, texts = run(["dog owners who love parks", "yes", "start over"])
    assert state == State() and "start over" in texts[-1]


def test_state_round_trips_through_json():
    state, _, _ = run(["cat people who love the snow", "yes", "no", "use the dog toy"])
    assert State.from_dict(state.to_dict()) == state


def test_sessions_are_per_principal_and_optimistic(tmp_path):
    store = SessionStore(tmp_path)
    s = store.load("ann", "s1")
    s.add("user", "hello")
    store.save(s)
    assert store.load("bob", "s1").messages == []  # bob's "s1" is his own, empty
    a1, a2 = store.load("ann", "s1"), store.load("ann", "s1")
    store.save(a1)
    with pytest.raises(StateError, match="changed while this turn ran"):
        store.save(a2)
    assert [x["session_id"] for x in store.list("ann")] == ["s1"] and store.list("bob") == []


@pytest.mark.parametrize("bad", ["", "a/b", "../x", "x" * 129, "id with space", None, 7])
def test_session_ids_are_checked(bad):
    with pytest.raises(InvalidInput, match="session_id"):
        check_session_id(bad)
