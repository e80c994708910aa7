"""The conversation policy: a small deterministic state machine, no I/O.

The reference flow, exactly: the marketer names a segment → a pet + setting is
proposed with a reason → "yes" retrieves and shows seed 0 → "not quite" shows seed 1,
then 2, from the same three (no new query) → after three rejections a new description
is proposed *and* queried → "yes" generates with the shown seed_index and shows the
ad. A redirect ("make it a cat", "somewhere snowy", "use the puppy food bag") may come
at any point, and so may a request for the ad's words ("write the copy for the puppy
food: grain free, real chicken"): the second tool writes them, and the ad made next
(or remade at once, when one is on screen) carries their headline and call to action.
``step`` maps (state, reading) to the next state, the tool calls and the reply text,
so every rule here is testable without models, files or servers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from adseed.agent.chat import Brief, Intent, Proposal, Reading, Stage, article
from adseed.agent.tools import COPY_TOOL_NAME, TOOL_NAME
from adseed.copy.placements import DEFAULT_PLACEMENT

SEEDS = 3  # the tool retrieves the top three; seed_index runs 0..2
Proposer = Callable[[Brief], Proposal | None]


@dataclass(frozen=True)
class ToolCall:
    """One call of the image tool: ``generate_ad_image(prompt, seed_index, generate)``."""

    name: ClassVar[str] = TOOL_NAME
    prompt: str
    seed_index: int
    generate: bool
    product: str | None = None  # which brand image: chosen by the marketer, never by the model

    def arguments(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "seed_index": self.seed_index, "generate": self.generate}


@dataclass(frozen=True)
class CopyCall:
    """One call of the copy tool: ``write_ad_copy(product, benefits, placement)``."""

    name: ClassVar[str] = COPY_TOOL_NAME
    product: str
    benefits: tuple[str, ...]
    placement: str = DEFAULT_PLACEMENT
    audience: str = ""  # the conversation's segment: added by the agent, never by the model

    def arguments(self) -> dict[str, Any]:
        return {"product": self.product, "benefits": list(self.benefits),
                "placement": self.placement}  # fmt: skip


@dataclass(frozen=True)
class State:
    stage: Stage = Stage.START
    segment: str = ""
    proposal: Proposal | None = None
    seed_index: int = 0
    rejections: int = 0  # seeds rejected for the current description
    tried: tuple[str, ...] = ()  # prompts proposed so far, so new ones differ
    pet: str | None = None  # pinned by the marketer
    setting: str | None = None
    product: str | None = None
    headline: str | None = None  # from the copy tool: the ads made next carry them
    cta: str | None = None

    @property
    def prompt(self) -> str:
        return self.proposal.prompt if self.proposal else ""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stage"] = self.stage.value
        data["tried"] = list(self.tried)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        proposal = data.get("proposal")
        return cls(
            stage=Stage(data.get("stage", "start")),
            segment=str(data.get("segment", "")),
            proposal=Proposal.from_dict(proposal) if proposal else None,
            seed_index=int(data.get("seed_index", 0)),
            rejections=int(data.get("rejections", 0)),
            tried=tuple(data.get("tried", ())),
            pet=data.get("pet"),
            setting=data.get("setting"),
            product=data.get("product"),
            headline=data.get("headline"),
            cta=data.get("cta"),
        )


@dataclass(frozen=True)
class Step:
    """What one turn decided: the new state, the tool calls to make (if any), the reply.

    When both are set, the copy is written first, so the ad carries its headline.
    """

    state: State
    reply: str
    call: ToolCall | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # for the trace: why this step
    copy: CopyCall | None = None


ASK_SEGMENT = "Which audience segment is this ad for? Describe the people in a sentence."
UNCLEAR = {
    Stage.START: "I could not read that as an audience. " + ASK_SEGMENT,
    Stage.PROPOSED: "Sorry, I didn't catch that. Shall I look for photos of that idea "
    "(yes / no), or tell me what to change?",
    Stage.SEED: "Sorry, I didn't catch that. Use this photo for the ad (yes), see another "
    "(not quite), or tell me what to change?",
    Stage.FINAL: "Sorry, I didn't catch that. Say 'not quite' for another photo, tell me "
    "what to change, or 'start over' for a new segment.",
}


def step(state: State, reading: Reading, propose: Proposer, message: str = "") -> Step:
    """The next step of the conversation; ``message`` is the raw reply (a segment at START)."""
    if reading.intent is Intent.RESTART:
        return Step(State(), "Sure, let's start over. " + ASK_SEGMENT)
    if state.stage is Stage.START:
        return _start(state, message, propose)
    if reading.intent is Intent.UNCLEAR:
        return Step(state, _unclear(state, reading), notes={"unclear": True})
    if reading.intent is Intent.REDIRECT:
        return _redirect(state, reading, propose)
    if reading.intent is Intent.COPY:
        return _copy(state, reading)
    if state.stage is Stage.PROPOSED:
        return _on_proposal(state, reading, propose)
    if state.stage is Stage.FINAL and reading.intent is Intent.ACCEPT:
        return Step(state, "Glad you like it! Say 'start over' to work on another segment.")
    return _on_seed(state, reading, propose)


def _unclear(state: State, reading: Reading) -> str:
    return f"{reading.text}\n\n{UNCLEAR[state.stage]}" if reading.text else UNCLEAR[state.stage]


def _start(state: State, message: str, propose: Proposer) -> Step:
    segment = message.strip()
    proposal = propose(Brief(segment, state.pet, state.setting)) if segment else None
    if proposal is None:
        return Step(state, UNCLEAR[Stage.START], notes={"unclear": True})
    new = dataclasses.replace(
        State(product=state.product),
        stage=Stage.PROPOSED,
        segment=segment,
        proposal=proposal,
        tried=(proposal.prompt,),
    )
    return Step(new, _proposal_text(proposal) + " Shall I look for photos like that?")


def _proposal_text(p: Proposal) -> str:
    what = p.description or f"{article(p.pet)} {p.setting}"
    return f"How about {what}? {_sentence(p.reason)}"


def _on_proposal(state: State, reading: Reading, propose: Proposer) -> Step:
    if reading.intent is Intent.ACCEPT:
        new = dataclasses.replace(state, stage=Stage.SEED, seed_index=0, rejections=0)
        return Step(new, _seed_text(new), _call(new, 0, False))
    # a "no" to the idea itself: another idea, nothing retrieved yet
    proposal = _next_proposal(state, propose)
    new = dataclasses.replace(state, proposal=proposal, tried=state.tried + (proposal.prompt,))
    return Step(new, "Another idea: " + _proposal_text(proposal) + " Shall I look for photos?")


def _on_seed(state: State, reading: Reading, propose: Proposer) -> Step:
    if reading.intent is Intent.ACCEPT:
        new = dataclasses.replace(state, stage=Stage.FINAL)
        reply = f"Here is your ad, made from photo {state.seed_index + 1} of {SEEDS}."
        return Step(new, reply + " Happy with it?", _call(new, state.seed_index, True))
    if state.seed_index + 1 < SEEDS:  # not quite: the next of the same three, no new query
        nxt = state.seed_index + 1
        new = dataclasses.replace(
            state, stage=Stage.SEED, seed_index=nxt, rejections=state.rejections + 1
        )
        return Step(new, _seed_text(new), _call(new, nxt, False))
    # three rejections: a new description, queried at once
    proposal = _next_proposal(state, propose)
    new = dataclasses.replace(
        state,
        stage=Stage.SEED,
        proposal=proposal,
        seed_index=0,
        rejections=0,
        tried=state.tried + (proposal.prompt,),
    )
    reply = "None of those three worked, so let me try something else. " + _proposal_text(
        proposal
    )
    return Step(new, reply + " " + _seed_text(new), _call(new, 0, False), {"requery": True})


def _redirect(state: State, reading: Reading, propose: Proposer) -> Step:
    """A change in free text: re-propose with the pinned pet / setting, or swap the product."""
    pet, setting = reading.pet or state.pet, reading.setting or state.setting
    product = reading.product or state.product
    changes_photo = bool(reading.pet or reading.setting or reading.description)
    if product != state.product:  # copy written for another product no longer fits
        state = dataclasses.replace(state, headline=None, cta=None)
    if not changes_photo:  # only the product: the seed stays, the brand image changes
        new = dataclasses.replace(state, product=product)
        reply = f"Got it, the ad will feature the {product}."
        if state.stage is Stage.FINAL:
            call = _call(new, state.seed_index, True)
            return Step(new, reply + " Here is the new version.", call)
        return Step(new, reply + " " + UNCLEAR[state.stage].split(". ", 1)[1])
    if reading.description:
        reason = reading.text or "as you asked"
        proposal = Proposal(pet or "", setting or "", reason, description=reading.description)
    else:
        proposal = _next_proposal(dataclasses.replace(state, pet=pet, setting=setting), propose)
    new = dataclasses.replace(
        state, pet=pet, setting=setting, product=product, proposal=proposal,
        tried=state.tried + (proposal.prompt,),
    )  # fmt: skip
    if state.stage is Stage.PROPOSED:
        return Step(new, _proposal_text(proposal) + " Shall I look for photos like that?")
    new = dataclasses.replace(new, stage=Stage.SEED, seed_index=0, rejections=0)
    reply = "Sure. " + _proposal_text(proposal) + " " + _seed_text(new)
    return Step(new, reply, _call(new, 0, False), {"requery": True})


ASK_PRODUCT = (
    "Which product is the copy for, and what should it stress? For example: "
    "\u201cwrite copy for the puppy food bag: grain free, real chicken\u201d."
)
ASK_BENEFITS = (
    "What should the copy for the {product} stress? For example: "
    "\u201cwrite copy for the {product}: grain free, real chicken\u201d."
)


def _copy(state: State, reading: Reading) -> Step:
    """The ad's words: written now; an ad on screen is remade at once to carry them."""
    product = reading.product or state.product
    if not product:
        return Step(state, ASK_PRODUCT, notes={"copy": "no product"})
    if not reading.benefits:
        return Step(state, ASK_BENEFITS.format(product=product), notes={"copy": "no benefits"})
    new = dataclasses.replace(state, product=product)
    placement = reading.placement or DEFAULT_PLACEMENT
    copy = CopyCall(product, reading.benefits, placement, state.segment)
    if state.stage is Stage.FINAL:
        reply = "Here is the ad again, with that headline and call to action. Happy with it?"
        return Step(new, reply, _call(new, state.seed_index, True), copy=copy)
    return Step(new, UNCLEAR[state.stage].split(". ", 1)[1], copy=copy)


def _next_proposal(state: State, propose: Proposer) -> Proposal:
    brief = Brief(state.segment, state.pet, state.setting, avoid=state.tried)
    proposal = propose(brief)
    if proposal is None:  # the segment was usable before; keep the current idea
        assert state.proposal is not None
        return state.proposal
    return proposal


def _call(state: State, seed_index: int, generate: bool) -> ToolCall:
    return ToolCall(state.prompt, seed_index, generate, state.product)


def _seed_text(state: State) -> str:
    return (
        f"Here is photo {state.seed_index + 1} of {SEEDS} for \u201c{state.prompt}\u201d. "
        "Shall I make the ad with it, or is it not quite right?"
    )


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
