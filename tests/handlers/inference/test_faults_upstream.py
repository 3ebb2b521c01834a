"""Upstream error answers through the native pipeline: pass-through, rotation per status, cooldowns,
``request-retry`` / ``max-retry-interval`` (surface §4-§5, reference B5/B6)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from handlers.rotation.state import NOT_BLOCKED
from tests.fakes.llm_upstream import ANSWER, FakeLLM, status
from tests.handlers.inference.test_client_gone import claude_ids
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    CODEX_MODEL,
    COMPAT_MODEL,
    GEMINI_BODY,
    GEMINI_MODEL,
    JSON,
    MakeGateway,
    chat,
    claude,
    client_calls,
    error_body,
    freeze_rotation_clock,
    responses,
    runtime_of,
    upstreams_config,
)

STATUSES = [400, 401, 403, 404, 429, 500, 503]

CLAUDE_ERROR = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
GOOGLE_ERROR = {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                          "status": "RESOURCE_EXHAUSTED",
                          "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}
OPENAI_ERROR = {"error": {"message": "Rate limit reached for gpt-5", "type": "requests", "param": None,
                          "code": "rate_limit_exceeded"}}

# (model, upstream key, the provider's own error shape, client endpoint + body speaking its protocol)
UPSTREAMS = {
    "claude": (CLAUDE_MODEL, "sk-claude", CLAUDE_ERROR, "/v1/messages", claude(CLAUDE_MODEL, stream=True)),
    "gemini": (GEMINI_MODEL, "sk-gemini", GOOGLE_ERROR,
               f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse", GEMINI_BODY),
    "codex": (CODEX_MODEL, "sk-codex", OPENAI_ERROR, "/v1/responses", responses(CODEX_MODEL, stream=True)),
    "compat": (COMPAT_MODEL, "sk-compat", OPENAI_ERROR, "/v1/chat/completions", chat(COMPAT_MODEL, stream=True)),
}

# Surface §5: what a non-JSON upstream body is wrapped in, per status.
WRAPPED = {
    400: ("invalid_request_error", None),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "insufficient_quota"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("server_error", "internal_server_error"),
    503: ("server_error", "internal_server_error"),
}


@pytest.mark.parametrize("retry_after", [None, "7"])
@pytest.mark.parametrize("code", STATUSES)
@pytest.mark.parametrize("kind", list(UPSTREAMS))
async def test_provider_error_body_passes_through_verbatim(gateway: MakeGateway, fake_llm: FakeLLM, kind: str,
                                                           code: int, retry_after: str | None) -> None:
    """One credential: the client gets the upstream status and body byte for byte, whatever its
    own protocol and whether it asked for a stream; an upstream ``Retry-After`` is not forwarded."""
    model, key, provider_error, native_path, native_body = UPSTREAMS[kind]
    raw = json.dumps(provider_error).encode()
    headers = {"Retry-After": retry_after} if retry_after else {}
    for path, body in [("/v1/chat/completions", chat(model)), (native_path, native_body)]:
        client = await gateway(upstreams_config(fake_llm.root))  # fresh rotation state each time
        fake_llm.script(key, status(code, raw, headers))
        resp = await client.post(path, json=body)
        assert resp.status == code
        assert resp.headers["Content-Type"] == JSON
        assert "Retry-After" not in resp.headers
        assert await resp.read() == raw
    assert [r.key for r in fake_llm.requests] == [key, key]


@pytest.mark.parametrize("code", STATUSES)
async def test_non_json_error_body_is_wrapped_per_status(gateway: MakeGateway, fake_llm: FakeLLM, code: int) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script("sk-gemini", status(code, b"  upstream said no\n"))
    resp = await client.post("/v1/messages", json=claude(GEMINI_MODEL))
    type_, err_code = WRAPPED[code]
    assert resp.status == code
    assert await resp.read() == error_body("upstream said no", type_, err_code)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("code", "body", "message", "type_", "err_code"), [
    # An empty body: the executors' statusErr text (openai_compat_executor.go:379-384).
    (502, b"", "status 502", "server_error", "internal_server_error"),
    (422, b"", "status 422", "invalid_request_error", None),
    (401, b"", "status 401", "authentication_error", "invalid_api_key"),
    # A blank body: WriteErrorResponse keeps Go's status text (handlers.go:664-669).
    (504, b"  \n", "Gateway Timeout", "server_error", "internal_server_error"),
    (418, b" ", "I'm a teapot", "invalid_request_error", None),
    (422, b"\t", "Unprocessable Entity", "invalid_request_error", None),
])
async def test_an_empty_or_blank_error_body_is_answered_as_the_legacy_words_it(
        gateway: MakeGateway, fake_llm: FakeLLM, stream: bool, code: int, body: bytes, message: str, type_: str,
        err_code: str | None) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script("sk-claude", status(code, body))
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL, stream=stream))
    assert resp.status == code and resp.headers["Content-Type"] == JSON
    assert await resp.read() == error_body(message, type_, err_code)


def _two_claude_keys(fake: FakeLLM, extra: str = "") -> str:
    return upstreams_config(fake.root, extra, claude_keys=("k1", "k2"))


@pytest.mark.parametrize("stream", [False, True])
async def test_bad_request_is_never_retried_on_another_credential(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                  stream: bool) -> None:
    client = await gateway(_two_claude_keys(fake_llm, "request-retry: 3\nmax-retry-interval: 30\n"
                                                      "usage-statistics-enabled: true\n"))
    raw = json.dumps({"type": "error", "error": {"type": "invalid_request_error",
                                                 "message": "max_tokens: 999999 > 64000"}}).encode()
    fake_llm.script("k1", status(400, raw))
    fake_llm.script("k2", status(400, raw))
    for _ in range(2):
        resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL, stream=stream))
        assert resp.status == 400 and resp.headers["Content-Type"] == JSON
        assert await resp.read() == raw
    # What each credential keeps: MarkResult's default branch (conductor.go:1376-1377), a failure
    # without a cooldown or suspension, so it stays pickable.
    runtime = runtime_of(client)
    for credential_id in claude_ids(client):
        got = runtime.state.get(credential_id, CLAUDE_MODEL)
        assert (got.last_status, got.next_retry_after, got.quota.exceeded, got.suspend_reason) == (400, None, False, "")
        assert runtime.state.block(credential_id, CLAUDE_MODEL) == NOT_BLOCKED
    # One upstream call per request (round-robin moved on), and no cooldown: the third request
    # goes back to the first credential.
    assert (await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))).status == 200
    first, second, third = (r.key for r in fake_llm.requests)
    assert first != second and third == first
    # One usage record per upstream call: the two refusals failed (trackFailure), the answer served.
    [details] = [m["details"] for api in runtime.usage.snapshot()["apis"].values() for m in api["models"].values()]
    assert [(d["source"], d["failed"], d["tokens"]["total_tokens"]) for d in details] == [
        (first, True, 0), (second, True, 0), (first, False, 16)]


@pytest.mark.parametrize("stream", [False, True])
# Every status of MarkResult's cooldown table (conductor.go:1336-1375): each cools k1 for the model.
@pytest.mark.parametrize("code", [401, 402, 403, 404, 408, 429, 500, 502, 503, 504])
async def test_credential_problem_never_reaches_the_client_while_another_serves(
        gateway: MakeGateway, fake_llm: FakeLLM, code: int, stream: bool) -> None:
    client = await gateway(_two_claude_keys(fake_llm))
    freeze_rotation_clock(client)  # a 429's 1 s block must outlast the requests below
    fake_llm.script("k1", status(code, CLAUDE_ERROR))
    # Round-robin reaches k1 on the first or the second request; either way the client sees k2's answer.
    for _ in range(2):
        before = len(fake_llm.requests)
        resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL, stream=stream))
        assert resp.status == 200
        text = await resp.text()
        assert (ANSWER in text) if not stream else ("Hello" in text and text.endswith("data: [DONE]\n\n"))
        keys = [r.key for r in fake_llm.requests[before:]]
        if "k1" in keys:
            assert keys == ["k1", "k2"]
            break
        assert keys == ["k2"]
    else:
        pytest.fail("k1 was never tried")
    # k1 is cooling down (30 min, 12 h, 1 s or 1 min by status): not tried again.
    before = len(fake_llm.requests)
    for _ in range(3):
        assert (await client.post("/v1/messages", json=claude(CLAUDE_MODEL))).status == 200
    assert [r.key for r in fake_llm.requests[before:]] == ["k2"] * 3


async def test_every_credential_failing_for_itself_ends_in_auth_unavailable(gateway: MakeGateway,
                                                                            fake_llm: FakeLLM) -> None:
    client = await gateway(_two_claude_keys(fake_llm))
    denied = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    fake_llm.script("k1", status(401, denied))
    fake_llm.script("k2", status(401, denied))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    # The pass ends with the last credential's answer, verbatim.
    assert resp.status == 401 and await resp.json() == denied
    # Both are now blocked for a non-quota reason: the legacy's 500 auth_unavailable, no upstream call.
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert resp.status == 500 and resp.headers["Content-Type"] == JSON
    assert await resp.read() == error_body("auth_unavailable: no auth available", "server_error",
                                           "internal_server_error")
    assert len(fake_llm.requests) == 2


async def test_all_credentials_cooling_down_answer_429_with_retry_after(gateway: MakeGateway,
                                                                        fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root, gemini_keys=("g1", "g2")))
    freeze_rotation_clock(client)  # the 1 s blocks must outlast the five requests below
    raw = json.dumps(GOOGLE_ERROR).encode()
    fake_llm.script("g1", status(429, raw, {"Retry-After": "120"}))
    fake_llm.script("g2", status(429, raw, {"Retry-After": "120"}))
    resp = await client.post(f"/v1beta/models/{GEMINI_MODEL}:generateContent", json=GEMINI_BODY)
    assert resp.status == 429 and await resp.read() == raw and "Retry-After" not in resp.headers
    assert len(fake_llm.requests) == 2
    # Both cool for the first quota step (1 s; the API-key Gemini executor ignores RetryInfo and the
    # header, as the legacy does). Every protocol now gets the same local answer.
    cooldown = orjson.dumps({"error": {"code": "model_cooldown",
                                       "message": f"All credentials for model {GEMINI_MODEL} are cooling down",
                                       "model": GEMINI_MODEL, "reset_seconds": 1, "reset_time": "1s"}})
    for path, body in [(f"/v1beta/models/{GEMINI_MODEL}:generateContent", GEMINI_BODY),
                       (f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=json", GEMINI_BODY),
                       ("/v1/messages", claude(GEMINI_MODEL, stream=True)),
                       ("/v1/chat/completions", chat(GEMINI_MODEL)),
                       ("/v1/responses", responses(GEMINI_MODEL, stream=True))]:
        resp = await client.post(path, json=body)
        assert resp.status == 429, path
        assert resp.headers["Retry-After"] == "1"
        assert resp.headers["Content-Type"] == JSON
        assert await resp.read() == cooldown
    assert len(fake_llm.requests) == 2


async def test_request_retry_waits_for_a_cooldown_within_max_retry_interval(gateway: MakeGateway,
                                                                            fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root, "request-retry: 1\nmax-retry-interval: 5\n"))
    fake_llm.script("sk-claude", status(429, CLAUDE_ERROR))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    # The only credential cooled for 1 s; the second pass ran after that wait and succeeded.
    assert resp.status == 200
    assert (await resp.json())["content"] == [{"type": "text", "text": ANSWER}]
    assert [r.key for r in fake_llm.requests] == ["sk-claude", "sk-claude"]


@pytest.mark.parametrize(("extra", "code"), [
    ("request-retry: 1\nmax-retry-interval: 0\n", 429),  # waiting disabled
    ("request-retry: 0\nmax-retry-interval: 5\n", 429),  # no second pass
    ("request-retry: 2\nmax-retry-interval: 5\n", 401),  # a 30-minute cooldown is beyond the interval
    ("request-retry: 2\nmax-retry-interval: 5\n", 400),  # a bad request sets no cooldown at all
])
async def test_no_retry_pass_without_a_cooldown_ending_in_time(gateway: MakeGateway, fake_llm: FakeLLM, extra: str,
                                                               code: int) -> None:
    client = await gateway(upstreams_config(fake_llm.root, extra))
    raw = json.dumps(CLAUDE_ERROR).encode()
    fake_llm.script("sk-claude", status(code, raw))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    assert resp.status == code and await resp.read() == raw
    assert len(fake_llm.requests) == 1


GEMINI_CLI_BODY = {"model": GEMINI_MODEL, "project": "p", "request": GEMINI_BODY}


async def test_gemini_cli_stream_has_headers_before_the_upstream_answers(gateway: MakeGateway,
                                                                         fake_llm: FakeLLM) -> None:
    """``/v1internal:streamGenerateContent`` without ``alt`` commits SSE headers up front (surface §6),
    so an upstream error becomes an in-stream frame under a 200; with ``alt`` it is plain JSON."""
    raw = json.dumps(GOOGLE_ERROR).encode()
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script("sk-gemini", status(429, raw))
    resp = await client.post("/v1internal:streamGenerateContent", json=GEMINI_CLI_BODY)
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    assert await resp.read() == b"event: error\ndata: " + raw + b"\n\n"
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script("sk-gemini", status(429, raw))
    resp = await client.post("/v1internal:streamGenerateContent?alt=json", json=GEMINI_CLI_BODY)
    assert resp.status == 429 and resp.headers["Content-Type"] == JSON
    assert await resp.read() == raw
    # The legacy CLI handler forwards without peeking (gemini-cli_handlers.go:138-162), so even the
    # model lookup error is the terminal frame under a 200 when the SSE headers went out up front.
    resp = await client.post("/v1internal:streamGenerateContent", json=dict(GEMINI_CLI_BODY, model="nope"))
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    assert resp.headers["Cache-Control"] == "no-cache" and resp.headers["Connection"] == "keep-alive"
    assert await resp.read() == b"event: error\ndata: " + error_body("unknown provider for model nope") + b"\n\n"
    resp = await client.post("/v1internal:streamGenerateContent?alt=json", json=dict(GEMINI_CLI_BODY, model="nope"))
    assert resp.status == 400 and resp.headers["Content-Type"] == JSON
    assert await resp.read() == error_body("unknown provider for model nope")
    assert [r.path for r in fake_llm.requests] == [f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent"] * 2
    # The CLI handler frames its answer by ``alt`` but executes with none (gemini-cli_handlers.go:161).
    assert [r.query for r in fake_llm.requests] == [{"alt": "sse"}] * 2


async def test_gemini_cli_alt_never_reaches_the_upstream(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1internal:generateContent?alt=json", json=GEMINI_CLI_BODY)
    assert resp.status == 200
    resp = await client.post("/v1beta/models/" + GEMINI_MODEL + ":generateContent?alt=json", json=GEMINI_BODY)
    assert resp.status == 200
    assert [(r.path, r.query) for r in fake_llm.requests] == [
        (f"/v1beta/models/{GEMINI_MODEL}:generateContent", {}),
        (f"/v1beta/models/{GEMINI_MODEL}:generateContent", {"$alt": "json"}),
    ]


async def test_an_alt_pair_go_drops_leaves_the_dollar_alt_in_charge(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """GetAlt (handlers.go:215-226) falls back to ``$alt`` when ``c.GetQuery("alt")`` finds no
    ``alt``, and Go's query parser drops a pair holding ``;`` (url.ParseQuery): such an ``alt``
    is absent, so ``$alt=json`` makes the stream the raw relay, no SSE framing or keep-alives,
    and goes upstream as ``$alt=json``, exactly as ``?alt=json`` does."""
    client = await gateway(upstreams_config(fake_llm.root, "streaming:\n  keepalive-seconds: 1\n"))
    stream = f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent"
    answers = []
    for query in ("alt=json", "alt=json;v=1&$alt=json"):
        resp = await client.post(f"{stream}?{query}", json=GEMINI_BODY)
        assert resp.status == 200 and resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        answers.append(await resp.read())
    assert answers[1] == answers[0] and answers[0].startswith(b'[{"candidates"')
    assert [r.query for r in fake_llm.requests] == [{"$alt": "json"}] * 2


def every_client(model: str) -> list[tuple[str, dict[str, Any]]]:
    """Each client endpoint, stream and not, for ``model`` (token counts only where the pair asks
    the upstream: Codex and OpenAI-compatible credentials count locally)."""
    counted = model in (CLAUDE_MODEL, GEMINI_MODEL)
    return [(path, body) for path, body in client_calls(model)
            if counted or not path.endswith(("/count_tokens", ":countTokens"))]


@pytest.mark.parametrize("kind", list(UPSTREAMS))
async def test_every_client_gets_the_provider_error_as_it_came(gateway: MakeGateway, fake_llm: FakeLLM,
                                                               kind: str) -> None:
    """The matrix of issue 4: each upstream status with its provider's own JSON error and a
    ``Retry-After``, on every client endpoint: the status and body byte for byte, JSON, the header
    left behind (WriteErrorResponse applies only the cooldown error's own headers, handlers.go:652-662)."""
    model, key, provider_error, _, _ = UPSTREAMS[kind]
    raw = json.dumps(provider_error).encode()
    cells = every_client(model)
    for code in STATUSES:
        for path, body in cells:
            client = await gateway(upstreams_config(fake_llm.root))  # no cooldown from the last one
            fake_llm.script(key, status(code, raw, {"Retry-After": "7"}))
            resp = await client.post(path, json=body)
            assert (resp.status, resp.headers["Content-Type"]) == (code, JSON), (code, path)
            assert "Retry-After" not in resp.headers
            assert await resp.read() == raw
            await client.close()
    assert [r.key for r in fake_llm.requests] == [key] * (len(STATUSES) * len(cells))
