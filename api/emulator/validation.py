"""Request validation for /v1/messages and count_tokens, with the API's messages.

Wording follows errors seen from the real API where the reference records them; the rest
follows its `<path>: <reason>` style.
"""

from __future__ import annotations

from typing import Any

from api.emulator.content_blocks import CURRENT_VERSION, check_block, check_text_block
from api.emulator.errors import ApiError, invalid
from api.emulator.models import ModelSpec, servable_model
from api.emulator.options import check_options
from api.emulator.prompt import text_blocks
from api.emulator.thinking import sign_thinking

VERSIONS = ("2023-06-01", CURRENT_VERSION)
SAMPLING_FIELDS = ("temperature", "top_p", "top_k")

_COMMON_FIELDS = {
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "cache_control",
    "output_config",
    "output_format",
    "speed",
    "context_management",
    "mcp_servers",
}
CREATE_FIELDS = _COMMON_FIELDS | {
    "max_tokens",
    "stream",
    "stop_sequences",
    "metadata",
    "diagnostics",
    "service_tier",
    "inference_geo",
    "container",
}
COUNT_FIELDS = _COMMON_FIELDS
_PREFILL_REFUSED = (
    "This model does not support assistant message prefill. "
    "The conversation must end with a user message."
)


def check_version(version: str | None) -> str:
    """The anthropic-version header, which every request must carry."""
    if not version:
        raise invalid("anthropic-version: header is required")
    if version not in VERSIONS:
        raise invalid(f"anthropic-version: unknown version '{version}'")
    return version


def _check_fields(body: dict[str, Any], allowed: set[str], version: str) -> None:
    legacy = SAMPLING_FIELDS if version != CURRENT_VERSION else ()
    for field in body:
        if field not in allowed and field not in legacy:
            raise invalid(f"{field}: Extra inputs are not permitted")


def _check_sampling(body: dict[str, Any]) -> None:
    for field, high in (("temperature", 1.0), ("top_p", 1.0)):
        value = body.get(field)
        if value is not None and not (isinstance(value, int | float) and 0 <= value <= high):
            raise invalid(f"{field}: Input should be less than or equal to {high:g}")
    top_k = body.get("top_k")
    if top_k is not None and not (isinstance(top_k, int) and top_k >= 0):
        raise invalid("top_k: Input should be greater than or equal to 0")
    thinking = (body.get("thinking") or {}).get("type")
    if thinking in ("enabled", "adaptive") and body.get("temperature", 1) != 1:
        raise invalid("`temperature` may only be set to 1 when thinking is enabled")


def validate_request(body: Any, version: str, *, counting: bool = False) -> ModelSpec:
    """Check a Messages request as the API does; return the model it names."""
    if not isinstance(body, dict):
        raise invalid("Input should be a valid dictionary")
    _check_fields(body, COUNT_FIELDS if counting else CREATE_FIELDS, version)
    required = ("model", "messages") if counting else ("model", "max_tokens", "messages")
    for field in required:
        if field not in body:
            raise invalid(f"{field}: Field required")
    if not isinstance(body["model"], str):
        raise invalid("model: Input should be a valid string")
    model = servable_model(body["model"])
    if model is None:
        raise ApiError(404, f"model: {body['model']}")
    if not counting:
        _check_max_tokens(body["max_tokens"], model)
        _check_create_only(body)
    if version != CURRENT_VERSION:
        _check_sampling(body)
    _check_system(body.get("system"))
    _check_messages(body["messages"], model, version)
    check_options(body, model, counting=counting)
    return model


def _check_max_tokens(max_tokens: Any, model: ModelSpec) -> None:
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise invalid("max_tokens: Input should be a valid integer")
    if max_tokens < 0:
        raise invalid("max_tokens: Input should be greater than or equal to 0")
    if max_tokens > model.max_output_tokens:
        raise invalid(
            f"max_tokens: {max_tokens} > {model.max_output_tokens}, which is the maximum "
            f"allowed number of output tokens for {model.id}"
        )


def _check_create_only(body: dict[str, Any]) -> None:
    stops = body.get("stop_sequences")
    if stops is not None and not (
        isinstance(stops, list) and all(isinstance(s, str) and s for s in stops)
    ):
        raise invalid("stop_sequences: Input should be a valid list of non-empty strings")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise invalid("stream: Input should be a valid boolean")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise invalid("metadata: Input should be a valid dictionary")
    diagnostics = body.get("diagnostics")
    if diagnostics is not None:
        previous = diagnostics.get("previous_message_id") if isinstance(diagnostics, dict) else 0
        if previous is not None and not isinstance(previous, str):
            raise invalid("diagnostics.previous_message_id: Input should be a valid string")
    if body.get("service_tier") not in (None, "auto", "standard_only"):
        raise invalid("service_tier: Input should be 'auto' or 'standard_only'")


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid("system: Input should be a valid string or a list of text blocks")
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise invalid(f"system.{i}.type: Input should be 'text'")
        check_text_block(block, f"system.{i}")


def _check_messages(messages: Any, model: ModelSpec, version: str) -> None:
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: List should have at least 1 item after validation, not 0")
    citations: dict[str, set[bool]] = {"document": set(), "search_result": set()}
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"messages.{i}: Input should be a valid dictionary")
        role = message.get("role")
        if role not in ("user", "assistant", "system"):
            raise invalid(f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'")
        if role == "system" and (i == 0 or not model.mid_conversation_system):
            raise invalid(f"messages.{i}.role: system messages are not supported here")
        if i == 0 and role != "user":
            raise invalid('messages: first message must use the "user" role')
        content = message.get("content")
        last_assistant = i == len(messages) - 1 and role == "assistant"
        if content in ("", [], None) and not last_assistant:
            raise invalid(
                f"messages.{i}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        if not isinstance(content, str | list):
            raise invalid(f"messages.{i}.content: Input should be a valid string or list")
        for j, block in enumerate(text_blocks(content)):
            check_block(block, f"messages.{i}.content.{j}", str(role), version, citations)
    if messages[-1].get("role") == "assistant" and model.thinking != "budget":
        raise invalid(_PREFILL_REFUSED)
    for kind, flags in citations.items():
        if len(flags) > 1:
            label = "documents" if kind == "document" else "search results"
            raise invalid(f"citations must be enabled on all or none of the {label}")
    _check_tool_pairing(messages)
    _check_thinking_untouched(messages)


def _check_tool_pairing(messages: list[dict[str, Any]]) -> None:
    for i, message in enumerate(messages):
        blocks = text_blocks(message.get("content"))
        if message.get("role") != "assistant":
            continue
        ids = [str(b.get("id")) for b in blocks if b.get("type") == "tool_use"]
        if not ids or i == len(messages) - 1:
            continue
        following = text_blocks(messages[i + 1].get("content"))
        leading = []
        for block in following:
            if block.get("type") != "tool_result":
                break
            leading.append(str(block.get("tool_use_id")))
        missing = [tool_id for tool_id in ids if tool_id not in leading]
        if missing:
            raise invalid(
                f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )
    for i, message in enumerate(messages):
        previous = text_blocks(messages[i - 1].get("content")) if i else []
        known = {str(b.get("id")) for b in previous if b.get("type") == "tool_use"}
        for j, block in enumerate(text_blocks(message.get("content"))):
            if block.get("type") == "tool_result" and str(block.get("tool_use_id")) not in known:
                raise invalid(
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                    f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a "
                    "corresponding `tool_use` block in the previous message."
                )


def _check_thinking_untouched(messages: list[dict[str, Any]]) -> None:
    latest = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    if latest < 0:
        return
    for j, block in enumerate(text_blocks(messages[latest].get("content"))):
        if block.get("type") != "thinking" or not block.get("thinking"):
            continue
        if sign_thinking(str(block["thinking"])) != block.get("signature"):
            raise invalid(
                f"messages.{latest}.content.{j}: `thinking` or `redacted_thinking` blocks in the "
                "latest assistant message cannot be modified. These blocks must remain as they "
                "were in the original response."
            )
