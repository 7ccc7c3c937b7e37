"""The stores' tables, as SQLAlchemy sees them. Migrations under rag/migrations/ create them.

Times are UTC. JSON travels as text, so both databases store it the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(), nullable=False),
    # The id (a keyed hash) of the API key that started it; NULL from before owners were kept.
    Column("owner_key", String(64)),
)

# One row per finished turn, numbered from 0; the chunks it was answered over are kept so a
# follow-up resends the same documents block, whichever replica answers it.
conversation_turns = Table(
    "conversation_turns",
    metadata,
    Column("conversation_id", String(64), ForeignKey("conversations.id"), primary_key=True),
    Column("number", Integer(), primary_key=True),
    Column("question", Text(), nullable=False),
    Column("answer", Text(), nullable=False),
    Column("chunks", Text(), nullable=False),
    Column("corpus_version", String(64), nullable=False),
    Column("message_id", String(128)),
    Column("created_at", DateTime(), nullable=False),
)

# Whole answers by key. A row without text is a claim: one request is asking Claude for this
# answer until claimed_until_epoch_ms; the same question elsewhere waits for it.
answers = Table(
    "answers",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("model", String(128)),
    Column("text", Text()),
    Column("sources", Text()),
    Column("citations", Text()),
    Column("usage", Text()),
    # The documents block the answer was given over (JSON chunks), for a hit's conversation.
    Column("chunks", Text()),
    Column("claimed_until_epoch_ms", BigInteger()),
    # When the answer was last stored or served: the least recent goes first past the bound.
    Column("used_epoch_ms", BigInteger()),
    Column("created_at", DateTime(), nullable=False),
    Index("ix_answers_used", "used_epoch_ms"),
)

# The document registry: a document is part of the corpus once its status is `done`.
documents = Table(
    "documents",
    metadata,
    Column("document_id", String(64), primary_key=True),
    Column("source", Text(), nullable=False),
    Column("title", Text(), nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("size_bytes", BigInteger(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("chunk_count", Integer(), nullable=False),
    Column("error", Text()),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_documents_source", "source"),
)

# Documents whose chunks must still leave the vector store.
document_purges = Table(
    "document_purges",
    metadata,
    Column("document_id", String(64), primary_key=True),
)

# Embeddings by the hash of the text they embed (float32 bytes).
embeddings = Table(
    "embeddings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("vector", LargeBinary(), nullable=False),
)

# Small named values shared by every replica: the corpus version.
shared_values = Table(
    "strata_values",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text(), nullable=False),
)

# Upload jobs: a queue any replica takes from. A running job is leased to one process until
# lease_expires_epoch_ms; the process renews the lease while it works.
jobs = Table(
    "jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("filename", Text(), nullable=False),
    Column("declared_type", String(128)),
    Column("status", String(16), nullable=False),
    Column("document_id", String(64)),
    Column("error", Text()),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("lease_owner", String(128)),
    Column("lease_expires_epoch_ms", BigInteger()),
    Column("attempts", Integer(), nullable=False),
    # The id (a keyed hash) of the API key that uploaded the file.
    Column("owner_key", String(64)),
    Index("ix_jobs_status_created", "status", "created_at"),
)

# The bytes of an accepted upload until its job ends: replicas share no disk.
job_uploads = Table(
    "job_uploads",
    metadata,
    Column("job_id", String(64), ForeignKey("jobs.job_id"), primary_key=True),
    Column("data", LargeBinary(), nullable=False),
)

# Answers the semantic cache may serve for a paraphrase: the bare question, its embedding
# (float32 bytes) and the chunks the answer was built on, grouped by scope (corpus version,
# prompt version, model and options).
semantic_answers = Table(
    "semantic_answers",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("scope", String(64), nullable=False),
    Column("corpus_version", String(128), nullable=False),
    Column("question", Text(), nullable=False),
    Column("vector", LargeBinary(), nullable=False),
    Column("chunk_ids", Text(), nullable=False),
    Column("text", Text(), nullable=False),
    Column("sources", Text(), nullable=False),
    Column("citations", Text(), nullable=False),
    Column("usage", Text(), nullable=False),
    Column("chunks", Text()),
    Column("created_epoch_ms", BigInteger(), nullable=False),
    Index("ix_semantic_answers_scope", "scope"),
)

# Batches of questions sent to the Message Batches API. A batch's calls go into the ledger
# once: the process recording them holds recording_until_epoch_ms, then sets recorded.
batches = Table(
    "batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("upstream_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("counts", Text(), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("ended_at", String(40)),
    Column("recorded", Boolean(), nullable=False),
    Column("recording_until_epoch_ms", BigInteger()),
    # The id (a keyed hash) of the API key that submitted it.
    Column("owner_key", String(64)),
    Index("ix_batches_recorded", "recorded"),
)

batch_questions = Table(
    "batch_questions",
    metadata,
    Column("batch_id", String(64), ForeignKey("batches.id"), primary_key=True),
    Column("position", Integer(), primary_key=True),
    Column("custom_id", String(64), nullable=False),
    Column("question", Text(), nullable=False),
    Column("model", String(128), nullable=False),
    Column("chunks", Text(), nullable=False),
    Column("layer_prefix_tokens", Text(), nullable=False),
    Column("prompt_tokens", Integer(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("answer", Text()),
    Column("citations", Text(), nullable=False),
    Column("usage", Text(), nullable=False),
    Column("message_id", String(128)),
    Column("stop_reason", String(32)),
    Column("cache_miss_reason", String(64)),
    Column("cache_missed_input_tokens", Integer()),
    Column("error", Text()),
)

# Secrets every replica must agree on (e.g. the key that hashes API keys into owner ids),
# created once by whichever process asks first.
# Per-key request buckets (rag/storage/rate_buckets.py): tokens left, and when last counted.
rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("owner_key", String(64), primary_key=True),
    Column("tokens", Float(), nullable=False),
    Column("updated_epoch_ms", BigInteger(), nullable=False),
)

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary(), nullable=False),
)

# The cache planner's marks (rag/storage/cache_traffic.py): which layer keys were marked and
# sent, with which TTL and when, on the planner's clock (seconds).
cache_marks = Table(
    "cache_marks",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("ttl", String(4), nullable=False),
    Column("sent_at", Float(), nullable=False),
    Column("expires_at", Float(), nullable=False),
    Index("ix_cache_marks_expires", "expires_at"),
)

# The cache planner's reuse runs per kind of statistics: uses of a key each within the kind's
# TTL of the one before (rag/cache_planner.py names the kinds and their TTLs). A key's run is
# still going while its last use is within the TTL.
cache_reuse_runs = Table(
    "cache_reuse_runs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("last_used_at", Float(), nullable=False),
    Column("uses", Integer(), nullable=False),
    Index("ix_cache_reuse_runs_key", "kind", "key", "last_used_at"),
    Index("ix_cache_reuse_runs_recent", "kind", "last_used_at"),
)

# Documents blocks the planner marked, offered to other questions while their cache entries
# live (cache_marks says how long). scope names what else the block's bytes depend on: the
# model, the request's variant and the corpus version; chunk_ids are the block's chunk ids,
# one per line, read for every question weighing it; chunks is their JSON, read once chosen.
warm_blocks = Table(
    "warm_blocks",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("scope", String(64), nullable=False),
    Column("chunk_ids", Text(), nullable=False),
    Column("chunks", Text(), nullable=False),
    Column("tokens", Integer(), nullable=False),
    Index("ix_warm_blocks_scope", "scope"),
)
