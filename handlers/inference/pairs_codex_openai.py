"""Pair factories for the OpenAI, Claude, Responses and Codex pairs, plus ``/v1/completions``.

``PAIRS`` maps (client format, upstream format) to a factory (see ``translate.py``). It holds:

* Codex upstream: OpenAI chat, Claude and Responses clients (Codex is always streamed upstream;
  a non-stream answer comes from the ``response.completed`` event, which the Codex executor hands
  over alone, or from a whole SSE body).
* OpenAI-compatible upstream: OpenAI chat (near passthrough), Claude and Responses clients.
* Claude upstream: OpenAI chat and Responses clients (streamed upstream, folded for non-stream
  clients) and Claude clients (passthrough, streamed only when the client streams).
* Gemini upstream: OpenAI chat, Claude and Responses clients (streamed when the client streams).

In-band upstream errors (a ``StreamEvent`` whose ``error`` is set) never reach a translator: the
pipeline raises them and writes the client protocol's error frame. The factories skip such events
anyway, so a translator fed directly cannot turn one into a second, differently shaped error.

``COMPLETIONS`` serves the legacy text-completions route over the OpenAI chat pairs:

* ``COMPLETIONS.request(body)`` -> the chat body to route (as ``/v1/chat/completions`` would,
  source format ``openai``, stream iff the chat body's ``stream`` is true);
* ``COMPLETIONS.wrap(translation)`` -> the chat pair's ``Translation`` answering in
  ``text_completion`` objects (non-stream body and stream frames, ``data: [DONE]`` at the end);
* ``COMPLETIONS.response_body(chat_bytes)`` / ``COMPLETIONS.chunk_frame(chat_frame)`` -> the two
  conversions ``wrap`` applies, for callers holding chat bytes already.

``chat_body_from_responses(body)`` is the ``/v1/chat/completions`` rule for a Responses-shaped
body (no ``messages``; ``input`` or ``instructions``): the legacy converts it to a chat body first.

``make_pairs`` takes the clocks and id makers so tests can pin them; ``PAIRS`` uses the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from handlers.inference.pair_parts import FunctionTranslation, Item, item_payload, json_object
from handlers.inference.translate import PairFactory, PairKey, StreamTranslator, TranslateInput, Translation
from handlers.providers.base import StreamEvent
from handlers.translation import (
    claude,
    codex,
    codex_claude,
    codex_instructions,
    codex_responses,
    completions,
    gemini,
    openai_chat,
    openai_passthrough,
    openai_responses,
    responses_openai,
    responses_upstream,
)
from handlers.translation import model as m
from handlers.translation.gjson_values import text_of
from handlers.translation.model import Format
from handlers.translation.openai_responses import ResponsesFrame
from handlers.translation.responses_from_gemini import render_gemini_response
from handlers.translation.sse import (
    GEMINI_CLAUDE_TRAILER,
    OPENAI_DONE,
    RESPONSES_END,
    dumps,
    encode_claude_event,
    encode_openai_chunk,
    encode_responses_event,
)


@dataclass(slots=True)
class _Stream:
    """A ``StreamTranslator`` made of two closures (each pair keeps its state in them)."""

    on_feed: Callable[[Item], list[bytes]]
    on_close: Callable[[], list[bytes]]
    # Same-protocol pairs only: the frames that hand an upstream in-band error event to the
    # client as the upstream wrote it (the legacy relays it like any other line).
    on_error: Callable[[Item], list[bytes]] | None = None

    def feed(self, item: Item) -> list[bytes]:
        return self.on_feed(item)

    def close(self) -> list[bytes]:
        return self.on_close()

    def verbatim_error(self, item: Item) -> list[bytes]:
        return self.on_error(item) if self.on_error is not None else []


# --- small helpers ---------------------------------------------------------------------------


def _data(item: Item) -> str:
    return item.data if isinstance(item, StreamEvent) else item.decode("utf-8", errors="replace")


def _failed(item: Item) -> bool:
    return isinstance(item, StreamEvent) and item.error is not None


def _openai_error_from_claude(item: Item) -> list[bytes]:
    """A Claude ``error`` event mid-stream, as the legacy gives it to a chat client: its message
    and type as an OpenAI error chunk (claude_openai_response.go:225-233), then ``[DONE]`` when
    the stream closes. Nothing when the event holds no ``error`` (ours is written instead)."""
    payload = item_payload(item)
    if not isinstance(payload, dict) or "error" not in payload:
        return []
    detail = payload["error"] if isinstance(payload["error"], dict) else {}
    chunk = {"error": {"message": text_of(detail.get("message")), "type": text_of(detail.get("type"))}}
    return [encode_openai_chunk(chunk), OPENAI_DONE]


def _objects(handle: Callable[[dict[str, Any]], list[bytes]]) -> Callable[[Item], list[bytes]]:
    """A ``feed`` for upstreams that stream JSON objects: a failed event or a non-object item (such
    as ``[DONE]``) yields nothing, any other item goes to ``handle``."""
    def feed(item: Item) -> list[bytes]:
        payload = item_payload(item)
        if _failed(item) or not isinstance(payload, dict):
            return []
        return handle(payload)
    return feed


def _user_agent(inp: TranslateInput) -> str:
    return next((v for k, v in inp.headers.items() if k.lower() == "user-agent"), "")


def _openai_frames(chunks: Iterable[dict[str, Any]]) -> list[bytes]:
    return [encode_openai_chunk(c) for c in chunks]


def _claude_frames(frames: Iterable[tuple[str, dict[str, Any]]], trailer: bytes = b"\n\n") -> list[bytes]:
    return [encode_claude_event(name, payload, trailer) for name, payload in frames]


def _responses_frames(frames: Iterable[ResponsesFrame]) -> list[bytes]:
    return [encode_responses_event(name, payload) for name, payload in frames]


def _completed(upstream: bytes) -> dict[str, Any] | None:
    return codex_responses.completed_event(upstream)


def _completed_in(payloads: list[Any]) -> dict[str, Any] | None:
    """``_completed`` over a stream's decoded payloads: the first ``response.completed``."""
    return next((p for p in payloads if isinstance(p, dict) and p.get("type") == "response.completed"), None)


# --- factories -------------------------------------------------------------------------------


def make_pairs(
    *,
    now: Callable[[], int] = lambda: int(time.time()),
    user_id: Callable[[], str] = claude.fake_user_id,
    tool_id: Callable[[str], str] = gemini.synthetic_tool_id,
    call_id: Callable[[], str] = openai_responses.gemini_call_id,
    response_id: Callable[[], str] = responses_openai.fallback_response_id,
) -> dict[PairKey, PairFactory]:
    """Every pair of this module; the arguments replace the clocks and random ids."""

    # OpenAI chat client ------------------------------------------------------------------

    def openai_to_claude(inp: TranslateInput) -> Translation:
        req = openai_chat.parse_request(inp.body)
        body = claude.render_request(req, inp.model, stream=True, user_id=user_id())

        def stream() -> StreamTranslator:
            parser, renderer = claude.ClaudeStreamParser(), openai_chat.OpenAIChatStreamRenderer(inp.model, now=now)

            def frames(payload: dict[str, Any]) -> list[bytes]:
                # Plain loops: this runs once per upstream event, where nested generators showed.
                out: list[bytes] = []
                for event in parser.feed(payload):
                    for chunk in renderer.feed(event):
                        out.append(encode_openai_chunk(chunk))
                return out

            return _Stream(_objects(frames), lambda: [OPENAI_DONE], _openai_error_from_claude)

        def response(upstream: bytes) -> bytes:
            return dumps(openai_chat.render_response(claude.parse_stream_body(upstream), now=now))

        def response_payloads(payloads: list[Any]) -> bytes:
            return dumps(openai_chat.render_response(claude.parse_stream_payloads(payloads), now=now))

        return FunctionTranslation(body, True, response, stream, response_payloads)

    def openai_to_gemini(inp: TranslateInput) -> Translation:
        body = gemini.render_request(openai_chat.parse_request(inp.body), inp.model)

        def stream() -> StreamTranslator:
            renderer = gemini.OpenAIChatFromGemini(tool_id=tool_id)

            def frames(payload: dict[str, Any]) -> list[bytes]:
                return _openai_frames(renderer.feed(gemini.parse_chunk(payload)))

            return _Stream(_objects(frames), lambda: [OPENAI_DONE])

        def response(upstream: bytes) -> bytes:
            return dumps(gemini.render_openai_response(gemini.parse_chunk(json_object(upstream)), tool_id=tool_id))

        return FunctionTranslation(body, inp.stream, response, stream)

    def openai_to_codex(inp: TranslateInput) -> Translation:
        req = openai_chat.parse_request(inp.body)
        rule = codex_instructions.current()
        _, prompt = rule.for_model(inp.model, "", _user_agent(inp))
        body = codex.render_request(req, inp.model, stream=True, instructions=prompt if rule.enabled else "")
        restore = codex.restore_names(req)

        def stream() -> StreamTranslator:
            parser, renderer = codex.CodexStreamParser(), codex.OpenAIChatFromCodex(inp.model, restore)

            def frames(payload: dict[str, Any]) -> list[bytes]:
                return _openai_frames(c for e in parser.feed(payload) for c in renderer.feed(e))

            return _Stream(_objects(frames), lambda: [OPENAI_DONE])

        def answer(completed: dict[str, Any] | None, fold: Callable[[], m.Response]) -> bytes:
            if completed is not None and isinstance(completed.get("response"), dict):
                folded = codex.parse_completed(completed["response"])
            else:
                folded = fold()
            return dumps(codex.render_openai_response(folded, restore, now=now))

        def response(upstream: bytes) -> bytes:
            return answer(_completed(upstream), lambda: codex.parse_stream_body(upstream))

        def response_payloads(payloads: list[Any]) -> bytes:
            return answer(_completed_in(payloads), lambda: codex.parse_stream_payloads(payloads))

        return FunctionTranslation(body, True, response, stream, response_payloads)

    def openai_to_openai(inp: TranslateInput) -> Translation:
        body = openai_passthrough.openai_request(inp.body, inp.model)

        def stream() -> StreamTranslator:
            def feed(item: Item) -> list[bytes]:
                frame = None if _failed(item) else openai_passthrough.openai_chunk(_data(item))
                return [frame] if frame is not None else []

            def error(item: Item) -> list[bytes]:
                # The chunk as it came, then the handler's own [DONE] when the stream closes.
                frame = openai_passthrough.openai_chunk(_data(item))
                return [frame, OPENAI_DONE] if frame is not None else []

            return _Stream(feed, lambda: [OPENAI_DONE], error)

        return FunctionTranslation(body, inp.stream, lambda upstream: upstream, stream)

    # Claude client -----------------------------------------------------------------------

    def claude_to_openai(inp: TranslateInput) -> Translation:
        body = openai_chat.render_request(claude.parse_request(inp.body), inp.model, stream=inp.stream)

        def stream() -> StreamTranslator:
            parser, renderer = openai_chat.OpenAIChatStreamParser(), claude.ClaudeStreamRenderer()
            ended = False

            def run(events: list[m.StreamEvent]) -> list[bytes]:
                nonlocal ended
                ended = ended or any(isinstance(e, m.StreamEnd) for e in events)
                return _claude_frames(f for e in events for f in renderer.feed(e))

            def feed(item: Item) -> list[bytes]:
                if _failed(item):
                    return []
                return run(parser.feed_data(_data(item)))

            def close() -> list[bytes]:
                # Upstreams that end without [DONE] still get their blocks and message closed.
                return [] if ended else run([m.StreamEnd()])

            return _Stream(feed, close)

        def response(upstream: bytes) -> bytes:
            return dumps(claude.render_response(openai_chat.parse_response(json_object(upstream))))

        return FunctionTranslation(body, inp.stream, response, stream)

    def claude_to_gemini(inp: TranslateInput) -> Translation:
        body = gemini.render_request(claude.parse_request(inp.body), inp.model)

        def stream() -> StreamTranslator:
            renderer = gemini.ClaudeStreamFromGemini(tool_id=tool_id)

            def frames(payload: dict[str, Any]) -> list[bytes]:
                return _claude_frames(renderer.feed(gemini.parse_chunk(payload)), GEMINI_CLAUDE_TRAILER)

            return _Stream(_objects(frames), lambda: _claude_frames(renderer.done(), GEMINI_CLAUDE_TRAILER))

        def response(upstream: bytes) -> bytes:
            return dumps(gemini.render_claude_response(gemini.parse_chunk(json_object(upstream))))

        return FunctionTranslation(body, inp.stream, response, stream)

    def claude_to_codex(inp: TranslateInput) -> Translation:
        body = codex_claude.render_request(inp.body, inp.model, user_agent=_user_agent(inp))

        def stream() -> StreamTranslator:
            renderer = codex_claude.ClaudeFromCodex(codex_claude.restore_names(inp.body))

            def feed(item: Item) -> list[bytes]:
                return [] if _failed(item) else _claude_frames(renderer.feed(item_payload(item)))

            return _Stream(feed, list)

        def answer(completed: dict[str, Any] | None) -> bytes:
            message = codex_claude.render_response(completed, inp.body)
            return dumps(message) if message is not None else b""

        return FunctionTranslation(body, True, lambda upstream: answer(_completed(upstream)), stream,
                                   lambda payloads: answer(_completed_in(payloads)))

    def claude_to_claude(inp: TranslateInput) -> Translation:
        body = openai_passthrough.claude_request(inp.body, inp.model)

        def stream() -> StreamTranslator:
            def feed(item: Item) -> list[bytes]:
                if isinstance(item, StreamEvent):
                    return [] if _failed(item) else [openai_passthrough.claude_frame(item.event, item.data)]
                return [item]

            def error(item: Item) -> list[bytes]:
                # ``event: error`` with Anthropic's own error type (claude_executor.go:321-345).
                return [openai_passthrough.claude_frame(item.event, item.data)] if isinstance(item, StreamEvent) else []

            return _Stream(feed, list, error)

        return FunctionTranslation(body, inp.stream, lambda upstream: upstream, stream)

    # Responses client --------------------------------------------------------------------

    def responses_to_claude(inp: TranslateInput) -> Translation:
        req = openai_responses.parse_request(inp.body)
        body = responses_upstream.render_claude_request(req, inp.model, stream=True, user_id=user_id())

        def stream() -> StreamTranslator:
            parser = claude.ClaudeStreamParser(start_usage=True)
            renderer = openai_responses.ResponsesStreamRenderer(inp.body, now=now)
            # This pair's own rule: the legacy only notes usage at ``message_delta`` (a later one's
            # counters win) and completes the response at ``message_stop``
            # (claude_openai-responses_response.go:274-285), so a stream cut between the two gets
            # no ``response.completed``, only the error frame of a stream cut short.
            held: list[m.Finish] = []

            def events(payload: dict[str, Any]) -> list[m.StreamEvent]:
                out: list[m.StreamEvent] = []
                for event in parser.feed(payload):
                    if isinstance(event, m.Finish):
                        earlier = held.pop() if held else None
                        usage = openai_responses.merge_usage(earlier.usage if earlier else None, event.usage)
                        held.append(m.Finish(event.reason, usage))
                    else:
                        out.append(event)
                if payload.get("type") == "message_stop" and held:
                    out.append(held.pop())
                return out

            def frames(payload: dict[str, Any]) -> list[bytes]:
                return _responses_frames(f for e in events(payload) for f in renderer.feed(e))

            def close() -> list[bytes]:
                # The upstream ended on purpose (the executor's terminal event came) with the
                # finish still held: complete the response from it.
                last: list[m.StreamEvent] = [*held, m.StreamEnd()]
                held.clear()
                return [*_responses_frames(f for e in last for f in renderer.feed(e)), RESPONSES_END]

            return _Stream(_objects(frames), close)

        def answer(events: list[m.StreamEvent]) -> bytes:
            return dumps(openai_responses.render_response(openai_responses.fold_events(events), inp.body, now=now))

        return FunctionTranslation(
            body, True, lambda upstream: answer(claude.parse_stream_events(upstream, start_usage=True)), stream,
            lambda payloads: answer(claude.parse_payload_events(payloads, start_usage=True)))

    def responses_to_gemini(inp: TranslateInput) -> Translation:
        req = openai_responses.parse_request(inp.body)
        body = responses_upstream.render_gemini_request(req, inp.model)

        def stream() -> StreamTranslator:
            events = openai_responses.GeminiEvents(call_id=call_id)
            renderer = openai_responses.ResponsesStreamRenderer(inp.body, now=now)

            def frames(payload: dict[str, Any]) -> list[bytes]:
                chunk = gemini.parse_chunk(payload)
                return _responses_frames(f for e in events.feed(chunk) for f in renderer.feed(e))

            return _Stream(_objects(frames), lambda: [*_responses_frames(renderer.feed(m.StreamEnd())), RESPONSES_END])

        def response(upstream: bytes) -> bytes:
            return dumps(render_gemini_response(json_object(upstream), inp.body, now=now, call_id=call_id))

        return FunctionTranslation(body, inp.stream, response, stream)

    def responses_to_codex(inp: TranslateInput) -> Translation:
        agent = _user_agent(inp)
        body = codex_responses.render_request(inp.body, inp.model, user_agent=agent)

        def stream() -> StreamTranslator:
            renderer = codex_responses.ResponsesFromCodex(inp.body, body, agent)

            def relay(item: Item) -> list[bytes]:
                if isinstance(item, StreamEvent):
                    frame = renderer.feed(item.event, item.data, item.payload)
                else:
                    frame = renderer.feed("", item.decode("utf-8", errors="replace"), item_payload(item))
                return [frame] if frame else []

            def feed(item: Item) -> list[bytes]:
                return [] if _failed(item) else relay(item)

            def failed(item: Item) -> list[bytes]:
                # ``response.failed`` or ``error`` after payload: relayed like any line, then the
                # stream's end, as the legacy passthrough does (codex_executor.go:282-304).
                frames = relay(item)
                return [*frames, RESPONSES_END] if frames else []

            return _Stream(feed, lambda: [RESPONSES_END], failed)

        def answer(completed: dict[str, Any] | None) -> bytes:
            rendered = codex_responses.render_response(completed, inp.body, body, agent)
            return dumps(rendered) if rendered is not None else b""

        return FunctionTranslation(body, True, lambda upstream: answer(_completed(upstream)), stream,
                                   lambda payloads: answer(_completed_in(payloads)))

    def responses_to_openai(inp: TranslateInput) -> Translation:
        body = responses_openai.render_request(inp.body, inp.model, stream=inp.stream)

        def stream() -> StreamTranslator:
            adapter = responses_openai.ResponsesFromOpenAIChat(inp.body, now=now)

            def feed(item: Item) -> list[bytes]:
                return [] if _failed(item) else _responses_frames(adapter.feed_data(_data(item)))

            return _Stream(feed, lambda: [*_responses_frames(adapter.close()), RESPONSES_END])

        def response(upstream: bytes) -> bytes:
            answer = responses_openai.render_response(
                json_object(upstream), inp.body, now=now, response_id=response_id
            )
            return dumps(answer)

        return FunctionTranslation(body, inp.stream, response, stream)

    return {
        (Format.OPENAI, Format.CLAUDE): openai_to_claude,
        (Format.OPENAI, Format.GEMINI): openai_to_gemini,
        (Format.OPENAI, Format.CODEX): openai_to_codex,
        (Format.OPENAI, Format.OPENAI): openai_to_openai,
        (Format.CLAUDE, Format.OPENAI): claude_to_openai,
        (Format.CLAUDE, Format.GEMINI): claude_to_gemini,
        (Format.CLAUDE, Format.CODEX): claude_to_codex,
        (Format.CLAUDE, Format.CLAUDE): claude_to_claude,
        (Format.OPENAI_RESPONSE, Format.CLAUDE): responses_to_claude,
        (Format.OPENAI_RESPONSE, Format.GEMINI): responses_to_gemini,
        (Format.OPENAI_RESPONSE, Format.CODEX): responses_to_codex,
        (Format.OPENAI_RESPONSE, Format.OPENAI): responses_to_openai,
    }


PAIRS: dict[PairKey, PairFactory] = make_pairs()


# --- /v1/completions -------------------------------------------------------------------------


def _completion_frame(frame: bytes) -> bytes | None:
    """One chat stream frame (``data: {chunk}\\n\\n``) -> a completions frame, or None to drop."""
    if not frame.startswith(b"data:"):
        return None
    data = frame[5:].strip()
    if data == b"[DONE]":
        return None
    chunk = json_object(data)
    if "error" in chunk and "choices" not in chunk:
        return frame  # an in-stream error chunk of a chat translator passes unchanged
    converted = completions.completion_chunk_from_chat(chunk)
    return encode_openai_chunk(completions.encode(converted)) if converted is not None else None


def _completion_body(chat: bytes) -> bytes:
    return completions.encode(completions.completion_from_chat(json_object(chat)))


@dataclass(slots=True)
class _CompletionsStream:
    inner: StreamTranslator
    # A chat chunk came, even one the conversion drops (the role-only first chunk): the legacy
    # handler commits its 200 SSE answer there (openai_handlers.go:602-610), so what follows,
    # an error included, is part of the stream.
    committed: bool = False

    def _convert(self, frames: list[bytes]) -> list[bytes]:
        return [f for f in map(_completion_frame, frames) if f is not None]

    def feed(self, item: Item) -> list[bytes]:
        frames = self.inner.feed(item)
        if frames:
            self.committed = True
        return self._convert(frames)

    def close(self) -> list[bytes]:
        return [*self._convert(self.inner.close()), OPENAI_DONE]


def _wrap_completions(chat: Translation) -> Translation:
    return FunctionTranslation(
        chat.upstream_body,
        chat.upstream_stream,
        lambda upstream: _completion_body(chat.response(upstream)),
        lambda: _CompletionsStream(chat.stream()),
    )


@dataclass(frozen=True, slots=True)
class CompletionsHelpers:
    request: Callable[[dict[str, Any]], dict[str, Any]]
    wrap: Callable[[Translation], Translation]
    response_body: Callable[[bytes], bytes]
    chunk_frame: Callable[[bytes], bytes | None]


COMPLETIONS = CompletionsHelpers(
    request=completions.chat_request,
    wrap=_wrap_completions,
    response_body=_completion_body,
    chunk_frame=_completion_frame,
)


def chat_body_from_responses(body: dict[str, Any]) -> dict[str, Any] | None:
    """The chat body for a Responses-shaped ``/v1/chat/completions`` request, else None."""
    if not responses_openai.looks_like_responses(body):
        return None
    model = text_of(body.get("model"))
    return responses_openai.render_request(body, model, stream=body.get("stream") is True)
