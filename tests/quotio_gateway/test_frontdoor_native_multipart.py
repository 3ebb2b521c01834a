"""Multipart bodies on the front door's native lane: ``Request.post()`` reads parser limits off the
protocol, which the lane's ProtocolView must carry as aiohttp's RequestHandler does (an auth-file
upload or a Vertex import once raised AttributeError there and answered 500)."""

from __future__ import annotations

import json
from pathlib import Path

from quotio_gateway import frontdoor_native
from quotio_gateway.server import RUNNER_OPTIONS
from tests.conftest import SECRET
from tests.quotio_gateway.test_frontdoor import exchange, serving
from tests.quotio_gateway.test_frontdoor_native import comparable, lane_calls  # noqa: F401 - fixture

BOUNDARY = "qgw-boundary"


def multipart_upload(file_name: str, content: bytes) -> bytes:
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n"
            f"Content-Type: application/json\r\n\r\n").encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()
    head = ["POST /v0/management/auth-files HTTP/1.1", "Host: gw.test:8317", "X-Request-Id: rid-mp",
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}", f"Content-Length: {len(body)}",
            f"Authorization: Bearer {SECRET}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_lane_limits_are_the_runners() -> None:
    assert frontdoor_native.ProtocolView.max_field_size == RUNNER_OPTIONS["max_field_size"]
    assert frontdoor_native.ProtocolView.max_headers == RUNNER_OPTIONS["max_headers"]


async def test_multipart_auth_file_upload_on_the_lane(make_gateway, tmp_path: Path, lane_calls) -> None:  # noqa: F811
    (tmp_path / "auths").mkdir()
    credential = {"type": "claude", "email": "mp@example.com", "access_token": "at"}
    async with serving(await make_gateway({"default": "native"})) as pair:
        fast = await exchange(pair.fast, multipart_upload("claude-fast.json", json.dumps(credential).encode()))
        slow = await exchange(pair.slow, multipart_upload("claude-slow.json", json.dumps(credential).encode()))
    assert lane_calls == ["/v0/management/auth-files"]
    assert comparable(fast[0]) == comparable(slow[0])
    assert fast[0].status_line == "HTTP/1.1 200 OK"
    assert json.loads((tmp_path / "auths" / "claude-fast.json").read_text())["email"] == "mp@example.com"
