"""Client API-key authentication: key sources, their order, open mode and the exact 401s."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from handlers.client_auth import authenticate, bearer_token, go_query_first

KEYS = ["sk-one", "sk-two", "a b"]
MISSING = b'{"error":"Missing API key"}'
INVALID = b'{"error":"Invalid API key"}'


def _auth(path: str = "/v1/models", headers: dict[str, str] | None = None, keys: list[str] | None = None) -> object:
    request = make_mocked_request("GET", path, headers=headers or {})
    return authenticate(request, KEYS if keys is None else keys)


def _assert_401(result: object, body: bytes) -> None:
    assert isinstance(result, web.Response)
    assert result.status == 401
    assert result.body == body
    assert result.headers["Content-Type"] == "application/json; charset=utf-8"


def test_open_when_no_keys_configured() -> None:
    assert _auth(keys=[]) is None
    assert _auth(headers={"Authorization": "Bearer whatever"}, keys=[]) is None


@pytest.mark.parametrize(("headers", "path"), [
    ({"Authorization": "Bearer sk-one"}, "/v1/models"),
    ({"Authorization": "bEaReR   sk-one  "}, "/v1/models"),
    ({"Authorization": "sk-one"}, "/v1/models"),
    ({"X-Goog-Api-Key": "sk-one"}, "/v1/models"),
    ({"x-api-key": "sk-one"}, "/v1/models"),
    ({}, "/v1beta/models?key=sk-one"),
    ({}, "/v1beta/models?auth_token=sk-one"),
    ({}, "/v1beta/models?alt=sse&key=sk%2Done"),
])
def test_each_source_yields_the_principal(headers: dict[str, str], path: str) -> None:
    assert _auth(path, headers) == "sk-one"


def test_first_matching_source_wins_in_order() -> None:
    headers = {"Authorization": "Bearer nope", "X-Goog-Api-Key": "sk-two", "X-Api-Key": "sk-one"}
    assert _auth("/v1/models?key=sk-one", headers) == "sk-two"
    assert _auth("/v1/models?key=bad&auth_token=sk-one", {"X-Api-Key": "nope"}) == "sk-one"


def test_missing_key() -> None:
    _assert_401(_auth(), MISSING)
    _assert_401(_auth("/v1/models?other=sk-one"), MISSING)
    _assert_401(_auth("/v1/models?key="), MISSING)


def test_invalid_key() -> None:
    _assert_401(_auth(headers={"Authorization": "Bearer sk-three"}), INVALID)
    # A non-bearer scheme means the whole header is the key.
    _assert_401(_auth(headers={"Authorization": "Basic sk-one"}), INVALID)
    _assert_401(_auth(headers={"X-Api-Key": "SK-ONE"}), INVALID)


def test_only_empty_configured_keys_reports_missing() -> None:
    _assert_401(_auth(headers={"Authorization": "Bearer sk-one"}, keys=["", ""]), MISSING)


def test_query_parsing_follows_go() -> None:
    # "+" is a space; the first value of a repeated name is the one read.
    assert _auth("/v1/models?key=a+b") == "a b"
    _assert_401(_auth("/v1/models?key=bad&key=sk-one"), INVALID)
    # Pairs with ";" or a broken escape are dropped, so nothing is presented at all.
    _assert_401(_auth("/v1/models?key=sk-one;x"), MISSING)
    _assert_401(_auth("/v1/models?key=sk-one%zz"), MISSING)
    _assert_401(_auth("/v1/models?key=sk-one%2"), MISSING)


def test_bearer_token_shapes() -> None:
    assert bearer_token("") == ""
    assert bearer_token("Bearer") == "Bearer"
    assert bearer_token("Bearer x y") == "x y"
    assert bearer_token("Token x") == "Token x"


def test_go_query_first() -> None:
    assert go_query_first("a=1&key=%41%42&key=2", "key") == "AB"
    assert go_query_first("key", "key") == ""
    assert go_query_first("%zz=1&key=3", "key") == "3"
    assert go_query_first("", "key") == ""
