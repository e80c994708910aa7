"""One agent turn: load the session, read the reply, step the policy, call the tools, save.

A turn is atomic: the session is stored only after the tool calls succeeded, so a
failed generation (or a denied read) leaves the conversation exactly where it was and
the same reply can be sent again. (Copy written before a failed generation stays in
the ``copy`` table; sending the reply again reads that run back, it is not rewritten.)
The workspace the agent holds acts for the conversation's principal; the tools run
with that workspace and so with the marketer's own rights, never more.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adseed import tracing
from adseed.agent import policy
from adseed.agent.chat import Brief, ChatModel, Intent, Proposal, ReadContext, Reading, Stage
from adseed.agent.sessions import Session, SessionStore, check_session_id, new_session_id
from adseed.agent.tools import (
    CopyResult,
    ToolResult,
    find_brand,
    generate_ad_image,
    write_ad_copy,
)

if TYPE_CHECKING:
    from adseed.workspace import Workspace

ImageTool = Callable[..., ToolResult]
CopyTool = Callable[..., CopyResult]


@dataclass(frozen=True)
class ExecutedCall:
    call_id: str
    call: policy.ToolCall | policy.CopyCall
    result: ToolResult | CopyResult

    @property
    def name(self) -> str:
        return self.call.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "name": self.call.name,
            "arguments": self.call.arguments(),
            "output": self.result.to_dict(),
        }


@dataclass(frozen=True)
class TurnResult:
    session_id: str
    reply: str
    stage: Stage
    calls: list[ExecutedCall] = field(default_factory=list)
    last_image: dict[str, Any] | None = None  # the image this turn produced, if any
    intent: str = ""
    last_copy: dict[str, Any] | None = None  # the copy this turn wrote, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "reply": self.reply,
            "stage": self.stage.value,
            "intent": self.intent,
            "tool_calls": [c.to_dict() for c in self.calls],
            "last_image": self.last_image,
            "last_copy": self.last_copy,
        }


def image_of(call: policy.ToolCall, result: ToolResult) -> dict[str, Any]:
    """``last_image`` as the endpoint returns it: a seed shown, or the final ad."""
    if call.generate and result.image_path:
        return {"type": "final", "path": result.image_path, "seed_path": result.seed_path}
    return {"type": "seed", "path": result.seed_path, "seed_path": result.seed_path}


class Agent:
    """The marketer's conversation, for the principal ``workspace`` acts for."""

    def __init__(
        self,
        workspace: Workspace,
        chat_model: ChatModel,
        tool: ImageTool = generate_ad_image,
        sessions: SessionStore | None = None,
        copy_tool: CopyTool = write_ad_copy,
    ) -> None:
        self.workspace = workspace
        self.chat_model = chat_model
        self.tool = tool
        self.copy_tool = copy_tool
        self.sessions = sessions or SessionStore(workspace.home)
        tracing.use_workspace_store(workspace.settings)

    @property
    def principal(self) -> str:
        return self.workspace.principal.name

    def turn(self, message: str, session_id: str | None = None) -> TurnResult:
        """The agent's answer to one message of the marketer's: one MLflow trace."""
        with tracing.span("agent_turn", "AGENT", {"message": message, "session": session_id}) as sp:
            result = self._turn(message, session_id)
            sp.set_outputs(result.to_dict())
        return result

    def _turn(self, message: str, session_id: str | None) -> TurnResult:
        session = self._session(session_id)
        reading = self._read(session, message)
        with tracing.span("policy_step", "CHAIN", {"stage": session.state.stage.value}) as sp:
            decided = policy.step(session.state, reading, self._propose, message)
            sp.set_outputs({"stage": decided.state.stage.value, "call": _args(decided.call),
                            "copy": _args(decided.copy)})  # fmt: skip
        state, reply = decided.state, decided.reply
        executed: list[ExecutedCall] = []
        words = None
        if decided.copy:  # first, so an ad made in this turn carries the new headline
            copy = self._write_copy(decided.copy)
            state = dataclasses.replace(state, headline=copy.headline, cta=copy.cta)
            executed.append(ExecutedCall(_call_id(), decided.copy, copy))
            words = copy.to_dict()
            reply = copy_text(copy) + "\n\n" + reply
        image = None
        if decided.call:
            shown = self._execute(decided.call, state)
            executed.append(ExecutedCall(_call_id(), decided.call, shown))
            image = image_of(decided.call, shown)
        session.add("user", message)
        session.add("assistant", reply, image=image, tool_calls=_dicts(executed), copy=words)
        session.state = state
        self.sessions.save(session)
        return TurnResult(
            session.session_id, reply, state.stage, executed, image, reading.intent.value, words
        )

    def direct(
        self, prompt: str, generate: bool, seed_index: int = 0, session_id: str | None = None
    ) -> TurnResult:
        """The tool alone, no conversation (the app's Image Gen tab); still one session turn."""
        with tracing.span("agent_direct", "AGENT", {"prompt": prompt, "generate": generate}):
            return self._direct(prompt, generate, seed_index, session_id)

    def _direct(
        self, prompt: str, generate: bool, seed_index: int, session_id: str | None
    ) -> TurnResult:
        session = self._session(session_id)
        call = policy.ToolCall(prompt, seed_index, generate, session.state.product)
        shown = self._execute(call, session.state)
        executed = ExecutedCall(_call_id(), call, shown)
        image = image_of(call, shown)
        reply = f"{'Ad' if generate else 'Seed'} for \u201c{prompt}\u201d, photo {seed_index + 1}."
        session.add("user", f"[direct] {prompt}")
        session.add("assistant", reply, image=image, tool_calls=_dicts([executed]))
        self.sessions.save(session)
        return TurnResult(
            session.session_id, reply, session.state.stage, [executed], image, "direct"
        )

    def history(self, session_id: str) -> Session:
        return self.sessions.load(self.principal, check_session_id(session_id))

    # -- steps ---------------------------------------------------------------------------

    def _session(self, session_id: str | None) -> Session:
        with tracing.span("load_session") as sp:
            session = self.sessions.load(self.principal, session_id or new_session_id())
            sp.set_outputs({"session_id": session.session_id, "turns": len(session.messages)})
        return session

    def _read(self, session: Session, message: str) -> Reading:
        state = session.state
        if state.stage is Stage.START:  # a segment: the policy asks the model to propose
            return Reading(Intent.UNCLEAR)
        context = ReadContext(
            state.stage, state.segment, state.prompt, state.seed_index, session.history(),
            state.product,
        )  # fmt: skip
        with tracing.span("chat_model.read", "CHAT_MODEL", {"reply": message}) as sp:
            reading = self.chat_model.read(message, context)
            sp.set_outputs({"intent": reading.intent.value, "pet": reading.pet,
                            "setting": reading.setting, "product": reading.product,
                            "benefits": list(reading.benefits)})  # fmt: skip
        return reading

    def _propose(self, brief: Brief) -> Proposal | None:
        with tracing.span("chat_model.propose", "CHAT_MODEL", {"segment": brief.segment}) as sp:
            proposal = self.chat_model.propose(brief)
            sp.set_outputs(proposal.to_dict() if proposal else None)
        return proposal

    def _execute(self, call: policy.ToolCall, state: policy.State) -> ToolResult:
        with tracing.span(call.name, "TOOL", call.arguments()) as sp:
            brand = self._brand(call.product)
            result = self.tool(
                self.workspace, call.prompt, call.seed_index, call.generate, brand,
                headline=state.headline, cta=state.cta,
            )  # fmt: skip
            sp.set_outputs(result.to_dict())
        return result

    def _write_copy(self, call: policy.CopyCall) -> CopyResult:
        inputs = {**call.arguments(), "audience": call.audience}
        with tracing.span(call.name, "TOOL", inputs) as sp:
            result = self.copy_tool(
                self.workspace, call.product, call.benefits, call.placement, call.audience
            )
            sp.set_outputs(result.to_dict())
        return result

    def _brand(self, product: str | None) -> str | None:
        if not product:
            return None
        query = getattr(self.chat_model, "product_query", lambda name: name)(product)
        with tracing.span("find_brand", "RETRIEVER", {"product": product, "query": query}) as sp:
            path = find_brand(self.workspace, query)
            sp.set_outputs({"brand_path": path})
        return path


def copy_text(copy: CopyResult) -> str:
    """The copy as the marketer reads it in the chat."""
    return (
        f"Copy for the {copy.product} ({copy.placement}):\n"
        f"Headline: {copy.headline}\nTitle: {copy.title}\n"
        f"Text: {copy.description}\nButton: {copy.cta}\n"
        f"Picture idea: {copy.image_suggestion}"
    )


def _call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def _args(call: policy.ToolCall | policy.CopyCall | None) -> dict[str, Any] | None:
    return call.arguments() if call else None


def _dicts(executed: list[ExecutedCall]) -> list[dict[str, Any]] | None:
    return [c.to_dict() for c in executed] or None
