"""Briefs: JSON and YAML read alike, and every malformed brief gets one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adseed.copy.brief import MAX_BRIEF_BYTES, Brief, InvalidBrief, load_brief, parse_brief
from adseed.errors import InvalidInput

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GOOD = {
    "product": "Ridgeline Trail Harness",
    "benefits": ["Padded chest plate", "Reflective trim for early-morning walks"],
    "audience": "dog owners who hike",
    "tone": "playful",
    "cta": "shop",
    "must_avoid": ["cheap"],
    "placements": ["meta-feed", "google-rsa"],
}


def _error(data, tmp_path: Path, suffix: str = ".yaml") -> str:
    """The one error a brief file gets; also checks it is an InvalidInput naming the file."""
    path = tmp_path / f"brief{suffix}"
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data))
    with pytest.raises(InvalidBrief) as caught:
        load_brief(path)
    assert isinstance(caught.value, InvalidInput)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    return message


def test_yaml_and_json_give_the_same_brief_and_hash(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text(json.dumps(GOOD))
    (tmp_path / "b.yaml").write_text(
        "product: Ridgeline Trail Harness\n"
        "benefits:\n  - Padded chest plate\n  - Reflective trim for early-morning walks\n"
        "audience: dog owners who hike\ntone: playful\ncta: shop\nmust_avoid: [cheap]\n"
        "placements: [meta-feed, google-rsa]\nlanguage: en\n"  # the default, spelled out
    )
    a, b = load_brief(tmp_path / "b.json"), load_brief(tmp_path / "b.yaml")
    assert a == b and a.sha256 == b.sha256
    assert a.placements == ("meta-feed", "google-rsa") and a.language == "en"


def test_hash_changes_with_content_and_ignores_whitespace() -> None:
    base = parse_brief(GOOD)
    spaced = parse_brief({**GOOD, "product": "  Ridgeline   Trail Harness "})
    other = parse_brief({**GOOD, "benefits": ["Padded chest plate"]})
    assert base.sha256 == spaced.sha256
    assert base.sha256 != other.sha256


def test_a_brief_round_trips_through_its_dict() -> None:
    sparse = parse_brief({"product": "Harness", "benefits": ["Padded"]})
    assert parse_brief(sparse.to_dict()) == sparse
    assert parse_brief(json.loads(json.dumps(sparse.to_dict()))).sha256 == sparse.sha256


def test_defaults_and_segment_alias() -> None:
    brief = parse_brief({"product": "Harness", "benefits": ["Padded"], "segment": "hikers"})
    assert brief == Brief(product="Harness", benefits=("Padded",), audience="hikers")
    assert brief.tone == "friendly" and brief.cta == "shop" and brief.placements == ("meta-feed",)


def test_examples_are_valid_briefs() -> None:
    examples = sorted(EXAMPLES.glob("brief-*"))
    assert len(examples) >= 2
    for path in examples:
        assert load_brief(path).product


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({k: v for k, v in GOOD.items() if k != "product"},
         "missing required field 'product' (the product name)"),
        ({**GOOD, "product": 42}, "'product' must be a string, got a number"),
        ({**GOOD, "benefits": "Padded chest plate"}, "'benefits' must be a list, got a string"),
        ({**GOOD, "benefits": ["ok", 3]}, "'benefits[1]' must be a string, got a number"),
        ({**GOOD, "benefits": []}, "'benefits' has 0 items; at least 1"),
        ({**GOOD, "placements": ["meta-feed", "tiktok"]}, "unknown placement 'tiktok'"),
        ({**GOOD, "tone": "shouty"}, "'tone' is 'shouty'; expected one of friendly"),
        ({**GOOD, "cta": "buy"}, "'cta' is 'buy'; expected one of shop"),
        ({**GOOD, "benfits": ["x"]}, "unknown field 'benfits' (did you mean 'benefits'?)"),
        ({**GOOD, "language": "English"}, "'language' is 'English'; expected a language code"),
        ({**GOOD, "audience": "a", "segment": "b"}, "give 'audience' or 'segment', not both"),
        ({**GOOD, "product": "   "}, "'product' is blank"),
        ({**GOOD, "product": "Harness\x00"}, "'product' contains control characters"),
    ],
)
def test_malformed_briefs_get_one_clear_error(tmp_path: Path, data, expected: str) -> None:
    assert expected in _error(data, tmp_path, ".json")


def test_a_megabyte_of_text_in_data_gets_one_clear_error() -> None:
    """The file route stops at the file size; data handed over in memory at the field."""
    with pytest.raises(InvalidBrief) as caught:
        parse_brief({**GOOD, "benefits": ["x" * 1_048_576]}, source="api")
    assert str(caught.value) == "api: 'benefits[0]' is 1,048,576 characters long; at most 300"


def test_placement_error_names_the_known_placements(tmp_path: Path) -> None:
    message = _error({**GOOD, "placements": ["tiktok"]}, tmp_path, ".json")
    assert "meta-feed, story, google-rsa, display" in message


@pytest.mark.parametrize(
    ("content", "suffix", "expected"),
    [
        (b"x" * (1024 * 1024), ".yaml", f"1,048,576 bytes; a brief is at most {MAX_BRIEF_BYTES:,}"),
        (b"", ".yaml", "a brief is a mapping of fields, got nothing"),
        (b"- just\n- a list\n", ".yaml", "a brief is a mapping of fields, got a list"),
        (b"product: [unclosed\n", ".yaml", "not valid YAML (line 2)"),
        (b'{"product": "a",}', ".json", "not valid JSON (line 1"),
        (b'{"product": "a", "product": "b", "benefits": ["x"]}', ".json",
         "field 'product' appears twice"),
        (b"\xff\xfe\x00junk", ".yaml", "not UTF-8 text"),
        (b"a: &x [1, 2]\nb: *x\n", ".yaml", "YAML anchors and aliases are not allowed"),
        (b"product: Harness\nbenefits: [a]\nlanguage: no\n", ".yaml",
         "'language' must be a string, got true/false"),
        (b"product: x\n", ".txt", "a brief is a .json, .yaml or .yml file"),
    ],
)
def test_malformed_files_get_one_clear_error(tmp_path: Path, content: bytes, suffix: str,
                                             expected: str) -> None:
    assert expected in _error(content, tmp_path, suffix)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidBrief, match="no such brief file"):
        load_brief(tmp_path / "absent.yaml")
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(InvalidBrief, match="not a regular file"):
        load_brief(tmp_path / "dir.yaml")


def test_a_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    message = _error("\n".join(lines) + "\n", tmp_path)
    assert "anchors and aliases" in message
