"""Server-sent events: the per-protocol frame encoders, and the shared parser re-exported.

The incremental parser (``SSEParser``, ``SSEEvent``) lives in ``quotio_gateway.sse`` so the shadow
comparator reads streams with the same code; it is re-exported here for the callers that import it
next to the encoders.

Encoders reproduce the legacy server's framing byte for byte (reference: surface §6, A3):

* OpenAI chat: ``data: <json>\\n\\n``, terminated by ``data: [DONE]\\n\\n``.
* Claude: ``event: <type>\\ndata: <json>\\n\\n`` (``\\n\\n\\n`` when synthesised from Gemini); no
  terminator beyond ``message_stop``.
* OpenAI Responses: ``\\nevent: <type>\\ndata: <json>\\n`` per event; the stream ends with ``\\n``.
* Gemini / Gemini CLI, ``alt`` empty or ``sse``: ``data: <json>\\n\\n``; any other ``alt`` (e.g.
  ``json``): the chunk bytes unframed, exactly as the legacy handler writes them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from quotio_gateway.config.gojson import go_json_dumps
from quotio_gateway.sse import SSEEvent as SSEEvent
from quotio_gateway.sse import SSEParser as SSEParser


def dumps(obj: Any) -> bytes:
    """Compact JSON as the legacy server writes it (no spaces, UTF-8 kept as is)."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        # orjson refuses integers beyond 64 bits, which a stdlib-parsed body may carry.
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def json_text(obj: Any) -> str:
    """``dumps`` as text: the stand-in for the raw JSON the legacy copies with gjson ``.Raw``."""
    return dumps(obj).decode()


def loads_upstream(data: bytes | str) -> Any:
    """An upstream JSON text decoded; raises ``orjson.JSONDecodeError`` when it is none.

    orjson refuses a ``\\uD83D`` escape with no partner (valid JSON grammar; a server that cuts
    its text between the two UTF-16 halves of an emoji writes one); the legacy's gjson reads it
    as U+FFFD. So does this, instead of losing the chunk or the answer it is in.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        error = exc
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    if "\\u" not in text:
        raise error
    try:
        return lenient_loads(text)
    except ValueError:
        raise error from None


_SURROGATE = re.compile("[\ud800-\udfff]")


def lenient_loads(text: str) -> Any:
    """JSON text as Go's readers take it where orjson refuses it: the same grammar (``NaN`` and
    ``Infinity`` stay refused), but a lone UTF-16 surrogate escape becomes U+FFFD, as Go's decoder
    and gjson make it. Raises ``ValueError`` for anything that is not JSON."""
    return _replace_surrogates(json.loads(text, parse_constant=_reject_constant))


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_replace_surrogates(key): _replace_surrogates(item) for key, item in value.items()}
    return value


KEEPALIVE = b": keep-alive\n\n"
OPENAI_DONE = b"data: [DONE]\n\n"
RESPONSES_END = b"\n"


def encode_openai_chunk(payload: Any) -> bytes:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    return b"data: " + body + b"\n\n"


# The Gemini->Claude translator ends each frame with an extra blank line (reference A2.6).
GEMINI_CLAUDE_TRAILER = b"\n\n\n"


def encode_claude_event(event: str, payload: Any, trailer: bytes = b"\n\n") -> bytes:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    return b"event: " + event.encode() + b"\ndata: " + body + trailer


def encode_claude_error(message: str) -> bytes:
    """Mid-stream error frame of the Claude handler (surface §5). Go's ``json.Marshal`` writes it
    (code_handlers.go:286), so ``<``, ``>``, ``&`` are escaped and bytes that are not UTF-8
    become ``\\ufffd``, unlike the frames relayed from upstream."""
    body = go_json_dumps({"type": "error", "error": {"type": "api_error", "message": message}})
    return encode_claude_event("error", body)


def encode_responses_event(event: str, payload: Any) -> bytes:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    return b"\nevent: " + event.encode() + b"\ndata: " + body + b"\n"


def encode_gemini_chunk(payload: Any, alt: str = "") -> bytes:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    if normalise_alt(alt) == "":
        # Relayed data that came on several ``data:`` lines goes out on as many (see openai_chunk).
        return b"data: " + body.replace(b"\n", b"\ndata: ") + b"\n\n"
    return body


def encode_gemini_error(body: bytes, alt: str = "") -> bytes:
    if normalise_alt(alt) == "":
        return b"event: error\ndata: " + body + b"\n\n"
    return body


def normalise_alt(alt: str) -> str:
    """``alt=sse`` means the default SSE framing, like no ``alt`` at all (surface §6 note)."""
    return "" if alt == "sse" else alt
