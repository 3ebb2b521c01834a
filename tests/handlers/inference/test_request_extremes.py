"""Client bodies at the edges the request fuzzing reached: numbers beyond 64 bits and nesting
deeper than the encoder or the translators go. Each gets an answer made on purpose (the upstream's,
or a 400 naming the body), never aiohttp's bare 500; a fault of ours while a stream's head is
already committed ends that stream with its error frame."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from handlers.inference.pair_table import lookup_in
from handlers.inference.translate import TranslateInput, Translation
from handlers.translation.gjson_values import int_of
from handlers.translation.model import Format
from handlers.translation.openai_chat_request import go_number
from tests.fakes.llm_upstream import FakeLLM
from tests.handlers.inference.test_faults import CLAUDE_MODEL, MakeGateway, upstreams_config


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_numbers_beyond_64_bits_go_upstream_as_go_converts_them(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/chat/completions", json={
        "model": CLAUDE_MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e20,
        "temperature": 1e300})
    assert resp.status == 200
    sent = fake_llm.requests[-1].body
    # max_tokens is read as an int (gjson Int() saturates beyond int64), temperature as a float.
    assert sent["max_tokens"] == 2**63 - 1 and sent["temperature"] == 1e300


async def test_a_body_nested_past_the_encoder_is_a_400(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post("/v1/messages", json={
        "model": CLAUDE_MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}],
        "metadata": _nested(300)})
    assert resp.status == 400
    assert b"request body cannot be encoded" in await resp.read()
    assert fake_llm.requests == []


async def test_a_body_nested_past_the_translators_is_a_400(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    tool = {"functionDeclarations": [{"name": "f", "parameters": {"type": "object", "properties": _nested(900)}}]}
    resp = await client.post(f"/v1beta/models/{CLAUDE_MODEL}:generateContent", data=json.dumps({
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}], "tools": [tool]}),
        headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert orjson.loads(await resp.read())["error"]["message"] in (
        "request body nests too deeply", "request body cannot be encoded: Recursion limit reached")
    assert fake_llm.requests == []


def _boom(inp: TranslateInput) -> Translation:
    raise RuntimeError("a bug")


async def test_a_fault_after_the_gemini_cli_stream_head_is_its_error_frame(gateway: MakeGateway,
                                                                          fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root), lookup_in({(Format.GEMINI_CLI, Format.CLAUDE): _boom}))
    resp = await client.post("/v1internal:streamGenerateContent", json={
        "model": CLAUDE_MODEL, "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}})
    assert resp.status == 200
    raw = await resp.read()
    assert b"internal error: RuntimeError" in raw and b"Server got itself in trouble" not in raw


async def test_a_fault_before_any_byte_is_a_json_500(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root), lookup_in({(Format.OPENAI, Format.CLAUDE): _boom}))
    resp = await client.post("/v1/chat/completions", json={
        "model": CLAUDE_MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True})
    assert resp.status == 500
    assert orjson.loads(await resp.read())["error"]["message"] == "internal error: RuntimeError"


@pytest.mark.parametrize(("value", "expected"), [
    (1e20, 1e20), (-1e20, -1e20), (2.0**63, 2.0**63), (5.0, 5), (-(2.0**63), -(2**63)), (1.5, 1.5)])
def test_go_number_keeps_floats_beyond_int64(value: float, expected: float) -> None:
    result = go_number(value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(("value", "expected"), [
    # A number saturates; a digit string wraps in int64 (gjson's parseInt), one with an exponent is 0.
    (2**64, 2**63 - 1), ("99999999999999999999", 99999999999999999999 - 5 * 2**64), (1e20, 2**63 - 1),
    ("-1e20", 0), (2**63 - 1, 2**63 - 1), ("42", 42), (float("inf"), 0)])
def test_int_of_converts_what_int64_cannot_hold_as_go_does(value: Any, expected: int) -> None:
    assert int_of(value) == expected


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens",
                                  "/v1/responses", "/v1/completions",
                                  f"/v1beta/models/{CLAUDE_MODEL}:generateContent",
                                  "/v1internal:generateContent"])
async def test_a_body_its_content_encoding_does_not_decode_is_a_400(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                   path: str) -> None:
    # Labelled gzip but sent plain: aiohttp's reader fails to inflate it. The answer is the legacy
    # handlers' own for a body they cannot read, not aiohttp's 500 with a logged traceback.
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(path, data=json.dumps({"model": CLAUDE_MODEL, "max_tokens": 5,
                                                    "messages": [{"role": "user", "content": "hi"}]}),
                             headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert resp.status == 400
    assert orjson.loads(await resp.read()) == {"error": {
        "message": "Invalid request: the body does not decode as its Content-Encoding (gzip)",
        "type": "invalid_request_error"}}
    assert fake_llm.requests == []
