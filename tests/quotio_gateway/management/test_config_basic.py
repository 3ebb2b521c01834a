"""GET /config, /config.yaml and the single-value settings: shapes, errors and the file on disk."""

from __future__ import annotations

import pytest
import yaml

from .conftest import CONFIG_YAML, MakeHarness

OK = b'{"status":"ok"}'
INVALID_BODY = b'{"error":"invalid body"}'

# (URL path under /v0/management, reply key, key path in config.yaml)
BOOLS = [
    ("debug", "debug", ["debug"]),
    ("logging-to-file", "logging-to-file", ["logging-to-file"]),
    ("usage-statistics-enabled", "usage-statistics-enabled", ["usage-statistics-enabled"]),
    ("force-model-prefix", "force-model-prefix", ["force-model-prefix"]),
    ("request-log", "request-log", ["request-log"]),
    ("ws-auth", "ws-auth", ["ws-auth"]),
    ("quota-exceeded/switch-project", "switch-project", ["quota-exceeded", "switch-project"]),
    ("quota-exceeded/switch-preview-model", "switch-preview-model", ["quota-exceeded", "switch-preview-model"]),
]
INTS = [
    ("request-retry", "request-retry", ["request-retry"]),
    ("max-retry-interval", "max-retry-interval", ["max-retry-interval"]),
    ("logs-max-total-size-mb", "logs-max-total-size-mb", ["logs-max-total-size-mb"]),
]


def on_disk(text: str, keys: list[str]) -> object:
    value: object = yaml.safe_load(text)
    for key in keys:
        value = value[key]  # type: ignore[index]
    return value


def assert_comments_kept(text: str) -> None:
    for comment in ("# quotio test config", "# who may manage", "# inline comment", "# routing section"):
        assert comment in text


# --- GET /config --------------------------------------------------------------------------------


async def test_get_config_hides_server_only_keys(make_harness: MakeHarness) -> None:
    h = await make_harness()
    response = await h.call("GET", "config")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = await response.json()
    for hidden in ("host", "port", "remote-management", "auth-dir"):
        assert hidden not in body
    assert (await response.read()).startswith(b'{"proxy-url":"","force-model-prefix":false,')


async def test_get_config_types_match_the_quotio_decoder(make_harness: MakeHarness) -> None:
    # Quotio contract row 11: optional keys, but each present one has the declared JSON type.
    h = await make_harness()
    body = await (await h.call("GET", "config")).json()
    assert isinstance(body["debug"], bool) and isinstance(body["proxy-url"], str)
    assert type(body["request-retry"]) is int and type(body["max-retry-interval"]) is int
    assert isinstance(body["logging-to-file"], bool) and isinstance(body["request-log"], bool)
    assert body["quota-exceeded"] == {"switch-project": False, "switch-preview-model": False}
    assert body["routing"] == {"strategy": "round-robin"}
    assert "routing-strategy" not in body


# --- /config.yaml -------------------------------------------------------------------------------


async def test_get_config_yaml_returns_the_file_bytes(make_harness: MakeHarness) -> None:
    h = await make_harness()
    response = await h.call("GET", "config.yaml")
    assert response.status == 200
    assert await response.read() == h.path.read_bytes()
    assert response.headers["Content-Type"] == "application/yaml; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "# who may manage" in (await response.read()).decode()


async def test_get_config_yaml_missing_file(make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.path.unlink()
    response = await h.call("GET", "config.yaml")
    assert response.status == 404
    assert await response.read() == b'{"error":"not_found","message":"config file not found"}'


async def test_put_config_yaml_invalid_yaml(make_harness: MakeHarness) -> None:
    h = await make_harness()
    before = h.path.read_bytes()
    response = await h.call("PUT", "config.yaml", body=b"foo: [")
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "invalid_yaml"
    assert body["message"].startswith("yaml: line ")
    assert str(h.path) not in body["message"]
    assert h.path.read_bytes() == before


async def test_put_config_yaml_empty_writes_the_file_but_keeps_serving_the_old_config(
        make_harness: MakeHarness) -> None:
    # The legacy writes the empty file and answers ok, but its watcher skips empty files
    # (config_reload.go:49-52): inference keeps its api-keys instead of opening to anyone.
    h = await make_harness()
    before = h.store.current
    response = await h.call("PUT", "config.yaml", body=b"")
    assert response.status == 200
    assert await response.json() == {"ok": True, "changed": ["config"]}
    assert h.path.read_bytes() == b""
    assert h.store.current is before and h.store.current.api_keys == ["k1"]
    # A config written to the file again (by hand: management refuses every call meanwhile) is
    # read as usual, and management answers again.
    text = CONFIG_YAML.replace("  - k1", "  - k2").encode()
    h.path.write_bytes(text)
    await h.store._on_file_change(text)
    assert h.store.current.api_keys == ["k2"] and not h.store.emptied_by_management
    assert (await h.call("GET", "debug")).status == 200


@pytest.mark.parametrize(("written", "saved"), [
    # (A bare ~ is YAML's null: the quoted one is the home directory.)
    ("~/.cli-proxy-api", "{home}/.cli-proxy-api"), ('"~"', "{home}"), ("./auths/", "auths"),
    ("/srv//auths/x/../", "/srv/auths")])
async def test_a_save_writes_auth_dir_as_the_legacy_holds_it(make_harness: MakeHarness, tmp_path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              written: str, saved: str) -> None:
    # ResolveAuthDir runs at start-up and on every reload (main.go:420-425,
    # config_reload.go:93-97), and the save writes the in-memory value back.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    h = await make_harness(CONFIG_YAML.replace("auth-dir: ~/.cli-proxy-api", f"auth-dir: {written}"))
    assert f"auth-dir: {written}\n" in h.text()
    assert (await h.call("PUT", "debug", json={"value": True})).status == 200
    assert yaml.safe_load(h.text())["auth-dir"] == saved.format(home=tmp_path / "home")
    assert yaml.safe_load(h.text())["debug"] is True


async def test_put_config_yaml_wrong_type_is_invalid_yaml(make_harness: MakeHarness) -> None:
    h = await make_harness()
    response = await h.call("PUT", "config.yaml", body=b"debug: maybe\n")
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_yaml"
    assert not h.store.current.debug


async def test_put_config_yaml_with_a_secret_bcrypt_refuses_is_the_legacy_422(make_harness: MakeHarness) -> None:
    # config.go:533-535 words it; config_basic.go:145-148 writes err.Error() as it is.
    h = await make_harness()
    before = h.path.read_bytes()
    body = b"port: 8317\nremote-management:\n  secret-key: " + b"x" * 73 + b"\n"
    response = await h.call("PUT", "config.yaml", body=body)
    assert response.status == 422
    assert await response.json() == {
        "error": "invalid_config",
        "message": "failed to hash remote management key: bcrypt: password length exceeds 72 bytes"}
    assert h.path.read_bytes() == before


async def test_put_config_yaml_replaces_file_and_reloads(make_harness: MakeHarness) -> None:
    h = await make_harness()
    new = CONFIG_YAML.replace("debug: false # inline comment", "debug: true # now on")
    response = await h.call("PUT", "config.yaml", body=new.encode())
    assert response.status == 200
    assert await response.read() == b'{"changed":["config"],"ok":true}'
    assert "debug: true # now on" in h.text()
    assert await (await h.call("GET", "debug")).read() == b'{"debug":true}'


async def test_put_config_yaml_left_aligns_indented_comments(make_harness: MakeHarness) -> None:
    # WriteConfig runs NormalizeCommentIndentation on the body before writing (config_basic.go:96).
    h = await make_harness()
    new = CONFIG_YAML.replace("debug: false # inline comment", "debug: true # now on\n    # deep indented comment")
    response = await h.call("PUT", "config.yaml", body=new.encode())
    assert response.status == 200
    assert "\n# deep indented comment\n" in h.text() and "    # deep" not in h.text()
    assert "debug: true # now on" in h.text()


# --- scalar settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "key", "yaml_keys"), BOOLS)
async def test_bool_settings_round_trip(make_harness: MakeHarness, path: str, key: str,
                                        yaml_keys: list[str]) -> None:
    h = await make_harness()
    assert await (await h.call("GET", path)).read() == f'{{"{key}":false}}'.encode()
    for method, value in (("PUT", True), ("PATCH", False), ("PATCH", True)):
        response = await h.call(method, path, json={"value": value})
        assert (response.status, await response.read()) == (200, OK)
        assert await (await h.call("GET", path)).json() == {key: value}
        assert on_disk(h.text(), yaml_keys) is value
    assert_comments_kept(h.text())


@pytest.mark.parametrize(("path", "key", "yaml_keys"), INTS)
async def test_int_settings_round_trip(make_harness: MakeHarness, path: str, key: str,
                                       yaml_keys: list[str]) -> None:
    h = await make_harness()
    for method in ("PUT", "PATCH"):
        response = await h.call(method, path, json={"value": 3 if method == "PUT" else 60})
        assert (response.status, await response.read()) == (200, OK)
    assert await (await h.call("GET", path)).read() == f'{{"{key}":60}}'.encode()
    assert on_disk(h.text(), yaml_keys) == 60
    assert_comments_kept(h.text())


async def test_request_retry_has_no_range_check(make_harness: MakeHarness) -> None:
    h = await make_harness()
    assert (await h.call("PUT", "request-retry", json={"value": -4})).status == 200
    assert await (await h.call("GET", "request-retry")).json() == {"request-retry": -4}


async def test_logs_max_total_size_clamps_negative_to_zero(make_harness: MakeHarness) -> None:
    h = await make_harness()
    assert (await h.call("PUT", "logs-max-total-size-mb", json={"value": 5})).status == 200
    assert (await h.call("PUT", "logs-max-total-size-mb", json={"value": -5})).status == 200
    assert await (await h.call("GET", "logs-max-total-size-mb")).json() == {"logs-max-total-size-mb": 0}


@pytest.mark.parametrize(("path", "body"), [
    ("debug", b"{}"),
    ("debug", b'{"value":"yes"}'),
    ("debug", b'{"value":null}'),
    ("debug", b'{"value":1}'),
    ("debug", b""),
    ("debug", b"not json"),
    ("debug", b"[true]"),
    ("request-retry", b'{"value":1.5}'),
    ("request-retry", b'{"value":3.0}'),
    ("request-retry", b'{"value":"3"}'),
    ("request-retry", b'{"value":99999999999999999999}'),
    ("logs-max-total-size-mb", b'{"value":true}'),
    ("proxy-url", b'{"value":5}'),
    ("quota-exceeded/switch-project", b'{"value":"false"}'),
])
async def test_scalar_bodies_legacy_rejects(make_harness: MakeHarness, path: str, body: bytes) -> None:
    h = await make_harness()
    before = h.path.read_bytes()
    response = await h.call("PUT", path, body=body, headers={"Authorization": "Bearer s3cret",
                                                             "Content-Type": "application/json"})
    assert (response.status, await response.read()) == (400, INVALID_BODY)
    assert h.path.read_bytes() == before


@pytest.mark.parametrize("body", [b'{"VALUE":true}', b'{"value":true} trailing', b'{"value":false,"value":true}',
                                  b'{"value":true,"other":[1,2]}'])
async def test_scalar_bodies_go_accepts(make_harness: MakeHarness, body: bytes) -> None:
    h = await make_harness()
    assert (await h.call("PUT", "debug", body=body)).status == 200
    assert await (await h.call("GET", "debug")).json() == {"debug": True}


async def test_proxy_url_set_and_delete(make_harness: MakeHarness) -> None:
    h = await make_harness()
    assert await (await h.call("GET", "proxy-url")).read() == b'{"proxy-url":""}'
    # Stored verbatim: not trimmed, not validated.
    assert (await h.call("PUT", "proxy-url", json={"value": " socks5://127.0.0.1:1080 "})).status == 200
    assert await (await h.call("GET", "proxy-url")).json() == {"proxy-url": " socks5://127.0.0.1:1080 "}
    assert on_disk(h.text(), ["proxy-url"]) == " socks5://127.0.0.1:1080 "
    response = await h.call("DELETE", "proxy-url")
    assert (response.status, await response.read()) == (200, OK)
    assert await (await h.call("GET", "proxy-url")).json() == {"proxy-url": ""}
    assert_comments_kept(h.text())


# --- routing strategy ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "stored"), [
    ("FF", "fill-first"), (" fillfirst ", "fill-first"), ("fill-first", "fill-first"),
    ("rr", "round-robin"), ("RoundRobin", "round-robin"), ("", "round-robin"),
])
async def test_routing_strategy_spellings(make_harness: MakeHarness, value: str, stored: str) -> None:
    h = await make_harness()
    assert (await h.call("PUT", "routing/strategy", json={"value": value})).status == 200
    assert await (await h.call("GET", "routing/strategy")).read() == f'{{"strategy":"{stored}"}}'.encode()
    assert on_disk(h.text(), ["routing", "strategy"]) == stored
    assert "# routing section" in h.text()


async def test_routing_strategy_errors(make_harness: MakeHarness) -> None:
    h = await make_harness()
    response = await h.call("PUT", "routing/strategy", json={"value": "random"})
    assert (response.status, await response.read()) == (400, b'{"error":"invalid strategy"}')
    response = await h.call("PATCH", "routing/strategy", json={"strategy": "fill-first"})
    assert (response.status, await response.read()) == (400, INVALID_BODY)


async def test_routing_strategy_echoes_unknown_stored_value(make_harness: MakeHarness) -> None:
    h = await make_harness(CONFIG_YAML.replace("strategy: round-robin", 'strategy: "  Weighted "'))
    assert await (await h.call("GET", "routing/strategy")).json() == {"strategy": "Weighted"}
    h2 = await make_harness(CONFIG_YAML.replace("strategy: round-robin", "strategy: FF"))
    assert await (await h2.call("GET", "routing/strategy")).json() == {"strategy": "fill-first"}


# --- Quotio contract rows 1, 11, 12, 13 -----------------------------------------------------------


async def test_quotio_health_probe(make_harness: MakeHarness) -> None:
    h = await make_harness()
    headers = {"Authorization": "Bearer s3cret", "Accept": "application/json", "Connection": "close",
               "Content-Type": "application/json"}
    response = await h.call("GET", "debug", headers=headers)
    assert (response.status, await response.json()) == (200, {"debug": False})


async def test_quotio_settings_writes_show_in_get_config(make_harness: MakeHarness) -> None:
    h = await make_harness()
    writes = [("PUT", "debug", True), ("PUT", "logging-to-file", True), ("PUT", "request-log", True),
              ("PUT", "request-retry", 5), ("PUT", "max-retry-interval", 60),
              ("PATCH", "quota-exceeded/switch-project", False),
              ("PATCH", "quota-exceeded/switch-preview-model", True),
              ("PUT", "proxy-url", "socks5://127.0.0.1:1080"), ("PUT", "routing/strategy", "fill-first")]
    for method, path, value in writes:
        response = await h.call(method, path, json={"value": value},
                                headers={"Authorization": "Bearer s3cret", "Connection": "close"})
        assert 200 <= response.status < 300
    config = await (await h.call("GET", "config")).json()
    assert (config["debug"], config["logging-to-file"], config["request-log"]) == (True, True, True)
    assert (config["request-retry"], config["max-retry-interval"]) == (5, 60)
    assert config["quota-exceeded"] == {"switch-project": False, "switch-preview-model": True}
    assert config["proxy-url"] == "socks5://127.0.0.1:1080"
    assert await (await h.call("GET", "routing/strategy")).json() == {"strategy": "fill-first"}
    assert (await h.call("DELETE", "proxy-url")).status == 200
    assert (await (await h.call("GET", "config")).json())["proxy-url"] == ""
    assert_comments_kept(h.text())


async def test_save_failure_is_a_500_with_reason(make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.path.unlink()
    h.path.mkdir()
    response = await h.call("PUT", "debug", json={"value": True})
    assert response.status == 500
    assert (await response.json())["error"].startswith("failed to save config: ")


async def test_put_config_yaml_empty_body_empties_the_config(make_harness: MakeHarness) -> None:
    # Legacy accepts an empty document; its handler then holds a config with no secret, so every
    # management call is refused (handler.go:199-201) while its routes stay mounted.
    h = await make_harness()
    response = await h.call("PUT", "config.yaml", body=b"")
    assert (response.status, await response.read()) == (200, b'{"changed":["config"],"ok":true}')
    assert h.path.read_bytes() == b""
    response = await h.call("GET", "debug")
    assert (response.status, await response.read()) == (403, b'{"error":"remote management key not set"}')
