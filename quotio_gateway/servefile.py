"""Go's ``http.ServeContent`` (net/http/fs.go, Go 1.24) for a file already read into memory, as
Gin's ``c.File`` answers: ``Last-Modified``, the conditional request headers, byte ranges.

Go sets no ``ETag`` here, so every entity-tag comparison fails: ``If-Match`` holds only for ``*``
and ``If-None-Match`` fails only for ``*``. Sans-io: the caller supplies the request headers, the
bytes and their modification time, and sends the ``web.Response`` built here.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web

from .gostrings import go_decimal

__all__ = ["open_error", "serve_content"]

_HTTP_TIME_FORMATS = ("%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y")
_INT64_MAX = 2**63 - 1
_OWS = " \t\r\n"  # textproto.TrimString


class _RangeError(ValueError):
    pass


_NO_OVERLAP = "invalid range: failed to overlap"


@dataclass(frozen=True, slots=True)
class _Range:
    start: int
    length: int

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.start + self.length - 1}/{size}"


def _parse_time(text: str) -> int | None:
    """``http.ParseTime`` to whole Unix seconds, or None."""
    for fmt in _HTTP_TIME_FORMATS:
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp())
        except ValueError:
            continue
    return None


def _scan_etag(text: str) -> tuple[str, str]:
    """``scanETag``: the leading entity tag and the rest, or ("", "")."""
    text = text.strip(_OWS)
    start = 2 if text.startswith("W/") else 0
    if len(text) - start < 2 or text[start] != '"':
        return "", ""
    for i in range(start + 1, len(text)):
        c = ord(text[i])
        if c == 0x22:
            return text[:i + 1], text[i + 1:]
        if not (c == 0x21 or 0x23 <= c <= 0x7E or c >= 0x80):
            return "", ""
    return "", ""


def _star_in_list(value: str) -> bool:
    """Walk an entity-tag list as Go does: True at a ``*``, False at its end or at garbage (no tag
    can match, since none is set)."""
    while True:
        value = value.strip(_OWS)
        if not value:
            return False
        if value[0] == ",":
            value = value[1:]
            continue
        if value[0] == "*":
            return True
        etag, value = _scan_etag(value)
        if not etag:
            return False


def _int64(text: str) -> int:
    value = go_decimal(text)
    if value is None or abs(value) > _INT64_MAX:
        raise _RangeError("invalid range")
    return value


def _parse_ranges(header: str, size: int) -> list[_Range]:
    """``parseRange``."""
    if not header:
        return []
    if not header.startswith("bytes="):
        raise _RangeError("invalid range")
    ranges: list[_Range] = []
    no_overlap = False
    for spec in header[len("bytes="):].split(","):
        spec = spec.strip(_OWS)
        if not spec:
            continue
        first, dash, last = spec.partition("-")
        if not dash:
            raise _RangeError("invalid range")
        first, last = first.strip(_OWS), last.strip(_OWS)
        if not first:
            if not last or last[0] == "-":
                raise _RangeError("invalid range")
            suffix = _int64(last)
            if suffix < 0:
                raise _RangeError("invalid range")
            start = size - min(suffix, size)
            ranges.append(_Range(start, size - start))
            continue
        start = _int64(first)
        if start < 0:
            raise _RangeError("invalid range")
        if start >= size:
            no_overlap = True
            continue
        if not last:
            ranges.append(_Range(start, size - start))
            continue
        end = _int64(last)
        if start > end:
            raise _RangeError("invalid range")
        ranges.append(_Range(start, min(end, size - 1) - start + 1))
    if no_overlap and not ranges:
        raise _RangeError(_NO_OVERLAP)
    return ranges


def _text_error(status: int, text: str, headers: dict[str, str]) -> web.Response:
    """``serveError``: Go 1.23+ drops the validators before ``http.Error``'s plain-text answer."""
    headers.pop("Last-Modified", None)
    headers["Content-Type"] = "text/plain; charset=utf-8"
    headers["X-Content-Type-Options"] = "nosniff"
    return web.Response(status=status, body=(text + "\n").encode(), headers=headers)


def serve_content(method: str, request_headers: Mapping[str, str], data: bytes, mtime: float,
                  content_type: str) -> web.Response:
    """The answer Go's ``serveContent`` gives for ``data`` last modified at ``mtime`` (Unix time)."""
    headers: dict[str, str] = {}
    modified = int(mtime)
    has_time = modified > 0  # Go's isZeroTime: the zero time and the Unix epoch carry no date
    if has_time:
        headers["Last-Modified"] = format_datetime(datetime.fromtimestamp(modified, UTC), usegmt=True)
    get_like = method in ("GET", "HEAD")

    def since(name: str) -> int | None:
        value = request_headers.get(name, "")
        return _parse_time(value) if value and has_time else None

    if_match = request_headers.get("If-Match", "")
    if if_match:
        holds: bool | None = _star_in_list(if_match)
    else:
        unmodified = since("If-Unmodified-Since")
        holds = None if unmodified is None else modified <= unmodified
    if holds is False:
        return web.Response(status=412, headers=headers)
    none_match = request_headers.get("If-None-Match", "")
    if none_match:
        if _star_in_list(none_match):
            return web.Response(status=304 if get_like else 412, headers=headers)
    elif get_like:
        modified_since = since("If-Modified-Since")
        if modified_since is not None and modified <= modified_since:
            return web.Response(status=304, headers=headers)

    range_header = request_headers.get("Range", "")
    if_range = request_headers.get("If-Range", "")
    if range_header and get_like and if_range:
        etag, _ = _scan_etag(if_range)
        stamp = None if etag else _parse_time(if_range)
        if etag or stamp is None or stamp != modified:
            range_header = ""

    headers["Content-Type"] = content_type
    size = len(data)
    try:
        ranges = _parse_ranges(range_header, size)
    except _RangeError as exc:
        if str(exc) == _NO_OVERLAP:
            headers["Content-Range"] = f"bytes */{size}"
        return _text_error(416, str(exc), headers)
    if sum(r.length for r in ranges) > size:
        ranges = []  # Go ignores a request for more bytes than the file has
    headers["Accept-Ranges"] = "bytes"
    if len(ranges) == 1:
        only = ranges[0]
        headers["Content-Range"] = only.content_range(size)
        return web.Response(status=206, body=data[only.start:only.start + only.length], headers=headers)
    if ranges:
        boundary = secrets.token_hex(30)  # mime/multipart's randomBoundary
        parts = []
        for piece in ranges:
            parts.append(f"--{boundary}\r\nContent-Range: {piece.content_range(size)}\r\n"
                         f"Content-Type: {content_type}\r\n\r\n".encode())
            parts.append(data[piece.start:piece.start + piece.length])
            parts.append(b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        headers["Content-Type"] = f"multipart/byteranges; boundary={boundary}"
        return web.Response(status=206, body=b"".join(parts), headers=headers)
    return web.Response(status=200, body=data, headers=headers)


def open_error(exc: OSError) -> web.Response:
    """``toHTTPError`` through ``serveError``: what Go answers when the file cannot be opened."""
    if isinstance(exc, FileNotFoundError):
        return _text_error(404, "404 page not found", {})
    if isinstance(exc, PermissionError):
        return _text_error(403, "403 Forbidden", {})
    return _text_error(500, "500 Internal Server Error", {})
