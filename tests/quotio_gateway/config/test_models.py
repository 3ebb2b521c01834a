from __future__ import annotations

import pytest
from pydantic import ValidationError

from quotio_gateway.config.models import (
    DEFAULT_PANEL_GITHUB_REPOSITORY,
    ClaudeKey,
    Config,
    OldBool,
    RoutingConfig,
    convert_old_alias_mappings,
)


def test_zero_config_matches_go_zero_values() -> None:
    cfg = Config()
    assert (cfg.host, cfg.port, cfg.auth_dir, cfg.proxy_url) == ("", 0, "", "")
    assert cfg.remote_management.panel_github_repository == DEFAULT_PANEL_GITHUB_REPOSITORY
    assert cfg.api_keys == [] and cfg.is_nil("api_keys")
    assert cfg.claude_api_key == [] and cfg.oauth_model_alias == {} and cfg.gateway is None


def test_python_names_and_yaml_aliases_both_work() -> None:
    by_name = Config(request_retry=2, api_keys=["a"])
    by_alias = Config.model_validate({"request-retry": 2, "api-keys": ["a"]})
    assert by_name.model_dump() == by_alias.model_dump()
    assert by_alias.model_dump()["request-retry"] == 2  # dumps use the YAML spelling


@pytest.mark.parametrize(("raw", "expected"), [(None, ""), (12, "12"), (1.5, "1.5"), (True, "true"),
                                               (OldBool("yes"), "yes")])
def test_string_fields_take_scalars_as_text(raw: object, expected: str) -> None:
    value = ClaudeKey.model_validate({"api-key": raw}).api_key
    assert value == expected and type(value) is str


@pytest.mark.parametrize(("raw", "expected"), [(None, False), (True, True), (OldBool("on"), True),
                                               (OldBool("No"), False)])
def test_bool_fields(raw: object, expected: bool) -> None:
    assert Config.model_validate({"debug": raw}).debug is expected


@pytest.mark.parametrize("raw", ["true", 1, [True]])
def test_bool_fields_reject_other_types(raw: object) -> None:
    with pytest.raises(ValidationError, match="Input should be a valid boolean"):
        Config.model_validate({"debug": raw})


@pytest.mark.parametrize("raw", ["8317", True, [1]])
def test_int_fields_reject_other_types(raw: object) -> None:
    with pytest.raises(ValidationError, match="Input should be a valid integer"):
        Config.model_validate({"port": raw})


def test_int_fields_accept_whole_floats_and_null() -> None:
    assert Config.model_validate({"port": 8317.0, "request-retry": None}).port == 8317


def test_nil_versus_empty_follows_fields_set() -> None:
    cfg = Config.model_validate({"api-keys": [], "codex-api-key": None})
    assert not cfg.is_nil("api_keys") and cfg.is_nil("codex_api_key")
    cfg.codex_api_key = []
    assert not cfg.is_nil("codex_api_key")
    assert not Config().model_copy(update={"api_keys": []}).is_nil("api_keys")


def test_effective_strategy() -> None:
    assert RoutingConfig(strategy=" FillFirst ").effective_strategy == "fill-first"
    assert RoutingConfig(strategy="").effective_strategy == "round-robin"


def test_extras_kept_on_every_level() -> None:
    cfg = Config.model_validate({"x-extra": 1, "tls": {"enable": True, "ciphers": ["a"]}})
    assert cfg.model_extra == {"x-extra": 1}
    assert cfg.tls.model_extra == {"ciphers": ["a"]}


def test_old_mappings_conversion() -> None:
    out = convert_old_alias_mappings({
        " Codex ": [{"name": " gpt-5 ", "alias": "g5", "fork": True}, {"name": "x"}, "junk"],
        "antigravity": [{"name": "gemini-3-flash-preview", "alias": "flash"}],
        "empty": [],
    })
    assert [(a.name, a.alias, a.fork) for a in out["codex"]] == [("gpt-5", "g5", True)]
    assert out["antigravity"][0].name == "gemini-3-flash" and len(out["antigravity"]) == 7
    assert "empty" not in out
