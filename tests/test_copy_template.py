"""The offline template writer, the word-safe shorteners and the contract every writer meets."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest

from adseed.copy import headline_and_cta
from adseed.copy.base import CopyVariant, problems
from adseed.copy.brief import parse_brief
from adseed.copy.placements import PLACEMENTS, display_width, get_placement
from adseed.copy.service import write_copy
from adseed.copy.template import TemplateWriter
from adseed.copy.text import avoided_phrase, benefit_forms, product_forms
from adseed.errors import InvalidInput

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "brief-trail-harness.yaml"
BASE = {
    "product": "Ridgeline Trail Harness",
    "brand": "Northpaw Outfitters",
    "benefits": ["Padded chest plate that spreads pull evenly",
                 "Reflective trim for early-morning walks",
                 "Quick-release buckles for fast on and off"],
    "audience": "dog owners who hike on weekends",
}
WRITER = TemplateWriter()


def _words(text: str) -> list[str]:
    return text.split()


@pytest.mark.parametrize("text", [
    "Performatrin Ultra Wholesome Grains Lamb & Brown Rice Recipe Adult Cat Food",
    "KONG Squeezz Goomz Ball Dog Toy by KONG",
    "Calmeroos Puppy Calming Heartbeat Dog Toy Toy",
    "Ark Naturals Brushless Toothpaste Dental Chew Large",
])
def test_product_forms_are_whole_word_runs_of_the_name(text: str) -> None:
    words = _words(text)
    forms = product_forms(text)
    assert forms[0] != text or "by" not in words  # "by KONG" is dropped first
    for form in forms:
        n = len(_words(form))
        runs = {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}
        assert form in runs or form.replace(" Toy", "", 0) in runs, form
    assert all(len(a) >= len(b) for a, b in zip(forms, forms[1:], strict=False))


@pytest.mark.parametrize("text", [
    "Omega-3 and Omega-6 to support healthy skin and coat",
    "Biologically Appropriate: The protein-powered diet your cat is meant to eat.",
    "Krill Gold is packed with marine proteins, making it very easy to digest.",
    "If used properly, will not cloud water",
])
def test_benefit_forms_cut_only_at_phrase_boundaries(text: str) -> None:
    original = text.rstrip(".")
    for form in benefit_forms(text):
        assert form in original, form  # a prefix or a clause, never a cut word
        end = original.find(form) + len(form)
        assert end == len(original) or not original[end].isalnum(), form
    assert "If used properly" not in benefit_forms("If used properly, will not cloud water")[1:]
    assert "Krill Gold is packed" not in benefit_forms(text)


def test_same_brief_and_seed_give_the_same_copy_and_another_seed_other_copy() -> None:
    brief = parse_brief(BASE)
    for placement in PLACEMENTS.values():
        first = WRITER.write(brief, placement, 3, 0)
        assert first == TemplateWriter().write(parse_brief(dict(BASE)), placement, 3, 0)
        assert first != WRITER.write(brief, placement, 3, 1)


def test_variants_differ_and_fit_for_many_variants() -> None:
    brief = parse_brief(BASE)
    for name in ("meta-feed", "google-rsa"):
        placement = get_placement(name)
        variants = WRITER.write(brief, placement, 8, 0)
        assert problems(variants, brief, placement) == []
        assert len({v.headline for v in variants}) == 8


def test_must_avoid_phrases_from_the_brief_itself_are_avoided() -> None:
    brief = parse_brief({**BASE, "must_avoid": ["padded", "REFLECTIVE  trim", "harness"]})
    for placement in PLACEMENTS.values():
        for variant in WRITER.write(brief, placement, 3, 0):
            for text in variant.to_dict().values():
                assert avoided_phrase(text or "", brief.must_avoid) is None, text
                assert "harness" not in (text or "").casefold()


def test_a_brief_that_cannot_be_written_gets_one_clear_error() -> None:
    brief = parse_brief({**BASE, "must_avoid": ["e"]})  # every English line has an "e"
    with pytest.raises(InvalidInput, match="cannot write a meta-feed headline for variant 1"):
        WRITER.write(brief, get_placement("meta-feed"), 1, 0)


@pytest.mark.parametrize("language", ["fr", "de-CH"])
def test_other_languages_are_refused_clearly(language: str) -> None:
    brief = parse_brief({**BASE, "language": language})
    with pytest.raises(InvalidInput, match=f"English only.*'{language}'.*--writer openai"):
        WRITER.write(brief, get_placement("story"), 1, 0)


def test_english_variants_are_accepted() -> None:
    brief = parse_brief({**BASE, "language": "en-GB"})
    assert len(WRITER.write(brief, get_placement("story"), 2, 0)) == 2


def test_display_needs_a_brand_that_is_not_avoided() -> None:
    no_brand = parse_brief({k: v for k, v in BASE.items() if k != "brand"})
    with pytest.raises(InvalidInput, match="needs the brief's 'brand'"):
        WRITER.write(no_brand, get_placement("display"), 1, 0)
    avoided = parse_brief({**BASE, "must_avoid": ["northpaw"]})
    with pytest.raises(InvalidInput, match="brand 'Northpaw Outfitters' contains the must-avoid"):
        WRITER.write(avoided, get_placement("display"), 1, 0)
    long_brand = parse_brief({**BASE, "brand": "Northpaw Outfitters and Supply Company"})
    assert WRITER.write(long_brand, get_placement("display"), 1, 0)[0].business_name == \
        "Northpaw Outfitters and"


def test_an_avoided_word_in_meta_s_fixed_button_is_a_clear_error() -> None:
    brief = parse_brief({**BASE, "must_avoid": ["now"]})
    with pytest.raises(InvalidInput, match="button 'Shop Now', which contains .*'now'"):
        WRITER.write(brief, get_placement("meta-feed"), 1, 0)
    rsa = WRITER.write(brief, get_placement("google-rsa"), 3, 0)  # free text: written around
    assert all("now" not in v.cta.casefold() for v in rsa)


def test_double_width_characters_count_twice_on_google() -> None:
    brief = parse_brief({**BASE, "product": "抹茶の猫おやつ Matcha Cat Treats",
                         "benefits": ["国産の抹茶を使ったやさしい味",
                                      "Soft treats for senior cats"]})
    placement = get_placement("google-rsa")
    assert display_width("抹茶") == 4
    for variant in WRITER.write(brief, placement, 3, 0):
        assert display_width(variant.headline) <= 30 and display_width(variant.description) <= 90


def test_long_benefits_are_rephrased_not_cut() -> None:
    long = ("Made with responsibly sourced salmon for a glossy coat, with added taurine and "
            "vitamin E; gentle on sensitive stomachs")
    brief = parse_brief({"product": "Salmon Supper", "benefits": [long, "Small kibble"]})
    grammar = files("adseed.copy").joinpath("data/grammar_en.yaml").read_text()
    vocabulary = set(re.findall(r"\w+", f"{long} Salmon Supper Small kibble {grammar}".casefold()))
    for variant in WRITER.write(brief, get_placement("google-rsa"), 3, 0):
        assert display_width(variant.headline) <= 30
        assert display_width(variant.description) <= 90
        for text in (variant.headline, variant.title, variant.description):
            assert set(re.findall(r"\w+", text.casefold())) <= vocabulary, text


def test_image_suggestion_follows_the_audience_and_species() -> None:
    brief = parse_brief(BASE)
    variants = WRITER.write(brief, get_placement("story"), 3, 0)
    assert all("dog" in v.image_suggestion and "trail" in v.image_suggestion for v in variants)
    fish = parse_brief({"product": "Betta Pellets Fish Food", "benefits": ["Floating pellets"]})
    assert "aquarium" in WRITER.write(fish, get_placement("story"), 1, 0)[0].image_suggestion \
        or "tank" in WRITER.write(fish, get_placement("story"), 1, 0)[0].image_suggestion


def test_problems_names_every_kind_of_break() -> None:
    brief = parse_brief({**BASE, "must_avoid": ["cheap"]})
    placement = get_placement("display")
    good = CopyVariant("Trail Harness", "A long headline", "Padded. Shop now.", "Shop Now",
                       "a dog on a trail", "Northpaw")
    bad = CopyVariant("x" * 31, "A long headline", "Cheap, padded. Shop now.", "Shop Now", " ",
                      None)
    found = problems([good, bad], brief, placement)
    assert "variant 2: headline is 31 characters; at most 30" in found
    assert "variant 2: description contains the banned phrase 'cheap'" in found
    assert "variant 2: image_suggestion is empty" in found
    assert "variant 2: business_name is missing" in found
    assert "variants 1 and 2 have the same title" in found
    assert problems([good], brief, placement) == []


def test_headline_and_cta_for_generate() -> None:
    headline, cta = headline_and_cta(EXAMPLE)
    assert (headline, cta) == headline_and_cta(str(EXAMPLE))  # deterministic
    assert len(headline) <= 40 and cta == "Shop Now"  # the brief's first placement: meta-feed
    rsa_headline, rsa_cta = headline_and_cta(EXAMPLE, "google-rsa")
    assert display_width(rsa_headline) <= 30 and display_width(rsa_cta) <= 30
    assert headline_and_cta(dict(BASE)) == headline_and_cta(parse_brief(BASE))
    with pytest.raises(InvalidInput, match="unknown placement 'tiktok'"):
        headline_and_cta(EXAMPLE, "tiktok")


def test_variant_count_is_bounded() -> None:
    with pytest.raises(InvalidInput, match="between 1 and 10"):
        write_copy(parse_brief(BASE), get_placement("story"), 11, 0, WRITER)
