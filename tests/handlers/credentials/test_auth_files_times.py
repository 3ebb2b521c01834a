"""Times in the /v0/management/auth-files entries the Quotio app shows: exact to the nanosecond the
legacy keeps (``time.Time`` marshalled as RFC3339Nano), with no float rounding."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from handlers.auth.credential import parse_credential
from tests.handlers.credentials.auth_files_gateway import Gateway

MTIME_NS = 1_764_200_000_123_456_789


async def test_last_refresh_in_milliseconds_is_not_float_rounded(gateway: Gateway) -> None:
    data = {"type": "claude", "email": "ms@example.com", "access_token": "at", "refresh_token": "rt",
            "expired": "2099-01-01T00:00:00Z", "last_refresh": 1_764_200_000_123}
    status, _, _ = await gateway.call("POST", "auth-files?name=claude-ms.json", data=json.dumps(data))
    assert status == 200
    entry = next(f for f in await gateway.files() if f["name"] == "claude-ms.json")
    # .123 exactly; a float epoch gave .122999808
    assert re.search(r":20\.123(Z|[+-]\d\d:\d\d)$", entry["last_refresh"]), entry["last_refresh"]


async def test_file_times_are_the_exact_mtime_nanoseconds(gateway: Gateway) -> None:
    path = gateway.auths / "claude-ann@example.com.json"
    os.utime(path, ns=(MTIME_NS, MTIME_NS))
    entry = next(f for f in await gateway.files() if f["name"] == path.name)
    for key in ("created_at", "updated_at", "modtime"):
        assert re.search(r":20\.123456789(Z|[+-]\d\d:\d\d)$", entry[key]), (key, entry[key])


def test_last_refreshed_at_camel_case_is_read(tmp_path: Path) -> None:
    # conductor.go:2077 and auth_files.go:41 both look up "lastRefreshedAt" last.
    raw = json.dumps({"type": "claude", "access_token": "at", "lastRefreshedAt": "2026-01-20T10:00:00Z"})
    credential = parse_credential("claude-x.json", raw.encode())
    assert credential.last_refresh is not None
    assert credential.last_refresh.isoformat() == "2026-01-20T10:00:00+00:00"
