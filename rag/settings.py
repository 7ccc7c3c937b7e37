"""Strata's one settings object, read from STRATA_* variables and an optional .env file.

Built once by the app factory or a CLI command and passed down; no other module reads the
environment. The .env file is never the working directory's: a file planted in a folder the
server happens to start in could send Claude calls, and the key, elsewhere.
"""

from __future__ import annotations

import ipaddress
import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Role = Literal["admin", "user", "viewer"]
CachePolicyName = Literal["adaptive", "always", "off"]

_ROLES: tuple[Role, ...] = ("admin", "user", "viewer")
# A shorter key could be guessed by a client trying keys; 16 random characters cannot.
MIN_KEY_CHARS = 16


def is_loopback(host: str) -> bool:
    """True when host names this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiKey(BaseModel):
    """One API key, the role it grants and its daily budget; the key never appears in a log."""

    model_config = ConfigDict(frozen=True)

    secret: SecretStr
    role: Role
    daily_budget_usd: Decimal | None = Field(None, gt=0, allow_inf_nan=False)


class PriceOverride(BaseModel):
    """One model's prices in USD per million tokens, for STRATA_PRICE_OVERRIDES.

    Cache prices left out follow the documented multipliers of input: a read 0.1x, a
    5-minute write 1.25x, a 1-hour write 2x.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: Decimal = Field(ge=0, allow_inf_nan=False)
    output: Decimal = Field(ge=0, allow_inf_nan=False)
    cache_read: Decimal | None = Field(None, ge=0, allow_inf_nan=False)
    cache_write_5m: Decimal | None = Field(None, ge=0, allow_inf_nan=False)
    cache_write_1h: Decimal | None = Field(None, ge=0, allow_inf_nan=False)


def _split_key(item: str) -> tuple[str, Role, Decimal | None]:
    """`key:role` or `key:role:dollars` as its key, role and daily budget (a key may hold ':')."""
    head, _, last = item.rpartition(":")
    budget: Decimal | None = None
    if last not in _ROLES and head.rpartition(":")[2] in _ROLES:
        try:
            budget = Decimal(last)
        except ArithmeticError:
            budget = None
        if budget is None or not budget.is_finite() or budget <= 0:
            raise ValueError(
                f"a daily budget in STRATA_API_KEYS is {last!r}; give dollars above 0, "
                "e.g. 'key:user:5.00'"
            )
        head, _, last = head.rpartition(":")
    for role in _ROLES:
        if last == role and head:
            return head, role, budget
    raise ValueError(
        "STRATA_API_KEYS must look like 'key1:admin,key2:user:5.00' (an optional daily budget "
        f"in dollars last) with roles among {', '.join(_ROLES)}"
    )


class _EnvFileLocation(BaseSettings):
    """Where Settings.load looks for a .env file: read before the settings it holds."""

    model_config = SettingsConfigDict(env_prefix="STRATA_", extra="ignore")

    env_file: Path | None = None
    home: Path | None = None


class Settings(BaseSettings):
    """Everything Strata can be configured with. Field descriptions feed the README table."""

    model_config = SettingsConfigDict(
        env_prefix="STRATA_", env_file=None, extra="ignore", populate_by_name=True
    )

    env_file: Path | None = Field(
        None,
        description="A `.env` file of settings; unset: `$STRATA_HOME/.env` when `STRATA_HOME` "
        "is set. The working directory's `.env` is never read. Variables take precedence.",
    )

    home: Path = Field(
        Path(".strata"), description="Directory for all runtime state: Chroma, the ledger, jobs."
    )
    host: str = Field("127.0.0.1", description="Address `strata serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `strata serve` listens on.")
    api_keys: Annotated[list[ApiKey], NoDecode] = Field(
        default_factory=list,
        description="API keys with roles, `key1:admin,key2:user,key3:viewer`, each optionally "
        "with a daily budget in dollars (`key2:user:5.00`, reset at UTC midnight); each key at "
        "least 16 characters and given once. Without keys the server only listens on loopback.",
    )
    url: str | None = Field(
        None,
        description="A running Strata server (`--url`, e.g. `http://127.0.0.1:8000`): `strata "
        "ask`, `search`, `usage`, `batch` and `ingest` send their work to it.",
    )
    api_key: SecretStr | None = Field(
        None,
        description="The key the CLI sends to the server at `STRATA_URL` (one of that server's "
        "`STRATA_API_KEYS`); unset: none is sent.",
    )
    anthropic_api_key: SecretStr | None = Field(
        None,
        validation_alias="ANTHROPIC_API_KEY",
        description="Claude API key (`ANTHROPIC_API_KEY`). Unset: the offline emulator answers.",
    )
    anthropic_base_url: str | None = Field(
        None, description="Send Claude calls to this URL instead of the real API (an emulator)."
    )
    model: str = Field("claude-sonnet-5-5", description="Default answering model.")
    fast_model: str = Field(
        "claude-haiku-5-5", description="Cheap model for trivial questions and routing."
    )
    vision_model: str | None = Field(
        None,
        description="Model that transcribes images and text-less PDF pages at ingest (ledger "
        "feature `vision`); unset: `STRATA_MODEL`.",
    )
    max_vision_pages: int = Field(
        50,
        ge=0,
        description="Most text-less PDF pages transcribed for one document (one vision call "
        "each); a PDF with more is refused before any call.",
    )
    routing: bool = Field(
        False,
        description="Let the fast model answer trivial questions, decided by one cheap "
        "classification call on it (ledger feature `route`). Off by default: it adds a round "
        "trip before the first byte of every new question.",
    )
    cache_policy: CachePolicyName = Field(
        "adaptive",
        description="`adaptive` marks a cache layer only when it is expected to pay, "
        "`always` marks every layer, `off` sends no cache_control and disables the answer cache.",
    )
    answer_cache_max_entries: int = Field(
        10_000,
        ge=1,
        description="Most answers the answer cache keeps; past it the least recently used go.",
    )
    semantic_cache: Literal["on", "off"] = Field(
        "off",
        description="Serve a cached answer for a paraphrase of its question, when the evidence, "
        "numbers, negations, names and content words all agree (layer `semantic`). Off by "
        "default: on the adversarial set it serves too few paraphrases (see Semantic cache).",
    )
    semantic_cache_audit_rate: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Share of semantic-cache hits answered anyway in the background (ledger "
        "feature `semantic_audit`) and compared with the answer served, for the dashboard's "
        "disagreement rate; 0 turns the audit off.",
    )
    max_answer_tokens: int = Field(1024, ge=1, le=128_000, description="max_tokens for an answer.")
    top_k: int = Field(
        8,
        ge=1,
        le=100,
        description="Most chunks retrieved for a question; its context keeps those it needs "
        "(`STRATA_CONTEXT_SCORE_MARGIN`).",
    )
    max_top_k: int = Field(
        50, ge=1, le=1000, description="Largest top_k a search or ask request may ask for."
    )
    max_answer_tokens_limit: int = Field(
        8192, ge=1, le=128_000, description="Largest max_tokens a request may ask for."
    )
    context_token_budget: int = Field(
        12_000, ge=256, description="Most document tokens put into one prompt."
    )
    history_token_budget: int = Field(
        32_000,
        ge=256,
        description="Most tokens of earlier turns a follow-up carries (the model's context "
        "window bounds it too). Past it the oldest turns go, down to half the budget at once, "
        "so the cached conversation prefix stays the same until the next cut.",
    )
    context_score_margin: float = Field(
        0.12,
        ge=0,
        le=2,
        description="How far below the best chunk's similarity a retrieved chunk may score and "
        "still be sent: the context is sized per question, up to top_k chunks. The default is "
        "the knee of grounding against context tokens on the benchmark's FAQ set.",
    )
    agent_max_iterations: int = Field(
        5,
        ge=1,
        description="Claude calls an agentic ask (`agentic=true`) may make when the request "
        "does not say; past them the loop stops with an `iteration_limit` event.",
    )
    agent_max_iterations_limit: int = Field(
        10, ge=1, le=50, description="Largest `max_iterations` an agentic ask may ask for."
    )
    hybrid_search: bool = Field(
        True,
        description="Re-rank dense search's candidates (three per chunk wanted) by weighted "
        "reciprocal rank fusion with BM25 of each chunk, the similarity of the opening chunk "
        "of its section and BM25 of its whole section; scores stay cosine similarities. On "
        "by default: it ranks the answer higher on the `tune` half of both of the retrieval "
        "benchmark's FAQ sets.",
    )
    hybrid_lexical_weight: float = Field(
        0.3,
        ge=0,
        le=10,
        description="With hybrid search, BM25's weight in the fusion against dense search's 1. "
        "The default is the best of those tried on the `tune` half of the retrieval "
        "benchmark's FAQ sets.",
    )
    claude_max_attempts: int = Field(
        4, ge=1, le=10, description="Attempts per Claude call on 429, 5xx, 529 or a lost link."
    )
    claude_max_retry_wait_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest wait before retrying a Claude call; a 429 whose retry-after is "
        "longer fails at once and the client gets a 429 with that retry-after.",
    )
    price_overrides: Annotated[dict[str, PriceOverride], NoDecode] = Field(
        default_factory=dict,
        description="Prices that take precedence over genai-prices, as a JSON object of model id "
        'to USD per million tokens, e.g. `{"claude-mythos-5": {"input": 10, "output": 50}}` '
        "with your rates; optional `cache_read`, `cache_write_5m`, `cache_write_1h` default to "
        "0.1x, 1.25x and 2x input. A model priced by neither is shown unpriced, never free.",
    )
    batch_poll_seconds: float = Field(
        30.0, gt=0, description="How often the server checks submitted batches for results."
    )
    max_batch_questions: int = Field(
        1000, ge=1, le=100_000, description="Most questions in one `POST /v1/batches`."
    )
    otlp_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP collector URL (e.g. `http://localhost:4318`) to export traces "
        "to; unset: tracing is off.",
    )
    chroma_url: str | None = Field(
        None, description="Chroma server URL (`chroma run`); unset: a local store under home."
    )
    database_url: str | None = Field(
        None,
        description="PostgreSQL URL for all state but vectors (ledger, conversations, answers, "
        "documents, jobs, batches); unset: SQLite under home.",
    )
    embedding_model_path: Path | None = Field(
        None, description="Sentence-transformers model folder; unset: the bundled all-MiniLM-L6-v2."
    )
    embedding_precision: Literal["fp32", "int8"] = Field(
        "fp32",
        description="`fp32`: the bundled model as trained, run by onnxruntime from an ONNX "
        "export (PyTorch's vectors; PyTorch itself only when no export can be built). `int8`: "
        "the same weights quantized to int8. Each export is built from the packaged weights on "
        "first use into the model cache (nothing is downloaded). Switching re-embeds the "
        "indexed chunks into that embedder's own collection.",
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where the ONNX exports of the embedder are built and kept, shared by every "
        "home on the machine; unset: `$XDG_CACHE_HOME/strata/models`, else "
        "`~/.cache/strata/models`.",
    )
    embedding_batch_size: int = Field(
        8,
        ge=1,
        le=1024,
        description="Chunks encoded per batch. Small batches are the fastest in onnxruntime "
        "(chunks run to the model's 256-word-piece window) and hold the least memory.",
    )
    max_upload_bytes: int = Field(
        50 * 1024 * 1024, ge=1, description="Largest accepted upload file, in bytes."
    )
    max_files_per_upload: int = Field(20, ge=1, description="Most files in one upload request.")
    ingest_workers: int = Field(
        2,
        ge=1,
        le=32,
        description="Upload jobs one process ingests at once (from the shared queue).",
    )
    job_lease_seconds: float = Field(
        30.0,
        ge=1,
        description="How long a replica holds an upload job without a heartbeat; after that "
        "(its process died) another replica takes the job.",
    )
    upload_orphan_seconds: float = Field(
        3600.0,
        ge=1,
        description="Files under `STRATA_HOME/uploads` that no request or job is using and "
        "that have not changed for this long (left by a killed process) are deleted; checked "
        "while the server runs.",
    )
    max_unpacked_bytes: int = Field(
        200 * 1024 * 1024,
        ge=1,
        description="Most bytes a DOCX (a ZIP archive) may unpack to; more is a zip bomb.",
    )
    parse_memory_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=128 * 1024 * 1024,
        description="Address space a PDF or Word file's parse may use; each is parsed in a "
        "child process held to it, so a decompression bomb fails its own upload.",
    )
    parse_timeout_seconds: float = Field(
        300.0,
        gt=0,
        description="Longest one PDF or Word file's parse may take before it is stopped and "
        "its upload fails.",
    )
    max_request_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest accepted JSON request body, in bytes."
    )
    max_question_chars: int = Field(4000, ge=1, description="Longest accepted question.")
    max_streams_per_key: int = Field(
        8, ge=1, description="Answer streams one API key may hold open at once."
    )
    rate_limit_per_minute: int = Field(
        600,
        ge=0,
        description="Requests one API key may make per minute, in bursts of as many (a token "
        "bucket in the shared database, so across replicas); 0: no limit. No-key mode has none.",
    )
    agent_max_tool_calls: int = Field(
        10,
        ge=1,
        description="Tool calls one agentic answer may run; later calls get an error result "
        "telling Claude to answer with what it found.",
    )
    agent_context_token_budget: int = Field(
        200_000,
        ge=2048,
        description="Most tokens one Claude call of an agentic answer may use, prompt and "
        "max_tokens together (the model's context window bounds it too). Tool results that "
        "would pass it are cut, Claude is told so, and the next call is the last: it answers "
        "from what fits, with no tools to call.",
    )
    max_batch_questions_in_flight: int = Field(
        2000,
        ge=1,
        description="Questions one API key may have in batches that have not ended; a batch "
        "that would pass it is refused (429).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed by CORS, comma-separated; empty: off."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level."
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_api_keys(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        keys = []
        seen: set[str] = set()
        for item in filter(None, (part.strip() for part in value.split(","))):
            secret, role, budget = _split_key(item)
            if len(secret) < MIN_KEY_CHARS:
                raise ValueError(
                    f"an API key (the {role} key) is {len(secret)} characters; keys need at "
                    f"least {MIN_KEY_CHARS}, e.g. from `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'`"
                )
            if secret in seen:
                raise ValueError(
                    f"an API key appears twice in STRATA_API_KEYS (the second time as {role}); "
                    "give each key one role"
                )
            seen.add(secret)
            keys.append({"secret": secret, "role": role, "daily_budget_usd": budget})
        return keys

    @field_validator("env_file")
    @classmethod
    def _env_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"STRATA_ENV_FILE names {value}, which is not a file")
        return value

    @classmethod
    def load(cls, **overrides: object) -> Settings:
        """Settings from the environment, then from STRATA_ENV_FILE or `$STRATA_HOME/.env`.

        overrides (command-line options) take precedence over both.
        """
        where = _EnvFileLocation()
        env_file = where.env_file
        if env_file is None and where.home is not None:
            env_file = where.home / ".env"
        if env_file is not None and not env_file.is_file() and where.env_file is None:
            env_file = None
        return cls(_env_file=env_file, **overrides)  # type: ignore[arg-type]

    @field_validator("price_overrides", mode="before")
    @classmethod
    def _parse_price_overrides(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(
                    "STRATA_PRICE_OVERRIDES must be a JSON object like "
                    '{"model-id": {"input": 3, "output": 15}} (USD per million tokens): '
                    f"{exc}"
                ) from exc
        if isinstance(value, dict) and not all(
            isinstance(model, str) and model.strip() for model in value
        ):
            raise ValueError("STRATA_PRICE_OVERRIDES has an empty model id")
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not a server URL: it starts with http:// or https://")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_open_server_without_keys(self) -> Settings:
        if not self.api_keys and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host} with no API keys: set STRATA_API_KEYS "
                "(e.g. STRATA_API_KEYS='a-long-secret:admin') or bind to 127.0.0.1"
            )
        if not self.api_keys and self.cors_origins:
            raise ValueError(
                "refusing CORS origins with no API keys: any page from those origins could "
                "drive this server as an admin; set STRATA_API_KEYS or drop STRATA_CORS_ORIGINS"
            )
        return self

    @property
    def offline(self) -> bool:
        """True when no Claude key is set: an emulator gives extractive answers."""
        return self.anthropic_api_key is None
