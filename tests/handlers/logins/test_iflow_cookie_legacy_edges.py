"""The iFlow cookie login (``POST /v0/management/iflow-auth-url``) as CLIProxyAPI v6.7.15 answers
and calls: internal/auth/iflow/iflow_auth.go at 9b72ea9ef (fetchAPIKeyInfo, RefreshAPIKey)."""

from __future__ import annotations

from pathlib import Path

from tests.handlers.logins.test_routes import api


async def test_iflow_cookie_answers_use_the_legacy_wording(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        a.env.fake.token_fault["iflow-cookie"] = "malformed"
        assert await a.call("POST", "iflow-auth-url", json={"cookie": "BXAuth=abc"}) == (400, {
            "status": "error",
            "error": "iflow cookie authentication: fetch initial API key info failed: "
                     "iflow cookie: decode GET response failed",
        })
        a.env.fake.token_fault.clear()
        status, _ = await a.call("POST", "iflow-auth-url", json={"cookie": "BXAuth=abc"})
        assert status == 200
        calls = a.env.fake.seen("/iflow/apikey")
        assert [c["method"] for c in calls] == ["GET", "GET", "POST"]
        assert {c["headers"].get("Accept-Encoding") for c in calls} == {"gzip, deflate, br"}
