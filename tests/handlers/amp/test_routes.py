"""The Amp provider aliases (``/api/provider/<provider>/...``): client key check, model list shapes
by provider name, local serving, and the fallback to the Amp upstream.

Facts: CLIProxyAPI v6.7.15 ``internal/api/modules/amp/routes.go:265-334`` (routes, list shapes),
``fallback_handlers.go`` (order of local provider, mapping, upstream), ``proxy.go`` (what the
upstream receives) and ``internal/api/server.go:1041-1071`` (the 401 answers).
"""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest

from tests.fakes.amp_upstream import AmpAnswer, FakeAmp
from tests.fakes.llm_upstream import ANSWER, FakeLLM
from tests.handlers.amp.conftest import MakeAmpGateway
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    CODEX_MODEL,
    COMPAT_MODEL,
    GEMINI_BODY,
    GEMINI_MODEL,
    GIN_JSON,
    JSON,
    chat,
    claude,
    error_body,
    upstreams_config,
)

CORS = {"Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": "*"}
KEYS = "api-keys:\n  - client-key\n"
AUTH = {"Authorization": "Bearer client-key"}
UNKNOWN = "amp-only-model"


def amp_config(llm: FakeLLM, amp: FakeAmp | None = None, extra: str = "") -> str:
    section = "ampcode:\n"
    if amp is not None:
        section += f"  upstream-url: {amp.url}\n  upstream-api-key: amp-secret\n"
    return upstreams_config(llm.root, KEYS + section + extra)


# --- client key ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/provider/openai/models"),
    ("GET", "/api/provider/anthropic/v1/models"),
    ("GET", "/api/provider/google/v1beta/models"),
    ("GET", f"/api/provider/google/v1beta/models/{GEMINI_MODEL}"),
    ("POST", "/api/provider/openai/chat/completions"),
    ("POST", "/api/provider/openai/v1/responses"),
    ("POST", "/api/provider/anthropic/v1/messages"),
    ("POST", f"/api/provider/google/v1beta/models/{GEMINI_MODEL}:generateContent"),
])
async def test_every_alias_wants_the_client_key(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM,
                                                fake_amp: FakeAmp, method: str, path: str) -> None:
    client = await amp_gateway(amp_config(fake_llm, fake_amp))
    resp = await client.request(method, path, json=chat(UNKNOWN))
    assert (resp.status, resp.headers["Content-Type"]) == (401, GIN_JSON)
    assert await resp.read() == b'{"error":"Missing API key"}'
    resp = await client.request(method, path, json=chat(UNKNOWN), headers={"Authorization": "Bearer wrong"})
    assert resp.status == 401
    assert await resp.read() == b'{"error":"Invalid API key"}'
    assert fake_amp.requests == [] and fake_llm.requests == []


# --- model lists ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["", "/v1"])
async def test_model_list_shape_follows_the_provider_name(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM,
                                                          version: str) -> None:
    client = await amp_gateway(amp_config(fake_llm))
    claude_cli = {**AUTH, "User-Agent": "claude-cli/1.0"}
    resp = await client.get(f"/api/provider/Anthropic{version}/models", headers=AUTH)
    assert resp.headers["Content-Type"] == GIN_JSON
    doc = await resp.json()
    assert set(doc) == {"data"} and "object" not in doc["data"][0]["id"]
    assert CLAUDE_MODEL in {m["id"] for m in doc["data"]}
    doc = await (await client.get(f"/api/provider/google{version}/models", headers=AUTH)).json()
    assert set(doc) == {"models"}
    assert f"models/{GEMINI_MODEL}" in {m["name"] for m in doc["models"]}
    # Anything else is the OpenAI list, whatever the User-Agent says.
    for provider in ("openai", "groq"):
        resp = await client.get(f"/api/provider/{provider}{version}/models", headers=claude_cli)
        doc = await resp.json()
        assert doc["object"] == "list"
        assert set(doc["data"][0]) <= {"id", "object", "created", "owned_by"}
    plain = await (await client.get("/v1/models", headers=AUTH)).read()
    assert await (await client.get(f"/api/provider/openai{version}/models", headers=AUTH)).read() == plain


async def test_gemini_list_and_get_under_any_provider(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM) -> None:
    client = await amp_gateway(amp_config(fake_llm))
    listed = await (await client.get("/v1beta/models", headers=AUTH)).read()
    assert await (await client.get("/api/provider/openai/v1beta/models", headers=AUTH)).read() == listed
    one = await client.get(f"/api/provider/x/v1beta/models/{GEMINI_MODEL}", headers=AUTH)
    assert one.status == 200 and (await one.json())["name"] == f"models/{GEMINI_MODEL}"
    missing = await client.get("/api/provider/x/v1beta/models/nope", headers=AUTH)
    assert missing.status == 404
    assert await missing.read() == b'{"error":{"message":"Not Found","type":"not_found"}}'


# --- local serving and the fallback ----------------------------------------------------------------


async def test_a_model_served_locally_never_reaches_amp(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM,
                                                        fake_amp: FakeAmp) -> None:
    client = await amp_gateway(amp_config(fake_llm, fake_amp))
    resp = await client.post("/api/provider/openai/v1/chat/completions", json=chat(COMPAT_MODEL), headers=AUTH)
    assert resp.status == 200
    assert (await resp.json())["choices"][0]["message"]["content"] == ANSWER
    resp = await client.post("/api/provider/anthropic/v1/messages", json=claude(CLAUDE_MODEL), headers=AUTH)
    assert resp.status == 200
    assert fake_amp.requests == []
    assert len(fake_llm.requests) == 2


@pytest.mark.parametrize("path", ["/api/provider/openai/chat/completions", "/api/provider/openai/v1/completions",
                                  "/api/provider/openai/responses", "/api/provider/anthropic/v1/messages",
                                  "/api/provider/anthropic/v1/messages/count_tokens"])
async def test_unknown_model_without_upstream_is_the_handlers_400(amp_gateway: MakeAmpGateway,
                                                                   fake_llm: FakeLLM, path: str) -> None:
    client = await amp_gateway(amp_config(fake_llm))
    resp = await client.post(path, json=claude(UNKNOWN, prompt="hi", input="hi"), headers=AUTH)
    assert (resp.status, resp.headers["Content-Type"]) == (400, JSON)
    assert await resp.read() == error_body(f"unknown provider for model {UNKNOWN}")
    assert fake_llm.requests == []


async def test_unknown_model_goes_to_amp_as_the_client_sent_it(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM,
                                                               fake_amp: FakeAmp) -> None:
    client = await amp_gateway(amp_config(fake_llm, fake_amp))
    raw = b'{"model": "amp-only-model",  "messages": [{"role":"user","content":"hi"}]}'
    resp = await client.post("/api/provider/openai/v1/chat/completions?b=2&key=client-key", data=raw,
                             headers={"X-Api-Key": "client-key", "X-Goog-Api-Key": "g", "Content-Type": JSON,
                                      "User-Agent": "amp-cli", "X-Forwarded-For": "10.0.0.9",
                                      "Anthropic-Beta": "context-1m-2025-08-07,x"})
    assert resp.status == 200
    assert await resp.read() == b'{"amp":"ok"}'
    assert resp.headers["X-Amp-Upstream"] == "yes"
    for name, value in CORS.items():
        assert resp.headers.getall(name) == [value]
    [seen] = fake_amp.requests
    assert (seen.method, seen.path_qs) == ("POST", "/api/provider/openai/v1/chat/completions?b=2")
    assert seen.body == raw
    assert seen.header("Authorization") == "Bearer amp-secret"
    assert seen.header("X-Api-Key") == "amp-secret"
    assert seen.header("X-Goog-Api-Key") is None
    assert seen.header("User-Agent") == "amp-cli"
    assert seen.header("X-Forwarded-For") == "10.0.0.9, 127.0.0.1"
    assert seen.header("Anthropic-Beta") == "context-1m-2025-08-07,x"  # untouched on the Amp path
    assert seen.header("Host") == f"127.0.0.1:{fake_amp.port}"
    assert fake_llm.requests == []


@pytest.mark.parametrize(("query", "forwarded"), [
    ("key=client-key", ""),
    ("key=other&key=client-key&a=1", "a=1&key=other"),  # re-encoded as Go's Values.Encode: sorted
    ("auth_token=client-key&z=%20", "z=+"),
    ("x=1&y=2", "x=1&y=2"),  # no key parameter: the query is left as it came
])
async def test_client_key_in_the_query_is_not_forwarded(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM,
                                                        fake_amp: FakeAmp, query: str, forwarded: str) -> None:
    client = await amp_gateway(amp_config(fake_llm, fake_amp))
    resp = await client.post(f"/api/provider/openai/v1/responses?{query}", json={"model": UNKNOWN},
                             headers=AUTH)
    assert resp.status == 200
    assert fake_amp.requests[0].path_qs == "/api/provider/openai/v1/responses" + (f"?{forwarded}" if forwarded
                                                                                    else "")


async def test_upstream_status_headers_and_stream_pass_through(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM,
                                                               fake_amp: FakeAmp) -> None:
    client = await amp_gateway(amp_config(fake_llm, fake_amp))
    fake_amp.answers.append(AmpAnswer(status=429, body=b'{"error":"slow down"}',
                                      headers={"Content-Type": "application/json", "Retry-After": "7"}))
    resp = await client.post("/api/provider/anthropic/v1/messages", json=claude(UNKNOWN), headers=AUTH)
    assert (resp.status, resp.headers["Retry-After"]) == (429, "7")
    assert await resp.read() == b'{"error":"slow down"}'
    frames = [b"event: a\ndata: {\"n\":1}\n\n", b"event: b\ndata: {\"n\":2}\n\n"]
    fake_amp.answers.append(AmpAnswer(headers={"Content-Type": "text/event-stream"}, chunks=frames))
    resp = await client.post("/api/provider/anthropic/v1/messages", json=claude(UNKNOWN, stream=True),
                             headers=AUTH)
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert await resp.read() == b"".join(frames)


async def test_gzip_without_content_encoding_is_unpacked(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM,
                                                         fake_amp: FakeAmp) -> None:
    client = await amp_gateway(amp_config(fake_llm, fake_amp))
    fake_amp.answers.append(AmpAnswer(body=gzip.compress(b'{"packed":true}'),
                                      headers={"Content-Type": "application/json"}))
    resp = await client.post("/api/provider/openai/v1/chat/completions", json=chat(UNKNOWN), headers=AUTH)
    assert await resp.read() == b'{"packed":true}'
    assert resp.headers["Content-Length"] == "15"
    # Not a 2xx: left as it came.
    fake_amp.answers.append(AmpAnswer(status=500, body=gzip.compress(b"x"), headers={}))
    resp = await client.post("/api/provider/openai/v1/chat/completions", json=chat(UNKNOWN), headers=AUTH)
    assert resp.status == 500 and (await resp.read())[:2] == b"\x1f\x8b"


async def test_unreachable_upstream_is_a_502(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM) -> None:
    config = upstreams_config(fake_llm.root, KEYS + "ampcode:\n  upstream-url: http://127.0.0.1:1\n")
    client = await amp_gateway(config)
    resp = await client.post("/api/provider/openai/v1/chat/completions", json=chat(UNKNOWN), headers=AUTH)
    assert (resp.status, resp.headers["Content-Type"]) == (502, JSON)
    assert await resp.read() == b'{"error":"amp_upstream_proxy_error","message":"Failed to reach Amp upstream"}'


async def test_a_body_without_a_model_is_the_handlers_business(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM,
                                                               fake_amp: FakeAmp) -> None:
    client = await amp_gateway(amp_config(fake_llm, fake_amp))
    resp = await client.post("/api/provider/openai/v1/chat/completions", data=b"{", headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["error"]["message"].startswith("Invalid request: body is not valid JSON")
    resp = await client.post("/api/provider/openai/v1/chat/completions", json={"model": "", "messages": []},
                             headers=AUTH)
    assert resp.status == 400
    assert fake_amp.requests == []


async def test_gemini_alias_names_the_model_with_its_slash(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM,
                                                           fake_amp: FakeAmp) -> None:
    """The legacy reads the model from Gin's catch-all value, leading "/" included, so no local
    provider matches it: with an Amp upstream every Gemini alias call goes there."""
    path = f"/api/provider/google/v1beta/models/{GEMINI_MODEL}:generateContent"
    client = await amp_gateway(amp_config(fake_llm))
    resp = await client.post(path, json=GEMINI_BODY, headers=AUTH)
    assert resp.status == 200 and len(fake_llm.requests) == 1
    client = await amp_gateway(amp_config(fake_llm, fake_amp))
    resp = await client.post(path, json=GEMINI_BODY, headers=AUTH)
    assert await resp.read() == b'{"amp":"ok"}'
    assert fake_amp.requests[0].path_qs == path
    # A bad action is answered by the handler only without an upstream.
    bad = "/api/provider/google/v1beta/models/x:embed"
    resp = await client.post(bad, json=GEMINI_BODY, headers=AUTH)
    assert resp.status == 200 and len(fake_amp.requests) == 2
    client = await amp_gateway(amp_config(fake_llm))
    resp = await client.post(bad, json=GEMINI_BODY, headers=AUTH)
    assert resp.status == 404
    assert await resp.read() == (b'{"error":{"message":"' + bad.encode()
                                 + b' not found.","type":"invalid_request_error"}}')


# --- model mappings ---------------------------------------------------------------------------------


def mapped(llm: FakeLLM, amp: FakeAmp | None, mappings: str, force: bool = False) -> str:
    return amp_config(llm, amp, f"  force-model-mappings: {str(force).lower()}\n  model-mappings:\n{mappings}")


async def test_a_mapped_model_is_served_locally_under_its_requested_name(amp_gateway: MakeAmpGateway,
                                                                        fake_llm: FakeLLM,
                                                                        fake_amp: FakeAmp) -> None:
    config = mapped(fake_llm, fake_amp, f"    - from: AMP-Only-Model\n      to: {CLAUDE_MODEL}\n")
    client = await amp_gateway(config)
    resp = await client.post("/api/provider/anthropic/v1/messages", json=claude(UNKNOWN), headers={
        **AUTH, "Anthropic-Beta": "context-1m-2025-08-07, tools-2024"})
    assert resp.status == 200
    doc = await resp.json()
    assert doc["model"] == UNKNOWN
    [seen] = fake_llm.requests
    assert seen.body["model"] == CLAUDE_MODEL
    assert "context-1m-2025-08-07" not in seen.headers.get("Anthropic-Beta", "")
    assert "tools-2024" in seen.headers["Anthropic-Beta"]
    assert fake_amp.requests == []


async def test_a_mapped_stream_names_the_requested_model(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM) -> None:
    config = mapped(fake_llm, None, f"    - from: ^amp-.*\n      to: {COMPAT_MODEL}\n      regex: true\n")
    client = await amp_gateway(config)
    resp = await client.post("/api/provider/openai/v1/chat/completions", json=chat("amp-x(high)", stream=True),
                             headers=AUTH)
    assert resp.status == 200
    text = (await resp.read()).decode()
    chunks = [orjson.loads(line[6:]) for line in text.split("\n") if line.startswith("data: {")]
    assert chunks and {c["model"] for c in chunks} == {"amp-x(high)"}
    assert fake_llm.requests[0].body["model"] == "upstream-model"


@pytest.mark.parametrize(("target", "force", "served_by"), [
    (CLAUDE_MODEL, False, "sk-codex"),  # a locally served model stays itself without force
    (CLAUDE_MODEL, True, "sk-claude"),  # with force the mapping comes first
    ("nobody-serves-this", True, "sk-codex"),  # a target nobody serves does not count
])
async def test_force_model_mappings(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM, target: str, force: bool,
                                    served_by: str) -> None:
    config = mapped(fake_llm, None, f"    - from: {CODEX_MODEL}\n      to: {target}\n", force)
    client = await amp_gateway(config)
    resp = await client.post("/api/provider/openai/v1/responses", json={"model": CODEX_MODEL, "input": "hi"},
                             headers=AUTH)
    assert resp.status == 200
    assert fake_llm.requests[0].key == served_by


async def test_a_mapping_to_an_unserved_model_falls_to_amp(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM,
                                                           fake_amp: FakeAmp) -> None:
    config = mapped(fake_llm, fake_amp, f"    - from: {UNKNOWN}\n      to: also-unknown\n"
                                        "    - from: '('\n      to: x\n      regex: true\n")
    client = await amp_gateway(config)
    resp = await client.post("/api/provider/openai/chat/completions", json=chat(UNKNOWN), headers=AUTH)
    assert await resp.read() == b'{"amp":"ok"}'
    assert orjson.loads(fake_amp.requests[0].body)["model"] == UNKNOWN


# --- the upstream key --------------------------------------------------------------------------------


def keyed(llm: FakeLLM, amp: FakeAmp, explicit: str = "", per_client: str = "") -> str:
    extra = f"ampcode:\n  upstream-url: {amp.url}\n  upstream-api-key: '{explicit}'\n{per_client}"
    return upstreams_config(llm.root, "api-keys:\n  - client-key\n  - other-key\n" + extra)


async def _sent_key(client: Any, amp: FakeAmp, client_key: str = "client-key") -> str | None:
    await client.post("/api/provider/openai/v1/chat/completions", json=chat(UNKNOWN),
                      headers={"Authorization": f"Bearer {client_key}"})
    seen = amp.requests[-1]
    assert seen.header("X-Api-Key") == (seen.header("Authorization") or "")[7:] or seen.header("X-Api-Key") is None
    return seen.header("X-Api-Key")


async def test_upstream_key_sources_in_order(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM, fake_amp: FakeAmp,
                                             amp_home: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    per_client = ("  upstream-api-keys:\n    - upstream-api-key: ' per-client '\n      api-keys: [client-key]\n"
                  "    - upstream-api-key: second\n      api-keys: [client-key, other-key]\n")
    client = await amp_gateway(keyed(fake_llm, fake_amp, "explicit", per_client))
    assert await _sent_key(client, fake_amp) == "per-client"  # first entry naming the key wins
    assert await _sent_key(client, fake_amp, "other-key") == "second"
    client = await amp_gateway(keyed(fake_llm, fake_amp, " explicit "))
    assert await _sent_key(client, fake_amp) == "explicit"
    monkeypatch.setenv("AMP_API_KEY", " from-env ")
    client = await amp_gateway(keyed(fake_llm, fake_amp))
    assert await _sent_key(client, fake_amp) == "from-env"
    monkeypatch.delenv("AMP_API_KEY")
    secrets = amp_home / ".local" / "share" / "amp" / "secrets.json"
    secrets.parent.mkdir(parents=True)
    secrets.write_text('{"apiKey@https://ampcode.com/": " from-file "}')
    client = await amp_gateway(keyed(fake_llm, fake_amp))
    assert await _sent_key(client, fake_amp) == "from-file"


@pytest.mark.parametrize("content", [None, "not json", '{"apiKey@https://ampcode.com/": 5}', "[]"])
async def test_no_usable_key_still_goes_upstream_without_one(amp_gateway: MakeAmpGateway, fake_llm: FakeLLM,
                                                             fake_amp: FakeAmp, amp_home: Any,
                                                             content: str | None) -> None:
    if content is not None:
        secrets = amp_home / ".local" / "share" / "amp" / "secrets.json"
        secrets.parent.mkdir(parents=True)
        secrets.write_text(content)
    client = await amp_gateway(keyed(fake_llm, fake_amp))
    assert await _sent_key(client, fake_amp) is None
    assert fake_amp.requests[-1].header("Authorization") is None
