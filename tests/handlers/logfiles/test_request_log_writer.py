"""Per-request log files written for native answers (request_logger.go, request_logging.go):
``error-…`` files while ``request-log`` is off, every non-GET call while it is on."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from handlers.logfiles.request_log_writer import file_name, prune_error_logs, sanitize_for_filename, should_log
from handlers.logfiles.wiring import RequestLogger
from quotio_gateway.appkeys import ANSWERED
from tests.conftest import SECRET, GatewayFactory, auth, eventually
from tests.fakes.llm_upstream import FakeLLM, Fault, status

CLAUDE = "claude-sonnet-4-5-20250929"
CHAT = {"model": CLAUDE, "messages": [{"role": "user", "content": "hi"}]}
# What the CORS middleware puts into the legacy's header map before any handler runs (server.go:226,
# 825-830), in the order the gateway lists them: all a handler that wrote nothing leaves there.
CORS_ONLY = (b"Access-Control-Allow-Origin: *\nAccess-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE, OPTIONS\n"
             b"Access-Control-Allow-Headers: *\n")


@pytest.mark.parametrize(("path", "expected"), [
    ("/v1/chat/completions", "v1-chat-completions"),
    ("/v1beta/models/gemini-2.5-pro:generateContent?alt=sse", "v1beta-models-gemini-2.5-pro-generateContent"),
    ("/", "root"),
    ('/a b/c"d|e*f', "a-b-c-d-e-f"),
    ("//x//", "x"),
])
def test_sanitize_for_filename(path: str, expected: str) -> None:
    assert sanitize_for_filename(path) == expected


def test_file_names() -> None:
    assert file_name("/v1/messages", "abc", "2026-01-20T101112", error=False) == "v1-messages-2026-01-20T101112-abc.log"
    assert file_name("/v1/messages", "abc", "2026-01-20T101112", error=True) == \
        "error-v1-messages-2026-01-20T101112-abc.log"


@pytest.mark.parametrize(("method", "path", "logged"), [
    ("POST", "/v1/chat/completions", True),
    ("GET", "/v1/models", False),
    ("POST", "/v0/management/api-call", False),
    ("PUT", "/management.html", False),
    ("POST", "/api/provider/openai/v1/chat/completions", True),
    ("POST", "/api/other", False),
])
def test_which_requests_are_logged(method: str, path: str, logged: bool) -> None:
    assert should_log(method, path) is logged


def test_prune_keeps_the_ten_newest_error_logs(tmp_path: Path) -> None:
    for i in range(13):
        path = tmp_path / f"error-x-{i:02d}.log"
        path.write_text("e")
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    (tmp_path / "x-00.log").write_text("a request log, not an error log")
    assert prune_error_logs(tmp_path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [*(f"error-x-{i:02d}.log" for i in range(3, 13)), "x-00.log"]


class Gateway:
    def __init__(self, server: TestServer, logs: Path) -> None:
        self.server, self.logs = server, logs
        self.url = str(server.make_url("")).rstrip("/")
        self.session = aiohttp.ClientSession()

    async def chat(self, body: bytes, *, request_id: str, stream: bool = False) -> int:
        async with self.session.post(self.url + "/v1/chat/completions", data=body,
                                     headers={"Authorization": "Bearer client-key",
                                              "Content-Type": "application/json",
                                              "X-Request-Id": request_id}) as resp:
            await resp.read()
            return resp.status

    async def close(self) -> None:
        await self.session.close()
        await self.server.close()


@pytest.fixture
def logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WRITABLE_PATH", str(tmp_path / "writable"))
    return tmp_path / "writable" / "logs"


async def start(make_gateway: GatewayFactory, fake_llm: FakeLLM, logs: Path, *, request_log: bool) -> Gateway:
    app = await make_gateway({"default": "native"}, config={
        "api-keys": ["client-key"], "request-log": request_log,
        "claude-api-key": [{"api-key": "sk-claude-upstream", "base-url": fake_llm.root}]})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return Gateway(server, logs)


async def start_with_claude(make_gateway: GatewayFactory, logs: Path,
                            claude: Callable[[web.Request], Awaitable[web.StreamResponse]], *,
                            request_log: bool = True, config: dict[str, Any] | None = None
                            ) -> tuple[Gateway, TestServer]:
    """The gateway (request-log on unless told) whose one Claude key is served by ``claude``
    (``POST /v1/messages``), for tests that script the upstream's timing themselves."""
    upstream = web.Application()
    upstream.router.add_post("/v1/messages", claude)
    fake = TestServer(upstream, host="127.0.0.1")
    await fake.start_server()
    app = await make_gateway({"default": "native"}, config={
        "api-keys": ["client-key"], "request-log": request_log, **(config or {}),
        "claude-api-key": [{"api-key": "sk-claude-upstream", "base-url": str(fake.make_url("")).rstrip("/")}]})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return Gateway(server, logs), fake


async def hang_up_after_the_upstream_head(make_gateway: GatewayFactory, logs: Path,
                                          body: dict[str, Any]) -> tuple[str, bytes]:
    """Send ``body`` to chat completions, whose Claude upstream sends its head (with
    ``X-Upstream: head-only``) and nothing more; hang up once the gateway has read that head.
    Returns the one log file's name and content."""
    head_sent = asyncio.Event()

    async def claude(request: web.Request) -> web.StreamResponse:
        await request.read()
        answer = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Upstream": "head-only"})
        await answer.prepare(request)
        head_sent.set()
        await asyncio.sleep(10)  # the head is out, the body never comes
        return answer

    gw, fake = await start_with_claude(make_gateway, logs, claude)
    try:
        headers = {"Authorization": "Bearer client-key", "X-Request-Id": "gone"}
        task = asyncio.ensure_future(gw.session.post(gw.url + "/v1/chat/completions", data=json.dumps(body),
                                                     headers=headers))
        await head_sent.wait()
        await asyncio.sleep(0.3)  # a few loop turns on loopback: the gateway has read the head
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await eventually(lambda: any(n.endswith("-gone.log") for n in files(logs)))
        [name] = files(logs)
        return name, (logs / name).read_bytes()
    finally:
        await gw.close()
        await fake.close()


@pytest.fixture
async def errors_only(make_gateway: GatewayFactory, fake_llm: FakeLLM, logs: Path) -> AsyncIterator[Gateway]:
    gw = await start(make_gateway, fake_llm, logs, request_log=False)
    yield gw
    await gw.close()


def files(logs: Path) -> list[str]:
    return sorted(p.name for p in logs.iterdir()) if logs.is_dir() else []


async def test_an_error_answer_leaves_an_error_log_listed_by_the_api(errors_only: Gateway, fake_llm: FakeLLM) -> None:
    assert await errors_only.chat(json.dumps(CHAT).encode(), request_id="okreq") == 200
    fake_llm.script("sk-claude-upstream", status(500, {"type": "error", "error": {"type": "api_error",
                                                                                  "message": "boom"}}))
    assert await errors_only.chat(json.dumps(CHAT).encode(), request_id="badreq") == 500
    await eventually(lambda: len(files(errors_only.logs)) == 1)
    [name] = files(errors_only.logs)
    assert re.fullmatch(r"error-v1-chat-completions-\d{4}-\d\d-\d\dT\d{6}-badreq\.log", name)
    text = (errors_only.logs / name).read_text()
    assert text.startswith("=== REQUEST INFO ===\nVersion: ")
    assert "URL: /v1/chat/completions\nMethod: POST\n" in text
    assert json.dumps(CHAT) in text
    assert "Status: 500\n" in text and "boom" in text
    # The client's key is masked in the stored headers, the upstream's never appears.
    assert "client-key" not in text and "sk-claude-upstream" not in text
    async with errors_only.session.get(errors_only.url + "/v0/management/request-error-logs",
                                       headers=auth(SECRET)) as resp:
        listed = await resp.json()
    assert [f["name"] for f in listed["files"]] == [name]
    async with errors_only.session.get(errors_only.url + "/v0/management/request-log-by-id/badreq",
                                       headers=auth(SECRET)) as resp:
        assert (resp.status, await resp.text()) == (200, text)


async def test_a_bad_request_is_logged_as_an_error(errors_only: Gateway) -> None:
    assert await errors_only.chat(b"{not json", request_id="r400") == 400
    await eventually(lambda: len(files(errors_only.logs)) == 1)
    assert files(errors_only.logs)[0].endswith("-r400.log")


async def test_request_headers_are_listed_as_go_holds_them(errors_only: Gateway) -> None:
    """request_logger.go:548-555 prints the request's http.Header: names in canonical form, each
    value on its own line, and no Host or Transfer-Encoding (Go's server moves those out)."""
    host, port = errors_only.server.host, errors_only.server.port
    reader, writer = await asyncio.open_connection(host, port)
    # Written by hand: HTTP clients merge repeated headers or respell names on the way out.
    writer.write(b"POST /v1/messages HTTP/1.1\r\nhost: " + f"{host}:{port}".encode() + b"\r\n"
                 b"x-api-key: client-key\r\nanthropic-version: 2023-06-01\r\nx-trace: a\r\nX-Trace: b\r\n"
                 b"content-type: application/json\r\nx-request-id: hdrs\r\ncontent-length: 1\r\n"
                 b"connection: close\r\n\r\n{")
    await writer.drain()
    assert (await reader.readline()).startswith(b"HTTP/1.1 400 ")
    writer.close()
    await eventually(lambda: len(files(errors_only.logs)) == 1)
    text = (errors_only.logs / files(errors_only.logs)[0]).read_text()
    block = text.split("=== HEADERS ===\n", 1)[1].split("\n\n", 1)[0]
    assert block == ("X-Api-Key: ***\nAnthropic-Version: 2023-06-01\nX-Trace: a\nX-Trace: b\n"
                     "Content-Type: application/json\nX-Request-Id: hdrs\nContent-Length: 1\nConnection: close")
    assert "client-key" not in text


async def test_a_key_in_the_query_is_masked_in_the_url_line(errors_only: Gateway) -> None:
    """request_logging.go:71-75 logs the URL with its sensitive query values masked."""
    path = "/v1beta/models/gemini-2.5-flash:generateContent?key=client-key&alt=json"
    async with errors_only.session.post(errors_only.url + path, data=b"{",
                                        headers={"X-Request-Id": "qkey"}) as resp:
        assert resp.status == 400
    await eventually(lambda: len(files(errors_only.logs)) == 1)
    [name] = files(errors_only.logs)
    assert name.startswith("error-v1beta-models-gemini-2.5-flash-generateContent-")
    text = (errors_only.logs / name).read_text()
    assert "\nURL: /v1beta/models/gemini-2.5-flash:generateContent?key=***&alt=json\nMethod: POST\n" in text
    assert "client-key" not in text


async def test_the_url_line_has_the_decoded_path_and_no_empty_query(errors_only: Gateway) -> None:
    """request_logging.go:71-75: URL.Path (decoded), and "?" only before a query."""
    host, port = errors_only.server.host, errors_only.server.port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"POST /v1/chat/%63ompletions? HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer client-key\r\n"
                 b"X-Request-Id: enc\r\nContent-Length: 1\r\nConnection: close\r\n\r\n{")
    await writer.drain()
    assert (await reader.readline()).startswith(b"HTTP/1.1 400 ")
    writer.close()
    await eventually(lambda: len(files(errors_only.logs)) == 1)
    [name] = files(errors_only.logs)
    assert name.startswith("error-v1-chat-completions-")
    assert "\nURL: /v1/chat/completions\nMethod: POST\n" in (errors_only.logs / name).read_text()


async def test_only_the_ten_newest_error_logs_stay(errors_only: Gateway) -> None:
    for i in range(12):
        assert await errors_only.chat(b"{", request_id=f"e{i}") == 400
        await eventually(lambda i=i: any(n.endswith(f"-e{i}.log") for n in files(errors_only.logs)))
    await eventually(lambda: len(files(errors_only.logs)) == 10)


async def test_request_log_on_writes_every_call_without_error_prefix(make_gateway: GatewayFactory, fake_llm: FakeLLM,
                                                                     logs: Path) -> None:
    gw = await start(make_gateway, fake_llm, logs, request_log=True)
    try:
        assert await gw.chat(json.dumps(CHAT).encode(), request_id="plain") == 200
        assert await gw.chat(json.dumps({**CHAT, "stream": True}).encode(), request_id="streamed") == 200
        assert await gw.chat(b"{", request_id="broken") == 400
        async with gw.session.get(gw.url + "/v1/models", headers={"Authorization": "Bearer client-key"}) as resp:
            assert resp.status == 200
        await eventually(lambda: len(files(logs)) == 3)
        names = files(logs)
        assert all(n.startswith("v1-chat-completions-") for n in names)
        assert {n.rsplit("-", 1)[1] for n in names} == {"plain.log", "streamed.log", "broken.log"}
        plain = next(n for n in names if n.endswith("-plain.log"))
        assert "Status: 200\n" in (logs / plain).read_text()
        # The handler's header map only (response_writer.go:183-196): nothing Go's server adds
        # on the way out (Date, framing).
        for name in names:
            answer_head = (logs / name).read_text().split("=== RESPONSE ===\n", 1)[1].split("\n\n", 1)[0]
            assert not re.search(r"^(Date|Content-Length|Transfer-Encoding):", answer_head, re.M | re.I), answer_head
        # A stream's file holds the SSE the client received, to its last frame.
        streamed = (logs / next(n for n in names if n.endswith("-streamed.log"))).read_text()
        assert "Content-Type: text/event-stream" in streamed
        assert streamed.rstrip().endswith("data: [DONE]")
        assert '"object":"chat.completion.chunk"' in streamed
    finally:
        await gw.close()


def section_of(text: str, heading: str) -> str:
    """The text from ``heading`` up to the next top-level section."""
    start = text.index(heading)
    following = [text.find(h, start + len(heading)) for h in ("=== API RESPONSE", "=== RESPONSE ===")]
    ends = [i for i in following if i != -1]
    return text[start:min(ends) if ends else len(text)]


async def test_request_log_on_records_each_upstream_call(make_gateway: GatewayFactory, fake_llm: FakeLLM,
                                                         logs: Path) -> None:
    """logging_helpers.go: the call as sent upstream (URL, method, auth kind, masked headers, body)
    and its answer (status, headers, body lines), numbered per attempt."""
    gw = await start(make_gateway, fake_llm, logs, request_log=True)
    try:
        assert await gw.chat(json.dumps(CHAT).encode(), request_id="one") == 200
        assert await gw.chat(json.dumps({**CHAT, "stream": True}).encode(), request_id="two") == 200
        await eventually(lambda: len(files(logs)) == 2)
        names = files(logs)
        whole = (logs / next(n for n in names if n.endswith("-one.log"))).read_text()
        streamed = (logs / next(n for n in names if n.endswith("-two.log"))).read_text()
    finally:
        await gw.close()
    for text in (whole, streamed):
        order = [text.index(h) for h in ("=== REQUEST BODY ===", "=== API REQUEST 1 ===",
                                          "=== API RESPONSE 1 ===", "=== RESPONSE ===")]
        assert order == sorted(order)
        request = section_of(text, "=== API REQUEST 1 ===")
        assert re.search(r"\nTimestamp: \d{4}-\d\d-\d\dT[^\n]+\n", request)
        assert f"Upstream URL: {fake_llm.root}/v1/messages?beta=true\n" in request
        assert "HTTP Method: POST\n" in request
        auth_line = r"Auth: provider=claude, auth_id=[^,\n]+, label=claude-apikey, type=api_key value=\*+\n"
        assert re.search(auth_line, request)
        assert "\nHeaders:\n" in request and "Anthropic-Version: 2023-06-01\n" in request
        assert '"model":"claude-sonnet-4-5-20250929"' in request.split("\nBody:\n", 1)[1]
        assert "sk-claude-upstream" not in text and "client-key" not in text
        response = section_of(text, "=== API RESPONSE 1 ===")
        assert "\nStatus: 200\nHeaders:\n" in response and "Content-Type: text/event-stream" in response
        body = response.split("\nBody:\n", 1)[1]
        if text is whole:
            # The legacy asks Claude for a stream either way; read whole for a non-stream client,
            # it is one body piece (ReadAll), ...
            assert body.startswith("event: message_start\ndata: {")
            assert "\n\nevent: message_stop\ndata: " in body
        else:
            # ... and for a stream client one piece per SSE line (its scanner).
            assert body.startswith("event: message_start\n\ndata: {")
            assert "\n\nevent: message_stop\n\ndata: " in body


async def test_an_upstream_failure_is_in_the_request_log_once(make_gateway: GatewayFactory, fake_llm: FakeLLM,
                                                              logs: Path) -> None:
    """The upstream's error body is recorded as its answer; the client's error body, already held
    there by message, is not appended again (WriteErrorResponse)."""
    gw = await start(make_gateway, fake_llm, logs, request_log=True)
    try:
        fake_llm.script("sk-claude-upstream", status(400, {"type": "error", "error": {
            "type": "invalid_request_error", "message": "prompt is too long"}}))
        assert await gw.chat(json.dumps(CHAT).encode(), request_id="bad") == 400
        await eventually(lambda: len(files(logs)) == 1)
        text = (logs / files(logs)[0]).read_text()
    finally:
        await gw.close()
    response = section_of(text, "=== API RESPONSE 1 ===")
    assert "\nStatus: 400\n" in response
    assert response.count("prompt is too long") == 1
    assert text.count("=== API REQUEST") == 1


async def test_error_logs_without_request_log_carry_the_error_answer(errors_only: Gateway) -> None:
    """With request-log off nothing upstream is recorded, but a failed call's error answer is
    the log's API RESPONSE; a bad request's is not (its handler writes it directly)."""
    body = json.dumps({**CHAT, "model": "no-such-model"}).encode()
    assert await errors_only.chat(body, request_id="unknown") == 400
    assert await errors_only.chat(b"{", request_id="broken") == 400
    await eventually(lambda: len(files(errors_only.logs)) == 2)
    unknown = (errors_only.logs / next(n for n in files(errors_only.logs) if n.endswith("-unknown.log"))).read_text()
    broken = (errors_only.logs / next(n for n in files(errors_only.logs) if n.endswith("-broken.log"))).read_text()
    assert "=== API REQUEST" not in unknown
    answer = section_of(unknown, "=== API RESPONSE ===\n").split("\n", 1)[1]
    assert answer.startswith('{"error":{"message":"unknown provider for model no-such-model"')
    assert "=== API" not in broken


@pytest.mark.parametrize(("section", "model", "path"), [
    ({"gemini-api-key": [{"api-key": "g-key-1234", "base-url": "{root}"}]},
     "gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:"),
    ({"codex-api-key": [{"api-key": "c-key-1234", "base-url": "{root}/v1"}]}, "gpt-5", "/v1/responses"),
    ({"openai-compatibility": [{"name": "compat", "base-url": "{root}/v1",
                                "api-key-entries": [{"api-key": "o-key-1234"}],
                                "models": [{"name": "upstream-model", "alias": "compat-model"}]}]},
     "compat-model", "/v1/chat/completions"),
])
@pytest.mark.parametrize("stream", [False, True])
async def test_every_upstream_kind_is_recorded(make_gateway: GatewayFactory, fake_llm: FakeLLM, logs: Path,
                                               section: dict[str, Any], model: str, path: str, stream: bool) -> None:
    rooted = json.loads(json.dumps(section).replace("{root}", fake_llm.root))
    app = await make_gateway({"default": "native"}, config={"api-keys": ["client-key"], "request-log": True,
                                                             **rooted})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gw = Gateway(server, logs)
    try:
        assert await gw.chat(json.dumps({**CHAT, "model": model, "stream": stream}).encode(), request_id="kind") == 200
        await eventually(lambda: len(files(logs)) == 1)
        text = (logs / files(logs)[0]).read_text()
    finally:
        await gw.close()
    request = section_of(text, "=== API REQUEST 1 ===")
    assert f"Upstream URL: {fake_llm.root}{path}" in request
    assert "type=api_key value=***\n" in request
    response = section_of(text, "=== API RESPONSE 1 ===")
    assert "\nStatus: 200\n" in response and "\nBody:\n" in response
    assert "key-1234" not in text  # the upstream key is masked wherever it was sent


async def test_commercial_mode_writes_no_request_logs(make_gateway: GatewayFactory, fake_llm: FakeLLM,
                                                      logs: Path) -> None:
    """server.go:214: with commercial-mode the request-logging middleware is never installed."""
    app = await make_gateway({"default": "native"}, config={
        "api-keys": ["client-key"], "request-log": True, "commercial-mode": True,
        "claude-api-key": [{"api-key": "sk-claude-upstream", "base-url": fake_llm.root}]})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gw = Gateway(server, logs)
    try:
        # Nothing is hooked to write them (the files are written after the answer, so their
        # absence alone would prove nothing).
        assert not any(isinstance(hook, RequestLogger) for hook in app[ANSWERED])
        assert await gw.chat(json.dumps({**CHAT, "stream": True}).encode(), request_id="s") == 200
        assert await gw.chat(b"{", request_id="bad") == 400
    finally:
        await gw.close()
    assert files(logs) == []


async def test_the_gemini_cli_pass_through_answer_is_the_api_response(make_gateway: GatewayFactory, logs: Path) -> None:
    """gemini-cli_handlers.go:128 sets the forwarded answer as API_RESPONSE."""
    async def code_assist(request: web.Request) -> web.Response:
        return web.json_response({"currentTier": {"id": "free-tier"}})

    upstream = web.Application()
    upstream.router.add_post("/{tail:.*}", code_assist)
    fake = TestServer(upstream, host="127.0.0.1")
    await fake.start_server()
    base = str(fake.make_url("")).rstrip("/")
    app = await make_gateway({"default": "native"}, config={
        "request-log": True,
        "gateway": {"provider-endpoints": {"gemini-cli": {"inference-base-url": base}}}})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gw = Gateway(server, logs)
    try:
        async with gw.session.post(gw.url + "/v1internal:loadCodeAssist", data=b"{}",
                                   headers={"X-Request-Id": "cli"}) as resp:
            assert resp.status == 200
        await eventually(lambda: len(files(logs)) == 1)
        text = (logs / files(logs)[0]).read_text()
    finally:
        await gw.close()
        await fake.close()
    answer = json.dumps({"currentTier": {"id": "free-tier"}})  # as web.json_response wrote it
    assert f"=== API RESPONSE ===\n{answer}\n\n=== RESPONSE ===" in text
    # The upstream's headers the handler copied (its Date among them) are the answer's own.
    assert re.search(r"\nDate: [^\n]+ GMT\n", text.split("=== RESPONSE ===\n", 1)[1])
    assert "=== API REQUEST" not in text


async def test_a_client_that_hangs_up_mid_stream_still_gets_its_request_log(make_gateway: GatewayFactory,
                                                                             logs: Path) -> None:
    """response_writer.go:244-300: the middleware's Finalize runs once the handler returns, also
    after the client went away; the file holds the committed 200 and the frames sent until then."""
    held = asyncio.Event()

    async def claude(request: web.Request) -> web.StreamResponse:
        await request.read()
        answer = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await answer.prepare(request)
        await answer.write(b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message",'
                           b'"role":"assistant","model":"' + CLAUDE.encode() + b'","content":[],'
                           b'"usage":{"input_tokens":1,"output_tokens":0}}}\n\n'
                           b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
                           b'"content_block":{"type":"text","text":""}}\n\n'
                           b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                           b'"delta":{"type":"text_delta","text":"Hi"}}\n\n')
        await held.wait()  # never set: the stream stays open until the gateway gives it up
        return answer

    gw, fake = await start_with_claude(make_gateway, logs, claude)
    try:
        response = await gw.session.post(gw.url + "/v1/chat/completions",
                                          data=json.dumps({**CHAT, "stream": True}),
                                          headers={"Authorization": "Bearer client-key", "X-Request-Id": "gone"})
        assert response.status == 200
        first = await response.content.readuntil(b"\n\n")
        while b'"content":"Hi"' not in first:
            first += await response.content.readuntil(b"\n\n")
        response.close()  # hang up mid-stream
        await eventually(lambda: len(files(logs)) == 1)
        text = (logs / files(logs)[0]).read_text()
    finally:
        await gw.close()
        await fake.close()
    assert files(logs)[0].startswith("v1-chat-completions-")
    assert "=== API REQUEST 1 ===" in text and "=== API RESPONSE 1 ===" in text
    answer = text.split("=== RESPONSE ===\n", 1)[1]
    assert answer.startswith("Status: 200\nContent-Type: text/event-stream\n")
    assert first.decode() in answer
    assert "client-key" not in text and "sk-claude-upstream" not in text


@pytest.mark.parametrize("request_log", [False, True])
async def test_a_claude_stream_that_fails_mid_way_is_logged_under_the_error_status(
        make_gateway: GatewayFactory, fake_llm: FakeLLM, logs: Path, request_log: bool) -> None:
    """code_handlers.go:282 sets the error's status before the terminal frame: the client keeps
    its 200, but the writer wrapper (response_writer.go:136-171) takes the status, keeps only the
    bytes written after it, and logs: a forced error log with request-log off; with it on, the
    streaming writer's form, whose answer ends without a newline of its own. Other handlers
    write their frame without a status, so their stream stays a 200 (no error log)."""
    gw = await start(make_gateway, fake_llm, logs, request_log=request_log)
    try:
        for path, request_id, body in (("/v1/messages", "msg", {**CHAT, "max_tokens": 10, "stream": True}),
                                       ("/v1/chat/completions", "chat", {**CHAT, "stream": True})):
            fake_llm.script("sk-claude-upstream", Fault("reset", after=3))
            headers = {"Authorization": "Bearer client-key", "X-Request-Id": request_id}
            async with gw.session.post(gw.url + path, data=json.dumps(body), headers=headers) as resp:
                assert resp.status == 200
                received = await resp.read()
            if path == "/v1/messages":
                frame = received[received.rindex(b"event: error\n"):]
        # Written after the two above, so once its file is there theirs would be too.
        assert await gw.chat(b"{", request_id="last") == 400
        await eventually(lambda: any(n.endswith("-last.log") for n in files(logs)))
        ended = sorted(n.rsplit("-", 1)[1] for n in files(logs))
        assert ended == (["chat.log", "last.log", "msg.log"] if request_log else ["last.log", "msg.log"])
        [name] = [n for n in files(logs) if n.endswith("-msg.log")]
        text = (logs / name).read_bytes()
    finally:
        await gw.close()
    assert name.startswith("v1-messages-" if request_log else "error-v1-messages-")
    assert frame.startswith(b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":')
    answer = text.split(b"=== RESPONSE ===\n", 1)[1]
    assert answer.startswith(b"Status: 500\nContent-Type: text/event-stream\n")
    assert answer.endswith(b"\n\n" + frame + (b"" if request_log else b"\n"))
    assert b"content_block_delta" not in answer
    assert (b"=== API REQUEST 1 ===" in text) is request_log


@pytest.mark.parametrize("request_log", [False, True])
async def test_non_stream_keep_alives_are_logged_with_the_answer(make_gateway: GatewayFactory, logs: Path,
                                                                 request_log: bool) -> None:
    """handlers.go:313-356 writes the keep-alive newlines through the logging wrapper, which keeps
    them with the answer; an error after them goes out under the committed 200, but
    WriteErrorResponse's c.Status (handlers.go:692) gives the wrapper its status
    (response_writer.go:136-171): the log says that status, and with request-log off it is an
    error log holding only the error body, also as its API RESPONSE (handlers.go:671-687)."""
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": CLAUDE,
               "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn", "stop_sequence": None,
               "usage": {"input_tokens": 1, "output_tokens": 1}}
    refusal = {"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long"}}

    async def claude(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(1.4)  # past one keep-alive tick
        if body["messages"][0]["content"] == "fail":
            return web.json_response(refusal, status=400)
        return web.json_response(message)

    gw, fake = await start_with_claude(make_gateway, logs, claude, request_log=request_log,
                                       config={"nonstream-keepalive-interval": 1})
    received: dict[str, bytes] = {}
    try:
        for request_id, text in (("ok", "hi"), ("bad", "fail")):
            body = {"model": CLAUDE, "max_tokens": 10, "messages": [{"role": "user", "content": text}]}
            headers = {"Authorization": "Bearer client-key", "X-Request-Id": request_id}
            async with gw.session.post(gw.url + "/v1/messages", data=json.dumps(body), headers=headers) as resp:
                assert resp.status == 200  # committed by the first keep-alive
                received[request_id] = await resp.read()
        assert await gw.chat(b"{", request_id="last") == 400  # its file comes after theirs
        await eventually(lambda: any(n.endswith("-last.log") for n in files(logs)))
        names = {n.rsplit("-", 1)[1]: n for n in files(logs)}
    finally:
        await gw.close()
        await fake.close()
    assert received["ok"].startswith(b"\n") and received["bad"].startswith(b"\n")
    error_body = received["bad"].lstrip(b"\n")
    assert b"prompt is too long" in error_body
    if not request_log:
        assert sorted(names) == ["bad.log", "last.log"]
        text = (logs / names["bad.log"]).read_bytes()
        assert names["bad.log"].startswith("error-v1-messages-")
        assert b"=== API RESPONSE ===\n" + error_body + b"\n\n=== RESPONSE ===\nStatus: 400\n" in text
        assert text.endswith(b"\n\n" + error_body + b"\n")
        return
    ok, bad = (logs / names["ok.log"]).read_bytes(), (logs / names["bad.log"]).read_bytes()
    assert ok.split(b"=== RESPONSE ===\n", 1)[1].startswith(b"Status: 200\n")
    assert ok.endswith(b"\n\n" + received["ok"] + b"\n")
    answer = bad.split(b"=== RESPONSE ===\n", 1)[1]
    assert answer.startswith(b"Status: 400\n") and answer.endswith(b"\n\n" + received["bad"] + b"\n")
    assert bad.count(b"prompt is too long") == 2  # the upstream's answer and the client's


async def test_a_stream_that_fails_before_any_upstream_call_is_logged(make_gateway: GatewayFactory,
                                                                      logs: Path) -> None:
    """The Gemini CLI stream handler forwards an unknown model's error as the stream's terminal
    frame (gemini-cli_handlers.go:138-162); the wrapper keeps it as the answer, and the handler's
    cancel function records the error's text as the API response, there being nothing else
    (handlers.go:270-305)."""
    app = await make_gateway({"default": "native"}, config={"request-log": True})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gw = Gateway(server, logs)
    try:
        async with gw.session.post(gw.url + "/v1internal:streamGenerateContent",
                                   data=json.dumps({"model": "no-such-model", "request": {"contents": []}}),
                                   headers={"X-Request-Id": "cli-unknown"}) as resp:
            assert resp.status == 200
            received = await resp.read()
        await eventually(lambda: len(files(logs)) == 1)
        text = (logs / files(logs)[0]).read_bytes()
    finally:
        await gw.close()
    assert b"unknown provider for model no-such-model" in received
    assert b"=== API REQUEST" not in text
    assert (b"\n\n=== API RESPONSE ===\nunknown provider for model no-such-model\n\n=== RESPONSE ===\nStatus: 200\n"
            in text)
    assert text.endswith(b"\n\n" + received + b"\n")


async def hang_up_while_the_upstream_stalls(gw: Gateway, fake_llm: FakeLLM, body: dict[str, Any],
                                            path: str = "/v1/chat/completions") -> None:
    """Send ``body``, close the connection once the upstream holds the call, and wait until the
    gateway gave the upstream call up; then one bad request, whose file (written after the
    hang-up is settled) says the hung-up one's would be there too by then."""
    fake_llm.script("sk-claude-upstream", Fault("stall", seconds=10))
    headers = {"Authorization": "Bearer client-key", "X-Request-Id": "gone"}
    task = asyncio.ensure_future(gw.session.post(gw.url + path, data=json.dumps(body), headers=headers))
    await eventually(lambda: len(fake_llm.requests) == 1)
    task.cancel()  # the client's connection closes with the request unanswered
    await asyncio.gather(task, return_exceptions=True)
    await eventually(lambda: fake_llm.cancelled == 1)
    assert await gw.chat(b"{", request_id="last") == 400
    await eventually(lambda: any(n.endswith("-last.log") for n in files(gw.logs)))


def cancelled_answer(fake_llm: FakeLLM) -> tuple[str, bytes]:
    """The error the legacy's cancelled upstream call returns (Go's url.Error for the Claude call
    that was waiting for its answer's head, claude_executor.go:156-159), and the 500 body
    WriteErrorResponse builds from it (handlers.go:400-413, 646-693)."""
    error = f'Post "{fake_llm.root}/v1/messages?beta=true": context canceled'
    body = json.dumps({"error": {"message": error, "type": "server_error", "code": "internal_server_error"}},
                      separators=(",", ":")).encode()
    return error, body


async def test_a_non_stream_client_that_hangs_up_is_logged_with_the_error_its_handler_wrote(
        make_gateway: GatewayFactory, fake_llm: FakeLLM, logs: Path) -> None:
    """The legacy's non-stream handlers wait for the call without watching the client: the
    cancelled request context fails the upstream call, WriteErrorResponse still writes its 500
    into the logging wrapper (response_writer.go:66-107, 136-171), and Finalize logs it once the
    handler returns (request_logging.go:56-62). The failed call is the API RESPONSE's error line
    (logging_helpers.go:123-145), which already holds the message, so the body is not appended
    to it (handlers.go:672-687)."""
    gw = await start(make_gateway, fake_llm, logs, request_log=True)
    try:
        await hang_up_while_the_upstream_stalls(gw, fake_llm, CHAT)
        [name] = [n for n in files(logs) if n.endswith("-gone.log")]
        text = (logs / name).read_bytes()
    finally:
        await gw.close()
    assert re.fullmatch(r"v1-chat-completions-\d{4}-\d\d-\d\dT\d{6}-gone\.log", name)
    error, body = cancelled_answer(fake_llm)
    assert text.count(b"=== API REQUEST") == 1
    assert f"Upstream URL: {fake_llm.root}/v1/messages?beta=true\n".encode() in text
    tail = text[text.index(b"=== API RESPONSE 1 ===\n"):]
    assert re.fullmatch(rb"=== API RESPONSE 1 ===\nTimestamp: [^\n]+\n\nError: (.+)\n\n"
                        rb"=== RESPONSE ===\nStatus: 500\nContent-Type: application/json\n" + re.escape(CORS_ONLY)
                        + rb"\n(.+)\n", tail).groups() == (error.encode(), body)
    assert b"client-key" not in text and b"sk-claude-upstream" not in text


async def test_a_non_stream_client_that_hangs_up_leaves_an_error_log(errors_only: Gateway,
                                                                     fake_llm: FakeLLM) -> None:
    """With request-log off the same 500 is an error answer (response_writer.go:266-268): an
    ``error-`` file whose only upstream-side section is the error body WriteErrorResponse
    recorded (handlers.go:679)."""
    await hang_up_while_the_upstream_stalls(errors_only, fake_llm, CHAT)
    [name] = [n for n in files(errors_only.logs) if n.endswith("-gone.log")]
    text = (errors_only.logs / name).read_bytes()
    assert re.fullmatch(r"error-v1-chat-completions-\d{4}-\d\d-\d\dT\d{6}-gone\.log", name)
    _, body = cancelled_answer(fake_llm)
    assert b"=== API REQUEST" not in text
    assert text.endswith(b"\n\n=== API RESPONSE ===\n" + body + b"\n\n=== RESPONSE ===\nStatus: 500\n"
                         b"Content-Type: application/json\n" + CORS_ONLY + b"\n" + body + b"\n")
    assert b"client-key" not in text


async def test_a_non_stream_client_that_hangs_up_while_the_body_comes(make_gateway: GatewayFactory,
                                                                      logs: Path) -> None:
    """Cancelled while reading the answer's body, the legacy's call fails with the bare context
    error (claude_executor.go:182-186), after the head it recorded (logging_helpers.go)."""
    _, text = await hang_up_after_the_upstream_head(make_gateway, logs, CHAT)
    body = b'{"error":{"message":"context canceled","type":"server_error","code":"internal_server_error"}}'
    tail = text[text.index(b"=== API RESPONSE 1 ===\n"):]
    assert re.fullmatch(rb"=== API RESPONSE 1 ===\nTimestamp: [^\n]+\n\nStatus: 200\nHeaders:\n(?:[^\n]+\n)+\n"
                        rb"Error: context canceled\n\n=== RESPONSE ===\nStatus: 500\nContent-Type: application/json\n"
                        + re.escape(CORS_ONLY) + rb"\n(.+)\n", tail).group(1) == body


@pytest.mark.parametrize("request_log", [False, True])
async def test_a_client_that_hangs_up_after_keep_alives_is_logged_under_the_error_status(
        make_gateway: GatewayFactory, fake_llm: FakeLLM, logs: Path, request_log: bool) -> None:
    """After keep-alives the cancelled call's error goes through WriteErrorResponse onto the
    committed answer (handlers.go:689-693): the wrapper takes its status, keeps the whole body
    with request-log on and only the error body with it off (an error log)."""
    app = await make_gateway({"default": "native"}, config={
        "api-keys": ["client-key"], "request-log": request_log, "nonstream-keepalive-interval": 1,
        "claude-api-key": [{"api-key": "sk-claude-upstream", "base-url": fake_llm.root}]})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gw = Gateway(server, logs)
    try:
        fake_llm.script("sk-claude-upstream", Fault("stall", seconds=10))
        body = {"model": CLAUDE, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        response = await gw.session.post(gw.url + "/v1/messages", data=json.dumps(body),
                                         headers={"Authorization": "Bearer client-key", "X-Request-Id": "gone"})
        assert response.status == 200  # committed by the first keep-alive
        assert await response.content.readexactly(1) == b"\n"
        response.close()
        await eventually(lambda: fake_llm.cancelled == 1)
        await eventually(lambda: any(n.endswith("-gone.log") for n in files(logs)))
        [name] = files(logs)
        text = (logs / name).read_bytes()
    finally:
        await gw.close()
    _, error_body = cancelled_answer(fake_llm)
    answer = text.split(b"=== RESPONSE ===\n", 1)[1]
    assert answer.startswith(b"Status: 500\nContent-Type: application/json\n")
    if request_log:
        assert name.startswith("v1-messages-")
        assert answer.endswith(b"\n\n\n" + error_body + b"\n")
    else:
        assert name.startswith("error-v1-messages-")
        assert answer.endswith(b"\n\n" + error_body + b"\n") and not answer.endswith(b"\n\n\n" + error_body + b"\n")
        assert b"=== API RESPONSE ===\n" + error_body + b"\n\n=== RESPONSE ===" in text


# The two stream routes whose handler peeks at the upstream's first chunk before it commits a head
# (openai_handlers.go:469-509, code_handlers.go:221-263), with the file name each request gets.
PEEKING_STREAMS = [
    pytest.param("/v1/chat/completions", {**CHAT, "stream": True}, "v1-chat-completions", id="chat-completions"),
    pytest.param("/v1/messages", {**CHAT, "max_tokens": 10, "stream": True}, "v1-messages", id="claude-messages"),
]


@pytest.mark.parametrize(("path", "body", "stem"), PEEKING_STREAMS)
async def test_a_stream_client_that_hangs_up_before_the_first_chunk_gets_its_request_log(
        make_gateway: GatewayFactory, fake_llm: FakeLLM, logs: Path, path: str, body: dict[str, Any],
        stem: str) -> None:
    """The legacy's stream handler waits for the upstream's head inside ExecuteStreamWithAuthManager
    (handlers.go:478, conductor.go:695, claude_executor.go:274-290): the hang-up fails that call,
    whose error line is recorded before it returns, and its 500 goes into the error channel
    (handlers.go:479-495). The peek select then finds both that and the client's context ready
    and Go picks either; we take the context (openai_handlers.go:471-474, code_handlers.go:224-226),
    the pick that writes nothing, as with request-log off below. The handler's cancel function
    adds nothing to an API response already held (handlers.go:270-280), and Finalize logs Gin's
    default 200 with the CORS middleware's headers alone and no body (response_writer.go:249-256,
    300; request_logger.go:641-682)."""
    gw = await start(make_gateway, fake_llm, logs, request_log=True)
    try:
        await hang_up_while_the_upstream_stalls(gw, fake_llm, body, path)
        [name] = [n for n in files(logs) if n.endswith("-gone.log")]
        text = (logs / name).read_bytes()
    finally:
        await gw.close()
    assert re.fullmatch(stem + r"-\d{4}-\d\d-\d\dT\d{6}-gone\.log", name)
    error, _ = cancelled_answer(fake_llm)
    assert text.startswith(b"=== REQUEST INFO ===\n")
    assert f"\nURL: {path}\nMethod: POST\n".encode() in text
    assert b"=== REQUEST BODY ===\n" + json.dumps(body).encode() + b"\n\n=== API REQUEST 1 ===\n" in text
    assert text.count(b"=== API REQUEST") == 1
    assert f"Upstream URL: {fake_llm.root}/v1/messages?beta=true\n".encode() in text
    tail = text[text.index(b"=== API RESPONSE 1 ===\n"):]
    assert re.fullmatch(rb"=== API RESPONSE 1 ===\nTimestamp: [^\n]+\n\nError: (.+)\n\n"
                        rb"=== RESPONSE ===\nStatus: 200\n" + re.escape(CORS_ONLY) + rb"\n\n", tail).group(1) \
        == error.encode()
    assert b"client-key" not in text and b"sk-claude-upstream" not in text


@pytest.mark.parametrize(("path", "body", "stem"), PEEKING_STREAMS)
async def test_a_stream_client_that_hangs_up_before_the_first_chunk_is_no_error_log(
        errors_only: Gateway, fake_llm: FakeLLM, path: str, body: dict[str, Any], stem: str) -> None:
    """With request-log off the legacy logs only answers with an error status or a recorded
    upstream error (response_writer.go:266-270), and it records the latter only with request-log on
    (handlers.go:696-697): the handler that took the client's context and returned without
    writing leaves Gin's 200, no file. (Had Go's select taken the cancelled call's 500 instead, it
    would be an error log; see above for the pick. The dispatcher's 499 is ours, for metrics and
    the access line.)"""
    await hang_up_while_the_upstream_stalls(errors_only, fake_llm, body, path)
    assert [n for n in files(errors_only.logs) if "gone" in n] == []
    assert any(re.fullmatch(r"error-v1-chat-completions-\d{4}-\d\d-\d\dT\d{6}-last\.log", n)
               for n in files(errors_only.logs))


async def test_a_stream_client_that_hangs_up_after_the_upstream_head_gets_its_request_log(
        make_gateway: GatewayFactory, logs: Path) -> None:
    """Once the upstream's head is in, the legacy's handler waits in its peek select with only the
    client's context to fire (the executor's reader holds no chunk yet): it returns at once having
    written nothing, and its cancel function adds nothing to the recorded head (handlers.go:270-280).
    The reader's "context canceled" (claude_executor.go:375-379) comes from another goroutine once
    the cancellation has reached the body read, after the handler went straight back to Finalize
    (request_logging.go:56-62): the file has the upstream's head and no error line."""
    name, text = await hang_up_after_the_upstream_head(make_gateway, logs, {**CHAT, "stream": True})
    assert re.fullmatch(r"v1-chat-completions-\d{4}-\d\d-\d\dT\d{6}-gone\.log", name)
    assert text.count(b"=== API REQUEST") == 1
    tail = text[text.index(b"=== API RESPONSE 1 ===\n"):]
    head = re.fullmatch(rb"=== API RESPONSE 1 ===\nTimestamp: [^\n]+\n\nStatus: 200\nHeaders:\n((?:[^\n]+\n)+)\n\n"
                        rb"=== RESPONSE ===\nStatus: 200\n" + re.escape(CORS_ONLY) + rb"\n\n", tail)
    assert head is not None and b"X-Upstream: head-only\n" in head.group(1)
    assert b"client-key" not in text and b"sk-claude-upstream" not in text
