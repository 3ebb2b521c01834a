"""Gemini/Antigravity JSON-schema cleaner (reference A2.14, A4.2 #18) and function-name
sanitising (A4.2 #19). Expected outputs follow the legacy ``gemini_schema_test.go`` /
``sanitize_test.go`` vectors."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.translation.gemini_schema import clean_schema_for_antigravity, sanitize_function_name

REASON = {"type": "string", "description": "Brief explanation of why you are calling this tool"}


def obj(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, **extra}


def test_const_becomes_enum() -> None:
    schema = obj({"kind": {"type": "string", "const": "InsightVizNode"}})
    assert clean_schema_for_antigravity(schema) == obj({"kind": {"type": "string", "enum": ["InsightVizNode"]}})


def test_nullable_type_array_flattens_and_leaves_required() -> None:
    schema = obj({"name": {"type": ["string", "null"]}, "other": {"type": "string"}}, required=["name", "other"])
    assert clean_schema_for_antigravity(schema) == obj(
        {"name": {"type": "string", "description": "(nullable)"}, "other": {"type": "string"}}, required=["other"]
    )


def test_nullable_hint_keeps_description_and_dotted_names() -> None:
    schema = obj({"my.param": {"type": ["string", "null"], "description": "User name"}}, required=["my.param"])
    cleaned = clean_schema_for_antigravity(schema)
    assert cleaned == obj({"my.param": {"type": "string", "description": "User name ((nullable))"}})


def test_constraints_move_into_description() -> None:
    schema = obj(
        {
            "tags": {"type": "array", "description": "List of tags", "minItems": 1},
            "name": {"type": "string", "description": "User name", "minLength": 3},
        }
    )
    assert clean_schema_for_antigravity(schema) == obj(
        {
            "tags": {"type": "array", "description": "List of tags (minItems: 1)"},
            "name": {"type": "string", "description": "User name (minLength: 3)"},
        }
    )


def test_any_of_picks_the_object_branch_and_adds_placeholder() -> None:
    schema = obj({"query": {"anyOf": [{"type": "null"}, obj({"kind": {"type": "string"}})]}})
    assert clean_schema_for_antigravity(schema) == obj(
        {
            "query": {
                "type": "object",
                "properties": {"kind": {"type": "string"}, "_": {"type": "boolean"}},
                "description": "Accepts: null | object",
                "required": ["_"],
            }
        }
    )


def test_one_of_scalars() -> None:
    schema = obj({"config": {"oneOf": [{"type": "string"}, {"type": "integer"}]}})
    assert clean_schema_for_antigravity(schema) == obj(
        {"config": {"type": "string", "description": "Accepts: string | integer"}}
    )


def test_any_of_merges_parent_and_child_descriptions() -> None:
    schema = obj(
        {
            "config": {
                "description": "Parent desc",
                "anyOf": [{"type": "string", "description": "Child desc"}, {"type": "integer"}],
            }
        }
    )
    assert clean_schema_for_antigravity(schema)["properties"]["config"] == {
        "type": "string",
        "description": "Parent desc (Child desc) (Accepts: string | integer)",
    }


def test_all_of_merges_properties_and_required() -> None:
    schema = {
        "type": "object",
        "allOf": [
            {"properties": {"my.param": {"type": "string"}}, "required": ["my.param"]},
            {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
        ],
    }
    assert clean_schema_for_antigravity(schema) == obj(
        {"my.param": {"type": "string"}, "b": {"type": "integer"}}, required=["my.param", "b"]
    )


def test_ref_becomes_hint_and_definitions_go() -> None:
    schema = {
        "definitions": {"User": obj({"name": {"type": "string"}})},
        "type": "object",
        "properties": {"customer": {"description": 'He said "hi"\\nsecond line', "$ref": "#/definitions/User"}},
    }
    assert clean_schema_for_antigravity(schema) == obj(
        {
            "customer": {
                "type": "object",
                "description": 'He said "hi"\\nsecond line (See: User)',
                "properties": {"reason": REASON},
                "required": ["reason"],
            }
        }
    )


def test_top_level_cyclic_ref() -> None:
    schema = {
        "definitions": {"Node": obj({"child": {"$ref": "#/definitions/Node"}})},
        "$ref": "#/definitions/Node",
    }
    assert clean_schema_for_antigravity(schema) == {
        "type": "object",
        "description": "See: Node",
        "properties": {"reason": REASON},
        "required": ["reason"],
    }


def test_required_names_without_property_are_pruned() -> None:
    schema = obj({"a": {"type": "string"}, "b": {"type": "string"}}, required=["a", "b", "c"])
    assert clean_schema_for_antigravity(schema)["required"] == ["a", "b"]


def test_property_named_like_a_keyword_is_kept() -> None:
    schema = obj({"pattern": {"type": "string", "description": "The regex pattern"}}, required=["pattern"])
    assert clean_schema_for_antigravity(schema) == schema


def test_enum_hints_and_string_values() -> None:
    schema = obj(
        {
            "status": {"type": "string", "enum": ["active", "inactive", "pending"], "description": "Current status"},
            "priority": {"type": "integer", "enum": [0, 1, 2]},
            "level": {"type": "number", "enum": [1.5, 2.5]},
            "enabled": {"type": "boolean", "enum": [True, False]},
            "kind": {"type": "string", "enum": ["fixed"]},
        }
    )
    props = clean_schema_for_antigravity(schema)["properties"]
    assert props["status"]["description"] == "Current status (Allowed: active, inactive, pending)"
    assert props["priority"] == {"type": "integer", "enum": ["0", "1", "2"], "description": "Allowed: 0, 1, 2"}
    assert props["level"]["enum"] == ["1.5", "2.5"]
    assert props["enabled"]["enum"] == ["true", "false"]
    assert props["kind"] == {"type": "string", "enum": ["fixed"]}


def test_additional_properties_false_becomes_hint() -> None:
    schema = obj({"name": {"type": "string"}}, additionalProperties=False)
    assert clean_schema_for_antigravity(schema) == obj(
        {"name": {"type": "string"}}, description="No extra properties allowed"
    )


def test_type_array_with_several_types() -> None:
    cleaned = clean_schema_for_antigravity(obj({"value": {"type": ["string", "integer", "boolean"]}}))
    assert cleaned["properties"]["value"] == {"type": "string", "description": "Accepts: string | integer | boolean"}


def test_formats_become_hints() -> None:
    schema = obj(
        {
            "url": {"type": "string", "format": "uri", "description": "A URL"},
            "email": {"type": "string", "format": "email"},
        }
    )
    assert clean_schema_for_antigravity(schema) == obj(
        {
            "url": {"type": "string", "description": "A URL (format: uri)"},
            "email": {"type": "string", "description": "format: email"},
        }
    )


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "object"}, {"type": "object", "properties": {"reason": REASON}, "required": ["reason"]}),
        (
            {"type": "object", "properties": {}, "description": "An empty object"},
            {
                "type": "object",
                "properties": {"reason": REASON},
                "description": "An empty object",
                "required": ["reason"],
            },
        ),
        (
            obj({"name": {"type": "string"}}, required=["name"]),
            obj({"name": {"type": "string"}}, required=["name"]),
        ),
    ],
)
def test_empty_object_placeholder(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert clean_schema_for_antigravity(schema) == expected


def test_nested_empty_object_gets_placeholder() -> None:
    schema = obj({"items": {"type": "array", "items": {"type": "object"}}})
    cleaned = clean_schema_for_antigravity(schema)
    assert cleaned["properties"]["items"]["items"] == {
        "type": "object",
        "properties": {"reason": REASON},
        "required": ["reason"],
    }


def test_removed_keywords_and_input_untouched() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "x",
        "type": "object",
        "properties": {"n": {"type": "integer", "default": 3, "propertyNames": {"pattern": "a"}}},
        "required": ["n"],
    }
    before = repr(schema)
    cleaned = clean_schema_for_antigravity(schema)
    assert cleaned == {
        "$id": "x",
        "type": "object",
        "properties": {"n": {"type": "integer", "description": "default: 3"}},
        "required": ["n"],
    }
    assert repr(schema) == before


def test_placeholder_key_order_matches_legacy() -> None:
    cleaned = clean_schema_for_antigravity({"description": "d", "type": "object"})
    assert list(cleaned) == ["description", "type", "properties", "required"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("valid_name", "valid_name"),
        ("name.with_dots:colons-dashes", "name.with_dots:colons-dashes"),
        ("name!with@invalid#chars", "name_with_invalid_chars"),
        ("name with spaces", "name_with_spaces"),
        ("name_with_你好_chars", "name_with____chars"),
        ("123name", "_123name"),
        (".name", "_.name"),
        (":name", "_:name"),
        ("-name", "_-name"),
        ("!name", "_name"),
        ("a" * 64, "a" * 64),
        ("a" * 64 + "X", "a" * 64),
        ("1" + "2" * 63, "_1" + "2" * 62),
        ("!" + "2" * 63, "_" + "2" * 63),
        ("", ""),
        ("@", "_"),
        ("a", "a"),
        ("1", "_1"),
        ("_", "_"),
    ],
)
def test_sanitize_function_name(name: str, expected: str) -> None:
    assert sanitize_function_name(name) == expected
