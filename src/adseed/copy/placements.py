"""Where an ad runs, and how long each of its texts may be there.

Every variant has the same five fields (``headline``, ``title``, ``description``,
``cta``, ``image_suggestion``); a placement says which platform field each one fills
and that field's limit. The limits are the platforms' own, read from their docs:

- **google-rsa** (Google Ads responsive search ads): headlines 30 characters,
  descriptions 90 (Google Ads API ``ResponsiveSearchAdInfo``; Google Ads Help
  answer 7684791; "up to 15 headlines, 30 characters each; up to 4 descriptions,
  90 characters each"). RSAs have no button, so the call to action is written as a
  third headline asset (30).
- **display** (Google Ads responsive display ads): short headline 30, long headline
  90, description 90, business name 25 (Google Ads Help answer 17090561 "Responsive
  display ads specs": headlines 30, long headline 90, descriptions 90, business name
  25; API ``ResponsiveDisplayAdInfo``: ``business_name`` "maximum display width is
  25", ``call_to_action_text`` "maximum display width is 30").
- **meta-feed** (Facebook/Instagram feed, single image): primary text 125, headline
  40, description 30 (Meta Ads Guide, image ad, Facebook Feed, "Text
  recommendations"). These are Meta's *recommended* lengths, past which the text is
  cut with "See more" on mobile; we treat them as hard limits because copy that is
  cut mid-way is exactly what this stage must never produce. Third-party guides
  also quote 27 for the headline and 25-30 for the description; we keep Meta's own.
- **story** (Facebook/Instagram Stories, image): primary text 125, headline 40
  (Meta Ads Guide, Facebook Stories, "Text recommendations"). Stories show no
  description field; ``title`` is adseed's own overlay line, kept to the headline's 40.

Google counts *display width*: a double-width (CJK full-width) character counts 2
(the API's words "maximum display width"; Google and Microsoft ads both count
double-width characters twice). Meta counts characters.

Meta's call-to-action is a button chosen from a fixed list (Shop Now, Learn More,
Sign Up, Order Now, Subscribe, Get Offer, Book Now, Contact Us, …), so for
``meta-feed`` and ``story`` the ``cta`` is that button's label for the brief's
intent, never free text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from adseed.copy.text import avoided_phrase
from adseed.errors import InvalidInput

FIELDS = ("headline", "title", "description", "cta", "image_suggestion")
IMAGE_SUGGESTION_MAX = 100  # ours: a retrieval query / segment text, not a platform field

# Meta call-to-action buttons, by the brief's intent (Meta Ads Guide, CTA list).
META_BUTTONS = {
    "shop": "Shop Now",
    "order": "Order Now",
    "learn": "Learn More",
    "sign_up": "Sign Up",
    "subscribe": "Subscribe",
    "get_offer": "Get Offer",
    "book": "Book Now",
    "contact": "Contact Us",
}
CTA_INTENTS = tuple(META_BUTTONS)


@dataclass(frozen=True)
class FieldSpec:
    """One text field of one placement: its limit, how it is counted, what it becomes."""

    limit: int
    platform_field: str
    role: str  # which grammar group writes it: headline, tagline, long_headline, body, cta_line
    width: str = "chars"  # "chars" (Meta) or "display" (Google: double-width counts 2)


@dataclass(frozen=True)
class Placement:
    """A placement: its fields and, for the image, the ad format ``adseed generate`` draws."""

    name: str
    label: str
    fields: dict[str, FieldSpec]
    image_format: str | None
    cta_button: bool  # True: the CTA is a fixed platform button (Meta)
    business_name_limit: int | None = None  # display ads need the advertiser's name

    def measure(self, field: str, text: str) -> int:
        spec = self.fields[field]
        return display_width(text) if spec.width == "display" else len(text)

    def limit(self, field: str) -> int:
        return self.fields[field].limit


def _image_spec(width: str = "chars") -> FieldSpec:
    return FieldSpec(IMAGE_SUGGESTION_MAX, "(adseed generate segment text)", "image", width)


PLACEMENTS: dict[str, Placement] = {
    "meta-feed": Placement(
        "meta-feed",
        "Facebook/Instagram feed, single image",
        {
            "headline": FieldSpec(40, "Headline", "headline"),
            "title": FieldSpec(30, "Description", "tagline"),
            "description": FieldSpec(125, "Primary text", "body"),
            "cta": FieldSpec(20, "Call-to-action button", "cta_button"),
            "image_suggestion": _image_spec(),
        },
        image_format="1080x1350",
        cta_button=True,
    ),
    "story": Placement(
        "story",
        "Facebook/Instagram Stories, image",
        {
            "headline": FieldSpec(40, "Headline", "headline"),
            "title": FieldSpec(40, "(overlay line; Stories show no description)", "tagline"),
            "description": FieldSpec(125, "Primary text", "body"),
            "cta": FieldSpec(20, "Call-to-action button", "cta_button"),
            "image_suggestion": _image_spec(),
        },
        image_format="1080x1920",
        cta_button=True,
    ),
    "google-rsa": Placement(
        "google-rsa",
        "Google Ads responsive search ad",
        {
            "headline": FieldSpec(30, "Headline 1", "headline", "display"),
            "title": FieldSpec(30, "Headline 2", "tagline", "display"),
            "description": FieldSpec(90, "Description 1", "body", "display"),
            "cta": FieldSpec(30, "Headline 3 (call to action)", "cta_line", "display"),
            "image_suggestion": _image_spec(),
        },
        image_format=None,
        cta_button=False,
    ),
    "display": Placement(
        "display",
        "Google Ads responsive display ad",
        {
            "headline": FieldSpec(30, "Short headline", "headline", "display"),
            "title": FieldSpec(90, "Long headline", "long_headline", "display"),
            "description": FieldSpec(90, "Description", "body", "display"),
            "cta": FieldSpec(30, "Call to action text", "cta_line", "display"),
            "image_suggestion": _image_spec(),
        },
        image_format="1200x628",
        cta_button=False,
        business_name_limit=25,
    ),
}
DEFAULT_PLACEMENT = "meta-feed"


def get_placement(name: str) -> Placement:
    """The placement called ``name``, or one clear error naming the known ones."""
    try:
        return PLACEMENTS[name]
    except (KeyError, TypeError):
        known = ", ".join(PLACEMENTS)
        raise InvalidInput(f"unknown placement {name!r}: expected one of {known}") from None


def button_label(intent: str, placement: Placement, source: str = "brief",
                 must_avoid: Sequence[str] = ()) -> str | None:
    """Meta's button label for the CTA intent, or None where the CTA is free text.

    The label is fixed by the platform, so a must-avoid phrase inside it ("now" in
    "Shop Now") cannot be written around: the brief must pick another intent.
    """
    if not placement.cta_button:
        return None
    label = META_BUTTONS[intent]
    phrase = avoided_phrase(label, must_avoid)
    if phrase is not None:
        raise InvalidInput(f"{source}: {placement.name}'s call to action for {intent!r} is "
                           f"Meta's button {label!r}, which contains the must-avoid phrase "
                           f"{phrase!r}; choose another cta intent")
    return label


def business_name(brand: str | None, placement: Placement, source: str = "brief",
                  must_avoid: Sequence[str] = ()) -> str | None:
    """The advertiser's name as the placement shows it: whole words within its limit.

    Only display ads carry one (Google requires it); elsewhere this is None. A brand
    that contains one of the brief's must-avoid phrases cannot be shown, which is a
    contradiction in the brief, so it is an error rather than a silent omission.
    """
    limit = placement.business_name_limit
    if limit is None:
        return None
    if not brand:
        raise InvalidInput(
            f"{source}: placement {placement.name!r} needs the brief's 'brand' "
            f"(Google responsive display ads show a business name of at most {limit})"
        )
    words = brand.split()
    for end in range(len(words), 0, -1):
        candidate = " ".join(words[:end])
        if display_width(candidate) > limit:
            continue
        phrase = avoided_phrase(candidate, must_avoid)
        if phrase is not None:
            raise InvalidInput(f"{source}: the brand {candidate!r} contains the must-avoid "
                               f"phrase {phrase!r}, and {placement.name} ads must show it")
        return candidate
    raise InvalidInput(f"{source}: brand {brand!r} does not fit the business name's "
                       f"{limit} characters; shorten it")


def display_width(text: str) -> int:
    """Characters, with East Asian wide and full-width ones counted twice (Google's rule)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
