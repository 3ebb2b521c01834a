"""Go-compatible JSON output and Go-decoder semantics for management request bodies."""

from __future__ import annotations

import pytest

from quotio_gateway.management.responses import (
    CPA_HEADERS,
    Field,
    GoJSONError,
    Struct,
    as_bool,
    as_int,
    as_str,
    decode_body,
    error_response,
    gin_h,
    gin_not_found,
    go_json_dumps,
    json_response,
    list_of,
    list_or_items,
    map_of,
    parse_first_value,
    parse_whole,
)


def test_output_is_compact_and_html_escaped_like_go() -> None:
    value = {"b": "<a href='x'>&</a>", "a": "é\u2028\u2029", "n": [1, None, True]}
    assert go_json_dumps(value) == (
        b'{"b":"\\u003ca href=\'x\'\\u003e\\u0026\\u003c/a\\u003e","a":"\xc3\xa9\\u2028\\u2029",'
        b'"n":[1,null,true]}')


def test_control_characters_use_go_escapes() -> None:
    assert go_json_dumps("\n\t\r\b\f\x01\x7f") == b'"\\n\\t\\r\\b\\f\\u0001\x7f"'


def test_gin_h_sorts_keys_as_go_maps_do() -> None:
    assert go_json_dumps(gin_h(ok=True, changed=["config"])) == b'{"changed":["config"],"ok":true}'


def test_json_response_carries_gin_content_type() -> None:
    response = json_response(201, {"x": 1})
    assert response.status == 201
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.body == b'{"x":1}'
    assert error_response(400, "invalid body").body == b'{"error":"invalid body"}'


def test_gin_not_found_is_plain_text() -> None:
    response = gin_not_found()
    assert (response.status, response.body, response.headers["Content-Type"]) == (
        404, b"404 page not found", "text/plain")


def test_build_headers_name_v6_7_15() -> None:
    assert CPA_HEADERS == {"X-CPA-VERSION": "6.7.15", "X-CPA-COMMIT": "9b72ea9ef",
                           "X-CPA-BUILD-DATE": "2026-01-20T12:02:29Z"}


def test_first_value_ignores_trailing_bytes_but_not_emptiness() -> None:
    assert parse_first_value(b' {"value":true} trailing junk')[0] == ("value", True)
    for body in (b"", b"   \n", b"{", b"nope"):
        with pytest.raises(GoJSONError):
            parse_first_value(body)


def test_whole_value_rejects_trailing_bytes() -> None:
    assert parse_whole(b' ["a"] \n') == ["a"]
    for body in (b'["a"] x', b"", b'["a"]["b"]', b"NaN", b"[Infinity]"):
        with pytest.raises(GoJSONError):
            parse_whole(body)


VALUE_BOOL = Struct(Field("value", as_bool, nilable=True))


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"value":true}', {"value": True}),
    (b'{"VALUE":true}', {"value": True}),                      # case-insensitive field match
    (b'{"value":true,"Value":false}', {"value": False}),       # last duplicate wins
    (b'{"value":true,"value":null}', {"value": None}),         # null resets a pointer
    (b'{"other":1}', {}),                                      # unknown keys ignored
    (b"null", None),
])
def test_struct_decoding_follows_go(body: bytes, expected: object) -> None:
    assert decode_body(body, VALUE_BOOL, whole=False) == expected


@pytest.mark.parametrize("body", [b'{"value":"true"}', b'{"value":1}', b"[]", b'"x"', b'{"value":[true]}'])
def test_struct_decoding_type_errors(body: bytes) -> None:
    with pytest.raises(GoJSONError):
        decode_body(body, VALUE_BOOL, whole=False)


def test_plain_scalar_fields_ignore_null() -> None:
    struct = Struct(Field("name", as_str))
    assert decode_body(b'{"name":"a","name":null}', struct, whole=True) == {"name": "a"}


@pytest.mark.parametrize(("literal", "ok"), [
    ("0", True), ("-12", True), ("9223372036854775807", True), ("-9223372036854775808", True),
    ("9223372036854775808", False), ("1.0", False), ("1e3", False), ('"1"', False), ("true", False),
])
def test_int_fields_accept_only_int64_literals(literal: str, ok: bool) -> None:
    struct = Struct(Field("value", as_int, nilable=True))
    body = f'{{"value":{literal}}}'.encode()
    if ok:
        assert decode_body(body, struct, whole=False) == {"value": int(literal)}
    else:
        with pytest.raises(GoJSONError):
            decode_body(body, struct, whole=False)


def test_strings_reject_numbers_and_repair_lone_surrogates() -> None:
    with pytest.raises(GoJSONError):
        as_str(parse_whole(b"12"))
    assert as_str(parse_whole(b'"a\\ud800b"')) == "a\ufffdb"


def test_collections_turn_null_elements_into_zero_values() -> None:
    assert list_of(as_str)(parse_whole(b'["a",null]')) == ["a", ""]
    assert map_of(as_int)(parse_whole(b'{"a":null,"b":2,"b":3}')) == {"a": 0, "b": 3}
    with pytest.raises(GoJSONError):
        list_of(as_str)(parse_whole(b'{"a":"b"}'))
    with pytest.raises(GoJSONError):
        map_of(as_str)(parse_whole(b'["a"]'))


@pytest.mark.parametrize(("body", "expected"), [
    (b'["a","b"]', ["a", "b"]),
    (b"[]", []),
    (b'{"items":["a"]}', ["a"]),
    (b"null", None),
])
def test_list_or_items_accepts_array_or_nonempty_items(body: bytes, expected: object) -> None:
    assert list_or_items(body, as_str) == expected


@pytest.mark.parametrize("body", [b'{"items":[]}', b"{}", b'["a",1]', b'{"items":"a"}', b"", b"[", b'"a"'])
def test_list_or_items_rejects(body: bytes) -> None:
    with pytest.raises(GoJSONError):
        list_or_items(body, as_str)
