import asyncio

from quotio_gateway.legacy.headers import client_response_headers, upstream_request_headers


def names(headers):
    return [name.lower() for name, _ in headers]


def test_hop_by_hop_and_connection_named_headers_are_dropped():
    out = upstream_request_headers(
        [("Host", "gw"), ("Connection", "keep-alive, X-Secret-Hop"), ("X-Secret-Hop", "1"), ("TE", "trailers"),
         ("Transfer-Encoding", "chunked"), ("Content-Length", "5"), ("Expect", "100-continue"),
         ("Upgrade", "h2c"), ("Proxy-Authorization", "Basic x"), ("X-Keep", "yes")],
        client_ip="10.0.0.7", scheme="http", host="gw", trusted_peer=False, request_id="rid")
    assert names(out) == ["host", "x-keep", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                          "x-request-id"]
    assert dict(out)["X-Forwarded-For"] == "10.0.0.7"


def test_header_injection_attempts_never_reach_legacy():
    out = upstream_request_headers(
        [("X-Evil", "a\r\nX-Injected: 1"), ("X-Nul", "a\x00b"), ("X-Lf", "a\nb"), ("X-Fine", "ok")],
        client_ip="1.2.3.4", scheme="http", host="gw\r\nX-Bad: 1", trusted_peer=False, request_id="rid")
    rendered = "".join(f"{k}: {v}\r\n" for k, v in out)
    assert "X-Injected" not in rendered and "X-Bad" not in rendered and "\x00" not in rendered
    assert ("X-Fine", "ok") in out
    assert "x-forwarded-host" not in names(out)


def test_untrusted_forwarding_claims_are_replaced_trusted_kept():
    claims = [("X-Forwarded-For", "127.0.0.1"), ("X-Real-IP", "127.0.0.1"), ("Forwarded", "for=127.0.0.1")]
    out = upstream_request_headers(claims, client_ip="198.51.100.4", scheme="https", host="gw",
                                   trusted_peer=False, request_id="r")
    assert "x-real-ip" not in names(out) and "forwarded" not in names(out)
    assert dict(out)["X-Forwarded-For"] == "198.51.100.4"
    trusted = upstream_request_headers(claims, client_ip="10.0.0.1", scheme="https", host="gw",
                                       trusted_peer=True, request_id="r")
    assert dict(trusted)["X-Forwarded-For"] == "127.0.0.1, 10.0.0.1"
    assert dict(trusted)["X-Real-IP"] == "127.0.0.1"


def test_response_headers_lose_hop_by_hop_and_server():
    out = client_response_headers([(b"Content-Type", b"application/json"), (b"Connection", b"close, X-Hop"),
                                   (b"X-Hop", b"1"), (b"Transfer-Encoding", b"chunked"), (b"Server", b"x"),
                                   (b"Content-Encoding", b"gzip")])
    assert out == [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]


async def test_raw_crlf_in_a_request_header_is_refused_before_forwarding(legacy, make_gateway, aiohttp_server):
    app = await make_gateway({"legacy": {"url": legacy.url}})
    server = await aiohttp_server(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: v\rX-Injected: 1\r\n\r\n")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status.split(b" ")[1] == b"400"
    assert legacy.calls == []
