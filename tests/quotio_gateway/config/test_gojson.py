from __future__ import annotations

import json
from pathlib import Path

import pytest

from quotio_gateway.config.gojson import config_to_go_json, go_json_dumps, render_go_yaml
from quotio_gateway.config.loader import load_config
from quotio_gateway.config.models import ClaudeKey, Config

# What CLIProxyAPI v6.7.15 answers to GET /v0/management/config for the example fixture.
EXAMPLE_JSON = (
    '{"proxy-url":"","force-model-prefix":false,"request-log":false,'
    '"api-keys":["client-key-one","client-key-two"],"auth":{},'
    '"streaming":{"keepalive-seconds":15,"bootstrap-retries":1},'
    '"tls":{"enable":false,"cert":"","key":""},"debug":false,"commercial-mode":false,'
    '"logging-to-file":false,"logs-max-total-size-mb":0,"usage-statistics-enabled":false,'
    '"disable-cooling":false,"request-retry":3,"max-retry-interval":30,'
    '"quota-exceeded":{"switch-project":true,"switch-preview-model":true},'
    '"routing":{"strategy":"round-robin"},"ws-auth":false,"codex-instructions-enabled":false,'
    '"gemini-api-key":[{"api-key":"gemini-key-a","prefix":"team",'
    '"base-url":"https://generativelanguage.googleapis.com",'
    '"models":[{"name":"gemini-2.5-flash","alias":"flash"}],"headers":{"X-Extra":"yes please"},'
    '"excluded-models":["gemini-2.5-pro","*-preview"]},{"api-key":"gemini-key-b"}],'
    '"codex-api-key":[{"api-key":"codex-key-a","base-url":"https://codex.example.test/v1","proxy-url":"",'
    '"models":[{"name":"gpt-5-codex","alias":"codex-latest"}]}],'
    '"claude-api-key":[{"api-key":"claude-key-a","base-url":"","proxy-url":"","models":null},'
    '{"api-key":"claude-key-b","base-url":"https://claude.example.test","proxy-url":"","models":null,'
    '"cloak":{"mode":"always","sensitive-words":["proxy"]}}],'
    '"openai-compatibility":[{"name":"router","base-url":"https://router.example.test/api/v1",'
    '"api-key-entries":[{"api-key":"router-key-1","proxy-url":"socks5://127.0.0.1:1080"},'
    '{"api-key":"router-key-2"}],"models":[{"name":"vendor/model-x:free","alias":"model-x"}]}],'
    '"vertex-api-key":[{"api-key":"vertex-key-a","base-url":"https://vertex.example.test/api",'
    '"models":[{"name":"gemini-2.5-pro","alias":"vertex-pro"}]}],'
    '"ampcode":{"upstream-url":"https://ampcode.com","upstream-api-key":"",'
    '"restrict-management-to-localhost":false,'
    '"model-mappings":[{"from":"claude-opus-4-5-20251101","to":"claude-sonnet-4-5"}],'
    '"force-model-mappings":false},'
    '"oauth-excluded-models":{"claude":["claude-3-5-haiku-20241022"]},'
    '"oauth-model-alias":{"antigravity":[{"name":"gemini-3-pro-high","alias":"gemini-3-pro-preview"},'
    '{"name":"claude-sonnet-4-5","alias":"gemini-claude-sonnet-4-5"}],'
    '"gemini-cli":[{"name":"gemini-2.5-pro","alias":"g25p","fork":true}]},'
    '"payload":{"default":[{"models":[{"name":"gemini-2.5-pro","protocol":"gemini"}],'
    '"params":{"generationConfig.thinkingConfig.thinkingBudget":32768}}],"default-raw":null,'
    '"override":null,"override-raw":[{"models":[{"name":"gpt-*","protocol":"codex"}],'
    '"params":{"response_format":"{\\"type\\":\\"json_object\\"}"}}]}}'
)


def test_example_config_matches_go_bytes(example_path: Path) -> None:
    cfg = load_config(example_path)
    assert go_json_dumps(config_to_go_json(cfg)).decode() == EXAMPLE_JSON


def test_skipped_fields_and_extras_never_appear(example_path: Path) -> None:
    body = config_to_go_json(load_config(example_path))
    for key in ("host", "port", "remote-management", "auth-dir", "gateway"):
        assert key not in body


def test_fresh_zero_config_has_go_nils() -> None:
    body = config_to_go_json(Config())
    assert body["api-keys"] is None and body["gemini-api-key"] is None
    assert body["auth"] == {} and body["streaming"] == {} and body["routing"] == {}
    assert body["payload"] == {"default": None, "default-raw": None, "override": None, "override-raw": None}
    assert "oauth-excluded-models" not in body and "oauth-model-alias" not in body
    assert "nonstream-keepalive-interval" not in body


def test_explicit_empty_list_is_not_null(write_config) -> None:
    cfg = load_config(write_config("oauth-model-alias: {}\napi-keys: []\nclaude-api-key:\n  - api-key: k\n"
                                   "    models: []\n"))
    body = config_to_go_json(cfg)
    assert body["api-keys"] == [] and body["claude-api-key"][0]["models"] == []
    cfg.codex_api_key = []
    assert config_to_go_json(cfg)["codex-api-key"] == []
    assert config_to_go_json(cfg.model_copy(update={"vertex_api_key": []}))["vertex-api-key"] == []


def test_all_codex_entries_dropped_gives_empty_list_not_null(write_config) -> None:
    cfg = load_config(write_config("oauth-model-alias: {}\ncodex-api-key:\n  - api-key: c\n"))
    assert config_to_go_json(cfg)["codex-api-key"] == []


def test_map_keys_sorted_bytewise() -> None:
    cfg = Config(claude_api_key=[ClaudeKey(api_key="k", headers={"b": "1", "B": "2", "a": "3"})],
                 oauth_excluded_models={"z": ["1"], "a": ["2"]})
    body = config_to_go_json(cfg)
    assert list(body["claude-api-key"][0]["headers"]) == ["B", "a", "b"]
    assert list(body["oauth-excluded-models"]) == ["a", "z"]


@pytest.mark.parametrize(("value", "text"), [
    (3.0, "3"), (0.5, "0.5"), (1e21, "1e+21"), (1e-7, "1e-7"), (0.00001, "0.00001"),
    (123456789.125, "123456789.125"), (-2.5e-10, "-2.5e-10"), (0.0, "0"),
])
def test_floats_spelled_like_go(value: float, text: str) -> None:
    assert go_json_dumps(value).decode() == text


def test_integral_floats_become_ints_in_the_dict() -> None:
    cfg = Config.model_validate({"payload": {"default": [{"params": {"a": 2.0, "b": 2.5, "c": {"y": 1, "x": [1.0]}}}]}})
    params = config_to_go_json(cfg)["payload"]["default"][0]["params"]
    assert params == {"a": 2, "b": 2.5, "c": {"x": [1], "y": 1}}
    assert isinstance(params["a"], int) and list(params["c"]) == ["x", "y"]


def test_string_escaping_like_go() -> None:
    assert go_json_dumps("<a&b>\u2028\n\"é") == b'"\\u003ca\\u0026b\\u003e\\u2028\\n\\"\xc3\xa9"'
    assert json.loads(go_json_dumps({"k": "<x>"})) == {"k": "<x>"}


def test_empty_cloak_pointer_is_kept_nil_cloak_dropped(write_config) -> None:
    cfg = load_config(write_config("oauth-model-alias: {}\nclaude-api-key:\n  - api-key: a\n    cloak: {}\n"
                                   "  - api-key: b\n    cloak:\n"))
    entries = config_to_go_json(cfg)["claude-api-key"]
    assert entries[0]["cloak"] == {} and "cloak" not in entries[1]
    rendered = [[k for k, _ in render_go_yaml(e).items] for e in cfg.claude_api_key]
    assert rendered == [["api-key", "base-url", "proxy-url", "models", "cloak"],
                        ["api-key", "base-url", "proxy-url", "models"]]
