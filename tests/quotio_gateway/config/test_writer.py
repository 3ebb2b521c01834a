from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from quotio_gateway.config.gojson import YamlMap, render_go_yaml
from quotio_gateway.config.loader import load_config
from quotio_gateway.config.models import ClaudeKey, Config, GeminiKey, ModelAlias, OAuthModelAlias
from quotio_gateway.config.writer import render_config_for_persist, save_config_preserving, update_nested_scalar

ALIAS = "oauth-model-alias: {}\n"

# Keys yaml.Marshal emits for a zero Config, in Go struct order (auth and the omitempty ints and
# maps are absent).
GO_ZERO_KEYS = [
    "proxy-url", "force-model-prefix", "request-log", "api-keys", "streaming", "host", "port", "tls",
    "remote-management", "auth-dir", "debug", "commercial-mode", "logging-to-file",
    "logs-max-total-size-mb", "usage-statistics-enabled", "disable-cooling", "request-retry",
    "max-retry-interval", "quota-exceeded", "routing", "ws-auth", "codex-instructions-enabled",
    "gemini-api-key", "codex-api-key", "claude-api-key", "openai-compatibility", "vertex-api-key",
    "ampcode", "payload",
]


def _keys(node: YamlMap) -> list[str]:
    return [k for k, _ in node.items]


def test_rendered_key_set_matches_go_marshal() -> None:
    assert _keys(render_config_for_persist(Config())) == GO_ZERO_KEYS
    full = Config(nonstream_keepalive_interval=3, oauth_excluded_models={"b": ["x"], "a": ["y"]},
                  oauth_model_alias={"c": [OAuthModelAlias(name="n", alias="a")]})
    keys = _keys(render_config_for_persist(full))
    assert keys[keys.index("streaming") + 1] == "nonstream-keepalive-interval"
    assert keys[-3:] == ["oauth-excluded-models", "oauth-model-alias", "payload"]
    claude = render_go_yaml(ClaudeKey(api_key="k"))
    assert _keys(claude) == ["api-key", "base-url", "proxy-url", "models"]
    gemini = render_go_yaml(GeminiKey(api_key="k"))
    assert _keys(gemini) == ["api-key"]


def test_auth_block_never_rendered() -> None:
    cfg = Config.model_validate({"auth": {"providers": [{"type": "config-api-key", "api-keys": ["a"]}]}})
    assert "auth" not in _keys(render_config_for_persist(cfg))


def test_map_keys_sorted_like_yaml_v3() -> None:
    node = render_go_yaml({"b10": 1, "b9": 2, "a": 3, "B": 4, "b09": 5, "1x": 6})
    assert _keys(node) == ["1x", "B", "a", "b9", "b09", "b10"]


def test_unchanged_config_keeps_comments_quotes_and_order(write_config) -> None:
    path = write_config(
        "# head\n\n# port comment\nport: 8317 # eol\nmystery:\n  keep: [1, 2]\n"
        "host: '127.0.0.1'\napi-keys:\n  - \"a\" # first\n  - b\n" + ALIAS)
    save_config_preserving(path, load_config(path))
    assert path.read_text() == (
        "# head\n\n# port comment\nport: 8317 # eol\nmystery:\n  keep:\n    - 1\n    - 2\n"
        "host: '127.0.0.1'\napi-keys:\n  - \"a\" # first\n  - b\n" + ALIAS +
        "remote-management:\n  allow-remote: false\n  secret-key: \"\"\n  disable-control-panel: false\n"
        "  panel-github-repository: https://github.com/router-for-me/Cli-Proxy-API-Management-Center\n")


def test_explicit_tags_survive_a_save(write_config) -> None:
    # yaml.v3 keeps each scalar's tag on a write; the file must load again with the same values.
    path = write_config("mystery: !!str 5\napi-keys: [!!str 12345]\npayload:\n  override:\n"
                        "    - models: [{name: m, protocol: ''}]\n      params:\n        user: !!str 5\n" + ALIAS)
    cfg = load_config(path)
    save_config_preserving(path, cfg)
    text = path.read_text()
    assert "!!%20" not in text and "mystery: !!str 5" in text
    again = load_config(path)
    assert again.api_keys == ["12345"]
    assert again.payload.model_dump(by_alias=True) == cfg.payload.model_dump(by_alias=True)


def test_integers_of_unknown_keys_keep_their_text(write_config) -> None:
    # yaml.v3 leaves an untouched node's text alone: signs, bases and leading zeros survive, and
    # the file loads again (ruamel would write ``!!int "0x-1F"`` for a negative hex number).
    odd = "mystery:\n  a: -017\n  b: -0x1F\n  c: +12\n  d: -0o17\n  e: -0b101\n  f: 0777\n  g: 1_000\n"
    path = write_config("port: 0x1F\n" + odd + ALIAS)
    save_config_preserving(path, load_config(path))
    text = path.read_text()
    assert text.startswith("port: 31\n" + odd)  # a known key is rendered from its value, as Go does
    assert load_config(path).port == 31


def test_updates_in_place_and_appends_only_non_zero_keys(write_config) -> None:
    path = write_config("debug: false # dbg\nproxy-url: \"\"\nremote-management:\n  secret-key: ''\n" + ALIAS)
    cfg = load_config(path)
    cfg.debug = True
    cfg.proxy_url = "socks5://h:1"
    cfg.remote_management.secret_key = "$2a$10$x"
    cfg.request_retry = 2
    cfg.ws_auth = False
    save_config_preserving(path, cfg)
    data = yaml.safe_load(path.read_text())
    text = path.read_text()
    assert text.startswith("debug: true # dbg\nproxy-url: \"socks5://h:1\"\n"
                           "remote-management:\n  secret-key: '$2a$10$x'\n")
    assert data["request-retry"] == 2 and "ws-auth" not in data and "port" not in data
    assert list(data)[-1] == "request-retry"


def test_new_list_entries_render_go_zero_fields(write_config) -> None:
    path = write_config("claude-api-key: []\n" + ALIAS)
    cfg = load_config(path)
    cfg.claude_api_key = [ClaudeKey(api_key="k1")]
    save_config_preserving(path, cfg)
    assert 'claude-api-key:\n  - api-key: k1\n    base-url: ""\n    proxy-url: ""\n    models: []\n' in (
        path.read_text())


def test_sequences_reordered_by_identity_keep_item_comments(write_config) -> None:
    path = write_config(
        "gemini-api-key:\n  - api-key: one # first key\n    note: drop me\n"
        "  - api-key: two # second key\n# after the list\ndebug: false\n" + ALIAS)
    cfg = load_config(path)
    cfg.gemini_api_key = [cfg.gemini_api_key[1], cfg.gemini_api_key[0], GeminiKey(api_key="three")]
    save_config_preserving(path, cfg)
    assert path.read_text().startswith(
        "gemini-api-key:\n  - api-key: two # second key\n  - api-key: one # first key\n"
        "  - api-key: three\n# after the list\ndebug: false\n")


def test_truncated_list_keeps_the_next_keys_comment(write_config) -> None:
    path = write_config("api-keys:\n  - a\n  - b # bee\n# about debug\ndebug: true\n" + ALIAS)
    cfg = load_config(path)
    cfg.api_keys = []
    save_config_preserving(path, cfg)
    assert path.read_text().startswith("api-keys: []\n# about debug\ndebug: true\n")


def test_flow_collections_become_block_and_empty_lists_stay_flow(write_config) -> None:
    path = write_config("api-keys: [a, b]\nmystery: {x: [1]}\nclaude-api-key: []\n" + ALIAS)
    save_config_preserving(path, load_config(path))
    text = path.read_text()
    assert text.startswith("api-keys:\n  - a\n  - b\nmystery:\n  x:\n    - 1\nclaude-api-key: []\n")


def test_null_list_stays_null_when_still_empty(write_config) -> None:
    path = write_config("api-keys:\ndebug: false\n" + ALIAS)
    save_config_preserving(path, load_config(path))
    assert path.read_text().startswith("api-keys:\ndebug: false\n")


def test_legacy_blocks_removed_and_list_items_pruned(write_config) -> None:
    path = write_config(
        "auth:\n  providers: []\n# keys\napi-keys: [k]\nopenai-compatibility:\n  - name: r\n"
        "    base-url: https://r\n    api-keys: [old]\n    prefix: p\n" + ALIAS)
    cfg = load_config(path)
    cfg.openai_compatibility[0].prefix = ""
    save_config_preserving(path, cfg)
    data = yaml.safe_load(path.read_text())
    assert "auth" not in data
    # The legacy per-entry api-keys were migrated on load and the old key is gone.
    assert data["openai-compatibility"] == [
        {"name": "r", "base-url": "https://r", "api-key-entries": [{"api-key": "old"}]}]
    assert path.read_text().startswith("# keys\napi-keys:\n")


def test_oauth_excluded_pruned_but_alias_channels_merge_like_go(write_config) -> None:
    path = write_config("oauth-excluded-models:\n  claude: [a]\n  codex: [b]\n"
                        "oauth-model-alias:\n  claude:\n    - {name: n, alias: a}\n"
                        "  codex:\n    - {name: m, alias: b}\n")
    cfg = load_config(path)
    del cfg.oauth_excluded_models["codex"]
    del cfg.oauth_model_alias["codex"]
    save_config_preserving(path, cfg)
    data = yaml.safe_load(path.read_text())
    assert data["oauth-excluded-models"] == {"claude": ["a"]}
    # Go's mergeMappingPreserve never deletes map keys, so the channel survives in the file.
    assert set(data["oauth-model-alias"]) == {"claude", "codex"}


def test_empty_excluded_models_removes_the_section(write_config) -> None:
    path = write_config("oauth-excluded-models:\n  claude: [a]\n# tail\ndebug: true\n" + ALIAS)
    cfg = load_config(path)
    cfg.oauth_excluded_models = {}
    save_config_preserving(path, cfg)
    assert path.read_text().startswith("# tail\ndebug: true\n")


def test_gateway_section_written_exactly(write_config) -> None:
    path = write_config("gateway:\n  # endpoints we own\n  provider-endpoints:\n    a: x\n    b: y\n" + ALIAS)
    cfg = load_config(path)
    cfg.gateway = {"provider-endpoints": {"a": "z"}, "extra": True}
    save_config_preserving(path, cfg)
    assert path.read_text().startswith(
        "gateway:\n# endpoints we own\n  provider-endpoints:\n    a: z\n  extra: true\n")


def test_plain_strings_that_look_typed_are_double_quoted(write_config) -> None:
    path = write_config(ALIAS)
    cfg = load_config(path)
    cfg.api_keys = ["123", "yes", "true", "", "1:20", "2001-12-14", "plain"]
    save_config_preserving(path, cfg)
    assert ('api-keys:\n  - "123"\n  - "yes"\n  - "true"\n  - ""\n  - "1:20"\n  - "2001-12-14"\n'
            '  - plain\n') in path.read_text()
    assert load_config(path).api_keys == cfg.api_keys


def test_non_mapping_document_refused(write_config) -> None:
    path = write_config("- a\n")
    with pytest.raises(ValueError, match="expected root mapping node"):
        save_config_preserving(path, Config())
    assert path.read_text() == "- a\n"


def test_models_list_round_trips_through_save(example_path: Path) -> None:
    cfg = load_config(example_path)
    cfg.codex_api_key[0].models = [ModelAlias(name="gpt-5", alias="g5"), *cfg.codex_api_key[0].models]
    save_config_preserving(example_path, cfg)
    again = load_config(example_path)
    assert [(m.name, m.alias) for m in again.codex_api_key[0].models] == [
        ("gpt-5", "g5"), ("gpt-5-codex", "codex-latest")]
    assert again.model_dump() == cfg.model_dump()


# --- file handling -------------------------------------------------------------------------


def test_failed_replace_leaves_original_and_no_temp(write_config, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config("debug: false\n" + ALIAS)
    before = path.read_bytes()
    cfg = load_config(path)
    cfg.debug = True

    def crash(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        save_config_preserving(path, cfg)
    with pytest.raises(OSError, match="simulated crash"):
        update_nested_scalar(path, ["remote-management", "secret-key"], "x")
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.yaml"]


def test_file_mode_is_preserved(write_config) -> None:
    path = write_config("debug: false\n" + ALIAS)
    path.chmod(0o640)
    cfg = load_config(path)
    cfg.debug = True
    save_config_preserving(path, cfg)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_update_nested_scalar_creates_path_and_keeps_style(write_config) -> None:
    path = write_config("# top\na:\n  b: 'old' # keep\nc: 1\n")
    update_nested_scalar(path, ["a", "b"], "new")
    update_nested_scalar(path, ["x", "y", "z"], "deep")
    assert path.read_text() == "# top\na:\n  b: 'new' # keep\nc: 1\nx:\n  y:\n    z: deep\n"


def test_comment_between_items_moves_with_the_item_below(write_config) -> None:
    path = write_config("api-keys:\n  - a\n  # about b\n  - b # bee\n  # about c\n  - c\ndebug: true\n" + ALIAS)
    cfg = load_config(path)
    cfg.api_keys = ["c", "b"]
    save_config_preserving(path, cfg)
    assert path.read_text().startswith("api-keys:\n  - c\n# about b\n  - b # bee\ndebug: true\n")


def test_empty_file_cannot_be_saved_into(write_config) -> None:
    path = write_config("")
    with pytest.raises(ValueError, match="invalid yaml document structure"):
        save_config_preserving(path, Config())
    with pytest.raises(ValueError, match="invalid yaml document structure"):
        update_nested_scalar(path, ["a"], "b")
    assert path.read_text() == ""


def test_multi_line_values_become_literal_blocks(write_config) -> None:
    path = write_config(ALIAS)
    cfg = load_config(path)
    cfg.claude_api_key = [ClaudeKey(api_key="k", headers={"X-Note": "line one\n\nline three"})]
    save_config_preserving(path, cfg)
    assert "    headers:\n      X-Note: |-\n        line one\n\n        line three\n" in path.read_text()
    assert load_config(path).claude_api_key[0].headers == {"X-Note": "line one\n\nline three"}
