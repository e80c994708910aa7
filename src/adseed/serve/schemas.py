"""Request and response bodies of the serving endpoints, as pydantic models.

They are the OpenAPI schema (``/openapi.json``) and the validation at once, so the
schema cannot drift from what the server accepts. Shapes follow the MLflow scoring
protocol (``dataframe_split`` / ``dataframe_records`` / ``inputs`` in, ``predictions``
out) and, for the agent, the Responses API. Unknown fields are refused rather than
ignored: a typo like ``seed_idx`` must not silently fall back to the default.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from adseed.agent.tools import CopyResult

MAX_ROWS = 64
SESSION_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every 4xx/5xx body: a code and a message saying what to change."""

    error_code: str = Field(examples=["BAD_REQUEST"])
    message: str


class DataframeSplit(Strict):
    columns: list[str] = Field(min_length=1)
    data: list[list[Any]] = Field(min_length=1, max_length=MAX_ROWS)
    index: list[int] | None = None

    @model_validator(mode="after")
    def _rows_match_columns(self) -> DataframeSplit:
        for i, row in enumerate(self.data):
            if len(row) != len(self.columns):
                raise ValueError(f"row {i} has {len(row)} values for {len(self.columns)} columns")
        return self

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.data]


# -- encoder -------------------------------------------------------------------------------


class EncoderInputs(Strict):
    text: list[str] | None = Field(None, max_length=MAX_ROWS)
    image: list[str] | None = Field(None, max_length=MAX_ROWS, description="base64 images")


class EncoderRequest(Strict):
    """Rows with a ``text`` or a base64 ``image`` (exactly one per row)."""

    dataframe_split: DataframeSplit | None = None
    dataframe_records: list[dict[str, Any]] | None = Field(None, max_length=MAX_ROWS)
    inputs: EncoderInputs | None = None

    @model_validator(mode="after")
    def _one_format(self) -> EncoderRequest:
        given = [self.dataframe_split, self.dataframe_records, self.inputs]
        if sum(x is not None for x in given) != 1:
            raise ValueError("give exactly one of dataframe_split, dataframe_records, inputs")
        for i, row in enumerate(self.rows()):
            keys = {k for k, v in row.items() if v is not None}
            if keys not in ({"text"}, {"image"}):
                raise ValueError(f"row {i}: give exactly one of 'text' or 'image' (base64)")
            if not isinstance(row[keys.pop()], str):
                raise ValueError(f"row {i}: 'text' and 'image' must be strings")
        if not self.rows():
            raise ValueError("no rows to encode")
        return self

    def rows(self) -> list[dict[str, Any]]:
        if self.dataframe_split is not None:
            return self.dataframe_split.records()
        if self.dataframe_records is not None:
            return self.dataframe_records
        assert self.inputs is not None
        texts = [{"text": t} for t in self.inputs.text or []]
        return texts + [{"image": b} for b in self.inputs.image or []]


class EncoderResponse(BaseModel):
    predictions: list[list[float]] = Field(description="L2-normalised vectors, one per row")
    model_id: str
    dim: int


# -- image generation ------------------------------------------------------------------------


class ImageGenParams(Strict):
    generate: StrictBool = False
    seed_index: StrictInt = Field(0, ge=0, le=2)


class ImageGenRequest(Strict):
    """``{"dataframe_split": {"columns": ["model_input"], "data": [[prompt]]}, "params": …}``."""

    dataframe_split: DataframeSplit | None = None
    dataframe_records: list[dict[str, Any]] | None = Field(None, max_length=MAX_ROWS)
    params: ImageGenParams = Field(default_factory=lambda: ImageGenParams.model_validate({}))

    @model_validator(mode="after")
    def _prompts(self) -> ImageGenRequest:
        if (self.dataframe_split is None) == (self.dataframe_records is None):
            raise ValueError("give exactly one of dataframe_split, dataframe_records")
        for i, row in enumerate(self.rows()):
            if set(row) != {"model_input"}:
                raise ValueError(f"row {i}: expected the single column 'model_input'")
            if not isinstance(row["model_input"], str) or not row["model_input"].strip():
                raise ValueError(f"row {i}: model_input must be a non-empty text (the prompt)")
        return self

    def rows(self) -> list[dict[str, Any]]:
        if self.dataframe_split is not None:
            return self.dataframe_split.records()
        return list(self.dataframe_records or [])

    def prompts(self) -> list[str]:
        return [str(r["model_input"]).strip() for r in self.rows()]


class ImageGenPrediction(BaseModel):
    candidates: list[str] = Field(description="the top-3 seed photos, volume paths")
    seed_index: int
    seed_path: str
    image_path: str | None = Field(description="the generated ad (null without generate)")
    scores: dict[str, float] | None = None
    trace_id: str | None = None


class ImageGenResponse(BaseModel):
    predictions: list[ImageGenPrediction]


# -- the agent -------------------------------------------------------------------------------


class InputMessage(BaseModel):
    """A Responses input item; plain ``{"role", "content"}`` messages are what clients send."""

    model_config = ConfigDict(extra="allow")
    role: Literal["user", "assistant", "system", "developer"] | None = None
    content: str | list[dict[str, Any]] | None = None
    type: str | None = None


class DirectInput(Strict):
    prompt: str = Field(min_length=1)
    generate: StrictBool = False
    seed_index: StrictInt = Field(0, ge=0, le=2)


class AgentCustomInputs(Strict):
    session_id: str | None = Field(None, pattern=SESSION_PATTERN)
    direct: DirectInput | None = None


class AgentRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # other Responses fields (temperature …) pass
    input: list[InputMessage] = Field(min_length=1, max_length=256)
    custom_inputs: AgentCustomInputs | None = None
    context: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _has_user_text(self) -> AgentRequest:
        direct = self.custom_inputs is not None and self.custom_inputs.direct is not None
        if not direct and not any(m.role == "user" and m.content for m in self.input):
            raise ValueError("input needs at least one user message with content")
        return self


class LastImage(BaseModel):
    type: Literal["seed", "final"]
    path: str
    seed_path: str


class AgentCustomOutputs(BaseModel):
    session_id: str
    stage: Literal["start", "proposed", "seed", "final"]
    intent: str
    last_image: LastImage | None = None
    last_copy: CopyResult | None = None  # the copy tool's result, as the agent returns it


class AgentResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    object: str = "response"
    output: list[dict[str, Any]] = Field(description="function calls, their outputs, a message")
    custom_outputs: AgentCustomOutputs
