"""The direct (no proxy) upstream client: the same bytes on the wire as aiohttp, and the answers
aiohttp would read — compressed, interim, read-until-close, over TLS, on a socket the upstream
closed while it idled — over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import brotli
import pytest
from aiohttp import web

from handlers.providers import OpenAICompatExecutor, Timeouts, UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.base import PreparedRequest, UpstreamResult
from handlers.providers.direct_http import eligible, request_head
from handlers.providers.http import _url, with_go_defaults

from .test_http import cred

try:
    from compression import zstd  # type: ignore[import-not-found]  # Python 3.14+
except ImportError:
    from backports import zstd

Answer = Callable[[bytes], bytes]


class RawUpstream:
    """A TCP server that records each request's bytes and writes whatever ``answer`` returns;
    ``close_after`` hangs up after that many answers on a connection."""

    def __init__(self, answer: Answer, *, close_after: int = 0, later: bytes = b"") -> None:
        self.answer = answer
        self.close_after = close_after
        self.later = later  # written 20 ms after each answer, while the client's socket idles
        self.requests: list[bytes] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answered = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                reply = self.answer(head + body)
                writer.write(reply)
                await writer.drain()
                if self.later:
                    await asyncio.sleep(0.02)
                    writer.write(self.later)
                answered += 1
                if (self.close_after and answered >= self.close_after) or b"Connection: close" in reply:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def raw() -> AsyncIterator[Callable[..., RawUpstream]]:
    started: list[RawUpstream] = []

    async def make(answer: Answer, **kwargs: Any) -> RawUpstream:
        server = RawUpstream(answer, **kwargs)
        await server.start()
        started.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in started:
        await server.stop()


def ok(body: bytes = b'{"ok":true}', extra: str = "") -> Answer:
    return lambda _: (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                      f"{extra}\r\n").encode() + body


PREPARED = [
    PreparedRequest("POST", "/v1/chat/completions?key=a%20b", (
        ("Content-Type", "application/json"), ("Authorization", "Bearer sk-1"), ("X-Stainless-Lang", "py"),
        ("Connection", "keep-alive")),
        b'{"model":"m"}'),
    # Another spelling of a name replaces the earlier line in place; the same spelling adds one.
    PreparedRequest("POST", "/v1/messages", (
        ("x-api-key", "k1"), ("Anthropic-Version", "2023-06-01"), ("X-Api-Key", "k2"),
        ("Anthropic-Beta", "a"), ("Anthropic-Beta", "b")), b"{}"),
    # Given Host, User-Agent, Accept and Accept-Encoding win; an empty body still has a type.
    # (The others get Go's User-Agent and Accept-Encoding from the upstream client, as the legacy's
    # calls carry them: the same lines through aiohttp and the direct client.)
    PreparedRequest("POST", "/v1/y", (
        ("Host", "example.com"), ("User-Agent", "claude-cli/1.0.83 (external, cli)"), ("Accept", "text/event-stream"),
        ("Accept-Encoding", "identity")), b""),
    PreparedRequest("POST", "/v1/z", (("Host", "a.example"), ("X-K", "1"), ("Host", "b.example:8443")), b"{}"),
    # (A GET without a body, which only a followed redirect sends, goes through aiohttp: redirects.py.)
    PreparedRequest("POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&$x=%7E", (), b""),
    PreparedRequest("POST", "/p%C3%A4th/caf\u00e9", (("Content-Type", "application/json"),), b'{"\xc3\xa4":1}'),
]


@pytest.mark.parametrize("prepared", PREPARED, ids=range(len(PREPARED)))
async def test_the_request_on_the_wire_is_the_one_aiohttp_sends(raw, prepared: PreparedRequest) -> None:
    server = await raw(ok())
    url = f"http://127.0.0.1:{server.port}{prepared.url}"
    sent = with_go_defaults(prepared)
    # The session UpstreamClient opens for proxied calls: no Accept of aiohttp's own.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                     skip_auto_headers=("Accept",)) as session, session.request(
            prepared.method, _url(url), headers=list(sent.headers), data=prepared.body,
            allow_redirects=False) as response:
        await response.read()
    client = UpstreamClient()
    try:
        direct = PreparedRequest(prepared.method, url, prepared.headers, prepared.body)
        result = await client.request(direct, "", _no_error)
    finally:
        await client.close()
    assert result.body == b'{"ok":true}'
    assert len(server.requests) == 2
    assert server.requests[1] == server.requests[0]
    assert request_head(prepared.method, _url(url), sent.headers, prepared.body) == \
        server.requests[0][:len(server.requests[0]) - len(prepared.body)]


async def test_a_call_that_sets_no_accept_sends_none(raw) -> None:
    # Go's net/http adds no Accept, and the Gemini, Vertex and OpenAI-compatible non-stream
    # executors set none (gemini_executor.go, openai_compat_executor.go:105-109); aiohttp's */*
    # default must not appear on the direct path either.
    server = await raw(ok())
    await post(f"http://127.0.0.1:{server.port}/v1beta/models/m:generateContent")
    head = server.requests[0].split(b"\r\n\r\n", 1)[0]
    assert head.split(b"\r\n")[1:] == [f"Host: 127.0.0.1:{server.port}".encode(), b"User-Agent: Go-http-client/1.1",
                                       b"Accept-Encoding: gzip", b"Content-Length: 2",
                                       b"Content-Type: application/octet-stream"]


def _no_error(status: int, body: bytes, headers: object) -> UpstreamError:
    raise AssertionError(f"unexpected {status}: {body!r}")


async def post(url: str, client: UpstreamClient | None = None) -> UpstreamResult:
    """One POST of ``{}`` through ``client`` (a fresh one, closed after, when not given)."""
    own = client or UpstreamClient()
    try:
        return await own.request(PreparedRequest("POST", url, (), b"{}"), "", _no_error)
    finally:
        if client is None:
            await own.close()


def test_calls_with_framing_headers_or_user_info_stay_with_aiohttp() -> None:
    url = _url("https://api.anthropic.com/v1/messages")
    assert eligible(url) and request_head("POST", url, [("X-Api-Key", "k")], b"{}") is not None
    assert not eligible(_url("https://u:p@api.example.com/v1"))
    assert request_head("POST", url, [("Transfer-Encoding", "chunked")], b"{}") is None
    assert request_head("POST", url, [("content-length", "3")], b"{}") is None
    assert not eligible(_url("ws://127.0.0.1:1/v1"))


@pytest.mark.parametrize("encoding", ["gzip", "gzip-members", "deflate", "deflate-raw", "br", "zstd"])
async def test_compressed_answers_are_decoded(raw, encoding: str) -> None:
    plain = b'{"choices":[{"message":{"content":"' + b"x" * 5000 + b'"}}]}'
    if encoding == "gzip":
        packed = gzip.compress(plain)
    elif encoding == "gzip-members":  # two gzip members back to back, which aiohttp reads whole
        packed = gzip.compress(plain[:2000]) + gzip.compress(plain[2000:])
    elif encoding == "deflate":
        packed = zlib.compress(plain)
    elif encoding == "br":
        packed = brotli.compress(plain)
    elif encoding == "zstd":
        packed = zstd.compress(plain)
    else:
        squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        packed = squeezer.compress(plain) + squeezer.flush()
    name = encoding.split("-")[0]
    server = await raw(lambda _: (f"HTTP/1.1 200 OK\r\nContent-Encoding: {name}\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  f"{len(packed[:100]):x}\r\n").encode() + packed[:100] +
                       f"\r\n{len(packed[100:]):x}\r\n".encode() + packed[100:] + b"\r\n0\r\n\r\n")
    result = await post(f"http://127.0.0.1:{server.port}/v1")
    assert result.body == plain
    assert result.headers["Content-Encoding"] == name


async def test_a_stream_without_length_ends_where_the_connection_does(raw) -> None:
    frames = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'
    server = await raw(lambda _: b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" + frames, close_after=1)
    client = UpstreamClient()
    try:
        for _ in range(2):  # the socket ended with the body, so the second call connects anew
            async with await OpenAICompatExecutor(client).stream(cred(f"http://127.0.0.1:{server.port}"),
                                                                 UpstreamRequest("m", {"messages": []})) as stream:
                events = [event.data async for event in stream]
            assert events[-1] == "[DONE]"
            assert len(events) == 2
    finally:
        await client.close()
    assert server.connections == 2


async def test_an_idle_socket_the_upstream_closed_is_replaced_once(raw) -> None:
    server = await raw(ok(), close_after=1)
    client = UpstreamClient()
    try:
        for _ in range(3):
            assert (await post(f"http://127.0.0.1:{server.port}/v1", client)).body == b'{"ok":true}'
            await asyncio.sleep(0.05)  # the upstream's close reaches us while the socket idles
    finally:
        await client.close()
    assert server.connections == 3


async def test_a_socket_that_stays_open_is_reused(raw) -> None:
    server = await raw(ok())
    client = UpstreamClient()
    try:
        for _ in range(3):
            await post(f"http://127.0.0.1:{server.port}/v1", client)
    finally:
        await client.close()
    assert (len(server.requests), server.connections) == (3, 1)


async def test_an_interim_answer_is_skipped(raw) -> None:
    server = await raw(lambda _: b"HTTP/1.1 100 Continue\r\n\r\n" + ok()(b""))
    result = await post(f"http://127.0.0.1:{server.port}/v1")
    assert (result.status, result.body) == (200, b'{"ok":true}')


async def test_a_malformed_status_line_is_a_transient_error(raw) -> None:
    server = await raw(lambda _: b"HTTP/1.1 abc\r\n\r\n")
    with pytest.raises(UpstreamError) as caught:
        await post(f"http://127.0.0.1:{server.port}/v1")
    assert (caught.value.scope, caught.value.status) == ("transient", None)
    assert caught.value.message.startswith(f"request to http://127.0.0.1:{server.port}/v1 failed: malformed response")


async def test_a_hang_up_before_the_answer(raw) -> None:
    server = await raw(lambda _: b"", close_after=1)
    with pytest.raises(UpstreamError) as caught:
        await post(f"http://127.0.0.1:{server.port}/v1")
    assert caught.value.message == f"http://127.0.0.1:{server.port}/v1 closed the connection before answering"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    home = tmp_path_factory.mktemp("tls")
    cert, key = home / "cert.pem", home / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
async def tls_upstream(certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path, "host": request.headers["Host"]})

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    yield f"https://localhost:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_https_upstreams_are_verified_against_trusted_certificates(tls_upstream: str,
                                                                          certificate: tuple[Path, Path]) -> None:
    trusting = UpstreamClient(ssl_context=ssl.create_default_context(cafile=str(certificate[0])))
    try:
        result = await post(tls_upstream + "/v1/messages", trusting)
    finally:
        await trusting.close()
    port = tls_upstream.rsplit(":", 1)[1]
    assert result.status == 200
    assert result.body == b'{"path": "/v1/messages", "host": "localhost:' + port.encode() + b'"}'

    with pytest.raises(UpstreamError) as caught:
        await post(tls_upstream + "/v1/messages")
    assert caught.value.message.startswith(f"connect to {tls_upstream}/v1/messages failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message


@pytest.mark.parametrize("header", [("X-Evil", "a\r\nX-Injected: 1"), ("X-Evil\n", "a")])
def test_a_line_break_in_a_header_is_refused_as_aiohttp_refuses_it(header: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="Newline or carriage return"):
        request_head("POST", _url("http://127.0.0.1:1/v1"), [("Accept", "*/*"), header], b"{}")


@pytest.mark.parametrize("when", ["with the answer", "while idle"])
async def test_a_socket_that_spoke_out_of_turn_is_not_reused(raw, when: str) -> None:
    late = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"
    if when == "with the answer":
        server = await raw(lambda _: ok()(b"") + late)  # a stray answer right behind the real one
    else:
        server = await raw(ok(), later=late)
    client = UpstreamClient()
    try:
        for _ in range(2):
            result = await post(f"http://127.0.0.1:{server.port}/v1", client)
            assert (result.status, result.body) == (200, b'{"ok":true}')
            await asyncio.sleep(0.05)
    finally:
        await client.close()
    assert server.connections == 2


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A listener that never accepts, its backlog filled: the next connect waits for a SYN-ACK
    that does not come, on loopback."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in (*fillers, listener):
        sock.close()


async def test_the_connect_timeout_and_a_reloaded_one(unanswered_port: int) -> None:
    port = unanswered_port
    client = UpstreamClient(Timeouts(connect=0.3))
    try:
        for connect in (0.3, 0.6):  # a reload's new value applies to the next direct connection
            client.timeouts = Timeouts(connect=connect)
            with pytest.raises(UpstreamError) as caught:
                await post(f"http://127.0.0.1:{port}/v1", client)
            assert caught.value.message == f"connect to http://127.0.0.1:{port}/v1 timed out after {connect:g}s"
    finally:
        await client.close()


async def test_a_first_byte_limit_shorter_than_the_connect_timeout_ends_the_connect(unanswered_port: int) -> None:
    # The first-byte limit bounds the whole wait for an answer, connecting included.
    client = UpstreamClient(Timeouts(connect=5.0, first_byte=0.3))
    started = asyncio.get_running_loop().time()
    try:
        with pytest.raises(UpstreamError) as caught:
            await post(f"http://127.0.0.1:{unanswered_port}/v1", client)
    finally:
        await client.close()
    assert caught.value.message == f"http://127.0.0.1:{unanswered_port}/v1 sent no response within 0.3s"
    assert (caught.value.scope, caught.value.status) == ("transient", None)
    assert asyncio.get_running_loop().time() - started < 4.0


async def test_a_silent_upstream_on_a_reused_socket_hits_the_first_byte_limit(raw) -> None:
    # The first call answers, the second gets nothing on the same (pooled) connection: the socket
    # is dropped, not put back, and the next call connects anew and is answered.
    calls: list[int] = []

    def answer(_: bytes) -> bytes:
        calls.append(1)
        return ok()(b"") if len(calls) != 2 else b""

    server = await raw(answer)
    client = UpstreamClient(Timeouts(connect=2.0, first_byte=0.3))
    url = f"http://127.0.0.1:{server.port}/v1"
    try:
        assert (await post(url, client)).body == b'{"ok":true}'
        with pytest.raises(UpstreamError) as caught:
            await post(url, client)
        assert caught.value.message == f"{url} sent no response within 0.3s"
        assert (await post(url, client)).body == b'{"ok":true}'
    finally:
        await client.close()
    assert server.connections == 2
    assert len(server.requests) == 3


class _RecordingTransport:
    def __init__(self, log: list[tuple[str, bytes]], name: str, closing: bool = False) -> None:
        self.log = log
        self.name = name
        self.closing = closing

    def write(self, data: bytes) -> None:
        self.log.append((self.name, data))

    def is_closing(self) -> bool:
        return self.closing


async def test_request_writes_of_one_turn_leave_together_when_it_ends() -> None:
    from handlers.providers.direct_http import _Outbox

    log: list[tuple[str, bytes]] = []
    outbox = _Outbox(asyncio.get_running_loop())
    first, second = _RecordingTransport(log, "a"), _RecordingTransport(log, "b")
    outbox.put(first, b"GET /1")
    outbox.put(second, b"GET /2")
    assert log == []  # held while the turn's other callbacks run
    await asyncio.sleep(0)
    assert log == [("a", b"GET /1"), ("b", b"GET /2")]
    outbox.put(first, b"GET /3")
    await asyncio.sleep(0)
    assert log[-1] == ("a", b"GET /3")  # a later turn gets its own flush


async def test_a_request_aborted_before_its_turn_ends_writes_nothing() -> None:
    from handlers.providers.direct_http import _Outbox

    log: list[tuple[str, bytes]] = []
    outbox = _Outbox(asyncio.get_running_loop())
    gone = _RecordingTransport(log, "gone")
    outbox.put(gone, b"POST /v1/messages")
    outbox.put(_RecordingTransport(log, "kept"), b"POST /v1/messages")
    gone.closing = True  # the client left and the exchange aborted its socket
    await asyncio.sleep(0)
    assert log == [("kept", b"POST /v1/messages")]


async def test_concurrent_calls_started_in_one_turn_all_get_their_answers(raw) -> None:
    server = await raw(ok())
    client = UpstreamClient()
    try:
        results = await asyncio.gather(*(post(f"http://127.0.0.1:{server.port}/v1/x{i}", client)
                                         for i in range(5)))
    finally:
        await client.close()
    assert [r.body for r in results] == [b'{"ok":true}'] * 5
    assert sorted(r.split(b" ")[1] for r in server.requests) == [f"/v1/x{i}".encode() for i in range(5)]
    assert server.connections == 5


async def test_a_request_the_upstream_read_and_hung_up_on_is_not_sent_again(raw) -> None:
    """A reused socket the upstream closes after reading the whole request, without answering:
    it may have acted on it, so the POST is not written again (Go's transport and aiohttp resend
    only idempotent requests). The caller gets the failure and decides (the next credential)."""
    def answer(request: bytes) -> bytes:
        if len(server.requests) == 2:
            raise ConnectionResetError  # read whole, then hung up with nothing said
        return ok()(request)

    server = await raw(answer)
    client = UpstreamClient()
    try:
        assert (await post(f"http://127.0.0.1:{server.port}/v1", client)).body == b'{"ok":true}'
        with pytest.raises(UpstreamError) as caught:
            await post(f"http://127.0.0.1:{server.port}/v1", client)
    finally:
        await client.close()
    assert (len(server.requests), server.connections) == (2, 1)
    assert (caught.value.scope, caught.value.status) == ("transient", None)
    assert b"closed the connection before answering" in caught.value.body
