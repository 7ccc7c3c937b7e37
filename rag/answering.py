"""Answers a question: retrieve, assemble the layered prompt, stream from Claude, record usage.

Answerer.ask() yields typed events in this order: Retrieved, Delta+, Cited*, Used, Done; or
Failed once the stream has begun. Errors before the first event (an unknown conversation or
model) are raised, so the HTTP layer can answer with a status. One ledger record is written per
Claude call, also when the consumer goes away mid-stream (with the usage seen so far), and per
answer-cache hit (layer `answer`, with the usage it avoided) or semantic-cache hit (layer
`semantic`, with the cached question it matched and the similarity).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from rag.answer_cache import StoredAnswer, answer_key
from rag.cache_planner import BlockOffer, CachePlanner, PlannedLayer
from rag.context_sizing import ContextSizing, leans_on_conversation, sized_context
from rag.errors import InvalidInput, UpstreamError
from rag.generation import AnswerShape, tool_answer_text
from rag.history import kept_turns
from rag.llm import CitationDelta, Claude, ClaudeRequest, ThinkingDelta, ToolInput
from rag.models import model_info
from rag.owners import LOCAL_OWNER, Owner
from rag.packing import WarmBlock, block_tokens, pack, warm_scope
from rag.pricing import PriceTable
from rag.prompt import (
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    Block,
    LayeredPrompt,
    build_prompt,
    documents_kind,
    planned_layers,
)
from rag.recorded_call import Ledger, layer_hit, recorded_call
from rag.retrieval import Retriever
from rag.semantic_cache import SemanticCache, SemanticMatch, semantic_scope
from rag.storage.answers import AnswerCache
from rag.storage.conversations import Conversation, ConversationStore
from rag.storage.serialised import dump_chunks, load_chunks
from rag.structured import StructuredAnswer
from rag.tokens import estimate_request_tokens
from rag.tracing import NO_TRACING, TraceSpan, Tracing, prompt_attributes
from rag.types import (
    CacheLayer,
    CallRecord,
    Chunk,
    Citation,
    Feature,
    RetrievedChunk,
    Source,
    Turn,
    Usage,
)


@dataclass(frozen=True, slots=True)
class AskOptions:
    """Per-request choices; None means the configured default."""

    conversation_id: str | None = None
    model: str | None = None
    top_k: int | None = None
    stream: bool = True
    shape: AnswerShape = field(default_factory=AnswerShape)
    # Set when routing chose a cheaper model than this one: the ledger prices the difference.
    routed_from_model: str | None = None
    # Whose conversation this is: a key continues only its own (an admin, any).
    owner: Owner = LOCAL_OWNER


@dataclass(frozen=True, slots=True)
class Retrieved:
    """The chunks the answer is given over, and the conversation it belongs to."""

    conversation_id: str
    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class Thinking:
    """A piece of the model's visible thinking, before the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class Cited:
    """A passage the answer cites."""

    citation: Citation


@dataclass(frozen=True, slots=True)
class Used:
    """What the answer cost; saved_usd is what caching saved against no caching at all."""

    usage: Usage
    cost_usd: Decimal | None
    cost_without_cache_usd: Decimal | None
    saved_usd: Decimal | None
    layer_hit: CacheLayer


@dataclass(frozen=True, slots=True)
class Done:
    """The whole answer."""

    conversation_id: str
    model: str
    text: str
    sources: tuple[Source, ...]
    citations: tuple[Citation, ...]
    from_answer_cache: bool
    # The validated object of a format=json answer; text is then its JSON.
    structured: StructuredAnswer | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """The answer broke off after it began; error says why."""

    error: UpstreamError


AnswerEvent = Retrieved | Thinking | Delta | Cited | Used | Done | Failed


@dataclass(frozen=True, slots=True)
class Context:
    """What a question is answered over: the documents block and the chunks found beyond it.

    unsent are the conversation's earlier cached layers when their entries are gone: not
    sent, but counted by the cache planner as used again (see Answerer.context_of).
    """

    chunks: list[Chunk]
    fresh: list[Chunk] = field(default_factory=list)
    unsent: tuple[PlannedLayer, ...] = ()


@dataclass
class Answerer:
    """Answers questions over the store with Claude, through every cache layer."""

    retriever: Retriever
    claude: Claude
    conversations: ConversationStore
    answer_cache: AnswerCache
    ledger: Ledger
    prices: PriceTable
    corpus_version: Callable[[], str]
    planner: CachePlanner
    default_model: str = "claude-sonnet-5-5"
    default_top_k: int = 8
    max_answer_tokens: int = 1024
    context_sizing: ContextSizing = field(default_factory=ContextSizing)
    # Most tokens of earlier turns a request carries (rag/history.py).
    history_token_budget: int = 32_000
    tracing: Tracing = NO_TRACING
    # The paraphrase tier behind the exact answer cache; None when STRATA_SEMANTIC_CACHE=off.
    semantic_cache: SemanticCache | None = None
    # Share of semantic hits answered anyway in the background and compared (0: none).
    semantic_audit_rate: float = 0.0
    _audits: set[asyncio.Task[None]] = field(default_factory=set)

    async def ask(
        self, question: str, options: AskOptions, http_request_id: str | None = None
    ) -> AsyncGenerator[AnswerEvent, None]:
        """The events of answering question (see the module docstring for their order)."""
        attributes = {"strata.conversation_id": options.conversation_id}
        with self.tracing.span("strata.ask", attributes=attributes) as trace:
            async with aclosing(self._ask(question, options, http_request_id, trace)) as events:
                async for event in events:
                    if isinstance(event, Done):
                        trace.set(
                            {
                                "strata.conversation_id": event.conversation_id,
                                "gen_ai.request.model": event.model,
                                "strata.answer_cached": event.from_answer_cache,
                            }
                        )
                    yield event

    async def _ask(
        self,
        question: str,
        options: AskOptions,
        http_request_id: str | None,
        trace: TraceSpan,
    ) -> AsyncGenerator[AnswerEvent, None]:
        if not question.strip():
            raise InvalidInput("the question is empty")
        model = model_info(options.model or self.default_model).model_id
        # Two reads that do not depend on each other: one wait instead of two.
        conversation, corpus_version = await asyncio.gather(
            self._conversation(options.conversation_id, options.owner),
            asyncio.to_thread(self.corpus_version),
        )
        feature = Feature.ASK_STREAM if options.stream else Feature.ASK

        shape = options.shape
        key_options = self.answer_key_options(options.top_k, shape, model)
        key = answer_key(question, corpus_version, PROMPT_VERSION, model, key_options)
        use_answer_cache = (
            self.planner.policy != "off" and not conversation.turns and shape.answer_cacheable
        )
        # On a miss this request holds the key's claim: the same question elsewhere waits for
        # this answer instead of paying for its own (rag/storage/answers.py).
        stored = await self.answer_cache.get_or_claim(key) if use_answer_cache else None
        if stored is not None:
            hit = _Hit(question, stored, stored.chunks, corpus_version)
            async for event in self._serve(
                hit, conversation, model, shape, feature, http_request_id
            ):
                yield event
            return

        try:
            variant = variant_of(shape)
            # The warm blocks a new documents block may be packed into, read while retrieving.
            retrieved, offered = await asyncio.gather(
                self.retrieve_for(question, options.top_k, conversation, trace),
                self.planner.warm_blocks(warm_scope(model, variant, corpus_version)),
            )
            # Answers that depend on a conversation are never served from, nor kept in, it.
            semantic = self.semantic_cache if use_answer_cache else None
            if semantic is not None:
                scope = semantic_scope(corpus_version, PROMPT_VERSION, model, key_options)
                vector = await semantic.embed(question)
                retrieved_ids = [r.chunk.chunk_id for r in retrieved]
                match = await semantic.find(question, vector, scope, retrieved_ids)
                if match is not None:
                    chunks_sent = match.answer.chunks or tuple(r.chunk for r in retrieved)
                    hit = _Hit(question, match.answer, chunks_sent, corpus_version, match)
                    served = self._serve(hit, conversation, model, shape, feature, http_request_id)
                    async for event in served:
                        yield event
                    if random.random() < self.semantic_audit_rate:
                        chunks = [r.chunk for r in retrieved]
                        audit = self._audit(question, chunks, conversation, model, shape, match)
                        task = asyncio.create_task(audit)
                        self._audits.add(task)
                        task.add_done_callback(self._audits.discard)
                    return
            context = await self.context_of(
                retrieved, options.top_k, conversation, corpus_version, model, variant, offered
            )
            info = model_info(model)
            max_tokens = shape.max_tokens(self.max_answer_tokens, info.max_output_tokens)
            with self.tracing.span("strata.prompt", trace) as prompt_span:
                prompt = await self.layered_prompt(
                    context.chunks,
                    conversation,
                    question,
                    model,
                    fresh=context.fresh,
                    variant=variant,
                    max_tokens=max_tokens,
                    unsent=context.unsent,
                    corpus_version=corpus_version,
                )
                prompt_span.set(prompt_attributes(prompt))
            sources = tuple(source_of(c) for c in prompt.chunks)
            yield Retrieved(conversation.conversation_id, sources)

            request = ClaudeRequest(
                model=model,
                max_tokens=max_tokens,
                prompt=shape.request_params(prompt.request_params(), info),
                previous_message_id=conversation.last_message_id,
            )
            text: list[str] = []
            citations: list[Citation] = []
            recording = recorded_call(
                self.ledger,
                self.tracing,
                feature,
                model,
                trace,
                prompt=prompt,
                conversation_id=conversation.conversation_id,
                http_request_id=http_request_id,
                routed_from_model=options.routed_from_model,
            )
            with recording as call:
                try:
                    async with aclosing(self.claude.stream(request, call.meter)) as events:
                        async for piece in events:
                            if isinstance(piece, CitationDelta):
                                citation = citation_of(piece, prompt.chunks)
                                if citation not in citations:
                                    citations.append(citation)
                            elif isinstance(piece, ThinkingDelta):
                                yield Thinking(piece.text)
                            elif isinstance(piece, ToolInput):
                                text.append(tool_answer_text(piece.input))
                                yield Delta(text[-1])
                            else:
                                text.append(piece.text)
                                yield Delta(piece.text)
                except UpstreamError as exc:
                    call.failure = exc
            meter, failure = call.meter, call.failure
            answer = "".join(text)
            if failure is None:
                try:
                    structured = shape.structured(answer)
                except UpstreamError as exc:
                    failure = exc
            if failure is not None:
                yield Failed(failure)
                return

            for citation in citations:
                yield Cited(citation)
            yield self._used(model, meter.usage, layer_hit(meter.usage, prompt))
            complete = meter.stop_reason in ("end_turn", "tool_use")
            # An ingest or delete that landed during the call may have changed what retrieval
            # saw: such an answer is kept under no version.
            if use_answer_cache and complete and await self._corpus_unchanged(corpus_version):
                stored = StoredAnswer(
                    answer, sources, tuple(citations), meter.usage, prompt.block_chunks
                )
                await self.answer_cache.put(key, model, stored)
                if semantic is not None:
                    # The evidence guard compares retrievals, as the benchmark measured it:
                    # the context sent may be a sized subset of them.
                    await semantic.remember(
                        question, vector, scope, corpus_version, retrieved_ids, stored
                    )
            await self.conversations.append(
                conversation.conversation_id,
                Turn(question, answer),
                prompt.block_chunks,
                corpus_version,
                meter.message_id,
            )
            yield Done(
                conversation.conversation_id,
                model,
                answer,
                sources,
                tuple(citations),
                False,
                structured,
            )
        finally:
            if use_answer_cache:
                # A no-op once the answer is stored; otherwise the next asker calls Claude.
                await self.answer_cache.release(key)

    def answer_key_options(
        self, top_k: int | None, shape: AnswerShape, model: str
    ) -> dict[str, object]:
        """Every option an answer depends on besides question, corpus, prompt and model.

        What retrieval finds (top_k as asked, the default, hybrid search, the vectors, the
        budget), how the context is cut from it, the request's max_tokens, and the shape
        (format with its citations toggle, structured-answer schema, thinking).
        """
        info = model_info(model)
        return {
            "top_k": top_k,
            "default_top_k": self.default_top_k,
            "retrieval": self.retriever.key_fields(),
            "context": asdict(self.context_sizing),
            "max_tokens": shape.max_tokens(self.max_answer_tokens, info.max_output_tokens),
            **shape.cache_fields(),
        }

    async def _corpus_unchanged(self, corpus_version: str) -> bool:
        return await asyncio.to_thread(self.corpus_version) == corpus_version

    async def close_audits(self) -> None:
        """Stop the audits still running (before the ledger they write to closes)."""
        for task in list(self._audits):
            task.cancel()
        await asyncio.gather(*self._audits, return_exceptions=True)

    async def _audit(
        self,
        question: str,
        chunks: list[Chunk],
        conversation: Conversation,
        model: str,
        shape: AnswerShape,
        served: SemanticMatch,
    ) -> None:
        """Answer question for real, and record whether it agrees with the answer served."""
        assert self.semantic_cache is not None
        prompt = await self.layered_prompt(
            chunks, conversation, question, model, observe=False, variant=variant_of(shape)
        )
        info = model_info(model)
        request = ClaudeRequest(
            model=model,
            max_tokens=shape.max_tokens(self.max_answer_tokens, info.max_output_tokens),
            prompt=shape.request_params(prompt.request_params(), info),
        )
        text: list[str] = []
        recording = recorded_call(
            self.ledger,
            self.tracing,
            Feature.SEMANTIC_AUDIT,
            model,
            prompt=prompt,
            conversation_id=conversation.conversation_id,
        )
        with recording as call:
            try:
                async with aclosing(self.claude.stream(request, call.meter)) as events:
                    async for piece in events:
                        if isinstance(piece, ToolInput):
                            text.append(tool_answer_text(piece.input))
                        elif not isinstance(piece, CitationDelta | ThinkingDelta):
                            text.append(piece.text)
            except UpstreamError as exc:
                call.failure = exc
            agreed = None
            if call.failure is None:
                agreed = await self.semantic_cache.agree(served.answer.text, "".join(text))
            call.annotate(
                semantic_question=served.question,
                semantic_similarity=served.similarity,
                semantic_audit_agreed=agreed,
            )

    async def retrieve_for(
        self,
        question: str,
        top_k: int | None,
        conversation: Conversation,
        trace: TraceSpan | None = None,
    ) -> list[RetrievedChunk]:
        """The candidates for question: top_k of them, or the default top_k when None.

        A follow-up that finds nothing on its own ("tell me more") leans on the conversation:
        it is searched for together with the question before it.
        """
        wanted = top_k or self.default_top_k
        retrieved = await self.retriever.retrieve(question, wanted, trace)
        if conversation.turns and leans_on_conversation(retrieved, self.context_sizing):
            standalone = f"{conversation.turns[-1].question}\n{question}"
            retrieved = await self.retriever.retrieve(standalone, wanted, trace)
        return retrieved

    async def context_of(
        self,
        retrieved: list[RetrievedChunk],
        top_k: int | None,
        conversation: Conversation,
        corpus_version: str,
        model: str,
        variant: str,
        offered: Sequence[tuple[str, str, int]] | None = None,
        observe: bool = True,
    ) -> Context:
        """The documents block and the chunks that go with it.

        A request that names its top_k gets every retrieved chunk (within the token budget);
        otherwise the context keeps those the question needs. A follow-up keeps the
        conversation's documents block, same bytes, while its cache entry is live: the block
        is read at the cache rate and what retrieval found beyond it goes with the new
        question. Once the entry is gone (or was never written), resending the block would cost
        full price for chunks the follow-up may not need, so the follow-up gets a block of its
        own, built like a first question's; the old block's layers come back as unsent, for
        the cache planner to count as used again when it plans the request (observe=False, a
        dry run, leaves them out), so that it learns how often conversations come back and
        marks the first turns worth writing. offered are the warm blocks, if already read
        (see _packed).
        """
        needed = [
            r.chunk for r in (retrieved if top_k else sized_context(retrieved, self.context_sizing))
        ]
        if not conversation.last_chunks or conversation.last_corpus_version != corpus_version:
            return await self._packed(needed, corpus_version, model, variant, offered)
        last = build_prompt(
            conversation.last_chunks, conversation.turns, "", {}, model=model_info(model)
        )
        kind = block_kind(conversation, conversation.last_chunks)
        layers = planned_layers(last, model, variant, conversation.conversation_id, kind)
        cached = tuple(p for p in layers if p.layer is not CacheLayer.SYSTEM)
        if not await self.planner.live_keys(p.key for p in cached):
            packed = await self._packed(needed, corpus_version, model, variant, offered)
            return replace(packed, unsent=cached if observe else ())
        in_block = {c.chunk_id for c in conversation.last_chunks}
        fresh = [c for c in needed if c.chunk_id not in in_block]
        return Context(list(conversation.last_chunks), fresh)

    async def _packed(
        self,
        needed: list[Chunk],
        corpus_version: str,
        model: str,
        variant: str,
        offered: Sequence[tuple[str, str, int]] | None,
    ) -> Context:
        """A new documents block for needed: a warm one that holds part of it, if cheaper.

        See rag/packing.py. offered are the planner's warm blocks (read here when None). The
        block chosen is offered in turn once the request marks it.
        """
        if offered is None:
            offered = await self.planner.warm_blocks(warm_scope(model, variant, corpus_version))
        warm = [
            WarmBlock(frozenset(ids.splitlines()), tokens, chunks)
            for ids, chunks, tokens in offered
        ]
        read = self.planner.read_multiplier(model)
        packing = pack(needed, warm, read, self.context_sizing.token_budget)
        if packing is None:
            return Context(needed)
        return Context(list(load_chunks(packing.block.chunks)), packing.missing)

    async def context_for(
        self,
        question: str,
        top_k: int | None,
        conversation: Conversation,
        corpus_version: str,
        model: str,
        variant: str,
        trace: TraceSpan | None = None,
    ) -> Context:
        """retrieve_for, then context_of: what a dry run of the ask would send."""
        retrieved = await self.retrieve_for(question, top_k, conversation, trace)
        return await self.context_of(
            retrieved, top_k, conversation, corpus_version, model, variant, observe=False
        )

    async def _conversation(self, conversation_id: str | None, owner: Owner) -> Conversation:
        if conversation_id is None:
            return await self.conversations.start(owner)
        return await self.conversations.load(conversation_id, owner)

    async def layered_prompt(
        self,
        chunks: list[Chunk],
        conversation: Conversation,
        question: str,
        model: str,
        observe: bool = True,
        system: str = SYSTEM_PROMPT,
        tools: Sequence[Block] = (),
        fresh: Sequence[Chunk] = (),
        variant: str = "",
        max_tokens: int | None = None,
        unsent: Sequence[PlannedLayer] = (),
        corpus_version: str | None = None,
    ) -> LayeredPrompt:
        """The prompt with the marks the cache planner chose for each of its layers.

        observe=False leaves the planner alone: a dry run is not traffic. system and tools
        replace the answering defaults (agentic answering brings its own); variant names the
        request options that change the cached bytes (see variant_of). The earlier turns are
        those the context-window guard keeps for a reply of max_tokens (None: the model's
        longest). unsent are layers the planner counts as used though not sent (see
        context_of). With the corpus version chunks come from, the documents block is offered
        to other questions once it is marked (see _packed).
        """
        info = model_info(model)
        turns = conversation.turns
        if turns:
            bare = build_prompt(chunks, (), question, {}, system, tools, fresh, info)
            rest = estimate_request_tokens(bare.request_params(), info)
            turns = kept_turns(turns, info, rest, max_tokens, self.history_token_budget)
        draft = build_prompt(chunks, turns, question, {}, system, tools, fresh, info)
        kind = block_kind(conversation, chunks)
        layers = planned_layers(draft, model, variant, conversation.conversation_id, kind)
        offer = None
        if corpus_version is not None and chunks:
            scope = warm_scope(model, variant, corpus_version)
            ids = "\n".join(c.chunk_id for c in chunks)
            offer = BlockOffer(scope, ids, dump_chunks(chunks), block_tokens(chunks))
        marks = await self.planner.plan(model, layers, observe=observe, unsent=unsent, offer=offer)
        return build_prompt(chunks, turns, question, marks, system, tools, fresh, info)

    async def _serve(
        self,
        hit: _Hit,
        conversation: Conversation,
        model: str,
        shape: AnswerShape,
        feature: Feature,
        http_request_id: str | None,
    ) -> AsyncGenerator[AnswerEvent, None]:
        """A stored answer served as the answer, then kept as the conversation's turn.

        The turn keeps the documents the answer was given over: follow-ups are grounded in
        them and resend the same block the answering call wrote to the cache.
        """
        replay = self._replay(hit.answer, conversation, model, feature, http_request_id, hit.match)
        async for event in replay:
            if isinstance(event, Done):
                event = replace(event, structured=shape.structured(event.text))
            yield event
        await self.conversations.append(
            conversation.conversation_id,
            Turn(hit.question, hit.answer.text),
            hit.chunks,
            hit.corpus_version,
            conversation.last_message_id,
        )

    async def _replay(
        self,
        stored: StoredAnswer,
        conversation: Conversation,
        model: str,
        feature: Feature,
        http_request_id: str | None,
        match: SemanticMatch | None = None,
    ) -> AsyncGenerator[AnswerEvent, None]:
        """A stored answer, replayed as events with zero tokens, recorded as a cache hit.

        With match, the hit is the semantic tier's: the ledger keeps the question it matched.
        """
        layer = CacheLayer.ANSWER if match is None else CacheLayer.SEMANTIC
        started, started_at = time.perf_counter(), datetime.now(UTC)
        yield Retrieved(conversation.conversation_id, stored.sources)
        yield Delta(stored.text)
        for citation in stored.citations:
            yield Cited(citation)
        record = CallRecord(
            feature=feature,
            model=model,
            usage=Usage(),
            started_at=started_at,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            conversation_id=conversation.conversation_id,
            layer_hit=layer,
            avoided_usage=stored.usage,
            http_request_id=http_request_id,
            semantic_question=match.question if match else None,
            semantic_similarity=match.similarity if match else None,
        )
        self.ledger.record(record)
        # Priced as the ledger prices the row, so the user sees the dashboard's saving.
        cost = self.prices.cost_of_record(record)
        yield Used(Usage(), cost.cost_usd, cost.cost_without_cache_usd, cost.saved_usd, layer)
        yield Done(
            conversation.conversation_id,
            model,
            stored.text,
            stored.sources,
            stored.citations,
            True,
        )

    def _used(self, model: str, usage: Usage, layer_hit: CacheLayer) -> Used:
        cost = self.prices.cost_of(model, usage)
        return Used(usage, cost.cost_usd, cost.cost_without_cache_usd, cost.saved_usd, layer_hit)


def block_kind(conversation: Conversation, chunks: Sequence[Chunk]) -> str:
    """The reuse statistics of a documents block of chunks sent in conversation (documents_kind).

    The conversation's own block, kept, was built by its block_turn; any other block is built
    by the request about to be made, the conversation's next turn.
    """
    kept = conversation.last_chunks and _ids(chunks) == _ids(conversation.last_chunks)
    return documents_kind(conversation.block_turn if kept else len(conversation.turns))


def _ids(chunks: Sequence[Chunk]) -> list[str]:
    return [chunk.chunk_id for chunk in chunks]


@dataclass(frozen=True, slots=True)
class _Hit:
    """A stored answer that serves question, with the chunks its turn keeps."""

    question: str
    answer: StoredAnswer
    chunks: tuple[Chunk, ...]
    corpus_version: str
    match: SemanticMatch | None = None


def variant_of(shape: AnswerShape) -> str:
    """The answer options that change a request's cached bytes.

    The format (and with it the citations toggle and the forced tool or output format of a
    structured answer, whose schema they carry) and thinking.
    """
    return json.dumps(shape.cache_fields(), sort_keys=True)


def citation_of(event: CitationDelta, chunks: tuple[Chunk, ...]) -> Citation:
    """The citation, tied to its chunk when its search_result_index points into chunks."""
    if 0 <= event.search_result_index < len(chunks):
        chunk = chunks[event.search_result_index]
        return Citation(
            event.cited_text, chunk.source, chunk.chunk_id, chunk.document_id, chunk.title
        )
    return Citation(event.cited_text, event.source, title=event.title)


def source_of(chunk: Chunk) -> Source:
    """The source entry an answer lists for chunk."""
    return Source(chunk.chunk_id, chunk.document_id, chunk.source, chunk.title)
