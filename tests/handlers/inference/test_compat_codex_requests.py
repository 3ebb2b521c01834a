"""The exact upstream requests of the openai-compatibility and codex-api-key executors, end to end.

Facts: openai_compat_executor.go Execute/ExecuteStream (URL from ``base-url``, Content-Type,
Authorization, User-Agent, then the entry's ``headers:``, then Accept/Cache-Control on streams),
codex_executor.go ``cacheHelper``/``applyCodexHeaders`` (session headers, EnsureHeader defaults the
client may replace, the entry's ``headers:`` last), synthesizer/config.go for the credentials.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.llm_upstream import FakeLLM, Recorded
from tests.handlers.inference.conftest import MakeClient

CODEX_UA = "codex_cli_rs/0.50.0 (Mac OS 26.0.1; arm64) Apple_Terminal/464"
HI = [{"role": "user", "content": "hi"}]
CODEX_INPUT = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]


def config(root: str) -> str:
    # Both entries carry an ``Accept`` of their own: the stream executors set theirs after the
    # custom headers (compat) or before them (codex), which decides who wins.
    return (f"codex-api-key:\n  - api-key: sk-codex\n    base-url: {root}/v1\n"
            "    headers:\n      X-Custom: one\n      accept: application/json\n"
            f"openai-compatibility:\n  - name: compat\n    base-url: {root}/v1/\n"
            "    headers:\n      X-Title: quotio\n      Accept: application/json\n"
            "      User-Agent: my-agent\n"
            "    api-key-entries:\n      - api-key: sk-compat\n"
            "    models:\n      - name: upstream-model\n        alias: compat-model\n"
            "payload:\n  override:\n    - models:\n        - name: gpt-5\n          protocol: codex\n"
            "      params:\n        prompt_cache_key: from-rule\n")


def sent_headers(seen: Recorded) -> dict[str, str]:
    # Host carries the fake's port and Content-Length the body's size: neither is the executor's.
    return {k: v for k, v in seen.headers.items() if k not in ("Host", "Content-Length")}


async def post(client: Any, path: str, body: dict[str, Any], **headers: str) -> None:
    # No aiohttp User-Agent of its own: a client's User-Agent is one the Codex executor keeps.
    resp = await client.post(path, json=body, headers=headers, skip_auto_headers=("User-Agent",))
    await resp.read()
    assert resp.status == 200


async def test_compat_non_stream_request(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    client = await gateway(config(fake_llm.root))
    await post(client, "/v1/chat/completions", {"model": "compat-model", "messages": HI}, **{"User-Agent": "sdk/1"})
    seen = fake_llm.requests[-1]
    # One trailing slash of base-url dropped; the alias replaced by the listed name.
    assert seen.path == "/v1/chat/completions"
    assert seen.body == {"model": "upstream-model", "messages": HI}
    # The entry's headers replace the executor's own, User-Agent included; the client's is not sent.
    assert sent_headers(seen) == {"Content-Type": "application/json", "Authorization": "Bearer sk-compat",
                                  "User-Agent": "my-agent", "X-Title": "quotio", "Accept": "application/json",
                                  "Accept-Encoding": "gzip"}


async def test_compat_stream_request(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    client = await gateway(config(fake_llm.root))
    await post(client, "/v1/chat/completions", {"model": "compat-model(high)", "messages": HI, "stream": True})
    seen = fake_llm.requests[-1]
    assert seen.body == {"model": "upstream-model", "messages": HI, "stream": True, "reasoning_effort": "high"}
    # Accept and Cache-Control come after the custom headers on a stream.
    assert sent_headers(seen) == {"Content-Type": "application/json", "Authorization": "Bearer sk-compat",
                                  "User-Agent": "my-agent", "X-Title": "quotio", "Accept": "text/event-stream",
                                  "Cache-Control": "no-cache", "Accept-Encoding": "gzip"}


async def test_codex_responses_client_keeps_its_cache_key_over_a_payload_rule(gateway: MakeClient,
                                                                             fake_llm: FakeLLM) -> None:
    # cacheHelper writes the Responses client's own prompt_cache_key after the payload rules ran
    # (codex_executor.go:113-116, :524-538): a rule for the field never reaches the upstream.
    client = await gateway(config(fake_llm.root))
    await post(client, "/v1/responses", {"model": "gpt-5", "input": "hi", "prompt_cache_key": "client-key"},
               **{"User-Agent": "sdk/1", "Session_id": "client-session"})
    seen = fake_llm.requests[-1]
    assert seen.path == "/v1/responses"
    assert seen.body == {"model": "gpt-5", "input": CODEX_INPUT, "prompt_cache_key": "client-key", "stream": True,
                         "store": False, "parallel_tool_calls": True, "include": ["reasoning.encrypted_content"],
                         "instructions": ""}
    # The client's Session_id and User-Agent win over the cache id and the default (EnsureHeader);
    # the entry's Accept replaces text/event-stream, as custom headers come last.
    assert sent_headers(seen) == {"Conversation_id": "client-key", "Content-Type": "application/json",
                                  "Authorization": "Bearer sk-codex", "Version": "0.21.0",
                                  "Openai-Beta": "responses=experimental", "Session_id": "client-session",
                                  "User-Agent": "sdk/1", "Connection": "Keep-Alive", "X-Custom": "one",
                                  "Accept": "application/json", "Accept-Encoding": "gzip"}


async def test_codex_other_clients_send_an_empty_cache_key_whatever_the_rules_say(gateway: MakeClient,
                                                                                 fake_llm: FakeLLM) -> None:
    # Only Claude and Responses clients give cacheHelper an id; for the rest it writes "".
    client = await gateway(config(fake_llm.root))
    await post(client, "/v1/chat/completions", {"model": "gpt-5", "messages": HI, "prompt_cache_key": "k"})
    seen = fake_llm.requests[-1]
    assert seen.body["prompt_cache_key"] == ""
    assert seen.headers["Conversation_id"] == ""
    # With no cache id, Session_id falls back to a fresh UUID and User-Agent to the Codex CLI's.
    assert str(uuid.UUID(seen.headers["Session_id"])) == seen.headers["Session_id"]
    assert seen.headers["User-Agent"] == CODEX_UA
