"""Keep-alives through the native pipeline (surface §6): SSE comments on a fixed period, on
streams after the first chunk (the Gemini CLI stream: once its upstream stream is open; never on
Gemini ``alt=json``), blank lines on the non-stream endpoints that have them (not chat
completions, not the Gemini CLI). The gated upstream from ``test_faults_stream.py`` waits until the test has
seen what it needs, so no assertion depends on timing beyond the settings' own one-second unit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web

from quotio_gateway.appkeys import CONFIG_STORE
from tests.fakes.loopback import serve_on_loopback
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    GEMINI_BODY,
    GEMINI_MODEL,
    JSON,
    MakeGateway,
    chat,
    claude,
    completions,
    error_body,
    responses,
)
from tests.handlers.inference.test_faults_stream import (
    GEMINI_STREAM,
    SSE,
    GatedUpstream,
    _event,
    claude_frames,
    gated_config,
    gemini_chunk,
    read_until,
)


@pytest.mark.parametrize(("path", "body", "first"), [
    ("/v1/messages", claude(CLAUDE_MODEL, stream=True), b"event: content_block_delta"),
    ("/v1/chat/completions", chat(CLAUDE_MODEL, stream=True), b'"content":"Hello"'),
    ("/v1/responses", responses(CLAUDE_MODEL, stream=True), b"response.output_text.delta"),
    ("/v1/completions", completions(CLAUDE_MODEL, stream=True), b'"text":"Hello"'),
    (GEMINI_STREAM, GEMINI_BODY, b'"text": "Hello"'),
    (f"{GEMINI_STREAM}?alt=sse", GEMINI_BODY, b'"text": "Hello"'),
])
async def test_stream_keepalive_comments_between_chunks(gateway: MakeGateway, gated: GatedUpstream, path: str,
                                                        body: dict[str, Any], first: bytes) -> None:
    client = await gateway(gated_config(gated, "streaming:\n  keepalive-seconds: 1\n"))
    resp = await client.post(path, json=body)
    assert resp.status == 200
    # The upstream goes on only once the client has seen a keep-alive.
    seen = await read_until(resp, b": keep-alive\n\n")
    gated.gate.set()
    rest = await resp.read()
    assert first in seen.split(b": keep-alive\n\n")[0]  # keep-alives start after the first chunk
    assert b"later" in rest


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/responses", "/v1/completions",
                                  f"/v1beta/models/{GEMINI_MODEL}:generateContent"])
async def test_nonstream_keepalive_newlines_then_the_answer(gateway: MakeGateway, gated: GatedUpstream,
                                                            path: str) -> None:
    client = await gateway(gated_config(gated, "nonstream-keepalive-interval: 1\n"))
    body = {"/v1/messages": claude(CLAUDE_MODEL), "/v1/responses": responses(CLAUDE_MODEL),
            "/v1/completions": completions(CLAUDE_MODEL)}.get(path, GEMINI_BODY)
    resp = await client.post(path, json=body)
    # The first newline committed 200 and JSON before the upstream answered.
    assert resp.status == 200 and resp.headers["Content-Type"] == JSON
    assert await resp.content.readany() == b"\n"
    gated.gate.set()
    rest = (await resp.read()).lstrip(b"\n")
    assert b"Hello later" in rest
    json.loads(rest)


async def test_nonstream_keepalive_then_an_error_keeps_status_200(gateway: MakeGateway, gated: GatedUpstream) -> None:
    client = await gateway(gated_config(gated, "nonstream-keepalive-interval: 1\n"))
    gated.answer = (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    assert resp.status == 200
    assert await resp.content.readany() == b"\n"
    gated.gate.set()
    rest = (await resp.read()).lstrip(b"\n")
    assert rest == b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'


@pytest.mark.parametrize(("path", "body", "start"), [
    ("/v1/chat/completions", chat(CLAUDE_MODEL), b'{"id":"msg_gated"'),
    ("/v1internal:generateContent", {"model": GEMINI_MODEL, "project": "p", "request": GEMINI_BODY},
     b'{"response": {"candidates": ['),
    ("/v1/messages/count_tokens", claude(CLAUDE_MODEL), b'{"input_tokens": 3}'),
    (f"/v1beta/models/{GEMINI_MODEL}:countTokens", GEMINI_BODY, b'{"totalTokens":3,'),
])
async def test_chat_completions_gemini_cli_and_token_counts_get_no_nonstream_keepalive(
        gateway: MakeGateway, gated: GatedUpstream, path: str, body: dict[str, Any], start: bytes) -> None:
    """Surface §6: the chat endpoint, the Gemini CLI's generateContent and both token counts have
    no blank-line keep-alive (openai_handlers.go:423-436, gemini-cli_handlers.go:168-182,
    code_handlers.go:93-122 and gemini_handlers.go:259-270 never start one). A Claude request
    alongside (which has one) shows the time went by: once it got two newlines, a ticker on the
    quiet request, started before that request reached the upstream, would have fired."""
    client = await gateway(gated_config(gated, "nonstream-keepalive-interval: 1\n"))
    pending = asyncio.ensure_future(client.post("/v1/messages", json=claude(CLAUDE_MODEL)))
    quiet = asyncio.ensure_future(client.post(path, json=body))
    for _ in range(2):
        await gated.arrived.get()  # both requests are waiting at the upstream
    ticking = await pending  # its headers came with its first "\n"
    newlines = b""
    while newlines.count(b"\n") < 2:
        newlines += await ticking.content.readany()
    assert not quiet.done()  # nothing, not even headers, went out on the quiet request
    gated.gate.set()
    resp = await quiet
    assert resp.status == 200
    assert (await resp.read()).startswith(start)
    assert (await ticking.read()).lstrip(b"\n").startswith(b'{"id"')


async def test_gemini_alt_json_stream_gets_no_keepalive(gateway: MakeGateway, gated: GatedUpstream) -> None:
    """Keep-alive comments would corrupt the raw JSON array of ``alt=json``; the ``alt=sse`` stream
    running beside it shows two intervals went by."""
    client = await gateway(gated_config(gated, "streaming:\n  keepalive-seconds: 1\n"))
    sse = await client.post(f"{GEMINI_STREAM}?alt=sse", json=GEMINI_BODY)
    raw = await client.post(f"{GEMINI_STREAM}?alt=json", json=GEMINI_BODY)
    assert sse.headers["Content-Type"] == SSE and raw.headers["Content-Type"] == "text/plain; charset=utf-8"
    seen = await read_until(sse, b"data: ")
    while seen.count(b": keep-alive\n\n") < 2:
        chunk = await sse.content.readany()
        assert chunk
        seen += chunk
    gated.gate.set()
    body = await raw.read()
    assert b"keep-alive" not in body
    assert json.loads(body) == [gemini_chunk("Hello"), gemini_chunk(" later", finish=True)]
    assert (await sse.read()).endswith(b"\n\n")


class _ScriptedUpstream:
    """A loopback upstream on a free port: ``routes`` adds the handlers, ``release`` lets any
    handler still waiting finish before the server goes."""

    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.root = ""

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def release(self) -> None:
        return None

    async def start(self) -> None:
        app = web.Application()
        self.routes(app)
        self.runner, self.root = await serve_on_loopback(app)

    async def stop(self) -> None:
        self.release()
        if self.runner is not None:
            await self.runner.cleanup()


class _SilentThenBroken(_ScriptedUpstream):
    """A Gemini upstream whose first stream opens, sends nothing for 1.5 s and drops the
    connection; later streams answer normally (``gemini_chunk`` frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1beta/models/{action}", self.gemini)

    async def gemini(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.requests += 1
        response = web.StreamResponse(headers={"Content-Type": SSE})
        await response.prepare(request)
        if self.requests == 1:
            await asyncio.sleep(1.5)
            assert request.transport is not None
            request.transport.abort()
            return response
        for chunk in (gemini_chunk("Hello"), gemini_chunk(" later", finish=True)):
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await response.write_eof()
        return response


async def _cli_stream(gateway: MakeGateway, upstream: _ScriptedUpstream, streaming: str) -> bytes:
    """A Gemini CLI stream through one Gemini key on ``upstream``: its 200 SSE answer, read whole."""
    await upstream.start()
    try:
        client = await gateway(f"gemini-api-key:\n  - api-key: sk-g\n    base-url: {upstream.root}\n{streaming}")
        body = {"model": GEMINI_MODEL, "project": "p", "request": GEMINI_BODY}
        resp = await client.post("/v1internal:streamGenerateContent", json=body)
        assert resp.status == 200 and resp.headers["Content-Type"] == SSE
        return await resp.read()
    finally:
        await upstream.stop()


async def test_gemini_cli_keepalive_before_the_first_chunk_leaves_bootstrap_retry_on(gateway: MakeGateway) -> None:
    """The Gemini CLI stream commits its headers up front, so a keep-alive can go out before any
    upstream chunk; the legacy's bootstrap window counts payload only (handlers.go ``sentPayload``),
    so a stream that breaks after a keep-alive but before its first chunk is still re-issued."""
    upstream = _SilentThenBroken()
    text = await _cli_stream(gateway, upstream, "streaming:\n  keepalive-seconds: 1\n  bootstrap-retries: 1\n")
    assert upstream.requests == 2
    frames = text.split(b"\n\n")
    assert frames[0] == b": keep-alive" and frames[-1] == b""
    answers = [json.loads(frame.removeprefix(b"data: ")) for frame in frames[1:-1]]
    assert [a["response"]["candidates"][0]["content"]["parts"] for a in answers] == [
        [{"text": "Hello"}], [{"text": " later"}]]
    assert answers[-1]["response"]["candidates"][0]["finishReason"] == "STOP"


async def test_gemini_cli_keepalive_then_an_early_break_ends_with_the_error_frame(gateway: MakeGateway) -> None:
    """Without bootstrap retries, the same early break is ForwardStream's terminal error: under
    the 200 and SSE head the keep-alive already sent, ``event: error`` with the OpenAI-shaped body
    (gemini-cli_handlers.go:209-227), and nothing after it."""
    upstream = _SilentThenBroken()
    text = await _cli_stream(gateway, upstream, "streaming:\n  keepalive-seconds: 1\n")
    assert upstream.requests == 1
    assert text == (b": keep-alive\n\nevent: error\ndata: "
                    + error_body("upstream connection broke mid-body", "server_error", "internal_server_error")
                    + b"\n\n")


class _HeadHeldBack(_ScriptedUpstream):
    """A Gemini upstream whose first stream request gets no response head until ``go``; every
    later one gets its head at once and its chunks after ``go``."""

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()
        self.arrived: asyncio.Queue[int] = asyncio.Queue()
        self.requests = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1beta/models/{action}", self.gemini)

    def release(self) -> None:
        self.go.set()

    async def gemini(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.requests += 1
        number = self.requests
        self.arrived.put_nowait(number)
        if number == 1:
            await self.go.wait()
        response = web.StreamResponse(headers={"Content-Type": SSE})
        await response.prepare(request)
        await self.go.wait()
        for chunk in (gemini_chunk("Hello"), gemini_chunk(" later", finish=True)):
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await response.write_eof()
        return response


def claude_text_delta(text: str) -> bytes:
    return _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": text}})


def _cli_parts(raw: bytes) -> list[Any]:
    frames = raw.split(b"\n\n")
    assert frames[-1] == b""
    return [json.loads(f.removeprefix(b"data: "))["response"]["candidates"][0]["content"]["parts"]
            for f in frames[:-1]]


async def test_gemini_cli_keepalives_start_once_the_upstream_stream_is_open(gateway: MakeGateway) -> None:
    """The Gemini CLI handler's ForwardStream, and with it the keep-alive ticker, starts only once
    ExecuteStreamWithAuthManager has returned, i.e. once an upstream answered with its head
    (gemini-cli_handlers.go:160-162, conductor.go ExecuteStream): a client whose upstream has not
    answered yet gets nothing, though the SSE headers were set up front. The second request,
    whose upstream answered at once and which started later, shows an interval went by."""
    upstream = _HeadHeldBack()
    await upstream.start()
    try:
        client = await gateway(f"gemini-api-key:\n  - api-key: sk-g\n    base-url: {upstream.root}\n"
                               "streaming:\n  keepalive-seconds: 1\n")
        body = {"model": GEMINI_MODEL, "project": "p", "request": GEMINI_BODY}
        held = asyncio.ensure_future(client.post("/v1internal:streamGenerateContent", json=body))
        assert await upstream.arrived.get() == 1
        witness = await client.post("/v1internal:streamGenerateContent", json=body)
        assert await upstream.arrived.get() == 2
        assert await read_until(witness, b": keep-alive\n\n") == b": keep-alive\n\n"
        assert not held.done()  # no head either: nothing was written on the held request
        upstream.go.set()
        resp = await held
        assert resp.status == 200 and resp.headers["Content-Type"] == SSE
        # Its stream opened and ended at once: no interval passed since, so no keep-alive.
        assert _cli_parts(await resp.read()) == [[{"text": "Hello"}], [{"text": " later"}]]
        rest = (await witness.read()).replace(b": keep-alive\n\n", b"")
        assert _cli_parts(rest) == [[{"text": "Hello"}], [{"text": " later"}]]
    finally:
        await upstream.stop()


class _DripUpstream(_ScriptedUpstream):
    """A Claude upstream whose stream sends its opening events and ``Hello``, then one ``.`` text
    delta per item put on ``drips`` (``None`` ends the message)."""

    def __init__(self) -> None:
        super().__init__()
        self.drips: asyncio.Queue[str | None] = asyncio.Queue()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self.messages)

    def release(self) -> None:
        self.drips.put_nowait(None)

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        frames = claude_frames(body["model"])
        response = web.StreamResponse(headers={"Content-Type": SSE})
        await response.prepare(request)
        for item in frames[:3]:
            await response.write(item)
        while (text := await self.drips.get()) is not None:
            await response.write(claude_text_delta(text))
        for item in frames[4:]:
            await response.write(item)
        await response.write_eof()
        return response


async def test_stream_keepalives_tick_on_a_fixed_period_that_chunks_do_not_reset(gateway: MakeGateway) -> None:
    """ForwardStream's ticker (stream_forwarder.go:56-62, 116-118) is a plain time.Ticker: a chunk
    does not push the next keep-alive back, so one comes every interval even while chunks arrive
    more often than that. Here a chunk comes every 0.3 s against a 1 s interval; a ticker reset by
    each chunk would never fire."""
    upstream = _DripUpstream()
    await upstream.start()
    try:
        client = await gateway(f"claude-api-key:\n  - api-key: sk-d\n    base-url: {upstream.root}\n"
                               "streaming:\n  keepalive-seconds: 1\n")
        resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
        seen = await read_until(resp, b'"text": "Hello"')
        for drip in range(1, 21):
            if b": keep-alive\n\n" in seen:
                break
            upstream.drips.put_nowait(".")
            while seen.count(b'"text": "."') < drip:
                chunk = await resp.content.readany()
                assert chunk
                seen += chunk
            await asyncio.sleep(0.3)
        assert b": keep-alive\n\n" in seen
        upstream.drips.put_nowait(None)
        seen += await resp.read()
    finally:
        await upstream.stop()
    # The comment came between two chunks, each frame whole.
    head, tail = seen.split(b": keep-alive\n\n", 1)
    assert head.endswith(b"\n\n") and tail.startswith(b"event: content_block_delta\n")
    assert seen.endswith(b'event: message_stop\ndata: {"type": "message_stop"}\n\n')


@pytest.mark.parametrize("value", [None, "0", "-1", "0.5"])
async def test_stream_keepalive_off_when_absent_zero_negative_or_a_fraction(
        gateway: MakeGateway, gated: GatedUpstream, value: str | None) -> None:
    """StreamingKeepAliveInterval (handlers.go:107-116): absent is the default 0, and ``<= 0`` is
    off; yaml.v3 truncates a float into the int field, so 0.5 is 0. The non-stream request beside
    it, with its own 1 s newlines, shows two intervals went by while the stream sat after its
    first chunks."""
    setting = "" if value is None else f"streaming:\n  keepalive-seconds: {value}\n"
    client = await gateway(gated_config(gated, setting + "nonstream-keepalive-interval: 1\n"))
    stream = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    seen = await read_until(stream, b"Hello")
    ticking = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    newlines = b""
    while newlines.count(b"\n") < 2:
        newlines += await ticking.content.readany()
    gated.gate.set()
    seen += await stream.read()
    assert b"keep-alive" not in seen
    assert seen.endswith(b'event: message_stop\ndata: {"type": "message_stop"}\n\n')
    assert (await ticking.read()).lstrip(b"\n").startswith(b'{"id"')


@pytest.mark.parametrize("value", [None, "0", "-1", "0.5"])
async def test_nonstream_keepalive_off_when_absent_zero_negative_or_a_fraction(
        gateway: MakeGateway, gated: GatedUpstream, value: str | None) -> None:
    """NonStreamingKeepAliveInterval (handlers.go:120-129): absent is 0, and ``<= 0`` is off. The
    stream beside it, with its own 1 s keep-alives, shows two intervals went by."""
    setting = "" if value is None else f"nonstream-keepalive-interval: {value}\n"
    client = await gateway(gated_config(gated, setting + "streaming:\n  keepalive-seconds: 1\n"))
    quiet = asyncio.ensure_future(client.post("/v1/messages", json=claude(CLAUDE_MODEL)))
    await gated.arrived.get()
    stream = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    seen = await read_until(stream, b"Hello")
    while seen.count(b": keep-alive\n\n") < 2:
        chunk = await stream.content.readany()
        assert chunk
        seen += chunk
    assert not quiet.done()  # not even a head went out
    gated.gate.set()
    resp = await quiet
    assert resp.status == 200 and resp.headers["Content-Type"] == JSON
    assert (await resp.read()).startswith(b'{"id": "msg_gated", "type": "message"')
    await stream.read()


BROKE = error_body("upstream connection broke mid-body", "server_error", "internal_server_error")


@pytest.mark.parametrize(("path", "body", "end"), [
    ("/v1/chat/completions", chat(CLAUDE_MODEL, stream=True), b"data: " + BROKE + b"\n\n"),
    ("/v1/completions", completions(CLAUDE_MODEL, stream=True), b"data: " + BROKE + b"\n\n"),
    ("/v1/responses", responses(CLAUDE_MODEL, stream=True), b"\nevent: error\ndata: " + BROKE + b"\n\n"),
    ("/v1/messages", claude(CLAUDE_MODEL, stream=True),
     b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":'
     b'"upstream connection broke mid-body"}}\n\n'),
])
async def test_a_stream_broken_after_keepalives_ends_with_its_error_frame_under_200(
        gateway: MakeGateway, gated: GatedUpstream, path: str, body: dict[str, Any], end: bytes) -> None:
    """Keep-alives go out only once the 200 and SSE head are committed, so a failure after them
    can no longer be a JSON error with its status: ForwardStream writes the protocol's terminal
    frame right after the last keep-alive, with no done marker (stream_forwarder.go:96-113;
    openai_handlers.go:653-667, openai_responses_handlers.go:193-207, code_handlers.go:274-287)."""
    gated.broken = True
    client = await gateway(gated_config(gated, "streaming:\n  keepalive-seconds: 1\n"))
    resp = await client.post(path, json=body)
    seen = await read_until(resp, b": keep-alive\n\n")
    gated.gate.set()
    seen += await resp.read()
    assert resp.status == 200 and resp.headers["Content-Type"] == SSE
    assert seen.endswith(b": keep-alive\n\n" + end) and seen.count(end) == 1
    assert b"Hello" in seen.split(b": keep-alive\n\n")[0]
    assert gated.requests == 1


async def test_keepalive_settings_follow_a_config_reload(gateway: MakeGateway, gated: GatedUpstream) -> None:
    """The handlers read ``streaming.keepalive-seconds`` and ``nonstream-keepalive-interval`` from
    the config of the moment (handlers.go:107-129 on ``h.Cfg``, which UpdateClients swaps on every
    reload, server.go:980): a config edited to set them applies to the next requests without a
    restart, while a request already waiting keeps what it started with."""
    config = gated_config(gated)
    client = await gateway(config)
    waiting = asyncio.ensure_future(client.post("/v1/messages", json=claude(CLAUDE_MODEL)))
    await gated.arrived.get()
    store = client.server.app[CONFIG_STORE]
    await store.save_raw((config + "streaming:\n  keepalive-seconds: 1\nnonstream-keepalive-interval: 1\n").encode())
    stream = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    # Bounded: under the old settings neither would ever come while the upstream waits.
    seen = await asyncio.wait_for(read_until(stream, b": keep-alive\n\n"), 10)
    ticking = await asyncio.wait_for(client.post("/v1/messages", json=claude(CLAUDE_MODEL)), 10)
    assert ticking.status == 200 and ticking.headers["Content-Type"] == JSON
    assert await ticking.content.readany() == b"\n"
    assert not waiting.done()  # more than an interval went by, and not even its head went out
    gated.gate.set()
    seen += await stream.read()
    assert b"Hello" in seen.split(b": keep-alive\n\n")[0]
    assert seen.endswith(b'event: message_stop\ndata: {"type": "message_stop"}\n\n')
    assert json.loads(await ticking.read())["content"] == [{"type": "text", "text": "Hello later"}]
    assert (await (await waiting).read()).startswith(b'{"id": "msg_gated", "type": "message"')
