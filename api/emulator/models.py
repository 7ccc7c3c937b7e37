"""The one model table: every model the SDK lists, with the limits the API enforces for it.

Figures come from the API reference kept with the project (shared/reference). Where the
documentation gives no context window or maximum output for a model (the 5.x generation), the
1M / 128K of its neighbours is assumed; release dates the documentation does not give are
reported as the epoch, as the API does for unknown dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ThinkingModes = Literal["budget", "adaptive", "both"]
Lifecycle = Literal["active", "deprecated", "retired"]

_ALL_EFFORTS = ("low", "medium", "high", "xhigh", "max")
_NO_XHIGH = ("low", "medium", "high", "max")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What the API knows about one model."""

    id: str
    display_name: str
    line: str
    released: str | None
    context_window_tokens: int
    max_output_tokens: int
    min_cacheable_tokens: int
    thinking: ThinkingModes
    efforts: tuple[str, ...] = ()
    default_effort: str = "high"
    thinks_by_default: bool = False
    lifecycle: Lifecycle = "active"
    deprecated_at: str | None = None
    retires_at: str | None = None
    structured_outputs: bool = True
    mid_conversation_system: bool = False

    @property
    def takes_budget(self) -> bool:
        return self.thinking in ("budget", "both")

    @property
    def takes_adaptive(self) -> bool:
        return self.thinking in ("adaptive", "both")


def _five(model_id: str, name: str, line: str, released: str | None, **extra: Any) -> ModelSpec:
    fields: dict[str, Any] = {
        "context_window_tokens": 1_000_000,
        "max_output_tokens": 128_000,
        "min_cacheable_tokens": 512,
        "thinking": "adaptive",
        "efforts": _ALL_EFFORTS,
    }
    fields.update(extra)
    return ModelSpec(model_id, name, line, released, **fields)


MODELS: tuple[ModelSpec, ...] = (
    _five("claude-fable-5-2", "Claude Fable 5.2", "fable", None, thinks_by_default=True),
    _five("claude-mythos-5-2", "Claude Mythos 5.2", "mythos", None, thinks_by_default=True),
    _five(
        "claude-haiku-5-5",
        "Claude Haiku 5.5",
        "haiku",
        None,
        context_window_tokens=200_000,
        max_output_tokens=64_000,
        default_effort="medium",
    ),
    _five("claude-sonnet-5-5", "Claude Sonnet 5.5", "sonnet", None),
    _five("claude-fable-5-1", "Claude Fable 5.1", "fable", None, thinks_by_default=True),
    _five("claude-opus-5-5", "Claude Opus 5.5", "opus", None, default_effort="medium"),
    _five("claude-mythos-5-1", "Claude Mythos 5.1", "mythos", None, thinks_by_default=True),
    _five("claude-sonnet-5", "Claude Sonnet 5", "sonnet", None, min_cacheable_tokens=1024),
    _five("claude-fable-5", "Claude Fable 5", "fable", None, thinks_by_default=True),
    _five("claude-mythos-5", "Claude Mythos 5", "mythos", None, thinks_by_default=True),
    _five("claude-opus-5", "Claude Opus 5", "opus", None),
    _five(
        "claude-opus-4-8",
        "Claude Opus 4.8",
        "opus",
        None,
        min_cacheable_tokens=1024,
        mid_conversation_system=True,
    ),
    _five("claude-opus-4-7", "Claude Opus 4.7", "opus", None, min_cacheable_tokens=2048),
    _five(
        "claude-mythos-preview",
        "Claude Mythos Preview",
        "mythos",
        None,
        min_cacheable_tokens=2048,
        efforts=_NO_XHIGH,
        thinks_by_default=True,
        lifecycle="retired",
        retires_at="2026-06-30",
    ),
    _five(
        "claude-opus-4-6",
        "Claude Opus 4.6",
        "opus",
        "2026-02-05",
        min_cacheable_tokens=4096,
        thinking="both",
        efforts=_NO_XHIGH,
    ),
    _five(
        "claude-sonnet-4-6",
        "Claude Sonnet 4.6",
        "sonnet",
        "2026-02-17",
        min_cacheable_tokens=1024,
        thinking="both",
        efforts=_NO_XHIGH,
    ),
    ModelSpec(
        "claude-haiku-4-5-20251001",
        "Claude Haiku 4.5",
        "haiku",
        "2025-10-15",
        context_window_tokens=200_000,
        max_output_tokens=64_000,
        min_cacheable_tokens=4096,
        thinking="budget",
    ),
    ModelSpec(
        "claude-opus-4-5-20251101",
        "Claude Opus 4.5",
        "opus",
        "2025-11-24",
        context_window_tokens=200_000,
        max_output_tokens=64_000,
        min_cacheable_tokens=4096,
        thinking="budget",
        efforts=("low", "medium", "high"),
        lifecycle="deprecated",
        retires_at="2027-01-22",
    ),
    ModelSpec(
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "sonnet",
        "2025-09-29",
        context_window_tokens=200_000,
        max_output_tokens=64_000,
        min_cacheable_tokens=1024,
        thinking="budget",
        # The SDK's deprecation list retires it on 2026-11-30: from then on a 404.
        lifecycle="retired",
        retires_at="2026-11-30",
    ),
)

# Before the 4.6 generation the dateless id is an alias of the dated snapshot.
ALIASES: dict[str, str] = {
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
}

_BY_ID = {model.id: model for model in MODELS}


def find_model(name: str) -> ModelSpec | None:
    """The model an id or alias names, or None when the API would answer 404."""
    return _BY_ID.get(ALIASES.get(name, name))


def servable_model(name: str) -> ModelSpec | None:
    """The model if requests may name it; retired models are listed but not served."""
    model = find_model(name)
    return model if model is not None and model.lifecycle != "retired" else None


def _timestamp(day: str | None) -> str | None:
    return f"{day}T00:00:00Z" if day else None


def _support(flag: bool) -> dict[str, bool]:
    return {"supported": flag}


def model_info(model: ModelSpec) -> dict[str, Any]:
    """The `ModelInfo` object GET /v1/models returns for a model."""
    efforts = {level: _support(level in model.efforts) for level in _ALL_EFFORTS}
    return {
        "type": "model",
        "id": model.id,
        "display_name": model.display_name,
        "created_at": _timestamp(model.released) or "1970-01-01T00:00:00Z",
        "lifecycle": model.lifecycle,
        "deprecated_at": _timestamp(model.deprecated_at),
        "retires_at": _timestamp(model.retires_at),
        "line": model.line,
        "max_input_tokens": model.context_window_tokens,
        "max_tokens": model.max_output_tokens,
        "capabilities": {
            "batch": _support(True),
            "citations": _support(True),
            "code_execution": _support(False),
            "context_management": _support(False),
            "effort": {"supported": bool(model.efforts), **efforts},
            "image_input": _support(True),
            "pdf_input": _support(True),
            "server_tools": {
                "supported": False,
                "code_execution": _support(False),
                "web_search": _support(False),
            },
            "structured_outputs": _support(model.structured_outputs),
            "thinking": {
                "supported": True,
                "types": {
                    "adaptive": _support(model.takes_adaptive),
                    "enabled": _support(model.takes_budget),
                    "disabled": _support(not model.thinks_by_default),
                    "between_tools": _support(False),
                },
            },
        },
    }
