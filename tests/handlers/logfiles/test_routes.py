"""The log endpoints on the whole gateway (management/logs.go): /logs, /request-error-logs,
/request-log-by-id, with the log directory under $WRITABLE_PATH."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import SECRET, GatewayFactory, auth


def unix(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").timestamp())


class Gateway:
    def __init__(self, server: TestServer, session: aiohttp.ClientSession, logs: Path) -> None:
        self.server, self.session, self.logs = server, session, logs
        self.url = str(server.make_url("")).rstrip("/")

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, bytes, aiohttp.ClientResponse]:
        headers = {**auth(SECRET), **kw.pop("headers", {})}
        async with self.session.request(method, self.url + path, headers=headers, **kw) as resp:
            return resp.status, await resp.read(), resp

    async def json(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        status, raw, _ = await self.call(method, "/v0/management/" + path, **kw)
        return status, json.loads(raw)


@pytest.fixture
def writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "writable"
    monkeypatch.setenv("WRITABLE_PATH", str(base))
    return base / "logs"


async def start(make_gateway: GatewayFactory, logs: Path, **config: Any) -> Gateway:
    app = await make_gateway({"default": "native"}, config={"api-keys": ["client-key"], **config})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return Gateway(server, aiohttp.ClientSession(), logs)


@pytest.fixture
async def gateway(make_gateway: GatewayFactory, writable: Path) -> AsyncIterator[Gateway]:
    gw = await start(make_gateway, writable, **{"logging-to-file": True})
    yield gw
    await gw.session.close()
    await gw.server.close()


@pytest.fixture
async def quiet(make_gateway: GatewayFactory, writable: Path) -> AsyncIterator[Gateway]:
    gw = await start(make_gateway, writable)
    yield gw
    await gw.session.close()
    await gw.server.close()


MAIN_LINES = ["[2026-01-20 10:00:00] [--------] [info ] a", "  continuation",
              "[2026-01-20 10:00:05] [--------] [info ] b"]


async def test_logging_to_file_off_refuses_get_and_delete(quiet: Gateway) -> None:
    assert await quiet.json("GET", "logs") == (400, {"error": "logging to file disabled"})
    assert await quiet.json("DELETE", "logs") == (400, {"error": "logging to file disabled"})


async def test_lines_after_a_cursor_with_continuations_and_limits(gateway: Gateway) -> None:
    # The gateway's own lines go to main.log too: replace it with the reference's three lines.
    (gateway.logs / "main.log").write_text("\n".join(MAIN_LINES) + "\n")
    after = unix("2026-01-20 10:00:00")
    assert await gateway.json("GET", f"logs?after={after}") == (
        200, {"latest-timestamp": unix("2026-01-20 10:00:05"), "line-count": 3, "lines": [MAIN_LINES[2]]})
    status, body = await gateway.json("GET", "logs")
    assert (status, body["lines"], body["line-count"]) == (200, MAIN_LINES, 3)
    assert (await gateway.json("GET", "logs?limit=1"))[1]["lines"] == [MAIN_LINES[2]]
    assert (await gateway.json("GET", "logs?limit=2"))[1]["lines"] == MAIN_LINES[1:]
    assert await gateway.json("GET", "logs?limit=0") == (400, {"error": "invalid limit: must be greater than zero"})
    assert await gateway.json("GET", "logs?limit=-3") == (400, {"error": "invalid limit: must be greater than zero"})
    assert await gateway.json("GET", "logs?limit=x") == (400, {"error": "invalid limit: must be a positive integer"})
    status, body = await gateway.json("GET", "logs?after=garbage")
    assert (status, len(body["lines"])) == (200, 3)
    # A cursor past every line: nothing, and the cursor comes back as the latest timestamp.
    later = unix("2026-01-20 11:00:00")
    assert await gateway.json("GET", f"logs?after={later}") == (
        200, {"latest-timestamp": later, "line-count": 3, "lines": []})


async def test_rotated_files_are_read_oldest_first(gateway: Gateway) -> None:
    (gateway.logs / "main.log").write_text("[2026-01-20 10:00:09] [--------] [info ] newest\n")
    (gateway.logs / "main.log.1").write_text("[2026-01-20 10:00:05] [--------] [info ] older\n")
    (gateway.logs / "main.log.2").write_text("[2026-01-20 10:00:01] [--------] [info ] oldest\r\n")
    (gateway.logs / "main-2026-01-19T09-00-00.000.log").write_text("[2026-01-19 09:00:00] [--------] [warn ] ancient\n")
    (gateway.logs / "other.log").write_text("[2026-01-20 10:00:00] [--------] [info ] not a main log\n")
    status, body = await gateway.json("GET", "logs")
    assert status == 200
    assert [line.rsplit(" ", 1)[1] for line in body["lines"]] == ["ancient", "oldest", "older", "newest"]
    assert body["latest-timestamp"] == unix("2026-01-20 10:00:09")


async def test_missing_directory_answers_empty_for_get_and_404_for_delete(gateway: Gateway) -> None:
    for entry in gateway.logs.iterdir():
        entry.unlink()
    gateway.logs.rmdir()
    assert await gateway.json("GET", "logs?after=42") == (200, {"latest-timestamp": 42, "line-count": 0, "lines": []})
    assert await gateway.json("DELETE", "logs") == (404, {"error": "log directory not found"})


async def test_delete_truncates_main_log_and_removes_only_rotated_files(gateway: Gateway) -> None:
    (gateway.logs / "main.log").write_text("\n".join(MAIN_LINES) + "\n")
    (gateway.logs / "main.log.1").write_text("old\n")
    (gateway.logs / "main-2026-01-19T09-00-00.log.gz").write_bytes(b"gz")
    (gateway.logs / "error-v1-chat-completions-2026-01-20T101112-abc.log").write_text("kept")
    assert await gateway.json("DELETE", "logs") == (
        200, {"message": "Logs cleared successfully", "removed": 2, "success": True})
    assert sorted(p.name for p in gateway.logs.iterdir()) == [
        "error-v1-chat-completions-2026-01-20T101112-abc.log", "main.log"]
    assert (gateway.logs / "main.log").stat().st_size == 0


async def test_the_gateway_writes_its_own_access_lines_into_main_log(gateway: Gateway) -> None:
    await gateway.call("POST", "/v1/chat/completions", data=b"{", headers={"Authorization": "Bearer client-key"})
    status, body = await gateway.json("GET", "logs")
    assert status == 200
    line = next(line for line in body["lines"] if '"/v1/chat/completions"' in line)
    # [date time] [request id] [warn ] 400 |  latency | client | POST    "/v1/chat/completions"
    stamp, request_id, level, message = line.split("] ", 3)
    assert abs(unix(stamp[1:]) - time.time()) < 120
    assert request_id.startswith("[") and len(request_id) > 1
    assert level == "[warn "
    assert message.startswith("400 | ") and message.endswith('| POST    "/v1/chat/completions"')
    assert "client-key" not in json.dumps(body)


async def test_turning_logging_to_file_on_at_run_time_opens_main_log(quiet: Gateway) -> None:
    assert await quiet.json("PUT", "logging-to-file", data=b'{"value":true}') == (200, {"status": "ok"})
    status, body = await quiet.json("GET", "logs")
    assert status == 200
    await quiet.call("GET", "/v1/models", headers={"Authorization": "Bearer client-key"})
    status, body = await quiet.json("GET", "logs")
    assert any('"/v1/models"' in line for line in body["lines"])
    assert (quiet.logs / "main.log").is_file()


async def test_request_error_logs_list_newest_first(quiet: Gateway) -> None:
    quiet.logs.mkdir(parents=True)
    older = quiet.logs / "error-v1-chat-completions-2026-01-20T101112-aaaa.log"
    newer = quiet.logs / "error-v1-messages-2026-01-20T101200-bbbb.log"
    older.write_text("x" * 10)
    newer.write_text("y" * 3)
    os.utime(older, (1737339072, 1737339072))
    os.utime(newer, (1737339999, 1737339999))
    (quiet.logs / "v1-chat-completions-2026-01-20T101112-cccc.log").write_text("not an error log")
    (quiet.logs / "error-dir.log").mkdir()
    assert await quiet.json("GET", "request-error-logs") == (200, {"files": [
        {"name": newer.name, "size": 3, "modified": 1737339999},
        {"name": older.name, "size": 10, "modified": 1737339072}]})


async def test_request_error_logs_empty_when_request_log_is_on_or_dir_missing(
        make_gateway: GatewayFactory, writable: Path) -> None:
    os.makedirs(writable)
    (writable / "error-x-2026-01-20T101112-a.log").write_text("e")
    gw = await start(make_gateway, writable, **{"request-log": True})
    try:
        assert await gw.json("GET", "request-error-logs") == (200, {"files": []})
    finally:
        await gw.session.close()
        await gw.server.close()


async def test_request_error_logs_missing_directory(quiet: Gateway) -> None:
    assert await quiet.json("GET", "request-error-logs") == (200, {"files": []})


async def test_download_request_error_log(quiet: Gateway) -> None:
    quiet.logs.mkdir(parents=True)
    name = "error-v1-chat-completions-2026-01-20T101112-a1b2c3d4.log"
    (quiet.logs / name).write_bytes(b"=== REQUEST INFO ===\n")
    status, raw, resp = await quiet.call("GET", f"/v0/management/request-error-logs/{name}")
    assert (status, raw) == (200, b"=== REQUEST INFO ===\n")
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_downloads_answer_as_go_serve_file(quiet: Gateway) -> None:
    """Gin's FileAttachment over http.ServeFile: Last-Modified and no ETag, byte ranges,
    If-Modified-Since, and the disposition header kept on every such answer."""
    quiet.logs.mkdir(parents=True)
    name = "error-v1-messages-2026-01-20T101112-0f.log"
    path = quiet.logs / name
    path.write_bytes(b"0123456789")
    os.utime(path, (1_768_900_000, 1_768_900_000))
    url = f"/v0/management/request-error-logs/{name}"
    disposition = f'attachment; filename="{name}"'
    status, raw, resp = await quiet.call("GET", url)
    assert status == 200 and "ETag" not in resp.headers
    assert resp.headers["Last-Modified"] == "Tue, 20 Jan 2026 09:06:40 GMT"
    assert resp.headers["Accept-Ranges"] == "bytes"
    status, raw, resp = await quiet.call("GET", url, headers={"Range": "bytes=2-4"})
    assert (status, raw, resp.headers["Content-Range"]) == (206, b"234", "bytes 2-4/10")
    assert resp.headers["Content-Disposition"] == disposition
    status, raw, resp = await quiet.call("GET", url, headers={"If-Modified-Since": "Tue, 20 Jan 2026 09:06:40 GMT"})
    assert (status, raw, resp.headers["Content-Disposition"]) == (304, b"", disposition)
    status, raw, resp = await quiet.call("GET", url, headers={"Range": "bytes=20-"})
    assert (status, raw) == (416, b"invalid range: failed to overlap\n")
    assert resp.headers["Content-Range"] == "bytes */10"
    assert resp.headers["Content-Disposition"] == disposition


async def test_download_names_outside_ascii_use_the_rfc5987_form(quiet: Gateway) -> None:
    quiet.logs.mkdir(parents=True)
    name = "error-ä b.log"
    (quiet.logs / name).write_bytes(b"\x00\x01binary")
    status, raw, resp = await quiet.call("GET", "/v0/management/request-error-logs/error-%C3%A4%20b.log")
    assert (status, raw) == (200, b"\x00\x01binary")
    assert resp.headers["Content-Disposition"] == "attachment; filename*=UTF-8''error-%C3%A4+b.log"
    assert resp.headers["Content-Type"] == "application/octet-stream"


async def test_download_name_with_a_quote_is_escaped(quiet: Gateway) -> None:
    quiet.logs.mkdir(parents=True)
    (quiet.logs / 'error-"q".log').write_bytes(b"x")
    status, _, resp = await quiet.call("GET", "/v0/management/request-error-logs/error-%22q%22.log")
    assert status == 200
    assert resp.headers["Content-Disposition"] == 'attachment; filename="error-\\"q\\".log"'


@pytest.mark.parametrize(("name", "status", "error"), [
    ("foo.log", 404, "log file not found"),
    ("error-missing.log", 404, "log file not found"),
    ("error-a.txt", 404, "log file not found"),
    ("error-sub.log", 400, "invalid log file"),
    ("error-..log", 404, "log file not found"),
    ("%20", 400, "invalid log file name"),
    ("a%5Cb.log", 400, "invalid log file name"),
])
async def test_download_request_error_log_refusals(quiet: Gateway, name: str, status: int, error: str) -> None:
    quiet.logs.mkdir(parents=True)
    (quiet.logs / "error-sub.log").mkdir()
    assert await quiet.json("GET", f"request-error-logs/{name}") == (status, {"error": error})


async def test_an_escaping_name_never_gives_file_contents(quiet: Gateway, tmp_path: Path) -> None:
    quiet.logs.mkdir(parents=True)
    status, raw, _ = await quiet.call("GET", "/v0/management/request-error-logs/..%2Fconfig.yaml")
    assert status in (400, 404)
    assert b"api-keys" not in raw


async def test_request_log_by_id(quiet: Gateway) -> None:
    assert await quiet.json("GET", "request-log-by-id/abc") == (404, {"error": "log directory not found"})
    quiet.logs.mkdir(parents=True)
    (quiet.logs / "v1-responses-2026-01-20T101112-abc.log").write_text("found")
    status, raw, resp = await quiet.call("GET", "/v0/management/request-log-by-id/abc")
    assert (status, raw) == (200, b"found")
    assert resp.headers["Content-Disposition"] == 'attachment; filename="v1-responses-2026-01-20T101112-abc.log"'
    assert await quiet.json("GET", "request-log-by-id/nope") == (
        404, {"error": "log file not found for the given request ID"})
    assert await quiet.json("GET", "request-log-by-id/a%5Cb") == (400, {"error": "invalid request ID"})


async def test_log_routes_need_the_management_key(gateway: Gateway) -> None:
    for path in ("logs", "request-error-logs", "request-log-by-id/abc", "request-error-logs/error-a.log"):
        async with gateway.session.get(f"{gateway.url}/v0/management/{path}") as resp:
            assert resp.status == 401
