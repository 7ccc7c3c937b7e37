"""POST /v1/search: the chunks retrieved for a query, with no Claude call."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep, UserCaller
from api.limits import check_request_limits
from api.schemas import SearchHit, SearchRequest, SearchResponse

router = APIRouter(tags=["answering"])


@router.post("/v1/search", summary="Find the chunks for a query, without calling Claude")
async def search(body: SearchRequest, caller: UserCaller, services: ServicesDep) -> SearchResponse:
    check_request_limits(services.settings, question=body.query, top_k=body.top_k)
    found = await services.retriever.search(body.query, body.top_k)
    return SearchResponse(
        results=[
            SearchHit(
                chunk_id=r.chunk.chunk_id,
                document_id=r.chunk.document_id,
                source=r.chunk.source,
                title=r.chunk.title,
                text=r.chunk.text,
                score=r.score,
            )
            for r in found
        ]
    )
