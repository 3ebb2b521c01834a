"""Thinking end to end: what each client's thinking request becomes in the upstream body.

gateway (in process, every route ``native``) -> scripted fake upstream recording each request.
The expected fields follow the reference's A2.9 rules and A4.3 matrix (suffix forms, level <->
budget tables, per-model limits and clamping, strict same-family range checks, models without
thinking support, user-defined models), applied to the static catalogue entries the gateway
registers for each API key:

* claude-sonnet-4-5-20250929: budget 1024-128000, zero allowed, no dynamic
* claude-haiku-4-5-20251001: no thinking support
* gemini-2.5-pro: budget 128-32768, dynamic, no zero; gemini-2.5-flash: 0-24576, dynamic
* gemini-3-pro-preview: levels low/high plus budget 128-32768, dynamic
* gpt-5 (Codex): levels minimal/low/medium/high; gpt-5.1: none/low/medium/high
* compat-model (openai-compatibility ``models:``): user-defined, converted but not validated
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from google import genai
from google.genai import types as genai_types

from quotio_gateway.app import GatewayOptions, create_app
from tests.conftest import write_config, write_flags
from tests.fakes.llm_upstream import ANSWER, THINKING, FakeLLM

KEY = "client-key"
HI = [{"role": "user", "content": "hi"}]
GEMINI_HI = [{"role": "user", "parts": [{"text": "hi"}]}]


@dataclass
class Gateway:
    url: str
    fake: FakeLLM
    http: aiohttp.ClientSession

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.fake.requests.clear()
        async with self.http.post(self.url + path, json=body, headers={"Authorization": f"Bearer {KEY}"}) as resp:
            answer = await resp.json(content_type=None)
            return resp.status, answer

    def sent(self) -> dict[str, Any]:
        [request] = self.fake.requests
        body: dict[str, Any] = request.body
        return body


# One gateway for the whole module (a gateway takes most of a second to build); every test
# clears the fake's record before its request, and no test here cools a credential down.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    fake = FakeLLM()
    await fake.start()
    root = fake.root
    config = {
        "api-keys": [KEY],
        "claude-api-key": [{"api-key": "sk-claude", "base-url": root}],
        "gemini-api-key": [{"api-key": "sk-gemini", "base-url": root}],
        "codex-api-key": [{"api-key": "sk-codex", "base-url": f"{root}/v1"}],
        "openai-compatibility": [{"name": "compat", "base-url": f"{root}/v1",
                                  "api-key-entries": [{"api-key": "sk-compat"}],
                                  "models": [{"name": "upstream-model", "alias": "compat-model"}]}],
    }
    directory = tmp_path_factory.mktemp("thinking")
    state = directory / "state"
    flags = {"default": "native", "server": {"state_dir": str(state)}}
    app = await create_app(GatewayOptions(config_path=write_config(directory, config),
                                          flags_path=write_flags(directory, flags), state_dir=state))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        try:
            yield Gateway(str(server.make_url("")).rstrip("/"), fake, http)
        finally:
            await server.close()
            await fake.stop()


def claude_thinking(body: dict[str, Any]) -> Any:
    return body.get("thinking"), body.get("max_tokens")


def gemini_thinking(body: dict[str, Any]) -> Any:
    return body.get("generationConfig", {}).get("thinkingConfig")


def codex_effort(body: dict[str, Any]) -> Any:
    return body["reasoning"]["effort"]


# --- model-name suffixes, OpenAI chat client ------------------------------------------------

# The chat->Claude translator writes max_tokens 32000 when the client gave none; the Claude
# applier then keeps budget_tokens below it.
SONNET = "claude-sonnet-4-5-20250929"


@pytest.mark.parametrize(("suffix", "thinking"), [
    ("", None),
    ("(high)", {"type": "enabled", "budget_tokens": 24576}),
    ("(8192)", {"type": "enabled", "budget_tokens": 8192}),
    ("(08192)", {"type": "enabled", "budget_tokens": 8192}),  # leading zeros are fine
    ("(low)", {"type": "enabled", "budget_tokens": 1024}),
    ("(none)", {"type": "disabled"}),
    ("(0)", {"type": "disabled"}),
    # auto without dynamic support: the middle of the range, (1024+128000)/2, then below max_tokens.
    ("(auto)", {"type": "enabled", "budget_tokens": 31999}),
    ("(200000)", {"type": "enabled", "budget_tokens": 31999}),  # clamped to 128000, then below max_tokens
])
async def test_suffix_to_claude_budget(gw: Gateway, suffix: str, thinking: Any) -> None:
    status, answer = await gw.post("/v1/chat/completions", {"model": SONNET + suffix, "messages": HI})
    assert status == 200
    sent = gw.sent()
    assert sent["model"] == SONNET  # the suffix never reaches the upstream
    assert claude_thinking(sent) == (thinking, 32000)
    if thinking and thinking["type"] == "enabled":
        # A2.2: the folded (non-stream) Claude answer carries it as ``reasoning``.
        assert answer["choices"][0]["message"]["reasoning"] == THINKING


async def test_suffix_budget_kept_when_max_tokens_allows(gw: Gateway) -> None:
    status, _ = await gw.post("/v1/chat/completions", {"model": f"{SONNET}(auto)", "messages": HI,
                                                       "max_tokens": 100000})
    assert status == 200
    assert claude_thinking(gw.sent()) == ({"type": "enabled", "budget_tokens": 64512}, 100000)


@pytest.mark.parametrize(("model", "config"), [
    ("gemini-2.5-pro(medium)", {"thinkingBudget": 8192, "includeThoughts": True}),
    ("gemini-2.5-pro(xhigh)", {"thinkingBudget": 32768, "includeThoughts": True}),
    ("gemini-2.5-pro(none)", {"thinkingBudget": 128, "includeThoughts": False}),  # zero not allowed -> min
    ("gemini-2.5-pro(auto)", {"thinkingBudget": -1, "includeThoughts": True}),
    ("gemini-2.5-pro(-1)", {"thinkingBudget": -1, "includeThoughts": True}),
    ("gemini-2.5-pro(64000)", {"thinkingBudget": 32768, "includeThoughts": True}),  # suffix: clamped
    ("gemini-2.5-flash(none)", {"thinkingBudget": 0, "includeThoughts": False}),  # zero allowed
    ("gemini-2.5-flash(100000)", {"thinkingBudget": 24576, "includeThoughts": True}),
    ("gemini-3-pro-preview(high)", {"thinkingLevel": "high", "includeThoughts": True}),
    ("gemini-3-pro-preview(8192)", {"thinkingBudget": 8192, "includeThoughts": True}),
    ("gemini-3-pro-preview(none)", {"thinkingLevel": "low", "includeThoughts": False}),
    ("gemini-3-pro-preview(auto)", {"thinkingBudget": -1, "includeThoughts": True}),
    ("gemini-2.5-pro", None),
])
async def test_suffix_to_gemini_thinking_config(gw: Gateway, model: str, config: Any) -> None:
    status, answer = await gw.post("/v1/chat/completions", {"model": model, "messages": HI})
    assert status == 200
    base = model.split("(")[0]
    assert gw.fake.requests[0].path == f"/v1beta/models/{base}:generateContent"
    assert gemini_thinking(gw.sent()) == config
    if config and config["includeThoughts"]:
        assert answer["choices"][0]["message"]["reasoning_content"] == THINKING


@pytest.mark.parametrize(("model", "effort"), [
    ("gpt-5", "medium"),  # the Codex translator's default
    ("gpt-5(high)", "high"),
    ("gpt-5(none)", "minimal"),  # none is not a gpt-5 level: the lowest one
    ("gpt-5(auto)", "medium"),  # no dynamic: the middle level
    ("gpt-5(8192)", "medium"),  # budget -> level by the thresholds
    ("gpt-5(64000)", "high"),  # xhigh, clamped to the highest supported
    ("gpt-5(0)", "minimal"),
    ("gpt-5.1(none)", "none"),  # gpt-5.1 has a none level
])
async def test_suffix_to_codex_effort(gw: Gateway, model: str, effort: str) -> None:
    status, _ = await gw.post("/v1/chat/completions", {"model": model, "messages": HI})
    assert status == 200
    sent = gw.sent()
    assert sent["model"] == model.split("(")[0]
    assert codex_effort(sent) == effort


@pytest.mark.parametrize(("model", "message"), [
    ("gpt-5(xhigh)", 'level "xhigh" not supported, valid levels: minimal, low, medium, high'),
    ("gemini-3-pro-preview(medium)", 'level "medium" not supported, valid levels: low, high'),
])
async def test_unsupported_level_is_a_400_without_upstream_call(gw: Gateway, model: str, message: str) -> None:
    status, answer = await gw.post("/v1/chat/completions", {"model": model, "messages": HI})
    assert status == 400
    assert answer == {"error": {"message": message, "type": "invalid_request_error"}}
    assert gw.fake.requests == []


@pytest.mark.parametrize(("model", "effort"), [
    ("compat-model(8192)", "medium"), ("compat-model(64000)", "xhigh"), ("compat-model(0)", "none"),
    ("compat-model(-1)", "auto"), ("compat-model(xhigh)", "xhigh"),
    ("compat-model(ultra)", None),  # not a thinking value: split off for the lookup, then ignored
])
async def test_user_defined_model_converts_without_limits(gw: Gateway, model: str, effort: str | None) -> None:
    status, _ = await gw.post("/v1/chat/completions", {"model": model, "messages": HI})
    assert status == 200
    sent = gw.sent()
    assert sent["model"] == "upstream-model"
    assert sent.get("reasoning_effort") == effort


@pytest.mark.parametrize("model", ["claude-haiku-4-5-20251001(8192)", "claude-haiku-4-5-20251001(high)"])
async def test_model_without_thinking_support_gets_no_thinking_field(gw: Gateway, model: str) -> None:
    status, answer = await gw.post("/v1/chat/completions", {"model": model, "messages": HI})
    assert status == 200
    sent = gw.sent()
    assert sent["model"] == "claude-haiku-4-5-20251001" and "thinking" not in sent
    assert answer["choices"][0]["message"]["content"] == ANSWER


async def test_auto_model_with_suffix(gw: Gateway) -> None:
    """``auto`` is the newest registered model (here the config-defined compat model, registered
    now); the suffix rides along."""
    status, _ = await gw.post("/v1/chat/completions", {"model": "auto(high)", "messages": HI})
    assert status == 200
    sent = gw.sent()
    assert sent["model"] == "upstream-model" and sent["reasoning_effort"] == "high"


# --- body fields: OpenAI reasoning_effort, Claude thinking, Gemini thinkingConfig ------------


@pytest.mark.parametrize(("model", "field", "expected"), [
    (SONNET, claude_thinking, ({"type": "enabled", "budget_tokens": 1024}, 32000)),
    ("gemini-2.5-pro", gemini_thinking, {"thinkingBudget": 1024, "includeThoughts": True}),
    ("gemini-3-pro-preview", gemini_thinking, {"thinkingLevel": "low", "includeThoughts": True}),
    ("gpt-5", codex_effort, "low"),
    ("compat-model", lambda body: body["reasoning_effort"], "low"),
    ("claude-haiku-4-5-20251001", lambda body: "thinking" in body, False),
])
async def test_openai_reasoning_effort(gw: Gateway, model: str, field: Any, expected: Any) -> None:
    status, _ = await gw.post("/v1/chat/completions", {"model": model, "messages": HI, "reasoning_effort": "low"})
    assert status == 200
    assert field(gw.sent()) == expected


async def test_suffix_wins_over_body_field(gw: Gateway) -> None:
    status, _ = await gw.post("/v1/chat/completions", {"model": "gpt-5(high)", "messages": HI,
                                                       "reasoning_effort": "low"})
    assert status == 200
    assert codex_effort(gw.sent()) == "high"


@pytest.mark.parametrize(("model", "effort", "field", "expected"), [
    # Responses reasoning.effort: budget tables and per-model fitting as for chat (A2.9).
    (SONNET, "auto", claude_thinking, ({"type": "enabled", "budget_tokens": 31999}, 32000)),
    (SONNET, "none", claude_thinking, ({"type": "disabled"}, 32000)),
    ("gemini-2.5-pro", "none", gemini_thinking, {"includeThoughts": False, "thinkingBudget": 128}),
    ("gemini-3-pro-preview", "none", gemini_thinking, {"thinkingLevel": "low", "includeThoughts": False}),
    ("gpt-5", "none", codex_effort, "minimal"),
    ("gpt-5.1", "auto", codex_effort, "medium"),
    ("compat-model", "HIGH", lambda body: body["reasoning_effort"], "high"),  # lower-cased by the translator
])
async def test_responses_reasoning_effort(gw: Gateway, model: str, effort: str, field: Any, expected: Any) -> None:
    status, _ = await gw.post("/v1/responses", {"model": model, "input": "hi", "reasoning": {"effort": effort}})
    assert status == 200
    assert field(gw.sent()) == expected


async def test_responses_unsupported_level_is_a_400(gw: Gateway) -> None:
    """A Responses client is level-based: no clamping to the nearest level (validate.go:56, 106-118)."""
    body = {"model": "gpt-5.1", "input": "hi", "reasoning": {"effort": "minimal"}}
    status, answer = await gw.post("/v1/responses", body)
    assert status == 400
    assert answer == {"error": {"message": 'level "minimal" not supported, valid levels: none, low, medium, high',
                                "type": "invalid_request_error"}}
    assert gw.fake.requests == []


CLAUDE_THINKING_64K = {"max_tokens": 4096, "messages": HI, "thinking": {"type": "enabled", "budget_tokens": 64000}}


@pytest.mark.parametrize(("model", "field", "expected"), [
    # Same family, in range: kept, then lowered below the request's max_tokens.
    (SONNET, claude_thinking, ({"type": "enabled", "budget_tokens": 4095}, 4096)),
    # Another family: clamped to the model's maximum.
    ("gemini-2.5-pro", gemini_thinking, {"thinkingBudget": 32768, "includeThoughts": True}),
    ("gemini-2.5-flash", gemini_thinking, {"thinkingBudget": 24576, "includeThoughts": True}),
    ("gpt-5", codex_effort, "high"),
    ("compat-model", lambda body: body["reasoning_effort"], "xhigh"),
    # No thinking support: the field is dropped rather than failing the request.
    ("claude-haiku-4-5-20251001", lambda body: "thinking" in body, False),
])
async def test_claude_thinking_budget(gw: Gateway, model: str, field: Any, expected: Any) -> None:
    status, _ = await gw.post("/v1/messages", {"model": model, **CLAUDE_THINKING_64K})
    assert status == 200
    assert field(gw.sent()) == expected


async def test_claude_budget_out_of_range_on_claude_is_a_400(gw: Gateway) -> None:
    body = {"model": SONNET, "max_tokens": 4096, "messages": HI, "thinking": {"type": "enabled",
                                                                               "budget_tokens": 200000}}
    status, answer = await gw.post("/v1/messages", body)
    assert status == 400
    assert answer == {"error": {"message": "budget 200000 out of range [1024,128000]",
                                "type": "invalid_request_error"}}
    assert gw.fake.requests == []
    # The same number as a suffix is clamped instead (suffixes are never strict).
    body = {"model": f"{SONNET}(200000)", "max_tokens": 150000, "messages": HI}
    status, _ = await gw.post("/v1/messages", body)
    assert status == 200
    assert claude_thinking(gw.sent()) == ({"type": "enabled", "budget_tokens": 128000}, 150000)


def gemini_request(config: dict[str, Any]) -> dict[str, Any]:
    return {"contents": GEMINI_HI, "generationConfig": {"thinkingConfig": config}}


@pytest.mark.parametrize(("model", "config", "field", "expected"), [
    ("gemini-3-pro-preview", {"thinkingLevel": "high"}, gemini_thinking,
     {"thinkingLevel": "high", "includeThoughts": True}),
    ("gemini-2.5-pro", {"thinkingLevel": "high"}, gemini_thinking,
     {"thinkingBudget": 24576, "includeThoughts": True}),  # budget-only model: level -> budget
    ("gemini-2.5-flash", {"thinkingBudget": 2048, "includeThoughts": True}, gemini_thinking,
     {"thinkingBudget": 2048, "includeThoughts": True}),
    (SONNET, {"thinkingBudget": 64000}, claude_thinking, ({"type": "enabled", "budget_tokens": 31999}, 32000)),
    ("gpt-5", {"thinkingBudget": 64000}, codex_effort, "high"),
    ("compat-model", {"thinkingLevel": "high"}, lambda body: body["reasoning_effort"], "high"),
])
async def test_gemini_thinking_config(gw: Gateway, model: str, config: dict[str, Any], field: Any,
                                      expected: Any) -> None:
    status, _ = await gw.post(f"/v1beta/models/{model}:generateContent", gemini_request(config))
    assert status == 200
    assert field(gw.sent()) == expected


async def test_gemini_budget_out_of_range_on_gemini_is_a_400(gw: Gateway) -> None:
    status, answer = await gw.post("/v1beta/models/gemini-2.5-pro:generateContent",
                                   gemini_request({"thinkingBudget": 64000}))
    assert status == 400
    assert answer == {"error": {"message": "budget 64000 out of range [128,32768]", "type": "invalid_request_error"}}
    assert gw.fake.requests == []


# --- the official SDKs, one per body form ---------------------------------------------------


async def test_openai_sdk_reasoning_effort_to_gemini(gw: Gateway) -> None:
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0, timeout=20)
    gw.fake.requests.clear()
    completion = await client.chat.completions.create(model="gemini-2.5-flash", messages=HI,  # type: ignore[arg-type]
                                                      reasoning_effort="high")
    assert completion.choices[0].message.content == ANSWER
    assert gemini_thinking(gw.sent()) == {"thinkingBudget": 24576, "includeThoughts": True}


async def test_anthropic_sdk_thinking_to_codex(gw: Gateway) -> None:
    client = anthropic.AsyncAnthropic(base_url=gw.url, api_key=KEY, max_retries=0, timeout=20)
    gw.fake.requests.clear()
    message = await client.messages.create(model="gpt-5", max_tokens=4096, messages=HI,  # type: ignore[arg-type]
                                           thinking={"type": "enabled", "budget_tokens": 1024})
    assert [b.type for b in message.content] == ["text"]
    assert codex_effort(gw.sent()) == "low"


async def test_genai_sdk_thinking_config_to_claude(gw: Gateway) -> None:
    client = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(base_url=gw.url, api_version="v1beta",
                                                                            timeout=20_000))
    gw.fake.requests.clear()
    result = await client.aio.models.generate_content(
        model=SONNET, contents="hi",
        config=genai_types.GenerateContentConfig(thinking_config=genai_types.ThinkingConfig(thinking_budget=8192,
                                                                                            include_thoughts=True)))
    assert result.text == ANSWER
    # google-genai writes ``thinking_budget``/``include_thoughts`` (snake_case). The legacy reads
    # only ``thinkingBudget`` and loses the budget; native reads both (docs/compatibility.md).
    assert claude_thinking(gw.sent())[0] == {"type": "enabled", "budget_tokens": 8192}
