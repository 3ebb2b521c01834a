from __future__ import annotations

import json

from quotio_gateway.shadow.redact import REDACTED, redact_body, redact_headers, redact_path, redact_text

SECRETS = ["sk-ant-api03-SECRETSECRET", "AIzaSyD-secretsecretsecret123", "ya29.a0AfB_secret-token",
           "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl", "hunter2-password",
           "refresh-me-please", "mgmt-key-value"]


def test_headers() -> None:
    headers = [("Authorization", "Bearer sk-abcdefghijkl"), ("x-api-key", "k"), ("X-Goog-Api-Key", "g"),
               ("X-Management-Key", "m"), ("Cookie", "a=b"), ("Set-Cookie", "c=d"),
               ("Proxy-Authorization", "Basic x"), ("Content-Type", "application/json"),
               ("X-Debug", "token sk-abcdefghijklmnop")]
    assert redact_headers(headers) == [
        ("Authorization", REDACTED), ("x-api-key", REDACTED), ("X-Goog-Api-Key", REDACTED),
        ("X-Management-Key", REDACTED), ("Cookie", REDACTED), ("Set-Cookie", REDACTED),
        ("Proxy-Authorization", REDACTED), ("Content-Type", "application/json"),
        ("X-Debug", f"token {REDACTED}")]


def test_json_body_keys_and_token_shaped_strings() -> None:
    doc = {"api-key": "plain-value-1", "nested": [{"access_token": "a1", "refresh_token": "r1", "id_token": "i1",
                                                   "secret-key": "s1", "password": "hunter2-password"}],
           "key": "k1", "token": "t1", "cookie": "c1", "my_token": "mt", "client_secret": "cs",
           "note": "use sk-ant-api03-SECRETSECRET here", "usage": {"prompt_tokens": 3, "input_tokens": 4},
           "api_key": None, "model": "gpt-5"}
    out = json.loads(redact_body(json.dumps(doc).encode(), 10_000))
    assert out == {"api-key": REDACTED, "nested": [{"access_token": REDACTED, "refresh_token": REDACTED,
                                                    "id_token": REDACTED, "secret-key": REDACTED,
                                                    "password": REDACTED}],
                   "key": REDACTED, "token": REDACTED, "cookie": REDACTED, "my_token": REDACTED,
                   "client_secret": REDACTED, "note": f"use {REDACTED} here",
                   "usage": {"prompt_tokens": 3, "input_tokens": 4}, "api_key": None, "model": "gpt-5"}


def test_sse_body_lines_are_cleaned() -> None:
    body = (b'event: x\ndata: {"access_token": "abc", "text": "hi"}\n\n'
            b'data: {"broken": "sk-abcdefghijklmnop"\n\n')
    assert redact_body(body, 10_000) == (
        f'event: x\ndata: {{"access_token":"{REDACTED}","text":"hi"}}\n\n'
        f'data: {{"broken": "{REDACTED}"\n\n')


def test_text_body_pairs() -> None:
    text = 'oops {"refresh_token": "r\\"x", "api-key":"v"} key=AIzaSyD-secretsecretsecret123&x=1 password=pw'
    assert redact_text(text) == (f'oops {{"refresh_token": "{REDACTED}", "api-key":"{REDACTED}"}} '
                                 f"key={REDACTED}&x=1 password={REDACTED}")


def test_truncation_marker_after_redaction() -> None:
    body = b"A" * 100
    assert redact_body(body, 10) == "AAAAAAAAAA…[truncated 90 bytes]"
    assert redact_body(b"", 10) == ""
    # A secret is cleaned before cutting, so no prefix of it can survive.
    cut = redact_body(b'{"token": "abcdefghijklmnopqrstuvwxyz"}', 12)
    assert "abc" not in cut


def test_path_query_secrets() -> None:
    assert redact_path("/v1beta/models/x:generateContent?key=AIzaSyD-secretsecretsecret123&alt=sse") == (
        "/v1beta/models/x:generateContent?key=[redacted]&alt=sse")
    assert redact_path("/v1/models") == "/v1/models"


def test_no_secret_survives_any_entry_point() -> None:
    doc = {"k": SECRETS[0], "g": SECRETS[1], "o": SECRETS[2], "j": SECRETS[3], "password": SECRETS[4],
           "refresh_token": SECRETS[5], "management_key": SECRETS[6]}
    cleaned = redact_body(json.dumps(doc).encode(), 100_000) + redact_text(json.dumps(doc))
    for secret in SECRETS:
        assert secret not in cleaned


def test_lists_of_api_keys_are_redacted_element_by_element() -> None:
    body = b'{"api-keys":["client-key","plainsecretvalue42"],"debug":false}'
    assert redact_body(body, 1000) == '{"api-keys":["[redacted]","[redacted]"],"debug":false}'
    cut = '{"api-keys":["client-key","plainsecretvalue42"],"deb'
    assert "plain" not in redact_text(cut) and "client-key" not in redact_text(cut)


def test_the_configs_own_keys_are_blanked_whatever_their_shape() -> None:
    # An upstream quoting the key it refused: a Groq-style key matches no token pattern.
    from quotio_gateway.config.models import Config
    from quotio_gateway.shadow.redact import remember_secrets, secrets_in

    cfg = Config.model_validate({
        "api-keys": ["client-key-123456"],
        "claude-api-key": [{"api-key": "plainclaudekey99"}],
        "openai-compatibility": [{"name": "g", "base-url": "http://x",
                                  "api-key-entries": [{"api-key": "gsk_native7Hq2LmX9pR4tVw8ZyB3nK6"}]}],
    })
    found = secrets_in(cfg.model_dump(by_alias=True))
    assert {"client-key-123456", "plainclaudekey99", "gsk_native7Hq2LmX9pR4tVw8ZyB3nK6"} <= set(found)
    remember_secrets(found)
    try:
        quoted = b'{"error":{"message":"Incorrect API key provided: gsk_native7Hq2LmX9pR4tVw8ZyB3nK6"}}'
        assert "gsk_native" not in redact_body(quoted, 10_000)
        assert "plainclaudekey99" not in redact_text("data: key plainclaudekey99 refused")
        assert "gsk_native" not in redact_body(b"data: {\"m\": \"gsk_native7Hq2LmX9pR4tVw8ZyB3nK6\"}\n\n", 10_000)
        # Short values would blank ordinary words: they are left to the key-name rules.
        remember_secrets(["abc"])
        assert redact_text("abc def") == "abc def"
    finally:
        remember_secrets([])


async def test_the_gateway_remembers_its_configs_keys_and_follows_a_reload(make_gateway) -> None:
    from quotio_gateway import appkeys
    from quotio_gateway.shadow.redact import remember_secrets

    try:
        app = await make_gateway({}, config={"claude-api-key": [{"api-key": "first-plain-key-1"}]})
        assert redact_text("first-plain-key-1") == REDACTED
        store = app[appkeys.CONFIG_STORE]
        cfg = store.current.model_copy(deep=True)
        cfg.claude_api_key[0].api_key = "second-plain-key-2"
        await store.save(cfg)
        assert redact_text("second-plain-key-2") == REDACTED
    finally:
        remember_secrets([])
