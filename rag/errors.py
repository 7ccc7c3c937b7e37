"""Errors the core raises; api/errors.py turns them into HTTP statuses.

* StrataError
  + InvalidInput              the caller sent something we will not process
    - UnsupportedDocument     a file type or content we cannot parse
    - EmptyDocument           a file with no bytes, or no text to index
    - DocumentTooLarge        over a configured size limit
    - FeatureUnsupported      the chosen model lacks a feature, or options that exclude each other
    - OverLimit               a question, top_k or max_tokens over its configured limit
  + NotFound                  no such document, job, conversation or batch
  + StillProcessing           a batch's results were asked for before it ended
  + LimitExceeded             a per-key limit (requests, streams, batch questions) is reached
    - BudgetExceeded          a key's daily budget is spent
  + NotReady                  a feature whose part has not been built or started
  + LedgerUnavailable         the usage ledger's database cannot be written or read
  + UpstreamError             Claude did not give a usable answer
    - UpstreamUnavailable     still failing after retries (429, 5xx, 529, connection)
      . UpstreamRateLimited   a 429 whose retry-after is past the retry budget, or the last one
    - UpstreamRejected        Claude refused the request (other 4xx): our bug, never retried
    - StructuredOutputInvalid Claude's structured answer does not validate against its schema
"""


class StrataError(Exception):
    """Base of every error Strata raises on purpose."""


class InvalidInput(StrataError):
    """The caller sent something we will not process."""


class UnsupportedDocument(InvalidInput):
    """A file whose type or content cannot be parsed."""


class EmptyDocument(InvalidInput):
    """A file with no bytes, or with no text to index."""


class DocumentTooLarge(InvalidInput):
    """A file or request over a configured size limit."""


class FeatureUnsupported(InvalidInput):
    """The chosen model lacks the requested feature, or the requested options exclude each other."""


class OverLimit(InvalidInput):
    """A question, top_k or max_tokens over its configured limit."""


class NotFound(StrataError):
    """No such document, job, conversation or batch."""


class StillProcessing(StrataError):
    """A batch's results were asked for before the batch ended."""


class LimitExceeded(StrataError):
    """A per-key limit is reached; retry later."""

    def __init__(self, message: str, retry_after_seconds: int = 1) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class BudgetExceeded(LimitExceeded):
    """A key's daily budget is spent; it resets at UTC midnight."""


class NotReady(StrataError):
    """A part of the service that is not available in this build or not started."""


class LedgerUnavailable(StrataError):
    """The usage ledger's database cannot be written or read."""


class UpstreamError(StrataError):
    """Claude did not give a usable answer."""


class UpstreamUnavailable(UpstreamError):
    """Claude kept failing with a transient error after every retry."""


class UpstreamRateLimited(UpstreamUnavailable):
    """Claude is rate-limited for retry_after_seconds: the caller may retry after that."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class UpstreamRejected(UpstreamError):
    """Claude rejected the request with a non-retryable 4xx."""


class StructuredOutputInvalid(UpstreamError):
    """Claude's structured answer is not valid JSON for the schema it was given."""
