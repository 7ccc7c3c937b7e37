"""Structured output: a pydantic model's JSON schema in, a validated instance out.

Two ways to ask Claude for JSON that fits a schema (shared/reference/api-features.md §2):
- native JSON outputs, `output_config.format = {"type": "json_schema", "schema": ...}`, where
  the answer is the JSON text of the text block; used on models whose row in the model table
  says they have them;
- a forced tool whose input_schema is the schema, where the answer is the tool's input; it
  works on every model but cannot be combined with thinking (the API answers 400).

The schema sent is the pydantic schema reduced to what structured outputs accept: every object
closed (`additionalProperties: false`), numeric bounds moved into the description (the API does
not enforce them). Pydantic still enforces them when the answer is validated, so output that
breaks them is refused like any other invalid output.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.errors import StructuredOutputInvalid
from rag.models import ModelInfo

Model = TypeVar("Model", bound=BaseModel)
StructuredVia = Literal["output_config", "tool"]

# Keywords structured outputs ignore or refuse; kept as words in the description instead.
_UNSUPPORTED_KEYWORDS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
)


class StructuredAnswer(BaseModel):
    """A `format=json` answer: the answer, the sources it relies on, and how sure it is."""

    model_config = ConfigDict(extra="forbid")

    answer: str = Field(description="The answer to the question, from the search results only.")
    sources: list[str] = Field(
        description="The `source` of each search result the answer relies on; empty if none."
    )
    confidence: float = Field(
        ge=0.0,
        le=1.0,
        description="How well the search results support the answer, from 0 (not at all) to 1.",
    )


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the form structured outputs accept."""
    schema: dict[str, Any] = _strict(model.model_json_schema())
    return schema


def via_for(info: ModelInfo) -> StructuredVia:
    """How structured output is requested from this model."""
    return "output_config" if info.native_json_output else "tool"


def structured_params(
    model: type[BaseModel], info: ModelInfo, tool_name: str, tool_description: str
) -> dict[str, Any]:
    """The request parameters that make Claude answer with model's JSON.

    Native JSON outputs give {"output_config": {"format": ...}}; otherwise one forced tool
    (tools + tool_choice), to be merged after any tools the prompt already has.
    """
    schema = strict_schema(model)
    if via_for(info) == "output_config":
        return {"output_config": {"format": {"type": "json_schema", "schema": schema}}}
    tool = {"name": tool_name, "description": tool_description, "input_schema": schema}
    return {"tools": [tool], "tool_choice": {"type": "tool", "name": tool_name}}


def merge_params(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The base parameters with extra's merged in: tools appended, output_config combined."""
    merged = dict(base)
    for key, value in extra.items():
        if key == "tools":
            merged["tools"] = [*base.get("tools", []), *value]
        elif key == "output_config":
            merged["output_config"] = {**base.get("output_config", {}), **value}
        else:
            merged[key] = value
    return merged


def parse_structured(model: type[Model], text: str) -> Model:
    """The text validated as model; StructuredOutputInvalid (an upstream error) if it is not."""
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'answer'}: {error['msg']}"
            for error in exc.errors()[:3]
        )
        raise StructuredOutputInvalid(
            f"Claude's answer is not a valid {model.__name__} ({problems}): {_preview(text)}"
        ) from exc


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs"):
            result[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key not in _UNSUPPORTED_KEYWORDS:
            result[key] = _strict(value)
    moved = {key: node[key] for key in _UNSUPPORTED_KEYWORDS if key in node}
    if moved:
        note = json.dumps(moved, sort_keys=True)
        result["description"] = f"{node.get('description', '')} {note}".strip()
    if result.get("type") == "object":
        result["additionalProperties"] = False
        result["required"] = list(result.get("properties", {}))
    return result


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat[:160] + ("..." if len(flat) > 160 else ""))
