"""quotio_gateway.access_log: one line per request, level by status, secrets masked."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from quotio_gateway.access_log import log_access
from quotio_gateway.logging import setup_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def stream() -> io.StringIO:
    out = io.StringIO()
    setup_logging(json=True, stream=out)
    return out


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def access(**overrides: Any) -> None:
    fields: dict[str, Any] = {
        "request_id": "0f3a9c2e41b75d68", "method": "POST", "path_qs": "/v1/chat/completions", "status": 200,
        "duration": 0.0123456, "route": "POST /v1/chat/completions", "mode": "shadow", "side": "legacy",
        "peer": "127.0.0.1",
    }
    fields.update(overrides)
    log_access(**fields)


def test_one_json_line_with_every_field(stream: io.StringIO) -> None:
    access()
    [line] = lines(stream)
    assert line == {
        "event": "access", "logger": "quotio_gateway.access", "level": "info", "timestamp": line["timestamp"],
        "request_id": "0f3a9c2e41b75d68", "method": "POST", "path": "/v1/chat/completions", "status": 200,
        "duration_ms": 12.346, "route": "POST /v1/chat/completions", "mode": "shadow", "side": "legacy",
        "peer": "127.0.0.1",
    }


@pytest.mark.parametrize(("status", "level"), [
    (101, "info"), (200, "info"), (304, "info"), (399, "info"),
    (400, "warning"), (401, "warning"), (404, "warning"), (413, "warning"), (499, "warning"),
    (500, "error"), (502, "error"), (503, "error"),
])
def test_level_follows_the_status(stream: io.StringIO, status: int, level: str) -> None:
    access(status=status)
    [line] = lines(stream)
    assert (line["status"], line["level"]) == (status, level)


def test_sensitive_query_values_are_masked(stream: io.StringIO) -> None:
    access(method="GET", path_qs="/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=AIzaSyLEAK")
    [line] = lines(stream)
    assert line["path"] == "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=***"
    assert "AIzaSyLEAK" not in stream.getvalue()


def test_requests_without_a_decision_log_nulls(stream: io.StringIO) -> None:
    access(route=None, mode=None, side=None, peer=None, status=404)
    [line] = lines(stream)
    assert [line[k] for k in ("route", "mode", "side", "peer")] == [None, None, None, None]


def test_explicit_request_id_wins_over_the_bound_one(stream: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(request_id="from-context", client="codex")
    access(request_id="explicit")
    [line] = lines(stream)
    assert line["request_id"] == "explicit"
    assert line["client"] == "codex"


def test_level_setting_drops_successful_requests_only() -> None:
    out = io.StringIO()
    setup_logging(json=True, level="warning", stream=out)
    access(status=200)
    access(status=404)
    access(status=502)
    assert [(line["status"], line["level"]) for line in lines(out)] == [(404, "warning"), (502, "error")]


def test_module_logger_follows_a_later_reconfiguration() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging(json=True, stream=first)
    access(request_id="a")
    setup_logging(json=True, stream=second)
    access(request_id="b")
    assert [line["request_id"] for line in lines(first)] == ["a"]
    assert [line["request_id"] for line in lines(second)] == ["b"]


def test_console_line_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    setup_logging(stream=out)
    access(status=503, path_qs="/x?token=abc")
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # colours are on for terminals
    assert text.count("\n") == 1
    assert "access" in text and "status=503" in text and "error" in text
    assert "token=***" in text and "abc" not in text


async def test_one_line_per_request_through_a_real_server(stream: io.StringIO) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=int(request.query.get("status", "200")))

    @web.middleware
    async def log_every_request(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        log_access(request_id=request.headers.get("X-Request-Id", "generated"), method=request.method,
                   path_qs=request.path_qs, status=response.status, duration=0.001, route="GET /x",
                   mode="legacy", side="legacy", peer=request.remote)
        return response

    app = web.Application(middlewares=[log_every_request])
    app.router.add_get("/x", handler)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for status in ("200", "404", "500"):
            resp = await client.get("/x", params={"status": status, "key": "sk-secret-value"},
                                    headers={"X-Request-Id": f"req-{status}"})
            assert resp.status == int(status)
    # aiohttp's own access logger also writes here (through the stdlib bridge); ours is the one
    # tagged quotio_gateway.access.
    got = [(line["request_id"], line["status"], line["level"], line["peer"]) for line in lines(stream)
           if line.get("logger") == "quotio_gateway.access"]
    assert got == [("req-200", 200, "info", "127.0.0.1"), ("req-404", 404, "warning", "127.0.0.1"),
                   ("req-500", 500, "error", "127.0.0.1")]
    assert "sk-secret-value" not in stream.getvalue()
