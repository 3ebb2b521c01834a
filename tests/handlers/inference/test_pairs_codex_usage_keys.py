"""OpenAI chat client, Codex upstream: the ``usage`` object, stream and non-stream, as bytes.

The legacy writes each counter only when ``response.usage`` holds its key (any value, read with
gjson ``Int()``), in the order completion, total, prompt, reasoning, and never a cached prompt
count: ``codex/openai/chat-completions/codex_openai_response.go:83-95`` (stream) and ``:198-210``
(non-stream). An object with none of those keys gives no ``usage`` at all.

Stream chunks carry the model of ``response.created`` where the legacy has the placeholder
``"model"`` (docs/compatibility.md row 36); that is not what these tests are about.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from handlers.inference.pairs_codex_openai import make_pairs
from handlers.inference.translate import TranslateInput
from handlers.providers.base import StreamEvent
from handlers.translation.model import Format

FIXED = make_pairs(now=lambda: 1700000000, user_id=lambda: "user_x")
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
CREATED = {"type": "response.created", "response": {"id": "resp_1", "model": "cx", "created_at": 1}}

CASES: list[tuple[dict[str, Any], bytes]] = [
    (
        # All counters, plus a cached count the legacy leaves out.
        {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 6}, "output_tokens": 4,
         "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 14},
        b',"usage":{"completion_tokens":4,"total_tokens":14,"prompt_tokens":10,'
        b'"completion_tokens_details":{"reasoning_tokens":2}}',
    ),
    (
        # No output_tokens_details: no completion_tokens_details (it used to be written as 0).
        {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
        b',"usage":{"completion_tokens":2,"total_tokens":7,"prompt_tokens":5}',
    ),
    (
        # Only the input count: only prompt_tokens (total used to be written as 0).
        {"input_tokens": 5},
        b',"usage":{"prompt_tokens":5}',
    ),
    (
        # Present keys with null, a float and an empty details object: Int() reads 0 and 7.
        {"input_tokens": None, "output_tokens": 2.9, "total_tokens": 7.0, "output_tokens_details": {}},
        b',"usage":{"completion_tokens":2,"total_tokens":7,"prompt_tokens":0}',
    ),
    (
        # No counter at all: no usage key.
        {"input_tokens_details": {"cached_tokens": 3}},
        b"",
    ),
]


def completed(usage: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.completed",
            "response": {"id": "resp_1", "model": "cx", "created_at": 1, "status": "completed", "usage": usage}}


def ev(payload: dict[str, Any]) -> StreamEvent:
    return StreamEvent(payload["type"], orjson.dumps(payload).decode(), payload)


@pytest.mark.parametrize(("usage", "usage_bytes"), CASES)
def test_stream_usage_keys(usage: dict[str, Any], usage_bytes: bytes) -> None:
    inp = TranslateInput(body=BODY, model="up", client_model="m", stream=True)
    stream = FIXED[(Format.OPENAI, Format.CODEX)](inp).stream()
    out = b"".join([*stream.feed(ev(CREATED)), *stream.feed(ev(completed(usage))), *stream.close()])
    assert out == (
        b'data: {"id":"resp_1","object":"chat.completion.chunk","created":1,"model":"cx","choices":[{"index":0,'
        b'"delta":{"role":null,"content":null,"reasoning_content":null,"tool_calls":null},'
        b'"finish_reason":"stop","native_finish_reason":"stop"}]' + usage_bytes + b"}\n\ndata: [DONE]\n\n"
    )


@pytest.mark.parametrize(("usage", "usage_bytes"), CASES)
def test_non_stream_usage_keys(usage: dict[str, Any], usage_bytes: bytes) -> None:
    inp = TranslateInput(body=BODY, model="up", client_model="m", stream=False)
    answer = FIXED[(Format.OPENAI, Format.CODEX)](inp).response(orjson.dumps(completed(usage)))
    assert answer == (
        b'{"id":"resp_1","object":"chat.completion","created":1,"model":"cx","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":null,"reasoning_content":null,"tool_calls":null},'
        b'"finish_reason":"stop","native_finish_reason":"stop"}]' + usage_bytes + b"}"
    )
