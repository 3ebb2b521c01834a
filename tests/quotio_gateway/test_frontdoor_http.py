"""The front door's head reader: the split-without-a-parser path for plain heads must give exactly
what llhttp (httptools) gives, and every head it does not take must still reach httptools."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotio_gateway import frontdoor_http
from quotio_gateway.frontdoor_http import RequestHead, _parsed_head, parse_head

CLIENT_HEAD = (b"POST /v1/chat/completions?n=1 HTTP/1.1\r\nHost: 127.0.0.1:8317\r\n"
               b"Authorization: Bearer sk-bench\r\nContent-Type: application/json\r\nAccept: */*\r\n"
               b"Accept-Encoding: gzip, deflate\r\nUser-Agent: Python/3.11 aiohttp/3.14.1\r\n"
               b"Content-Length: 84\r\n\r\n")


def both(head: bytes) -> tuple[RequestHead | None, RequestHead | None]:
    return parse_head(head), _parsed_head(head)


def test_a_client_head_takes_the_plain_path_and_reads_as_httptools_reads_it(monkeypatch) -> None:
    plain, parsed = both(CLIENT_HEAD)
    assert plain == parsed
    assert plain is not None
    assert plain.method == "POST" and plain.target == "/v1/chat/completions?n=1"
    assert plain.path == "/v1/chat/completions" and plain.host == "127.0.0.1:8317"
    assert plain.content_length == 84 and plain.keep_alive and plain.ascii
    assert plain.headers[1] == ("Authorization", "Bearer sk-bench")
    assert plain.raw[1] == (b"Authorization", b"Bearer sk-bench")

    # The plain path really is taken: with httptools unavailable it still reads the head.
    def no_parser(head: bytes) -> None:
        raise AssertionError("httptools path used")
    monkeypatch.setattr(frontdoor_http, "_parsed_head", no_parser)
    assert parse_head(CLIENT_HEAD) == plain


@pytest.mark.parametrize("head", [
    # Connection tokens: the two plain ones are read here, anything else by llhttp.
    b"POST /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
    # What the lane refuses either way.
    b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3x\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nHost: i\r\nContent-Length: 0\r\n\r\n",
    b"POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    b"POST /a/../x HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /a%2Fb HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST //x HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST http://h/x HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /x HTTP/1.0\r\nHost: h\r\n\r\n",
    b"BREW /x HTTP/1.1\r\nHost: h\r\n\r\n",
    # Shapes outside the plain one: llhttp reads them.
    b"POST /x HTTP/1.1\r\nHost:h\r\nContent-Length:0\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost:   h  \r\nContent-Length: 0\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nX-Empty: \r\nContent-Length: 0\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nX-Tab: a\tb\r\nContent-Length: 0\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nX-Utf8: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n",
    b"POST /x\xc3\xa9 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nX-Fold: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nBad Name: v\r\nContent-Length: 0\r\n\r\n",
    b"POST /x HTTP/1.1\nHost: h\n\n",
    b"POST  /x HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /v1/models HTTP/1.1\r\nHost: h\r\nX-Request-Id: abc\r\nContent-Encoding: gzip\r\n\r\n",
])
def test_every_shape_reads_as_httptools_reads_it(head: bytes) -> None:
    plain, parsed = both(head)
    assert plain == parsed


def test_the_plain_path_sees_connection_close() -> None:
    head = parse_head(b"POST /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert head is not None and not head.keep_alive


_NAME = st.text(alphabet="!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-",
                min_size=1, max_size=12)
# Mostly what clients send (visible ASCII with inner spaces), and any bytes at all: spaces and
# tabs at the ends, obs-text, control characters.
_VISIBLE = "".join(chr(c) for c in range(0x21, 0x7f)) + " "
_CLIENT_VALUE = st.text(alphabet=_VISIBLE, min_size=1, max_size=16).map(str.encode)
_VALUE = st.one_of(_CLIENT_VALUE, _CLIENT_VALUE, _CLIENT_VALUE, _CLIENT_VALUE, st.binary(max_size=8))
_TARGET = st.text(alphabet="/abcxyz019?&=%.-_~!$'()*+,;:@[]{}|^`\"<>\\", min_size=0, max_size=20)


@settings(max_examples=400, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "BREW"]),
       target=_TARGET,
       headers=st.lists(st.tuples(_NAME, _VALUE), max_size=6),
       host=st.booleans(), length=st.sampled_from([None, b"0", b"12", b"012", b"1x"]),
       connection=st.sampled_from([None, b"close", b"keep-alive", b"CLOSE", b"Upgrade", b"close, te"]))
def test_any_head_reads_as_httptools_reads_it(method: str, target: str, headers: list[tuple[str, bytes]],
                                              host: bool, length: bytes | None, connection: bytes | None) -> None:
    lines = [f"{method} /{target} HTTP/1.1".encode()]
    if host:
        lines.append(b"Host: example")
    lines += [name.encode() + b": " + value for name, value in headers]
    if length is not None:
        lines.append(b"Content-Length: " + length)
    if connection is not None:
        lines.append(b"Connection: " + connection)
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    plain, parsed = both(head)
    assert plain == parsed
