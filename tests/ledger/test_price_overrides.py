"""STRATA_PRICE_OVERRIDES: validated as settings, and pricing a model genai-prices lacks."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from rag.settings import Settings
from tests.ledger.usage_fixtures import EmulatorTap

MYTHOS_5 = {"input": 10, "output": 50, "cache_read": 0.25}


def build(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def strata_settings(corpus_home: Path, emulator_url: str) -> Settings:
    return build(
        home=corpus_home,
        anthropic_base_url=emulator_url,
        price_overrides=json.dumps({"claude-mythos-5": MYTHOS_5}),
    )


def test_price_overrides_are_read_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    overrides = {
        "claude-mythos-5": {"input": 10, "output": 50},
        "claude-mythos-5-1": {
            "input": "12.5",
            "output": 60,
            "cache_read": 0.3,
            "cache_write_5m": 15,
            "cache_write_1h": 24,
        },
    }
    monkeypatch.setenv("STRATA_PRICE_OVERRIDES", json.dumps(overrides))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    plain = settings.price_overrides["claude-mythos-5"]
    full = settings.price_overrides["claude-mythos-5-1"]
    assert (plain.input, plain.output, plain.cache_read) == (Decimal(10), Decimal(50), None)
    assert (full.input, full.cache_read, full.cache_write_1h) == (
        Decimal("12.5"),
        Decimal("0.3"),
        Decimal(24),
    )


def test_no_price_overrides_by_default() -> None:
    assert build().price_overrides == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "STRATA_PRICE_OVERRIDES must be a JSON object"),
        ('["claude-mythos-5"]', "price_overrides"),
        ('{"claude-mythos-5": {"input": 10}}', r"claude-mythos-5\.output"),
        ('{"claude-mythos-5": {"input": -1, "output": 5}}', "greater than or equal to 0"),
        ('{"claude-mythos-5": {"input": "ten", "output": 5}}', r"claude-mythos-5\.input"),
        ('{"claude-mythos-5": {"input": 1, "output": 5, "cache_write": 2}}', "cache_write"),
        ('{" ": {"input": 1, "output": 5}}', "empty model id"),
    ],
    ids=["not-json", "not-an-object", "no-output", "negative", "not-a-number", "typo", "no-id"],
)
def test_malformed_price_overrides_are_rejected_saying_what_is_wrong(
    value: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        build(price_overrides=value)


def ask(client: httpx.Client, question: str, model: str) -> None:
    body = {"question": question, "model": model, "stream": False}
    response = client.post("/v1/ask", json=body)
    assert response.status_code == 200, response.text


def test_override_prices_a_model_the_library_lacks_in_the_summary(
    client: httpx.Client, tap: EmulatorTap
) -> None:
    ask(client, "How does a Fresnel lens help a lighthouse?", "claude-mythos-5")
    ask(client, "How do bees turn nectar into honey?", "claude-mythos-5")
    ask(client, "How do bees turn nectar into honey?", "claude-mythos-5-1")

    summary = client.get("/v1/usage/summary").json()

    billed = [usage for model, usage in tap.usages() if model == "claude-mythos-5"]
    assert len(billed) == 2
    # USD per million tokens from the override: 10 in, 12.5 (1.25x) 5m write, 20 (2x) 1h
    # write, 0.25 read, 50 out.
    expected = sum(
        u["input_tokens"] * 10
        + u["cache_creation_5m"] * 12.5
        + u["cache_creation_1h"] * 20
        + u["cache_read_input_tokens"] * 0.25
        + u["output_tokens"] * 50
        for u in billed
    )
    priced = summary["by_model"]["claude-mythos-5"]
    assert priced["unpriced_calls"] == 0
    assert priced["cost_usd"] == pytest.approx(expected / 1e6)
    assert priced["cost_usd"] > 0
    # Not overridden, and absent from the library: unpriced, never free.
    unpriced = summary["by_model"]["claude-mythos-5-1"]
    assert unpriced["unpriced_calls"] == unpriced["calls"] == 1
    assert summary["unpriced_calls"] == 1
