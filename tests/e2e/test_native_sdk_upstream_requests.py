"""The whole upstream request each API-key executor sends when an official SDK is the client.

gateway (in process, native, behind the front door) -> recording fake upstream. Each test names the
exact path, query and header set (Host and Content-Length aside, which only name the fake's port and
the body's size). The SDK's own request is captured too, because the Claude and Codex executors take
a header from the client when it has one (``misc.EnsureHeader``, internal/misc/header_utils.go:21-37):
an SDK upgrade changes its X-Stainless values and User-Agent, not which of them go upstream.

Legacy facts (CLIProxyAPI 9b72ea9ef):
- Claude: ``{base}/v1/messages?beta=true`` and ``/v1/messages/count_tokens?beta=true``
  (claude_executor.go:131,262,410); ``applyClaudeHeaders`` (:621-686): Bearer off api.anthropic.com,
  the default betas, a dozen Claude Code identity headers the client may replace, Accept by the
  Execute/ExecuteStream/CountTokens ``stream`` argument (:136,267,415).
- Gemini: ``{base without trailing /}/v1beta/models/<m>:<action>``, ``?alt=sse`` on streams,
  nothing on countTokens (gemini_executor.go:138-141,234-240,353-354,440-451); ``x-goog-api-key``,
  Content-Type and the entry's headers only (:150-156,492-498): Go's client adds its User-Agent and
  ``Accept-Encoding: gzip``.
- Vertex API key: ``{base}/v1/publishers/google/models/<m>:<action>`` (gemini_vertex_executor.go:455,675-681,876),
  the same headers as Gemini (:465-469,690-694,882-886).
- Codex: ``{base}/responses`` (codex_executor.go:114), ``cacheHelper`` session headers (:531-537) and
  ``applyCodexHeaders`` (:541-577): no Originator or Chatgpt-Account-Id for an API key.
- OpenAI-compatible: ``{base}/chat/completions``, fixed User-Agent, Accept and Cache-Control on
  streams only (openai_compat_executor.go:100-114,195-211).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from tests.conftest import GatewayFactory
from tests.fakes.llm_upstream import ANSWER, FakeLLM, Recorded
from tests.quotio_gateway.test_frontdoor import serving

CLIENT_KEY = "client-key"
CLAUDE_MODEL = "claude-sonnet-4-5-20250929"
DEFAULT_BETAS = ("claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
                 "fine-grained-tool-streaming-2025-05-14")
# applyClaudeHeaders' EnsureHeader rows, in its order: the client's non-blank value, else this one.
CLAUDE_IDENTITY = (
    ("Anthropic-Version", "2023-06-01"), ("Anthropic-Dangerous-Direct-Browser-Access", "true"),
    ("X-App", "cli"), ("X-Stainless-Helper-Method", "stream"), ("X-Stainless-Retry-Count", "0"),
    ("X-Stainless-Runtime-Version", "v24.3.0"), ("X-Stainless-Package-Version", "0.55.1"),
    ("X-Stainless-Runtime", "node"), ("X-Stainless-Lang", "js"), ("X-Stainless-Arch", "arm64"),
    ("X-Stainless-Os", "MacOS"), ("X-Stainless-Timeout", "60"),
    ("User-Agent", "claude-cli/1.0.83 (external, cli)"),
)
CODEX_UA = "codex_cli_rs/0.50.0 (Mac OS 26.0.1; arm64) Apple_Terminal/464"
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash"
VERTEX_PATH = "/v1/publishers/google/models/gemini-2.5-pro"


def gateway_config(root: str) -> dict[str, Any]:
    return {
        "api-keys": [CLIENT_KEY],
        "claude-api-key": [{"api-key": "sk-claude", "base-url": root}],
        # Every trailing "/" of a Gemini base goes (TrimRight); the entry's headers come last and
        # replace what Go's client would add.
        "gemini-api-key": [{"api-key": "sk-gemini", "base-url": root + "//",
                            "headers": {"X-Custom-Header": "gem", "User-Agent": "entry-agent"}}],
        "vertex-api-key": [{"api-key": "sk-vertex", "base-url": root,
                            "models": [{"name": "gemini-2.5-pro", "alias": "vertex-pro"}]}],
        "codex-api-key": [{"api-key": "sk-codex", "base-url": f"{root}/v1",
                           "models": [{"name": "gpt-5", "alias": "codex-gpt"}]}],
        "openai-compatibility": [{"name": "compat", "base-url": f"{root}/v1",
                                  "api-key-entries": [{"api-key": "sk-compat"}],
                                  "models": [{"name": "upstream-model", "alias": "compat-model"}]}],
    }


@dataclass
class Native:
    url: str
    fake: FakeLLM
    sdk_sent: list[httpx.Request] = field(default_factory=list)

    def _http(self) -> httpx.AsyncClient:
        async def record(request: httpx.Request) -> None:
            self.sdk_sent.append(request)

        return httpx.AsyncClient(timeout=20, event_hooks={"request": [record]})

    def openai(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.url}/v1", api_key=CLIENT_KEY, max_retries=0,
                                  http_client=self._http())

    def anthropic(self, **headers: str) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(base_url=self.url, api_key=CLIENT_KEY, max_retries=0,
                                        http_client=self._http(), default_headers=headers or None)

    def genai(self) -> genai.Client:
        return genai.Client(api_key=CLIENT_KEY, http_options=genai_types.HttpOptions(
            base_url=self.url, api_version="v1beta", timeout=20_000))

    def exchange(self) -> tuple[httpx.Headers, Recorded]:
        """What the SDK sent (when captured) and the one upstream request it caused."""
        assert len(self.fake.requests) == 1, [r.path for r in self.fake.requests]
        client = self.sdk_sent[-1].headers if self.sdk_sent else httpx.Headers()
        return client, self.fake.requests[0]


@pytest.fixture
async def native(make_gateway: GatewayFactory) -> AsyncIterator[Native]:
    fake = FakeLLM()
    await fake.start()
    try:
        async with serving(await make_gateway({"default": "native"}, config=gateway_config(fake.root))) as pair:
            yield Native(f"http://127.0.0.1:{pair.fast}", fake)
    finally:
        await fake.stop()


def wire(seen: Recorded) -> dict[str, str]:
    return {k: v for k, v in seen.headers.items() if k not in ("Host", "Content-Length")}


def ensured(client: httpx.Headers, rows: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """EnsureHeader over ``rows``: the client's trimmed value when it is not blank."""
    return {name: (client.get(name) or "").strip() or default for name, default in rows}


def claude_headers(client: httpx.Headers, accept: str) -> dict[str, str]:
    return {"Authorization": "Bearer sk-claude", "Content-Type": "application/json",
            "Anthropic-Beta": DEFAULT_BETAS, **ensured(client, CLAUDE_IDENTITY),
            "Connection": "keep-alive", "Accept-Encoding": "gzip, deflate, br, zstd", "Accept": accept}


# --- Claude ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
async def test_anthropic_sdk_to_claude_key(native: Native, stream: bool) -> None:
    # A client anthropic-version wins over the executor's (EnsureHeader), as do the SDK's
    # X-Stainless values; the rest are Claude Code's.
    client = native.anthropic(**{"anthropic-version": "2023-01-01"})
    prompt = [{"role": "user", "content": "say hello"}]
    if stream:
        async with client.messages.stream(model=CLAUDE_MODEL, max_tokens=64, messages=prompt) as events:
            assert "".join([t async for t in events.text_stream]) == ANSWER
    else:
        message = await client.messages.create(model=CLAUDE_MODEL, max_tokens=64, messages=prompt)
        assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    sdk, seen = native.exchange()
    assert (seen.path, seen.query) == ("/v1/messages", {"beta": "true"})
    expected = claude_headers(sdk, "text/event-stream" if stream else "application/json")
    assert expected["Anthropic-Version"] == "2023-01-01"
    assert expected["X-Stainless-Lang"] == "python" and expected["X-App"] == "cli"
    assert wire(seen) == expected


async def test_anthropic_sdk_count_tokens_to_claude_key(native: Native) -> None:
    counted = await native.anthropic().messages.count_tokens(
        model=CLAUDE_MODEL, messages=[{"role": "user", "content": "say hello"}])
    assert counted.input_tokens > 0
    sdk, seen = native.exchange()
    assert (seen.path, seen.query) == ("/v1/messages/count_tokens", {"beta": "true"})
    assert wire(seen) == claude_headers(sdk, "application/json")


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
async def test_openai_sdk_to_claude_key(native: Native, stream: bool) -> None:
    # The OpenAI SDK's X-Stainless values and User-Agent go upstream in place of Claude Code's;
    # Accept follows the client even though the non-stream body asks Claude for a stream.
    completion = await native.openai().chat.completions.create(
        model=CLAUDE_MODEL, messages=[{"role": "user", "content": "say hello"}], stream=stream)
    if stream:
        async for _ in completion:  # type: ignore[union-attr]
            pass
    sdk, seen = native.exchange()
    assert (seen.path, seen.query) == ("/v1/messages", {"beta": "true"})
    expected = claude_headers(sdk, "text/event-stream" if stream else "application/json")
    assert expected["User-Agent"].startswith("AsyncOpenAI/Python ")
    assert wire(seen) == expected


# --- Gemini and Vertex API keys -------------------------------------------------------------------


@pytest.mark.parametrize(("model", "path", "key", "extra"), [
    ("gemini-2.5-flash", GEMINI_PATH, "sk-gemini", {"X-Custom-Header": "gem", "User-Agent": "entry-agent"}),
    ("vertex-pro", VERTEX_PATH, "sk-vertex", {"User-Agent": "Go-http-client/1.1"}),
], ids=["gemini", "vertex"])
async def test_genai_sdk_to_google_keys(native: Native, model: str, path: str, key: str,
                                        extra: dict[str, str]) -> None:
    client = native.genai()
    headers = {"Content-Type": "application/json", "x-goog-api-key": key, **extra, "Accept-Encoding": "gzip"}

    answer = await client.aio.models.generate_content(model=model, contents="say hello")
    assert answer.text == ANSWER
    [seen] = native.fake.requests
    assert (seen.path, seen.query, wire(seen)) == (f"{path}:generateContent", {}, headers)

    native.fake.requests.clear()
    text = [chunk.text async for chunk in await client.aio.models.generate_content_stream(
        model=model, contents="say hello")]
    assert "".join(t or "" for t in text) == ANSWER
    [seen] = native.fake.requests
    assert (seen.path, seen.query, wire(seen)) == (f"{path}:streamGenerateContent", {"alt": "sse"}, headers)

    native.fake.requests.clear()
    await client.aio.models.count_tokens(model=model, contents="say hello")
    [seen] = native.fake.requests
    assert (seen.path, seen.query, wire(seen)) == (f"{path}:countTokens", {}, headers)


# --- Codex API key --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
async def test_openai_chat_sdk_to_codex_key(native: Native, stream: bool) -> None:
    completion = await native.openai().chat.completions.create(
        model="codex-gpt", messages=[{"role": "user", "content": "say hello"}], stream=stream)
    if stream:
        async for _ in completion:  # type: ignore[union-attr]
            pass
    sdk, seen = native.exchange()
    assert (seen.path, seen.query) == ("/v1/responses", {})
    # A chat client gives cacheHelper no id: Conversation_id goes out empty and Session_id falls
    # back to a fresh version-4 UUID; the SDK's User-Agent replaces the Codex CLI's.
    session = seen.headers.get("Session_id", "")
    assert uuid.UUID(session).version == 4
    assert wire(seen) == {
        "Conversation_id": "", "Session_id": session, "Content-Type": "application/json",
        "Authorization": "Bearer sk-codex", "Version": "0.21.0", "Openai-Beta": "responses=experimental",
        "User-Agent": sdk["User-Agent"], "Accept": "text/event-stream", "Connection": "Keep-Alive",
        "Accept-Encoding": "gzip"}
    assert sdk["User-Agent"] != CODEX_UA


async def test_openai_responses_sdk_cache_key_names_both_codex_sessions(native: Native) -> None:
    response = await native.openai().responses.create(model="codex-gpt", input="say hello",
                                                      prompt_cache_key="conv-7")
    assert response.output_text == ANSWER
    sdk, seen = native.exchange()
    assert (seen.path, seen.body["prompt_cache_key"]) == ("/v1/responses", "conv-7")
    assert wire(seen) == {
        "Conversation_id": "conv-7", "Session_id": "conv-7", "Content-Type": "application/json",
        "Authorization": "Bearer sk-codex", "Version": "0.21.0", "Openai-Beta": "responses=experimental",
        "User-Agent": sdk["User-Agent"], "Accept": "text/event-stream", "Connection": "Keep-Alive",
        "Accept-Encoding": "gzip"}


# --- OpenAI-compatible ----------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
async def test_sdks_to_openai_compatible(native: Native, stream: bool) -> None:
    # The client's User-Agent never goes upstream here; Accept and Cache-Control only on a stream.
    streaming = {"Accept": "text/event-stream", "Cache-Control": "no-cache"} if stream else {}
    expected = {"Content-Type": "application/json", "Authorization": "Bearer sk-compat",
                "User-Agent": "cli-proxy-openai-compat", **streaming, "Accept-Encoding": "gzip"}
    prompt = [{"role": "user", "content": "say hello"}]
    completion = await native.openai().chat.completions.create(model="compat-model", messages=prompt,
                                                               stream=stream)
    if stream:
        async for _ in completion:  # type: ignore[union-attr]
            pass
    _, seen = native.exchange()
    assert (seen.path, seen.query, wire(seen)) == ("/v1/chat/completions", {}, expected)

    native.fake.requests.clear()
    client = native.anthropic()
    if stream:
        async with client.messages.stream(model="compat-model", max_tokens=64, messages=prompt) as events:
            assert "".join([t async for t in events.text_stream]) == ANSWER
    else:
        await client.messages.create(model="compat-model", max_tokens=64, messages=prompt)
    _, seen = native.exchange()
    assert (seen.path, seen.query, wire(seen)) == ("/v1/chat/completions", {}, expected)
