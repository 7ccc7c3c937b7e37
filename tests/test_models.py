"""The model table follows the SDK's deprecation list."""

from __future__ import annotations

import pytest

from rag.errors import InvalidInput
from rag.models import MODELS, model_info


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929"])
def test_a_retired_model_is_refused_with_its_retirement_date_and_the_choices(model: str) -> None:
    with pytest.raises(InvalidInput, match=r"retired on 2026-11-30.*claude-sonnet-5-5"):
        model_info(model)
    assert "claude-sonnet-4-5" not in MODELS


def test_an_unknown_model_is_refused_as_unknown() -> None:
    with pytest.raises(InvalidInput, match="unknown model 'claude-nonsense-1'"):
        model_info("claude-nonsense-1")


def test_a_deprecated_but_served_model_is_still_known() -> None:
    assert model_info("claude-opus-4-5-20251101").model_id == "claude-opus-4-5"
