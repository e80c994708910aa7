"""Briefs built from the shared product catalogue, and the platforms' limits written out again.

The limits are copied here from the platforms' docs on purpose, not imported from
``adseed.copy.placements``: a test that read the module's own numbers could not
catch a wrong number in the module.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from adseed.copy.brief import TONES, Brief
from adseed.copy.catalog import brief_from_product
from adseed.copy.placements import CTA_INTENTS

ADVERTISER = "Northpaw Pet Supply"  # a fictional shop running the ads (display needs a name)
GENERIC_AVOID = ["cheap", "guaranteed", "best in class", "miracle", "cure"]
AUDIENCES = {
    "cat": "indoor cat owners",
    "dog": "dog owners who walk every day",
    "bird": "backyard bird watchers",
    "fish": "home aquarium keepers",
}
# field → (limit, counts double-width characters twice)
LIMITS = {
    "google-rsa": {"headline": 30, "title": 30, "description": 90, "cta": 30},
    "display": {"headline": 30, "title": 90, "description": 90, "cta": 30,
                "business_name": 25},
    "meta-feed": {"headline": 40, "title": 30, "description": 125},
    "story": {"headline": 40, "description": 125},
}


def own_phrase(brief: Brief) -> str:
    """The longest word of the first benefit: an avoided phrase the writer must work around.

    Not a word of the brand: display ads must show the brand, so that brief would be a
    contradiction (tested on its own in test_copy_template.py).
    """
    brand = (brief.brand or "").casefold().split()
    words = [w for w in re.findall(r"[A-Za-z]{5,}", brief.benefits[0])
             if w.casefold() not in brand]
    return max(words, key=len) if words else "quality"


def product_briefs(datasets: Path, count: int = 20) -> list[Brief]:
    """``count`` briefs from products.json, every other product so every category is in.

    Tones and CTA intents rotate so the sample covers all of them; every brief avoids
    the generic phrases plus one word of its own first benefit.
    """
    records = json.loads((datasets / "products" / "products.json").read_text())
    chosen = records[::2][:count]
    briefs = []
    for i, record in enumerate(chosen):
        draft = brief_from_product(record, advertiser=ADVERTISER)
        aquatic = any(w in record["name"].casefold() for w in ("fish", "krill", "betta"))
        species = "fish" if aquatic else record["category"].split()[0]
        briefs.append(brief_from_product(
            record,
            advertiser=ADVERTISER,
            audience=AUDIENCES.get(species),
            tone=TONES[i % len(TONES)],
            cta=CTA_INTENTS[i % len(CTA_INTENTS)],
            must_avoid=[*GENERIC_AVOID, own_phrase(draft)],
            placements=list(LIMITS),
        ))
    return briefs


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def squash(text: str) -> str:
    """Lower case, every run of non-letters one space: how a reader sees a phrase."""
    return " " + re.sub(r"[\W_]+", " ", text.casefold()).strip() + " "
