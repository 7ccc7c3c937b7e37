"""The Messages engine: validate, price the prompt, consult the cache, compose the reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.emulator.cache import CachePlan, PromptCache
from api.emulator.clock import ScaledClock
from api.emulator.diagnostics import Fingerprint, FingerprintStore, compare
from api.emulator.errors import invalid
from api.emulator.ids import IdFactory
from api.emulator.models import ModelSpec
from api.emulator.prompt import Prompt, build_prompt
from api.emulator.replies import compose_reply
from api.emulator.validation import validate_request


@dataclass(slots=True)
class PreparedMessage:
    """A reply decided at arrival; its cache writes land when the response begins."""

    message: dict[str, Any]
    plan: CachePlan
    prompt: Prompt
    fingerprint_wanted: bool

    @property
    def usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = self.message["usage"]
        return usage


def _fitting_prompt(body: dict[str, Any], model: ModelSpec, window: int | None) -> Prompt:
    prompt = build_prompt(body, model)
    maximum = min(model.context_window_tokens, window or model.context_window_tokens)
    if prompt.total_tokens > maximum:
        raise invalid(f"prompt is too long: {prompt.total_tokens} tokens > {maximum} maximum")
    return prompt


class MessagesEngine:
    """Everything /v1/messages, count_tokens and batches share, per emulator instance."""

    def __init__(
        self, clock: ScaledClock, ids: IdFactory, context_window_tokens: int | None = None
    ) -> None:
        self.clock = clock
        self.ids = ids
        # Caps every model's window when set (EmulatorConfig.context_window_tokens).
        self.context_window_tokens = context_window_tokens
        self.cache = PromptCache(clock)
        self.fingerprints = FingerprintStore()

    def count_tokens(self, body: Any, version: str) -> int:
        """The whole prompt's tokens, as `count_tokens` reports them (no cache split)."""
        model = validate_request(body, version, counting=True)
        return _fitting_prompt(body, model, self.context_window_tokens).total_tokens

    def prepare(
        self, body: Any, version: str, api_key: str, service_tier: str = "standard"
    ) -> PreparedMessage:
        """Validate and answer a request; the cache is read now, written by `begin`."""
        model = validate_request(body, version)
        prompt = _fitting_prompt(body, model, self.context_window_tokens)
        plan = self.cache.plan(api_key, prompt, model.min_cacheable_tokens)
        reply = compose_reply(body, model, self.ids.tool_use)
        diagnostics = None
        requested = body.get("diagnostics")
        if isinstance(requested, dict) and requested.get("previous_message_id"):
            previous = self.fingerprints.get(api_key, requested["previous_message_id"])
            diagnostics = compare(previous, Fingerprint.of(prompt))
        usage = plan.usage.as_usage(reply.output_tokens, reply.thinking_tokens)
        usage["service_tier"] = service_tier
        message = {
            "id": self.ids.message(),
            "type": "message",
            "role": "assistant",
            "model": model.id,
            "content": reply.content,
            "stop_reason": reply.stop_reason,
            "stop_sequence": reply.stop_sequence,
            "stop_details": None,
            "container": None,
            "diagnostics": diagnostics,
            "usage": usage,
        }
        return PreparedMessage(message, plan, prompt, isinstance(requested, dict))

    def begin(self, prepared: PreparedMessage) -> None:
        """The response has begun: its cache entries and fingerprint become visible."""
        self.cache.commit(prepared.plan)
        if prepared.fingerprint_wanted:
            self.fingerprints.put(
                prepared.plan.api_key, prepared.message["id"], Fingerprint.of(prepared.prompt)
            )
