"""The offline default writer: a template grammar filled from the brief, fitted word-safely.

Each field of each variant picks a template from its grammar group
(``data/grammar_en.yaml``) and fills its slots with the longest forms that fit the
placement's limit; when even the shortest forms of one template do not fit, it tries
the next template. Text is never cut: every slot form is a run of whole words (see
:mod:`adseed.copy.text`), so fitting means rephrasing, not truncating.

What "seed" means here: ``seed`` chooses where each field starts in its rotations
(templates, benefits, hooks, picture settings), through a hash of (brief, placement,
seed, field); variant ``k`` takes the ``k``-th step from there. So the same brief,
placement and seed always give the same words, variants of one run differ by
construction (and are checked to), and another seed gives another ordering.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import yaml

from adseed.copy.base import DISTINCT_FIELDS, CopyVariant
from adseed.copy.placements import FIELDS, Placement, business_name, button_label
from adseed.copy.text import (
    avoided_phrase,
    benefit_forms,
    capitalize,
    inline,
    product_forms,
    tidy,
    unique_longest_first,
)
from adseed.errors import InvalidInput

if TYPE_CHECKING:
    from adseed.config import Settings
    from adseed.copy.brief import Brief

_SLOT = re.compile(r"\{(\w+)\}")
_MAX_COMBOS = 4096  # forms per template; real briefs stay far below


@cache
def grammar() -> dict[str, Any]:
    text = files("adseed.copy").joinpath("data/grammar_en.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _offset(*parts: object) -> int:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _rotate(items: Sequence[Any], start: int) -> list[Any]:
    if not items:
        return []
    start %= len(items)
    return list(items[start:]) + list(items[:start])


def _keyword_match(words: set[str], table: dict[str, list[str]], default: str) -> str:
    for name, keywords in table.items():
        if words & set(keywords):
            return name
    return default


@dataclass(frozen=True)
class _Facts:
    """What the grammar needs from a brief, worked out once per brief."""

    products: list[str]
    benefits: list[list[str]]
    audiences: list[str]
    species: str
    kind: str
    proper: frozenset[str]

    @classmethod
    def of(cls, brief: Brief) -> _Facts:
        g = grammar()
        name_words = set(re.findall(r"[a-z]+", brief.product.casefold()))
        other = f"{brief.category or ''} {brief.audience or ''} {' '.join(brief.benefits)}"
        other_words = set(re.findall(r"[a-z]+", other.casefold()))
        species = _keyword_match(name_words, g["species_keywords"], "")
        species = species or _keyword_match(other_words, g["species_keywords"], "pet")
        kind = _keyword_match(name_words, g["kind_keywords"], "")
        kind = kind or _keyword_match(other_words, g["kind_keywords"], "other")
        proper = frozenset(w.casefold() for w in f"{brief.product} {brief.brand or ''}".split())
        audience = brief.audience or g["default_audience"].format(species=species)
        audiences = [inline(a, proper) for a in _audience_forms(audience)]
        return cls(
            products=product_forms(brief.product, brief.brand, brief.short_name),
            benefits=[benefit_forms(b) for b in brief.benefits],
            audiences=audiences,
            species=species,
            kind=kind,
            proper=proper,
        )


def _audience_forms(audience: str) -> list[str]:
    forms = [audience]
    for cut in (" who ", " that ", " with ", ", ", " looking ", " wanting "):
        head = audience.split(cut, 1)[0]
        if head != audience and len(head.split()) >= 2:
            forms.append(head)
    return unique_longest_first(forms)


class TemplateWriter:
    """Writes copy from the grammar alone: no model, no network, same seed → same words."""

    name = "template"
    languages = ("en",)

    @classmethod
    def from_settings(cls, settings: Settings) -> TemplateWriter:
        return cls()

    @property
    def writer_id(self) -> str:
        return f"template:v{grammar()['version']}"

    def write(self, brief: Brief, placement: Placement, n: int, seed: int) -> list[CopyVariant]:
        """``n`` variants for ``placement``, pairwise different, each within every limit."""
        if brief.language.split("-")[0].casefold() not in self.languages:
            raise InvalidInput(
                f"{brief.source}: the template writer writes English only, and this brief "
                f"asks for language {brief.language!r}; use a chat writer "
                f"(--writer openai) for other languages, or set language: en"
            )
        facts = _Facts.of(brief)
        business = business_name(brief.brand, placement, brief.source, brief.must_avoid)
        used: dict[str, set[str]] = {f: set() for f in FIELDS}
        variants = []
        for k in range(n):
            fields = _Variant(brief, placement, facts, seed, k).write(used)
            variants.append(CopyVariant(**fields, business_name=business))
        return variants


class _Variant:
    """One variant: fills each field in turn, avoiding the words earlier variants used."""

    def __init__(self, brief: Brief, placement: Placement, facts: _Facts, seed: int, k: int):
        self.brief, self.placement, self.facts, self.k = brief, placement, facts, k
        self.seed_key = (brief.sha256, placement.name, seed)
        self.taken: set[str] = set()  # this variant's own fields differ from each other

    def start(self, what: str) -> int:
        return _offset(*self.seed_key, what) + self.k

    def write(self, used: dict[str, set[str]]) -> dict[str, str]:
        out = {}
        for name in FIELDS:
            text = self.field(name, used[name])
            used[name].add(text.casefold())
            self.taken.add(text.casefold())
            out[name] = text
        return out

    def field(self, name: str, used: set[str]) -> str:
        spec = self.placement.fields[name]
        if spec.role == "cta_button":
            b = self.brief
            return button_label(b.cta, self.placement, b.source, b.must_avoid) or ""
        templates = self.templates(spec.role)
        distinct = name in DISTINCT_FIELDS or name == "image_suggestion"
        limit = spec.limit

        def fits(text: str) -> bool:
            return (self.placement.measure(name, text) <= limit
                    and avoided_phrase(text, self.brief.must_avoid) is None
                    and text.casefold() not in self.taken
                    and not (distinct and text.casefold() in used))

        for turn in range(len(self.facts.benefits)):  # then other benefits, if need be
            for template in _rotate(templates, self.start(name)):
                text = self.fill(template, turn, fits)
                if text is not None:
                    return text
        if name not in DISTINCT_FIELDS:  # a repeated picture or CTA line beats none
            for template in templates:
                text = self.fill(template, 0, lambda t: self.placement.measure(name, t) <= limit
                                 and avoided_phrase(t, self.brief.must_avoid) is None)
                if text is not None:
                    return text
        raise InvalidInput(
            f"{self.brief.source}: cannot write a {self.placement.name} {name} for variant "
            f"{self.k + 1} within {limit} characters that differs from the earlier variants "
            f"and avoids every must-avoid phrase; ask for fewer variants, or give more or "
            f"shorter benefits"
        )

    def templates(self, role: str) -> list[str]:
        g = grammar()
        if role == "cta_line":
            return list(g["cta_lines"][self.brief.cta])
        if role == "image":
            return list(g["image"]["templates"])
        return list(g["templates"][role])

    def fill(self, template: str, turn: int, fits: Callable[[str], bool]) -> str | None:
        """The fullest rendering of ``template`` that ``fits``, or None.

        Pictures keep the grammar's order instead (their slots rotate per variant and
        all fit), so the setting the audience implies comes first.
        """
        names = _SLOT.findall(template)
        options = [self.slot(n, turn) for n in names]
        if any(not o for o in options):
            return None
        combos = list(itertools.islice(itertools.product(*options), _MAX_COMBOS))
        if "subject" not in names:
            combos.sort(key=lambda c: -sum(len(v) for v in c))
        for combo in combos:
            text = tidy(_SLOT.sub(_filler(combo), template))
            if fits(text):
                return text
        return None

    def slot(self, name: str, turn: int) -> list[str]:
        """The forms a slot can take for this variant, longest first."""
        forms = self._slot(name.lower(), turn)
        if name[0].isupper():
            return [capitalize(f) for f in forms]
        return forms

    def _slot(self, name: str, turn: int) -> list[str]:
        g, facts, tone = grammar(), self.facts, self.brief.tone
        benefits = facts.benefits
        if name in ("benefit", "benefit2"):
            if name == "benefit2" and len(benefits) < 2:
                return []
            index = self.start("benefit") + turn + (1 if name == "benefit2" else 0)
            return benefits[index % len(benefits)]
        species = {"species": facts.species, "species_pl": g["species_plural"][facts.species]}
        if name in species:
            return [species[name]]
        if name == "product":
            return facts.products
        if name == "audience":
            return facts.audiences
        if name == "opener":
            return _rotate(g["openers"][tone], self.start("opener"))[:1]
        if name == "hook":
            hooks = _rotate(g["hooks"][tone], self.start("hook"))
            return [h.format(**species) for h in hooks[:2]]
        if name == "cta":
            return _rotate(g["cta_sentences"][self.brief.cta], self.start("cta"))
        return _image_slot(name, facts, tone, self.start(name), self.brief.audience)


def _filler(values: Sequence[str]) -> Callable[[re.Match[str]], str]:
    """A replacement function handing out ``values`` in slot order."""
    pending = iter(values)
    return lambda _match: next(pending)


def _image_slot(name: str, facts: _Facts, tone: str, start: int, audience: str | None) -> list[str]:
    img = grammar()["image"]
    if name == "subject":
        return _rotate(img["subjects"][facts.species], start)[:1]
    if name == "action":
        kind = "water" if facts.species == "fish" else facts.kind
        return _rotate(img["actions"][kind], start)[:1]
    if name == "setting":
        settings = list(img["settings"][tone])
        if facts.species == "fish":
            settings = list(img["water_settings"])
        elif facts.kind == "feeder":
            settings = list(img["garden_settings"])
        cue = _audience_setting(audience or "")
        rotated = _rotate(settings, start)
        return [cue, *rotated] if cue and facts.species != "fish" else rotated
    raise KeyError(f"grammar slot {{{name}}} is not defined")


def _audience_setting(audience: str) -> str | None:
    words = re.findall(r"[a-z]+", audience.casefold())
    for stem, setting in grammar()["image"]["audience_settings"].items():
        if any(w.startswith(stem) for w in words):
            return str(setting)
    return None
