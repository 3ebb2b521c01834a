"""Go's ``http.ServeContent`` rules as servefile.py reproduces them (sans-io)."""

from __future__ import annotations

import re

import pytest
from aiohttp import web

from quotio_gateway.servefile import open_error, serve_content

DATA = b"0123456789abcdefghij"  # 20 bytes
MTIME = 1_700_000_000.75  # Tue, 14 Nov 2023 22:13:20.75 GMT
STAMP = "Tue, 14 Nov 2023 22:13:20 GMT"
EARLIER = "Tue, 14 Nov 2023 22:13:19 GMT"
LATER = "Tue, 14 Nov 2023 22:13:21 GMT"
HTML = "text/html; charset=utf-8"


def serve(method: str = "GET", mtime: float = MTIME, **headers: str) -> web.Response:
    return serve_content(method, {k.replace("_", "-"): v for k, v in headers.items()}, DATA, mtime, HTML)


def test_a_plain_get() -> None:
    resp = serve()
    assert resp.status == 200 and resp.body == DATA
    assert dict(resp.headers) == {"Last-Modified": STAMP, "Content-Type": HTML, "Accept-Ranges": "bytes"}


def test_no_date_for_the_epoch() -> None:
    resp = serve(mtime=0, If_Modified_Since=STAMP)
    assert resp.status == 200 and "Last-Modified" not in resp.headers


@pytest.mark.parametrize("since", [STAMP, LATER, "Tuesday, 14-Nov-23 22:13:20 GMT", "Tue Nov 14 22:13:20 2023"])
def test_not_modified(since: str) -> None:
    resp = serve(If_Modified_Since=since)
    assert resp.status == 304 and resp.body is None
    assert dict(resp.headers) == {"Last-Modified": STAMP}


@pytest.mark.parametrize("since", [EARLIER, "yesterday", "Tue, 14 Nov 2023 22:13:20 UTC"])
def test_modified_or_unreadable_since(since: str) -> None:
    assert serve(If_Modified_Since=since).status == 200


def test_if_none_match() -> None:
    assert serve(If_None_Match="*").status == 304
    assert serve(If_None_Match=' , "x", *').status == 304
    assert serve("POST", If_None_Match="*").status == 412
    # No entity tag is ever set, so a list of tags passes, and If-Modified-Since is not consulted.
    assert serve(If_None_Match='"abc"', If_Modified_Since=STAMP).status == 200


def test_if_match_and_if_unmodified_since() -> None:
    assert serve(If_Match="*").status == 200
    for value in ('"abc"', "W/\"abc\"", "garbage"):
        resp = serve(If_Match=value)
        assert resp.status == 412 and dict(resp.headers) == {"Last-Modified": STAMP}
    assert serve(If_Unmodified_Since=EARLIER).status == 412
    assert serve(If_Unmodified_Since=STAMP).status == 200
    # If-Match decides alone when present.
    assert serve(If_Match="*", If_Unmodified_Since=EARLIER).status == 200


@pytest.mark.parametrize(("spec", "start", "end"), [
    ("bytes=0-4", 0, 4), ("bytes=5-", 5, 19), ("bytes=-5", 15, 19), ("bytes=10-99", 10, 19),
    ("bytes=-99", 0, 19), ("bytes= 2 - 3 ,", 2, 3), ("bytes=30-,2-3", 2, 3),
])
def test_one_range(spec: str, start: int, end: int) -> None:
    resp = serve(Range=spec)
    assert resp.status == 206 and resp.body == DATA[start:end + 1]
    assert resp.headers["Content-Range"] == f"bytes {start}-{end}/20"
    assert resp.headers["Content-Type"] == HTML


def test_several_ranges_are_multipart() -> None:
    resp = serve(Range="bytes=0-1,-2")
    assert resp.status == 206
    boundary = re.fullmatch(r"multipart/byteranges; boundary=([0-9a-f]{60})", resp.headers["Content-Type"])
    assert boundary is not None
    b = boundary.group(1)
    assert resp.body == (f"--{b}\r\nContent-Range: bytes 0-1/20\r\nContent-Type: {HTML}\r\n\r\n01\r\n"
                         f"--{b}\r\nContent-Range: bytes 18-19/20\r\nContent-Type: {HTML}\r\n\r\nij\r\n"
                         f"--{b}--\r\n").encode()


def test_more_bytes_than_the_file_is_the_whole_file() -> None:
    resp = serve(Range="bytes=0-,0-")
    assert resp.status == 200 and resp.body == DATA


def test_a_range_past_the_end() -> None:
    resp = serve(Range="bytes=20-")
    assert resp.status == 416
    assert resp.body == b"invalid range: failed to overlap\n"
    assert dict(resp.headers) == {"Content-Type": "text/plain; charset=utf-8", "Content-Range": "bytes */20",
                                  "X-Content-Type-Options": "nosniff"}


@pytest.mark.parametrize("spec", ["items=0-1", "bytes=1", "bytes=-", "bytes=--1", "bytes=4-2", "bytes=x-1",
                                  "bytes=1-y", "bytes=-1x"])
def test_an_invalid_range(spec: str) -> None:
    resp = serve(Range=spec)
    assert resp.status == 416 and resp.body == b"invalid range\n"
    assert "Content-Range" not in resp.headers and "Last-Modified" not in resp.headers


def test_if_range() -> None:
    assert serve(Range="bytes=0-1", If_Range=STAMP).status == 206
    assert serve(Range="bytes=0-1", If_Range=EARLIER).status == 200
    assert serve(Range="bytes=0-1", If_Range='"etag"').status == 200
    # A range that would be refused is not even read when If-Range turns it off.
    assert serve(Range="bytes=99-", If_Range=EARLIER).status == 200


def test_open_errors() -> None:
    for exc, status, text in ((FileNotFoundError(), 404, b"404 page not found\n"),
                              (PermissionError(), 403, b"403 Forbidden\n"),
                              (OSError(), 500, b"500 Internal Server Error\n")):
        resp = open_error(exc)
        assert (resp.status, resp.body) == (status, text)
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
