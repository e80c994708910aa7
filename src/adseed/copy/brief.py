"""The product brief: what a marketer writes, read from JSON or YAML and checked once.

A brief that is wrong gets exactly one error that names the file, the field and what
to change (:class:`InvalidBrief`), before any writer runs, so a bad brief never
reaches a model or the ``copy`` table. Its hash (:attr:`Brief.sha256`) is taken over
the normalised content, so the same brief written as YAML or as JSON, with or
without defaults spelled out, has one hash.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from adseed.copy.placements import CTA_INTENTS, DEFAULT_PLACEMENT, PLACEMENTS
from adseed.errors import InvalidInput

MAX_BRIEF_BYTES = 64 * 1024
TONES = ("friendly", "playful", "premium", "practical", "urgent", "calm")
_LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InvalidBrief(InvalidInput):
    """A brief that cannot be used as written; the message says which field and why."""


def _text(max_len: int, what: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_len, "description": what}


def _texts(max_items: int, max_len: int, what: str) -> dict[str, Any]:
    return {"type": "array", "maxItems": max_items, "items": _text(max_len, what)}


SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["product", "benefits"],
    "additionalProperties": False,
    "properties": {
        "product": _text(150, "the product name"),
        "benefits": {**_texts(12, 300, "a benefit"), "minItems": 1},
        "audience": _text(150, "who the ad speaks to"),
        "segment": _text(150, "who the ad speaks to (same as audience)"),
        "tone": {"enum": list(TONES)},
        "language": {"type": "string", "pattern": _LANGUAGE, "maxLength": 35},
        "cta": {"enum": list(CTA_INTENTS)},
        "must_avoid": _texts(50, 80, "a phrase the copy must never contain"),
        "placements": {**_texts(len(PLACEMENTS), 20, "a placement"), "minItems": 1},
        "brand": _text(80, "the advertiser's name"),
        "category": _text(80, "the product category"),
        "short_name": _text(40, "a short name for the product"),
    },
}
_FIELD_HELP = {"product": "the product name", "benefits": "a list of the product's benefits"}


@dataclass(frozen=True)
class Brief:
    """A checked brief. Optional fields are None or empty, never missing."""

    product: str
    benefits: tuple[str, ...]
    audience: str | None = None
    tone: str = "friendly"
    language: str = "en"
    cta: str = "shop"
    must_avoid: tuple[str, ...] = ()
    placements: tuple[str, ...] = (DEFAULT_PLACEMENT,)
    brand: str | None = None
    category: str | None = None
    short_name: str | None = None
    source: str = field(default="brief", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The brief as plain JSON data (what the hash is taken over); parses back to itself."""
        data = asdict(self)
        data.pop("source")
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in data.items() if v is not None}

    @property
    def sha256(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_brief(path: str | os.PathLike[str]) -> Brief:
    """Read and check a brief file (``.json``, ``.yaml`` or ``.yml``)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InvalidBrief(f"{path}: not a regular file")
        if size > MAX_BRIEF_BYTES:
            raise InvalidBrief(f"{path}: {size:,} bytes; a brief is at most {MAX_BRIEF_BYTES:,}")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidBrief(f"{path}: no such brief file") from None
    except OSError as exc:
        raise InvalidBrief(f"{path}: cannot read the brief ({exc.strerror})") from None
    return parse_brief(raw, source=str(path), fmt=_format_of(path))


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    raise InvalidBrief(f"{path}: a brief is a .json, .yaml or .yml file")


def parse_brief(data: bytes | str | Mapping[str, Any], source: str = "brief",
                fmt: str = "yaml") -> Brief:
    """Check a brief given as text (JSON is YAML too) or as already-parsed data."""
    if isinstance(data, Mapping):
        obj: Any = data
    else:
        obj = _decode(data, source, fmt)
    if not isinstance(obj, Mapping):
        raise InvalidBrief(f"{source}: a brief is a mapping of fields, got {_kind(obj)}")
    _check_schema(obj, source)
    return _build(dict(obj), source)


def _decode(data: bytes | str, source: str, fmt: str) -> Any:
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > MAX_BRIEF_BYTES:
        raise InvalidBrief(f"{source}: {size:,} bytes; a brief is at most {MAX_BRIEF_BYTES:,}")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise InvalidBrief(f"{source}: not UTF-8 text") from None
    try:
        if fmt == "json":
            return json.loads(text, object_pairs_hook=_no_duplicates)
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):  # aliases can expand exponentially
                raise InvalidBrief(f"{source}: YAML anchors and aliases are not allowed")
        return yaml.safe_load(text)
    except _DuplicateKey as exc:
        raise InvalidBrief(f"{source}: field {exc.args[0]!r} appears twice") from None
    except json.JSONDecodeError as exc:
        raise InvalidBrief(f"{source}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise InvalidBrief(f"{source}: not valid YAML{where}") from None


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON keeps the last of two equal keys silently; a brief refuses the ambiguity."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _kind(value: Any) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "true/false",
             list: "a list", dict: "a mapping", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _where(error: jsonschema.ValidationError) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path]
    return "".join(parts).lstrip(".") or "brief"


def _check_schema(obj: Mapping[str, Any], source: str) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    if error is not None:
        raise InvalidBrief(f"{source}: {_explain(error)}")


def _explain(error: jsonschema.ValidationError) -> str:
    where, value, kind = _where(error), error.instance, error.validator
    if kind == "required":
        missing = next(f for f in error.validator_value if f not in error.instance)
        return f"missing required field {missing!r} ({_FIELD_HELP.get(missing, missing)})"
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(SCHEMA["properties"]))[0]
        close = difflib.get_close_matches(str(extra), SCHEMA["properties"], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown field {extra!r}{hint}; known: {', '.join(SCHEMA['properties'])}"
    if kind == "type":
        expected = {"string": "a string", "array": "a list", "object": "a mapping"}
        return f"{where!r} must be {expected.get(error.validator_value)}, got {_kind(value)}"
    if kind == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"{where!r} is {value!r}; expected one of {allowed}"
    if kind == "maxLength":
        return (f"{where!r} is {len(value):,} characters long; "
                f"at most {error.validator_value}")
    if kind == "minLength":
        return f"{where!r} is empty"
    if kind in ("maxItems", "minItems"):
        bound = "at most" if kind == "maxItems" else "at least"
        return f"{where!r} has {len(value)} items; {bound} {error.validator_value}"
    if kind == "pattern":
        return f"{where!r} is {value!r}; expected a language code such as 'en' or 'en-GB'"
    return f"{where!r}: {error.message}"


def _clean(value: str, where: str, source: str) -> str:
    if _CONTROL.search(value):
        raise InvalidBrief(f"{source}: {where!r} contains control characters")
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        raise InvalidBrief(f"{source}: {where!r} is blank")
    return text


def _build(obj: dict[str, Any], source: str) -> Brief:
    if "audience" in obj and "segment" in obj:
        raise InvalidBrief(f"{source}: give 'audience' or 'segment', not both (they are one field)")
    strings = {k: _clean(v, k, source) for k, v in obj.items() if isinstance(v, str)}
    lists: dict[str, tuple[str, ...]] = {
        k: tuple(_clean(v, f"{k}[{i}]", source) for i, v in enumerate(obj[k]))
        for k in ("benefits", "must_avoid", "placements") if k in obj
    }
    for name in lists.get("placements", ()):
        if name not in PLACEMENTS:
            known = ", ".join(PLACEMENTS)
            raise InvalidBrief(f"{source}: unknown placement {name!r}; expected one of {known}")
    audience = strings.pop("audience", None) or strings.pop("segment", None)
    fields: dict[str, Any] = {**strings, **lists, "audience": audience, "source": source}
    brief = Brief(**fields)
    if "placements" in lists:
        brief = replace(brief, placements=tuple(dict.fromkeys(brief.placements)))
    return brief
