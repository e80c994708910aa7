"""The marketer's app: ``streamlit run`` this file (``adseed app`` does). Two tabs.

"Image Gen": a segment preset or a custom prompt, a generate toggle and a seed choice;
the seed photo and the ad side by side. "Chat": the conversation with the agent, its
history with images. Both talk to ``adseed serve``'s ad-agent endpoint and load images
by volume path through the Files API, with the viewer's token.
"""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from adseed.app.client import AgentClient, AppError, Connection, candidates, reply_text
from adseed.app.client import segment_presets as _presets

CUSTOM = "Custom prompt…"


@st.cache_data(max_entries=128, show_spinner=False)
def load_image(url: str, token: str, path: str) -> bytes:
    """Image bytes by volume path; the token is part of the cache key, so never shared."""
    return AgentClient(Connection(url, token)).file(path)


def show_image(client: AgentClient, path: str, caption: str, width: int | str = "stretch") -> None:
    try:
        data = load_image(client.connection.url, client.connection.token, path)
    except AppError as exc:
        st.warning(f"cannot load {path}: {exc}")
        return
    st.image(data, caption=caption, width=width, alt=caption)  # type: ignore[arg-type]


def image_gen_tab(client: AgentClient) -> None:
    preset = st.selectbox("Segment", [*_presets(), CUSTOM], key="gen_preset")
    prompt = st.text_input("Custom prompt", key="gen_prompt") if preset == CUSTOM else preset
    generate = st.toggle("Generate the ad", value=True, key="gen_generate")
    seed_index = st.radio("Seed", [0, 1, 2], horizontal=True, key="gen_seed",
                          format_func=lambda i: f"photo {i + 1}")  # fmt: skip
    if st.button("Run", key="gen_run", type="primary"):
        if not prompt or not prompt.strip():
            st.error("Write a prompt first.")
        else:
            try:
                session = st.session_state.setdefault("gen_session", uuid.uuid4().hex)
                result = client.direct(prompt, generate, seed_index, session)
                st.session_state["gen_result"] = result
            except AppError as exc:
                st.error(str(exc))
    shown: dict[str, Any] | None = st.session_state.get("gen_result")
    if shown:
        image = shown["custom_outputs"]["last_image"]
        seed_col, ad_col = st.columns(2)
        with seed_col:
            show_image(client, image["seed_path"], "seed: " + image["seed_path"].rsplit("/", 1)[-1])
        with ad_col:
            if image["type"] == "final":
                show_image(client, image["path"], "ad: " + image["path"].rsplit("/", 1)[-1])
            else:
                st.info("Turn on 'Generate the ad' to make the ad from this seed.")
        st.caption("Candidates: " + ", ".join(p.rsplit("/", 1)[-1] for p in candidates(shown)))


def chat_tab(client: AgentClient) -> None:
    session = st.session_state.setdefault("chat_session", uuid.uuid4().hex)
    history: list[dict[str, Any]] = st.session_state.setdefault("chat_history", [])
    prompt = st.chat_input("Describe your audience, then answer the agent", key="chat_input")
    if prompt:
        history.append({"role": "user", "text": prompt})
        try:
            body = client.say(prompt, session)
            history.append({"role": "assistant", "text": reply_text(body),
                            "image": body["custom_outputs"].get("last_image")})  # fmt: skip
        except AppError as exc:
            history.append({"role": "assistant", "text": f"Something went wrong: {exc}"})
    for message in history:
        with st.chat_message(message["role"]):
            st.markdown(message["text"])
            image = message.get("image")
            if image:
                caption = ("Your ad" if image["type"] == "final" else "Seed photo")
                show_image(client, image["path"], caption, width=420)


def main() -> None:
    st.set_page_config(page_title="adseed", layout="wide")
    st.title("adseed")
    client = AgentClient(Connection.from_env())
    gen, chat = st.tabs(["Image Gen", "Chat"])
    with gen:
        image_gen_tab(client)
    with chat:
        chat_tab(client)


main()
