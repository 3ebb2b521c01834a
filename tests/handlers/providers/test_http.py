"""Transport faults, timeouts, cancellation and pooling, over real sockets (the OpenAI-compatible
executor is the vehicle; every executor shares this path)."""

from __future__ import annotations

import asyncio
import socket

import orjson
import pytest
from aiohttp import web

from handlers.providers import (
    APIKeyCredential,
    OpenAICompatExecutor,
    Timeouts,
    UpstreamClient,
    UpstreamError,
    UpstreamRequest,
)

CHUNK = {"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}]}


def cred(url: str, proxy: str = "") -> APIKeyCredential:
    return APIKeyCredential("compat", "sk-1", url + "/v1", proxy_url=proxy)


def req(stream: bool = True) -> UpstreamRequest:
    return UpstreamRequest("m", {"messages": []}, stream=stream)


async def collect(client: UpstreamClient, url: str) -> list:
    async with await OpenAICompatExecutor(client).stream(cred(url), req()) as stream:
        return [event async for event in stream]


def assert_transient(error: UpstreamError, message: str) -> None:
    assert (error.scope, error.status, error.reason) == ("transient", None, "transient")
    assert error.message == message
    assert error.client_status == 500


async def test_reset_mid_stream(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK)], end="reset")
    with pytest.raises(UpstreamError) as caught:
        await collect(client, upstream.url)
    assert_transient(caught.value, "upstream connection broke mid-body")


async def test_clean_close_before_the_terminal_event(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK)])
    with pytest.raises(UpstreamError) as caught:
        await collect(client, upstream.url)
    assert_transient(caught.value, "upstream stream closed before [DONE]")


async def test_malformed_event_data_comes_without_a_payload_and_the_stream_goes_on(upstream,
                                                                                   client: UpstreamClient) -> None:
    # As gjson reads it in the legacy: nothing in it, so relays pass it on and translators skip it.
    upstream.answer_sse([upstream.frame(CHUNK), b"data: {not json\n\n", b"data: [DONE]\n\n"])
    async with await OpenAICompatExecutor(client).stream(cred(upstream.url), req()) as stream:
        seen = [(event.data, event.payload, event.error) async for event in stream]
    assert seen == [(orjson.dumps(CHUNK).decode(), CHUNK, None), ("{not json", None, None), ("[DONE]", None, None)]


async def test_non_sse_body_on_a_stream_is_a_truncated_stream(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([b"<html>bad gateway</html>"])
    with pytest.raises(UpstreamError) as caught:
        await collect(client, upstream.url)
    assert_transient(caught.value, "upstream stream closed before [DONE]")


async def test_stall_mid_stream_hits_the_idle_timeout_and_hangs_up(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK)], end="stall")
    with pytest.raises(UpstreamError) as caught:
        await collect(client, upstream.url)
    assert_transient(caught.value, "upstream sent nothing for 0.5s")
    await upstream.wait_disconnect()


async def test_stall_after_the_terminal_event_ends_the_stream_whole(upstream, client: UpstreamClient) -> None:
    # The answer is complete ([DONE] came); an upstream that then neither closes nor sends must not
    # turn it into an idle-timeout error. The connection is closed, not pooled.
    upstream.answer_sse([upstream.frame(CHUNK), b"data: [DONE]\n\n"], end="stall")
    events = await collect(client, upstream.url)
    assert [event.data for event in events] == [orjson.dumps(CHUNK).decode(), "[DONE]"]
    await upstream.wait_disconnect()


async def test_stall_before_headers_hits_the_first_byte_timeout(upstream, client: UpstreamClient) -> None:
    upstream.answer_stall()
    for stream in (True, False):
        upstream.disconnected.clear()
        executor = OpenAICompatExecutor(client)
        with pytest.raises(UpstreamError) as caught:
            if stream:
                await executor.stream(cred(upstream.url), req())
            else:
                await executor.execute(cred(upstream.url), req(False))
        assert_transient(caught.value, f"{upstream.url}/v1/chat/completions sent no response within 0.5s")
        await upstream.wait_disconnect()


async def test_connection_refused(client: UpstreamClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UpstreamError) as caught:
        await OpenAICompatExecutor(client).execute(cred(f"http://127.0.0.1:{port}"), req(False))
    error = caught.value
    assert (error.scope, error.status) == ("transient", None)
    assert error.message.startswith(f"connect to http://127.0.0.1:{port}/v1/chat/completions failed: ")


async def test_truncated_non_stream_body(upstream, client: UpstreamClient) -> None:
    async def script(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100", "Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"id":')
        assert request.transport is not None
        request.transport.abort()
        return response

    upstream.script = script
    with pytest.raises(UpstreamError) as caught:
        await OpenAICompatExecutor(client).execute(cred(upstream.url), req(False))
    assert_transient(caught.value, "upstream connection broke mid-body")


async def test_cancelling_the_consumer_closes_the_upstream_connection(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK)], end="stall")
    first = asyncio.Event()
    slow = UpstreamClient(Timeouts(idle=60.0))

    async def consume() -> None:
        async with await OpenAICompatExecutor(slow).stream(cred(upstream.url), req()) as stream:
            async for _ in stream:
                first.set()

    task = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(first.wait(), 5)
        assert not upstream.disconnected.is_set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await upstream.wait_disconnect()
    finally:
        await slow.close()


async def test_leaving_a_stream_early_closes_the_upstream_connection(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK)], end="stall")
    stream = await OpenAICompatExecutor(client).stream(cred(upstream.url), req())
    async with stream:
        async for event in stream:
            assert event.payload == CHUNK
            break
    assert stream.closed
    await upstream.wait_disconnect()


async def test_complete_streams_reuse_one_pooled_connection(upstream, client: UpstreamClient) -> None:
    peers: list[object] = []

    async def script(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    upstream.script = script
    for _ in range(3):
        assert [e.data for e in await collect(client, upstream.url)] == ["[DONE]"]
    assert len(peers) == 3
    assert len(set(peers)) == 1


async def test_one_session_per_proxy_url(client: UpstreamClient) -> None:
    direct, direct_proxy = client.session_for("")
    assert client.session_for("") == (direct, None)
    assert direct_proxy is None
    proxied, proxy = client.session_for("http://user:pw@127.0.0.1:3128")
    assert proxied is not direct
    assert proxy == "http://user:pw@127.0.0.1:3128"
    odd, odd_proxy = client.session_for("ftp://127.0.0.1:21")
    assert odd_proxy is None and odd is not direct


class _Socks5:
    """A minimal SOCKS5 server (no auth, CONNECT only) that records where it was asked to go."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"socks5://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _version, methods = await reader.readexactly(2)
        await reader.readexactly(methods)
        writer.write(b"\x05\x00")
        _ver, _cmd, _rsv, kind = await reader.readexactly(4)
        if kind == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        else:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        port = int.from_bytes(await reader.readexactly(2), "big")
        self.targets.append((host, port))
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + bytes(2))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)


async def test_socks5_proxy_url_carries_the_request(upstream, client: UpstreamClient) -> None:
    socks = _Socks5()
    await socks.start()
    try:
        upstream.answer_json(200, {"ok": True})
        port = int(upstream.url.rsplit(":", 1)[1].split("/")[0])
        target = APIKeyCredential("compat", "sk-1", f"http://127.0.0.1:{port}/v1", proxy_url=socks.url)
        result = await OpenAICompatExecutor(client).execute(target, req(False))
        assert result.json() == {"ok": True}
        # The call went through the proxy, to the upstream's own address.
        assert socks.targets == [("127.0.0.1", port)]
        assert upstream.last.headers["Authorization"] == "Bearer sk-1"
    finally:
        await socks.stop()


async def test_http_proxy_url_carries_the_request(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, {"ok": True})
    target = APIKeyCredential("compat", "sk-1", "http://upstream.invalid/v1", proxy_url=upstream.url)
    result = await OpenAICompatExecutor(client).execute(target, req(False))
    assert result.json() == {"ok": True}
    assert upstream.last.headers["Host"] == "upstream.invalid"
    assert upstream.last.path_qs == "/v1/chat/completions"
    assert upstream.last.headers["Authorization"] == "Bearer sk-1"


async def test_cancelling_a_non_stream_call_mid_body_closes_the_upstream_connection(upstream) -> None:
    started = asyncio.Event()

    async def script(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100", "Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"id":')
        started.set()
        await asyncio.sleep(3600)
        return response

    upstream.script = script
    slow = UpstreamClient(Timeouts(idle=60.0))
    try:
        task = asyncio.create_task(OpenAICompatExecutor(slow).execute(cred(upstream.url), req(False)))
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await upstream.wait_disconnect()
    finally:
        await slow.close()


async def test_pending_counts_the_events_left_from_the_same_chunk(upstream, client: UpstreamClient) -> None:
    # One upstream write with three events (the blank one is skipped), then the terminator alone.
    one_write = upstream.frame(CHUNK) + b"data: \n\n" + upstream.frame(CHUNK)
    upstream.answer_sse([one_write, b"data: [DONE]\n\n"], delay=0.05)
    seen: list[tuple[object, int]] = []
    async with await OpenAICompatExecutor(client).stream(cred(upstream.url), req()) as stream:
        async for event in stream:
            seen.append((event.payload, stream.pending))
    assert seen == [(CHUNK, 1), (CHUNK, 0), (None, 0)]


async def test_malformed_event_in_one_chunk_after_good_ones(upstream, client: UpstreamClient) -> None:
    # Every event of the chunk is handed out in order, the unparsed one among them.
    upstream.answer_sse([upstream.frame(CHUNK) + upstream.frame(CHUNK) + b"data: {not json\n\ndata: [DONE]\n\n"])
    seen: list[tuple[object, int]] = []
    async with await OpenAICompatExecutor(client).stream(cred(upstream.url), req()) as stream:
        async for event in stream:
            seen.append((event.payload, stream.pending))
    assert seen == [(CHUNK, 3), (CHUNK, 2), (None, 1), (None, 0)]


async def test_idle_timeout_counts_each_gap_not_the_whole_stream(upstream, client: UpstreamClient) -> None:
    # Gaps of 0.2 s under the 0.5 s idle timeout, 1 s in all: the one per-stream timer must keep
    # moving its deadline, not fire 0.5 s after the first wait.
    upstream.answer_sse([upstream.frame(CHUNK)] * 5 + [b"data: [DONE]\n\n"], delay=0.2)
    events = await collect(client, upstream.url)
    assert [e.payload for e in events] == [CHUNK] * 5 + [None]


async def test_an_upstream_cookie_is_never_sent_back(upstream, client: UpstreamClient) -> None:
    # The legacy's Go client keeps no cookie jar: a cookie one credential's call received must not
    # ride along on the next call, which may be for another credential on the same host.
    upstream.answer_json(200, {"ok": True}, headers={"Set-Cookie": "session=credential-a; Path=/"})
    by_name = f"http://localhost:{upstream.port}"  # a jar would refuse a cookie from an IP address
    await OpenAICompatExecutor(client).execute(cred(by_name), req(False))
    await OpenAICompatExecutor(client).execute(cred(by_name), req(False))
    assert [r.headers.get("Cookie") for r in upstream.requests] == [None, None]
