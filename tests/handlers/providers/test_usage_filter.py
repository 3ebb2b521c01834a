"""FilterSSEUsageMetadata: usage on a non-terminal Gemini chunk is renamed, as the legacy's
Gemini API-key and Antigravity executors do; the Vertex and Gemini CLI executors leave it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from handlers.providers import APIKeyCredential, GeminiAPIExecutor, UpstreamClient, UpstreamRequest
from handlers.providers.usage_filter import filter_usage_metadata
from handlers.providers.vertex_api import VertexAPIExecutor

USAGE = {"promptTokenCount": 11, "totalTokenCount": 11}
FINAL_USAGE = {"promptTokenCount": 11, "candidatesTokenCount": 2, "totalTokenCount": 13}


def chunk(text: str, finish: str | None = None, usage: dict[str, int] | None = USAGE, **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        out["usageMetadata"] = usage
    out["modelVersion"] = "gemini-2.5-flash"
    out.update(extra)
    return out


def test_a_non_terminal_chunk_has_its_usage_renamed_at_the_end() -> None:
    out = filter_usage_metadata(chunk("Hel"), set())
    assert out is not None and list(out) == ["candidates", "modelVersion", "cpaUsageMetadata"]
    assert out["cpaUsageMetadata"] == USAGE


@pytest.mark.parametrize("payload", [chunk("!", "STOP", FINAL_USAGE), chunk("x", usage=None), {"error": {}}])
def test_terminal_chunks_and_chunks_without_usage_stay(payload: dict[str, Any]) -> None:
    assert filter_usage_metadata(payload, set()) is None


def test_the_antigravity_envelope() -> None:
    wrapped = {"response": chunk("Hel"), "traceId": "t1"}
    out = filter_usage_metadata(wrapped, set())
    assert out is not None and out["response"]["cpaUsageMetadata"] == USAGE and "usageMetadata" not in out["response"]
    assert wrapped["response"]["usageMetadata"] == USAGE  # the input is not changed


def test_usage_after_a_terminal_chunk_without_usage_of_the_same_trace_is_left_alone() -> None:
    stops: set[str] = set()
    assert filter_usage_metadata({"response": chunk("!", "STOP", None), "traceId": "t1"}, stops) is None
    trailing = {"response": {"candidates": [], "usageMetadata": FINAL_USAGE}, "traceId": "t1"}
    assert filter_usage_metadata(trailing, stops) is None
    assert stops == set()
    # A second such chunk is an ordinary non-terminal one again.
    assert filter_usage_metadata(trailing, stops) is not None


@pytest.mark.parametrize(("executor", "filtered"), [(GeminiAPIExecutor, True), (VertexAPIExecutor, False)])
async def test_which_executors_filter(upstream, client: UpstreamClient, executor: type, filtered: bool) -> None:
    upstream.answer_sse([upstream.frame(chunk("Hel")), upstream.frame(chunk("lo", "STOP", FINAL_USAGE))])
    credential = APIKeyCredential("gemini", "k", upstream.url)
    request = UpstreamRequest("gemini-2.5-flash", {"contents": []}, stream=True)
    async with await executor(client).stream(credential, request) as stream:
        events = [e async for e in stream]
    first, last = events[0], events[1]
    assert ("cpaUsageMetadata" in first.payload) is filtered
    assert ("usageMetadata" in first.payload) is not filtered
    assert orjson.loads(first.data) == first.payload
    assert last.payload["usageMetadata"] == FINAL_USAGE
