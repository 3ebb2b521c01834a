"""The pair modules' shared pieces: the closure translation and the upstream item readers."""

from __future__ import annotations

from handlers.inference.pair_parts import FunctionTranslation, item_payload, json_object
from handlers.providers.base import StreamEvent


class _Echo:
    def feed(self, item: StreamEvent | bytes) -> list[bytes]:
        return [b"fed"]

    def close(self) -> list[bytes]:
        return [b"closed"]


def test_function_translation_calls_its_closures() -> None:
    opened: list[_Echo] = []

    def open_stream() -> _Echo:
        opened.append(_Echo())
        return opened[-1]

    translation = FunctionTranslation({"model": "m"}, True, lambda upstream: upstream.upper(), open_stream)
    assert (translation.upstream_body, translation.upstream_stream) == ({"model": "m"}, True)
    assert translation.response(b"abc") == b"ABC"
    stream = translation.stream()
    assert stream is opened[0] and stream.close() == [b"closed"]


def test_item_payload_reads_events_and_raw_bytes() -> None:
    assert item_payload(StreamEvent("message", '{"a":1}', {"a": 1})) == {"a": 1}
    assert item_payload(b'{"b":2}') == {"b": 2}
    assert item_payload(b"[DONE]") is None


def test_json_object_reads_only_objects() -> None:
    assert json_object(b'{"a":1}') == {"a": 1}
    assert json_object(b"[1,2]") == {}
    assert json_object(b"not json") == {}
