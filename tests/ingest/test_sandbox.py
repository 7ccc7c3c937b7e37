"""The parse sandbox names the real cause of a failure, whatever the size of its parent."""

from __future__ import annotations

import pytest

from ingest.sandbox import ParseLimits, load_isolated
from rag.errors import InvalidInput

LIMITS = ParseLimits(256 * 1024 * 1024, 120)


def test_a_damaged_pdf_is_called_damaged_when_the_parent_process_is_large() -> None:
    # A server or `strata ingest` holds the embedding model: far past half the child's limit.
    ballast = bytearray(400 * 1024 * 1024)
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1

    with pytest.raises(InvalidInput, match="not a readable PDF") as refused:
        load_isolated(b"%PDF-1.4 this is not a PDF", "broken.pdf", None, 20_000_000, None, LIMITS)

    assert "memory" not in str(refused.value)
    del ballast
