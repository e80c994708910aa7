"""The agent's two tools, each ONE adapter over a service.

``generate_ad_image(prompt, seed_index, generate)`` is the image tool. The chat model
sees exactly the schema in ``TOOL_SPEC``: three arguments, nothing about brands,
volumes or backends. Everything else is the generation service's job
(issue 4: top-3 retrieval remembered per text, so seed_index 1 and 2 reuse the same
three; an optional ad PNG written to a volume). The adapter only adds what the
conversation knows and the model must not choose: *who* acts (the workspace is bound
to the conversation's principal, so the tool can never read more than the marketer
may) and *which product* the marketer asked for (found among the brand images by a
governed search), plus the headline and call to action of copy written earlier in
the conversation.

``write_ad_copy(product, benefits, placement)`` is the second tool: the words of the
ad from the copy service (issue 5), held to the placement's limits and recorded in
the ``copy`` table. The adapter adds the audience (the conversation's segment); the
model only says what is sold and what to stress.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from adseed.copy.brief import SCHEMA as BRIEF_SCHEMA
from adseed.copy.placements import DEFAULT_PLACEMENT, PLACEMENTS
from adseed.errors import InvalidInput, NotFound
from adseed.generate.service import GenerateResult, generate_ad

if TYPE_CHECKING:
    from adseed.workspace import Workspace

TOOL_NAME = "generate_ad_image"
TOOL_SPEC: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": (
            "Find the three brand photos that best match a description and show one of them "
            "(seed_index 0, 1 or 2; the same description reuses the same three), or, with "
            "generate=true, make the finished ad from that photo."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "prompt": {"type": "string", "description": "What the photo should show."},
                "seed_index": {"type": "integer", "minimum": 0, "maximum": 2},
                "generate": {"type": "boolean", "description": "Make the ad, not just show."},
            },
            "required": ["prompt", "seed_index", "generate"],
            "additionalProperties": False,
        },
    },
}


@dataclass(frozen=True)
class ToolResult(GenerateResult):
    """What the service returned, plus the pack-shot the adapter chose: paths, never bytes."""

    brand_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "brand_path": self.brand_path}


def check_arguments(prompt: Any, seed_index: Any, generate: Any) -> tuple[str, int, bool]:
    """The tool's arguments, checked as strictly as a schema validator would."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput("prompt must be a non-empty text")
    if isinstance(seed_index, bool) or not isinstance(seed_index, int) or not 0 <= seed_index <= 2:
        raise InvalidInput(f"seed_index must be 0, 1 or 2, got {seed_index!r}")
    if not isinstance(generate, bool):
        raise InvalidInput(f"generate must be true or false, got {generate!r}")
    return prompt.strip(), seed_index, generate


def find_brand(workspace: Workspace, product_query: str) -> str:
    """The brand image (pack-shot) that best matches a product, among those the caller may read."""
    results = workspace.search([product_query], k=1, kind="brand")
    if not results or not results[0].hits:
        raise NotFound(f"no brand image matches {product_query!r} among the images you may read")
    return results[0].hits[0].path


def generate_ad_image(
    workspace: Workspace,
    prompt: str,
    seed_index: int,
    generate: bool,
    brand: str | None = None,
    headline: str | None = None,
    cta: str | None = None,
) -> ToolResult:
    """Call the generation service as ``workspace``'s principal; see the module docstring."""
    prompt, seed_index, generate = check_arguments(prompt, seed_index, generate)
    if generate and brand is None:
        # the marketer named no product: the brand image that best fits the picture
        brand = find_brand(workspace, prompt)
    out = generate_ad(
        workspace, prompt, seed_index=seed_index, generate=generate, brand=brand,
        headline=headline, cta=cta,
    )  # fmt: skip
    return ToolResult(**{f.name: getattr(out, f.name) for f in fields(out)}, brand_path=brand)


# -- the copy tool ---------------------------------------------------------------------

COPY_TOOL_NAME = "write_ad_copy"
MAX_BENEFITS = BRIEF_SCHEMA["properties"]["benefits"]["maxItems"]  # the brief format's limits
MAX_AUDIENCE = BRIEF_SCHEMA["properties"]["audience"]["maxLength"]
COPY_TOOL_SPEC: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": COPY_TOOL_NAME,
        "description": (
            "Write the words of the ad (headline, title, description, call to action) for a "
            "product, within the placement's character limits."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "product": {"type": "string", "description": "What the ad sells."},
                "benefits": {
                    "type": "array", "items": {"type": "string"}, "minItems": 1,
                    "maxItems": MAX_BENEFITS, "description": "What the copy should stress.",
                },  # fmt: skip
                "placement": {"type": "string", "enum": list(PLACEMENTS)},
            },
            "required": ["product", "benefits", "placement"],
            "additionalProperties": False,
        },
    },
}


@dataclass(frozen=True)
class CopyResult:
    """The first variant the copy service wrote, and the run it belongs to."""

    product: str
    placement: str
    headline: str
    title: str
    description: str
    cta: str
    image_suggestion: str
    brief_sha256: str
    reused: bool  # read back from the ``copy`` table: the same brief was written before

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_copy_arguments(
    product: Any, benefits: Any, placement: Any
) -> tuple[str, tuple[str, ...], str]:
    """The copy tool's arguments, checked as strictly as a schema validator would."""
    if not isinstance(product, str) or not product.strip():
        raise InvalidInput("product must be a non-empty text")
    if not isinstance(benefits, list | tuple) or not benefits:
        raise InvalidInput("benefits must be a non-empty list of texts")
    if len(benefits) > MAX_BENEFITS:
        raise InvalidInput(f"at most {MAX_BENEFITS} benefits, got {len(benefits)}")
    if not all(isinstance(b, str) and b.strip() for b in benefits):
        raise InvalidInput("every benefit must be a non-empty text")
    if placement not in PLACEMENTS:
        raise InvalidInput(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
    return product.strip(), tuple(b.strip() for b in benefits), placement


def write_ad_copy(
    workspace: Workspace,
    product: str,
    benefits: list[str] | tuple[str, ...],
    placement: str = DEFAULT_PLACEMENT,
    audience: str | None = None,
) -> CopyResult:
    """Call the copy service as ``workspace``'s principal (MODIFY on the copy table)."""
    product, checked, placement = check_copy_arguments(product, benefits, placement)
    brief: dict[str, Any] = {"product": product, "benefits": list(checked),
                             "placements": [placement]}  # fmt: skip
    if audience and audience.strip():
        brief["audience"] = _clip(audience.strip(), MAX_AUDIENCE)
    (run,) = workspace.write_copy(brief, placement=placement, variants=1)
    first = run.variants[0]
    return CopyResult(
        product=run.product, placement=run.placement, headline=first.headline,
        title=first.title, description=first.description, cta=first.cta,
        image_suggestion=first.image_suggestion, brief_sha256=run.brief_sha256,
        reused=run.reused,
    )  # fmt: skip


def _clip(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters."""
    return text if len(text) <= limit else text[: limit + 1].rsplit(" ", 1)[0][:limit]
