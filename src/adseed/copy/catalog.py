"""Briefs from product-catalogue records whose description is HTML (as retailer feeds ship it).

The HTML is read with the standard library's tokenising parser, never rendered or
evaluated: text inside ``<script>``/``<style>`` is dropped, entities are decoded, and
only text survives. Benefits are the description's list items; a description with
no list gives its sentences instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from typing import Any

from adseed.copy.brief import Brief, parse_brief
from adseed.copy.text import clean

_BLOCKS = {"p", "div", "br", "ul", "ol", "li", "h1", "h2", "h3", "h4", "tr", "table"}
_SKIP = {"script", "style", "template", "noscript"}
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
MAX_BENEFITS = 6
# Spec lines, not selling points: "Dimensions: 5.5 L x 5.21 W", "Ingredients: …".
_NOT_A_BENEFIT = re.compile(
    r"(key benefits|features|dimensions|size|weight|ingredients|guaranteed analysis"
    r"|directions|feeding guide|caution|warning)\b", re.IGNORECASE)
_MAX_BENEFIT_CHARS = 300


class _TextAndItems(HTMLParser):
    """Collects the text of each ``<li>`` and of everything else, tags dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[str] = []
        self.paragraphs: list[str] = []
        self._item: list[str] | None = None
        self._para: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag == "li":
            self._item = []
        elif tag in _BLOCKS:
            self._flush_para()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "li" and self._item is not None:
            self.items.append(clean(" ".join(self._item)))
            self._item = None
        elif tag in _BLOCKS:
            self._flush_para()

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        (self._item if self._item is not None else self._para).append(data)

    def _flush_para(self) -> None:
        text = clean(" ".join(self._para))
        if text:
            self.paragraphs.append(text)
        self._para = []

    def close(self) -> None:
        super().close()
        self._flush_para()


def strip_html(html: str) -> tuple[list[str], list[str]]:
    """(list items, other paragraphs) of an HTML fragment, as plain text."""
    parser = _TextAndItems()
    parser.feed(html)
    parser.close()
    return [i for i in parser.items if i], parser.paragraphs


def benefits_from_html(html: str, limit: int = MAX_BENEFITS) -> list[str]:
    """Up to ``limit`` benefits: list items, else the paragraphs' sentences.

    Headings such as "Key Benefits:" are not benefits; sentences longer than a brief
    allows are cut at a sentence end, never mid-word (and skipped if one sentence is).
    """
    items, paragraphs = strip_html(html)
    candidates = items or [s for p in paragraphs for s in _SENTENCE.split(p)]
    out = []
    for text in candidates:
        text = text.strip()
        if not text or text.endswith(":") or _NOT_A_BENEFIT.match(text):
            continue
        if len(text) > _MAX_BENEFIT_CHARS:
            text = _first_sentences(text, _MAX_BENEFIT_CHARS)
        if text:
            out.append(text)
    return out[:limit]


def _first_sentences(text: str, limit: int) -> str:
    kept = ""
    for sentence in _SENTENCE.split(text):
        joined = f"{kept} {sentence}".strip()
        if len(joined) > limit:
            break
        kept = joined
    return kept


def brand_from_name(name: str) -> str | None:
    """The brand a catalogue name ends with ("… Cat Food by ACANA" → "ACANA"), if any."""
    match = re.search(r"\s+by\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)\s*$", clean(name))
    return match.group(1) if match else None


def brief_from_product(
    record: Mapping[str, Any],
    *,
    advertiser: str | None = None,
    audience: str | None = None,
    tone: str = "friendly",
    cta: str = "shop",
    must_avoid: Sequence[str] = (),
    placements: Sequence[str] = ("meta-feed",),
) -> Brief:
    """A checked brief for one catalogue record (``name``, ``category``, ``description_html``).

    ``brand`` is the name's "by <Brand>" suffix, else ``advertiser`` (whoever runs
    the ad; display ads need a business name).
    """
    name = clean(str(record.get("name", "")))
    data: dict[str, Any] = {
        "product": name,
        "benefits": benefits_from_html(str(record.get("description_html", ""))),
        "tone": tone,
        "cta": cta,
        "must_avoid": list(must_avoid),
        "placements": list(placements),
    }
    category = " ".join(str(record.get(k, "")) for k in ("category", "subcategory")).strip()
    if category:
        data["category"] = category
    brand = brand_from_name(name) or advertiser
    if brand:
        data["brand"] = brand
    if audience:
        data["audience"] = audience
    return parse_brief(data, source=f"product {record.get('id', name)!s}")
