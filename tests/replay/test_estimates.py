"""Strata's own token estimates (rag/tokens.py) against the counts the real API reported.

The same recorded requests as the emulator's replay, but no emulator code: planning and the
emulator are calibrated on the same facts and checked apart, so a slip in one is not hidden by
the same slip in the other.
"""

from __future__ import annotations

from typing import Any

import pytest

from rag.models import model_info
from rag.tokens import estimate_request_tokens, estimate_text_tokens
from tests.replay.test_replay import CASES, MIN_TOLERANCE_TOKENS, REPLAYED_ON, TOLERANCE

COUNTED = [case for case in CASES if case["status"] == 200]


def _real_prompt_tokens(case: dict[str, Any]) -> int:
    if case["endpoint"] == "count_tokens":
        return int(case["response"]["input_tokens"])
    usage = case["events"][0]["data"]["message"]["usage"] if "events" in case else None
    usage = usage or case["response"]["usage"]
    return int(
        usage["input_tokens"]
        + (usage.get("cache_creation_input_tokens") or 0)
        + (usage.get("cache_read_input_tokens") or 0)
    )


@pytest.mark.parametrize("case", COUNTED, ids=[case["name"] for case in COUNTED])
def test_the_estimate_of_a_recorded_request_is_within_its_tolerance(case: dict[str, Any]) -> None:
    request = case["request"]
    model = model_info(REPLAYED_ON.get(request["model"], request["model"]))
    estimated = estimate_request_tokens(request, model)
    real = _real_prompt_tokens(case)
    allowed = max(TOLERANCE[case["kind"]] * real, MIN_TOLERANCE_TOKENS)
    assert abs(estimated - real) <= allowed, f"estimated {estimated}, the real API {real}"


def test_a_long_english_prompt_is_estimated_within_two_percent() -> None:
    # The real API counted this prompt, sent alone with the system prompt below, as 1,114.
    prompt = "Please explain what Python is and its main use cases. " * 100
    system = "You are a helpful assistant."
    estimated = estimate_text_tokens(prompt) + estimate_text_tokens(system) + 7
    assert abs(estimated - 1114) <= 0.02 * 1114


def test_non_latin_text_is_not_undercounted_as_one_word() -> None:
    assert estimate_text_tokens("東京は日本の首都です") >= 10
    assert estimate_text_tokens("") == 0
