"""Legacy text completions (``POST /v1/completions``) served over Chat Completions.

The legacy handler never sends ``/completions`` upstream: it rewrites the request into a chat
request with one user message, routes that like ``/v1/chat/completions`` and rewrites the answer
back into ``text_completion`` objects (``sdk/api/handlers/openai/openai_handlers.go``).

* ``chat_request(body)``: completions request -> chat request (``prompt`` -> the user message,
  ``"Complete this:"`` when empty; ``max_tokens``, ``temperature``, ``top_p``,
  ``frequency_penalty``, ``presence_penalty``, ``stop``, ``stream``, ``logprobs``,
  ``top_logprobs``, ``echo`` copied with gjson's number/boolean coercions; ``n``, ``suffix``,
  ``user``, ``stream_options`` and the rest are dropped).
* ``completion_from_chat(completion)``: ``chat.completion`` -> ``text_completion`` (a choice's
  ``logprobs`` goes out as Go re-encodes it: keys sorted, numbers as float64).
* ``completion_chunk_from_chat(chunk)``: one ``chat.completion.chunk`` -> a ``text_completion``
  chunk, or None for chunks with neither content nor a finish reason (role-only and usage-only
  chunks are dropped, so usage never reaches a streaming completions client).
* ``encode(completion)``: either object as the bytes the legacy writes.
"""

from __future__ import annotations

from typing import Any

from handlers.translation.gjson_values import array_of, bool_of, int_of, parse_float, text_of
from handlers.translation.openai_chat_request import go_number
from handlers.translation.sse import dumps
from quotio_gateway.config.gojson import go_json_dumps

DEFAULT_PROMPT = "Complete this:"


def _go_float(value: Any) -> float | int:
    """gjson ``Float()`` as sjson then writes it."""
    if isinstance(value, bool):
        number = float(value)
    elif isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        number = parse_float(value)
    else:
        number = 0.0
    return go_number(number)


_FLOAT_FIELDS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    prompt = text_of(body.get("prompt")) or DEFAULT_PROMPT
    out: dict[str, Any] = {"model": "", "messages": [{"role": "user", "content": prompt}]}
    if "model" in body:
        out["model"] = text_of(body["model"])
    if "max_tokens" in body:
        out["max_tokens"] = int_of(body["max_tokens"])
    for key in _FLOAT_FIELDS:
        if key in body:
            out[key] = _go_float(body[key])
    if "stop" in body:
        out["stop"] = body["stop"]
    if "stream" in body:
        out["stream"] = bool_of(body["stream"])
    if "logprobs" in body:
        out["logprobs"] = bool_of(body["logprobs"])
    if "top_logprobs" in body:
        out["top_logprobs"] = int_of(body["top_logprobs"])
    if "echo" in body:
        out["echo"] = bool_of(body["echo"])
    return out


def _head(chat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "", "object": "text_completion", "created": 0, "model": "", "choices": []}
    if "id" in chat:
        out["id"] = text_of(chat["id"])
    if "created" in chat:
        out["created"] = int_of(chat["created"])
    if "model" in chat:
        out["model"] = text_of(chat["model"])
    return out


def _go_value(value: Any) -> Any:
    """gjson ``Value()`` as ``json.Marshal`` writes it: objects become Go maps, whose keys the
    encoder sorts, and every number a float64."""
    if isinstance(value, dict):
        return {key: _go_value(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_go_value(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= _MAX_FLOAT:
        return go_number(value)
    return value


_MAX_FLOAT = 1.7976931348623157e308  # an integer beyond this has no float64 (a stdlib-parsed body)


def _choices(chat: dict[str, Any], convert: Any) -> list[dict[str, Any]]:
    choices = chat.get("choices")
    return [convert(c if isinstance(c, dict) else {}) for c in choices] if isinstance(choices, list) else []


def completion_from_chat(chat: dict[str, Any]) -> dict[str, Any]:
    out = _head(chat)
    if "usage" in chat:
        out["usage"] = chat["usage"]

    def convert(choice: dict[str, Any]) -> dict[str, Any]:
        # Keys in Go's json.Marshal order for a map: alphabetical.
        item: dict[str, Any] = {}
        if "finish_reason" in choice:
            item["finish_reason"] = text_of(choice["finish_reason"])
        item["index"] = int_of(choice.get("index"))
        if "logprobs" in choice:
            item["logprobs"] = _go_value(choice["logprobs"])
        source = choice.get("message") if "message" in choice else choice.get("delta")
        if isinstance(source, dict) and "content" in source:
            item["text"] = text_of(source["content"])
        return item

    choices = _choices(chat, convert)
    if choices:
        out["choices"] = choices
    return out


def _has_output(chat: dict[str, Any]) -> bool:
    for choice in array_of(chat.get("choices")):
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict) and text_of(delta.get("content")):
            return True
        reason = text_of(choice.get("finish_reason"))
        if reason and reason != "null":
            return True
    return False


def completion_chunk_from_chat(chunk: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(chunk.get("choices"), list) or not _has_output(chunk):
        return None
    out = _head(chunk)

    def convert(choice: dict[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {}
        if "finish_reason" in choice:
            reason = text_of(choice["finish_reason"])
            # Only the text "null" is dropped: a JSON null reads as "" in the legacy and goes out
            # as "finish_reason": "" on every content chunk.
            if reason != "null":
                item["finish_reason"] = reason
        item["index"] = int_of(choice.get("index"))
        if "logprobs" in choice:
            item["logprobs"] = _go_value(choice["logprobs"])
        delta = choice.get("delta")
        item["text"] = text_of(delta.get("content")) if isinstance(delta, dict) else ""
        return item

    choices = _choices(chunk, convert)
    if choices:
        out["choices"] = choices
    return out


def _sjson_string(value: str) -> bytes:
    """sjson.Set of a string (the template's ``id`` and ``model``): the text goes in quoted as it
    is, unless one of its bytes needs escaping; then json.Marshal writes it, ``<``, ``>``, ``&``
    escaped along with the rest."""
    if any(char < " " or char > "\x7f" or char in '"\\' for char in value):
        return go_json_dumps(value)
    return b'"' + value.encode("utf-8", "surrogateescape") + b'"'


def encode(completion: dict[str, Any]) -> bytes:
    """The legacy builds its answer with sjson on a template but the choices with json.Marshal
    (openai_handlers.go:315-316, :409-410), which escapes ``<``, ``>``, ``&`` and U+2028/U+2029 in
    the text and writes numbers as float64. ``usage`` is the upstream's object (SetRaw)."""
    fields = []
    for key, value in completion.items():
        if key == "choices":
            text = go_json_dumps(value)
        elif isinstance(value, str):
            text = _sjson_string(value)
        else:
            text = dumps(value)
        fields.append(dumps(key) + b":" + text)
    return b"{" + b",".join(fields) + b"}"
