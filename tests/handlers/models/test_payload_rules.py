"""``payload:`` default/override rules applied to an outgoing request body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from handlers.models.payload_rules import (
    apply_payload_rules,
    match_model_pattern,
    model_candidates,
    path_exists,
    set_path,
    split_path,
)
from quotio_gateway.config import Config
from quotio_gateway.config.loader import parse_config


def cfg(text: str) -> Config:
    return parse_config(text, Path("config.yaml"), persist=False)


RULES = cfg("""
payload:
  default:
    - models: [{name: "gemini-*", protocol: gemini}]
      params: {"generationConfig.temperature": 0.2, "generationConfig.topK": 40}
    - models: [{name: "*"}]
      params: {"generationConfig.temperature": 0.9, "safe": true}
  default-raw:
    - models: [{name: "gemini-2.5-pro"}]
      params: {"tools": '[{"googleSearch":{}}]', "safe": '"raw"'}
  override:
    - models: [{name: "gemini-2.5-*"}]
      params: {"generationConfig.maxOutputTokens": 1000}
    - models: [{name: "*-pro", protocol: GEMINI}]
      params: {"generationConfig.maxOutputTokens": 2000}
  override-raw:
    - models: [{name: "gemini-2.5-pro", protocol: claude}]
      params: {"never": "1"}
    - models: [{name: "gemini-2.5-pro"}]
      params: {"metadata": {"k": [1, 2]}}
""")


def test_defaults_overrides_and_raw_values() -> None:
    payload: dict[str, Any] = {"model": "gemini-2.5-pro", "generationConfig": {"topK": 5}}
    out = apply_payload_rules(RULES, "gemini-2.5-pro", "gemini", payload)
    assert out is payload
    assert payload == {
        "model": "gemini-2.5-pro",
        # topK was present, so its default is skipped; the first rule's temperature wins.
        "generationConfig": {"topK": 5, "temperature": 0.2, "maxOutputTokens": 2000},
        "safe": True,
        "tools": [{"googleSearch": {}}],
        "metadata": {"k": [1, 2]},
    }


def test_integers_beyond_64_bits_go_out_as_numbers() -> None:
    rules = cfg("""
payload:
  override:
    - models: [{name: "*"}]
      params: {seed: 100000000000000000000, fits: 12345678901234567890, nested: {"n": [-99999999999999999999]},
               max_tokens: 1e3, temperature: 1.0, top_p: 0.5}
  override-raw:
    - models: [{name: "*"}]
      params: {big: "123456789012345678901234567890", as_written: "2.0"}
""")
    payload = apply_payload_rules(rules, "m", "openai", {"model": "m"})
    # yaml.v3 reads such an integer as a float64; the body must still encode.
    assert orjson.loads(orjson.dumps(payload)) == {"model": "m", "seed": 1e20, "fits": 12345678901234567890,
                                                   "nested": {"n": [-1e20]}, "max_tokens": 1000, "temperature": 1,
                                                   "top_p": 0.5, "big": 1.2345678901234568e29, "as_written": 2.0}
    # A YAML float without a fraction goes out as Go writes a float64; raw text keeps its form.
    assert b'"max_tokens":1000,"temperature":1,' in orjson.dumps(payload)
    assert b'"as_written":2.0' in orjson.dumps(payload)


def test_defaults_are_checked_against_the_original_request() -> None:
    original = {"generationConfig": {"temperature": 1.0}}
    # The translated body gained a temperature the client never sent: the default replaces it.
    payload: dict[str, Any] = {"generationConfig": {"temperature": 0.5}}
    apply_payload_rules(RULES, "gemini-2.5-flash", "gemini", payload, original={"contents": []})
    assert payload["generationConfig"]["temperature"] == 0.2
    # An empty original means "check the payload itself", as in Go.
    payload = {"generationConfig": {"temperature": 0.5}}
    apply_payload_rules(RULES, "gemini-2.5-flash", "gemini", payload, original={})
    assert payload["generationConfig"]["temperature"] == 0.5
    payload = {"generationConfig": {"temperature": 0.5}}
    apply_payload_rules(RULES, "gemini-2.5-flash", "gemini", payload, original=original)
    assert payload["generationConfig"] == {"temperature": 0.5, "topK": 40, "maxOutputTokens": 1000}


def test_protocol_filter_and_non_matching_model() -> None:
    payload: dict[str, Any] = {}
    apply_payload_rules(RULES, "claude-sonnet-4-5", "claude", payload)
    assert payload == {"generationConfig": {"temperature": 0.9}, "safe": True}
    untouched: dict[str, Any] = {"a": 1}
    apply_payload_rules(RULES, "  ", "gemini", untouched)
    assert untouched == {"a": 1}


def test_invalid_raw_json_is_skipped() -> None:
    # The loader drops such rules; a config built in code can still carry one.
    config = Config.model_validate({"payload": {"override-raw": [
        {"models": [{"name": "*"}], "params": {"bad": "{nope", "good": "[1]", "none": None}}]}})
    payload: dict[str, Any] = {}
    apply_payload_rules(config, "m", "openai", payload)
    assert payload == {"good": [1]}


def test_no_rules_leaves_payload_alone() -> None:
    payload = {"x": 1}
    assert apply_payload_rules(Config(), "gpt-5", "codex", payload) == {"x": 1}


def test_root_prefixes_paths() -> None:
    payload: dict[str, Any] = {"request": {"contents": []}}
    apply_payload_rules(RULES, "gemini-2.5-pro", "gemini", payload, root="request")
    assert payload["request"]["generationConfig"] == {"temperature": 0.2, "topK": 40, "maxOutputTokens": 2000}
    assert "generationConfig" not in payload


def test_alias_candidates_match_rules() -> None:
    config = cfg("""
oauth-model-alias:
  antigravity: [{name: gemini-3-pro-high, alias: g3}]
payload:
  override:
    - models: [{name: g3, protocol: antigravity}]
      params: {"request.generationConfig.topP": 0.5}
""")
    assert model_candidates(config, "gemini-3-pro-high", "antigravity") == ["gemini-3-pro-high", "g3"]
    assert model_candidates(config, "gemini-3-pro-high", "gemini") == ["gemini-3-pro-high"]
    payload: dict[str, Any] = {}
    apply_payload_rules(config, "gemini-3-pro-high", "antigravity", payload)
    assert payload == {"request": {"generationConfig": {"topP": 0.5}}}


@pytest.mark.parametrize(("pattern", "model", "ok"), [
    ("*", "anything", True),
    ("gpt-*", "gpt-5", True),
    ("*-5", "gpt-5", True),
    ("gemini-*-pro", "gemini-2.5-pro", True),
    ("gemini-*-pro", "gemini-2.5-pro-x", False),
    ("a*b*c", "abbbc", True),
    ("GPT-5", "gpt-5", False),
    ("", "x", False),
    ("**", "", True),
])
def test_match_model_pattern(pattern: str, model: str, ok: bool) -> None:
    assert match_model_pattern(pattern, model) is ok


def test_paths() -> None:
    assert split_path(r"a\.b.:1.c") == [("a.b", False), ("1", True), ("c", False)]
    doc: dict[str, Any] = {"list": [1, 2], "obj": {"1": "x"}}
    assert set_path(doc, "list.3", 9)
    assert doc["list"] == [1, 2, None, 9]
    assert set_path(doc, "list.-1", 10)
    assert doc["list"][-1] == 10
    assert set_path(doc, "obj.1", "y") and doc["obj"] == {"1": "y"}
    assert set_path(doc, "new.0.name", "n") and doc["new"] == [{"name": "n"}]
    assert set_path(doc, "scalar", 1) and set_path(doc, "scalar.deep", 2) and doc["scalar"] == {"deep": 2}
    assert not set_path(doc, "list.name", 1)
    assert set_path(doc, r"dotted\.key", True) and doc["dotted.key"] is True
    assert path_exists(doc, "list.0") and not path_exists(doc, "list.9") and not path_exists(doc, "list.x")
    assert path_exists(doc, "obj.1") and not path_exists(doc, "obj.1.deeper")


def test_bodies_never_share_the_configs_values() -> None:
    rules = cfg("""
payload:
  override:
    - models: [{name: "*"}]
      params: {meta: {k: [1, 2]}}
  override-raw:
    - models: [{name: "*"}]
      params: {extra: {k: [3]}}
""")
    first = apply_payload_rules(rules, "m", "openai", {})
    first["meta"]["k"].append(9)
    first["extra"]["k"].append(9)
    assert apply_payload_rules(rules, "m", "openai", {}) == {"meta": {"k": [1, 2]}, "extra": {"k": [3]}}
