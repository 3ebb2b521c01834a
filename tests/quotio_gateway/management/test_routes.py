"""Every config-backed management endpoint, and latest-version, is registered at its legacy path and
methods, guarded."""

from __future__ import annotations

from typing import Any

from quotio_gateway.management.routes import setup_management
from quotio_gateway.native import NativeRegistry
from tests.conftest import auth

from .conftest import MakeHarness

SETTERS = ["debug", "logging-to-file", "logs-max-total-size-mb", "usage-statistics-enabled", "proxy-url",
           "request-retry", "max-retry-interval", "quota-exceeded/switch-project",
           "quota-exceeded/switch-preview-model", "force-model-prefix", "routing/strategy", "ws-auth",
           "request-log"]
LISTS = ["api-keys", "gemini-api-key", "claude-api-key", "codex-api-key", "vertex-api-key",
         "openai-compatibility", "oauth-excluded-models", "oauth-model-alias"]
AMP_SETTERS = ["ampcode/restrict-management-to-localhost", "ampcode/force-model-mappings"]
AMP_LISTS = ["ampcode/upstream-url", "ampcode/upstream-api-key", "ampcode/model-mappings",
             "ampcode/upstream-api-keys"]


def expected_routes() -> set[tuple[str, str]]:
    routes = {("GET", "config"), ("GET", "config.yaml"), ("PUT", "config.yaml"), ("DELETE", "proxy-url"),
              ("GET", "ampcode"), ("GET", "latest-version")}
    routes |= {(m, p) for p in SETTERS + AMP_SETTERS for m in ("GET", "PUT", "PATCH")}
    routes |= {(m, p) for p in LISTS + AMP_LISTS for m in ("GET", "PUT", "PATCH", "DELETE")}
    return {(m, f"/v0/management/{p}") for m, p in routes}


def test_registered_routes_match_legacy() -> None:
    registry = NativeRegistry()
    setup_management(registry)
    assert {(r.method, r.path) for r in registry.routes} == expected_routes()
    assert len(registry.routes) == len(expected_routes())


async def test_every_route_requires_the_key(make_harness: MakeHarness) -> None:
    h = await make_harness()
    before = h.path.read_bytes()
    for method, path in sorted(expected_routes()):
        response = await h.call(method, path, headers=None, body=b"{}")
        assert response.status == 401, (method, path)
        assert await response.read() == b'{"error":"missing management key"}'
        assert response.headers["X-CPA-VERSION"] == "6.7.15"
    assert h.path.read_bytes() == before


async def test_every_get_answers_json_with_build_headers(make_harness: MakeHarness) -> None:
    h = await make_harness()
    for method, path in sorted(expected_routes()):
        # latest-version asks GitHub: test_latest_version.py plays it.
        if method != "GET" or path.endswith("/latest-version"):
            continue
        response = await h.call(method, path)
        assert response.status == 200, path
        assert response.headers["X-CPA-COMMIT"] == "9b72ea9ef"
        assert response.headers["X-CPA-BUILD-DATE"] == "2026-01-20T12:02:29Z"


async def test_alias_and_ampcode_are_answered_without_a_legacy_server(make_gateway: Any,
                                                                      aiohttp_client: Any) -> None:
    # Once only the legacy knew them, so with no legacy configured they answered 503.
    client = await aiohttp_client(await make_gateway({}))
    for path in ("oauth-model-alias", "ampcode", "ampcode/upstream-api-keys"):
        response = await client.get(f"/v0/management/{path}", headers=auth())
        assert response.status == 200, path
        assert response.headers["X-Quotio-Route"] == "native/native"
    response = await client.put("/v0/management/ampcode/force-model-mappings", headers=auth(),
                                json={"value": True})
    assert (response.status, await response.read()) == (200, b'{"status":"ok"}')
    response = await client.get("/v0/management/ampcode/", headers=auth(), allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (301, "/v0/management/ampcode")
