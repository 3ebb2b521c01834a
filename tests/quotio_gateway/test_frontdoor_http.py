"""The front door's head reader: what it keeps of a head for the native lane's aiohttp request."""

from __future__ import annotations

from quotio_gateway.frontdoor_http import aiohttp_text, parse_head

CLIENT_HEAD = (b"POST /v1/chat/completions?n=1 HTTP/1.1\r\nHost: 127.0.0.1:8317\r\n"
               b"Authorization: Bearer sk-bench\r\nContent-Type: application/json\r\n"
               b"User-Agent: Python/3.11 aiohttp/3.14.1\r\nContent-Length: 84\r\n\r\n")


def test_a_client_head_keeps_its_raw_lines_and_is_marked_ascii() -> None:
    head = parse_head(CLIENT_HEAD)
    assert head is not None
    assert head.method == "POST" and head.target == "/v1/chat/completions?n=1"
    assert head.path == "/v1/chat/completions" and head.host == "127.0.0.1:8317"
    assert head.content_length == 84 and head.keep_alive and head.ascii
    assert head.headers[1] == ("Authorization", "Bearer sk-bench")
    assert head.raw == [(name.encode("latin-1"), value.encode("latin-1")) for name, value in head.headers]


def test_a_non_ascii_value_clears_the_ascii_mark_and_keeps_its_bytes() -> None:
    head = parse_head(b"POST /x HTTP/1.1\r\nHost: h\r\nX-Name: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n")
    assert head is not None and not head.ascii
    assert head.raw[1] == (b"X-Name", b"caf\xc3\xa9")
    # The text is latin-1 (lossless); the native lane decodes it as aiohttp does.
    assert head.headers[1] == ("X-Name", "caf\xc3\xa9")
    assert aiohttp_text(head.headers[1][1]) == "café"


def test_connection_close_is_read() -> None:
    head = parse_head(b"POST /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert head is not None and not head.keep_alive
