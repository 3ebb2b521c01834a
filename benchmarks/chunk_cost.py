"""Per-chunk cost of stream translation, Claude events -> OpenAI chat chunks, measured in process.

Two figures, both for the ``content_block_delta`` events that make up nearly all of a real
stream (the few head and tail events are fed before and after the timed loop):

* ``translate``: the pair's stream translator alone (``StreamTranslator.feed`` on an already
  decoded ``StreamEvent``): Claude event -> internal stream event -> OpenAI chunk -> framed bytes.
* ``upstream_to_client``: everything the gateway does in Python per upstream chunk except socket
  I/O: SSE parsing, JSON decoding, the executor's in-band error and terminal checks (as
  ``handlers/providers/http.py`` does), then the translator.

Timing is ``time.perf_counter_ns`` around a loop over many chunks, repeated; the figure is the
median repeat, in microseconds per chunk. The garbage collector stays on, as in the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from benchmarks.fake_claude import HEAD, TAIL, text_delta
from benchmarks.harness import median
from handlers.inference.pairs_codex_openai import PAIRS
from handlers.inference.translate import StreamTranslator, TranslateInput
from handlers.providers.base import StreamEvent
from handlers.providers.claude_api import ClaudeAPIExecutor
from handlers.providers.http import UpstreamClient
from handlers.translation.model import Format
from handlers.translation.sse import SSEParser

REQUEST = {"model": "bench-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}


@dataclass(frozen=True)
class ChunkPlan:
    chunks: int
    repeats: int


FULL = ChunkPlan(chunks=20_000, repeats=7)
QUICK = ChunkPlan(chunks=5_000, repeats=3)


def new_translator() -> StreamTranslator:
    """The OpenAI-client / Claude-upstream stream translator the gateway builds for a request."""
    factory = PAIRS[(Format.OPENAI, Format.CLAUDE)]
    translation = factory(TranslateInput(body=REQUEST, model="claude-bench", client_model="bench-model",
                                         stream=True))
    return translation.stream()


def _events(frames: bytes) -> list[StreamEvent]:
    return [StreamEvent(e.event, e.data, orjson.loads(e.data)) for e in SSEParser().feed(frames)]


# One timed run: nanoseconds spent in the loop over the deltas (set-up excluded), and how many.
Run = Callable[[], tuple[int, int]]


def translate_only(plan: ChunkPlan) -> Run:
    head, tail = _events(HEAD), _events(TAIL)
    deltas = _events(b"".join(text_delta(f"tok{i} ") for i in range(plan.chunks)))

    def run() -> tuple[int, int]:
        translator = new_translator()
        for event in head:
            translator.feed(event)
        started = time.perf_counter_ns()
        out = 0
        for event in deltas:
            out += len(translator.feed(event))
        spent = time.perf_counter_ns() - started
        for event in tail:
            translator.feed(event)
        translator.close()
        if out != len(deltas):
            raise RuntimeError(f"translator gave {out} frames for {len(deltas)} deltas")
        return spent, len(deltas)

    return run


def upstream_to_client(plan: ChunkPlan) -> Run:
    executor = ClaudeAPIExecutor(UpstreamClient())  # no session opens: only its event checks run
    deltas = [text_delta(f"tok{i} ") for i in range(plan.chunks)]

    def step(parser: SSEParser, translator: StreamTranslator, chunk: bytes) -> int:
        frames = 0
        for raw in parser.feed(chunk):
            event = StreamEvent(raw.event, raw.data, orjson.loads(raw.data))
            if executor.inband_error(event) is not None or executor.terminal(event):
                continue
            frames += len(translator.feed(event))
        return frames

    def run() -> tuple[int, int]:
        parser, translator = SSEParser(), new_translator()
        step(parser, translator, HEAD)
        started = time.perf_counter_ns()
        out = 0
        for chunk in deltas:
            out += step(parser, translator, chunk)
        spent = time.perf_counter_ns() - started
        step(parser, translator, TAIL)
        translator.close()
        if out != len(deltas):
            raise RuntimeError(f"pipeline gave {out} frames for {len(deltas)} upstream chunks")
        return spent, len(deltas)

    return run


def measure(plan: ChunkPlan) -> dict[str, object]:
    out: dict[str, object] = {"chunks": plan.chunks, "repeats": plan.repeats}
    for name, build in (("translate", translate_only), ("upstream_to_client", upstream_to_client)):
        run = build(plan)
        run()  # warm-up: first-use imports and caches
        per_chunk, rounds = _loop_us(run, plan.repeats)
        out[f"{name}_us_per_chunk"] = round(per_chunk, 2)
        out[f"{name}_rounds_us"] = [round(v, 2) for v in rounds]
    return out


def _loop_us(run: Run, repeats: int) -> tuple[float, list[float]]:
    rounds: list[float] = []
    for _ in range(repeats):
        spent, count = run()
        rounds.append(spent / count / 1000)
    return median(rounds), rounds

