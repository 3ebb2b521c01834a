from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from handlers.auth.credential import (
    CredentialError,
    auth_index,
    encode_metadata,
    new_credential,
    parse_credential,
    parse_time_value,
    validate_file_name,
)


def parse(obj: object, name: str = "x.json") -> object:
    return parse_credential(name, json.dumps(obj).encode())


def test_auth_index_is_first_16_hex_of_sha256_of_file_prefix_and_name() -> None:
    # Values from `printf 'file:<name>' | sha256sum`.
    assert auth_index("claude-ann@example.com.json") == "a07d3e1d6a3b0b0b"
    assert auth_index("gemini-bob@example.com-proj.json") == "42c79fad611c34b8"
    assert parse({"type": "claude"}, "claude-ann@example.com.json").auth_index == "a07d3e1d6a3b0b0b"


@pytest.mark.parametrize(("type_value", "provider"), [
    ("gemini", "gemini-cli"), ("Gemini", "gemini-cli"), ("gemini-cli", "gemini-cli"), ("claude", "claude"),
    ("codex", "codex"), ("qwen", "qwen"), ("iflow", "iflow"), ("antigravity", "antigravity"), ("vertex", "vertex"),
    ("github-copilot", "github-copilot"), ("kiro", "kiro"), (" CLAUDE ", "claude"),
])
def test_provider_from_type(type_value: str, provider: str) -> None:
    cred = parse({"type": type_value})
    assert cred.provider == provider
    assert cred.type == type_value.strip().lower()


def test_common_fields_and_label() -> None:
    cred = parse({"type": "codex", "email": "a@b.c", "proxy_url": " socks5://127.0.0.1:1080 ", "prefix": "/team/"})
    assert (cred.email, cred.proxy_url, cred.prefix) == ("a@b.c", "socks5://127.0.0.1:1080", "team")
    assert cred.label == "a@b.c"
    bare = parse({"type": "codex"})
    assert (bare.email, bare.proxy_url, bare.prefix, bare.label) == ("", "", "", "codex")


@pytest.mark.parametrize(("raw", "expected"), [("a/b", ""), ("  ", ""), (7, ""), ("//x//", "x")])
def test_prefix_with_inner_slash_or_wrong_type_is_ignored(raw: object, expected: str) -> None:
    assert parse({"type": "claude", "prefix": raw}).prefix == expected


@pytest.mark.parametrize("key", ["expired", "expire", "expires_at", "expiresAt", "expiry", "expires"])
def test_every_expiry_spelling(key: str) -> None:
    cred = parse({"type": "kiro", key: "2030-01-02T03:04:05Z"})
    assert cred.expiry == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_expiry_key_order_and_nested_token() -> None:
    both = parse({"type": "claude", "expiry": "2031-01-01T00:00:00Z", "expired": "2030-01-01T00:00:00Z"})
    assert both.expiry == datetime(2030, 1, 1, tzinfo=UTC)
    unparsable_first = parse({"type": "claude", "expired": "soon", "expires_at": 1893456000})
    assert unparsable_first.expiry == datetime(2030, 1, 1, tzinfo=UTC)
    gemini = parse({"type": "gemini", "token": {"access_token": "a", "expiry": "2030-06-01T10:00:00.123456+02:00"}})
    assert gemini.expiry == datetime(2030, 6, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert parse({"type": "claude"}).expiry is None


@pytest.mark.parametrize(("value", "expected"), [
    ("2030-01-02T03:04:05Z", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2030-01-02T03:04:05.5-01:30", datetime(2030, 1, 2, 4, 34, 5, 500000, tzinfo=UTC)),
    ("2030-01-02 03:04:05", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2030-01-02 03:04", datetime(2030, 1, 2, 3, 4, tzinfo=UTC)),  # iFlow cookie logins
    (1893456000, datetime(2030, 1, 1, tzinfo=UTC)),
    (1893456000.9, datetime(2030, 1, 1, tzinfo=UTC)),
    (1893456000000, datetime(2030, 1, 1, tzinfo=UTC)),  # milliseconds (Copilot `timestamp` style)
    ("1893456000", datetime(2030, 1, 1, tzinfo=UTC)),
    (0, None), (-5, None), ("", None), ("2030-01-02", None), ("tomorrow", None), (True, None), (None, None),
    ({"nested": 1}, None),
])
def test_time_values(value: object, expected: datetime | None) -> None:
    assert parse_time_value(value) == expected


def test_last_refresh_and_is_expired() -> None:
    cred = parse({"type": "claude", "lastRefresh": "2029-12-31T00:00:00Z", "expired": "2030-01-01T00:00:00Z"})
    assert cred.last_refresh == datetime(2029, 12, 31, tzinfo=UTC)
    assert cred.is_expired(datetime(2030, 1, 1, tzinfo=UTC)) is True
    assert cred.is_expired(datetime(2029, 12, 31, 23, 59, tzinfo=UTC)) is False
    assert parse({"type": "claude"}).is_expired() is False


@pytest.mark.parametrize(("data", "reason", "message"), [
    (b"", "empty", "bad.json: file is empty"),
    (b"  \n", "empty", "bad.json: file is empty"),
    (b'{"type": "claude", ', "corrupt",
     "bad.json: not valid JSON (Expecting property name enclosed in double quotes at line 1)"),
    (b"\xff\xfe{}", "corrupt", "bad.json: not valid JSON (not UTF-8 text)"),
    (b"[1, 2]", "not_object", "bad.json: top level is not a JSON object"),
    (b'{"email": "a@b"}', "missing_type", "bad.json: no string field 'type'"),
    (b'{"type": 5}', "missing_type", "bad.json: no string field 'type'"),
    (b'{"type": "cursor"}', "unknown_type", "bad.json: unknown credential type 'cursor'"),
])
def test_unloadable_files(data: bytes, reason: str, message: str) -> None:
    with pytest.raises(CredentialError) as info:
        parse_credential("bad.json", data)
    assert info.value.reason == reason
    assert str(info.value) == message


def test_corrupt_file_error_does_not_echo_the_secret() -> None:
    with pytest.raises(CredentialError) as info:
        parse_credential("bad.json", b'{"type": "claude", "access_token": "sk-ant-SECRET" oops}')
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize("name", ["", " a.json", "a/b.json", "..\\a.json", ".hidden.json", "a.txt", "..", "."])
def test_bad_file_names(name: str) -> None:
    with pytest.raises(ValueError):
        validate_file_name(name)
    with pytest.raises(CredentialError) as info:
        new_credential(name, {"type": "claude"})
    assert info.value.reason == "bad_name"


def test_upper_case_json_suffix_is_a_credential_name() -> None:
    assert validate_file_name("claude-A.JSON") == "claude-A.JSON"


def test_rewrite_keeps_unknown_keys_and_follows_updates() -> None:
    original = parse({"type": "claude", "access_token": "a1", "expired": "2030-01-01T00:00:00Z",
                      "claudeAiOauth": {"accessToken": "x"}, "metadata": {"base_url": "https://d.example"}})
    updated = original.with_metadata(access_token="a2", expired="2031-01-01T00:00:00Z", email="n@example.com")
    again = parse_credential("x.json", updated.to_bytes())
    assert again.metadata == {"type": "claude", "access_token": "a2", "expired": "2031-01-01T00:00:00Z",
                              "claudeAiOauth": {"accessToken": "x"}, "metadata": {"base_url": "https://d.example"},
                              "email": "n@example.com"}
    assert (again.email, again.expiry) == ("n@example.com", datetime(2031, 1, 1, tzinfo=UTC))
    assert original.metadata["access_token"] == "a1"  # the original object is untouched
    assert "email" not in updated.with_metadata(email=None).metadata


def test_encoding_matches_go_json_marshal_of_a_map() -> None:
    data = encode_metadata({"type": "claude", "b": [1, 2.5, True, None], "a": "<x&y> é \u2028"})
    assert data == '{"a":"\\u003cx\\u0026y\\u003e é \\u2028","b":[1,2.5,true,null],"type":"claude"}'.encode()
    assert json.loads(data)["a"] == "<x&y> é \u2028"
