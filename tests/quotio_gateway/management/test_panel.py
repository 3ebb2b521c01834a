"""``GET /management.html`` on a whole gateway (every route native) with a loopback GitHub."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from quotio_gateway.management.panel_asset import CHECK_INTERVAL, PANEL_UPDATER, PanelUpdater
from tests.conftest import GatewayFactory, auth, eventually
from tests.fakes.github import PANEL_REPO, Answer, FakeGitHub
from tests.quotio_gateway.management.conftest import FakeClock

PAGE = b"<!doctype html><title>Management Center</title>"
FALLBACK = b"<!doctype html><title>hosted panel</title>"
RELEASE = f"/repos/{PANEL_REPO}/releases/latest"


@dataclass
class Gateway:
    url: str
    app: web.Application
    session: aiohttp.ClientSession
    panel: Path

    @property
    def updater(self) -> PanelUpdater:
        return self.app[PANEL_UPDATER]

    async def get(self, path: str = "/management.html", method: str = "GET",
                  **headers: str) -> tuple[int, dict[str, str], bytes]:
        async with self.session.request(method, self.url + path, headers=headers) as resp:
            return resp.status, dict(resp.headers), await resp.read()


Start = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def github(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    await fake.start()
    monkeypatch.setenv("QUOTIO_GATEWAY_GITHUB_API_URL", fake.url)
    monkeypatch.setenv("QUOTIO_GATEWAY_PANEL_FALLBACK_URL", fake.fallback_url)
    for name in ("MANAGEMENT_STATIC_PATH", "WRITABLE_PATH", "writable_path"):
        monkeypatch.delenv(name, raising=False)
    yield fake
    await fake.stop()


@pytest.fixture
async def start(make_gateway: GatewayFactory, tmp_path: Path, github: FakeGitHub) -> AsyncIterator[Start]:
    servers: list[TestServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def run(config: dict | None = None, *, clock: FakeClock | None = None) -> Gateway:
        app = await make_gateway({"default": "native"}, config=config)
        if clock is not None:
            app[PANEL_UPDATER].clock = clock
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        # The start-up check has gone out once the server runs; let it finish.
        await app[PANEL_UPDATER].settled()
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Gateway(str(server.make_url("")).rstrip("/"), app, session, tmp_path / "static" / "management.html")

    yield run
    for session in sessions:
        await session.close()
    for server in servers:
        await server.close()


def put_page(path: Path, data: bytes = PAGE, mtime: int = 1_700_000_000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


async def test_the_page_is_served_to_anyone(start: Start, github: FakeGitHub, tmp_path: Path) -> None:
    put_page(tmp_path / "static" / "management.html")
    github.asset_release(PAGE)  # the start-up check finds the same digest
    gw = await start()
    status, headers, body = await gw.get()
    assert (status, body) == (200, PAGE)
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Last-Modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Length"] == str(len(PAGE))
    assert "X-CPA-VERSION" not in headers  # not a management answer
    assert github.paths() == [RELEASE]
    # A management key is neither needed nor looked at.
    assert (await gw.get(Authorization="Bearer wrong"))[0] == 200


async def test_conditional_and_range_requests(start: Start, tmp_path: Path) -> None:
    put_page(tmp_path / "static" / "management.html")
    gw = await start()
    status, headers, body = await gw.get(**{"If-Modified-Since": "Tue, 14 Nov 2023 22:13:20 GMT"})
    assert (status, body) == (304, b"")
    assert headers["Last-Modified"] == "Tue, 14 Nov 2023 22:13:20 GMT" and "Content-Type" not in headers
    status, headers, body = await gw.get(Range="bytes=0-14")
    assert (status, body) == (206, PAGE[:15])
    assert headers["Content-Range"] == f"bytes 0-14/{len(PAGE)}"


async def test_disabled_panel_is_404_and_never_checked(start: Start, github: FakeGitHub, tmp_path: Path) -> None:
    put_page(tmp_path / "static" / "management.html")
    gw = await start({"remote-management": {"secret-key": "k", "disable-control-panel": True}})
    status, headers, body = await gw.get()
    assert (status, body) == (404, b"")
    assert "Content-Type" not in headers
    await gw.updater.settled()
    assert github.requests == []


async def test_start_up_fetches_a_missing_page(start: Start, github: FakeGitHub) -> None:
    github.asset_release(PAGE)
    gw = await start()
    assert github.paths() == [RELEASE, "/download/management.html"]
    assert gw.panel.read_bytes() == PAGE
    assert (await gw.get())[::2] == (200, PAGE)


async def test_fallback_page_when_the_release_lookup_fails(start: Start, github: FakeGitHub) -> None:
    github.set(RELEASE, Answer(500, b"server error"))
    github.set("/fallback/", Answer(200, FALLBACK))
    gw = await start()
    assert github.paths() == [RELEASE, "/fallback/"]
    status, _, body = await gw.get()
    assert (status, body) == (200, FALLBACK)


async def test_a_miss_checks_again_only_after_three_hours(start: Start, github: FakeGitHub) -> None:
    github.set(RELEASE, Answer(500, b"server error"))
    clock = FakeClock()
    gw = await start(clock=clock)
    assert github.paths() == [RELEASE, "/fallback/"]  # start-up check; the fallback 404s as well

    # Within the 3 hours a miss answers 404 and asks nobody.
    assert (await gw.get())[::2] == (404, b"")
    await gw.updater.settled()
    assert len(github.requests) == 2

    # Later, a miss starts a check (still 404 itself); the page is there for the next request.
    github.asset_release(PAGE)
    clock.now += CHECK_INTERVAL
    assert (await gw.get())[::2] == (404, b"")
    await gw.updater.settled()
    assert github.paths()[2:] == [RELEASE, "/download/management.html"]
    assert (await gw.get())[::2] == (200, PAGE)


async def test_management_static_path_names_the_file(start: Start, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANAGEMENT_STATIC_PATH", str(tmp_path / "elsewhere" / "management.html"))
    put_page(tmp_path / "elsewhere" / "management.html", b"<p>elsewhere</p>")
    gw = await start()
    assert (await gw.get())[::2] == (200, b"<p>elsewhere</p>")


async def test_only_get_is_routed(start: Start, tmp_path: Path) -> None:
    put_page(tmp_path / "static" / "management.html")
    gw = await start()
    # Gin registers GET alone: HEAD and POST get its plain 404.
    for method in ("HEAD", "POST"):
        status, _, body = await gw.get(method=method)
        assert status == 404
        assert body == (b"" if method == "HEAD" else b"404 page not found")


async def test_a_directory_in_the_files_place_is_redirected_like_serve_file(start: Start, tmp_path: Path) -> None:
    (tmp_path / "static" / "management.html").mkdir(parents=True)
    gw = await start()
    async with gw.session.get(gw.url + "/management.html?x=1", allow_redirects=False) as resp:
        assert resp.status == 301
        assert resp.headers["Location"] == "management.html/?x=1"


async def test_the_management_api_is_unaffected(start: Start) -> None:
    gw = await start()
    async with gw.session.get(gw.url + "/v0/management/debug", headers=auth()) as resp:
        assert resp.status == 200


async def test_enabling_the_panel_in_config_yaml_fetches_it(start: Start, github: FakeGitHub,
                                                            tmp_path: Path) -> None:
    github.asset_release(PAGE)
    gw = await start({"remote-management": {"secret-key": "k", "disable-control-panel": True}})
    assert github.requests == []
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("disable-control-panel: true", "disable-control-panel: false"))
    await eventually(lambda: gw.panel.exists(), within=10)
    await gw.updater.settled()
    assert github.paths() == [RELEASE, "/download/management.html"]
    assert (await gw.get())[::2] == (200, PAGE)
