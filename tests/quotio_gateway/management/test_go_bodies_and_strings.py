"""Corners of the native management API against the Go handlers: bodies nested past the
decoder, and Go's string trimming and lower-casing."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import MakeHarness

INVALID_BODY = b'{"error":"invalid body"}'
# Deeper than Python's recursion limit, far below Go's 10000-level scanner limit.
DEEP = b"[" * 5000 + b"]" * 5000


async def expect(h: Any, method: str, path: str, status: int, answer: bytes, **kwargs: Any) -> None:
    response = await h.call(method, path, **kwargs)
    assert (response.status, await response.read()) == (status, answer)


# Go binds these bodies with json.Decoder / json.Unmarshal, which nest to 10000 levels; the body is
# then the wrong type for the target (config_lists.go:19-29, 45-48; handler.go:287-290), so every
# one of them is a 400 "invalid body", never a crash.
@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "debug", DEEP),
    ("PUT", "debug", b'{"value":' + DEEP + b"}"),
    ("PATCH", "request-retry", DEEP),
    ("PUT", "routing/strategy", DEEP),
    ("PUT", "api-keys", DEEP),
    ("PATCH", "api-keys", DEEP),
    ("PUT", "gemini-api-key", b'{"items":' + DEEP + b"}"),
    ("PATCH", "claude-api-key", b'{"index":0,"value":' + DEEP + b"}"),
    ("PUT", "oauth-excluded-models", DEEP),
    ("PATCH", "oauth-excluded-models", DEEP),
])
async def test_deeply_nested_bodies_are_invalid_not_a_crash(make_harness: MakeHarness, method: str, path: str,
                                                           body: bytes) -> None:
    h = await make_harness()
    await expect(h, method, path, 400, INVALID_BODY, body=body)


# strings.TrimSpace keeps U+001C..U+001F and strings.ToLower maps one code point at a time
# (U+0130 -> "i", no final sigma): config.go:825-870 for exclusions, config_lists.go:660 and 687
# for the provider key.
async def test_exclusions_trim_and_lower_case_as_go(make_harness: MakeHarness) -> None:
    h = await make_harness()
    body = b'{"provider":"\\u001fX","models":["\\u001fM "," \\u0130","\\u0391\\u03a3"]}'
    await expect(h, "PATCH", "oauth-excluded-models", 200, b'{"status":"ok"}', body=body)
    response = await h.call("GET", "oauth-excluded-models")
    assert await response.json() == {"oauth-excluded-models": {"\x1fx": ["\x1fm", "i", "\u03b1\u03c3"]}}
    await expect(h, "DELETE", "oauth-excluded-models?provider=%1FX", 200, b'{"status":"ok"}')


async def test_key_lists_trim_as_go(make_harness: MakeHarness) -> None:
    # SanitizeGeminiKeys / normalizeModelPrefix / NormalizeHeaders trim with strings.TrimSpace.
    h = await make_harness()
    body = (b'[{"api-key":"\\u001fk ","prefix":" \\u001fp/","base-url":"u\\u001e",'
            b'"headers":{"\\u001c":"v"," X ":"\\u001d"}}]')
    await expect(h, "PUT", "gemini-api-key", 200, b'{"status":"ok"}', body=body)
    response = await h.call("GET", "gemini-api-key")
    assert await response.json() == {"gemini-api-key": [
        {"api-key": "\x1fk", "prefix": "\x1fp", "base-url": "u\x1e", "headers": {"\x1c": "v", "X": "\x1d"}}]}
