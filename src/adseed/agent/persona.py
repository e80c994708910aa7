"""The offline default chat model: a persona library matched with MiniLM, intents by example.

``propose`` finds the segment archetype whose example texts lie nearest the segment
and offers its pet + setting proposals in order, skipping what was already tried and
honouring what the marketer pinned. ``read`` classifies a reply against example
replies (``data/intents.json``) and picks slot values out of it. Both data files are
plain JSON meant to be edited; the setting ``persona_library`` points at another copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from adseed.agent.chat import Brief, Intent, Proposal, ReadContext, Reading
from adseed.agent.copyask import benefits_in, placement_in
from adseed.agent.encoding import TextEncoder, shared_minilm
from adseed.agent.intents import (
    INTENT_FLOOR,
    SLOT_FLOOR,
    Entry,
    IntentMatcher,
    SlotVocabulary,
    looks_like_gibberish,
    normalise,
)
from adseed.errors import ConfigError

if TYPE_CHECKING:
    from adseed.config import Settings

SURE = 0.7  # an intent this close to its examples is trusted even for odd words ("meh")
MARGIN = 0.05  # accept vs reject closer than this: ask again rather than guess
NEGATED_FLOOR = 0.3  # a negated reply must still look like a yes/no answer at all
_NEGATION = {"not", "no", "nope", "nah", "never", "don", "isn", "doesn", "aren", "won", "t"}
SEGMENT_FLOOR = 0.25  # a segment must be at least this near some archetype example
REDIRECTS = {"redirect_pet": "pet", "redirect_setting": "setting", "redirect_product": "product"}
TEMPLATES = {"pet": "a photo of a {}", "setting": "a photo {}", "product": "a {}"}


@dataclass(frozen=True)
class Archetype:
    id: str
    label: str
    why: str
    examples: tuple[str, ...]
    proposals: tuple[Proposal, ...]


def _load_json(path: Path | None, package_file: str) -> dict[str, Any]:
    try:
        if path is None:
            text = resources.files("adseed.agent").joinpath(f"data/{package_file}").read_text()
        else:
            text = path.read_text()
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path or package_file}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path or package_file}: expected a JSON object")
    return data


def parse_library(data: dict[str, Any], where: str) -> tuple[list[Archetype], dict[str, list]]:
    """Archetypes and slot entries from a persona file, with a clear error for bad ones."""
    try:
        archetypes = [
            Archetype(
                a["id"], a["label"], a["why"], tuple(a["examples"]),
                tuple(Proposal(p["pet"], p["setting"], p["reason"], a["id"])
                      for p in a["proposals"]),
            )  # fmt: skip
            for a in data["archetypes"]
        ]
        slots = {
            kind: [Entry(e["name"], tuple(e.get("aliases", ())), e.get("query", ""),
                         tuple(e.get("benefits", ())))
                   for e in data[key]]
            for kind, key in (("pet", "pets"), ("setting", "settings"), ("product", "products"))
        }  # fmt: skip
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{where}: malformed persona library (missing or bad {exc})") from exc
    if not archetypes or any(not a.examples or not a.proposals for a in archetypes):
        raise ConfigError(f"{where}: every archetype needs examples and proposals")
    return archetypes, slots


class PersonaChatModel:
    """Proposals from the persona library, replies read by example. Deterministic, offline."""

    name = "persona"

    def __init__(
        self, library: dict[str, Any], intents: dict[str, Any], encoder: TextEncoder, where: str
    ) -> None:
        self.archetypes, entries = parse_library(library, where)
        self.encoder = encoder
        examples = [(i, t) for i, a in enumerate(self.archetypes) for t in a.examples]
        self._example_owner = np.array([i for i, _ in examples])
        self._example_vectors = encoder.encode([t for _, t in examples])
        self.intents = IntentMatcher(encoder, {k: v for k, v in intents.items() if k[:1] != "_"})
        self.slots = {k: SlotVocabulary(encoder, v, TEMPLATES[k]) for k, v in entries.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> PersonaChatModel:
        path = Path(settings.persona_library).expanduser() if settings.persona_library else None
        library = _load_json(path, "personas.json")
        intents = _load_json(None, "intents.json")
        return cls(library, intents, shared_minilm(), str(path or "personas.json"))

    # -- proposals ------------------------------------------------------------------------

    def propose(self, brief: Brief) -> Proposal | None:
        if looks_like_gibberish(brief.segment, self.encoder.vocabulary):
            return None
        vector = self.encoder.encode([brief.segment])[0]
        ranked = self._rank_archetypes(vector)
        if ranked[0][1] < SEGMENT_FLOOR or self._off_topic(vector, ranked[0][1]):
            return None
        for index, _ in ranked:
            for proposal in self.archetypes[index].proposals:
                candidate = self._pinned(proposal, brief, self.archetypes[index])
                if candidate.prompt not in brief.avoid:
                    return candidate
        return self._pinned(self.archetypes[ranked[0][0]].proposals[0], brief, None)

    def _rank_archetypes(self, vector: np.ndarray) -> list[tuple[int, float]]:
        sims = self._example_vectors @ vector
        best = [float(sims[self._example_owner == i].max()) for i in range(len(self.archetypes))]
        order = np.argsort(best)[::-1]
        return [(int(i), best[int(i)]) for i in order]

    def _off_topic(self, vector: np.ndarray, segment_score: float) -> bool:
        """Closer to the off-topic examples ("tell me a joke") than to any archetype."""
        return self.intents.scores(vector).get("other", -1.0) > segment_score + 0.1

    @staticmethod
    def _pinned(proposal: Proposal, brief: Brief, archetype: Archetype | None) -> Proposal:
        if not brief.pet and not brief.setting:
            return proposal
        pet, setting = brief.pet or proposal.pet, brief.setting or proposal.setting
        asked = " and ".join(x for x in (brief.pet, brief.setting) if x)
        why = archetype.why if archetype else "it keeps the idea you liked"
        return Proposal(pet, setting, f"{asked}, as you asked: {why}", proposal.archetype)

    # -- replies --------------------------------------------------------------------------

    def read(self, reply: str, context: ReadContext) -> Reading:
        text = normalise(reply)
        if not text:
            return Reading(Intent.UNCLEAR, scores={"empty": 1.0})
        vector = self.encoder.encode([text])[0]
        scores = self.intents.scores(vector)
        ranked = sorted(scores, key=lambda k: -scores[k])
        best, runner_up = ranked[0], ranked[1]
        if scores[best] < SURE and looks_like_gibberish(reply, self.encoder.vocabulary):
            return Reading(Intent.UNCLEAR, scores={**scores, "gibberish": 1.0})
        if best == "copy" and scores[best] >= INTENT_FLOOR:
            return self._copy_request(reply, text, scores, context)
        found = {
            k: v for k, v in self._slots(text, vector, scores).items() if v not in context.prompt
        }  # "yes, I like the beagle" names the beagle already shown: no redirect
        if found and (best in REDIRECTS or max(scores[k] for k in REDIRECTS) >= INTENT_FLOOR - 0.1):
            return Reading(
                Intent.REDIRECT, pet=found.get("pet"), setting=found.get("setting"),
                product=found.get("product"), scores=scores,
            )  # fmt: skip
        # sentence embeddings barely see negation ("I'm not keen on that" sits as near
        # "love it" as "no"): a yes/no reply with a negation word is a no
        negated = best in ("accept", "reject") and _NEGATION & set(text.split())
        if negated and max(scores["accept"], scores["reject"]) >= NEGATED_FLOOR:
            return Reading(Intent.REJECT, scores=scores)
        if scores[best] < INTENT_FLOOR or best == "other" or best in REDIRECTS:
            return Reading(Intent.UNCLEAR, scores=scores)
        if {best, runner_up} == {"accept", "reject"} and scores[best] - scores[runner_up] < MARGIN:
            return Reading(Intent.UNCLEAR, scores=scores)  # too close to call: ask again
        return Reading(Intent(best), scores=scores)

    def _slots(self, text: str, vector: np.ndarray, scores: dict[str, float]) -> dict[str, str]:
        """Pet, setting and product named in a reply; products first ("puppy food" ≠ pet)."""
        found: dict[str, str] = {}
        rest = text
        for kind in ("product", "pet", "setting"):
            entry, rest = self.slots[kind].find_alias(rest)
            if entry is not None:
                found[kind] = entry.name
        best = max(REDIRECTS, key=lambda k: scores[k])
        kind = REDIRECTS[best]
        if kind not in found and scores[best] >= INTENT_FLOOR:
            # a clear "change the setting" that names none we know ("somewhere warmer"):
            # the nearest entry, with a lower bar the clearer the intent is
            floor = SLOT_FLOOR if scores[best] < SURE else 0.0
            entry = self.slots[kind].nearest(vector, floor)
            if entry is not None:
                found[kind] = entry.name
        return found

    def _copy_request(
        self, reply: str, text: str, scores: dict[str, float], context: ReadContext
    ) -> Reading:
        """A request for ad copy: the product named (or pinned) and what to stress; with
        no benefits named, the product's own from the persona library."""
        entry, _ = self.slots["product"].find_alias(text)
        product = entry.name if entry else context.product
        benefits = benefits_in(reply) or self._benefits_of(product)
        return Reading(
            Intent.COPY, product=product, benefits=benefits, placement=placement_in(reply),
            scores=scores,
        )  # fmt: skip

    def _benefits_of(self, product: str | None) -> tuple[str, ...]:
        for entry in self.slots["product"].entries:
            if entry.name == product:
                return entry.benefits
        return ()

    def product_query(self, name: str) -> str:
        """The text that finds a product's pack-shot among the brand images."""
        for entry in self.slots["product"].entries:
            if entry.name == name:
                return entry.query or entry.name
        return name
