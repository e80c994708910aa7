"""The one interface every chat model implements, what crosses it, and the registry.

The conversation *policy* is a deterministic state machine (``policy.py``); a chat
model only supplies language: ``propose`` turns a segment into a pet + setting with a
one-line reason, ``read`` turns a marketer's reply into an intent (accept, reject,
redirect …). Keeping the flow out of the model means a weak or offline model cannot
derail it, and a strong hosted one can only make the understanding better.
Built-in models register through the ``adseed.chat_models`` entry-point group like
third-party ones; the built-ins are also known without installed metadata.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from adseed import plugins

if TYPE_CHECKING:
    from adseed.config import Settings

BUILTIN = {
    "persona": "adseed.agent.persona:PersonaChatModel",
    "openai": "adseed.agent.openai_chat:OpenAIChatModel",
    "fake": "adseed.agent.fake:FakeChatModel",
}


class Stage(StrEnum):
    """Where the conversation stands (see ``policy.py``)."""

    START = "start"  # waiting for a segment
    PROPOSED = "proposed"  # a pet + setting proposed, waiting for yes / no / a change
    SEED = "seed"  # a seed photo shown, waiting for yes / not quite / a change
    FINAL = "final"  # the ad shown


class Intent(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    REDIRECT = "redirect"  # change the pet, the setting, the product or the description
    RESTART = "restart"
    COPY = "copy"  # write the ad's words (headline, text, CTA) for a product
    UNCLEAR = "unclear"  # nonsense or off-topic: ask again, change nothing


@dataclass(frozen=True)
class Proposal:
    """A pet and a setting for a segment, with the one-line reason shown to the marketer."""

    pet: str
    setting: str
    reason: str
    archetype: str = ""
    description: str = ""  # a model's own wording; default: "a <pet> <setting>"

    @property
    def prompt(self) -> str:
        """The text the retrieval tool gets: what the seed photo should show."""
        return self.description or f"{article(self.pet)} {self.setting}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proposal:
        return cls(**{k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__})


def article(noun: str) -> str:
    """ "a beagle", "an english setter"."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun if noun else "a pet"


@dataclass(frozen=True)
class Brief:
    """What ``propose`` gets: the segment, the marketer's pinned choices, what was tried."""

    segment: str
    pet: str | None = None
    setting: str | None = None
    avoid: tuple[str, ...] = ()  # prompts already shown and rejected


@dataclass(frozen=True)
class Reading:
    """A chat model's understanding of one reply."""

    intent: Intent
    pet: str | None = None
    setting: str | None = None
    product: str | None = None
    description: str | None = None  # a whole new description (hosted models word their own)
    benefits: tuple[str, ...] = ()  # for COPY: what the copy should stress
    placement: str | None = None  # for COPY: where the ad runs (meta-feed, google-rsa, …)
    text: str | None = None  # what the model itself said, shown when the reply is unclear
    scores: dict[str, float] = field(default_factory=dict)  # intent → similarity, for traces


@dataclass(frozen=True)
class ReadContext:
    """What a model may look at to read a reply: the stage and what is on screen."""

    stage: Stage
    segment: str
    prompt: str
    seed_index: int
    history: tuple[tuple[str, str], ...] = ()  # (role, text), most recent last
    product: str | None = None  # the product the marketer pinned, if any


@runtime_checkable
class ChatModel(Protocol):
    """Language for the agent. Same input → same output for the offline models."""

    name: str

    def propose(self, brief: Brief) -> Proposal | None:
        """A pet + setting for ``brief``; None when the segment text is not usable."""
        ...

    def read(self, reply: str, context: ReadContext) -> Reading:
        """The marketer's reply → an intent, plus any pet / setting / product it names; for
        a request for ad copy, the product and the benefits to stress."""
        ...


def available_chat_models() -> dict[str, str]:
    return plugins.registered("adseed.chat_models", BUILTIN)


def build_chat_model(name: str, settings: Settings) -> ChatModel:
    """The chat model registered under ``name``, built from the resolved settings."""
    model: ChatModel = plugins.build("adseed.chat_models", name, settings, "chat model", BUILTIN)
    return model
