"""Native inference with the official SDKs as clients, to every API-key upstream kind.

gateway (in process, inference routes ``native``, served through the front door as in production,
so the native lane answers) -> scripted fake upstream (tests/fakes/llm_upstream.py) that records
each request. Every test asserts what the SDK parsed AND the exact upstream request (path, key
header, model, how the prompt, tools, images or thinking were carried).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from tests.conftest import GatewayFactory
from tests.fakes.llm_upstream import ANSWER, TOOL_ARGS, USAGE, FakeLLM
from tests.quotio_gateway.test_frontdoor import serving

CLIENT_KEY = "client-key"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake-image-bytes").decode()


@dataclass(frozen=True)
class Upstream:
    kind: str
    model: str
    key: str

    def path(self, stream: bool) -> str:
        if self.kind == "claude":
            return "/v1/messages"
        if self.kind == "codex":
            return "/v1/responses"
        if self.kind == "compat":
            return "/v1/chat/completions"
        return f"/v1beta/models/{self.model}:{'streamGenerateContent' if stream else 'generateContent'}"


CLAUDE = Upstream("claude", "claude-sonnet-4-5-20250929", "sk-claude")
GEMINI = Upstream("gemini", "gemini-2.5-flash", "sk-gemini")
CODEX = Upstream("codex", "gpt-5", "sk-codex")
COMPAT = Upstream("compat", "compat-model", "sk-compat")
UPSTREAMS = [CLAUDE, GEMINI, CODEX, COMPAT]
IDS = [u.kind for u in UPSTREAMS]

WEATHER_TOOL_OPENAI = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
WEATHER_TOOL_CLAUDE = {"name": "get_weather", "description": "Weather for a city",
                       "input_schema": WEATHER_TOOL_OPENAI["function"]["parameters"]}


def gateway_config(fake: FakeLLM) -> dict[str, Any]:
    root = fake.root
    return {
        "api-keys": [CLIENT_KEY],
        "claude-api-key": [{"api-key": CLAUDE.key, "base-url": root}],
        "gemini-api-key": [{"api-key": GEMINI.key, "base-url": root}],
        "codex-api-key": [{"api-key": CODEX.key, "base-url": f"{root}/v1"}],
        "openai-compatibility": [{"name": "compat", "base-url": f"{root}/v1",
                                  "api-key-entries": [{"api-key": COMPAT.key}],
                                  "models": [{"name": "upstream-model", "alias": COMPAT.model}]}],
    }


@dataclass
class Native:
    url: str
    fake: FakeLLM

    def openai(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)

    def anthropic(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(base_url=self.url, api_key=CLIENT_KEY, max_retries=0, timeout=20)

    def genai(self) -> genai.Client:
        return genai.Client(api_key=CLIENT_KEY, http_options=genai_types.HttpOptions(
            base_url=self.url, api_version="v1beta", timeout=20_000))

    def only_request(self) -> Any:
        assert len(self.fake.requests) == 1, [r.path for r in self.fake.requests]
        return self.fake.requests[0]


@pytest.fixture
async def native(make_gateway: GatewayFactory) -> AsyncIterator[Native]:
    fake = FakeLLM()
    await fake.start()
    try:
        async with serving(await make_gateway({"default": "native"}, config=gateway_config(fake))) as pair:
            yield Native(f"http://127.0.0.1:{pair.fast}", fake)
    finally:
        await fake.stop()


def upstream_model_of(up: Upstream) -> str:
    return "upstream-model" if up is COMPAT else up.model


def assert_upstream(native: Native, up: Upstream, *, stream: bool) -> Any:
    sent = native.only_request()
    assert sent.path == up.path(stream)
    assert sent.key == up.key
    if up.kind in ("claude", "codex", "compat"):
        assert sent.body["model"] == upstream_model_of(up)
    return sent


def user_texts(sent: Any, up: Upstream) -> str:
    """Every text the upstream received, flattened (to prove the prompt arrived)."""
    return json.dumps(sent.body)


# --- OpenAI chat completions ----------------------------------------------------------------


@pytest.mark.parametrize("up", UPSTREAMS, ids=IDS)
async def test_openai_chat_non_stream(native: Native, up: Upstream) -> None:
    completion = await native.openai().chat.completions.create(
        model=up.model, messages=[{"role": "system", "content": "Be brief."},
                                  {"role": "user", "content": "say hello"}])
    assert completion.choices[0].message.content == ANSWER
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == USAGE["input"]
    assert completion.usage.completion_tokens == USAGE["output"]
    sent = assert_upstream(native, up, stream=False)
    assert "say hello" in user_texts(sent, up) and "Be brief." in user_texts(sent, up)


@pytest.mark.parametrize("up", UPSTREAMS, ids=IDS)
async def test_openai_chat_stream(native: Native, up: Upstream) -> None:
    stream = await native.openai().chat.completions.create(
        model=up.model, messages=[{"role": "user", "content": "say hello"}], stream=True)
    text, finishes = [], []
    async for chunk in stream:
        if chunk.choices:
            text.append(chunk.choices[0].delta.content or "")
            finishes.append(chunk.choices[0].finish_reason)
    assert "".join(text) == ANSWER
    assert [f for f in finishes if f] == ["stop"]
    assert_upstream(native, up, stream=True)


@pytest.mark.parametrize("up", UPSTREAMS, ids=IDS)
async def test_openai_chat_tools(native: Native, up: Upstream) -> None:
    completion = await native.openai().chat.completions.create(
        model=up.model, messages=[{"role": "user", "content": "what is the weather in Paris"}],
        tools=[WEATHER_TOOL_OPENAI])
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == TOOL_ARGS
    sent = assert_upstream(native, up, stream=False)
    assert "get_weather" in json.dumps(sent.body.get("tools"))


@pytest.mark.parametrize("up", [CLAUDE, GEMINI], ids=["claude", "gemini"])
async def test_openai_chat_image_reaches_upstream_inline(native: Native, up: Upstream) -> None:
    await native.openai().chat.completions.create(model=up.model, messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}])
    sent = assert_upstream(native, up, stream=False)
    if up.kind == "claude":
        blocks = sent.body["messages"][0]["content"]
        assert {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}} in blocks
    else:
        parts = sent.body["contents"][0]["parts"]
        assert [p["inlineData"] for p in parts if "inlineData" in p] == [{"mime_type": "image/png", "data": PNG}]


# --- Anthropic messages ---------------------------------------------------------------------


@pytest.mark.parametrize("up", UPSTREAMS, ids=IDS)
async def test_anthropic_messages_non_stream(native: Native, up: Upstream) -> None:
    message = await native.anthropic().messages.create(
        model=up.model, max_tokens=100, system="Be brief.", messages=[{"role": "user", "content": "say hello"}])
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == USAGE["input"]
    assert message.usage.output_tokens == USAGE["output"]
    sent = assert_upstream(native, up, stream=False)
    # The SDK's string system prompt reaches every upstream (Claude and Codex: row 19s).
    assert "say hello" in user_texts(sent, up) and "Be brief." in user_texts(sent, up)


@pytest.mark.parametrize("up", UPSTREAMS, ids=IDS)
async def test_anthropic_messages_stream(native: Native, up: Upstream) -> None:
    async with native.anthropic().messages.stream(
            model=up.model, max_tokens=100, messages=[{"role": "user", "content": "say hello"}]) as stream:
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert text == ANSWER
    assert final.stop_reason == "end_turn"
    assert_upstream(native, up, stream=True)


@pytest.mark.parametrize("up", UPSTREAMS, ids=IDS)
async def test_anthropic_messages_tools(native: Native, up: Upstream) -> None:
    message = await native.anthropic().messages.create(
        model=up.model, max_tokens=100, tools=[WEATHER_TOOL_CLAUDE],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "what is the weather in Paris"}])
    assert message.stop_reason == "tool_use"
    [call] = [b for b in message.content if b.type == "tool_use"]
    assert call.name == "get_weather" and call.input == TOOL_ARGS  # type: ignore[union-attr]
    assert_upstream(native, up, stream=False)


async def test_anthropic_stream_tool_use_when_gemini_sends_the_finish_apart(native: Native) -> None:
    """Row 39: the call in one Gemini chunk, the finish in the next. The legacy says end_turn there,
    and an agent that reads the stop reason never runs the tool."""
    async with native.anthropic().messages.stream(
            model=GEMINI.model, max_tokens=100, tools=[WEATHER_TOOL_CLAUDE],  # type: ignore[list-item]
            messages=[{"role": "user", "content": "what is the weather in Paris (separate finish)"}]) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"
    [call] = [b for b in final.content if b.type == "tool_use"]
    assert call.name == "get_weather" and call.input == TOOL_ARGS  # type: ignore[union-attr]
    assert_upstream(native, GEMINI, stream=True)


async def test_anthropic_stream_ends_with_a_stop_reason_when_thinking_used_the_budget(native: Native) -> None:
    """Row 43: the finishing Gemini chunk has no candidatesTokenCount. The legacy then sends no
    message_delta and the SDK's final message has stop_reason None."""
    async with native.anthropic().messages.stream(
            model=GEMINI.model, max_tokens=100,
            messages=[{"role": "user", "content": "think hard (budget used up)"}]) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "end_turn"
    assert [b.type for b in final.content] == ["thinking"]
    assert final.usage.output_tokens == USAGE["output"]
    assert_upstream(native, GEMINI, stream=True)


async def test_anthropic_thinking_reaches_claude_upstream(native: Native) -> None:
    message = await native.anthropic().messages.create(
        model=CLAUDE.model, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "say hello"}])
    assert [b.type for b in message.content] == ["thinking", "text"]
    sent = assert_upstream(native, CLAUDE, stream=False)
    assert sent.body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


async def test_anthropic_count_tokens(native: Native) -> None:
    counted = await native.anthropic().messages.count_tokens(
        model=CLAUDE.model, messages=[{"role": "user", "content": "say hello"}])
    assert counted.input_tokens == USAGE["input"]
    sent = native.only_request()
    assert sent.path == "/v1/messages/count_tokens"


@pytest.mark.parametrize(("up", "tokens"), [(COMPAT, 6), (CODEX, 2)], ids=["compat", "codex"])
async def test_anthropic_count_tokens_counted_locally(native: Native, up: Upstream, tokens: int) -> None:
    # No counting endpoint upstream: o200k_base over "system\nuser\nsay hello" (the OpenAI
    # translation opens with an empty system message) and over Codex's "say hello".
    counted = await native.anthropic().messages.count_tokens(
        model=up.model, messages=[{"role": "user", "content": "say hello"}])
    assert counted.input_tokens == tokens
    assert native.fake.requests == []


# --- Gemini (google-genai) ------------------------------------------------------------------


@pytest.mark.parametrize("up", UPSTREAMS, ids=IDS)
async def test_genai_generate_content(native: Native, up: Upstream) -> None:
    client = native.genai()  # held: a dropped genai.Client closes its HTTP session
    response = await client.aio.models.generate_content(
        model=up.model, contents="say hello",
        config=genai_types.GenerateContentConfig(system_instruction="Be brief."))
    assert response.text == ANSWER
    assert response.candidates and response.candidates[0].finish_reason == genai_types.FinishReason.STOP
    sent = assert_upstream(native, up, stream=False)
    assert "say hello" in user_texts(sent, up)


@pytest.mark.parametrize("up", UPSTREAMS, ids=IDS)
async def test_genai_stream(native: Native, up: Upstream) -> None:
    client = native.genai()  # held: a dropped genai.Client closes its HTTP session
    chunks = await client.aio.models.generate_content_stream(model=up.model, contents="say hello")
    text = "".join([c.text or "" async for c in chunks])
    assert text == ANSWER
    assert_upstream(native, up, stream=True)


async def test_genai_stream_survives_a_usage_only_chunk(make_gateway: GatewayFactory) -> None:
    """An OpenAI-compatible upstream asked for ``stream_options.include_usage`` (here by a payload
    rule; Qwen and iFlow always are) ends with a chunk of usage alone. The legacy renders it as
    ``"candidates": []``, on which google-genai's stream reader raises IndexError (row 19r)."""
    fake = FakeLLM()
    await fake.start()
    config = gateway_config(fake)
    config["payload"] = {"override": [{"models": [{"name": "upstream-model", "protocol": "openai"}],
                                       "params": {"stream_options.include_usage": True}}]}
    try:
        async with serving(await make_gateway({"default": "native"}, config=config)) as pair:
            client = Native(f"http://127.0.0.1:{pair.fast}", fake).genai()
            chunks = [c async for c in await client.aio.models.generate_content_stream(
                model=COMPAT.model, contents="say hello")]
            assert "".join(c.text or "" for c in chunks) == ANSWER
            assert chunks[-1].usage_metadata is not None
            assert chunks[-1].usage_metadata.total_token_count == USAGE["input"] + USAGE["output"]
            assert fake.requests[-1].body["stream_options"] == {"include_usage": True}
    finally:
        await fake.stop()


@pytest.mark.parametrize("up", UPSTREAMS, ids=IDS)
async def test_genai_tools(native: Native, up: Upstream) -> None:
    client = native.genai()  # held: a dropped genai.Client closes its HTTP session
    tool = genai_types.Tool(function_declarations=[genai_types.FunctionDeclaration(
        name="get_weather", description="Weather for a city",
        parameters=genai_types.Schema(type=genai_types.Type.OBJECT,
                                      properties={"location": genai_types.Schema(type=genai_types.Type.STRING)}))])
    response = await client.aio.models.generate_content(
        model=up.model, contents="what is the weather in Paris",
        config=genai_types.GenerateContentConfig(tools=[tool], automatic_function_calling=genai_types.
                                                 AutomaticFunctionCallingConfig(disable=True)))
    assert response.function_calls
    [call] = response.function_calls
    assert call.name == "get_weather" and call.args == TOOL_ARGS
    assert_upstream(native, up, stream=False)


SCHEMA = {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}


@pytest.mark.parametrize("up", [CLAUDE, CODEX, COMPAT], ids=["claude", "codex", "compat"])
async def test_genai_json_schema_tool_keeps_its_schema(native: Native, up: Upstream) -> None:
    """google-genai sends ``parameters_json_schema`` in snake_case; the legacy's translators read
    only ``parametersJsonSchema`` and sent the tool without parameters (compatibility row 19e)."""
    client = native.genai()  # held: a dropped genai.Client closes its HTTP session
    tool = genai_types.Tool(function_declarations=[genai_types.FunctionDeclaration(
        name="get_weather", description="Weather for a city", parameters_json_schema=SCHEMA)])
    await client.aio.models.generate_content(
        model=up.model, contents="what is the weather in Paris",
        config=genai_types.GenerateContentConfig(tools=[tool], automatic_function_calling=genai_types.
                                                 AutomaticFunctionCallingConfig(disable=True)))
    sent = assert_upstream(native, up, stream=False).body
    if up is CLAUDE:
        [declared] = sent["tools"]
        assert declared["input_schema"]["properties"] == SCHEMA["properties"]
    elif up is CODEX:
        [declared] = sent["tools"]
        assert declared["parameters"]["properties"] == SCHEMA["properties"]
    else:
        [declared] = sent["tools"]
        assert declared["function"]["parameters"]["properties"] == SCHEMA["properties"]


async def test_anthropic_image_reaches_a_gemini_upstream_inline(native: Native) -> None:
    """The legacy's Claude -> Gemini translator maps no images (A2.5); row 19t sends them inline."""
    await native.anthropic().messages.create(model=GEMINI.model, max_tokens=50, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "text", "text": "what is this"}]}])
    parts = assert_upstream(native, GEMINI, stream=False).body["contents"][0]["parts"]
    assert [p["inlineData"] for p in parts if "inlineData" in p] == [{"mime_type": "image/png", "data": PNG}]


async def test_genai_image_and_tool_mode_reach_a_claude_upstream(native: Native) -> None:
    """The SDK sends inlineData / mimeType / toolConfig (camelCase); the legacy Gemini->Claude
    translator reads only snake_case and lost both (docs/compatibility.md row 19f)."""
    client = native.genai()  # held: a dropped genai.Client closes its HTTP session
    tool = genai_types.Tool(function_declarations=[genai_types.FunctionDeclaration(
        name="get_weather", description="Weather for a city",
        parameters=genai_types.Schema(type=genai_types.Type.OBJECT,
                                      properties={"location": genai_types.Schema(type=genai_types.Type.STRING)}))])
    image = genai_types.Part.from_bytes(data=base64.b64decode(PNG), mime_type="image/png")
    await client.aio.models.generate_content(
        model=CLAUDE.model, contents=[image, "what is this"],
        config=genai_types.GenerateContentConfig(
            tools=[tool], automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True),
            tool_config=genai_types.ToolConfig(function_calling_config=genai_types.FunctionCallingConfig(
                mode=genai_types.FunctionCallingConfigMode.ANY))))
    sent = assert_upstream(native, CLAUDE, stream=False)
    blocks = sent.body["messages"][0]["content"]
    assert {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}} in blocks
    assert sent.body["tool_choice"] == {"type": "any"}


async def test_genai_count_tokens(native: Native) -> None:
    client = native.genai()  # held: a dropped genai.Client closes its HTTP session
    counted = await client.aio.models.count_tokens(model=GEMINI.model, contents="say hello")
    assert counted.total_tokens == USAGE["input"]
    assert native.only_request().path == f"/v1beta/models/{GEMINI.model}:countTokens"


async def test_genai_count_tokens_counted_locally(native: Native) -> None:
    client = native.genai()  # held: a dropped genai.Client closes its HTTP session
    counted = await client.aio.models.count_tokens(model=COMPAT.model, contents="say hello")
    assert counted.total_tokens == 4  # o200k_base over "user\nsay hello"
    assert native.fake.requests == []


# --- OpenAI Responses -----------------------------------------------------------------------


@pytest.mark.parametrize("up", UPSTREAMS, ids=IDS)
async def test_openai_responses_non_stream(native: Native, up: Upstream) -> None:
    response = await native.openai().responses.create(model=up.model, instructions="Be brief.", input="say hello")
    assert response.output_text == ANSWER
    assert response.status == "completed"
    sent = assert_upstream(native, up, stream=False)
    assert "say hello" in user_texts(sent, up)


@pytest.mark.parametrize("up", UPSTREAMS, ids=IDS)
async def test_openai_responses_stream(native: Native, up: Upstream) -> None:
    stream = await native.openai().responses.create(model=up.model, input="say hello", stream=True)
    deltas, kinds = [], []
    async for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
    assert "".join(deltas) == ANSWER
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert_upstream(native, up, stream=True)


# --- errors the SDKs turn into their own exceptions -----------------------------------------


async def test_sdk_errors(native: Native) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        await native.openai().chat.completions.create(model="no-such-model",
                                                      messages=[{"role": "user", "content": "x"}])
    assert bad.value.status_code == 400
    assert "unknown provider for model no-such-model" in str(bad.value)
    client = anthropic.AsyncAnthropic(base_url=native.url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        await client.messages.create(model=CLAUDE.model, max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert native.fake.requests == []


# --- What the Claude and Codex executors add for SDK clients (legacy executors) --------------


async def test_openai_sdk_on_claude_is_cloaked_and_accepts_json_when_not_streaming(native: Native) -> None:
    """claude_executor.go applyCloaking (mode auto: the client is not claude-cli) and
    applyClaudeHeaders(stream=false): the body asks Claude for a stream to fold, Accept stays JSON."""
    await native.openai().chat.completions.create(
        model=CLAUDE.model, messages=[{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "say hello"}])
    sent = assert_upstream(native, CLAUDE, stream=False)
    assert sent.body["stream"] is True
    assert sent.headers["Accept"] == "application/json"
    # OpenAI system messages travel as a user message (A2.1); the system is Claude Code's line.
    line = "You are Claude Code, Anthropic's official CLI for Claude."
    assert sent.body["system"] == [{"type": "text", "text": line}]
    assert "Be brief." in json.dumps(sent.body["messages"])
    assert re.fullmatch(r"user_[0-9a-f]{64}_account__session_[0-9a-f-]{36}", sent.body["metadata"]["user_id"])


async def test_streaming_client_on_claude_accepts_event_stream(native: Native) -> None:
    stream = await native.openai().chat.completions.create(
        model=CLAUDE.model, messages=[{"role": "user", "content": "say hello"}], stream=True)
    async for _ in stream:
        pass
    assert assert_upstream(native, CLAUDE, stream=True).headers["Accept"] == "text/event-stream"


async def test_claude_client_on_codex_keeps_one_session_per_user(native: Native) -> None:
    """codex_executor.go cacheHelper: a Claude client's metadata.user_id names one Codex prompt
    cache (body key and both session headers) per model for an hour."""
    client = native.anthropic()
    for user in ("alice", "alice", "bob"):
        await client.messages.create(model=CODEX.model, max_tokens=50, metadata={"user_id": user},
                                     messages=[{"role": "user", "content": "say hello"}])
    sessions = [(r.body["prompt_cache_key"], r.headers["Session_id"], r.headers["Conversation_id"])
                for r in native.fake.requests]
    assert all(len(set(triple)) == 1 and len(triple[0]) == 36 for triple in sessions)
    assert sessions[0] == sessions[1] != sessions[2]
