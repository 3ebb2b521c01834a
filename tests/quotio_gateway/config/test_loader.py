from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest
import yaml

from quotio_gateway.config.loader import ConfigError, default_config, hash_secret, load_config, looks_like_bcrypt
from quotio_gateway.config.models import DEFAULT_PANEL_GITHUB_REPOSITORY

HASHED = "$2a$10$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012"
ALIAS_HEADER = "oauth-model-alias: {}\n"  # present, so the load does not seed antigravity aliases


def test_example_config_loads_every_section(example_path: Path) -> None:
    before = example_path.read_bytes()
    cfg = load_config(example_path)
    assert example_path.read_bytes() == before  # nothing to hash or migrate
    assert cfg.host == "" and cfg.port == 8317
    assert cfg.remote_management.secret_key == HASHED
    assert cfg.auth_dir == "~/.cli-proxy-api"
    assert cfg.api_keys == ["client-key-one", "client-key-two"]
    assert (cfg.request_retry, cfg.max_retry_interval) == (3, 30)
    assert cfg.quota_exceeded.switch_project and cfg.quota_exceeded.switch_preview_model
    assert (cfg.streaming.keepalive_seconds, cfg.streaming.bootstrap_retries) == (15, 1)
    assert [k.api_key for k in cfg.gemini_api_key] == ["gemini-key-a", "gemini-key-b"]
    assert cfg.gemini_api_key[0].headers == {"X-Extra": "yes please"}
    assert cfg.gemini_api_key[0].models[0].alias == "flash"
    assert cfg.codex_api_key[0].base_url == "https://codex.example.test/v1"
    assert cfg.claude_api_key[1].cloak is not None and cfg.claude_api_key[1].cloak.mode == "always"
    assert cfg.openai_compatibility[0].api_key_entries[0].proxy_url == "socks5://127.0.0.1:1080"
    assert cfg.vertex_api_key[0].models[0].alias == "vertex-pro"
    assert cfg.ampcode.model_mappings[0].from_ == "claude-opus-4-5-20251101"
    assert cfg.oauth_model_alias["gemini-cli"][0].fork is True
    assert cfg.oauth_excluded_models == {"claude": ["claude-3-5-haiku-20241022"]}
    assert cfg.payload.default[0].params == {"generationConfig.thinkingConfig.thinkingBudget": 32768}
    assert cfg.gateway == {"provider-endpoints": {"claude": "https://api.anthropic.com"}}


def test_defaults_of_an_empty_file(write_config) -> None:
    cfg = load_config(write_config(ALIAS_HEADER))
    assert cfg.port == 0 and cfg.host == "" and cfg.auth_dir == ""
    assert cfg.remote_management.panel_github_repository == DEFAULT_PANEL_GITHUB_REPOSITORY
    assert cfg.routing.strategy == "" and cfg.routing.effective_strategy == "round-robin"
    assert cfg.api_keys == [] and cfg.is_nil("api_keys")
    assert cfg.tls.enable is False and cfg.debug is False and cfg.request_retry == 0


def test_default_config_is_the_no_file_config() -> None:
    cfg = default_config()
    assert (cfg.port, cfg.host, cfg.auth_dir) == (8317, "", "~/.cli-proxy-api")
    assert cfg.remote_management.secret_key == ""
    assert cfg.api_keys == [] and cfg.request_retry == 0
    assert [a.alias for a in cfg.oauth_model_alias["antigravity"]][:2] == [
        "gemini-2.5-computer-use-preview-10-2025", "gemini-3-pro-image-preview"]


# --- errors --------------------------------------------------------------------------------


def test_malformed_yaml_names_file_and_line(write_config) -> None:
    path = write_config("port: 8317\ndebug: [true\nhost: x\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.file == str(path) and err.key is None and err.kind == "yaml"
    assert err.line == 3
    assert str(err).startswith(f"invalid config {path}: line 3: yaml: ")


def test_wrong_type_names_key_and_reason(write_config) -> None:
    path = write_config("port: eighty\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"invalid config {path}: key 'port': Input should be a valid integer"
    assert (info.value.key, info.value.kind) == ("port", "schema")


@pytest.mark.parametrize(("text", "key", "reason"), [
    ("debug: \"true\"\n", "debug", "Input should be a valid boolean"),
    ("tls:\n  enable: 3\n", "tls.enable", "Input should be a valid boolean"),
    ("gemini-api-key:\n  - api-key: k\n    priority: high\n", "gemini-api-key[0].priority",
     "Input should be a valid integer"),
    ("api-keys: {a: 1}\n", "api-keys", "Input should be a valid list"),
    ("request-retry: .nan\n", "request-retry", "Input should be a valid integer"),
    ("port: 99999999999999999999\n", "port", "Input should be a valid 64-bit integer"),
])
def test_schema_errors_use_dotted_keys(write_config, text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(ALIAS_HEADER + text))
    assert (info.value.key, info.value.reason) == (key, reason)


def test_secret_never_appears_in_errors(write_config) -> None:
    path = write_config("remote-management:\n  secret-key: [topsecretvalue]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "topsecretvalue" not in str(info.value)
    assert info.value.key == "remote-management.secret-key"


def test_duplicate_key_is_an_error_with_both_lines(write_config) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write_config("port: 1\ndebug: false\nport: 2\n"))
    assert info.value.line == 3
    assert info.value.reason == 'yaml: mapping key "port" already defined at line 1'


def test_non_mapping_document_is_rejected(write_config) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write_config("- a\n- b\n"))
    assert info.value.reason == "yaml: cannot unmarshal a sequence into the config mapping"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.reason == "failed to read config file: No such file or directory"


def test_unknown_keys_are_kept_and_snake_case_spellings_are_not_fields(write_config) -> None:
    cfg = load_config(write_config(ALIAS_HEADER + "mystery: {a: 1}\nrequest_log: true\n"
                                   "claude-api-key:\n  - api-key: k\n    note: hi\n"))
    assert cfg.model_extra == {"mystery": {"a": 1}, "request_log": True}
    assert cfg.request_log is False  # Go only knows the hyphenated key
    assert cfg.claude_api_key[0].model_extra == {"note": "hi"}


# --- yaml.v3 scalar rules ----------------------------------------------------------------------


def test_scalars_follow_yaml_v3(write_config) -> None:
    cfg = load_config(write_config(ALIAS_HEADER + (
        "debug: yes\nws-auth: off\nproxy-url: 12345\nauth-dir: 2024-01-02\n"
        "request-retry: 0x10\nmax-retry-interval: 1_0\nhost: 1:20\nlogs-max-total-size-mb: 7.9\n"
        "nonstream-keepalive-interval: 0777\n"
        "claude-api-key:\n  - api-key: on\n    prefix: 010\n"
        "api-keys: [0x1F, 1e3, .5, 00123, +7, TRUE]\n")))
    assert cfg.debug is True and cfg.ws_auth is False
    assert cfg.proxy_url == "12345" and cfg.auth_dir == "2024-01-02" and cfg.host == "1:20"
    assert (cfg.request_retry, cfg.max_retry_interval) == (16, 10)
    assert cfg.logs_max_total_size_mb == 7  # a float into an int field is truncated, as Go's int64()
    assert cfg.nonstream_keepalive_interval == 511  # YAML 1.1 octal is still read by yaml.v3
    assert cfg.claude_api_key[0].api_key == "on"
    # A string field gets the scalar's source text, whatever type it resolves to.
    assert cfg.claude_api_key[0].prefix == "010"
    assert cfg.api_keys == ["0x1F", "1e3", ".5", "00123", "+7", "true"]


@pytest.mark.parametrize(("text", "value"), [('"on"', True), ("'yes'", True), ('"Y"', True), ('"OFF"', False),
                                             ("'no'", False)])
def test_a_quoted_yaml_1_1_bool_fills_a_bool_field(write_config, text: str, value: bool) -> None:
    # yaml.v3 sets a typed bool from these spellings whatever the quoting (decode.go, reflect.Bool).
    assert load_config(write_config(ALIAS_HEADER + f"debug: {text}\n")).debug is value


def test_a_quoted_true_is_still_no_bool(write_config) -> None:
    with pytest.raises(ConfigError):
        load_config(write_config(ALIAS_HEADER + 'debug: "true"\n'))


def test_null_values_are_zero_values(write_config) -> None:
    cfg = load_config(write_config(ALIAS_HEADER + "port:\ntls:\napi-keys:\nstreaming: ~\n"))
    assert cfg.port == 0 and cfg.tls.enable is False and cfg.is_nil("api_keys")


# --- normalisations ------------------------------------------------------------------------------


def test_secret_key_is_hashed_and_written_back_with_comments(write_config) -> None:
    path = write_config(
        "# head comment\nport: 8317 # port eol\nremote-management:\n  # key comment\n"
        "  secret-key: \"s3cret\" # eol\n  allow-remote: true\n" + ALIAS_HEADER)
    cfg = load_config(path)
    hashed = cfg.remote_management.secret_key
    assert looks_like_bcrypt(hashed) and hashed.startswith("$2a$10$")
    assert bcrypt.checkpw(b"s3cret", hashed.encode())
    text = path.read_text()
    assert text == (f"# head comment\nport: 8317 # port eol\nremote-management:\n# key comment\n"
                    f"  secret-key: \"{hashed}\" # eol\n  allow-remote: true\n{ALIAS_HEADER}")
    # A second load leaves the hash alone.
    assert load_config(path).remote_management.secret_key == hashed
    assert path.read_text() == text


@pytest.mark.parametrize("value", ["$2a$", "abc", "$2x$10$zzzz"])
def test_values_that_only_look_hashed_are_still_hashed(write_config, value: str) -> None:
    path = write_config(f"remote-management:\n  secret-key: '{value}'\n" + ALIAS_HEADER)
    hashed = load_config(path).remote_management.secret_key
    assert bcrypt.checkpw(value.encode(), hashed.encode())
    assert yaml.safe_load(path.read_text())["remote-management"]["secret-key"] == hashed


def test_secret_longer_than_bcrypt_allows_fails_like_go(write_config) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write_config("remote-management:\n  secret-key: " + "x" * 73 + "\n"))
    assert info.value.reason == "failed to hash remote management key: bcrypt: password length exceeds 72 bytes"
    assert "xxxx" not in str(info.value)


def test_hash_secret_uses_cost_10() -> None:
    assert hash_secret("pw")[:7] == "$2a$10$"


def test_logs_size_negative_becomes_zero_and_panel_repo_default(write_config) -> None:
    cfg = load_config(write_config(ALIAS_HEADER + "logs-max-total-size-mb: -5\n"
                                   "remote-management:\n  panel-github-repository: '  '\n"))
    assert cfg.logs_max_total_size_mb == 0
    assert cfg.remote_management.panel_github_repository == DEFAULT_PANEL_GITHUB_REPOSITORY


def test_auth_providers_fold_into_empty_api_keys(write_config) -> None:
    text = ALIAS_HEADER + ("auth:\n  providers:\n    - name: other\n      type: something\n"
                           "      api-keys: [x]\n    - type: config-api-key\n      api-keys: [a, b]\n")
    cfg = load_config(write_config(text))
    assert cfg.api_keys == ["a", "b"] and cfg.auth.providers == []
    cfg2 = load_config(write_config(text + "api-keys: [mine]\n", "c2.yaml"))
    assert cfg2.api_keys == ["mine"]


def test_gemini_keys_trimmed_deduped_and_normalised(write_config) -> None:
    cfg = load_config(write_config(ALIAS_HEADER + (
        "gemini-api-key:\n"
        "  - api-key: ' g1 '\n    prefix: ' /team/ '\n    base-url: ' https://b '\n"
        "    headers: {' X-A ': ' v ', X-Empty: ''}\n    excluded-models: [' A* ', a*, '']\n"
        "  - api-key: g1\n  - api-key: '  '\n  - api-key: g2\n    prefix: a/b\n")))
    assert [k.api_key for k in cfg.gemini_api_key] == ["g1", "g2"]
    first = cfg.gemini_api_key[0]
    assert (first.prefix, first.base_url, first.headers, first.excluded_models) == (
        "team", "https://b", {"X-A": "v"}, ["a*"])
    assert cfg.gemini_api_key[1].prefix == ""  # a prefix with an inner slash is dropped


def test_entries_without_base_url_are_dropped(write_config) -> None:
    cfg = load_config(write_config(ALIAS_HEADER + (
        "codex-api-key:\n  - api-key: c1\n  - api-key: c2\n    base-url: ' https://c '\n"
        "vertex-api-key:\n  - api-key: v1\n  - api-key: v2\n    base-url: https://v\n"
        "    models: [{name: m, alias: ''}, {name: ' m2 ', alias: ' a2 '}]\n"
        "  - api-key: v2\n    base-url: https://v\n"
        "openai-compatibility:\n  - name: gone\n  - name: ' kept '\n    base-url: https://o\n"
        "claude-api-key:\n  - api-key: ' k '\n    prefix: /p/\n")))
    assert [(k.api_key, k.base_url) for k in cfg.codex_api_key] == [("c2", "https://c")]
    assert [(k.api_key, k.base_url) for k in cfg.vertex_api_key] == [("v2", "https://v")]
    assert [(m.name, m.alias) for m in cfg.vertex_api_key[0].models] == [("m2", "a2")]
    assert [c.name for c in cfg.openai_compatibility] == ["kept"]
    # Claude entries are never dropped and their key is not trimmed (Go leaves it).
    assert (cfg.claude_api_key[0].api_key, cfg.claude_api_key[0].prefix) == (" k ", "p")


def test_oauth_maps_lower_cased_and_cleaned(write_config) -> None:
    cfg = load_config(write_config(
        "oauth-excluded-models:\n  ' Claude ': [' Opus* ', opus*]\n  codex: ['']\n"
        "oauth-model-alias:\n  ' Gemini-CLI ':\n"
        "    - {name: a, alias: b}\n    - {name: c, alias: B}\n    - {name: d, alias: D}\n"
        "    - {name: '', alias: x}\n  empty: []\n"))
    assert cfg.oauth_excluded_models == {"claude": ["opus*"]}
    assert [(a.name, a.alias) for a in cfg.oauth_model_alias["gemini-cli"]] == [("a", "b")]
    assert list(cfg.oauth_model_alias) == ["gemini-cli"]


def test_routing_strategy_aliases(write_config) -> None:
    for raw, effective in [("FF", "fill-first"), (" fillfirst ", "fill-first"), ("fill-first", "fill-first"),
                           ("rr", "round-robin"), ("bogus", "round-robin")]:
        cfg = load_config(write_config(ALIAS_HEADER + f"routing:\n  strategy: '{raw}'\n"))
        assert cfg.routing.strategy == raw  # stored as written: GET /config echoes it
        assert cfg.routing.effective_strategy == effective


def test_invalid_raw_payload_rules_dropped(write_config) -> None:
    cfg = load_config(write_config(ALIAS_HEADER + (
        "payload:\n  default-raw:\n"
        "    - params: {a: '{\"ok\": 1}'}\n"
        "    - params: {a: '{broken'}\n"
        "    - params: {a: 'NaN'}\n"
        "    - params: {}\n"
        "    - params: {a: 5}\n"
        "  override-raw:\n    - params: {b: '   '}\n")))
    assert [r.params for r in cfg.payload.default_raw] == [{"a": '{"ok": 1}'}, {"a": 5}]
    assert cfg.payload.override_raw == [] and not cfg.payload.is_nil("override_raw")


# --- file migrations ---------------------------------------------------------------------------


def test_missing_alias_section_is_seeded_in_the_file(write_config) -> None:
    path = write_config("# mine\nport: 1\n")
    cfg = load_config(path)
    assert cfg.oauth_model_alias["antigravity"][0].name == "rev19-uic3-1p"
    data = yaml.safe_load(path.read_text())
    assert len(data["oauth-model-alias"]["antigravity"]) == 7
    assert path.read_text().startswith("# mine\nport: 1\noauth-model-alias:\n  antigravity:\n")


def test_old_oauth_model_mappings_renamed(write_config) -> None:
    path = write_config("oauth-model-mappings:\n  Antigravity:\n    - name: gemini-3-pro-preview\n"
                        "      alias: my-pro\n      fork: true\n  claude:\n    - name: x\n      alias: y\n"
                        "debug: true\n")
    cfg = load_config(path)
    data = yaml.safe_load(path.read_text())
    assert "oauth-model-mappings" not in data and next(iter(data)) == "oauth-model-alias"
    ag = cfg.oauth_model_alias["antigravity"]
    assert (ag[0].name, ag[0].alias, ag[0].fork) == ("gemini-3-pro-high", "my-pro", True)
    assert len(ag) == 7  # the missing defaults are added after the user's entry
    assert [(a.name, a.alias) for a in cfg.oauth_model_alias["claude"]] == [("x", "y")]
    assert cfg.debug is True


def test_legacy_keys_migrated_and_persisted(write_config) -> None:
    path = write_config(ALIAS_HEADER + (
        "# legacy gemini\ngenerative-language-api-key: [' lg1 ', lg1, g0]\n"
        "gemini-api-key:\n  - api-key: g0\n"
        "amp-upstream-url: ' https://amp '\namp-restrict-management-to-localhost: true\n"
        "amp-model-mappings:\n  - {from: a, to: b}\n"
        "openai-compatibility:\n  - name: r\n    base-url: https://r\n    api-keys: [k1, ' k2 ']\n"
        "debug: true\n"))
    cfg = load_config(path)
    assert [k.api_key for k in cfg.gemini_api_key] == ["g0", "lg1"]
    assert cfg.ampcode.upstream_url == "https://amp" and cfg.ampcode.restrict_management_to_localhost
    assert [(m.from_, m.to) for m in cfg.ampcode.model_mappings] == [("a", "b")]
    assert [e.api_key for e in cfg.openai_compatibility[0].api_key_entries] == ["k1", "k2"]
    data = yaml.safe_load(path.read_text())
    for legacy in ("generative-language-api-key", "amp-upstream-url", "amp-model-mappings",
                   "amp-restrict-management-to-localhost"):
        assert legacy not in data
    assert "api-keys" not in data["openai-compatibility"][0]
    assert data["openai-compatibility"][0]["api-key-entries"] == [{"api-key": "k1"}, {"api-key": "k2"}]
    assert data["gemini-api-key"] == [{"api-key": "g0"}, {"api-key": "lg1"}]
    assert data["ampcode"]["upstream-url"] == "https://amp"
    assert load_config(path).model_dump() == cfg.model_dump()


def test_a_tagged_int_that_is_no_integer_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('port: 8317\nmystery: !!int "0x-10"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"invalid config {path}: line 2: yaml: cannot decode !!int `0x-10` as an integer"
