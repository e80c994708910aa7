"""The serving endpoints, MLflow scoring-protocol style: ``/serving-endpoints/<name>/invocations``.

- ``encoder``: texts or base64 images → the workspace embedder's normalised vectors;
- ``image-gen``: prompt(s) + ``{generate, seed_index}`` → candidates, seed and ad paths,
  through the agent's one tool adapter (the same code the chat agent calls);
- ``ad-agent``: one Responses-style turn of the conversation.

Each request acts for its bearer token's principal (``Caller``): retrieval sees only
volumes that principal may read, an ad is written only where it may write, and a
conversation is only ever its own.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends

from adseed.agent.core import ImageTool
from adseed.errors import InvalidInput
from adseed.serve.app import Caller
from adseed.serve.schemas import (
    AgentRequest,
    AgentResponse,
    EncoderRequest,
    EncoderResponse,
    ErrorBody,
    ImageGenRequest,
    ImageGenResponse,
)

router = APIRouter(prefix="/serving-endpoints", tags=["serving-endpoints"])
ERRORS: dict[int | str, dict] = {
    code: {"model": ErrorBody, "description": what}
    for code, what in [
        (400, "malformed body"), (401, "missing or unknown bearer token"),
        (403, "permission denied"), (404, "nothing found"), (409, "session busy"),
        (422, "rejected file"), (502, "a backend failed"),
    ]
}  # fmt: skip


def image_tool() -> ImageTool:
    """The agent's one tool adapter (a dependency, so a deployment may swap the service)."""
    from adseed.agent.tools import generate_ad_image

    return generate_ad_image


Tool = Annotated[ImageTool, Depends(image_tool)]


@router.post("/encoder/invocations", response_model=EncoderResponse, responses=ERRORS)
def encoder(body: EncoderRequest, ws: Caller) -> EncoderResponse:
    """Texts or base64 images → L2-normalised vectors, in the workspace embedder's space."""
    from adseed.storage.imagecheck import check_image

    model = ws.embedder()
    rows = body.rows()
    texts = [(i, r["text"]) for i, r in enumerate(rows) if r.get("text") is not None]
    images = [(i, _b64(r["image"], i)) for i, r in enumerate(rows) if r.get("image") is not None]
    limits = {"max_pixels": ws.settings.max_pixels, "max_file_bytes": ws.settings.max_file_bytes}
    for _, data in images:
        check_image(data, **limits)
    if any(not t.strip() for _, t in texts):
        raise InvalidInput("a text row is empty")
    vectors: list[list[float]] = [[] for _ in rows]
    if texts:
        for (i, _), v in zip(texts, model.embed_texts([t for _, t in texts]), strict=True):
            vectors[i] = v.tolist()
    if images:
        for (i, _), v in zip(images, model.embed_images([d for _, d in images]), strict=True):
            vectors[i] = v.tolist()
    return EncoderResponse(predictions=vectors, model_id=model.model_id, dim=model.dim)


@router.post("/image-gen/invocations", response_model=ImageGenResponse, responses=ERRORS)
def image_gen(body: ImageGenRequest, ws: Caller, tool: Tool) -> ImageGenResponse:
    """Each prompt → its top-3 seeds, the chosen seed and (with generate) the ad's path."""
    params = body.params
    predictions = [
        tool(ws, prompt, params.seed_index, params.generate).to_dict()
        for prompt in body.prompts()
    ]
    return ImageGenResponse.model_validate({"predictions": predictions})


@router.post("/ad-agent/invocations", response_model=AgentResponse, responses=ERRORS)
def ad_agent(body: AgentRequest, ws: Caller, tool: Tool) -> AgentResponse:
    """One turn of the marketer's conversation (Responses API in, Responses API out)."""
    from mlflow.types.responses import ResponsesAgentRequest

    from adseed.agent.responses_agent import AdAgent

    request = ResponsesAgentRequest.model_validate(body.model_dump(exclude_none=True))
    response = AdAgent(ws, tool=tool).predict(request)
    return AgentResponse.model_validate(response.model_dump(exclude_none=True))


def _b64(text: str, row: int) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"row {row}: 'image' is not valid base64") from exc
