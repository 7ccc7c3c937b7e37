"""Validation of tools, tool_choice, thinking, output_config and top-level cache_control."""

from __future__ import annotations

import re
from typing import Any

from api.emulator.content_blocks import check_cache_control
from api.emulator.errors import invalid
from api.emulator.models import ModelSpec
from api.emulator.schemas import check_schema

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_THINKING_DOCS = (
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
    "#max-tokens-and-context-window-size"
)
MIN_BUDGET_TOKENS = 1024


def check_options(body: dict[str, Any], model: ModelSpec, *, counting: bool) -> None:
    """Check the request's feature options against the model that will serve it."""
    names = _check_tools(body.get("tools"))
    forced = _check_tool_choice(body.get("tool_choice"), names)
    _check_thinking(body, model, forced, counting=counting)
    _check_output_config(body.get("output_config"), model)
    _check_format(body.get("output_format"), model, "output_format")
    mark = body.get("cache_control")
    if mark is not None and (
        not isinstance(mark, dict)
        or mark.get("type") != "ephemeral"
        or mark.get("ttl") not in (None, "5m", "1h")
    ):
        raise invalid("cache_control: Input should be {'type': 'ephemeral', 'ttl': '5m' | '1h'}")
    if body.get("speed") not in (None, "standard", "fast"):
        raise invalid("speed: Input should be 'standard' or 'fast'")


def is_custom_tool(tool: dict[str, Any]) -> bool:
    """Client tools carry an input_schema; server tools carry a dated type instead."""
    return tool.get("type") in (None, "custom")


def _check_tools(tools: Any) -> set[str]:
    if tools is None:
        return set()
    if not isinstance(tools, list):
        raise invalid("tools: Input should be a valid list")
    names: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise invalid(f"tools.{i}: Input should be a valid dictionary")
        name = tool.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise invalid(f"tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        if name in names:
            raise invalid("tools: Tool names must be unique.")
        names.add(name)
        check_cache_control(tool.get("cache_control"), f"tools.{i}")
        if is_custom_tool(tool):
            schema = tool.get("input_schema")
            if not isinstance(schema, dict):
                raise invalid(f"tools.{i}.custom.input_schema: Field required")
            if schema.get("type") != "object":
                raise invalid(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
            check_schema(schema, f"tools.{i}.custom.input_schema")
    return names


def _check_tool_choice(choice: Any, names: set[str]) -> bool:
    if choice is None:
        return False
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if kind in ("any", "tool") and not names:
        raise invalid("tool_choice: tool_choice may only be specified while providing tools.")
    if kind == "tool" and choice.get("name") not in names:
        raise invalid(f"tool_choice.name: Tool '{choice.get('name')}' not found in the tools list")
    return kind in ("any", "tool")


def _check_thinking(
    body: dict[str, Any], model: ModelSpec, forced: bool, *, counting: bool
) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "adaptive", "disabled", "between_tools"):
        raise invalid(
            "thinking.type: Input should be 'enabled', 'adaptive', 'disabled' or 'between_tools'"
        )
    if thinking.get("display") not in (None, "summarized", "omitted"):
        raise invalid(f"thinking.{kind}.display: Input should be 'summarized' or 'omitted'")
    if kind == "disabled" and thinking.get("display") is not None:
        raise invalid("thinking.disabled.display: Extra inputs are not permitted")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < MIN_BUDGET_TOKENS:
            raise invalid(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to "
                f"{MIN_BUDGET_TOKENS}"
            )
        if not model.takes_budget:
            raise invalid(
                '"thinking.type.enabled" is not supported for this model. Use '
                '"thinking.type.adaptive" and "output_config.effort" to control thinking '
                "behavior."
            )
        if not counting and body["max_tokens"] <= budget:
            raise invalid(
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                f"documentation at {_THINKING_DOCS}"
            )
    if kind == "adaptive" and not model.takes_adaptive:
        raise invalid(
            '"thinking.type.adaptive" is not supported for this model. Use '
            '"thinking.type.enabled" with "thinking.budget_tokens" to control thinking behavior.'
        )
    if kind == "disabled" and model.thinks_by_default:
        raise invalid('"thinking.type.disabled" is not supported for this model.')
    # Recorded real traffic (claude-opus-4-6, 2026-08): adaptive thinking with a forced tool is
    # a 200 in which the model does not think; only `enabled` thinking is refused.
    if forced and kind == "enabled":
        raise invalid("Thinking may not be enabled when tool_choice forces tool use.")


def _check_output_config(config: Any, model: ModelSpec) -> None:
    if config is None:
        return
    if not isinstance(config, dict):
        raise invalid("output_config: Input should be a valid dictionary")
    for field in config:
        if field not in ("effort", "format"):
            raise invalid(f"output_config.{field}: Extra inputs are not permitted")
    effort = config.get("effort")
    if effort is not None:
        if effort not in ("low", "medium", "high", "xhigh", "max"):
            raise invalid(
                "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
            )
        if effort not in model.efforts:
            # Worded as the real API words it (recorded, claude-opus-4-6, 2026-04).
            supported = ", ".join(sorted(model.efforts))
            raise invalid(
                f"This model does not support effort level '{effort}'. "
                f"Supported levels: {supported}."
            )
    _check_format(config.get("format"), model, "output_config.format")


def _check_format(fmt: Any, model: ModelSpec, path: str) -> None:
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise invalid(f"{path}.type: Input should be 'json_schema'")
    check_schema(fmt.get("schema"), f"{path}.schema")
    if not model.structured_outputs:
        raise invalid(f"{path}: structured outputs are not supported by {model.id}")
