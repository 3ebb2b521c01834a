"""What a client gets for an upstream's non-2xx answer, per client protocol, upstream kind, status
and kind of body (``WriteErrorResponse`` / ``BuildErrorResponseBody``, handlers.go:55-104 and
647-694; each executor's ``statusErr{code, msg: string(body)}``, e.g. claude_executor.go:166).

The JSON pass-through of the provider's own error shape is in ``test_faults_upstream.py``; this
module covers the bodies that are wrapped (plain text, HTML pages, empty, blank, bytes that are not
UTF-8) and the JSON the legacy still passes through that a Python parser may not take (scalars,
deep nesting, bytes that are not UTF-8 inside a string). Every answer is compared byte for byte.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.llm_upstream import FakeLLM, status
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
    completions,
    freeze_rotation_clock,
    responses,
    upstreams_config,
)

# (model, upstream key) per API-key upstream kind.
KINDS = {"claude": (CLAUDE_MODEL, "sk-claude"), "gemini": (GEMINI_MODEL, "sk-gemini"),
         "codex": (CODEX_MODEL, "sk-codex"), "compat": (COMPAT_MODEL, "sk-compat")}

HTML = (b"<!DOCTYPE html>\n<html><head><title>502 Bad &amp; Gateway</title></head>"
        b"<body>cloudflare</body></html>")
# Go's json.Marshal escapes <, > and & (handlers.go:94); summarizeErrorBody's title is for the log only.
HTML_MESSAGE = (b"\\u003c!DOCTYPE html\\u003e\\n\\u003chtml\\u003e\\u003chead\\u003e\\u003ctitle\\u003e502 Bad "
                b"\\u0026amp; Gateway\\u003c/title\\u003e\\u003c/head\\u003e\\u003cbody\\u003ecloudflare"
                b"\\u003c/body\\u003e\\u003c/html\\u003e")
# A Latin-1 page and a cut UTF-8 sequence: Go writes \ufffd for each byte that is not UTF-8.
NOT_UTF8 = b"caf\xe9 \xe2\x82 ok"
NOT_UTF8_MESSAGE = b"caf\\ufffd \\ufffd\\ufffd ok"

# status -> (type, code) of the wrapped body (handlers.go:70-90).
TABLE = {401: (b"authentication_error", b"invalid_api_key"), 429: (b"rate_limit_error", b"rate_limit_exceeded"),
         503: (b"server_error", b"internal_server_error"), 400: (b"invalid_request_error", None),
         403: (b"permission_error", b"insufficient_quota"), 404: (b"invalid_request_error", b"model_not_found"),
         500: (b"server_error", b"internal_server_error")}
STATUS_TEXT = {401: b"Unauthorized", 429: b"Too Many Requests", 503: b"Service Unavailable", 400: b"Bad Request",
               403: b"Forbidden", 404: b"Not Found", 500: b"Internal Server Error"}


def wrapped(code: int, message: bytes) -> bytes:
    """The legacy's wrapped error body, ``message`` already JSON-escaped."""
    type_, err_code = TABLE[code]
    tail = b',"code":"' + err_code + b'"' if err_code else b""
    return b'{"error":{"message":"' + message + b'","type":"' + type_ + b'"' + tail + b"}}"


def request_for(protocol: str, model: str, stream: bool) -> tuple[str, dict[str, Any]]:
    """The client endpoint and body of one protocol for ``model``."""
    if protocol == "chat":
        return "/v1/chat/completions", chat(model, stream=stream)
    if protocol == "completions":
        return "/v1/completions", completions(model, stream=stream)
    if protocol == "responses":
        return "/v1/responses", responses(model, stream=stream)
    if protocol == "claude":
        return "/v1/messages", claude(model, stream=stream)
    if protocol == "gemini":
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"/v1beta/models/{model}:{action}", GEMINI_BODY
    assert protocol == "gemini-cli"
    action = "streamGenerateContent" if stream else "generateContent"
    return f"/v1internal:{action}", {"model": model, "project": "p", "request": GEMINI_BODY}


# (body the upstream sends, its Content-Type, the JSON-escaped message; None: the status's own text)
BODY_KINDS = {
    "html": (HTML, "text/html; charset=utf-8", HTML_MESSAGE),
    "not-utf8": (NOT_UTF8, "text/plain; charset=iso-8859-1", NOT_UTF8_MESSAGE),
    "empty": (b"", "text/plain", None),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("protocol", ["chat", "completions", "responses", "claude", "gemini", "gemini-cli"])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_non_json_error_body_is_wrapped_for_every_client_and_upstream(
        gateway: MakeGateway, fake_llm: FakeLLM, kind: str, protocol: str, stream: bool) -> None:
    """Status and ``application/json`` as the upstream's answer went, the body wrapped per the
    status table; an upstream ``Retry-After`` stays behind. The Gemini CLI stream has its head out
    before the upstream answers (gemini-cli_handlers.go:138-162): the same body comes as its
    ``event: error`` frame under a 200."""
    model, key = KINDS[kind]
    for code, retry_after in [(401, None), (429, "7"), (503, None)]:
        for body, content_type, message in BODY_KINDS.values():
            client = await gateway(upstreams_config(fake_llm.root))  # no cooldown from the last one
            headers = {"Content-Type": content_type, **({"Retry-After": retry_after} if retry_after else {})}
            fake_llm.script(key, status(code, body, headers))
            path, payload = request_for(protocol, model, stream)
            resp = await client.post(path, json=payload)
            expected = wrapped(code, message if message is not None else b"status %d" % code)
            if protocol == "gemini-cli" and stream:
                assert (resp.status, resp.headers["Content-Type"]) == (200, "text/event-stream")
                expected = b"event: error\ndata: " + expected + b"\n\n"
            else:
                assert (resp.status, resp.headers["Content-Type"]) == (code, JSON)
            assert "Retry-After" not in resp.headers
            assert await resp.read() == expected, (code, body)
            await client.close()
    assert [r.key for r in fake_llm.requests] == [key] * 9


@pytest.mark.parametrize("code", sorted(TABLE))
@pytest.mark.parametrize(("body", "message"), [
    pytest.param(b"  upstream said no\n", b"upstream said no", id="text"),  # trimmed (handlers.go:664-669)
    # Blank to Go's TrimSpace (U+2028 is a space there): the status text.
    pytest.param(b"\xe2\x80\xa8 \t\n", None, id="blank"),
    pytest.param(b"", None, id="empty"),
    pytest.param(b"a\x01b\x7f\x1f\xe2\x80\xa8c", b"a\\u0001b\x7f\\u001f\\u2028c", id="controls"),
    pytest.param(HTML, HTML_MESSAGE, id="html"),
    pytest.param(NOT_UTF8, NOT_UTF8_MESSAGE, id="not-utf8"),
])
async def test_the_wrapped_message_for_each_status(gateway: MakeGateway, fake_llm: FakeLLM, code: int, body: bytes,
                                                   message: bytes | None) -> None:
    if message is None:
        message = STATUS_TEXT[code] if body else b"status %d" % code
    for stream in (False, True):
        client = await gateway(upstreams_config(fake_llm.root))
        fake_llm.script("sk-claude", status(code, body, {"Content-Type": "text/plain"}))
        resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=stream))
        assert (resp.status, resp.headers["Content-Type"]) == (code, JSON)
        assert await resp.read() == wrapped(code, message)
        await client.close()


GEMINI_CLI_STREAM = "/v1internal:streamGenerateContent"


@pytest.mark.parametrize(("body", "message"), [
    # The stream handlers' WriteTerminalError does not trim the error text (gemini-cli_handlers.go:217-221).
    pytest.param(b"  upstream said no\n", b"  upstream said no\\n", id="text"),
    pytest.param(b" \n", b"Too Many Requests", id="blank"),
    pytest.param(b"", b"status 429", id="empty"),
    pytest.param(NOT_UTF8, NOT_UTF8_MESSAGE, id="not-utf8"),
])
async def test_the_gemini_cli_stream_frame_keeps_the_text_untrimmed(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                    body: bytes, message: bytes) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script("sk-gemini", status(429, body, {"Content-Type": "text/plain"}))
    resp = await client.post(GEMINI_CLI_STREAM, json={"model": GEMINI_MODEL, "project": "p", "request": GEMINI_BODY})
    assert (resp.status, resp.headers["Content-Type"]) == (200, "text/event-stream")
    assert await resp.read() == b"event: error\ndata: " + wrapped(429, message) + b"\n\n"


# JSON by Go's json.Valid that goes back as the upstream sent it, less the spaces around it.
DEEP = b"[" * 1500 + b"{}" + b"]" * 1500  # past Python's recursive decoder, within Go's 10000 levels
VERBATIM = [
    pytest.param(b'"quoted"', b'"quoted"', id="string"),
    pytest.param(b" 42\n", b"42", id="number"),
    pytest.param(b'{"error":{"message":"caf\xe9 \xe2\x82"}}', b'{"error":{"message":"caf\xe9 \xe2\x82"}}',
                 id="not-utf8-inside"),
    pytest.param(b'\n{"error": {"message": "a < b & c"}}  ', b'{"error": {"message": "a < b & c"}}', id="spaced"),
    pytest.param(DEEP, DEEP, id="deep"),
]


@pytest.mark.parametrize(("protocol", "stream"), [("chat", False), ("responses", True), ("gemini", True),
                                                  ("gemini-cli", False)])
@pytest.mark.parametrize(("body", "expected"), VERBATIM)
async def test_json_that_go_accepts_goes_back_as_it_came(gateway: MakeGateway, fake_llm: FakeLLM, protocol: str,
                                                         stream: bool, body: bytes, expected: bytes) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script("sk-gemini", status(500, body))
    path, payload = request_for(protocol, GEMINI_MODEL, stream)
    resp = await client.post(path, json=payload)
    assert (resp.status, resp.headers["Content-Type"]) == (500, JSON)
    assert await resp.read() == expected


async def test_json_nested_past_gos_limit_is_wrapped(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """encoding/json's scanner refuses a document nested deeper than 10000 levels."""
    client = await gateway(upstreams_config(fake_llm.root))
    deepest = b"[" * 10000 + b"]" * 10000
    too_deep = b"[" * 10001 + b"]" * 10001
    fake_llm.script("sk-claude", status(500, deepest), status(500, too_deep))
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert (resp.status, await resp.read()) == (500, deepest)
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert (resp.status, await resp.read()) == (500, wrapped(500, too_deep))


async def test_the_gemini_cli_stream_frames_the_cooldown_answer_without_its_headers(gateway: MakeGateway,
                                                                                     fake_llm: FakeLLM) -> None:
    """Every credential cooling down: the cooldown error's ``Retry-After`` is one of its ``Addon``
    headers, which only WriteErrorResponse applies (handlers.go:652-662); the CLI stream's
    WriteTerminalError writes the body alone, under the 200 its head already promised."""
    client = await gateway(upstreams_config(fake_llm.root))
    freeze_rotation_clock(client)  # the 1 s block must outlast the two requests after the 429
    fake_llm.script("sk-gemini", status(429, b"quota"))
    body = {"model": GEMINI_MODEL, "project": "p", "request": GEMINI_BODY}
    resp = await client.post(GEMINI_CLI_STREAM, json=body)
    assert await resp.read() == b"event: error\ndata: " + wrapped(429, b"quota") + b"\n\n"
    cooldown = (b'{"error":{"code":"model_cooldown","message":"All credentials for model ' + GEMINI_MODEL.encode()
                + b' are cooling down","model":"' + GEMINI_MODEL.encode() + b'","reset_seconds":1,"reset_time":"1s"}}')
    resp = await client.post(GEMINI_CLI_STREAM, json=body)
    assert (resp.status, resp.headers["Content-Type"]) == (200, "text/event-stream")
    assert "Retry-After" not in resp.headers
    assert await resp.read() == b"event: error\ndata: " + cooldown + b"\n\n"
    resp = await client.post("/v1internal:generateContent", json=body)
    assert (resp.status, resp.headers["Content-Type"], resp.headers["Retry-After"]) == (429, JSON, "1")
    assert await resp.read() == cooldown
    assert len(fake_llm.requests) == 1
