"""Text helpers shared by every writer: must-avoid matching and word-safe shorter forms.

Shorter forms are how copy fits a limit without ever cutting a word: a product name
loses its leading words down to its head noun phrase ("ACANA Wild Coast Dog Food" →
"Wild Coast Dog Food" → "Dog Food"), a benefit loses its trailing clause at a phrase
boundary ("Omega-3 and Omega-6 to support healthy skin" → "Omega-3 and Omega-6").
Every form is a run of whole words from the original.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
# Words a shortened phrase must neither start nor end with: it would dangle.
CONNECTORS = frozenset([
    "a", "an", "and", "&", "or", "of", "for", "with", "by", "to", "in", "on", "at", "the",
    "from", "-", "–", "—", "+", "your", "our", "its", "their",
])
# Clause boundaries where a benefit may be shortened (keeping what comes before). A
# comma is not one: it splits lists ("Turkey, Salmon and Duck" → "Turkey") and
# subordinate clauses ("If used properly, will not cloud water" → "If used properly").
# " to " alone is not one either ("meant to eat" → "meant"); " to <purpose verb>" is.
_CLAUSE_CUT = re.compile(
    r": | – | — | - | \(|; | for | with | that | which | so | while | plus "
    r"|, (?:making|helping|giving|allowing|keeping|providing|ensuring|offering|so|which)\b"
    r"| to (?:support|help|promote|maintain|keep|reduce|improve|provide|ensure|encourage"
    r"|aid|boost|deliver|nourish|simulate|clean|freshen|give|make)\b"
)
# ", making it easy to digest" is a trailing clause, so a comma before one is a boundary.
# A shortened clause ending on one of these has lost its point ("Krill Gold is packed").
_DANGLING_END = re.compile(
    r"(ed|is|are|was|were|be|been|has|have|can|will|also|more|just|great|able|helping"
    r"|making|allowing|enabling|keeping)$",
    re.IGNORECASE,
)
# Words that keep a three-word tail a real name ("Adult Cat Food", "Wild Bird Feeder");
# other tails cut a name in two ("Coast Dog Food" from "Wild Coast Dog Food").
_HEAD_MODIFIERS = frozenset([
    "adult", "puppy", "kitten", "senior", "indoor", "outdoor", "dental", "wild", "small",
    "large", "natural", "dry", "wet", "training", "calming", "chew", "grain-free",
    "freeze-dried", "limited", "sensitive",
])
_SIZE_WORD = re.compile(r"^(x*-?small|medium|x*-?large|xl|xxl|mini|jumbo|\d+(\.\d+)?"
                        r"(in|cm|mm|lb|lbs|kg|g|oz|ml|l|pk|pack|ct)?)$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def normalize_for_match(text: str) -> str:
    """NFKC, case-folded, every run of non-word characters one space, padded by spaces.

    Must-avoid matching runs on this form so "Best-in-class", "BEST IN CLASS" and
    "best  in class" are one phrase; the padding lets a phrase match at either end.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " " + _NON_WORD.sub(" ", folded).strip() + " "


def avoided_phrase(text: str, must_avoid: Iterable[str]) -> str | None:
    """The first must-avoid phrase present in ``text`` (as a substring, case-insensitive)."""
    haystack = normalize_for_match(text)
    for phrase in must_avoid:
        needle = normalize_for_match(phrase).strip()
        if needle and needle in haystack:
            return phrase
    return None


def clean(text: str) -> str:
    """One line: whitespace collapsed, footnote stars and stray spaces before punctuation gone."""
    text = unicodedata.normalize("NFKC", text).replace("*", "")
    text = _SPACES.sub(" ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return text


def dedupe_words(words: Sequence[str]) -> list[str]:
    """Drop a word repeated right after itself ("Dog Toy Toy" → "Dog Toy")."""
    out: list[str] = []
    for word in words:
        if not out or out[-1].casefold() != word.casefold():
            out.append(word)
    return out


def _trim_connectors(words: list[str]) -> list[str]:
    while words and words[0].casefold() in CONNECTORS:
        words = words[1:]
    while words and words[-1].casefold() in CONNECTORS:
        words = words[:-1]
    return words


def product_forms(name: str, brand: str | None = None, short_name: str | None = None) -> list[str]:
    """The product's name, then shorter whole-word forms ending in its head noun phrase.

    English puts the head noun last ("… Adult Cat Food"), so the short forms are the
    name without its brand, then its last three and last two words. Middle cuts
    ("Rice Recipe Adult Cat Food") read as mistakes, so there are none. A trailing
    "by <Brand>" and a trailing size ("Large", "5in") are dropped first.
    """
    base = re.sub(r"\s+by(\s+[A-Z][\w'-]*){1,2}\s*$", "", clean(name))
    base = re.sub(r"\s+by\s*$", "", base, flags=re.IGNORECASE) or clean(name)
    words = dedupe_words(base.split())
    while len(words) > 2 and _SIZE_WORD.match(words[-1]):
        words = words[:-1]
    forms = [" ".join(words)]
    if brand and base.casefold().startswith(clean(brand).casefold() + " "):
        forms.append(base[len(clean(brand)) + 1 :])
    for size in (3, 2):
        tail = words[-size:]
        before = words[-size - 1] if len(words) > size else ""
        dangling = {tail[0].casefold(), before.casefold()} & CONNECTORS
        named = size == 2 or tail[0].casefold() in _HEAD_MODIFIERS
        if len(words) > size and named and not dangling and not _SIZE_WORD.match(tail[0]):
            forms.append(" ".join(tail))
    if short_name:
        forms.append(clean(short_name))
    return unique_longest_first(forms)


def benefit_forms(benefit: str) -> list[str]:
    """A benefit, its first sentence, and shorter forms cut at clause boundaries."""
    text = clean(benefit).rstrip(".!;:, ")
    forms = [text]
    first_sentence = _SENTENCE_END.split(text)[0].rstrip(".!?")
    forms.append(first_sentence)
    label, sep, rest = first_sentence.partition(": ")
    if sep and rest:
        forms += [label, rest.rstrip(".")]
    for form in list(forms):
        for cut in _CLAUSE_CUT.finditer(form):
            head = _trim_connectors(form[: cut.start()].split())
            if len(head) >= 2 and not _DANGLING_END.search(head[-1]):
                forms.append(" ".join(head))
    return [f for f in unique_longest_first(forms) if len(f) >= 3]


def unique_longest_first(forms: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for form in sorted((f.strip() for f in forms), key=len, reverse=True):
        key = form.casefold()
        if form and key not in seen:
            seen.add(key)
            out.append(form)
    return out


def inline(text: str, proper: frozenset[str] = frozenset()) -> str:
    """``text`` as it reads mid-sentence: a Title-case first word is lower-cased.

    "Grain-Free and Gluten-Free" → "grain-free and Gluten-Free" would be wrong, so
    only the first word changes, and only when it is plain Title case and not one of
    the ``proper`` words (product and brand names keep their capitals).
    """
    first, sep, rest = text.partition(" ")
    if first.casefold() in proper or not re.fullmatch(r"[A-Z][a-z']+(-[A-Za-z][a-z']*)*", first):
        return text
    return first.lower() + sep + rest


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def tidy(text: str) -> str:
    """Fix the joins templates leave: doubled punctuation, space before punctuation."""
    text = _SPACES.sub(" ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([.!?])[.]+", r"\1", text)
    text = re.sub(r"[:;,]\.", ".", text)
    text = re.sub(r"([!?])[.!?]+", r"\1", text)
    return text
