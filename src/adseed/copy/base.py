"""The one interface every copy writer implements, the checks every result passes, the registry.

A writer turns (brief, placement, number of variants, seed) into variants. Whatever
the writer, :func:`problems` is the contract its output must meet: every field
within the placement's limit, no must-avoid phrase anywhere, variants pairwise
different. The service runs it on every result, so a writer cannot hand the table
copy that breaks a limit; the chat writer also runs it to ask the model again.
Built-in writers register through the ``adseed.copywriters`` entry-point group like
third-party ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from adseed import plugins
from adseed.copy.placements import FIELDS, Placement, display_width
from adseed.copy.text import avoided_phrase

if TYPE_CHECKING:
    from adseed.config import Settings
    from adseed.copy.brief import Brief

MAX_VARIANTS = 10
DISTINCT_FIELDS = ("headline", "title", "description")
# Built-ins, used when the installed package metadata predates them (an editable
# install made before this stage existed); entry points win when both exist.
BUILTIN_WRITERS = {
    "template": "adseed.copy.template:TemplateWriter",
    "openai": "adseed.copy.chat:ChatCopyWriter",
}


@dataclass(frozen=True)
class CopyVariant:
    """The words of one ad. ``business_name`` is set only where the placement has one."""

    headline: str
    title: str
    description: str
    cta: str
    image_suggestion: str
    business_name: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        data = asdict(self)
        if data["business_name"] is None:
            data.pop("business_name")
        return data


@runtime_checkable
class CopyWriter(Protocol):
    """Writes ``n`` variants for one placement. Same inputs and seed → same output,
    where the backend allows it (the template writer always; a model only at best)."""

    name: str

    @property
    def writer_id(self) -> str:
        """Names the grammar version or the model, stored with every row."""
        ...

    def write(self, brief: Brief, placement: Placement, n: int, seed: int) -> list[CopyVariant]: ...


def problems(variants: list[CopyVariant], brief: Brief, placement: Placement) -> list[str]:
    """Every way ``variants`` break the contract, as sentences a person (or model) can act on."""
    found: list[str] = []
    for index, variant in enumerate(variants, start=1):
        for name in (*FIELDS, "business_name"):
            text = getattr(variant, name)
            if name == "business_name":
                phrase = avoided_phrase(text or "", brief.must_avoid)
                if phrase is not None:
                    found.append(f"variant {index}: business_name contains {phrase!r}")
                continue
            size, limit = placement.measure(name, text), placement.limit(name)
            if not text.strip():
                found.append(f"variant {index}: {name} is empty")
            elif size > limit:
                found.append(f"variant {index}: {name} is {size} characters; at most {limit}")
            phrase = avoided_phrase(text, brief.must_avoid)
            if phrase is not None:
                found.append(f"variant {index}: {name} contains the banned phrase {phrase!r}")
        name_limit = placement.business_name_limit
        if name_limit is not None and not variant.business_name:
            found.append(f"variant {index}: business_name is missing")
        elif name_limit is not None and display_width(variant.business_name or "") > name_limit:
            found.append(f"variant {index}: business_name is longer than {name_limit}")
    for name in DISTINCT_FIELDS:
        seen: dict[str, int] = {}
        for index, variant in enumerate(variants, start=1):
            key = getattr(variant, name).casefold()
            if key in seen:
                found.append(f"variants {seen[key]} and {index} have the same {name}")
            seen.setdefault(key, index)
    return found


def available_writers() -> dict[str, str]:
    return plugins.registered("adseed.copywriters", BUILTIN_WRITERS)


def build_writer(name: str, settings: Settings) -> CopyWriter:
    """The writer registered as ``name``, built from the settings."""
    writer: CopyWriter = plugins.build(
        "adseed.copywriters", name, settings, "copy writer", BUILTIN_WRITERS
    )
    return writer
