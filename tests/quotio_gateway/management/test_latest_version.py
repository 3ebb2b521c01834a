"""``GET /v0/management/latest-version`` against a loopback GitHub (tests/fakes/github.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.fakes.github import GATEWAY_REPO, Answer, FakeGitHub
from tests.quotio_gateway.management.conftest import CONFIG_YAML, MakeHarness

RELEASE_PATH = f"/repos/{GATEWAY_REPO}/releases/latest"


@pytest.fixture
async def github(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    await fake.start()
    monkeypatch.setenv("QUOTIO_GATEWAY_GITHUB_API_URL", fake.url)
    yield fake
    await fake.stop()


async def latest(make_harness: MakeHarness, config: str = CONFIG_YAML, **kwargs: object) -> tuple[int, dict, str]:
    harness = await make_harness(config)
    before = harness.text()
    response = await harness.call("GET", "latest-version", **kwargs)  # type: ignore[arg-type]
    assert harness.text() == before
    return response.status, json.loads(await response.read()), response.headers.get("Content-Type", "")


async def test_tag_name_is_the_version(make_harness: MakeHarness, github: FakeGitHub) -> None:
    github.set(RELEASE_PATH, Answer.json({"tag_name": " v6.7.16 ", "name": "CLIProxyAPI 6.7.16"}))
    harness = await make_harness()
    response = await harness.call("GET", "latest-version")
    assert response.status == 200
    assert await response.read() == b'{"latest-version":"v6.7.16"}'
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["X-CPA-VERSION"] == "6.7.15"
    (sent,) = github.requests
    assert sent.path == RELEASE_PATH
    assert sent.headers["Accept"] == "application/vnd.github+json"
    assert sent.headers["User-Agent"] == "CLIProxyAPI"


async def test_name_when_tag_name_is_blank(make_harness: MakeHarness, github: FakeGitHub) -> None:
    github.set(RELEASE_PATH, Answer.json({"tag_name": "  ", "name": "v6.7.17"}))
    assert await latest(make_harness) == (200, {"latest-version": "v6.7.17"}, "application/json; charset=utf-8")


async def test_fields_match_case_insensitively_and_extra_bytes_are_ignored(make_harness: MakeHarness,
                                                                          github: FakeGitHub) -> None:
    # Go's json.Decoder reads one value into the struct: field names fold, what follows is not read.
    github.set(RELEASE_PATH, Answer(200, b'{"Tag_Name":"v7"} trailing'))
    assert (await latest(make_harness))[:2] == (200, {"latest-version": "v7"})


async def test_no_version_at_all_is_invalid_response(make_harness: MakeHarness, github: FakeGitHub) -> None:
    github.set(RELEASE_PATH, Answer.json({"tag_name": "", "name": None, "draft": False}))
    assert (await latest(make_harness))[:2] == (
        502, {"error": "invalid_response", "message": "missing release version"})
    github.set(RELEASE_PATH, Answer(200, b"null"))
    assert (await latest(make_harness))[:2] == (
        502, {"error": "invalid_response", "message": "missing release version"})


async def test_a_status_other_than_200_is_quoted(make_harness: MakeHarness, github: FakeGitHub) -> None:
    github.set(RELEASE_PATH, Answer(403, b'  {"message":"API rate limit exceeded"}\n'))
    assert (await latest(make_harness))[:2] == (
        502, {"error": "unexpected_status", "message": 'status 403: {"message":"API rate limit exceeded"}'})


async def test_the_quoted_body_stops_at_1024_bytes(make_harness: MakeHarness, github: FakeGitHub) -> None:
    github.set(RELEASE_PATH, Answer(500, b"x" * 1024 + b"tail"))
    status, body, _ = await latest(make_harness)
    assert (status, body) == (502, {"error": "unexpected_status", "message": "status 500: " + "x" * 1024})


@pytest.mark.parametrize("payload", [b"<html>rate limited</html>", b"", b'{"tag_name": 6716}', b"[1]"])
async def test_an_undecodable_release_is_decode_failed(make_harness: MakeHarness, github: FakeGitHub,
                                                       payload: bytes) -> None:
    github.set(RELEASE_PATH, Answer(200, payload))
    status, body, _ = await latest(make_harness)
    assert status == 502
    assert body["error"] == "decode_failed" and body["message"]
    assert sorted(body) == ["error", "message"]


async def test_a_broken_connection_is_request_failed(make_harness: MakeHarness, github: FakeGitHub) -> None:
    github.set(RELEASE_PATH, Answer(reset=True))
    status, body, _ = await latest(make_harness)
    assert status == 502 and body["error"] == "request_failed"
    assert body["message"].startswith(f'Get "{github.url}{RELEASE_PATH}": ')


async def test_nobody_listening_is_request_failed(make_harness: MakeHarness,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTIO_GATEWAY_GITHUB_API_URL", "http://127.0.0.1:9")
    status, body, _ = await latest(make_harness)
    assert status == 502 and body["error"] == "request_failed"
    assert body["message"].startswith(f'Get "http://127.0.0.1:9{RELEASE_PATH}": ')


async def test_an_unusable_url_is_request_create_failed(make_harness: MakeHarness,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Only reachable through the test override: the legacy's URL is a constant.
    monkeypatch.setenv("QUOTIO_GATEWAY_GITHUB_API_URL", "http://[::1")
    status, body, _ = await latest(make_harness)
    assert status == 500 and body["error"] == "request_create_failed" and body["message"]


async def test_the_management_key_is_required(make_harness: MakeHarness, github: FakeGitHub) -> None:
    github.set(RELEASE_PATH, Answer.json({"tag_name": "v6.7.16"}))
    status, body, _ = await latest(make_harness, headers=None)
    assert (status, body) == (401, {"error": "missing management key"})
    status, body, _ = await latest(make_harness, headers={"Authorization": "Bearer wrong"})
    assert (status, body) == (401, {"error": "invalid management key"})
    assert github.requests == []


async def test_the_config_proxy_carries_the_call(make_harness: MakeHarness, github: FakeGitHub,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The API origin does not resolve: only the proxy can answer, and it sees the absolute URL.
    monkeypatch.setenv("QUOTIO_GATEWAY_GITHUB_API_URL", "http://api.github.invalid")
    github.set(RELEASE_PATH, Answer.json({"tag_name": "v6.7.20"}))
    config = CONFIG_YAML + f"proxy-url: {github.url}\n"
    assert (await latest(make_harness, config))[:2] == (200, {"latest-version": "v6.7.20"})
    (sent,) = github.requests
    assert sent.headers["Host"] == "api.github.invalid"
