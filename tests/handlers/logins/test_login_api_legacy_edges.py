"""Edges of the HTTP login API where the answer must be CLIProxyAPI v6.7.15's byte for byte.

Facts from 9b72ea9ef: oauth_sessions.go:193-218 (state rules after strings.TrimSpace),
oauth_callback.go:20-100 (ShouldBindJSON, url.Parse, URL.Query), server.go:43 and 355-423 (the
main-server callback page).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.logins.redirect_url import redirect_query
from handlers.logins.sessions import sessions_for, valid_state
from tests.handlers.logins.test_routes import api

LEGACY_CALLBACK_PAGE = (
    '<html><head><meta charset="utf-8"><title>Authentication successful</title>'
    "<script>setTimeout(function(){window.close();},5000);</script></head><body>"
    "<h1>Authentication successful!</h1><p>You can close this window.</p>"
    "<p>This window will close automatically in 5 seconds.</p></body></html>"
)


def test_state_is_trimmed_as_go_trims() -> None:
    # Python's str.strip also drops U+001C..U+001F; Go's TrimSpace keeps them, and they are invalid.
    assert not valid_state("\x1cabc")
    assert not valid_state("abc\x1f")
    assert valid_state(" abc\t")


async def test_get_auth_status_refuses_a_state_only_python_would_trim(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        sessions_for(a.app).register("abc", "anthropic")
        assert await a.call("GET", "/v0/management/get-auth-status?state=%1Cabc") == \
            (400, {"status": "error", "error": "invalid state"})
        assert await a.call("GET", "/v0/management/get-auth-status?state=%20abc") == (200, {"status": "wait"})


async def test_null_body_binds_as_an_empty_request(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        assert await a.call("POST", "oauth-callback", data=b"null") == \
            (400, {"status": "error", "error": "unsupported provider"})


@pytest.mark.parametrize(("url", "query"), [
    ("http://localhost:54545/callback?code=c&state=s", "code=c&state=s"),
    ("http://localhost:54545/callback?code=a%zz&state=s", "code=a%zz&state=s"),  # query escapes unchecked
    ("http://localhost:54545/callback?code=c#frag", "code=c"),
    ("http://[::1]:54545/callback?x=1", "x=1"),
    ("http://user:pw@localhost/cb?x=1", "x=1"),
    ("mailto:x?state=s", "state=s"),  # opaque
    ("localhost/cb?state=s", "state=s"),
    ("http://localhost/cb?", ""),
    (":foo", None),  # missing protocol scheme
    ("1a:b/c?state=s", None),  # colon in first path segment
    ("http://a b/cb?state=s", None),  # space in host
    ("http://a{b/cb?state=s", None),
    ("http://localhost:abc/cb?state=s", None),  # invalid port
    ("http://[::1/cb?state=s", None),  # missing ']'
    ("http://%41/cb?state=s", None),  # escaped ASCII in host
    ("http://us er@host/cb?state=s", None),  # invalid userinfo
    ("http://host/c%zb?state=s", None),  # bad escape in path
    ("http://host/cb?state=s#%z", None),  # bad escape in fragment
    ("http://host/cb?state=s\x7f", None),  # control character
])
def test_redirect_url_is_parsed_as_go_parses_it(url: str, query: str | None) -> None:
    assert redirect_query(url) == query


async def test_pasted_redirect_url_reads_the_query_as_go(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        cases = [
            # url.Parse accepts it; URL.Query() drops the pair with the bad escape: no code.
            ("http://localhost:54545/callback?code=a%zz&state=abc", 400, "code or error is required"),
            # A pair holding ";" is dropped too: no state.
            ("http://localhost:54545/callback?state=abc;x=1&code=c", 400, "state is required"),
            ("http://a b/callback?state=abc&code=c", 400, "invalid redirect_url"),
            (":callback?state=abc&code=c", 400, "invalid redirect_url"),
        ]
        for url, status, message in cases:
            got = await a.call("POST", "oauth-callback", json={"provider": "claude", "redirect_url": url})
            assert got == (status, {"status": "error", "error": message}), url


async def test_main_server_callback_answers_the_legacy_page(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        async with a.client.get("/anthropic/callback", params={"state": "zz", "code": "c"}) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
            assert "Cache-Control" not in resp.headers
            assert await resp.text() == LEGACY_CALLBACK_PAGE


async def test_main_server_callback_reads_the_query_as_gin(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        _, body = await a.call("GET", "anthropic-auth-url")
        state = body["state"]
        # Gin drops the "code=c;x" pair, so there is neither code nor error: nothing is delivered.
        async with a.client.get(f"/anthropic/callback?state={state}&code=c;x") as resp:
            assert resp.status == 200
        assert sessions_for(a.app).is_pending(state)
        assert await a.call("POST", "oauth-callback",
                            json={"provider": "claude", "state": state, "error": "access_denied"}) == \
            (200, {"status": "ok"})

