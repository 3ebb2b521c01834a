"""benchmarks/chunk_cost.py: the translator it times is the gateway's, fed the fake's events."""

from __future__ import annotations

import json

import orjson

from benchmarks.chunk_cost import ChunkPlan, measure, new_translator
from benchmarks.fake_claude import FULL_STREAM, HEAD, TAIL, text_delta
from handlers.providers.base import StreamEvent
from handlers.translation.sse import SSEParser


def feed_all(raw: bytes) -> list[bytes]:
    translator = new_translator()
    frames: list[bytes] = []
    for event in SSEParser().feed(raw):
        frames += translator.feed(StreamEvent(event.event, event.data, orjson.loads(event.data)))
    return frames + translator.close()


def test_translator_turns_the_fake_stream_into_openai_chunks() -> None:
    frames = feed_all(HEAD + text_delta("tok0 ") + text_delta("tok1 ") + TAIL)
    assert frames[-1] == b"data: [DONE]\n\n"
    chunks = [json.loads(f.removeprefix(b"data: ")) for f in frames[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:3]] == ["tok0 ", "tok1 "]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_one_frame_per_text_delta() -> None:
    # The timed loops count on exactly one client frame per upstream delta.
    assert len(feed_all(FULL_STREAM)) == 4  # role, the text, the finish, [DONE]


def test_measure_reports_both_figures_per_chunk() -> None:
    result = measure(ChunkPlan(chunks=40, repeats=2))
    assert result["chunks"] == 40 and result["repeats"] == 2
    for key in ("translate", "upstream_to_client"):
        rounds = result[f"{key}_rounds_us"]
        assert isinstance(rounds, list) and len(rounds) == 2
        per_chunk = result[f"{key}_us_per_chunk"]
        assert isinstance(per_chunk, float) and per_chunk > 0
