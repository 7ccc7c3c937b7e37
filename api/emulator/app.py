"""The emulator's ASGI app: the routes of the Messages, Models and Batches APIs."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.emulator.batches import BatchQueue
from api.emulator.clock import ScaledClock
from api.emulator.config import EmulatorConfig
from api.emulator.errors import ApiError
from api.emulator.faults import FaultInjector, fault_error
from api.emulator.ids import IdFactory
from api.emulator.messages import MessagesEngine
from api.emulator.models import MODELS, find_model, model_info
from api.emulator.streaming import stream_message
from api.emulator.wire import api_key, error_response, json_body, version

ORGANIZATION_ID = "00000000-0000-4000-8000-000000000000"
BATCH_MAX_BYTES = 256 * 1024 * 1024


class _RequestIds:
    """Gives every request an id and stamps it on the response as `request-id`."""

    def __init__(self, app: ASGIApp, ids: IdFactory) -> None:
        self._app = app
        self._ids = ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        rid = self._ids.request()
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        # uvicorn binds send to the request cycle; its transport is what `disconnect` closes.
        state["transport"] = getattr(getattr(send, "__self__", None), "transport", None)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"request-id", rid.encode()))
                headers.append((b"anthropic-organization-id", ORGANIZATION_ID.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_id)


class _Routes:
    def __init__(self, config: EmulatorConfig, engine: MessagesEngine) -> None:
        self.config = config
        self.engine = engine
        self.batches = BatchQueue(engine, config.ttft_ms / 1000, config.tokens_per_second)

    async def _pace(self, output_tokens: int) -> None:
        await asyncio.sleep(output_tokens / self.config.tokens_per_second)

    async def create_message(self, request: Request) -> Response:
        key = api_key(request)
        api_version = version(request)
        body = await json_body(request, self.config.max_request_bytes)
        prepared = self.engine.prepare(body, api_version, key)
        state = request.scope["state"]
        fault = state.get("fault")
        if body.get("stream"):
            transport = state.get("transport")
            events = stream_message(
                prepared.message,
                on_begin=lambda: self.engine.begin(prepared),
                ttft_seconds=self.config.ttft_ms / 1000,
                tokens_per_second=self.config.tokens_per_second,
                fault=fault,
                drop_connection=transport.close if transport is not None else lambda: None,
            )
            return StreamingResponse(events, media_type="text/event-stream")
        if fault is not None:
            raise fault_error("midstream_error")
        await asyncio.sleep(self.config.ttft_ms / 1000)
        self.engine.begin(prepared)
        await self._pace(prepared.usage["output_tokens"])
        return JSONResponse(prepared.message)

    async def count_tokens(self, request: Request) -> Response:
        api_key(request)
        api_version = version(request)
        body = await json_body(request, self.config.max_request_bytes)
        return JSONResponse({"input_tokens": self.engine.count_tokens(body, api_version)})

    async def list_models(self, request: Request) -> Response:
        api_key(request)
        version(request)
        wanted = request.query_params.getlist("lifecycle[]") or request.query_params.getlist(
            "lifecycle"
        )
        lifecycles = set(wanted) if wanted else {"active", "deprecated"}
        listed = [model_info(m) for m in MODELS if m.lifecycle in lifecycles]
        return JSONResponse(page_of(listed, request))

    async def get_model(self, request: Request) -> Response:
        api_key(request)
        version(request)
        model = find_model(request.path_params["model_id"])
        if model is None:
            raise ApiError(404, f"model: {request.path_params['model_id']}")
        return JSONResponse(model_info(model))

    async def create_batch(self, request: Request) -> Response:
        key = api_key(request)
        api_version = version(request)
        body = await json_body(request, BATCH_MAX_BYTES)
        batch = self.batches.create(key, api_version, body, str(request.base_url))
        return JSONResponse(batch.as_json())

    async def list_batches(self, request: Request) -> Response:
        key = api_key(request)
        version(request)
        return JSONResponse(page_of([b.as_json() for b in self.batches.listed(key)], request))

    async def get_batch(self, request: Request) -> Response:
        key = api_key(request)
        version(request)
        return JSONResponse(self.batches.get(key, request.path_params["batch_id"]).as_json())

    async def cancel_batch(self, request: Request) -> Response:
        key = api_key(request)
        version(request)
        return JSONResponse(self.batches.cancel(key, request.path_params["batch_id"]).as_json())

    async def delete_batch(self, request: Request) -> Response:
        key = api_key(request)
        version(request)
        batch_id = request.path_params["batch_id"]
        self.batches.delete(key, batch_id)
        return JSONResponse({"id": batch_id, "type": "message_batch_deleted"})

    async def batch_results(self, request: Request) -> Response:
        key = api_key(request)
        version(request)
        jsonl = self.batches.results_jsonl(key, request.path_params["batch_id"])
        return Response(jsonl, media_type="application/binary")


def page_of(items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
    """One page of a list endpoint: `limit`, `after_id` and `before_id` as the API takes them."""
    try:
        limit = int(request.query_params.get("limit", "20"))
    except ValueError as exc:
        raise ApiError(400, "limit: Input should be a valid integer") from exc
    if not 1 <= limit <= 1000:
        raise ApiError(400, "limit: Input should be between 1 and 1000")
    ids = [item["id"] for item in items]
    after, before = request.query_params.get("after_id"), request.query_params.get("before_id")
    if before is not None:
        end = ids.index(before) if before in ids else 0
        chosen = items[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        start = ids.index(after) + 1 if after in ids else 0
        chosen = items[start : start + limit]
        has_more = start + limit < len(items)
    return {
        "data": chosen,
        "has_more": has_more,
        "first_id": chosen[0]["id"] if chosen else None,
        "last_id": chosen[-1]["id"] if chosen else None,
    }


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(
            request, ApiError(400, f"Method {request.method} is not allowed here.")
        )
    return error_response(request, ApiError(404, "The requested resource could not be found."))


def create_app(config: EmulatorConfig | None = None, clock: ScaledClock | None = None) -> ASGIApp:
    """The emulator as an ASGI app; pass a clock to move cache time from a test."""
    config = config or EmulatorConfig()
    clock = clock or ScaledClock(config.time_scale)
    ids = IdFactory(config.seed)
    routes = _Routes(config, MessagesEngine(clock, ids, config.context_window_tokens))
    app = Starlette(
        routes=[
            Route("/v1/messages", routes.create_message, methods=["POST"]),
            Route("/v1/messages/count_tokens", routes.count_tokens, methods=["POST"]),
            Route("/v1/messages/batches", routes.create_batch, methods=["POST"]),
            Route("/v1/messages/batches", routes.list_batches, methods=["GET"]),
            Route("/v1/messages/batches/{batch_id}", routes.get_batch, methods=["GET"]),
            Route("/v1/messages/batches/{batch_id}", routes.delete_batch, methods=["DELETE"]),
            Route("/v1/messages/batches/{batch_id}/cancel", routes.cancel_batch, methods=["POST"]),
            Route("/v1/messages/batches/{batch_id}/results", routes.batch_results, methods=["GET"]),
            Route("/v1/models", routes.list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", routes.get_model, methods=["GET"]),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    return _RequestIds(FaultInjector(app, config.fault_rate, config.seed), ids)
