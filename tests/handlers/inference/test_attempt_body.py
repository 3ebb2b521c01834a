"""Each attempt translates the client's body as it came: thinking and payload rules edit the
translated body in place, and pairs that pass the client's objects on would otherwise hand the
first attempt's edits to the next credential (the legacy translates a fresh copy of the request
bytes for every attempt)."""

from __future__ import annotations

import orjson

from handlers.inference import protocols
from handlers.inference.pipeline import InferenceCall
from handlers.inference.routes import _chat_body, _completions_chat
from tests.fakes.llm_upstream import FakeLLM, status
from tests.handlers.inference.test_faults import MakeGateway, error_body, freeze_rotation_clock

MODEL = "claude-sonnet-4-5-20250929"


def _config(root: str) -> str:
    # The Claude key and the OpenAI-compatible entry serve the same model; the override rule is
    # for requests sent in the Claude protocol only.
    return (f"claude-api-key:\n  - api-key: sk-claude\n    base-url: {root}\n"
            f"openai-compatibility:\n  - name: compat\n    base-url: {root}/v1\n"
            f"    api-key-entries:\n      - api-key: sk-compat\n"
            f"    models:\n      - name: upstream-model\n        alias: {MODEL}\n"
            "payload:\n  override:\n    - models:\n        - name: \"claude-*\"\n          protocol: claude\n"
            "      params:\n        \"thinking.budget_tokens\": 1024\n")


async def test_a_failed_attempts_rule_edits_do_not_reach_the_next_credential(gateway: MakeGateway,
                                                                             fake_llm: FakeLLM) -> None:
    client = await gateway(_config(fake_llm.root))
    freeze_rotation_clock(client)  # a failed Claude key's 1 s block must outlast the second request
    fake_llm.script("sk-claude", *[status(429, error_body("slow down"))] * 4)
    body = {"model": MODEL, "max_tokens": 32000, "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "enabled", "budget_tokens": 16000}}
    for _ in range(2):  # round-robin: one of the two starts with the Claude key
        resp = await client.post("/v1/messages", json=body)
        assert resp.status == 200
    keys = [r.key for r in fake_llm.requests]
    # [compat, claude, compat] or [claude, compat, compat]: one compat call follows the failed one.
    assert sorted(keys) == ["sk-claude", "sk-compat", "sk-compat"]
    assert keys[keys.index("sk-claude") + 1] == "sk-compat"
    claude_sent = fake_llm.requests[keys.index("sk-claude")].body
    assert claude_sent["thinking"]["budget_tokens"] == 1024  # the rule, on the Claude request
    # Both compat requests carry the client's 16000-token budget translated, not the rule's 1024.
    fresh, after_failure = (r.body for r in fake_llm.requests if r.key == "sk-compat")
    assert after_failure == fresh


def test_the_pristine_body_is_made_again_the_way_the_endpoint_made_it() -> None:
    sent = {"model": "m", "prompt": "say hi", "stream": 1}
    chat = _completions_chat(dict(sent))
    call = InferenceCall(protocols.OPENAI_COMPLETIONS, chat, "m", False, orjson.dumps(sent), derive=_completions_chat)
    chat["messages"][0]["content"] = "edited by an attempt"
    again = call.pristine_body()
    assert again == _completions_chat(dict(sent)) and again["messages"][0]["content"] == "say hi"
    assert again["stream"] is False  # the client's JSON true decides, as on the first attempt

    shaped = {"model": "m", "input": "hello"}  # a Responses-shaped body on the chat endpoint
    call = InferenceCall(protocols.OPENAI_CHAT, _chat_body(dict(shaped)), "m", False, orjson.dumps(shaped),
                         derive=_chat_body)
    assert call.pristine_body() == _chat_body(dict(shaped)) and "messages" in call.pristine_body()

    # Built in process without bytes: a deep copy, not the same objects.
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    call = InferenceCall(protocols.OPENAI_CHAT, body, "m", False)
    copy = call.pristine_body()
    assert copy == body and copy["messages"] is not body["messages"]


async def test_a_body_read_leniently_is_read_so_again_for_the_next_credential(gateway: MakeGateway,
                                                                               fake_llm: FakeLLM) -> None:
    """A lone surrogate escape or bytes that are not UTF-8 take the endpoint's lenient reader; the
    next attempt reads the bytes the same way (it was aiohttp's bare 500 when only orjson tried)."""
    config = (f"claude-api-key:\n  - api-key: k1\n    base-url: {fake_llm.root}\n"
              f"  - api-key: k2\n    base-url: {fake_llm.root}\n")
    for path, raw in [("/v1/completions", b'{"model":"%s","prompt":"a\\ud83d"}'),
                      ("/v1/chat/completions", b'{"model":"%s","messages":[{"role":"user","content":"a\xff"}]}')]:
        client = await gateway(config)  # a fresh gateway: the last request left both cooling down
        fake_llm.requests.clear()
        fake_llm.script("k1", status(429))
        fake_llm.script("k2", status(429))
        resp = await client.post(path, data=raw.replace(b"%s", MODEL.encode()),
                                 headers={"Content-Type": "application/json"})
        # Both credentials were tried, the second with the bytes read again: the last 429 is the answer.
        assert (resp.status, await resp.read()) == (429, b'{"error": {"message": "fake 429"}}')
        assert len(fake_llm.requests) == 2
        texts = [r.body["messages"][0]["content"][0]["text"] for r in fake_llm.requests]
        assert texts == ["a\ufffd", "a\ufffd"]


def test_the_pristine_body_of_a_lenient_read() -> None:
    raw = b'{"model":"m","prompt":"a\\udc00b"}'
    call = InferenceCall(protocols.OPENAI_COMPLETIONS, _completions_chat({"prompt": "x"}), "m", False, raw,
                         derive=_completions_chat)
    assert call.pristine_body()["messages"] == [{"role": "user", "content": "a\ufffdb"}]
