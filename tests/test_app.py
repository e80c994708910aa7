"""The Streamlit app with Streamlit's AppTest, against a real `adseed serve` on a socket."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_helpers import seeded_workspace, serving

from adseed.config import resolve_settings

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "src" / "adseed" / "app" / "streamlit_app.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("app")
    settings = resolve_settings({"home": tmp / "ws", "embedder": "fake", "agent_chat": "fake"}, env={})
    seeded_workspace(settings, tmp)
    token = (settings.home / ".owner-token").read_text().strip()
    with serving(settings) as url:
        yield url, token


@pytest.fixture
def app(server, monkeypatch):
    url, token = server
    monkeypatch.setenv("ADSEED_AGENT_URL", url)
    monkeypatch.setenv("ADSEED_TOKEN", token)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_two_tabs_named_as_in_the_reference(app):
    assert [t.label for t in app.tabs] == ["Image Gen", "Chat"]


def test_image_gen_shows_seed_and_ad_side_by_side(app):
    gen = app.tabs[0]
    gen.selectbox(key="gen_preset").set_value("Custom prompt…").run()
    app.text_input(key="gen_prompt").set_value("dog beach sand").run()
    app.radio(key="gen_seed").set_value(1).run()
    app.button(key="gen_run").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    captions = [c for img in app.tabs[0].image for c in img.captions]
    assert len(captions) == 2 and captions[0].startswith("seed: dog_beach") and captions[1].startswith("ad: ad-")
    assert "Candidates:" in app.tabs[0].caption[0].value


def test_image_gen_without_generate_shows_only_the_seed(app):
    app.toggle(key="gen_generate").set_value(False).run()
    app.button(key="gen_run").click().run()
    assert [c for img in app.tabs[0].image for c in img.captions][0].startswith("seed: dog_")
    assert len(app.tabs[0].image) == 1 and "Turn on" in app.tabs[0].info[0].value


def test_chat_from_segment_to_ad_with_images_in_the_history(app):
    for text in ["dog owners who love parks", "yes", "not quite", "yes"]:
        app.chat_input(key="chat_input").set_value(text).run()
        assert not app.exception
    chat = app.tabs[1]
    said = [m.markdown[0].value for m in chat.chat_message]
    assert said[0] == "dog owners who love parks" and said[1].startswith("How about a dog in a park?")
    images = [img.captions[0] for img in chat.image]
    assert images == ["Seed photo", "Seed photo", "Your ad"]


def test_chat_shows_the_servers_refusal_instead_of_crashing(server, monkeypatch):
    url, _ = server
    monkeypatch.setenv("ADSEED_AGENT_URL", url)
    monkeypatch.setenv("ADSEED_TOKEN", "adseed_not-a-real-token")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.chat_input(key="chat_input").set_value("dog owners who love parks").run()
    assert not at.exception
    assert "401" in at.tabs[1].chat_message[1].markdown[0].value
