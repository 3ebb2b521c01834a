"""Pairs whose client speaks Gemini (``/v1beta/models/…``) or Gemini CLI (``/v1internal:…``).

Each factory turns the client's body into the upstream body with the sans-io translators and
returns a ``Translation`` that frames the answers for the Gemini client (``data: …\\n\\n`` for
``alt`` empty or ``sse``, the bare chunk for any other ``alt``, see ``sse.encode_gemini_chunk``).

Which upstream call the legacy makes, and therefore what ``response`` receives:

* OpenAI-compatible and Gemini-family upstreams follow the client (stream or not); a non-stream
  answer is the upstream JSON body.
* Claude is always streamed upstream for a Gemini client (``claude_executor.go``: stream whenever
  client and upstream formats differ); ``response`` gets the folded SSE body.
* Codex streams regardless; the executor's non-stream call hands over the ``response.completed``
  event, and ``response`` also accepts the whole SSE body.

Error events never reach ``feed``: the pipeline raises an upstream's in-stream error before
translating and writes the client's own error frame.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import orjson

from handlers.providers.base import StreamEvent
from handlers.translation import claude, codex_instructions, gemini
from handlers.translation import gemini_client_codex as codex_pair
from handlers.translation import gemini_client_gemini as family
from handlers.translation import gemini_client_openai as openai_pair
from handlers.translation.model import Format
from handlers.translation.sse import dumps, encode_gemini_chunk, loads_upstream

from .pair_parts import FunctionTranslation
from .translate import PairFactory, PairKey, TranslateInput, Translation, TranslationError


def _event(item: StreamEvent | bytes) -> StreamEvent:
    if isinstance(item, bytes):
        # Only a Gemini-family upstream streams raw bytes (alt=json); anything else is a wiring bug.
        raise TranslationError("raw chunk from an SSE upstream")
    return item


def _json(upstream: bytes) -> Any:
    """The upstream body parsed; an unreadable one reads as nothing, like gjson on bad bytes."""
    try:
        return loads_upstream(upstream)
    except orjson.JSONDecodeError:
        return None


class _ChunkStream:
    """Each upstream JSON payload through ``render`` (payload -> Gemini chunk objects), framed."""

    __slots__ = ("_alt", "_render")

    def __init__(self, alt: str, render: Callable[[Any], list[dict[str, Any]]]) -> None:
        self._alt = alt
        self._render = render

    def feed(self, item: StreamEvent | bytes) -> list[bytes]:
        event = _event(item)
        if event.payload is None:
            return []  # an OpenAI-style [DONE]
        return [encode_gemini_chunk(chunk, self._alt) for chunk in self._render(event.payload)]

    def close(self) -> list[bytes]:
        return []


# --- Gemini client -> OpenAI-compatible upstream (openai/gemini) -------------------------------


def gemini_to_openai(inp: TranslateInput) -> Translation:
    return FunctionTranslation(
        openai_pair.render_request(inp.body, inp.model, stream=inp.stream),
        inp.stream,
        lambda upstream: dumps(openai_pair.render_response(_json(upstream))),
        lambda: _ChunkStream(inp.alt, openai_pair.OpenAIChunksToGemini().feed),
    )


# --- Gemini client -> Codex upstream (codex/gemini) --------------------------------------------


def _user_agent(inp: TranslateInput) -> str:
    return next((value for key, value in inp.headers.items() if key.lower() == "user-agent"), "")


def gemini_to_codex(inp: TranslateInput) -> Translation:
    restore = codex_pair.restore_names(inp.body)
    # The Gemini translator asks with empty client instructions: a disabled rule answers "", an
    # enabled one the catalogue prompt for the model.
    _, instructions = codex_instructions.current().for_model(inp.model, "", _user_agent(inp))

    def respond(upstream: bytes) -> bytes:
        event = codex_pair.completed_event(upstream)
        if event is None:
            # The Codex executor already answers 408 for a stream that never completed; reaching
            # this means the body came from elsewhere, which the pipeline reports as a 500.
            raise TranslationError("Codex answer without a response.completed event")
        return dumps(codex_pair.render_response(event, inp.model, restore))

    return FunctionTranslation(
        codex_pair.render_request(inp.body, inp.model, instructions=instructions),
        inp.stream,
        respond,
        lambda: _ChunkStream(inp.alt, codex_pair.CodexEventsToGemini(inp.model, restore).feed),
    )


# --- Gemini client -> Claude upstream (claude/gemini, translators done earlier) ---------------


def _claude_render(model: str) -> Callable[[Any], list[dict[str, Any]]]:
    parser, renderer = claude.ClaudeStreamParser(), gemini.GeminiStreamFromClaude(model)

    def render(payload: Any) -> list[dict[str, Any]]:
        if not isinstance(payload, dict):
            return []
        return [chunk for event in parser.feed(payload) for chunk in renderer.feed(event)]

    return render


def gemini_to_claude(inp: TranslateInput) -> Translation:
    request = claude.render_request(gemini.parse_request(inp.body), inp.model, stream=True)
    return FunctionTranslation(
        request,
        True,
        lambda upstream: dumps(gemini.render_gemini_response(claude.parse_stream_body(upstream), inp.model)),
        lambda: _ChunkStream(inp.alt, _claude_render(inp.model)),
        lambda payloads: dumps(gemini.render_gemini_response(claude.parse_stream_payloads(payloads), inp.model)),
    )


# --- Gemini client -> Gemini API (gemini/gemini) ---------------------------------------------


class _Passthrough:
    """Gemini answers reach a Gemini client as they came: each SSE payload re-framed for the
    client's ``alt``, raw ``alt=json`` bytes unchanged."""

    __slots__ = ("_alt",)

    def __init__(self, alt: str) -> None:
        self._alt = alt

    def feed(self, item: StreamEvent | bytes) -> list[bytes]:
        if isinstance(item, bytes):
            return [item] if item else []
        data = item.data.strip()
        if item.payload is None and not data.startswith("{"):
            # ``[DONE]`` and the like; a line that only looks like JSON is relayed anyway, as the
            # legacy executor passes on any payload starting with "{" (gemini_executor.go:298-316).
            return []
        return [encode_gemini_chunk(data.encode(), self._alt)]

    def close(self) -> list[bytes]:
        return []

    def verbatim_error(self, item: StreamEvent | bytes) -> list[bytes]:
        # An ``{"error": …}`` chunk reaches the client like any other (the legacy's passthrough).
        if isinstance(item, bytes):
            return []
        return [encode_gemini_chunk(item.data.strip().encode(), self._alt)]


def gemini_to_gemini(inp: TranslateInput) -> Translation:
    # The body keeps no model of its own: the executor writes the upstream one, as the legacy does.
    body = family.fix_gemini_request(inp.body)
    return FunctionTranslation(body, inp.stream, lambda upstream: upstream, lambda: _Passthrough(inp.alt))


# --- Gemini client -> Gemini CLI upstream (gemini-cli/gemini) --------------------------------


class _BufferedArray(abc.ABC):
    """A Gemini-family stream whose upstream, under a non-SSE ``alt``, sends one JSON array: raw
    bytes are kept and converted whole when the upstream ends, SSE events one by one."""

    __slots__ = ("_alt", "_raw")

    def __init__(self, alt: str) -> None:
        self._alt = alt
        self._raw: list[bytes] = []

    def feed(self, item: StreamEvent | bytes) -> list[bytes]:
        if isinstance(item, bytes):
            self._raw.append(item)
            return []
        return self._on_event(item)

    def close(self) -> list[bytes]:
        if not self._raw:
            return []
        return [encode_gemini_chunk(self._convert_array(b"".join(self._raw)), self._alt)]

    @abc.abstractmethod
    def _on_event(self, item: StreamEvent) -> list[bytes]:
        """The client frames for one SSE event."""

    @abc.abstractmethod
    def _convert_array(self, raw: bytes) -> bytes:
        """The whole buffered JSON array, converted for the client."""


class _FromCli(_BufferedArray):
    """``{"response": …}`` envelopes -> the Gemini objects inside."""

    __slots__ = ()

    def _on_event(self, item: StreamEvent) -> list[bytes]:
        payload = item.payload
        if not isinstance(payload, dict) or "response" not in payload:
            return []  # the legacy writes an empty chunk for these; nothing useful to forward
        return [encode_gemini_chunk(dumps(payload["response"]), self._alt)]

    def _convert_array(self, raw: bytes) -> bytes:
        return family.unwrap_cli_array(raw)


def gemini_to_gemini_cli(inp: TranslateInput) -> Translation:
    def respond(upstream: bytes) -> bytes:
        payload = _json(upstream)
        if isinstance(payload, dict) and "response" in payload:
            return dumps(payload["response"])
        return upstream

    return FunctionTranslation(
        family.to_cli_request(inp.body, inp.model), inp.stream, respond, lambda: _FromCli(inp.alt)
    )


# --- Gemini CLI client -> Gemini API (gemini/gemini-cli) -------------------------------------


class _ToCli(_BufferedArray):
    """Gemini answers -> ``{"response": …}`` envelopes for a Gemini CLI client.

    The legacy's stream translator ignores every chunk here (it expects ``data:`` lines the
    executor has already stripped), so its Gemini CLI clients get an empty stream; each chunk is
    wrapped instead, as its non-stream translator does.
    """

    __slots__ = ()

    def _on_event(self, item: StreamEvent) -> list[bytes]:
        if item.payload is None:
            return []
        return [encode_gemini_chunk(family.wrap_cli_chunk(item.data.strip().encode()), self._alt)]

    def _convert_array(self, raw: bytes) -> bytes:
        return family.wrap_cli_array(raw)


def gemini_cli_to_gemini(inp: TranslateInput) -> Translation:
    return FunctionTranslation(
        family.from_cli_request(inp.body, inp.model),
        inp.stream,
        lambda upstream: family.wrap_cli_chunk(upstream.strip()),
        lambda: _ToCli(inp.alt),
    )


def gemini_cli_passthrough(inp: TranslateInput) -> Translation:
    """Gemini CLI client on a Gemini CLI or Antigravity credential: the legacy registers no
    translator, so the envelope goes upstream as the client sent it (the executor sets ``project``
    and ``model``) and the ``{"response": …}`` answers come back as they came."""
    return FunctionTranslation(dict(inp.body), inp.stream, lambda upstream: upstream,
                               lambda: _Passthrough(inp.alt))


PAIRS: dict[PairKey, PairFactory] = {
    (Format.GEMINI, Format.OPENAI): gemini_to_openai,
    (Format.GEMINI, Format.CODEX): gemini_to_codex,
    (Format.GEMINI, Format.CLAUDE): gemini_to_claude,
    (Format.GEMINI, Format.GEMINI): gemini_to_gemini,
    (Format.GEMINI, Format.GEMINI_CLI): gemini_to_gemini_cli,
    (Format.GEMINI_CLI, Format.GEMINI): gemini_cli_to_gemini,
    (Format.GEMINI_CLI, Format.GEMINI_CLI): gemini_cli_passthrough,
    (Format.GEMINI_CLI, Format.ANTIGRAVITY): gemini_cli_passthrough,
}
