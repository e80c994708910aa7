"""The conversation policy alone: a pure state machine, stepped with the fake chat model."""

from __future__ import annotations

import pytest

from adseed.agent.chat import Intent, ReadContext, Reading, Stage
from adseed.agent.copyask import benefits_in, placement_in
from adseed.agent.fake import FakeChatModel
from adseed.agent.policy import CopyCall, State, ToolCall, step
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
    with_copy = State.from_dict({**state.to_dict(), "headline": "Fresh bowls", "cta": "Shop now"})
    assert State.from_dict(with_copy.to_dict()) == with_copy and with_copy.headline == "Fresh bowls"


def _copy_step(state: State, reply: str):
    ctx = ReadContext(state.stage, state.segment, state.prompt, state.seed_index, product=state.product)
    return step(state, MODEL.read(reply, ctx), MODEL.propose, reply)


def test_a_copy_request_calls_the_copy_tool_and_keeps_the_photo_on_screen():
    shown, _, _ = run(["dog owners who love parks", "yes", "no"])
    decided = _copy_step(shown, "write copy for the dog toy for a story: tough, floats in water")
    assert decided.call is None and decided.state.stage is Stage.SEED
    assert decided.copy == CopyCall("dog toy", ("tough", "floats in water"), "story", "dog owners who love parks")
    assert decided.state.seed_index == 1 and decided.state.product == "dog toy"  # the ad will feature it


def test_a_copy_request_on_the_ad_also_remakes_the_ad_with_the_same_seed():
    final, _, _ = run(["dog owners who love parks", "yes", "no", "yes"])
    decided = _copy_step(final, "write copy for the puppy food bag: grain free")
    assert decided.copy is not None and decided.copy.placement == "meta-feed"  # the default
    assert decided.call == ToolCall("a dog in a park", 1, True, "puppy food bag")


def test_a_copy_request_without_a_product_or_benefits_asks_for_them():
    shown, _, _ = run(["dog owners who love parks", "yes"])
    no_product = _copy_step(shown, "write the copy: cheap")
    assert no_product.copy is None and no_product.call is None and "Which product" in no_product.reply
    pinned, _, _ = run(["dog owners who love parks", "yes", "use the cat food bag"])
    no_benefits = _copy_step(pinned, "write some copy")  # the pinned product, nothing to stress
    assert no_benefits.copy is None and "cat food bag" in no_benefits.reply
    assert no_benefits.state == pinned


def test_another_product_drops_copy_written_for_the_old_one():
    shown, _, _ = run(["dog owners who love parks", "yes", "use the cat food bag"])
    worded = State.from_dict({**shown.to_dict(), "headline": "Cats love it", "cta": "Shop now"})
    ctx = ReadContext(worded.stage, worded.segment, worded.prompt, worded.seed_index)
    moved = step(worded, MODEL.read("use the dog toy", ctx), MODEL.propose, "use the dog toy").state
    assert (moved.product, moved.headline, moved.cta) == ("dog toy", None, None)


@pytest.mark.parametrize(("text", "benefits"), [
    ("write copy for the puppy food: grain free, real chicken and no fillers",
     ("grain free", "real chicken", "no fillers")),
    ("a headline stressing that it floats; tough", ("that it floats", "tough")),
    ("write copy for the cat food bag", ()),
    ("copy: tough, Tough, tough.", ("tough",)),
])
def test_benefits_are_read_from_a_copy_request(text, benefits):
    assert benefits_in(text) == benefits


@pytest.mark.parametrize(("text", "placement"), [
    ("copy for google search ads", "google-rsa"), ("a display banner", "display"),
    ("write it for instagram stories", "story"), ("facebook feed copy", "meta-feed"),
    ("copy for the google-rsa placement", "google-rsa"), ("just write copy", None),
])
def test_the_placement_is_read_from_a_copy_request(text, placement):
    assert placement_in(text) == placement


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
