"""The agent behind MLflow's ``ResponsesAgent`` interface: loggable, servable by MLflow itself.

``adseed serve`` builds one ``AdAgent`` per request, bound to the bearer token's
principal; ``mlflow.pyfunc.log_model(python_model="…/mlflow_model.py")`` logs the same
class, which then acts for the principal of the token in its model config (or
``ADSEED_TOKEN``). Subclassing ResponsesAgent makes every ``predict`` an MLflow trace
(an AGENT span), inside which the turn adds its policy, chat-model and tool spans.

Request: ``{"input": [{"role": "user", "content": "..."}], "custom_inputs":
{"session_id": "...", "direct": {"prompt": "...", "generate": false}}}``. Response:
``output`` items (function calls, their outputs, the assistant's message) and
``custom_outputs`` = ``{session_id, stage, intent, last_image}``.
"""

from __future__ import annotations

import json
import uuid
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mlflow.pyfunc import ResponsesAgent
from mlflow.types.responses import ResponsesAgentRequest, ResponsesAgentResponse

from adseed.agent.chat import ChatModel, build_chat_model
from adseed.agent.core import Agent, ImageTool, TurnResult
from adseed.agent.tools import generate_ad_image
from adseed.errors import InvalidInput
from adseed.tracing import use_workspace_store

if TYPE_CHECKING:
    from adseed.config import Settings
    from adseed.workspace import Workspace


@lru_cache(maxsize=4)
def shared_chat_model(settings: Settings) -> ChatModel:
    """One chat model per settings per process (the persona model holds MiniLM)."""
    return build_chat_model(settings.agent_chat, settings)


class AdAgent(ResponsesAgent):
    """The marketer's conversation as a ResponsesAgent; see the module docstring."""

    def __init__(
        self,
        workspace: Workspace | None = None,
        chat_model: ChatModel | None = None,
        tool: ImageTool | None = None,
    ) -> None:
        self._workspace = workspace
        self._chat_model = chat_model
        self._tool = tool
        self._agent: Agent | None = None
        if workspace is not None:  # before predict's trace starts, so it lands there
            use_workspace_store(workspace.settings)

    def load_context(self, context: Any) -> None:
        """MLflow's hook: open the workspace named in the model config."""
        from adseed.config import resolve_settings
        from adseed.workspace import Workspace

        config = dict(getattr(context, "model_config", None) or {})
        flags = {k: config.get(k) for k in ("home", "token", "agent_chat", "embedder")}
        self._workspace = Workspace.open(resolve_settings(flags))
        use_workspace_store(self._workspace.settings)

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            if self._workspace is None:
                raise InvalidInput("AdAgent has no workspace: log it with a model_config 'home'")
            model = self._chat_model or shared_chat_model(self._workspace.settings)
            self._agent = Agent(self._workspace, model, self._tool or generate_ad_image)
        return self._agent

    def predict(  # type: ignore[override]  # MLflow's documented ResponsesAgent signature
        self, request: ResponsesAgentRequest
    ) -> ResponsesAgentResponse:
        custom = dict(request.custom_inputs or {})
        session_id = custom.get("session_id") or _conversation_id(request)
        direct = custom.get("direct")
        if direct is not None:
            d = _direct(direct)
            turn = self.agent.direct(d["prompt"], d["generate"], d["seed_index"], session_id)
        else:
            turn = self.agent.turn(last_user_text(request), session_id)
        return ResponsesAgentResponse.model_validate(
            {"output": output_items(turn), "custom_outputs": custom_outputs(turn)}
        )


def custom_outputs(turn: TurnResult) -> dict[str, Any]:
    return {
        "session_id": turn.session_id,
        "stage": turn.stage.value,
        "intent": turn.intent,
        "last_image": turn.last_image,
        "last_copy": turn.last_copy,
    }


def output_items(turn: TurnResult) -> list[dict[str, Any]]:
    """Responses output items: each tool call and its output, then the assistant's text."""
    items: list[dict[str, Any]] = []
    for call in turn.calls:
        arguments = json.dumps(call.call.arguments())
        items.append(
            ResponsesAgent.create_function_call_item(
                "fc_" + uuid.uuid4().hex[:24], call.call_id, call.name, arguments
            )
        )
        output = json.dumps(call.result.to_dict())
        items.append(ResponsesAgent.create_function_call_output_item(call.call_id, output))
    items.append(ResponsesAgent.create_text_output_item(turn.reply, "msg_" + uuid.uuid4().hex[:24]))
    return items


def last_user_text(request: ResponsesAgentRequest) -> str:
    """The text of the last user message (plain string or ``input_text`` parts)."""
    for item in reversed(request.input):
        data = item.model_dump() if hasattr(item, "model_dump") else dict(item)
        if data.get("role") != "user":
            continue
        content = data.get("content")
        if isinstance(content, str):
            text = content
        else:
            parts = [p.get("text", "") for p in content or [] if isinstance(p, dict)]
            text = " ".join(p for p in parts if p)
        if text.strip():
            return text
        break
    raise InvalidInput("input needs a user message with text as its last user turn")


def _conversation_id(request: ResponsesAgentRequest) -> str | None:
    context = request.context
    return getattr(context, "conversation_id", None) if context is not None else None


def _direct(direct: Any) -> dict[str, Any]:
    if not isinstance(direct, dict):
        raise InvalidInput("custom_inputs.direct must be an object {prompt, generate}")
    prompt, generate = direct.get("prompt"), direct.get("generate", False)
    seed_index = direct.get("seed_index", 0)
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput("custom_inputs.direct.prompt must be a non-empty text")
    if not isinstance(generate, bool):
        raise InvalidInput("custom_inputs.direct.generate must be true or false")
    if isinstance(seed_index, bool) or not isinstance(seed_index, int) or not 0 <= seed_index <= 2:
        raise InvalidInput("custom_inputs.direct.seed_index must be 0, 1 or 2")
    return {"prompt": prompt.strip(), "generate": generate, "seed_index": seed_index}
