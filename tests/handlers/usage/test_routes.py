"""/v0/management/usage, /usage/export and /usage/import on the whole gateway, fed by native
inference through the fake upstreams (usage.go, logger_plugin.go, usage_helpers.go)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import SECRET, GatewayFactory, auth
from tests.fakes.llm_upstream import FakeLLM, status

CLAUDE = "claude-sonnet-4-5-20250929"
COMPAT = "compat-model"


def upstreams(root: str) -> dict[str, Any]:
    return {
        "usage-statistics-enabled": True,
        "claude-api-key": [{"api-key": "sk-claude", "base-url": root}],
        "openai-compatibility": [{"name": "compat", "base-url": f"{root}/v1",
                                  "api-key-entries": [{"api-key": "sk-compat"}],
                                  "models": [{"name": "upstream-model", "alias": COMPAT}]}],
    }


class Gateway:
    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url, self.session = url, session

    async def chat(self, model: str, *, stream: bool = False, key: str = "client-key") -> int:
        body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
        async with self.session.post(self.url + "/v1/chat/completions", json=body,
                                     headers={"Authorization": f"Bearer {key}"}) as resp:
            await resp.read()
            return resp.status

    async def management(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any, str]:
        async with self.session.request(method, self.url + "/v0/management/" + path, data=body,
                                        headers=auth(SECRET)) as resp:
            raw = await resp.read()
            return resp.status, json.loads(raw), resp.headers["Content-Type"]


async def start(make_gateway: GatewayFactory, config: dict[str, Any]) -> tuple[TestServer, Gateway]:
    app = await make_gateway({"default": "native"}, config=config)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server, Gateway(str(server.make_url("")).rstrip("/"), aiohttp.ClientSession())


@pytest.fixture
async def gateway(make_gateway: GatewayFactory, fake_llm: FakeLLM) -> AsyncIterator[Gateway]:
    server, gw = await start(make_gateway, {"api-keys": ["client-key", "other-key"], **upstreams(fake_llm.root)})
    yield gw
    await gw.session.close()
    await server.close()


def index(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


async def test_native_requests_are_counted_per_key_model_and_credential(gateway: Gateway, fake_llm: FakeLLM) -> None:
    assert await gateway.chat(CLAUDE) == 200
    assert await gateway.chat(CLAUDE, stream=True, key="other-key") == 200
    assert await gateway.chat(COMPAT, stream=True) == 200
    fake_llm.script("sk-compat", status(500))  # the only credential for the model: the client gets it
    assert await gateway.chat(COMPAT) == 500
    code, body, content_type = await gateway.management("GET", "usage")
    assert (code, content_type) == (200, "application/json; charset=utf-8")
    assert list(body) == ["failed_requests", "usage"]
    usage = body["usage"]
    assert (usage["total_requests"], usage["success_count"], usage["failure_count"]) == (4, 3, 1)
    assert body["failed_requests"] == 1
    client = usage["apis"]["client-key"]["models"]
    assert list(client) == [CLAUDE, "upstream-model"]  # an alias is filed under the upstream name
    [served] = client[CLAUDE]["details"]
    assert served["failed"] is False
    assert served["tokens"] == {"input_tokens": 11, "output_tokens": 5, "reasoning_tokens": 0,
                                "cached_tokens": 0, "total_tokens": 16}
    assert (served["source"], served["auth_index"]) == ("sk-claude", index("api_key:sk-claude"))
    streamed, failed = client["upstream-model"]["details"]
    assert streamed["failed"] is False and streamed["tokens"]["total_tokens"] == 16
    assert failed["failed"] is True and failed["tokens"]["total_tokens"] == 0
    assert (failed["source"], failed["auth_index"]) == ("sk-compat", index("api_key:sk-compat"))
    # The Claude stream's usage comes from message_delta, as parseClaudeStreamUsage reads it.
    [claude_stream] = usage["apis"]["other-key"]["models"][CLAUDE]["details"]
    assert claude_stream["failed"] is False and claude_stream["tokens"]["output_tokens"] == 5
    assert usage["total_tokens"] == sum(d["tokens"]["total_tokens"] for api in usage["apis"].values()
                                        for m in api["models"].values() for d in m["details"])
    assert sum(usage["requests_by_day"].values()) == 4 and sum(usage["requests_by_hour"].values()) == 4


async def test_export_then_import_skips_every_detail_and_bad_imports_are_400(gateway: Gateway) -> None:
    assert await gateway.chat(CLAUDE) == 200
    code, exported, _ = await gateway.management("GET", "usage/export")
    assert code == 200 and list(exported) == ["version", "exported_at", "usage"]
    assert exported["version"] == 1 and exported["exported_at"].endswith("Z")
    raw = json.dumps({"version": 1, "usage": exported["usage"]}).encode()
    assert await gateway.management("POST", "usage/import", raw) == (
        200, {"added": 0, "failed_requests": 0, "skipped": 1, "total_requests": 1}, "application/json; charset=utf-8")
    details = {"Details": [{"timestamp": "2026-01-20T10:00:00.5+08:00", "source": "s", "auth_index": "i",
                            "tokens": {"input_tokens": 2, "output_tokens": 1}, "failed": True}, None]}
    fresh = json.dumps({"usage": {"apis": {"imported": {"models": {"": details}}}}}).encode()
    code, result, _ = await gateway.management("POST", "usage/import", fresh)
    assert (code, result) == (200, {"added": 2, "failed_requests": 1, "skipped": 0, "total_requests": 3})
    _, body, _ = await gateway.management("GET", "usage")
    imported = body["usage"]["apis"]["imported"]["models"]["unknown"]["details"]
    assert imported[0]["timestamp"] == "2026-01-20T10:00:00.5+08:00"
    assert imported[0]["tokens"]["total_tokens"] == 3
    assert body["usage"]["requests_by_day"]["2026-01-20"] == 1
    for bad, message in ((b"{", "invalid json"), (b'{"version": 2}', "unsupported version"),
                         (b'{"version": 1.0}', "invalid json"), (b'{"usage": {"total_requests": "1"}}', "invalid json"),
                         (b'{"usage": {"apis": {"a": {"models": {"m": {"details": [{"timestamp": "now"}]}}}}}}',
                          "invalid json"), (b"[]", "invalid json")):
        assert await gateway.management("POST", "usage/import", bad) == (
            400, {"error": message}, "application/json; charset=utf-8"), bad
    assert (await gateway.management("GET", "usage"))[1]["usage"]["total_requests"] == 3


async def test_nothing_is_recorded_while_the_setting_is_off_and_without_keys_the_route_is_the_bucket(
        make_gateway: GatewayFactory, fake_llm: FakeLLM) -> None:
    server, gw = await start(make_gateway, {**upstreams(fake_llm.root), "usage-statistics-enabled": False})
    try:
        assert await gw.chat(CLAUDE) == 200
        assert (await gw.management("GET", "usage"))[1]["usage"]["total_requests"] == 0
    finally:
        await gw.session.close()
        await server.close()
    server, gw = await start(make_gateway, {**upstreams(fake_llm.root), "api-keys": []})
    try:
        assert await gw.chat(CLAUDE) == 200
        _, body, _ = await gw.management("GET", "usage")
        assert list(body["usage"]["apis"]) == ["POST /v1/chat/completions"]
    finally:
        await gw.session.close()
        await server.close()


async def test_a_live_negative_total_is_summed_as_it_came_an_imported_one_as_zero(gateway: Gateway,
                                                                                  fake_llm: FakeLLM) -> None:
    # Record adds the normalised total whatever its sign (logger_plugin.go:166,192,209-210);
    # recordImported counts a negative one as 0 outside the api and model sums (:357-360).
    answer = {"id": "c", "object": "chat.completion", "model": "upstream-model",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": -10}}
    fake_llm.script("sk-compat", status(200, answer))
    assert await gateway.chat(COMPAT) == 200
    _, body, _ = await gateway.management("GET", "usage")
    usage = body["usage"]
    assert (usage["total_tokens"], usage["apis"]["client-key"]["total_tokens"]) == (-10, -10)
    assert list(usage["tokens_by_day"].values()) == [-10] and list(usage["tokens_by_hour"].values()) == [-10]
    [detail] = usage["apis"]["client-key"]["models"]["upstream-model"]["details"]
    assert detail["tokens"] == {"input_tokens": 3, "output_tokens": 2, "reasoning_tokens": 0,
                                "cached_tokens": 0, "total_tokens": -10}
    imported = {"usage": {"apis": {"imported": {"models": {"m": {"details": [
        {"timestamp": "2026-01-20T10:00:00Z", "tokens": {"input_tokens": 1, "total_tokens": -7}}]}}}}}}
    code, result, _ = await gateway.management("POST", "usage/import", json.dumps(imported).encode())
    assert (code, result["added"]) == (200, 1)
    _, body, _ = await gateway.management("GET", "usage")
    usage = body["usage"]
    assert (usage["total_tokens"], usage["apis"]["imported"]["total_tokens"]) == (-10, -7)
    assert usage["tokens_by_day"]["2026-01-20"] == 0


def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events)


def _gemini_chunk(text: str, usage: dict[str, int] | None, finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], **({"usageMetadata": usage} if usage else {})}


_EARLY = {"promptTokenCount": 10, "candidatesTokenCount": 1, "totalTokenCount": 11}
_FINAL = {"promptTokenCount": 10, "candidatesTokenCount": 7, "thoughtsTokenCount": 3, "cachedContentTokenCount": 4}
_GEMINI_STREAM = _sse(_gemini_chunk("a", _EARLY), _gemini_chunk("b", _FINAL, "STOP"))
_COMPLETED = {"type": "response.completed", "response": {"id": "r", "status": "completed", "output": [], "usage": {
    "input_tokens": 8, "output_tokens": 4, "total_tokens": 12,
    "input_tokens_details": {"cached_tokens": 6}, "output_tokens_details": {"reasoning_tokens": 2}}}}
_CHUNK = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "hi"}}]}


def _counts(i: int, o: int, r: int, c: int, t: int) -> dict[str, int]:
    return {"input_tokens": i, "output_tokens": o, "reasoning_tokens": r, "cached_tokens": c, "total_tokens": t}


@pytest.mark.parametrize(("model", "key", "answer", "stream", "expected"), [
    # The Gemini API-key stream hides usage on chunks without a finish (FilterSSEUsageMetadata
    # runs before parseGeminiStreamUsage, gemini_executor.go:305-311): the final chunk's counts,
    # the missing total made of prompt + candidates + thoughts.
    ("gemini-2.5-flash", "sk-gemini", _GEMINI_STREAM, True, [("gemini-2.5-flash", _counts(10, 7, 3, 4, 20))]),
    # Vertex reads every line unfiltered (gemini_vertex_executor.go:746): the first counts win.
    ("vertex-alias", "sk-vertex", _GEMINI_STREAM, True, [("gemini-2.5-pro", _counts(10, 1, 0, 0, 11))]),
    # A Gemini stream without usage leaves no record (no ensurePublished).
    ("gemini-2.5-flash", "sk-gemini", _sse(_gemini_chunk("a", None, "STOP")), True, []),
    # Codex, folded for a non-stream client: response.completed's counts with their details.
    ("gpt-5", "sk-codex", _sse({"type": "response.created", "response": {"id": "r"}}, _COMPLETED), False,
     [("gpt-5", _counts(8, 4, 2, 6, 12))]),
    # An OpenAI-compatible stream without usage is still one zero-token success (ensurePublished,
    # openai_compat_executor.go:286).
    (COMPAT, "sk-compat", _sse(_CHUNK) + b"data: [DONE]\n\n", True, [("upstream-model", _counts(0, 0, 0, 0, 0))]),
], ids=["gemini-final-chunk", "vertex-first-chunk", "gemini-no-usage", "codex-fold", "compat-no-usage"])
async def test_which_usage_each_upstream_kind_records(make_gateway: GatewayFactory, fake_llm: FakeLLM, model: str,
                                                     key: str, answer: bytes, stream: bool,
                                                     expected: list[tuple[str, dict[str, int]]]) -> None:
    root = fake_llm.root
    config = {**upstreams(root), "api-keys": ["client-key"],
              "gemini-api-key": [{"api-key": "sk-gemini", "base-url": root}],
              "vertex-api-key": [{"api-key": "sk-vertex", "base-url": root,
                                  "models": [{"name": "gemini-2.5-pro", "alias": "vertex-alias"}]}],
              "codex-api-key": [{"api-key": "sk-codex", "base-url": f"{root}/v1"}]}
    server, gw = await start(make_gateway, config)
    try:
        fake_llm.script(key, status(200, answer, {"Content-Type": "text/event-stream"}))
        assert await gw.chat(model, stream=stream) == 200
        _, body, _ = await gw.management("GET", "usage")
        got = [(name, d["source"], d["failed"], d["tokens"]) for api in body["usage"]["apis"].values()
               for name, per_model in api["models"].items() for d in per_model["details"]]
        assert got == [(name, key, False, tokens) for name, tokens in expected]
    finally:
        await gw.session.close()
        await server.close()
