"""What a marketer's request for ad copy names, read without a model.

"write copy for the puppy food bag: grain free, real chicken and no fillers" →
benefits ("grain free", "real chicken", "no fillers"); "… for google search" → the
``google-rsa`` placement. The offline chat models (persona, fake) use this; a hosted
model puts the same things in its ``write_ad_copy`` call. The product itself is a
slot value each model finds its own way (aliases, embeddings).
"""

from __future__ import annotations

import re

# words that introduce what the copy should stress, when there is no colon
_LEAD_IN = re.compile(
    r"\b(?:stress(?:ing)?|highlight(?:ing)?|mention(?:ing)?|focus(?:ing)? on|"
    r"that (?:it is|it's|they are|they're)|saying)\b\s*",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"\s*(?:[,;/]|\band\b|\bplus\b|\u2022)\s*", re.IGNORECASE)
_PLACEMENT_WORDS = (  # checked in order: the first mention wins
    ("google-rsa", r"\b(?:google search|search ads?|rsa|responsive search)\b"),
    ("display", r"\b(?:display|banner|google display)\b"),
    ("story", r"\b(?:stor(?:y|ies)|reels?)\b"),
    ("meta-feed", r"\b(?:meta|facebook|instagram|feed)\b"),
)
MAX_BENEFITS = 6
MAX_BENEFIT_CHARS = 120


def benefits_in(text: str) -> tuple[str, ...]:
    """The benefits a request lists after a colon or a lead-in ("stressing …"), in order."""
    _, colon, after = text.partition(":")
    if not colon:
        match = _LEAD_IN.search(text)
        if match is None:
            return ()
        after = text[match.end() :]
    parts = [p.strip(" .!?\"'\u201c\u201d") for p in _SPLIT.split(after)]
    found: list[str] = []
    for part in parts:
        if part and len(part) <= MAX_BENEFIT_CHARS and part.lower() not in map(str.lower, found):
            found.append(part)
    return tuple(found[:MAX_BENEFITS])


def placement_in(text: str) -> str | None:
    """The placement a request names ("for google search", "a story"), if any."""
    lowered = text.lower()
    for name, pattern in _PLACEMENT_WORDS:
        if name in lowered or re.search(pattern, lowered):
            return name
    return None
