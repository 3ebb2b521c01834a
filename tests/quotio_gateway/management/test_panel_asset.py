"""The control panel file's place and its checks against a loopback GitHub (tests/fakes/github.py)."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quotio_gateway.config.loader import default_config
from quotio_gateway.config.models import Config
from quotio_gateway.management.panel_asset import (
    CHECK_INTERVAL,
    DEFAULT_RELEASE_URL,
    PanelUpdater,
    panel_file,
    release_url,
    static_dir,
)
from tests.fakes.github import PANEL_REPO, Answer, FakeGitHub
from tests.quotio_gateway.management.conftest import FakeClock

PAGE = b"<!doctype html><title>panel v2</title>"
OLD_PAGE = b"<!doctype html><title>panel v1</title>"
FALLBACK = b"<!doctype html><title>hosted panel</title>"
RELEASE = f"/repos/{PANEL_REPO}/releases/latest"


# --- where the file lives --------------------------------------------------------------------


def test_next_to_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    assert static_dir(config, {}) == tmp_path / "static"
    assert panel_file(config, {}) == tmp_path / "static" / "management.html"
    # A config path that is a directory is the base itself (StaticDir's IsDir branch).
    assert static_dir(tmp_path, {}) == tmp_path / "static"


def test_writable_path_comes_before_the_config_dir(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    assert panel_file(config, {"WRITABLE_PATH": " /w/ "}) == Path("/w/static/management.html")
    assert panel_file(config, {"writable_path": "/lower"}) == Path("/lower/static/management.html")
    assert panel_file(config, {"WRITABLE_PATH": "  ", "writable_path": "/lower"}) == Path(
        "/lower/static/management.html")


def test_management_static_path_names_a_directory_or_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    env = {"MANAGEMENT_STATIC_PATH": "/srv/panel/", "WRITABLE_PATH": "/w"}
    assert static_dir(config, env) == Path("/srv/panel")
    assert panel_file(config, env) == Path("/srv/panel/management.html")
    env = {"MANAGEMENT_STATIC_PATH": "/srv/panel/Management.HTML"}
    assert static_dir(config, env) == Path("/srv/panel")
    assert panel_file(config, env) == Path("/srv/panel/Management.HTML")


def test_without_a_config_file_only_the_environment_names_a_place() -> None:
    assert static_dir(None, {}) is None and panel_file(None, {}) is None
    assert panel_file(None, {"WRITABLE_PATH": "/w"}) == Path("/w/static/management.html")


@pytest.mark.parametrize(("repository", "url"), [
    ("", DEFAULT_RELEASE_URL),
    ("https://github.com/router-for-me/Cli-Proxy-API-Management-Center", DEFAULT_RELEASE_URL),
    ("https://github.com/me/panel.git/", "https://api.github.com/repos/me/panel/releases/latest"),
    ("https://GitHub.com/me/panel/tree/main", "https://api.github.com/repos/me/panel/releases/latest"),
    ("https://api.github.com/repos/me/panel", "https://api.github.com/repos/me/panel/releases/latest"),
    ("https://api.github.com/repos/me/panel/Releases/Latest/",
     "https://api.github.com/repos/me/panel/Releases/Latest"),
    ("https://github.com/me", DEFAULT_RELEASE_URL),
    ("https://gitlab.com/me/panel", DEFAULT_RELEASE_URL),
    ("me/panel", DEFAULT_RELEASE_URL),
])
def test_release_url(repository: str, url: str) -> None:
    assert release_url(repository) == url


# --- checks ----------------------------------------------------------------------------------


class Settings:
    """What the updater reads from the config, changeable between checks."""

    def __init__(self) -> None:
        self.cfg = default_config()

    def __call__(self) -> Config:
        return self.cfg

    def changed(self, **remote: object) -> tuple[Config, Config]:
        old = self.cfg
        new = old.model_copy(deep=True)
        for name, value in remote.items():
            setattr(new.remote_management, name, value)
        self.cfg = new
        return old, new


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def updater_for(tmp_path: Path, github: FakeGitHub, settings: Settings, clock: FakeClock,
                **env: str) -> PanelUpdater:
    environ = {"QUOTIO_GATEWAY_GITHUB_API_URL": github.url,
               "QUOTIO_GATEWAY_PANEL_FALLBACK_URL": github.fallback_url, **env}
    return PanelUpdater(tmp_path / "config.yaml", settings, clock=clock, environ=environ)


def local(tmp_path: Path) -> Path:
    return tmp_path / "static" / "management.html"


async def test_a_missing_file_is_downloaded(tmp_path: Path, github: FakeGitHub, settings: Settings,
                                            clock: FakeClock) -> None:
    github.asset_release(PAGE)
    await updater_for(tmp_path, github, settings, clock).check()
    assert local(tmp_path).read_bytes() == PAGE
    assert stat.S_IMODE(local(tmp_path).stat().st_mode) == 0o644
    assert github.paths() == [RELEASE, "/download/management.html"]
    lookup, download = github.requests
    assert lookup.headers["Accept"] == "application/vnd.github+json"
    assert lookup.headers["User-Agent"] == "CLIProxyAPI-management-updater"
    assert "Authorization" not in lookup.headers
    assert download.headers["User-Agent"] == "CLIProxyAPI-management-updater"
    assert "Accept" not in download.headers
    assert [p.name for p in local(tmp_path).parent.iterdir()] == ["management.html"]


async def test_an_equal_digest_leaves_the_file_alone(tmp_path: Path, github: FakeGitHub, settings: Settings,
                                                     clock: FakeClock) -> None:
    local(tmp_path).parent.mkdir()
    local(tmp_path).write_bytes(PAGE)
    before = local(tmp_path).stat()
    github.asset_release(PAGE, digest="SHA256:" + hashlib.sha256(PAGE).hexdigest().upper())
    await updater_for(tmp_path, github, settings, clock).check()
    assert github.paths() == [RELEASE]
    after = local(tmp_path).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


async def test_a_new_release_replaces_the_file(tmp_path: Path, github: FakeGitHub, settings: Settings,
                                               clock: FakeClock) -> None:
    local(tmp_path).parent.mkdir()
    local(tmp_path).write_bytes(OLD_PAGE)
    github.asset_release(PAGE)
    await updater_for(tmp_path, github, settings, clock).check()
    assert local(tmp_path).read_bytes() == PAGE


@pytest.mark.parametrize("digest", ["sha256:" + "0" * 64, ""])
async def test_a_wrong_or_missing_digest_still_saves_the_download(tmp_path: Path, github: FakeGitHub,
                                                                   settings: Settings, clock: FakeClock,
                                                                   digest: str) -> None:
    # The legacy only warns about a digest that does not match what it downloaded.
    local(tmp_path).parent.mkdir()
    local(tmp_path).write_bytes(PAGE)
    github.asset_release(PAGE, digest=digest)
    await updater_for(tmp_path, github, settings, clock).check()
    assert github.paths() == [RELEASE, "/download/management.html"]
    assert local(tmp_path).read_bytes() == PAGE


@pytest.mark.parametrize("failure", ["status", "reset", "no-asset", "not-json", "download"])
async def test_the_fallback_page_when_github_fails_and_there_is_no_file(
        tmp_path: Path, github: FakeGitHub, settings: Settings, clock: FakeClock, failure: str) -> None:
    if failure == "status":
        github.set(RELEASE, Answer(403, b'{"message":"rate limited"}'))
    elif failure == "reset":
        github.set(RELEASE, Answer(reset=True))
    elif failure == "no-asset":
        github.asset_release(PAGE, name="panel.zip")
    elif failure == "not-json":
        github.set(RELEASE, Answer(200, b"<html>"))
    else:
        github.asset_release(PAGE)
        github.set("/download/management.html", Answer(502, b"bad gateway"))
    github.set("/fallback/", Answer(200, FALLBACK))
    await updater_for(tmp_path, github, settings, clock).check()
    assert local(tmp_path).read_bytes() == FALLBACK
    assert github.requests[-1].path == "/fallback/"
    assert github.requests[-1].headers["User-Agent"] == "CLIProxyAPI-management-updater"


async def test_no_fallback_over_an_existing_file(tmp_path: Path, github: FakeGitHub, settings: Settings,
                                                 clock: FakeClock) -> None:
    local(tmp_path).parent.mkdir()
    local(tmp_path).write_bytes(OLD_PAGE)
    github.set(RELEASE, Answer(500, b"oops"))
    github.set("/fallback/", Answer(200, FALLBACK))
    await updater_for(tmp_path, github, settings, clock).check()
    assert github.paths() == [RELEASE]
    assert local(tmp_path).read_bytes() == OLD_PAGE


async def test_nothing_reachable_leaves_only_the_directory(tmp_path: Path, github: FakeGitHub,
                                                           settings: Settings, clock: FakeClock) -> None:
    github.set(RELEASE, Answer(500, b"oops"))
    github.set("/fallback/", Answer(503, b"down"))
    await updater_for(tmp_path, github, settings, clock).check()
    assert github.paths() == [RELEASE, "/fallback/"]
    assert list((tmp_path / "static").iterdir()) == []


async def test_one_check_per_three_hours(tmp_path: Path, github: FakeGitHub, settings: Settings,
                                         clock: FakeClock) -> None:
    github.set(RELEASE, Answer(500, b"oops"))
    updater = updater_for(tmp_path, github, settings, clock)
    await updater.check()
    assert github.paths() == [RELEASE, "/fallback/"]
    clock.now += CHECK_INTERVAL - 1
    await updater.check()
    assert github.paths() == [RELEASE, "/fallback/"]
    clock.now += 1
    github.asset_release(PAGE)
    await updater.check()
    assert github.paths()[2:] == [RELEASE, "/download/management.html"]
    assert local(tmp_path).read_bytes() == PAGE


async def test_no_check_while_the_panel_is_disabled_and_enabling_lifts_the_limit(
        tmp_path: Path, github: FakeGitHub, settings: Settings, clock: FakeClock) -> None:
    github.asset_release(PAGE)
    updater = updater_for(tmp_path, github, settings, clock)
    await updater.check()
    assert len(github.requests) == 2
    local(tmp_path).unlink()
    updater.config_changed(*settings.changed(disable_control_panel=True))
    await updater.settled()
    await updater.check()
    assert len(github.requests) == 2
    # Enabled again: the reload's own check goes out although the last was moments ago.
    updater.config_changed(*settings.changed(disable_control_panel=False))
    await updater.settled()
    assert github.paths()[2:] == [RELEASE, "/download/management.html"]
    assert local(tmp_path).read_bytes() == PAGE


async def test_a_reload_checks_within_the_limit_only(tmp_path: Path, github: FakeGitHub, settings: Settings,
                                                     clock: FakeClock) -> None:
    github.asset_release(PAGE)
    updater = updater_for(tmp_path, github, settings, clock)
    updater.config_changed(*settings.changed(allow_remote=True))
    await updater.settled()
    assert len(github.requests) == 2
    updater.config_changed(*settings.changed(allow_remote=False))
    await updater.settled()
    assert len(github.requests) == 2


async def test_the_configured_repository_and_an_api_url_as_given(tmp_path: Path, github: FakeGitHub,
                                                                 settings: Settings, clock: FakeClock) -> None:
    github.asset_release(PAGE, repo="me/panel")
    settings.changed(panel_github_repository="https://api.github.com/repos/me/panel")
    await updater_for(tmp_path, github, settings, clock).check()
    assert github.paths() == ["/repos/me/panel/releases/latest", "/download/management.html"]


async def test_a_github_git_store_token_goes_with_the_lookup_only(tmp_path: Path, github: FakeGitHub,
                                                                  settings: Settings, clock: FakeClock) -> None:
    github.asset_release(PAGE)
    await updater_for(tmp_path, github, settings, clock, GITSTORE_GIT_TOKEN=" tok ",
                      GITSTORE_GIT_URL="https://GitHub.com/me/store.git").check()
    lookup, download = github.requests
    assert lookup.headers["Authorization"] == "Bearer tok"
    assert "Authorization" not in download.headers


async def test_a_token_for_another_git_host_is_not_sent(tmp_path: Path, github: FakeGitHub,
                                                        settings: Settings, clock: FakeClock) -> None:
    github.asset_release(PAGE)
    await updater_for(tmp_path, github, settings, clock, GITSTORE_GIT_TOKEN="tok",
                      GITSTORE_GIT_URL="https://gitlab.com/me/store.git").check()
    assert "Authorization" not in github.requests[0].headers


async def test_the_config_proxy_carries_the_check(tmp_path: Path, github: FakeGitHub, settings: Settings,
                                                  clock: FakeClock) -> None:
    github.asset_release(PAGE)
    settings.cfg.proxy_url = github.url
    environ = {"QUOTIO_GATEWAY_GITHUB_API_URL": "http://api.github.invalid"}
    await PanelUpdater(tmp_path / "config.yaml", settings, clock=clock, environ=environ).check()
    assert github.paths() == [RELEASE, "/download/management.html"]
    assert github.requests[0].headers["Host"] == "api.github.invalid"
    assert local(tmp_path).read_bytes() == PAGE


async def test_no_place_no_check(github: FakeGitHub, settings: Settings, clock: FakeClock) -> None:
    updater = PanelUpdater(None, settings, clock=clock, environ={"QUOTIO_GATEWAY_GITHUB_API_URL": github.url})
    await updater.check()
    assert github.requests == []


async def test_the_shadow_workers_updater_never_checks(tmp_path: Path, github: FakeGitHub, settings: Settings,
                                                       clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from quotio_gateway.shadow.worker import OPTIONS_ENV, _options_from_env

    monkeypatch.setenv(OPTIONS_ENV, "{}")
    assert _options_from_env().panel_updates is False
    github.asset_release(PAGE)
    environ = {"QUOTIO_GATEWAY_GITHUB_API_URL": github.url}
    updater = PanelUpdater(tmp_path / "config.yaml", settings, active=False, clock=clock, environ=environ)
    updater.start()
    updater.check_soon()
    updater.config_changed(*settings.changed(allow_remote=True))
    await updater.settled()
    await updater.stop()
    assert github.requests == []
    assert updater.panel_file() == local(tmp_path)
