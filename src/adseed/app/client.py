"""The app's HTTP client: the ad-agent endpoint and the Files API, with the viewer's token.

The app holds no workspace and no rights of its own: every request carries the token
of the person looking at it, so a viewer sees exactly the images they may read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx

AGENT = "/serving-endpoints/ad-agent/invocations"
FILES = "/api/2.0/fs/files"


class AppError(Exception):
    """A request the server refused or could not serve; the message is for the viewer."""


@dataclass(frozen=True)
class Connection:
    url: str
    token: str

    @classmethod
    def from_env(cls) -> Connection:
        """``ADSEED_AGENT_URL`` and ``ADSEED_TOKEN``, as ``adseed app`` passes them."""
        url = os.environ.get("ADSEED_AGENT_URL", "http://127.0.0.1:8080")
        return cls(url.rstrip("/"), os.environ.get("ADSEED_TOKEN", ""))


class AgentClient:
    def __init__(self, connection: Connection, timeout_s: float = 120.0) -> None:
        self.connection = connection
        self.http = httpx.Client(
            base_url=connection.url,
            headers={"Authorization": f"Bearer {connection.token}"},
            timeout=timeout_s,
        )

    def say(self, text: str, session_id: str) -> dict[str, Any]:
        """One chat turn; returns the Responses-style body."""
        body = {"input": [{"role": "user", "content": text}],
                "custom_inputs": {"session_id": session_id}}  # fmt: skip
        return self._post(AGENT, body)

    def direct(
        self, prompt: str, generate: bool, seed_index: int, session_id: str
    ) -> dict[str, Any]:
        """The tool without the conversation (the Image Gen tab)."""
        direct = {"prompt": prompt, "generate": generate, "seed_index": seed_index}
        body = {"input": [{"role": "user", "content": prompt}],
                "custom_inputs": {"session_id": session_id, "direct": direct}}  # fmt: skip
        return self._post(AGENT, body)

    def file(self, path: str) -> bytes:
        """A volume file by its path, read with the viewer's rights."""
        try:
            response = self.http.get(FILES + path)
        except httpx.HTTPError as exc:
            raise AppError(f"cannot reach {self.connection.url}: {exc}") from exc
        _raise_for(response)
        return response.content

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise AppError(f"cannot reach {self.connection.url}: {exc}") from exc
        _raise_for(response)
        data: dict[str, Any] = response.json()
        return data


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        message = response.json()["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    raise AppError(f"{response.status_code}: {message}")


def reply_text(body: dict[str, Any]) -> str:
    """The assistant's text in a Responses body."""
    texts = [
        part.get("text", "")
        for item in body.get("output", [])
        if item.get("type") == "message"
        for part in item.get("content", [])
    ]
    return "\n\n".join(t for t in texts if t)


def candidates(body: dict[str, Any]) -> list[str]:
    """The top-3 seed paths from the last tool call's output, if any."""
    outputs = [i for i in body.get("output", []) if i.get("type") == "function_call_output"]
    if not outputs:
        return []
    return list(json.loads(outputs[-1]["output"]).get("candidates", []))


def segment_presets() -> list[str]:
    """One example segment per persona archetype, from the packaged persona library."""
    text = resources.files("adseed.agent").joinpath("data/personas.json").read_text()
    return [a["examples"][0] for a in json.loads(text)["archetypes"]]
