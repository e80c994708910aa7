"""Reading replies by example: nearest examples in MiniLM space, plus slot values.

Why examples and not keywords: marketers say "go for it", "that one's great", "hmm,
keep looking" — a keyword list never ends, while sentence embeddings put paraphrases
next to a handful of examples. An intent scores the mean similarity of its two
nearest examples (one lucky neighbour is not enough); the reply takes the best intent
when it clears a floor, else it is unclear. Slot values (which pet, setting, product)
are read from the data file's names and aliases first, then by embedding similarity,
so "make it a feline" still finds the cat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from adseed.agent.encoding import TextEncoder

INTENT_FLOOR = 0.4  # below: unclear; off-topic replies score 0.2-0.35, real ones 0.4-1
SLOT_FLOOR = 0.55  # an embedding-only slot value must be at least this close
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Entry:
    """A pet, setting or product the marketer may name: canonical name and aliases."""

    name: str
    aliases: tuple[str, ...]
    query: str = ""
    benefits: tuple[str, ...] = ()  # products: what copy stresses when none are named


class IntentMatcher:
    """Intent of a reply from its nearest examples."""

    def __init__(self, encoder: TextEncoder, examples: Mapping[str, Sequence[str]]) -> None:
        self.labels = list(examples)
        texts = [t for label in self.labels for t in examples[label]]
        self.owner = np.array([i for i, label in enumerate(self.labels) for _ in examples[label]])
        self.vectors = encoder.encode(texts)

    def scores(self, vector: np.ndarray) -> dict[str, float]:
        sims = self.vectors @ vector
        out = {}
        for i, label in enumerate(self.labels):
            top = np.sort(sims[self.owner == i])[-2:]
            out[label] = float(top.mean())
        return out


class SlotVocabulary:
    """One kind of slot (pets, settings or products): aliases, then embedding similarity."""

    def __init__(self, encoder: TextEncoder, entries: Sequence[Entry], template: str) -> None:
        self.entries = list(entries)
        pairs = [(alias.lower(), e) for e in self.entries for alias in (e.name, *e.aliases)]
        self.aliases = sorted(pairs, key=lambda p: -len(p[0]))  # longest first
        self.vectors = encoder.encode([template.format(e.name) for e in self.entries])

    def find_alias(self, text: str) -> tuple[Entry | None, str]:
        """The longest alias named in ``text`` and the text with that mention removed."""
        for alias, entry in self.aliases:
            match = re.search(rf"\b{re.escape(alias)}\b", text)
            if match:
                return entry, text[: match.start()] + " " + text[match.end() :]
        return None, text

    def nearest(self, vector: np.ndarray, floor: float = SLOT_FLOOR) -> Entry | None:
        if not self.entries:
            return None
        sims = self.vectors @ vector
        best = int(np.argmax(sims))
        return self.entries[best] if sims[best] >= floor else None


def looks_like_gibberish(text: str, vocabulary: set[str]) -> bool:
    """True when most words are not words at all ("asdfgh qwertz"): no model needed.

    The sentence model maps any string somewhere, so keyboard mashing must be caught
    before it: a reply whose words mostly miss MiniLM's 30k-entry vocabulary is noise.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return True
    long_words = [w for w in words if len(w) >= 3] or words
    known = sum(1 for w in long_words if w in vocabulary or w.rstrip("s") in vocabulary)
    return known / len(long_words) < 0.5


def normalise(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))
