"""The upstream half of a request log (logging_helpers.go, request_logger.go: writeAPISection)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.providers.upstream_log import UpstreamLog, api_section

STAMP = re.compile(r"Timestamp: [^\n]+\n")


@dataclass
class KeyCredential:
    id: str = "claude:apikey:1"
    provider: str = "claude"
    api_key: str = "sk-secret-value"


def plain(data: bytes) -> str:
    return STAMP.sub("Timestamp: T\n", data.decode())


def test_two_attempts_are_numbered_and_separated() -> None:
    log = UpstreamLog()
    log.request(url="https://api.example/v1/messages?key=abcdef123456", method="POST",
                headers=[("X-Api-Key", "sk-secret-value"), ("Content-Type", "application/json")],
                body=b'{"a":1}', provider="claude", credential=KeyCredential())
    log.response_head(429, [("Retry-After", "3")])
    log.chunk(b'  {"error":"slow down"}\n')
    log.request(url="https://api.example/v1/messages", method="POST", headers=[], body=b"",
                provider="claude", credential=KeyCredential(id="claude:apikey:2"))
    log.response_head(200, [])
    log.chunk(b"event: message_start")
    log.chunk(b"   ")  # blank pieces are skipped
    log.chunk(b"data: {}")
    assert plain(log.api_request()) == (
        "=== API REQUEST 1 ===\nTimestamp: T\n"
        "Upstream URL: https://api.example/v1/messages?key=***\nHTTP Method: POST\n"
        "Auth: provider=claude, auth_id=claude:apikey:1, label=claude-apikey, type=api_key value=***\n\n"
        "Headers:\nContent-Type: application/json\nX-Api-Key: ***\n\nBody:\n{\"a\":1}\n\n"
        "=== API REQUEST 2 ===\nTimestamp: T\n"
        "Upstream URL: https://api.example/v1/messages\nHTTP Method: POST\n"
        "Auth: provider=claude, auth_id=claude:apikey:2, label=claude-apikey, type=api_key value=***\n\n"
        "Headers:\n<none>\n\nBody:\n<empty>\n\n")
    assert plain(log.api_response()) == (
        "=== API RESPONSE 1 ===\nTimestamp: T\n\nStatus: 429\nHeaders:\nRetry-After: 3\n\n"
        "Body:\n{\"error\":\"slow down\"}\n\n"
        "=== API RESPONSE 2 ===\nTimestamp: T\n\nStatus: 200\nHeaders:\n<none>\n\n"
        "Body:\nevent: message_start\n\ndata: {}\n")
    assert "sk-secret-value" not in (log.api_request() + log.api_response()).decode()


def test_a_failure_without_an_answer_and_a_response_without_a_request() -> None:
    log = UpstreamLog()
    log.error("connect to api.example failed: Connection refused")
    log.error("again")
    assert log.api_request() == b"=== API REQUEST 1 ===\n<missing>\n\n"
    assert plain(log.api_response()) == (
        "=== API RESPONSE 1 ===\nTimestamp: T\n\n"
        "Error: connect to api.example failed: Connection refused\n\nError: again\n")


def test_error_answers_join_unless_the_upstream_said_it() -> None:
    log = UpstreamLog()
    log.error_answer("unknown provider for model x", b'{"error":{"message":"unknown provider for model x"}}')
    assert log.api_response() == b'{"error":{"message":"unknown provider for model x"}}'
    said = UpstreamLog()
    said.request(url="u", method="POST", headers=[], body=b"", provider="p", credential=None)
    said.response_head(400, [])
    said.chunk(b'{"error":{"message":"prompt is too long"}}')
    before = said.api_response()
    said.error_answer("prompt is too long", b'{"error":{"message":"prompt is too long","type":"x"}}')
    assert said.api_response() == before


def test_stream_lines_record_complete_lines_only() -> None:
    log = UpstreamLog()
    carry = log.stream_lines(b"data: {\"a\"", b"")
    carry = log.stream_lines(b":1}\n\nevent: x\r\n", carry)
    assert carry == b""
    carry = log.stream_lines(b"data: tail", carry)
    log.stream_lines(b"\n", carry)
    body = log.api_response().decode().split("Body:\n", 1)[1]
    assert body == 'data: {"a":1}\n\nevent: x\n\ndata: tail\n'


def test_api_section_framing() -> None:
    assert api_section("=== API REQUEST ===\n", "=== API REQUEST", b"") == b""
    assert api_section("=== API REQUEST ===\n", "=== API REQUEST", b"=== API REQUEST 1 ===\nx") == \
        b"=== API REQUEST 1 ===\nx\n\n"
    assert api_section("=== API RESPONSE ===\n", "=== API RESPONSE", b"{}") == b"=== API RESPONSE ===\n{}\n\n"


def test_header_names_as_go_holds_them() -> None:
    """Header.Set and Go's response parsing keep names canonical, writeHeaders sorts them and
    writes one line per value; Go's client keeps Transfer-Encoding out of the answer's headers."""
    log = UpstreamLog()
    log.request(url="https://g.example/v1beta/models/m:generateContent", method="POST",
                headers=[("x-goog-api-key", "AIza-secret-key-value"), ("content-type", "application/json"),
                         ("accept", "a"), ("Accept", "b")],
                body=b"{}", provider="gemini", credential=None)
    log.response_head(200, [("vary", "Origin"), ("Transfer-Encoding", "chunked"), ("Vary", "X-Origin"),
                            ("content-type", "application/json")])
    request = log.api_request().decode()
    assert "\nHeaders:\nAccept: a\nAccept: b\nContent-Type: application/json\nX-Goog-Api-Key: ***\n\nBody:\n" in request
    assert plain(log.api_response()) == (
        "=== API RESPONSE 1 ===\nTimestamp: T\n\nStatus: 200\n"
        "Headers:\nContent-Type: application/json\nVary: Origin\nVary: X-Origin\n\n")
    assert "AIza-secret-key-value" not in request
