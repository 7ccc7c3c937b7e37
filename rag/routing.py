"""Model routing: is a question trivial enough for the fast model? One small structured call.

The classification runs on the fast model with structured output (rag/structured.py) and is
recorded in the ledger under its own feature, `route`. It is built to be cheap:
- no documents: only the question, after a fixed system prompt and a fixed list of examples;
- that fixed prefix is byte-stable and carries a cache mark whenever the cache policy finds it
  long enough for the model's minimum, so after the first call it is read at the cache rate;
- at most a few output tokens (`{"trivial": true}`);
- decisions are remembered per normalised question, so a repeated question (which the answer
  cache will serve anyway) costs no second classification.

Routing is off by default (STRATA_ROUTING): it adds a full round trip to the fast model before
the answer's first byte, and it pays only when the fast model is much cheaper. With the default
pair (Sonnet 5.5 at $2 per million input tokens, Haiku 5.5 at $0.10) a classification of about
700 tokens costs $0.00007 ($0.00001 once its prefix is cached), while a trivial answer over a
2,000-token documents block costs about $0.005 less on the fast model: it pays once more than
about 1.5% of new questions are trivial. With Haiku 4.5 ($1) as the fast model the saving per
answer halves and uncached classifications eat most of it. The usage summary reports the net
figure (routing_net_saved_usd), so the choice can be checked on real traffic.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from rag.answer_cache import normalise_question
from rag.cache_planner import CachePlanner, PlannedLayer, layer_key
from rag.errors import UpstreamError
from rag.generation import tool_answer_text
from rag.llm import Claude, ClaudeRequest, TextDelta, ToolInput
from rag.models import ModelInfo
from rag.recorded_call import Ledger, recorded_call
from rag.structured import parse_structured, structured_params
from rag.tokens import estimate_request_tokens
from rag.tracing import NO_TRACING, Tracing
from rag.types import CacheLayer, Feature

log = logging.getLogger("strata.routing")

ROUTE_TOOL = "record_route"
_MAX_OUTPUT_TOKENS = 64
_REMEMBERED_DECISIONS = 4096

ROUTING_SYSTEM_PROMPT = """\
You route messages sent to a question-answering service over the user's own documents. \
Decide whether a small, fast model would answer the message as well as a large one.

A message is trivial when it is small talk (a greeting, thanks, a farewell), a request to \
repeat or reformat an earlier answer, or a lookup of one plain fact that one quoted passage \
answers (a name, a date, a number, a definition).

It is not trivial when it asks for an explanation, a comparison, reasoning across passages, \
a summary, advice, a calculation, or when it is ambiguous. When unsure, it is not trivial. \
The user turn lists examples of trivial messages, then the message to route. Answer only \
with the classification."""

# Each line is a trivial message; real traffic's trivial share is mostly of these kinds.
ROUTING_EXAMPLES = """\
Examples of trivial messages:
Hello there.
Hi, good morning.
Hey, anyone here?
Good afternoon, team.
Good evening.
Thanks a lot.
Thank you, that is perfect.
Many thanks for the quick reply.
Cheers, great work.
Great, thanks again.
Goodbye for now.
Bye, see you tomorrow.
Okay, got it.
Sounds good to me.
Ok cool, noted.
Nice one.
Can you repeat that?
Say that again more briefly.
Shorten your last reply to one line.
Put the last reply in bullet points.
Translate your previous reply into French.
Make the last reply more formal.
Could you rephrase that more simply?
What was the title you just mentioned?
Who wrote the report you quoted?
Which year did you just cite?
What is the version number in that passage?
When was the note you quoted dated?
Spell out that acronym.
Expand the abbreviation in your answer.
Is that figure in dollars or euros?
Yes or no: is the office open on Sundays?
When is the office open?
What is the support email address?
What is the phone number of the front desk?
Where is the head office located?
Who signed the agreement?
On what date was the policy last updated?
What is the name of the product owner?
How many pages are in the manual?
Morning!
Hello again, I am back.
Thanks, that settles it.
Appreciate it, thank you kindly.
Have a nice weekend.
Talk to you later.
Alright, understood.
Perfect, exactly what I needed.
Give me that answer as a numbered list.
Turn your last reply into a table.
Say it in plain words for a child.
Quote the exact sentence you relied on.
Which file was that from?
Who is the author of the guide you quoted?
What is the postal code of the warehouse?
What is the opening date of the new branch?
Is the deadline the first or the fifteenth?
What currency are the prices in?"""


class RouteDecision(BaseModel):
    """The classification's structured output."""

    model_config = ConfigDict(extra="forbid")

    trivial: bool = Field(description="True when the fast model can answer the message as well.")


@dataclass
class Router:
    """Classifies questions on the fast model and remembers the answers."""

    claude: Claude
    ledger: Ledger
    fast: ModelInfo
    planner: CachePlanner
    tracing: Tracing = NO_TRACING
    _decisions: OrderedDict[str, bool] = field(default_factory=OrderedDict)
    _last_message_id: str | None = None

    async def is_trivial(self, question: str, http_request_id: str | None = None) -> bool:
        """True when the fast model should answer question; one `route` ledger row per call.

        A classification that fails (its error is in its ledger row) sends the question to the
        default model: routing only ever saves money, it never costs an answer.
        """
        key = normalise_question(question)
        if key in self._decisions:
            self._decisions.move_to_end(key)
            return self._decisions[key]
        try:
            trivial = await self._classify(question, http_request_id)
        except UpstreamError as exc:
            log.warning("routing to the default model: the classification failed: %s", exc)
            return False
        self._decisions[key] = trivial
        if len(self._decisions) > _REMEMBERED_DECISIONS:
            self._decisions.popitem(last=False)
        return trivial

    async def _classify(self, question: str, http_request_id: str | None) -> bool:
        prompt, prefix_tokens = await self._prompt(question)
        request = ClaudeRequest(
            model=self.fast.model_id,
            max_tokens=_MAX_OUTPUT_TOKENS,
            prompt=prompt,
            previous_message_id=self._last_message_id,
        )
        text: list[str] = []
        recording = recorded_call(
            self.ledger,
            self.tracing,
            Feature.ROUTE,
            self.fast.model_id,
            layer_prefix_tokens={CacheLayer.SYSTEM: prefix_tokens},
            http_request_id=http_request_id,
        )
        with recording as call:
            try:
                async for piece in self.claude.stream(request, call.meter):
                    if isinstance(piece, ToolInput):
                        text.append(tool_answer_text(piece.input))
                    elif isinstance(piece, TextDelta):
                        text.append(piece.text)
                decision = parse_structured(RouteDecision, "".join(text))
            finally:
                self._last_message_id = call.meter.message_id or self._last_message_id
        return decision.trivial

    async def _prompt(self, question: str) -> tuple[dict[str, object], int]:
        """The classification request, and the estimated tokens of its cached prefix."""
        examples: dict[str, object] = {"type": "text", "text": ROUTING_EXAMPLES}
        model = self.fast.model_id
        structured = structured_params(
            RouteDecision, self.fast, ROUTE_TOOL, "Record whether the message is trivial."
        )
        system = [{"type": "text", "text": ROUTING_SYSTEM_PROMPT}]
        prefix_tokens = estimate_request_tokens(
            {**structured, "system": system, "messages": [{"role": "user", "content": [examples]}]},
            self.fast,
        )
        # The structured params carry the forced tool (or output format) and its schema.
        options = json.dumps(structured, sort_keys=True)
        key = layer_key(model, "route", options, ROUTING_SYSTEM_PROMPT, ROUTING_EXAMPLES)
        prefix = PlannedLayer(CacheLayer.SYSTEM, key, prefix_tokens)
        mark = (await self.planner.plan(model, [prefix])).get(CacheLayer.SYSTEM)
        if mark is not None:
            examples = {**examples, "cache_control": mark.as_param()}
        params: dict[str, object] = {
            "system": system,
            "messages": [
                {"role": "user", "content": [examples, {"type": "text", "text": question}]}
            ],
        }
        return {**params, **structured}, prefix_tokens
