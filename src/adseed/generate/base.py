"""The one interface every generation backend implements, the ad formats, and the registry.

A backend turns (seed image bytes, brand image bytes, prompt, format) into PNG bytes.
Only bytes and text cross this line: reading seeds from volumes and writing the result
back is the service's job, so a backend never sees a path or the workspace. Built-in
backends register through the ``adseed.generators`` entry-point group exactly like
third-party ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from adseed import plugins
from adseed.errors import InvalidInput

if TYPE_CHECKING:
    from adseed.config import Settings


@dataclass(frozen=True)
class AdFormat:
    """A placement size in pixels; the name is what users type (``1080x1350``)."""

    width: int
    height: int

    @property
    def name(self) -> str:
        return f"{self.width}x{self.height}"


FORMATS: dict[str, AdFormat] = {
    f.name: f
    for f in (AdFormat(1080, 1080), AdFormat(1080, 1350), AdFormat(1080, 1920), AdFormat(1200, 628))
}
DEFAULT_FORMAT = "1080x1080"


def parse_format(name: str) -> AdFormat:
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        known = ", ".join(FORMATS)
        raise InvalidInput(f"unknown format {name!r}: expected one of {known}") from None


@dataclass(frozen=True)
class AdRequest:
    """Everything a backend needs to draw one ad; no paths, no workspace."""

    seed: bytes
    brand: bytes | None
    prompt: str
    format: AdFormat
    headline: str | None = None
    cta: str | None = None


@runtime_checkable
class Generator(Protocol):
    """Draws one ad. Same request → same bytes for deterministic backends."""

    name: str

    def generate(self, request: AdRequest) -> bytes:
        """Returns PNG bytes of exactly ``request.format``'s size."""
        ...


def available_generators() -> dict[str, str]:
    return plugins.registered("adseed.generators")


def build_generator(name: str, settings: Settings) -> Generator:
    generator: Generator = plugins.build("adseed.generators", name, settings, "generation backend")
    return generator
