"""A translator that fails on upstream output nobody foresaw (the fuzzing found nesting deeper
than the interpreter recurses, numbers no int holds) gives the client its protocol's JSON error
or in-stream error frame, never aiohttp's bare 500."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from handlers.inference.pair_table import lookup_in
from handlers.inference.translate import StreamTranslator, TranslateInput, Translation
from handlers.providers.base import StreamEvent
from handlers.translation.model import Format
from tests.fakes.llm_upstream import FakeLLM
from tests.handlers.inference.test_pipeline import _Echo, body, config


@dataclass
class _FailsAt(_Echo):
    """Echoes Claude events and raises at the ``at``-th one (counting from 1)."""

    at: int = 1
    seen: int = 0

    def feed(self, item: StreamEvent | bytes) -> list[bytes]:
        self.seen += 1
        if self.seen == self.at:
            raise RecursionError("maximum recursion depth exceeded")
        return super().feed(item)


@dataclass
class _Fragile:
    upstream_body: dict[str, Any]
    upstream_stream: bool
    at: int

    def response(self, upstream: bytes) -> bytes:
        raise RecursionError("maximum recursion depth exceeded")

    def stream(self) -> StreamTranslator:
        return _FailsAt(self.at)


def _pairs(at: int) -> Any:
    def fragile(inp: TranslateInput) -> Translation:
        return _Fragile(dict(inp.body, model=inp.model), inp.stream, at)
    return lookup_in({(Format.CLAUDE, Format.CLAUDE): fragile})


async def test_a_non_stream_answer_that_cannot_be_translated_is_a_json_500(inference_client: Any,
                                                                          fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), _pairs(1))
    resp = await client.post("/v1/messages", json=body())
    assert resp.status == 500
    assert resp.headers["Content-Type"].startswith("application/json")
    # The shape every 500 of the handlers has (the legacy's WriteErrorResponse).
    assert orjson.loads(await resp.read()) == {"error": {
        "message": "cannot translate upstream answer: RecursionError", "type": "server_error",
        "code": "internal_server_error"}}


async def test_a_stream_that_cannot_be_translated_before_any_byte_is_a_json_500(inference_client: Any,
                                                                               fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1") + "streaming:\n  bootstrap-retries: 0\n", _pairs(1))
    resp = await client.post("/v1/messages", json=body(stream=True))
    assert resp.status == 500
    assert b"cannot translate upstream stream: RecursionError" in await resp.read()


async def test_a_stream_that_fails_after_payload_ends_with_the_error_frame(inference_client: Any,
                                                                          fake_llm: FakeLLM) -> None:
    client = await inference_client(config(fake_llm, "k1"), _pairs(3))
    resp = await client.post("/v1/messages", json=body(stream=True))
    assert resp.status == 200
    raw = await resp.read()
    assert raw.startswith(b"event: message_start")
    assert raw.endswith(b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":'
                        b'"cannot translate upstream stream: RecursionError"}}\n\n')
