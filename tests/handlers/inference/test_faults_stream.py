"""Stream faults through the native pipeline: an upstream ending early, sending malformed SSE,
stalling past a timeout or resetting; the client going away; bootstrap retries; the upstream
timeout settings (surface §6, reference B8). The gated upstream below lets a test decide when the
upstream goes on, so nothing here depends on how fast the machine is; keep-alive tests using it
are in ``test_faults_keepalive.py``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web

from handlers.inference.runtime import upstream_timeouts
from handlers.providers import Timeouts
from quotio_gateway.appkeys import CONFIG_STORE
from tests.fakes.llm_upstream import ANSWER_WORDS, FakeLLM, Fault
from tests.fakes.loopback import serve_on_loopback
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
    completions,
    error_body,
    responses,
    runtime_of,
    upstreams_config,
)

SSE = "text/event-stream"
GEMINI_STREAM = f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent"


def frame(text: str, path: str) -> bytes:
    """The in-stream error frame each client protocol ends a broken stream with (surface §6)."""
    if path == "/v1/messages":
        return (b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":'
                + json.dumps(text).encode() + b"}}\n\n")
    body = error_body(text, "server_error", "internal_server_error")
    if path == "/v1/responses" or path.startswith("/v1beta/"):
        return b"event: error\ndata: " + body + b"\n\n"
    return b"data: " + body + b"\n\n"


# (client path, body, upstream key, frames the fake sends before the fault, text of the end)
CLAUDE_UP = [("/v1/chat/completions", chat(CLAUDE_MODEL, stream=True)),
             ("/v1/completions", completions(CLAUDE_MODEL, stream=True)),
             ("/v1/responses", responses(CLAUDE_MODEL, stream=True)),
             ("/v1/messages", claude(CLAUDE_MODEL, stream=True))]
GEMINI_UP = [(GEMINI_STREAM, GEMINI_BODY), (f"{GEMINI_STREAM}?alt=sse", GEMINI_BODY)]


def other_clients(model: str) -> list[tuple[str, dict[str, Any]]]:
    """The stream endpoints of every client protocol for ``model``, Gemini's SSE form included."""
    return [(path, body) for path, body in client_calls(model)
            if body.get("stream") is True or path.endswith(":streamGenerateContent")]


CASES = ([(p, b, "sk-claude", "message_stop") for p, b in CLAUDE_UP]
         + [(p, b, "sk-gemini", "a finishReason") for p, b in GEMINI_UP]
         + [("/v1/chat/completions", chat(COMPAT_MODEL, stream=True), "sk-compat", "[DONE]")]
         # Every other client on the same upstreams: each pair's own early-end check.
         + [(p, b, "sk-claude", "message_stop") for p, b in other_clients(CLAUDE_MODEL)[4:]]
         + [(p, b, "sk-gemini", "a finishReason") for p, b in other_clients(GEMINI_MODEL)[:4]]
         + [(p, b, "sk-compat", "[DONE]") for p, b in other_clients(COMPAT_MODEL)[1:]])


@pytest.mark.parametrize(("path", "body", "key", "terminal"), CASES)
@pytest.mark.parametrize("kind", ["cut", "malformed", "reset"])
async def test_broken_upstream_stream_ends_with_the_protocol_error_frame(
        gateway: MakeGateway, fake_llm: FakeLLM, kind: str, path: str, body: dict[str, Any], key: str,
        terminal: str) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    # Far enough in that the client already has payload: the 200 and SSE headers are out.
    fake_llm.script(key, Fault(kind, after=3 if key != "sk-gemini" else 1))
    resp = await client.post(path, json=body)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == SSE
    raw = await resp.read()
    # A line that is not JSON is passed over (or relayed, same protocol) as the legacy does; here
    # the stream ends right after it, so what the client is told is that it ended early.
    text = {"cut": f"upstream stream closed before {terminal}",
            "malformed": f"upstream stream closed before {terminal}",
            "reset": "upstream connection broke mid-body"}[kind]
    end = frame(text, path.split("?")[0])
    # The frame is last (no [DONE], message_stop or response.completed after it) and comes once.
    assert raw.endswith(end) and raw.count(end) == 1
    assert b"Hello" in raw[: -len(end)]
    assert len(fake_llm.requests) == 1


CODEX_EARLY_END = "stream error: stream disconnected before completion: stream closed before response.completed"


@pytest.mark.parametrize(("path", "body"), other_clients(CODEX_MODEL))
@pytest.mark.parametrize("kind", ["cut", "malformed", "reset"])
async def test_a_broken_codex_stream_ends_with_the_protocol_error_frame(
        gateway: MakeGateway, fake_llm: FakeLLM, kind: str, path: str, body: dict[str, Any]) -> None:
    """The Codex executor names a stream without ``response.completed`` as its non-stream call
    does (codex_executor.go:182), a 408 whose wrapped body is an ``invalid_request_error``
    (handlers.go:70-90); a reset is the status-less 500 of any upstream."""
    client = await gateway(upstreams_config(fake_llm.root))
    # created, in_progress, output_item.added, content_part.added, the first word: then the fault.
    fake_llm.script("sk-codex", Fault(kind, after=5))
    resp = await client.post(path, json=body)
    assert (resp.status, resp.headers["Content-Type"]) == (200, SSE)
    raw = await resp.read()
    if kind == "reset":
        end = frame("upstream connection broke mid-body", path)
    elif path == "/v1/messages":
        end = frame(CODEX_EARLY_END, path)
    else:
        end = (b"data: " if path.endswith("completions") else b"event: error\ndata: ") + error_body(CODEX_EARLY_END)
        end += b"\n\n"
    assert raw.endswith(end) and raw.count(end) == 1
    assert b"Hello" in raw[: -len(end)]
    assert len(fake_llm.requests) == 1


# (client path, body, upstream key, whether the line reaches the client as it came, the stream's last frame)
GARBAGE = [
    ("/v1/chat/completions", chat(CLAUDE_MODEL, stream=True), "sk-claude", False, b"data: [DONE]\n\n"),
    ("/v1/messages", claude(CLAUDE_MODEL, stream=True), "sk-claude", True,
     b'event: message_stop\ndata: {"type": "message_stop"}\n\n'),
    ("/v1/chat/completions", chat(COMPAT_MODEL, stream=True), "sk-compat", True, b"data: [DONE]\n\n"),
    (f"{GEMINI_STREAM}?alt=sse", GEMINI_BODY, "sk-gemini", True, None),
]


@pytest.mark.parametrize(("path", "body", "key", "relayed", "last"), GARBAGE)
async def test_a_line_that_is_not_json_mid_stream_is_passed_over_and_the_stream_goes_on(
        gateway: MakeGateway, fake_llm: FakeLLM, path: str, body: dict[str, Any], key: str, relayed: bool,
        last: bytes | None) -> None:
    """As the legacy reads it with gjson: a same-protocol relay passes the line on as it came (the
    Gemini executor any payload starting with ``{``), a translating pair skips it; either way the
    answer goes on to its end, with no error frame."""
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script(key, Fault("garbage", after=1))
    resp = await client.post(path, json=body)
    assert resp.status == 200
    raw = await resp.read()
    assert (b"data: {not json\n\n" in raw) is relayed
    assert b"error" not in raw
    assert b"Hello" in raw
    if last is not None:
        assert raw.endswith(last)
    else:
        assert b'"finishReason"' in raw.rsplit(b"data: ", 1)[-1]
    assert len(fake_llm.requests) == 1


async def test_codex_stream_cut_before_any_payload_is_a_plain_408(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """The Codex executor names an early end 408 (as the legacy's does); nothing reached the client
    yet, so it is a JSON error with that status."""
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script("sk-codex", Fault("cut", after=2))
    resp = await client.post("/v1/chat/completions", json=chat(CODEX_MODEL, stream=True))
    assert resp.status == 408 and resp.headers["Content-Type"] == JSON
    assert await resp.read() == error_body("stream error: stream disconnected before completion: stream closed "
                                           "before response.completed")


@pytest.mark.parametrize("kind", ["cut", "malformed", "reset"])
async def test_gemini_alt_json_stream_is_relayed_raw_to_the_break(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                  kind: str) -> None:
    """``alt=json`` relays raw bytes (no SSE, no terminal event to check), as the legacy does: a
    cut ends as the upstream ended, garbage is relayed, a reset appends the bare error JSON."""
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script("sk-gemini", Fault(kind, after=1))
    resp = await client.post(f"{GEMINI_STREAM}?alt=json", json=GEMINI_BODY)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    raw = await resp.read()
    assert raw.startswith(b'[{"candidates"')
    ending = {"cut": b'"responseI', "malformed": b"data: {not json\n\n",
              "reset": error_body("upstream connection broke mid-body", "server_error", "internal_server_error")}
    assert raw.endswith(ending[kind])


# --- a Claude upstream the test steers ------------------------------------------------------


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def claude_frames(model: str) -> list[bytes]:
    return [
        _event("message_start", {"type": "message_start", "message": {
            "id": "msg_gated", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 0}}}),
        _event("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}}),
        _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": "Hello"}}),
        _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": " later"}}),
        _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                 "usage": {"output_tokens": 2}}),
        _event("message_stop", {"type": "message_stop"}),
    ]


def gemini_chunk(text: str, finish: bool = False) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "modelVersion": GEMINI_MODEL}


class GatedUpstream:
    """Answers Claude ``POST /v1/messages`` and Gemini ``POST /v1beta/models/<m>:<action>``.

    A Claude stream sends ``before`` frames, a Gemini stream one chunk, then each waits for ``gate``.

    ``answer`` replaces the non-stream answer (after the gate) with a status and JSON body.
    ``broken``: a Claude stream drops the connection at the gate instead of going on.
    ``cancelled`` is set when the gateway drops the connection while the handler waits or writes.
    Token counts (Claude ``count_tokens``, Gemini ``countTokens``) answer after the gate too.
    """

    def __init__(self, before: int = 3) -> None:
        self.before = before
        self.gate = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.answer: tuple[int, dict[str, Any]] | None = None
        self.broken = False
        self.requests = 0
        self.arrived: asyncio.Queue[None] = asyncio.Queue()  # one item per request received
        self.runner: web.AppRunner | None = None
        self.root = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_post("/v1/messages/count_tokens", self.claude_count)
        app.router.add_post("/v1beta/models/{action}", self.gemini)
        self.runner, self.root = await serve_on_loopback(app, handler_cancellation=True)

    async def stop(self) -> None:
        self.gate.set()
        if self.runner is not None:
            await self.runner.cleanup()

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests += 1
        self.arrived.put_nowait(None)
        try:
            if not body.get("stream"):
                await self.gate.wait()
                if self.answer is not None:
                    return web.json_response(self.answer[1], status=self.answer[0])
                return web.json_response({"id": "msg_gated", "type": "message", "role": "assistant",
                                          "model": body["model"], "content": [{"type": "text", "text": "Hello later"}],
                                          "stop_reason": "end_turn", "stop_sequence": None,
                                          "usage": {"input_tokens": 3, "output_tokens": 2}})
            response = web.StreamResponse(headers={"Content-Type": SSE})
            await response.prepare(request)
            for index, item in enumerate(claude_frames(body["model"])):
                if index == self.before:
                    await self.gate.wait()
                    if self.broken:
                        assert request.transport is not None
                        request.transport.abort()
                        return response
                await response.write(item)
            await response.write_eof()
            return response
        except (asyncio.CancelledError, ConnectionResetError):
            self.cancelled.set()
            raise

    async def claude_count(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.requests += 1
        self.arrived.put_nowait(None)
        await self.gate.wait()
        return web.json_response({"input_tokens": 3})

    async def gemini(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.requests += 1
        self.arrived.put_nowait(None)
        chunks = [gemini_chunk("Hello"), gemini_chunk(" later", finish=True)]
        if request.match_info["action"].endswith(":countTokens"):
            await self.gate.wait()
            return web.json_response({"totalTokens": 3})
        if request.match_info["action"].endswith(":generateContent"):
            await self.gate.wait()
            return web.json_response(gemini_chunk("Hello later", finish=True))
        sse = request.query.get("alt") == "sse"
        pieces = ([b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] if sse else
                  [b"[" + json.dumps(chunks[0]).encode(), b"," + json.dumps(chunks[1]).encode() + b"]"])
        response = web.StreamResponse(headers={"Content-Type": SSE if sse else JSON})
        await response.prepare(request)
        await response.write(pieces[0])
        await self.gate.wait()
        await response.write(pieces[1])
        await response.write_eof()
        return response


def gated_config(upstream: GatedUpstream, extra: str = "") -> str:
    return (f"claude-api-key:\n  - api-key: sk-gated\n    base-url: {upstream.root}\n"
            f"gemini-api-key:\n  - api-key: sk-gated-g\n    base-url: {upstream.root}\n{extra}")


async def read_until(resp: Any, needle: bytes) -> bytes:
    seen = b""
    while needle not in seen:
        chunk = await resp.content.readany()
        assert chunk, f"stream ended before {needle!r}: {seen!r}"
        seen += chunk
    return seen


async def test_stall_mid_stream_past_the_idle_timeout(gateway: MakeGateway, gated: GatedUpstream) -> None:
    config = gated_config(gated, "gateway:\n  upstream-timeouts: {idle: 0.2}\n")
    client = await gateway(config)
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert resp.status == 200
    raw = await resp.read()
    assert raw.count(b"event: content_block_delta") == 1
    assert raw.endswith(frame("upstream sent nothing for 0.2s", "/v1/messages"))
    # The gateway dropped the upstream connection instead of leaving it generating.
    await asyncio.wait_for(gated.cancelled.wait(), 5)


async def test_no_answer_past_the_first_byte_timeout(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    # 0.5 s: the served request at the end must start within it on a loaded test machine too.
    extra = "gateway:\n  upstream-timeouts: {first-byte: 0.5, connect: 5}\n"
    client = await gateway(upstreams_config(fake_llm.root, extra))
    expected = error_body(f"{fake_llm.root}/v1/messages sent no response within 0.5s", "server_error",
                          "internal_server_error")
    for stream in (False, True):
        fake_llm.script("sk-claude", Fault("stall", seconds=3))
        resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=stream))
        # No byte reached the client, so even the stream request gets a plain JSON 500.
        assert resp.status == 500 and resp.headers["Content-Type"] == JSON
        assert await resp.read() == expected
    # A timeout says nothing against the credential: the next request is served by it.
    assert (await client.post("/v1/messages", json=claude(CLAUDE_MODEL))).status == 200
    assert [r.key for r in fake_llm.requests] == ["sk-claude"] * 3


async def test_stalled_credential_fails_over_to_the_next(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    extra = "gateway:\n  upstream-timeouts: {first-byte: 0.5}\n"  # the served requests start within it
    client = await gateway(upstreams_config(fake_llm.root, extra, claude_keys=("k1", "k2")))
    fake_llm.script("k1", Fault("stall", seconds=3))
    fake_llm.script("k2", Fault("stall", seconds=3))
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL, stream=True))
    assert resp.status == 500
    assert len(fake_llm.requests) == 2  # both tried within the one request
    fake_llm.script("k1", Fault("stall", seconds=3))
    for _ in range(2):
        resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL, stream=True))
        assert resp.status == 200 and (await resp.read()).endswith(b"data: [DONE]\n\n")


async def test_unreachable_upstream_is_a_500(gateway: MakeGateway, gated: GatedUpstream) -> None:
    config = gated_config(gated)
    await gated.stop()  # nothing listens on that port any more
    client = await gateway(config)
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert resp.status == 500 and resp.headers["Content-Type"] == JSON
    answer = await resp.json()
    assert answer["error"]["message"].startswith(f"connect to {gated.root}/v1/messages failed: ")
    assert answer["error"]["type"] == "server_error"


def _pipeline_tasks() -> list[asyncio.Task[Any]]:
    """Tasks the pipeline spawns beside a request (keep-alive tickers; the request itself runs in
    aiohttp's handler task) or a request handler still running."""
    names = ("_tick", "_handle_request", "_serve_stream", "_serve_stream_with")
    return [t for t in asyncio.all_tasks() if not t.done() and getattr(t.get_coro(), "__name__", "") in names]


@pytest.mark.parametrize(("path", "body"), [("/v1/messages", claude(CLAUDE_MODEL, stream=True)),
                                            ("/v1/chat/completions", chat(CLAUDE_MODEL, stream=True))])
async def test_client_disconnect_mid_stream_cancels_upstream_and_leaks_no_task(
        gateway: MakeGateway, gated: GatedUpstream, path: str, body: dict[str, Any]) -> None:
    # A keep-alive ticker is running when the client leaves: it must go with the request.
    client = await gateway(gated_config(gated, "streaming:\n  keepalive-seconds: 30\n"))
    before = set(_pipeline_tasks())
    resp = await client.post(path, json=body)
    assert resp.status == 200
    await read_until(resp, b"Hello")
    resp.close()  # the client hangs up mid-stream
    await asyncio.wait_for(gated.cancelled.wait(), 5)
    for _ in range(100):
        leaked = set(_pipeline_tasks()) - before
        if not leaked:
            break
        await asyncio.sleep(0.01)
    assert leaked == set()
    assert gated.requests == 1


async def test_bootstrap_retry_reissues_a_stream_that_broke_before_any_payload(gateway: MakeGateway,
                                                                               fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root, "streaming:\n  bootstrap-retries: 1\n"))
    fake_llm.script("sk-claude", Fault("reset", after=0))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert resp.status == 200
    assert (await resp.read()).endswith(b'event: message_stop\ndata: {"type": "message_stop"}\n\n')
    assert [r.key for r in fake_llm.requests] == ["sk-claude", "sk-claude"]


async def test_bootstrap_retries_are_counted_and_the_last_failure_is_the_answer(gateway: MakeGateway,
                                                                              fake_llm: FakeLLM) -> None:
    """``bootstrapRetries < maxBootstrapRetries`` (handlers.go:542): N re-issues after the first
    attempt, then the last early failure is the client's plain JSON error."""
    client = await gateway(upstreams_config(fake_llm.root, "streaming:\n  bootstrap-retries: 2\n"))
    fake_llm.script("sk-claude", *[Fault("reset", after=0)] * 4)
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert resp.status == 500 and resp.headers["Content-Type"] == JSON
    assert await resp.read() == error_body("upstream connection broke mid-body", "server_error",
                                           "internal_server_error")
    assert [r.key for r in fake_llm.requests] == ["sk-claude"] * 3


@pytest.mark.parametrize("extra", ["", "streaming:\n  bootstrap-retries: 0\n", "streaming:\n  bootstrap-retries: -2\n"])
async def test_without_bootstrap_retries_an_early_break_is_a_plain_error(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                        extra: str) -> None:
    # Missing, 0 and negative are all no retry (StreamingBootstrapRetries, handlers.go:132-141).
    client = await gateway(upstreams_config(fake_llm.root, extra))
    fake_llm.script("sk-claude", Fault("reset", after=0))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert resp.status == 500 and resp.headers["Content-Type"] == JSON
    assert await resp.read() == error_body("upstream connection broke mid-body", "server_error",
                                           "internal_server_error")
    assert len(fake_llm.requests) == 1


async def test_bootstrap_retry_never_repeats_after_payload_went_out(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root, "streaming:\n  bootstrap-retries: 3\n"))
    fake_llm.script("sk-claude", Fault("reset", after=3))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert (await resp.read()).endswith(frame("upstream connection broke mid-body", "/v1/messages"))
    assert len(fake_llm.requests) == 1


def _sse_events(raw: bytes) -> list[str]:
    """Each SSE event of ``raw`` named by its ``event:`` line, else by its data's delta keys."""
    names = []
    for block in raw.strip(b"\n").split(b"\n\n"):
        lines = block.strip(b"\n").split(b"\n")
        if lines[0].startswith(b"event: "):
            names.append(lines[0].removeprefix(b"event: ").decode())
        else:
            delta = json.loads(lines[0].removeprefix(b"data: "))["choices"][0]["delta"]
            names.append("delta:" + ",".join(f"{k}={v}" for k, v in delta.items()))
    return names


CLI_CLAUDE = {"model": CLAUDE_MODEL, "project": "p", "request": GEMINI_BODY}


# (client path, body, upstream key, what the client got of the upstream's first event, or None
# when its translator renders that event as nothing)
FIRST_EVENT = [
    ("/v1/chat/completions", chat(CLAUDE_MODEL, stream=True), "sk-claude", ["delta:role=assistant"]),
    ("/v1/responses", responses(CLAUDE_MODEL, stream=True), "sk-claude",
     ["response.created", "response.in_progress"]),
    ("/v1/messages", claude(CLAUDE_MODEL, stream=True), "sk-claude", ["message_start"]),
    (f"/v1beta/models/{CLAUDE_MODEL}:streamGenerateContent?alt=sse", GEMINI_BODY, "sk-claude", None),
    ("/v1internal:streamGenerateContent", CLI_CLAUDE, "sk-claude", None),
    ("/v1/chat/completions", chat(CODEX_MODEL, stream=True), "sk-codex", None),
]


@pytest.mark.parametrize(("path", "body", "key", "sent"), FIRST_EVENT)
async def test_the_bootstrap_window_closes_with_the_first_translated_payload(
        gateway: MakeGateway, fake_llm: FakeLLM, path: str, body: dict[str, Any], key: str,
        sent: list[str] | None) -> None:
    """``sentPayload`` (handlers.go:502-570) turns on with the first non-empty chunk the client's
    translator makes, not with the first upstream event: a break right after Claude's
    ``message_start`` is past the window for a chat client (its role-only chunk,
    claude_openai_response.go:86-101), a Responses client (``response.created`` and
    ``response.in_progress``) and a Claude client (the lines relayed as they came,
    claude_executor.go from == to), but not for a Gemini or Gemini CLI client, whose translator
    keeps only the id (claude_gemini_response.go:93-99), nor for a chat client of Codex's
    ``response.created`` (codex_openai_response.go:65-69): those are re-issued whole."""
    client = await gateway(upstreams_config(fake_llm.root, "streaming:\n  bootstrap-retries: 1\n"))
    fake_llm.script(key, Fault("reset", after=1))
    resp = await client.post(path, json=body)
    assert resp.status == 200 and resp.headers["Content-Type"] == SSE
    raw = await resp.read()
    if sent is None:
        assert len(fake_llm.requests) == 2
        assert b"error" not in raw and raw.count(ANSWER_WORDS[0].encode()) == 1
        assert ANSWER_WORDS[-1].encode() in raw
        return
    assert len(fake_llm.requests) == 1
    end = frame("upstream connection broke mid-body", path)
    assert raw.endswith(end)
    assert _sse_events(raw[: -len(end)]) == sent


async def test_bootstrap_retries_follow_a_config_reload(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """``StreamingBootstrapRetries(h.Cfg)`` is read per stream (handlers.go:504) from the config
    UpdateClients swapped in (server.go:980): set by an edit, it re-issues the next early break."""
    config = upstreams_config(fake_llm.root)
    client = await gateway(config)
    stop = b'event: message_stop\ndata: {"type": "message_stop"}\n\n'
    # A stream served under the first config, so a value kept from then would show.
    assert (await (await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))).read()).endswith(stop)
    await client.server.app[CONFIG_STORE].save_raw((config + "streaming:\n  bootstrap-retries: 1\n").encode())
    fake_llm.script("sk-claude", Fault("reset", after=0))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert resp.status == 200
    assert (await resp.read()).endswith(stop)
    assert [r.key for r in fake_llm.requests] == ["sk-claude"] * 3


def test_upstream_timeouts_setting_overrides_field_by_field() -> None:
    base = Timeouts(connect=30.0, first_byte=600.0, idle=300.0)
    assert upstream_timeouts({"connect": 2, "first-byte": 1.5, "idle": 9}, base) == Timeouts(2.0, 1.5, 9.0)
    assert upstream_timeouts({"idle": 4}, base) == Timeouts(30.0, 600.0, 4.0)
    # Nonsense never turns a timeout off or to zero: those fields keep the base value.
    assert upstream_timeouts({"connect": 0, "first-byte": "soon", "idle": True}, base) == base
    assert upstream_timeouts({"connect": -1, "idle": 7}, base) == Timeouts(30.0, 600.0, 7.0)
    assert upstream_timeouts("fast", base) == base
    assert upstream_timeouts(None, base) == base


async def test_upstream_timeouts_follow_a_config_reload(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root, "gateway:\n  upstream-timeouts: {first-byte: 1.5}\n"))
    runtime = runtime_of(client)
    assert (await client.post("/v1/messages", json=claude(CLAUDE_MODEL))).status == 200
    assert runtime.client.timeouts == Timeouts(first_byte=1.5)
    store = client.server.app[CONFIG_STORE]
    edited = store.current.model_copy(deep=True)
    edited.gateway = {"upstream-timeouts": {"idle": 5}}
    await store.save(edited)
    assert (await client.post("/v1/messages", json=claude(CLAUDE_MODEL))).status == 200
    assert runtime.client.timeouts == Timeouts(idle=5.0)


async def test_gemini_cli_bootstrap_retry_never_repeats_after_payload_went_out(gateway: MakeGateway,
                                                                             fake_llm: FakeLLM) -> None:
    # Headers go out up front on this route, so only the payload sent decides (handlers.go
    # ``sentPayload``): a re-issued stream would repeat the chunks the client already has.
    client = await gateway(upstreams_config(fake_llm.root, "streaming:\n  bootstrap-retries: 3\n"))
    fake_llm.script("sk-gemini", Fault("reset", after=2))
    body = {"model": GEMINI_MODEL, "project": "p", "request": GEMINI_BODY}
    resp = await client.post("/v1internal:streamGenerateContent", json=body)
    assert resp.status == 200 and resp.headers["Content-Type"] == SSE
    frames = (await resp.read()).split(b"\n\n")
    assert [f.split(b" ", 1)[0] for f in frames] == [b"data:", b"data:", b"event:", b""]
    assert frames[2] == b"event: error\ndata: " + error_body("upstream connection broke mid-body", "server_error",
                                                             "internal_server_error")
    assert len(fake_llm.requests) == 1


# (client path, body, upstream key, terminal the error names)
EMPTY = [
    ("/v1/chat/completions", chat(CLAUDE_MODEL, stream=True), "sk-claude", "message_stop"),
    (f"{GEMINI_STREAM}?alt=sse", GEMINI_BODY, "sk-gemini", "a finishReason"),
    (f"{GEMINI_STREAM}?alt=json", GEMINI_BODY, "sk-gemini", "a finishReason"),
    ("/v1internal:streamGenerateContent?alt=json", {"model": GEMINI_MODEL, "project": "p", "request": GEMINI_BODY},
     "sk-gemini", "a finishReason"),
]


@pytest.mark.parametrize(("path", "body", "key", "terminal"), EMPTY)
async def test_an_empty_200_stream_is_a_500_before_any_byte(gateway: MakeGateway, fake_llm: FakeLLM, path: str,
                                                            body: dict[str, Any], key: str, terminal: str) -> None:
    """Compatibility row 4a: an upstream that answers 200 and ends without sending anything. The
    raw ``alt=json`` relay included, where there is no event to check but nothing came either."""
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script(key, Fault("cut", after=0))
    resp = await client.post(path, json=body)
    assert resp.status == 500 and resp.headers["Content-Type"] == JSON
    assert await resp.read() == error_body(f"upstream stream closed before {terminal}", "server_error",
                                           "internal_server_error")
    assert len(fake_llm.requests) == 1


@pytest.mark.parametrize(("path", "body", "key", "after"), [
    ("/v1/responses", responses(CODEX_MODEL, stream=True), "sk-codex", 3),
    ("/v1/chat/completions", chat(CODEX_MODEL, stream=True), "sk-codex", 2),
    ("/v1/chat/completions", chat(CLAUDE_MODEL, stream=True), "sk-claude", 3),
    (f"{GEMINI_STREAM}?alt=json", GEMINI_BODY, "sk-gemini", 0),
])
async def test_a_clean_early_end_does_not_count_against_the_credential(
        gateway: MakeGateway, fake_llm: FakeLLM, path: str, body: dict[str, Any], key: str, after: int) -> None:
    """The client is told the stream ended early (rows 4 and 4a), but the legacy's stream readers
    count a clean end of body as the credential's success: with the only credential for the model,
    the next request is served, not turned away by a cooldown."""
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script(key, Fault("cut", after=after))
    first = await client.post(path, json=body)
    first_body = await first.read()
    assert b"stream closed before" in first_body
    second = await client.post(path, json=body)
    assert second.status == 200
    assert b"Hello" in await second.read()
    assert len(fake_llm.requests) == 2


@pytest.mark.parametrize("value", ["true", 1])
async def test_completions_stream_only_for_a_json_true(gateway: MakeGateway, fake_llm: FakeLLM, value: Any) -> None:
    """The legacy streams a text completion only when the client's ``stream`` is JSON ``true``; any
    other value takes the JSON answer (openai_handlers.go:168)."""
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/completions", json=completions(COMPAT_MODEL, stream=value))
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("application/json")
    answer = await resp.json()
    assert answer["object"] == "text_completion" and "Hello" in answer["choices"][0]["text"]
    resp = await client.post("/v1/completions", json=completions(COMPAT_MODEL, stream=True))
    assert resp.status == 200 and resp.headers["Content-Type"] == SSE
    assert (await resp.read()).endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize("retries", [0, 1])
@pytest.mark.parametrize(("model", "key"), [(COMPAT_MODEL, "sk-compat"), (CLAUDE_MODEL, "sk-claude")])
async def test_a_completions_stream_is_committed_at_the_first_chat_chunk(
        gateway: MakeGateway, fake_llm: FakeLLM, model: str, key: str, retries: int) -> None:
    """openai_handlers.go:602-610: the first chat chunk (the role-only one, which the conversion
    drops) commits the 200 SSE answer, so a break right after it is an in-stream error frame, and
    bootstrap retries no longer apply (sentPayload)."""
    extra = f"streaming:\n  bootstrap-retries: {retries}\n"
    client = await gateway(upstreams_config(fake_llm.root, extra))
    fake_llm.script(key, Fault("reset", after=1))
    resp = await client.post("/v1/completions", json=completions(model, stream=True))
    assert resp.status == 200 and resp.headers["Content-Type"] == SSE
    assert await resp.read() == frame("upstream connection broke mid-body", "/v1/completions")
    assert len(fake_llm.requests) == 1


async def test_the_gemini_cli_stream_head_leaves_with_the_first_bytes(gateway: MakeGateway) -> None:
    """gemini-cli_handlers.go:138-162 sets the SSE headers before asking upstream, but Gin writes
    a head only with the first body bytes: a client waiting on a slow upstream has no head yet."""
    asked, go = asyncio.Event(), asyncio.Event()

    async def generate(request: web.Request) -> web.StreamResponse:
        await request.read()
        asked.set()
        await go.wait()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}]}
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1beta/models/{action}", generate)
    runner, root = await serve_on_loopback(app)
    try:
        client = await gateway(f"gemini-api-key:\n  - api-key: sk-gemini\n    base-url: {root}\n")
        body = {"model": GEMINI_MODEL, "project": "p", "request": GEMINI_BODY}
        answer = asyncio.ensure_future(client.post("/v1internal:streamGenerateContent", json=body))
        await asyncio.wait_for(asked.wait(), 5)
        done, _ = await asyncio.wait([answer], timeout=0.3)
        assert not done  # no status line or header has reached the client
        go.set()
        resp = await answer
        assert resp.status == 200 and resp.headers["Content-Type"] == SSE
        assert b'"hi"' in await resp.read()
    finally:
        await runner.cleanup()


async def test_a_responses_stream_cut_after_message_delta_is_not_completed(gateway: MakeGateway,
                                                                         fake_llm: FakeLLM) -> None:
    """The legacy's Claude → Responses stream completes the response at ``message_stop`` and only
    notes usage at ``message_delta``: a stream cut between the two gets no ``response.completed``,
    only the error frame of a stream cut short."""
    client = await gateway(upstreams_config(fake_llm.root))
    # message_start, content_block_start, the words, content_block_stop, message_delta: then the cut.
    fake_llm.script("sk-claude", Fault("cut", after=4 + len(ANSWER_WORDS)))
    resp = await client.post("/v1/responses", json=responses(CLAUDE_MODEL, stream=True))
    assert resp.status == 200
    raw = await resp.read()
    assert b"response.output_text.delta" in raw
    assert b"response.completed" not in raw
    assert raw.endswith(frame("upstream stream closed before message_stop", "/v1/responses"))
