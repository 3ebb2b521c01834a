"""Pipeline adapters for the Gemini CLI and Antigravity upstreams, and the Gemini CLI client.

Each factory turns a ``TranslateInput`` into a ``Translation`` (see ``translate.py``):

* Gemini CLI upstream (``gemini-cli/{openai,claude,openai/responses}``) and Antigravity upstream
  (``antigravity/{openai,claude,openai/responses,gemini}``): the upstream is asked for a stream
  exactly when the client asked for one; each upstream stream item is a ``StreamEvent`` whose
  payload is one ``{"response": {...}}`` chunk, and a non-stream answer is one such object.
* Gemini CLI client on Claude, Codex and OpenAI-compatible upstreams (``claude/gemini-cli``,
  ``codex/gemini-cli``, ``openai/gemini-cli``): the envelope is unwrapped, the Gemini-client pair
  of that upstream (``pairs_gemini_client``) does the work, and every answer object goes back
  inside ``{"response": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from handlers.models.registry import split_thinking_suffix
from handlers.translation import antigravity_request, antigravity_response, gemini_cli_response, sse
from handlers.translation.antigravity_signatures import session_id
from handlers.translation.claude_request import parse_request as parse_claude_request
from handlers.translation.gemini_cli_request import EnvelopeError, render_responses_request, unwrap_cli_request
from handlers.translation.gemini_request import render_cli_request
from handlers.translation.gemini_response import ClaudeFrame, wrap_cli_response
from handlers.translation.model import Format, StreamEnd
from handlers.translation.openai_chat_request import parse_request as parse_openai_request
from handlers.translation.openai_responses import GeminiEvents, ResponsesStreamRenderer
from handlers.translation.openai_responses import parse_request as parse_responses_request
from handlers.translation.responses_from_gemini import render_gemini_response

from .pair_parts import FunctionTranslation, Item, item_payload, json_object
from .pairs_gemini_client import PAIRS as GEMINI_CLIENT_PAIRS
from .translate import PairFactory, PairKey, StreamTranslator, TranslateInput, Translation, TranslationError


@dataclass(slots=True)
class _Stream:
    """A ``StreamTranslator`` from two plain functions (per item, and at the clean end)."""

    on_item: Callable[[dict[str, Any]], list[bytes]]
    on_close: Callable[[], list[bytes]] = field(default=lambda: [])

    def feed(self, item: Item) -> list[bytes]:
        payload = item_payload(item)
        return self.on_item(payload) if isinstance(payload, dict) else []

    def close(self) -> list[bytes]:
        return self.on_close()


def _base(inp: TranslateInput) -> str:
    """The model without its thinking suffix: what the legacy executors hand their translators
    (model-dependent rules such as the interleaved hint and the signature group read it)."""
    return split_thinking_suffix(inp.model).name


def _claude_frames(frames: list[ClaudeFrame]) -> list[bytes]:
    return [sse.encode_claude_event(name, payload, sse.GEMINI_CLAUDE_TRAILER) for name, payload in frames]


# --- client-side answer builders shared by both upstreams -----------------------------------


def _openai_answers(source: Format) -> tuple[Callable[[bytes], bytes], Callable[[], StreamTranslator]]:
    def answer(upstream: bytes) -> bytes:
        rendered = gemini_cli_response.render_openai_response(json_object(upstream), source)
        return b"" if rendered is None else sse.dumps(rendered)

    def streamer() -> StreamTranslator:
        machine = gemini_cli_response.OpenAIChatFromCLI(cached=source is Format.ANTIGRAVITY)
        return _Stream(
            lambda chunk: [sse.encode_openai_chunk(machine.feed(chunk))],
            lambda: [sse.OPENAI_DONE],
        )

    return answer, streamer


def _responses_answers(
    inp: TranslateInput, source: Format
) -> tuple[Callable[[bytes], bytes], Callable[[], StreamTranslator]]:
    def answer(upstream: bytes) -> bytes:
        return sse.dumps(render_gemini_response(json_object(upstream), inp.body, source=source))

    def streamer() -> StreamTranslator:
        machine, renderer = GeminiEvents(), ResponsesStreamRenderer(inp.body)

        def on_item(chunk: dict[str, Any]) -> list[bytes]:
            frames = []
            for event in gemini_cli_response.responses_events(machine, chunk, source):
                frames.extend(renderer.feed(event))
            return [sse.encode_responses_event(name, payload) for name, payload in frames]

        def on_close() -> list[bytes]:
            frames = [sse.encode_responses_event(name, payload) for name, payload in renderer.feed(StreamEnd())]
            return [*frames, sse.RESPONSES_END]

        return _Stream(on_item, on_close)

    return answer, streamer


# --- Gemini CLI upstream ----------------------------------------------------------------------


def openai_to_gemini_cli(inp: TranslateInput) -> Translation:
    body = render_cli_request(parse_openai_request(inp.body), _base(inp))
    return FunctionTranslation(body, inp.stream, *_openai_answers(Format.GEMINI_CLI))


def claude_to_gemini_cli(inp: TranslateInput) -> Translation:
    body = render_cli_request(parse_claude_request(inp.body), _base(inp))

    def answer(upstream: bytes) -> bytes:
        return sse.dumps(gemini_cli_response.render_claude_response(json_object(upstream)))

    def streamer() -> StreamTranslator:
        machine = gemini_cli_response.ClaudeStreamFromCLI()
        return _Stream(lambda chunk: _claude_frames(machine.feed(chunk)), lambda: _claude_frames(machine.done()))

    return FunctionTranslation(body, inp.stream, answer, streamer)


def _responses_body(inp: TranslateInput, *, antigravity: bool) -> dict[str, Any]:
    # The Responses -> Gemini renderer always writes ``contents``, so the envelope cannot fail.
    return render_responses_request(parse_responses_request(inp.body), _base(inp), antigravity=antigravity)


def responses_to_gemini_cli(inp: TranslateInput) -> Translation:
    body = _responses_body(inp, antigravity=False)
    return FunctionTranslation(body, inp.stream, *_responses_answers(inp, Format.GEMINI_CLI))


# --- Antigravity upstream ---------------------------------------------------------------------


def openai_to_antigravity(inp: TranslateInput) -> Translation:
    body = antigravity_request.render_openai_request(inp.body, _base(inp))
    return FunctionTranslation(body, inp.stream, *_openai_answers(Format.ANTIGRAVITY))


def claude_to_antigravity(inp: TranslateInput) -> Translation:
    body = antigravity_request.render_claude_request(inp.body, _base(inp))
    session = session_id(inp.body)

    def answer(upstream: bytes) -> bytes:
        return sse.dumps(antigravity_response.render_claude_response(json_object(upstream), _base(inp)))

    def streamer() -> StreamTranslator:
        machine = antigravity_response.ClaudeStreamFromAntigravity(_base(inp), session)
        return _Stream(lambda chunk: _claude_frames(machine.feed(chunk)), lambda: _claude_frames(machine.done()))

    return FunctionTranslation(body, inp.stream, answer, streamer)


def responses_to_antigravity(inp: TranslateInput) -> Translation:
    body = _responses_body(inp, antigravity=True)
    return FunctionTranslation(body, inp.stream, *_responses_answers(inp, Format.ANTIGRAVITY))


def gemini_to_antigravity(inp: TranslateInput) -> Translation:
    try:
        body = antigravity_request.render_gemini_request(inp.body, _base(inp))
    except EnvelopeError as exc:
        raise TranslationError(str(exc)) from exc

    def answer(upstream: bytes) -> bytes:
        try:
            value = sse.loads_upstream(upstream)
        except orjson.JSONDecodeError:
            return upstream
        if isinstance(value, dict) and "response" in value:
            return sse.dumps(antigravity_response.unwrap_gemini_response(value))
        return upstream  # the legacy hands back a body without the envelope untouched

    def on_item(chunk: dict[str, Any]) -> list[bytes]:
        inner = antigravity_response.unwrap_gemini_chunk(chunk)
        return [] if inner is None else [sse.encode_gemini_chunk(inner, inp.alt)]

    return FunctionTranslation(body, inp.stream, answer, lambda: _Stream(on_item))


# --- Gemini CLI client ------------------------------------------------------------------------


class _CliClientStream:
    """The Gemini-client stream of the same upstream, each chunk put back inside ``response``."""

    __slots__ = ("_alt", "_inner")

    def __init__(self, inner: StreamTranslator, alt: str) -> None:
        self._inner = inner
        self._alt = alt

    def _wrap(self, frames: list[bytes]) -> list[bytes]:
        # The inner translator was opened with a non-SSE ``alt``, so each frame is one bare
        # Gemini JSON object.
        return [sse.encode_gemini_chunk(wrap_cli_response(orjson.loads(frame)), self._alt) for frame in frames]

    def feed(self, item: Item) -> list[bytes]:
        return self._wrap(self._inner.feed(item))

    def close(self) -> list[bytes]:
        return self._wrap(self._inner.close())


def _from_cli_client(upstream: Format) -> PairFactory:
    """``<upstream>/gemini-cli``: unwrap the envelope, run the Gemini-client pair, wrap answers.

    That is all the legacy ``claude/gemini-cli``, ``codex/gemini-cli`` and ``openai/gemini-cli``
    translators do around their ``*/gemini`` counterparts (A2.13).
    """

    def factory(inp: TranslateInput) -> Translation:
        inner_input = TranslateInput(
            body=unwrap_cli_request(inp.body, inp.model),
            model=inp.model,
            client_model=inp.client_model,
            stream=inp.stream,
            alt="json",
            raw=inp.raw,
            headers=inp.headers,
        )
        inner = GEMINI_CLIENT_PAIRS[(Format.GEMINI, upstream)](inner_input)

        def answer(upstream_body: bytes) -> bytes:
            return sse.dumps(wrap_cli_response(orjson.loads(inner.response(upstream_body))))

        inner_payloads = getattr(inner, "respond_payloads", None)

        def answer_payloads(payloads: list[Any]) -> bytes:
            assert inner_payloads is not None
            return sse.dumps(wrap_cli_response(orjson.loads(inner_payloads(payloads))))

        return FunctionTranslation(
            inner.upstream_body, inner.upstream_stream, answer, lambda: _CliClientStream(inner.stream(), inp.alt),
            answer_payloads if inner_payloads is not None else None,
        )

    return factory


PAIRS: dict[PairKey, PairFactory] = {
    (Format.OPENAI, Format.GEMINI_CLI): openai_to_gemini_cli,
    (Format.CLAUDE, Format.GEMINI_CLI): claude_to_gemini_cli,
    (Format.OPENAI_RESPONSE, Format.GEMINI_CLI): responses_to_gemini_cli,
    (Format.OPENAI, Format.ANTIGRAVITY): openai_to_antigravity,
    (Format.CLAUDE, Format.ANTIGRAVITY): claude_to_antigravity,
    (Format.OPENAI_RESPONSE, Format.ANTIGRAVITY): responses_to_antigravity,
    (Format.GEMINI, Format.ANTIGRAVITY): gemini_to_antigravity,
    (Format.GEMINI_CLI, Format.CLAUDE): _from_cli_client(Format.CLAUDE),
    (Format.GEMINI_CLI, Format.CODEX): _from_cli_client(Format.CODEX),
    (Format.GEMINI_CLI, Format.OPENAI): _from_cli_client(Format.OPENAI),
}
