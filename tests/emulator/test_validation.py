from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest

from api.emulator import EmulatorConfig, create_app
from api.serving import serve_in_thread
from tests.emulator.material import MODEL

HI = [{"role": "user", "content": "hi"}]


def _post(url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    sent = {"x-api-key": "sk-raw", "anthropic-version": "2026-10-21", **headers}
    return httpx.post(f"{url}/v1/messages", headers=sent, json=body)


def test_missing_key_is_401_with_the_error_body(emulator_url: str) -> None:
    response = httpx.post(
        f"{emulator_url}/v1/messages",
        headers={"anthropic-version": "2026-10-21"},
        json={"model": MODEL, "max_tokens": 5, "messages": HI},
    )
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert body["request_id"] == response.headers["request-id"]


def test_x_api_key_and_bearer_are_both_accepted(emulator_url: str) -> None:
    body = {"model": MODEL, "max_tokens": 5, "messages": HI}
    assert _post(emulator_url, body).status_code == 200
    bearer = httpx.post(
        f"{emulator_url}/v1/messages",
        headers={"authorization": "Bearer sk-x", "anthropic-version": "2026-10-21"},
        json=body,
    )
    assert bearer.status_code == 200


def test_missing_version_header_is_a_400(emulator_url: str) -> None:
    response = httpx.post(
        f"{emulator_url}/v1/messages",
        headers={"x-api-key": "k"},
        json={"model": MODEL, "max_tokens": 5, "messages": HI},
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "anthropic-version: header is required"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": MODEL, "messages": HI}, "max_tokens: Field required"),
        ({"model": MODEL, "max_tokens": 5, "messages": []}, "messages: List should have"),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "assistant", "content": "x"}]},
            'first message must use the "user" role',
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": HI, "temperature": 0.5},
            "temperature: Extra inputs are not permitted",
        ),
        (
            {"model": MODEL, "max_tokens": 200_000, "messages": HI},
            "max_tokens: 200000 > 128000",
        ),
    ],
)
def test_malformed_requests_are_400_invalid_request_error(
    emulator_url: str, body: dict[str, Any], message: str
) -> None:
    response = _post(emulator_url, body)
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert message in response.json()["error"]["message"]


def test_sampling_parameters_still_work_on_the_2023_version(emulator_url: str) -> None:
    body = {"model": MODEL, "max_tokens": 5, "messages": HI, "temperature": 0.5, "top_k": 5}
    assert _post(emulator_url, body, **{"anthropic-version": "2023-06-01"}).status_code == 200
    assert _post(emulator_url, body).status_code == 400


def test_2026_version_rejects_a_document_in_an_assistant_turn(emulator_url: str) -> None:
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "x"},
    }
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [document]},
        {"role": "user", "content": "and?"},
    ]
    body = {"model": MODEL, "max_tokens": 5, "messages": messages}
    assert _post(emulator_url, body).status_code == 400
    assert _post(emulator_url, body, **{"anthropic-version": "2023-06-01"}).status_code == 200


def test_2026_version_rejects_citations_on_user_text(emulator_url: str) -> None:
    cited = {"type": "text", "text": "quote", "citations": [{"type": "char_location"}]}
    body = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": [cited]}]}
    assert _post(emulator_url, body).status_code == 400
    echoed = {"type": "text", "text": "quote", "citations": None}
    body = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": [echoed]}]}
    assert _post(emulator_url, body).status_code == 200


def test_unknown_model_is_the_sdk_not_found_error(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="claude-unknown-9", max_tokens=5, messages=HI)
    assert caught.value.body["error"]["message"] == "model: claude-unknown-9"
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("req_")


def test_retired_model_is_not_served(client: anthropic.Anthropic) -> None:
    with (
        pytest.raises(anthropic.NotFoundError),
        pytest.warns(DeprecationWarning, match="deprecated"),
    ):
        client.messages.create(model="claude-mythos-preview", max_tokens=5, messages=HI)


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929"])
def test_claude_sonnet_4_5_is_retired_on_2026_11_30(
    client: anthropic.Anthropic, model: str
) -> None:
    with (
        pytest.raises(anthropic.NotFoundError) as caught,
        pytest.warns(DeprecationWarning, match="November 30th, 2026"),
    ):
        client.messages.create(model=model, max_tokens=5, messages=HI)
    assert caught.value.body["error"] == {"type": "not_found_error", "message": f"model: {model}"}
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model=model, messages=HI)


def test_oversized_body_is_413(api_key: str) -> None:
    app = create_app(EmulatorConfig(max_request_bytes=2_000))
    with serve_in_thread(app) as url:
        sdk = anthropic.Anthropic(base_url=url, api_key=api_key, max_retries=0)
        big = [{"role": "user", "content": "x" * 5_000}]
        with pytest.raises(anthropic.APIStatusError) as caught:
            sdk.messages.create(model=MODEL, max_tokens=5, messages=big)
    assert caught.value.status_code == 413
    assert caught.value.body["error"]["type"] == "request_too_large"


def test_prefill_is_refused_on_current_models_and_continued_on_older_ones(
    client: anthropic.Anthropic,
) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello"}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=20, messages=messages)
    assert "does not support assistant message prefill" in caught.value.message
    message = client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=messages)
    assert message.stop_reason == "end_turn"


def test_tool_use_without_a_following_tool_result_is_rejected(
    client: anthropic.Anthropic,
) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}],
        },
        {"role": "user", "content": "well?"},
    ]
    tools = [{"name": "weather", "input_schema": {"type": "object"}}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=20, messages=messages, tools=tools)
    assert "`tool_use` ids were found without `tool_result` blocks" in caught.value.message


def test_a_prompt_beyond_the_context_window_is_refused(client: anthropic.Anthropic) -> None:
    huge = [{"role": "user", "content": "word " * 201_000}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.count_tokens(model="claude-haiku-4-5", messages=huge)
    assert caught.value.body["error"]["message"].startswith("prompt is too long:")
    assert caught.value.body["error"]["message"].endswith("tokens > 200000 maximum")


def test_unknown_paths_answer_with_the_api_error_shape(emulator_url: str) -> None:
    response = httpx.get(f"{emulator_url}/v1/nothing-here", headers={"x-api-key": "k"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def _with(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 100, "messages": HI, **fields}


def _user(*blocks: Any) -> dict[str, Any]:
    return _with(messages=[{"role": "user", "content": list(blocks)}])


def _json_format(schema: Any) -> dict[str, Any]:
    return _with(output_config={"format": {"type": "json_schema", "schema": schema}})


@pytest.mark.parametrize(
    "body",
    [
        _user({"type": "document", "source": 5}),
        _user({"type": "document", "source": {"type": "content", "content": 5}}),
        _user({"type": "image"}),
        _user(
            {
                "type": "search_result",
                "source": "s",
                "title": "t",
                "content": [{"type": "text", "text": "a"}],
                "citations": 5,
            }
        ),
        _user(5),
        _user({"type": "text"}),
        _with(system=[{"type": "text", "text": 5}]),
        _with(tool_choice="auto"),
        _with(thinking={"type": "enabled", "budget_tokens": "many"}),
        _json_format({"type": "object", "properties": 5}),
        _json_format({"type": "array", "items": 5}),
        _json_format({"$ref": "#/nowhere"}),
        _json_format({"allOf": [5]}),
        _json_format({"type": "string", "minLength": "2"}),
        _with(
            tools=[{"name": "a", "input_schema": {"type": "object", "properties": 5}}],
            tool_choice={"type": "any"},
        ),
        _with(tools=[{"name": "a", "input_schema": {"type": "object"}, "cache_control": 5}]),
        _json_format({"type": {"not": "a type"}}),
        _with(
            messages=[
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "a", "input": "x"}],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
            ]
        ),
        _user({"type": "tool_result", "tool_use_id": "t1", "content": [5]}),
        _with(diagnostics={"previous_message_id": 5}),
        _with(stop_sequences="stop"),
        _with(cache_control=5),
    ],
)
def test_malformed_shapes_are_400_never_500(emulator_url: str, body: dict[str, Any]) -> None:
    response = _post(emulator_url, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
