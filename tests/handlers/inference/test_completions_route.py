"""``POST /v1/completions`` end to end: the chat body each upstream kind gets, the answers the client
sees, and errors, against ``sdk/api/handlers/openai/openai_handlers.go:153-414,512-639``."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.fakes.llm_upstream import ANSWER, ANSWER_WORDS, FakeLLM, status
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    CODEX_MODEL,
    COMPAT_MODEL,
    GEMINI_MODEL,
    JSON,
    MakeGateway,
    upstreams_config,
)

SSE = "text/event-stream"

# Every field a completions client may send: only those the legacy converter names go on, coerced
# with gjson (openai_handlers.go:184-246); ``n``, ``suffix``, ``user``, ``seed``, ``best_of``,
# ``logit_bias`` and ``stream_options`` are dropped.
FULL_BODY: dict[str, Any] = {
    "model": COMPAT_MODEL, "prompt": ["Say", "hi"], "max_tokens": "9", "temperature": 0.5, "top_p": 1.0,
    "n": 2, "stop": ["x", "y"], "suffix": "s", "echo": 0, "logprobs": 2, "top_logprobs": 1.5,
    "presence_penalty": "0.1", "frequency_penalty": 0.2, "user": "u", "seed": 1, "best_of": 3,
    "logit_bias": {"50256": -100}, "stream_options": {"include_usage": True},
}
UPSTREAM_CHAT: dict[str, Any] = {
    "model": "upstream-model", "messages": [{"role": "user", "content": '["Say","hi"]'}], "max_tokens": 9,
    "temperature": 0.5, "top_p": 1, "frequency_penalty": 0.2, "presence_penalty": 0.1, "stop": ["x", "y"],
    "logprobs": True, "top_logprobs": 1, "echo": False,
}
USAGE = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}


def completion(text: str, finish: str, **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "text_completion", "created": 1700000000, "model": "upstream-model",
            "choices": [{"finish_reason": finish, "index": 0, "text": text}], **extra}


def data(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


async def test_non_stream_over_an_openai_compatible_upstream(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/completions", json=FULL_BODY)
    assert resp.status == 200 and resp.headers["Content-Type"] == JSON
    assert await resp.read() == orjson.dumps(completion(ANSWER, "stop", usage=USAGE))
    [sent] = fake_llm.requests
    assert sent.path == "/v1/chat/completions" and sent.body == UPSTREAM_CHAT
    assert list(sent.body) == list(UPSTREAM_CHAT)


async def test_stream_over_an_openai_compatible_upstream(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """The role-only first chunk is dropped, the usage on the finish chunk is not copied (the stream
    converter has no ``usage``), and the handler's own ``[DONE]`` ends the stream."""
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/completions", json={**FULL_BODY, "stream": True})
    assert resp.status == 200 and resp.headers["Content-Type"] == SSE
    expected = b"".join(data(completion(word, "")) for word in ANSWER_WORDS)
    assert await resp.read() == expected + data(completion("", "stop")) + b"data: [DONE]\n\n"
    [sent] = fake_llm.requests
    assert sent.body == {**UPSTREAM_CHAT, "stream": True}


@pytest.mark.parametrize(("model", "head"), [
    (CLAUDE_MODEL, {"id": "msg_fake"}),
    (GEMINI_MODEL, {"id": "fake-resp", "created": 0}),
    (CODEX_MODEL, {"id": "resp_fake", "created": 1700000000}),
])
async def test_stream_over_the_translated_upstreams(gateway: MakeGateway, fake_llm: FakeLLM, model: str,
                                                    head: dict[str, Any]) -> None:
    """Each chat chunk the pair's translator yields becomes one completions chunk when it carries
    text or a finish reason; Gemini's last text comes with its finish reason."""
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/completions", json={"model": model, "prompt": "hi", "stream": True})
    assert resp.status == 200 and resp.headers["Content-Type"] == SSE
    raw = await resp.read()
    assert raw.endswith(b"\n\ndata: [DONE]\n\n")
    chunks = [orjson.loads(line[6:]) for line in raw.split(b"\n\n")[:-2]]
    for chunk in chunks:
        assert list(chunk) == ["id", "object", "created", "model", "choices"]
        assert chunk["object"] == "text_completion" and chunk["model"] == model
        assert {key: chunk[key] for key in head} == head
    choices = [chunk["choices"] for chunk in chunks]
    words = [[{"finish_reason": "", "index": 0, "text": word}] for word in ANSWER_WORDS]
    if model == GEMINI_MODEL:
        assert choices == [*words[:-1], [{"finish_reason": "stop", "index": 0, "text": ANSWER_WORDS[-1]}]]
    else:
        assert choices == [*words, [{"finish_reason": "stop", "index": 0, "text": ""}]]


@pytest.mark.parametrize("model", [CLAUDE_MODEL, GEMINI_MODEL, CODEX_MODEL])
async def test_non_stream_over_the_translated_upstreams(gateway: MakeGateway, fake_llm: FakeLLM, model: str) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/completions", json={"model": model, "prompt": "hi"})
    assert resp.status == 200 and resp.headers["Content-Type"] == JSON
    answer = await resp.json()
    assert list(answer) == ["id", "object", "created", "model", "choices", "usage"]
    assert answer["object"] == "text_completion" and answer["model"] == model
    assert answer["choices"] == [{"finish_reason": "stop", "index": 0, "text": ANSWER}]
    assert {key: answer["usage"][key] for key in USAGE} == USAGE


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("model", "key"), [(COMPAT_MODEL, "sk-compat"), (CLAUDE_MODEL, "sk-claude")])
async def test_an_upstream_error_is_answered_as_on_chat_completions(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                    model: str, key: str, stream: bool) -> None:
    """Both handlers answer a failure before the first chunk with the same WriteErrorResponse."""
    client = await gateway(upstreams_config(fake_llm.root))
    body = {"error": {"message": "slow down", "type": "rate_limit_error"}}
    answers = []
    for path, request in [("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
                          ("/v1/completions", {"prompt": "hi"})]:
        fake_llm.script(key, status(400, body))
        resp = await client.post(path, json={"model": model, "stream": stream, **request})
        answers.append((resp.status, resp.headers["Content-Type"], await resp.read()))
    assert answers[0] == answers[1]
    assert answers[1][0] == 400 and b"slow down" in answers[1][2]


async def test_an_unknown_model_is_answered_as_on_chat_completions(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    chat = await client.post("/v1/chat/completions", json={"model": "nope", "messages": [{"role": "user",
                                                                                          "content": "hi"}]})
    text = await client.post("/v1/completions", json={"model": "nope", "prompt": "hi"})
    assert (text.status, text.headers["Content-Type"], await text.read()) == \
        (chat.status, chat.headers["Content-Type"], await chat.read())
    assert text.status == 400 and fake_llm.requests == []
