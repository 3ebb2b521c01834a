"""quotio_gateway.logging: renderer choice, level filtering, stdlib bridge and secret redaction."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from multidict import CIMultiDict

from quotio_gateway.logging import (
    REDACTED,
    bind_request_id,
    is_sensitive_name,
    redact_event,
    redact_headers,
    redact_query,
    redact_text,
    setup_logging,
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- redact_query --------------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "expected"), [
    ("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=AIzaSyD-secret",
     "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=***"),
    ("/cb?auth_token=abc&state=xyz", "/cb?auth_token=***&state=xyz"),
    ("/x?access_token=ya29.a0AfB&token=t0k3n&api_key=sk-1", "/x?access_token=***&token=***&api_key=***"),
    ("/x?KEY=upper&Api-Key=dash&client_secret=s", "/x?KEY=***&Api-Key=***&client_secret=***"),
    # Percent-encoded names are decoded before they are judged.
    ("/x?api%5Fkey=enc&ke%79=enc2", "/x?api%5Fkey=***&ke%79=***"),
    ("/x?key[]=a&key[]=b", "/x?key[]=***&key[]=***"),
    ("/x?key=abc#frag", "/x?key=***#frag"),
])
def test_redact_query_masks_sensitive_parameters(target: str, expected: str) -> None:
    assert redact_query(target) == expected


@pytest.mark.parametrize("target", [
    "/v1/chat/completions",
    "/v1/models?",
    "/x?alt=sse&model=gpt-5",
    "/x?keyword=a&monkey=b&keys=c",
    "/x?key=",  # nothing to hide
    "/x?key",
    "/v0/management/gemini-api-key?index=2",
])
def test_redact_query_leaves_harmless_targets_untouched(target: str) -> None:
    assert redact_query(target) is target


# --- redact_headers ------------------------------------------------------------------------------


def test_redact_headers_masks_credentials_and_keeps_the_auth_scheme() -> None:
    headers = CIMultiDict([
        ("Authorization", "Bearer sk-ant-api03-secret"),
        ("x-api-key", "sk-ant-secret"),
        ("X-Goog-Api-Key", "AIzaSecret"),
        ("X-Management-Key", "mgmt-secret"),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
        ("Cookie", "session=abc"),
        ("Content-Type", "application/json"),
        ("Referer", "https://example.test/page?key=leaked&tab=2"),
        ("Accept", "text/event-stream"),
        ("Accept", "application/json"),
    ])
    assert redact_headers(headers) == {
        "Authorization": "Bearer ***",
        "x-api-key": "***",
        "X-Goog-Api-Key": "***",
        "X-Management-Key": "***",
        "Proxy-Authorization": "Basic ***",
        "Cookie": "***",
        "Content-Type": "application/json",
        "Referer": "https://example.test/page?key=***&tab=2",
        "Accept": "text/event-stream, application/json",
    }


def test_redact_headers_takes_pairs_and_masks_schemeless_authorization() -> None:
    assert redact_headers([("authorization", "s3cret"), ("X-Auth-Token", "t"), ("Empty-Token", "")]) == {
        "authorization": "***", "X-Auth-Token": "***", "Empty-Token": ""}


# --- redact_text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ('{"access_token":"ya29.a0Af","refresh_token": "1//0gAbc","expires_in":3599,"token_type":"Bearer"}',
     '{"access_token": "***","refresh_token": "***","expires_in":3599,"token_type": "***"}'),
    ("{'client_secret': 'GOCSPX-abc', 'client_id': 'public-id'}",
     "{'client_secret': '***', 'client_id': 'public-id'}"),
    ('{"authorization": "Bearer abcdef"}', '{"authorization": "Bearer ***"}'),
    ("grant_type=refresh_token&refresh_token=1//0gXYZ&client_secret=s3",
     "grant_type=refresh_token&refresh_token=***&client_secret=***"),
    ("upstream said 401 for Authorization: Bearer eyJhbGciOi.payload",
     "upstream said 401 for Authorization: Bearer ***"),
    ("using key sk-proj-abcdefghijklmnopqrstuvwxyz for gpt-5", "using key *** for gpt-5"),
    ("google key AIzaSyA1234567890abcdefghijklmnopqrstu rejected", "google key *** rejected"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.sflKxwRJSMeKKF2QT4fwpM here", "jwt *** here"),
    ("proxy socks5://alice:hunter2@10.0.0.1:1080 failed", "proxy socks5://alice:***@10.0.0.1:1080 failed"),
    ("GET /v1beta/models?key=AIzaXYZ done", "GET /v1beta/models?key=*** done"),
])
def test_redact_text_masks_credentials_in_free_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [
    "legacy server is unreachable",
    "POST /v1/chat/completions",
    'model "gpt-5" not found',
    "it's fine: max_tokens is 4096",
    "https://api.anthropic.com/v1/messages",
    "a=1 b=2",
])
def test_redact_text_returns_harmless_text_unchanged(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(("name", "sensitive"), [
    ("Authorization", True), ("x-api-key", True), ("X-Goog-Api-Key", True), ("x-management-key", True),
    ("refresh_token", True), ("client_secret", True), ("password", True), ("key", True), ("Set-Cookie", True),
    ("route", False), ("request_id", False), ("keyword", False), ("model", False), ("content-type", False),
])
def test_is_sensitive_name(name: str, sensitive: bool) -> None:
    assert is_sensitive_name(name) is sensitive


# --- the processor -------------------------------------------------------------------------------


class LeakyError(Exception):
    pass


def test_redact_event_walks_nested_values() -> None:
    event = {
        "event": "upstream call failed: Bearer abcdefgh",
        "headers": {"Authorization": "Bearer sk-secret", "Accept": "*/*"},
        "body": {"client_secret": "GOCSPX", "usage": {"input_tokens": 5}, "messages": [{"text": "hi"}]},
        "tokens": {"secret": "x", "count": 3},
        "max_tokens": 4096,
        "password": "",
        "raw": b'{"api_key": "sk-raw"}',
        "error": LeakyError("refresh failed for refresh_token=1//0gSECRET"),
        "urls": ("https://h/p?token=abc", "https://h/q"),
        "ok": True,
        "nothing": None,
    }
    assert redact_event(None, "info", event) == {
        "event": "upstream call failed: Bearer ***",
        "headers": {"Authorization": "Bearer ***", "Accept": "*/*"},
        "body": {"client_secret": "***", "usage": {"input_tokens": 5}, "messages": [{"text": "hi"}]},
        "tokens": {"secret": "***", "count": 3},
        "max_tokens": 4096,
        "password": "",
        "raw": '{"api_key": "***"}',
        "error": "refresh failed for refresh_token=***",
        "urls": ["https://h/p?token=***", "https://h/q"],
        "ok": True,
        "nothing": None,
    }


def test_redact_event_stops_at_a_depth_limit() -> None:
    deep: dict[str, object] = {"leaf": "value"}
    for _ in range(20):
        deep = {"child": deep}
    out = redact_event(None, "info", {"event": "x", "deep": deep})
    node = out["deep"]
    depth = 0
    while isinstance(node, dict):
        node = node["child"]
        depth += 1
    assert node == REDACTED
    assert depth == 8


# --- setup_logging -------------------------------------------------------------------------------


def test_json_lines_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    setup_logging(stream=stream)
    structlog.get_logger("t").info("hello", user="u1", count=3, headers={"X-Api-Key": "k-123456"})
    [line] = lines(stream)
    assert line["event"] == "hello"
    assert line["level"] == "info"
    assert line["count"] == 3
    assert line["headers"] == {"X-Api-Key": "***"}
    assert str(line["timestamp"]).endswith("Z")
    assert "k-123456" not in stream.getvalue()


def test_console_lines_on_a_terminal() -> None:
    stream = Terminal()
    setup_logging(stream=stream)
    structlog.get_logger("t").warning("disk low", authorization="Bearer abcdef123")
    text = stream.getvalue()
    assert text.count("\n") == 1
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert "disk low" in text
    assert "warning" in text
    assert "Bearer ***" in text
    assert "abcdef123" not in text


def test_json_argument_overrides_the_terminal_check() -> None:
    tty = Terminal()
    setup_logging(json=True, stream=tty)
    structlog.get_logger().info("forced")
    assert lines(tty)[0]["event"] == "forced"

    pipe = io.StringIO()
    setup_logging(json=False, stream=pipe)
    structlog.get_logger().info("readable")
    assert "readable" in pipe.getvalue()
    with pytest.raises(json.JSONDecodeError):
        json.loads(pipe.getvalue())


def test_level_filters_structlog_and_stdlib_records() -> None:
    stream = io.StringIO()
    setup_logging(level="WARNING", stream=stream)
    log = structlog.get_logger()
    log.info("dropped")
    log.debug("dropped too")
    log.warning("kept")
    logging.getLogger("aiohttp.server").info("stdlib dropped")
    logging.getLogger("aiohttp.server").error("stdlib kept")
    assert [line["event"] for line in lines(stream)] == ["kept", "stdlib kept"]


@pytest.mark.parametrize("level", ["verbose", "", "trace"])
def test_unknown_level_is_rejected(level: str) -> None:
    with pytest.raises(ValueError, match=f"unknown log level {level!r}"):
        setup_logging(level=level, stream=io.StringIO())


def test_stdlib_records_are_rendered_and_redacted_like_structlog_events() -> None:
    stream = io.StringIO()
    setup_logging(stream=stream)
    logging.getLogger("aiohttp.access").warning('%s "GET %s"', "127.0.0.1", "/v1beta/models?key=AIzaLEAK")
    [line] = lines(stream)
    assert line == {"event": '127.0.0.1 "GET /v1beta/models?key=***"', "level": "warning",
                    "logger": "aiohttp.access", "timestamp": line["timestamp"]}


def test_exceptions_are_logged_with_their_traceback_redacted() -> None:
    stream = io.StringIO()
    setup_logging(stream=stream)
    try:
        raise RuntimeError('upstream rejected {"api_key": "sk-live-0123456789abcdefghij"}')
    except RuntimeError:
        structlog.get_logger().exception("native handler raised", route="POST /v1/messages")
    [line] = lines(stream)
    assert line["level"] == "error"
    assert "Traceback (most recent call last)" in str(line["exception"])
    assert '{"api_key": "***"}' in str(line["exception"])
    assert "sk-live" not in stream.getvalue()


def test_context_variables_reach_every_line() -> None:
    stream = io.StringIO()
    setup_logging(stream=stream)
    structlog.contextvars.bind_contextvars(request_id="req-1")
    structlog.get_logger().info("one")
    logging.getLogger("asyncio").error("two")
    assert [line["request_id"] for line in lines(stream)] == ["req-1", "req-1"]


def test_the_request_id_bound_per_request_reaches_every_line_of_its_task() -> None:
    stream = io.StringIO()
    setup_logging(stream=stream)

    async def request(request_id: str) -> None:
        bind_request_id(request_id)
        await asyncio.sleep(0)
        structlog.get_logger().info("answered")

    async def both() -> None:
        await asyncio.gather(request("req-a"), request("req-b"))

    asyncio.run(both())
    assert sorted(line["request_id"] for line in lines(stream)) == ["req-a", "req-b"]


def test_reconfiguring_replaces_the_stdlib_handler_and_the_stream() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging(stream=first)
    setup_logging(stream=second)
    logging.getLogger("x").warning("once")
    structlog.get_logger().warning("also once")
    assert first.getvalue() == ""
    assert [line["event"] for line in lines(second)] == ["once", "also once"]


@pytest.mark.parametrize(("text", "expected"), [
    ('request "GET /x?key=abc"', 'request "GET /x?key=***"'),
    ("config token='t0ps3cret' loaded", "config token='***' loaded"),
    ('api_key="sk-abc"', 'api_key="***"'),
    ("<a href=/x?token=abc>", "<a href=/x?token=***>"),
])
def test_redact_text_keeps_the_quotes_around_masked_values(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("redirect next=/cb?token=abc&x=1", "redirect next=/cb?token=***&x=1"),
    ("url=https://h/p?key=AIzaX&alt=sse", "url=https://h/p?key=***&alt=sse"),
    ("token=YWJjZA== secret=a=b", "token=*** secret=***"),
    ("key=abc key=def", "key=*** key=***"),
])
def test_redact_text_scans_inside_harmless_values(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_named_structlog_loggers_carry_their_name() -> None:
    stream = io.StringIO()
    setup_logging(stream=stream)
    structlog.get_logger("quotio_gateway.dispatch").info("named")
    structlog.get_logger().info("anonymous")
    structlog.get_logger("quotio_gateway.shadow").info("explicit wins", logger="custom")
    assert [line.get("logger") for line in lines(stream)] == ["quotio_gateway.dispatch", None, "custom"]
