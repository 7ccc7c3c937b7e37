"""The front of answering: check a request against the model table, route it, then answer.

Every check happens before any Claude call, so a feature the model lacks is a 400 that costs
nothing. Routing (rag/routing.py) may then pick the fast model for a trivial question; an
explicit model in the request is never overridden.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace

from rag.answering import Answerer, AnswerEvent, AskOptions
from rag.dry_run import DryRunEstimate, price_ask
from rag.errors import InvalidInput
from rag.models import ModelInfo, model_info
from rag.routing import Router


@dataclass
class Asker:
    """Checks, routes and answers questions."""

    answerer: Answerer
    max_tokens_limit: int
    router: Router | None = None

    def check(self, question: str, options: AskOptions) -> ModelInfo:
        """The model the request names (or the default), if it can serve the request's shape."""
        if not question.strip():
            raise InvalidInput("the question is empty")
        info = model_info(options.model or self.answerer.default_model)
        options.shape.check(info, self.max_budget_tokens(info))
        return info

    def max_budget_tokens(self, info: ModelInfo) -> int:
        """The largest thinking budget that leaves the answer its room below max_tokens."""
        limit = min(info.max_output_tokens, self.max_tokens_limit)
        return limit - self.answerer.max_answer_tokens

    async def ask(
        self, question: str, options: AskOptions, http_request_id: str | None = None
    ) -> AsyncGenerator[AnswerEvent, None]:
        """The answer's events (see rag.answering), on the model routing chose."""
        info = self.check(question, options)
        fast = await self._fast_model_for(question, options, info, http_request_id)
        if fast is not None:
            options = replace(options, model=fast.model_id, routed_from_model=info.model_id)
        async for event in self.answerer.ask(question, options, http_request_id):
            yield event

    async def price(
        self, question: str, options: AskOptions, http_request_id: str | None = None
    ) -> DryRunEstimate:
        """What the ask would cost on the model it names (or the default); nothing generated.

        A dry run makes no routing call (that would generate): it prices the model the request
        names, or the default model.
        """
        info = self.check(question, options)
        return await price_ask(self.answerer, question, options, info, http_request_id)

    async def _fast_model_for(
        self, question: str, options: AskOptions, info: ModelInfo, http_request_id: str | None
    ) -> ModelInfo | None:
        """The fast model when routing sends this request to it, else None.

        Routing leaves alone a request that names its model, a follow-up (switching models
        mid-conversation would forfeit its cached turns) and a shape the fast model cannot serve.
        """
        router = self.router
        if router is None or options.model is not None or options.conversation_id is not None:
            return None
        if router.fast.model_id == info.model_id:
            return None
        try:
            options.shape.check(router.fast, self.max_budget_tokens(router.fast))
        except InvalidInput:
            return None
        return router.fast if await router.is_trivial(question, http_request_id) else None
