"""The ledger's table, as SQLAlchemy sees it. Migrations under rag/migrations/ create it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData()

# One row per Claude call, or per answer-cache hit (a call that was not made).
# Times are UTC; started_epoch_ms is what filters and buckets use, portable across databases.
calls = Table(
    "ledger_calls",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("started_at", DateTime(), nullable=False),
    Column("started_epoch_ms", BigInteger(), nullable=False),
    Column("feature", String(32), nullable=False),
    Column("model", String(128), nullable=False),
    Column("conversation_id", String(128)),
    Column("batch", Boolean(), nullable=False),
    Column("input_tokens", BigInteger(), nullable=False),
    Column("cache_write_5m_tokens", BigInteger(), nullable=False),
    Column("cache_write_1h_tokens", BigInteger(), nullable=False),
    Column("cache_read_tokens", BigInteger(), nullable=False),
    Column("output_tokens", BigInteger(), nullable=False),
    # Costs are NULL when the model is unpriced; sums then leave the row out.
    Column("price_source", String(16), nullable=False),
    Column("cost_usd", Float()),
    Column("cost_without_cache_usd", Float()),
    Column("saved_usd", Float()),
    # saved_usd split by the prompt layer the cached tokens sit in (answer hits: saved_usd).
    Column("saved_system_usd", Float()),
    Column("saved_documents_usd", Float()),
    Column("saved_conversation_usd", Float()),
    Column("latency_ms", Float(), nullable=False),
    Column("time_to_first_token_ms", Float()),
    Column("request_id", String(128)),
    Column("http_request_id", String(128)),
    # The id (a keyed hash) of the API key the call was made for; NULL from before keys were
    # recorded, and for calls no key asked for (vision at ingest).
    Column("owner_key", String(64)),
    Column("layer_hit", String(16), nullable=False),
    Column("system_prefix_tokens", BigInteger(), nullable=False),
    Column("documents_prefix_tokens", BigInteger(), nullable=False),
    Column("conversation_prefix_tokens", BigInteger(), nullable=False),
    Column("cache_miss_reason", String(64)),
    Column("cache_missed_tokens", BigInteger()),
    Column("cache_missed_cost_usd", Float()),
    Column("avoided_cost_usd", Float()),
    # Routing chose a cheaper model: the model it passed over, and what that choice saved.
    Column("routed_from_model", String(128)),
    Column("routing_saved_usd", Float()),
    # Cache-write bookkeeping: what the writes cost above plain input, until when a later
    # call could read them, and how many written tokens a later call did read.
    Column("cache_write_premium_usd", Float()),
    Column("cache_write_expires_epoch_ms", BigInteger()),
    Column("cache_write_read_back_tokens", BigInteger(), nullable=False),
    # Digests of the prompt's prefixes (space-separated, top first), and of the one its cache
    # write ended at: a write is read back only by a call whose prompt holds that prefix.
    Column("cache_prefix_fingerprints", Text()),
    Column("cache_write_fingerprint", String(16)),
    Column("error", String(512)),
    # Semantic-cache hits: the cached question served, its similarity; audits: the verdict.
    Column("semantic_similarity", Float()),
    Column("semantic_question", String(512)),
    Column("semantic_audit_agreed", Boolean()),
    # The stream broke before the API's final count: output_tokens is estimated from its text.
    Column("output_estimated", Boolean(), nullable=False, server_default=false()),
    Index("ix_ledger_calls_started", "started_epoch_ms"),
    Index("ix_ledger_calls_model_started", "model", "started_epoch_ms"),
    Index("ix_ledger_calls_cost", "cost_usd"),
    # Finds the writes still live when a read arrives, without scanning the calls between.
    Index("ix_ledger_calls_model_write_expiry", "model", "cache_write_expires_epoch_ms"),
    Index("ix_ledger_calls_owner_started", "owner_key", "started_epoch_ms"),
)
