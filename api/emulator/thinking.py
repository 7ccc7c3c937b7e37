"""Thinking blocks: when a request gets one, what it says, and the signature that seals it."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from api.emulator.answers import Answer
from api.emulator.models import ModelSpec
from api.emulator.tokens import count_text

_SIGNATURE_KEY = b"strata-emulator-thinking"


def sign_thinking(thinking: str) -> str:
    """The opaque signature a thinking block carries; it proves the text was not edited."""
    digest = hashlib.sha256(_SIGNATURE_KEY + thinking.encode()).digest()
    return base64.b64encode(b"EmuSig1" + digest).decode()


def thinking_mode(body: dict[str, Any], model: ModelSpec) -> str | None:
    """`enabled` or `adaptive` when this request thinks, else None."""
    thinking = body.get("thinking") or {}
    kind = thinking.get("type")
    if kind is None and model.thinks_by_default:
        kind = "adaptive"
    effort = (body.get("output_config") or {}).get("effort") or model.default_effort
    # At low effort adaptive thinking may be skipped; the emulator always skips it there.
    if kind == "adaptive" and effort == "low":
        return None
    # A forced tool call is made without thinking (validation refuses it with `enabled`).
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return None
    return kind if kind in ("enabled", "adaptive") else None


def thinking_block(
    body: dict[str, Any], model: ModelSpec, found: Answer
) -> tuple[dict[str, Any], int]:
    """The thinking block and its tokens; `display: omitted` keeps only the signature."""
    thinking = body.get("thinking") or {}
    budget = thinking.get("budget_tokens") or 2048
    text = f"The question is: {found.question.strip() or 'not stated'}. "
    if found.sentences:
        text += "The most relevant passages say: " + " ".join(s.text for s in found.sentences)
    else:
        text += "Nothing in the supplied material addresses it directly."
    words = text.split(" ")
    while count_text(" ".join(words)) > budget and len(words) > 1:
        words.pop()
    text = " ".join(words)
    display = thinking.get("display") or ("omitted" if model.thinks_by_default else "summarized")
    shown = "" if display == "omitted" else text
    block = {"type": "thinking", "thinking": shown, "signature": sign_thinking(text)}
    return block, count_text(text)
