"""How an answer is generated: plain text or structured JSON, with or without thinking.

AnswerShape is checked against the model table before any call (FeatureUnsupported, a 400,
for what the model lacks), then turns the layered prompt's parameters into the request's.
Rules it holds:
- `format=json` uses native JSON outputs where the model has them and a forced tool
  otherwise; the search results go without citations (structured outputs refuse them; the
  answer names its sources itself);
- thinking is never combined with a forced tool (the API refuses it): json + thinking on a
  model without native JSON outputs is refused here;
- an answer made with thinking is never stored in, nor served from, the answer cache: it is
  asked for when the reasoning itself is wanted, and its text is not what a repeat would get.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from rag.errors import FeatureUnsupported
from rag.models import ModelInfo
from rag.structured import (
    StructuredAnswer,
    merge_params,
    parse_structured,
    structured_params,
    via_for,
)
from rag.thinking import ThinkingRequest, check_thinking, thinking_max_tokens, thinking_params

AnswerFormat = Literal["text", "json"]
ANSWER_TOOL = "record_answer"
_ANSWER_TOOL_DESCRIPTION = (
    "Record the answer to the user's question, drawn from the search results only, with the "
    "sources it relies on and how well they support it."
)


@dataclass(frozen=True, slots=True)
class AnswerShape:
    """The answer's format and thinking, as the request asked for them."""

    format: AnswerFormat = "text"
    thinking: ThinkingRequest | None = None

    @property
    def answer_cacheable(self) -> bool:
        """False when thinking is on: such answers bypass the answer cache both ways."""
        return self.thinking is None

    def cache_fields(self) -> dict[str, str]:
        """What the answer cache key needs from the shape.

        The format (and with it the citations toggle), the structured answer's schema, and the
        thinking asked for.
        """
        fields = {"format": self.format, "thinking": repr(self.thinking)}
        if self.format == "json":
            schema = json.dumps(StructuredAnswer.model_json_schema(), sort_keys=True)
            fields["schema"] = hashlib.sha256(schema.encode()).hexdigest()[:16]
        return fields

    def check(self, info: ModelInfo, max_budget_tokens: int) -> None:
        """FeatureUnsupported (or InvalidInput) unless info's model can answer in this shape."""
        if self.thinking is not None:
            check_thinking(self.thinking, info, max_budget_tokens)
            if self.format == "json" and via_for(info) == "tool":
                raise FeatureUnsupported(
                    f"{info.model_id} has no native JSON output, so format=json uses a forced "
                    "tool, which cannot be combined with thinking: drop one of them"
                )

    def max_tokens(self, answer_tokens: int, limit: int) -> int:
        """max_tokens of the request: the answer's, plus room to think when thinking."""
        if self.thinking is None:
            return answer_tokens
        return thinking_max_tokens(self.thinking, answer_tokens, limit)

    def request_params(self, prompt_params: dict[str, Any], info: ModelInfo) -> dict[str, Any]:
        """The layered prompt's parameters with this shape's output and thinking options."""
        params = dict(prompt_params)
        if self.format == "json":
            params["messages"] = _without_citations(params["messages"])
            extra = structured_params(StructuredAnswer, info, ANSWER_TOOL, _ANSWER_TOOL_DESCRIPTION)
            params = merge_params(params, extra)
        if self.thinking is not None:
            params = merge_params(params, thinking_params(self.thinking))
        return params

    def structured(self, text: str) -> StructuredAnswer | None:
        """The validated JSON answer (StructuredOutputInvalid if it is not); None for text."""
        if self.format != "json":
            return None
        return parse_structured(StructuredAnswer, text)


def tool_answer_text(tool_input: dict[str, Any]) -> str:
    """A forced tool's input as answer text: the JSON the native form would have given."""
    return json.dumps(tool_input, ensure_ascii=False)


def _without_citations(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def block(item: dict[str, Any]) -> dict[str, Any]:
        if item.get("type") == "search_result":
            return {**item, "citations": {"enabled": False}}
        return item

    return [
        {**message, "content": [block(item) for item in message["content"]]}
        if isinstance(message.get("content"), list)
        else message
        for message in messages
    ]
