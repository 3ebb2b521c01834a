"""Bad client input through the native pipeline, every client protocol, real translators.

Each test asserts the exact status, headers and body the client sees and what the scripted
upstream received (often: nothing). Upstream faults are in ``test_faults_upstream.py``, stream
faults in ``test_faults_stream.py``; all use the app factory of ``conftest.py``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from handlers.inference.runtime import INFERENCE
from handlers.models.registry import CredentialRecord
from tests.fakes.llm_upstream import ANSWER, FakeLLM
from tests.handlers.inference.conftest import MakeClient

CLAUDE_MODEL = "claude-sonnet-4-5-20250929"
GEMINI_MODEL = "gemini-2.5-flash"
CODEX_MODEL = "gpt-5"
COMPAT_MODEL = "compat-model"  # alias of ``upstream-model`` on the openai-compatibility provider
JSON = "application/json"
GIN_JSON = "application/json; charset=utf-8"


def upstreams_config(root: str, extra: str = "", *, claude_keys: tuple[str, ...] = ("sk-claude",),
                     gemini_keys: tuple[str, ...] = ("sk-gemini",)) -> str:
    """One credential per API-key upstream kind (more for Claude/Gemini when asked)."""
    claude = "".join(f"  - api-key: {k}\n    base-url: {root}\n" for k in claude_keys)
    gemini = "".join(f"  - api-key: {k}\n    base-url: {root}\n" for k in gemini_keys)
    return (f"claude-api-key:\n{claude}gemini-api-key:\n{gemini}"
            f"codex-api-key:\n  - api-key: sk-codex\n    base-url: {root}/v1\n"
            f"openai-compatibility:\n  - name: compat\n    base-url: {root}/v1\n"
            f"    api-key-entries:\n      - api-key: sk-compat\n"
            f"    models:\n      - name: upstream-model\n        alias: {COMPAT_MODEL}\n{extra}")


# The app factory and the fake upstream are the package's fixtures (``conftest.py``).
MakeGateway = MakeClient


def error_body(message: str, type_: str = "invalid_request_error", code: str | None = None) -> bytes:
    detail: dict[str, str] = {"message": message, "type": type_}
    if code is not None:
        detail["code"] = code
    return orjson.dumps({"error": detail})


def runtime_of(client: TestClient[Any, Any]) -> Any:
    return client.server.app[INFERENCE]


def freeze_rotation_clock(client: TestClient[Any, Any]) -> Callable[[float], None]:
    """Stops the rotation state's clock where it is; the returned function moves it on.

    A hint-less 429 cools a credential for 1 s, which a loaded machine can outlast between two
    requests: a test reading that cooldown from the next answers must not depend on how fast they
    came. Not for a test whose request waits for a cooldown to end (``request-retry`` with
    ``max-retry-interval``): that wait reads this clock until it passes the cooldown.
    """
    state = runtime_of(client).state
    now = [state.clock()]
    state.clock = lambda: now[0]

    def advance(seconds: float) -> None:
        now[0] += seconds
    return advance


# Every client endpoint, with a valid body for the model put in later (``{model}``).
def chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


def claude(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], **extra}


def responses(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "input": "hi", **extra}


def completions(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "prompt": "hi", **extra}


GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}

BODY_PATHS = [
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/responses",
    "/v1/messages",
    "/v1/messages/count_tokens",
    f"/v1beta/models/{GEMINI_MODEL}:generateContent",
    f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent",
    f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse",
    f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=json",
    f"/v1beta/models/{GEMINI_MODEL}:countTokens",
]


async def assert_answer(resp: Any, status: int, body: bytes) -> None:
    assert resp.status == status
    # The handlers' own "Invalid request: …" answers are Gin's c.JSON (charset); the rest c.Data.
    expected = GIN_JSON if b'"Invalid request: ' in body else JSON
    assert resp.headers["Content-Type"] == expected
    assert await resp.read() == body


@pytest.mark.parametrize("path", BODY_PATHS)
async def test_invalid_json_is_answered_before_any_upstream_call(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                 path: str) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(path, data=b'{"model": "gpt-5", ', headers={"Content-Type": JSON})
    await assert_answer(resp, 400, error_body("Invalid request: body is not valid JSON (unexpected end of data)"))
    resp = await client.post(path, data=b"", headers={"Content-Type": JSON})
    await assert_answer(resp, 400, error_body("Invalid request: body is not valid JSON (Input is a zero-length, "
                                              "empty document)"))
    assert fake_llm.requests == []


@pytest.mark.parametrize("path", BODY_PATHS)
async def test_json_nested_past_the_decoders_depth_is_a_400(gateway: MakeGateway, fake_llm: FakeLLM,
                                                            path: str) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    raw = b'{"model": "gpt-5", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    resp = await client.post(path, data=raw, headers={"Content-Type": JSON})
    await assert_answer(resp, 400, error_body("Invalid request: body nests too deeply"))
    assert fake_llm.requests == []


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"42", b"null"])
async def test_json_that_is_not_an_object(gateway: MakeGateway, fake_llm: FakeLLM, path: str, raw: bytes) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(path, data=raw, headers={"Content-Type": JSON})
    await assert_answer(resp, 400, error_body("Invalid request: body must be a JSON object"))
    assert fake_llm.requests == []


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/chat/completions", {"model": CODEX_MODEL, "messages": "hi"}),
    ("/v1/chat/completions", {"model": CODEX_MODEL, "messages": {"role": "user"}}),
    ("/v1/chat/completions", {"model": CODEX_MODEL}),
    ("/v1/messages", {"model": CLAUDE_MODEL, "max_tokens": 5, "messages": "hi"}),
    ("/v1/messages", {"model": CLAUDE_MODEL, "max_tokens": 5}),
])
async def test_messages_of_the_wrong_shape(gateway: MakeGateway, fake_llm: FakeLLM, path: str,
                                           body: dict[str, Any]) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(path, json=body)
    await assert_answer(resp, 400, error_body("Invalid request: `messages` must be an array"))
    assert fake_llm.requests == []


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/chat/completions", chat(CODEX_MODEL, messages=[])),
    ("/v1/chat/completions", chat(CODEX_MODEL, messages=[], stream=True)),
    ("/v1/messages", claude(CLAUDE_MODEL, messages=[])),
    ("/v1/messages", claude(CLAUDE_MODEL, messages=[], stream=True)),
])
async def test_empty_messages(gateway: MakeGateway, fake_llm: FakeLLM, path: str, body: dict[str, Any]) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(path, json=body)
    await assert_answer(resp, 400, error_body("Invalid request: `messages` must not be empty"))
    assert fake_llm.requests == []


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/chat/completions", {"model": "no-such"}),
    ("/v1/chat/completions", {"model": "no-such", "messages": []}),
    ("/v1/chat/completions", {"messages": "hi"}),
    ("/v1/messages", {"model": "no-such", "max_tokens": 5}),
    ("/v1/messages", {"model": "no-such", "max_tokens": 5, "messages": [], "stream": True}),
])
async def test_an_unknown_model_is_named_before_the_messages_are_checked(
        gateway: MakeGateway, fake_llm: FakeLLM, path: str, body: dict[str, Any]) -> None:
    """The legacy resolves the model before anything reads the messages (compatibility row 2
    applies to a model some credential serves)."""
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(path, json=body)
    # WriteErrorResponse trims the text: no model at all leaves no trailing space.
    await assert_answer(resp, 400, error_body(f"unknown provider for model {body.get('model', '')}".strip()))
    assert fake_llm.requests == []


@pytest.mark.parametrize(("model", "named"), [(1.0, "1"), (1e3, "1000"), (2.5, "2.5"), (7, "7"), (True, "true")])
async def test_a_model_that_is_no_string_is_named_as_gjson_reads_it(
        gateway: MakeGateway, fake_llm: FakeLLM, model: Any, named: str) -> None:
    # gjson String() (openai_handlers.go:118): Go's spelling of the number.
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/chat/completions", json={"model": model, "messages": [
        {"role": "user", "content": "hi"}]})
    await assert_answer(resp, 400, error_body(f"unknown provider for model {named}"))


async def test_empty_contents_and_input_go_upstream_as_legacy_sends_them(gateway: MakeGateway,
                                                                         fake_llm: FakeLLM) -> None:
    """Gemini ``contents`` and Responses ``input`` are not checked (the legacy checks neither);
    the upstream decides, and its answer comes back."""
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(f"/v1beta/models/{GEMINI_MODEL}:generateContent", json={"contents": []})
    assert resp.status == 200
    [sent] = fake_llm.requests
    assert sent.path == f"/v1beta/models/{GEMINI_MODEL}:generateContent" and sent.body["contents"] == []
    fake_llm.requests.clear()
    resp = await client.post("/v1/responses", json=responses(CODEX_MODEL, input=[]))
    assert resp.status == 200
    [sent] = fake_llm.requests
    assert sent.path == "/v1/responses" and sent.body["input"] == []


def client_calls(model: str) -> list[tuple[str, dict[str, Any]]]:
    """Every client endpoint for ``model``, stream and not, Gemini's three stream forms and both
    token counts included."""
    gemini = dict(GEMINI_BODY)
    return [
        ("/v1/chat/completions", chat(model)),
        ("/v1/chat/completions", chat(model, stream=True)),
        ("/v1/completions", completions(model)),
        ("/v1/completions", completions(model, stream=True)),
        ("/v1/responses", responses(model)),
        ("/v1/responses", responses(model, stream=True)),
        ("/v1/messages", claude(model)),
        ("/v1/messages", claude(model, stream=True)),
        ("/v1/messages/count_tokens", claude(model)),
        (f"/v1beta/models/{model}:generateContent", gemini),
        (f"/v1beta/models/{model}:streamGenerateContent", gemini),
        (f"/v1beta/models/{model}:streamGenerateContent?alt=sse", gemini),
        (f"/v1beta/models/{model}:streamGenerateContent?alt=json", gemini),
        (f"/v1beta/models/{model}:countTokens", gemini),
    ]


@pytest.mark.parametrize(("path", "body"), client_calls("no-such-model"))
async def test_unknown_model_is_the_same_json_400_everywhere(gateway: MakeGateway, fake_llm: FakeLLM, path: str,
                                                             body: dict[str, Any]) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(path, json=body)
    # A stream request too: headers are not committed yet, so it is plain JSON (surface §4.5).
    await assert_answer(resp, 400, error_body("unknown provider for model no-such-model"))
    assert fake_llm.requests == []


@pytest.mark.parametrize(("path", "body"), [(p, {k: v for k, v in b.items() if k != "model"})
                                            for p, b in client_calls("") if "/v1beta/" not in p]
                         + [(p, b) for p, b in client_calls("") if "/v1beta/" in p])
async def test_missing_model(gateway: MakeGateway, fake_llm: FakeLLM, path: str, body: dict[str, Any]) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(path, json=body)
    # The legacy's message ends in a space; its error writer trims it.
    await assert_answer(resp, 400, error_body("unknown provider for model"))
    assert fake_llm.requests == []


@pytest.mark.parametrize(("model", "shown"), [(5, "5"), (True, "true"), ({"a": 1}, '{"a":1}')])
async def test_model_that_is_not_a_string(gateway: MakeGateway, fake_llm: FakeLLM, model: Any, shown: str) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/chat/completions", json=chat(model))
    await assert_answer(resp, 400, error_body(f"unknown provider for model {shown}"))
    assert fake_llm.requests == []


async def test_model_excluded_for_every_api_key(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    root = fake_llm.root
    config = (f"claude-api-key:\n"
              f"  - api-key: k1\n    base-url: {root}\n    excluded-models: ['CLAUDE-SONNET-*']\n"
              f"  - api-key: k2\n    base-url: {root}\n    excluded-models: ['*4-5-2025*', 'claude-opus-4-1*']\n")
    client = await gateway(config)
    for path, body in [("/v1/messages", claude(CLAUDE_MODEL)), ("/v1/chat/completions", chat(CLAUDE_MODEL)),
                       ("/v1/messages", claude(f"{CLAUDE_MODEL}(8192)", stream=True))]:
        resp = await client.post(path, json=body)
        await assert_answer(resp, 400, error_body(f"unknown provider for model {body['model']}"))
    assert fake_llm.requests == []
    # A model only one key excludes is still served, by the other key.
    resp = await client.post("/v1/messages", json=claude("claude-opus-4-1-20250805"))
    assert resp.status == 200
    assert [r.key for r in fake_llm.requests] == ["k1"]
    listed = {m["id"] for m in (await (await client.get("/v1/models")).json())["data"]}
    assert CLAUDE_MODEL not in listed and "claude-opus-4-1-20250805" in listed


@pytest.mark.parametrize(("model", "section", "base"), [
    (GEMINI_MODEL, "gemini-api-key", ""), (CODEX_MODEL, "codex-api-key", "/v1"), (CLAUDE_MODEL, "claude-api-key", "")])
async def test_a_model_every_key_excludes_is_unknown_on_every_endpoint(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                       model: str, section: str, base: str) -> None:
    """Each key kind with ``excluded-models`` (ClaudeKey, CodexKey, GeminiKey): the model is not
    registered for it, so every client endpoint, stream or not, names it unknown before any call."""
    client = await gateway(f"{section}:\n  - api-key: k1\n    base-url: {fake_llm.root}{base}\n"
                           f"    excluded-models: ['{model[:4]}*']\n")
    for path, body in client_calls(model):
        resp = await client.post(path, json=body)
        await assert_answer(resp, 400, error_body(f"unknown provider for model {model}"))
    assert fake_llm.requests == []


async def test_oauth_excluded_models_remove_the_model_from_oauth_credentials_only(gateway: MakeGateway,
                                                                                  fake_llm: FakeLLM) -> None:
    records = [CredentialRecord("claude", id="claude-oauth-1.json"), CredentialRecord("codex", id="codex-oauth-1.json")]
    exclusions = "oauth-excluded-models:\n  claude: ['claude-sonnet-4-5*']\n  codex: ['gpt-5*']\n"
    # Only OAuth credentials: the model is gone for every credential, answered like an unknown one.
    client = await gateway(exclusions, records=records)
    for body in (claude(CLAUDE_MODEL), claude(CODEX_MODEL), claude("gpt-5-codex(high)")):
        resp = await client.post("/v1/messages", json=body)
        await assert_answer(resp, 400, error_body(f"unknown provider for model {body['model']}"))
    # The global OAuth list never applies to an API key: the key serves the same model.
    with_key = f"claude-api-key:\n  - api-key: k1\n    base-url: {fake_llm.root}\n{exclusions}"
    client = await gateway(with_key, records=records)
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    assert resp.status == 200
    assert (await resp.json())["content"] == [{"type": "text", "text": ANSWER}]
    assert [(r.path, r.key, r.body["model"]) for r in fake_llm.requests] == [("/v1/messages", "k1", CLAUDE_MODEL)]


REMOTE_IMAGE = "https://example.com/cat.png"
IMAGE_MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "look"},
                                               {"type": "image_url", "image_url": {"url": REMOTE_IMAGE}}]}]


@pytest.mark.parametrize(("model", "path", "sent"), [
    # A2.1 / A2.3: only data URLs become Claude image blocks or Gemini inlineData; others are dropped.
    (CLAUDE_MODEL, "/v1/messages", [{"role": "user", "content": [{"type": "text", "text": "look"}]}]),
    (GEMINI_MODEL, f"/v1beta/models/{GEMINI_MODEL}:generateContent", [{"role": "user", "parts": [{"text": "look"}]}]),
    # A2.10: Codex takes the URL as an ``input_image``; an OpenAI-compatible upstream gets it verbatim.
    (CODEX_MODEL, "/v1/responses", [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "look"}, {"type": "input_image", "image_url": REMOTE_IMAGE}]}]),
    (COMPAT_MODEL, "/v1/chat/completions", IMAGE_MESSAGES),
])
async def test_image_url_that_is_not_a_data_url(gateway: MakeGateway, fake_llm: FakeLLM, model: str, path: str,
                                                sent: list[dict[str, Any]]) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/chat/completions", json=chat(model, messages=IMAGE_MESSAGES))
    assert resp.status == 200
    assert (await resp.json())["choices"][0]["message"]["content"] == ANSWER
    [request] = fake_llm.requests
    assert request.path == path
    assert (request.body.get("messages") or request.body.get("contents") or request.body.get("input")) == sent


BAD_ARGS = "{not json"
TOOL_HISTORY = [
    {"role": "user", "content": "go"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": BAD_ARGS}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]


@pytest.mark.parametrize(("model", "key", "expected"), [
    # A2.1: arguments that are not a JSON object become an empty ``input``.
    (CLAUDE_MODEL, "messages", {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}),
    # The legacy splices the text in raw (an invalid upstream body); native sends ``{}`` (compatibility.md #11).
    (GEMINI_MODEL, "contents", {"functionCall": {"name": "get_weather", "args": {}},
                                "thoughtSignature": "skip_thought_signature_validator"}),
    # Codex and OpenAI-compatible upstreams carry arguments as a string: passed on unchanged.
    (CODEX_MODEL, "input", {"type": "function_call", "call_id": "call_1", "name": "get_weather",
                            "arguments": BAD_ARGS}),
    (COMPAT_MODEL, "messages", {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": BAD_ARGS}}]}),
])
async def test_tool_arguments_that_are_not_json(gateway: MakeGateway, fake_llm: FakeLLM, model: str, key: str,
                                                expected: dict[str, Any]) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/chat/completions", json=chat(model, messages=TOOL_HISTORY))
    assert resp.status == 200
    [request] = fake_llm.requests
    history = request.body[key]
    # The bad call sits either as a history item of its own or as a block inside one.
    blocks = [block for item in history for block in (item.get("content") or item.get("parts") or [])
              if isinstance(block, dict)]
    assert expected in history or expected in blocks, history


@pytest.mark.parametrize(("path", "stream"), [
    ("/v1/chat/completions", False), ("/v1/chat/completions", True), ("/v1/completions", False),
    ("/v1/completions", True), ("/v1/responses", False),
    ("/v1/responses", True), ("/v1/messages", False), ("/v1/messages", True), ("/v1/messages/count_tokens", False),
    (f"/v1beta/models/{GEMINI_MODEL}:generateContent", False),
    (f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent", True),
    (f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse", True),
    (f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=json", True),
    (f"/v1beta/models/{GEMINI_MODEL}:countTokens", False),
])
async def test_oversized_body_is_413_without_upstream_call(gateway: MakeGateway, fake_llm: FakeLLM, path: str,
                                                           stream: bool) -> None:
    client = await gateway(upstreams_config(fake_llm.root), max_body=4096)
    body = chat(CLAUDE_MODEL, stream=stream, messages=[{"role": "user", "content": "x" * 5000}])
    resp = await client.post(path, json=body)
    # The gateway's own protocol-shaped answer, the same the dispatcher gives (docs/compatibility.md row 6).
    message = "request body exceeds 4096 bytes"
    if path.startswith("/v1/messages"):
        expected = orjson.dumps({"type": "error", "error": {"type": "request_too_large", "message": message}})
    elif path.startswith("/v1beta"):
        expected = orjson.dumps({"error": {"code": 413, "message": message, "status": "INVALID_ARGUMENT"}})
    else:
        expected = error_body(message)
    await assert_answer(resp, 413, expected)
    # Just under the limit is read and served.
    resp = await client.post(path, json=claude(CLAUDE_MODEL, **GEMINI_BODY, input="hi", prompt="hi"))
    assert resp.status == 200
    assert len(fake_llm.requests) == 1


async def test_a_compressed_request_body_is_read_decompressed(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """Compatibility row 6a: the legacy reads the compressed bytes as JSON and finds no model."""
    client = await gateway(upstreams_config(fake_llm.root))
    body = gzip.compress(json.dumps(chat(CLAUDE_MODEL)).encode())
    resp = await client.post("/v1/chat/completions", data=body,
                             headers={"Content-Type": JSON, "Content-Encoding": "gzip"})
    assert resp.status == 200
    assert (await resp.json())["choices"][0]["message"]["content"]
    assert fake_llm.requests[-1].body["messages"][-1]["content"] == [{"type": "text", "text": "hi"}]
