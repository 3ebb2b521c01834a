"""The native client endpoints' own answers (before the pipeline): Gemini action parsing, the
``/v1internal`` loopback rule, and which bodies count as JSON. Real sockets, scripted upstream.

Facts: CLIProxyAPI v6.7.15 ``sdk/api/handlers/gemini/gemini_handlers.go:125-160`` and
``gemini-cli_handlers.go:51-60`` (Gin ``c.JSON`` answers), Go's JSON readers for the bodies.
"""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from tests.fakes.llm_upstream import ANSWER, FakeLLM
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    GEMINI_MODEL,
    JSON,
    MakeGateway,
    error_body,
    upstreams_config,
)

GIN_JSON = "application/json; charset=utf-8"


@pytest.mark.parametrize(("action", "shown"), [
    (GEMINI_MODEL, GEMINI_MODEL),  # no method at all
    (f"{GEMINI_MODEL}:generateContent:x", f"{GEMINI_MODEL}:generateContent:x"),
    (f"{GEMINI_MODEL}:embedContent", f"{GEMINI_MODEL}:embedContent"),  # compatibility.md row 5
    # Gin's c.JSON escapes HTML characters of the (decoded) path.
    ("a%3Cb%3E%26", "a\\u003cb\\u003e\\u0026"),
])
async def test_gemini_action_not_found_is_gins_json(gateway: MakeGateway, fake_llm: FakeLLM, action: str,
                                                    shown: str) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(f"/v1beta/models/{action}", json={"contents": []})
    assert resp.status == 404
    assert resp.headers["Content-Type"] == GIN_JSON
    assert await resp.read() == (b'{"error":{"message":"/v1beta/models/' + shown.encode()
                                 + b' not found.","type":"invalid_request_error"}}')
    assert fake_llm.requests == []


async def test_gemini_action_keeps_a_doubled_slash_in_the_model(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """The legacy trims the one "/" Gin puts before the action; a second one is part of the model."""
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(f"/v1beta/models//{GEMINI_MODEL}:generateContent", json={"contents": []})
    assert resp.status == 400
    assert resp.headers["Content-Type"] == JSON
    assert await resp.read() == error_body(f"unknown provider for model /{GEMINI_MODEL}")
    assert fake_llm.requests == []


CLI_BODY = {"model": GEMINI_MODEL, "project": "p",
            "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}}


@pytest.mark.parametrize("method", ["generateContent", "streamGenerateContent", "loadCodeAssist"])
async def test_v1internal_refuses_a_caller_that_is_not_127_0_0_1(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                 method: str) -> None:
    """The legacy checks ``RemoteAddr`` for the "127.0.0.1:" prefix, so another loopback address
    (here 127.0.0.2) is refused too, before the body is read or anything is sent upstream."""
    client = await gateway(upstreams_config(fake_llm.root))
    url = client.make_url(f"/v1internal:{method}")
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as session, \
            session.post(url, json=CLI_BODY) as resp:
        assert resp.status == 403
        assert resp.headers["Content-Type"] == GIN_JSON
        assert await resp.read() == (b'{"error":{"message":"CLI reply only allow local access",'
                                     b'"type":"forbidden"}}')
    assert fake_llm.requests == []
    # From 127.0.0.1 the same request is served, without any client key.
    resp = await client.post("/v1internal:generateContent", json=CLI_BODY)
    assert resp.status == 200
    assert (await resp.json())["response"]["candidates"][0]["content"]["parts"] == [{"text": ANSWER}]


# A JS client cutting a string between the two halves of an emoji writes a lone surrogate escape.
LONE_SURROGATE = b'"cut \\ud83d here"'


def claude_raw(text: bytes) -> bytes:
    return (b'{"model": "' + CLAUDE_MODEL.encode() + b'", "max_tokens": 64, '
            b'"messages": [{"role": "user", "content": ' + text + b'}]}')


@pytest.mark.parametrize(("text", "sent"), [
    (LONE_SURROGATE, "cut \ufffd here"),
    (b'"low \\udc00 first"', "low \ufffd first"),
    (b'"bytes \xff\xfe end"', "bytes \ufffd\ufffd end"),
])
async def test_bodies_go_accepts_are_served_with_the_replacement_character(gateway: MakeGateway,
                                                                          fake_llm: FakeLLM, text: bytes,
                                                                          sent: str) -> None:
    """Go reads these bodies (its decoder and gjson turn the bad text into U+FFFD); they are valid
    JSON grammar, so they are not the "body is not JSON" deviation either."""
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/messages", data=claude_raw(text), headers={"Content-Type": JSON})
    assert resp.status == 200
    assert (await resp.json())["content"] == [{"type": "text", "text": ANSWER}]
    [upstream] = fake_llm.requests
    assert upstream.body["messages"] == [{"role": "user", "content": sent}]
    # Through a translation too: an OpenAI chat client on a Gemini upstream.
    chat_raw = (b'{"model": "' + GEMINI_MODEL.encode() + b'", "messages": [{"role": "user", "content": '
                + text + b'}]}')
    resp = await client.post("/v1/chat/completions", data=chat_raw, headers={"Content-Type": JSON})
    assert resp.status == 200
    assert (await resp.json())["choices"][0]["message"]["content"] == ANSWER
    assert fake_llm.requests[1].body["contents"] == [{"role": "user", "parts": [{"text": sent}]}]


@pytest.mark.parametrize("raw", [
    claude_raw(b'"x"')[:-1] + b', "temperature": NaN}',
    claude_raw(b'"x"')[:-1] + b', "temperature": Infinity}',
    claude_raw(LONE_SURROGATE)[:-2],  # cut short: still not JSON, whatever its strings hold
])
async def test_what_go_refuses_stays_refused(gateway: MakeGateway, fake_llm: FakeLLM, raw: bytes) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/messages", data=raw, headers={"Content-Type": JSON})
    assert resp.status == 400
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    message = orjson.loads(await resp.read())["error"]["message"]
    assert message.startswith("Invalid request: body is not valid JSON (")
    assert fake_llm.requests == []


def prefixed_config(root: str, force: bool) -> str:
    return (f"force-model-prefix: {'true' if force else 'false'}\n"
            f"claude-api-key:\n  - api-key: sk-claude\n    base-url: {root}\n    prefix: teamA\n"
            f"gemini-api-key:\n  - api-key: sk-gemini\n    base-url: {root}\n    prefix: /teamB/\n")


@pytest.mark.parametrize("force", [False, True])
async def test_prefixed_models_are_served_with_the_prefix_stripped(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                   force: bool) -> None:
    """service.go:1038-1078 registers ``<prefix>/<id>`` (and the bare ID unless forced);
    conductor.go:896-909 strips the credential's prefix before the upstream call. The Gemini path
    carries the prefix inside the action."""
    client = await gateway(prefixed_config(fake_llm.root, force))
    resp = await client.post("/v1/messages", json={"model": f"teamA/{CLAUDE_MODEL}", "max_tokens": 8,
                                                   "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status == 200
    resp = await client.post(f"/v1beta/models/teamB/{GEMINI_MODEL}:generateContent",
                             json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert resp.status == 200
    assert (await resp.json())["candidates"][0]["content"]["parts"] == [{"text": ANSWER}]
    assert [(r.path, r.key) for r in fake_llm.requests] == [
        ("/v1/messages", "sk-claude"), (f"/v1beta/models/{GEMINI_MODEL}:generateContent", "sk-gemini")]
    assert fake_llm.requests[0].body["model"] == CLAUDE_MODEL
    resp = await client.get("/v1/models")
    listed = {m["id"] for m in (await resp.json())["data"]}
    assert {f"teamA/{CLAUDE_MODEL}", f"teamB/{GEMINI_MODEL}"} <= listed
    assert (CLAUDE_MODEL in listed) is not force and (GEMINI_MODEL in listed) is not force
    resp = await client.post(f"/v1beta/models/{GEMINI_MODEL}:generateContent",
                             json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    if force:
        assert resp.status == 400
        assert await resp.read() == error_body(f"unknown provider for model {GEMINI_MODEL}")
        assert len(fake_llm.requests) == 2
    else:
        assert resp.status == 200
        assert fake_llm.requests[2].path == f"/v1beta/models/{GEMINI_MODEL}:generateContent"


async def test_a_number_beyond_float_range_is_still_json(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """``1e400`` is JSON grammar (Go's gjson reads past it); orjson alone refuses it."""
    client = await gateway(upstreams_config(fake_llm.root))
    raw = claude_raw(b'"hi"')[:-1] + b', "metadata": {"n": 1e400}}'
    resp = await client.post("/v1/messages", data=raw, headers={"Content-Type": JSON})
    assert resp.status == 200
    assert (await resp.json())["content"] == [{"type": "text", "text": ANSWER}]
    assert len(fake_llm.requests) == 1
