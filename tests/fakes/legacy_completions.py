"""The stand-in legacy's ``POST /v1/completions``: legacy text completions carried over chat.

CLIProxyAPI v6.7.15 never sends ``/completions`` upstream. Its handler
(``sdk/api/handlers/openai/openai_handlers.go``) builds a chat request with one user message out
of the completions body (``convertCompletionsRequestToChatCompletions``, :184-246), runs it like
``/v1/chat/completions`` (here: the stand-in's OpenAI-compatible executor, ``chat_upstream``),
and turns the answer back into ``text_completion`` objects: the whole answer
(``convertChatCompletionsResponseToCompletions``, :256-320) or each stream chunk
(``convertChatCompletionsStreamChunkToCompletions``, :330-414, which drops chunks with neither
text nor a finish reason).

The values go through gjson's accessors (``String()``, ``Int()``, ``Float()``, ``Bool()``), whose
coercions are reproduced below from gjson's documented behaviour. Written from the Go source,
independently of the gateway's ``handlers/translation/completions.py``.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web

from .legacy_schema import go_json_bytes

_DEFAULT_PROMPT = "Complete this:"
# gjson's safeInt: a float64 that holds an integer exactly converts directly.
_SAFE_INT = 9007199254740991


def _format_float(value: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64): the shortest digits, never an exponent."""
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def gjson_string(value: Any) -> str:
    """``Result.String()``: a string as is, ``null``/absent as "", numbers as written (a
    non-integer literal re-formatted as Go's 'f' float), objects and arrays as their JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_float(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def gjson_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return int(value)  # int64(f) truncates toward zero
        return 0
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                return 0
            return int(number) if math.isfinite(number) and abs(number) <= _SAFE_INT else 0
    return 0


def gjson_float(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return 0.0
    return 0.0


def gjson_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        # strconv.ParseBool's true spellings.
        return value in ("1", "t", "T", "TRUE", "true", "True")
    return False


def _sjson_float(number: float) -> int | float:
    """sjson writes a float64 with the 'f' format: an integral value has no fraction."""
    return int(number) if number.is_integer() else number


def chat_request_from_completions(body: dict[str, Any]) -> dict[str, Any]:
    """openai_handlers.go:184-246. Fields are added in this order to the template
    ``{"model":"","messages":[{"role":"user","content":""}]}``; everything else is dropped."""
    prompt = gjson_string(body.get("prompt")) or _DEFAULT_PROMPT
    chat: dict[str, Any] = {"model": "", "messages": [{"role": "user", "content": ""}]}
    if "model" in body:
        chat["model"] = gjson_string(body["model"])
    chat["messages"][0]["content"] = prompt
    if "max_tokens" in body:
        chat["max_tokens"] = gjson_int(body["max_tokens"])
    for key in ("temperature", "top_p", "frequency_penalty", "presence_penalty"):
        if key in body:
            chat[key] = _sjson_float(gjson_float(body[key]))
    if "stop" in body:
        chat["stop"] = body["stop"]
    if "stream" in body:
        chat["stream"] = gjson_bool(body["stream"])
    if "logprobs" in body:
        chat["logprobs"] = gjson_bool(body["logprobs"])
    if "top_logprobs" in body:
        chat["top_logprobs"] = gjson_int(body["top_logprobs"])
    if "echo" in body:
        chat["echo"] = gjson_bool(body["echo"])
    return chat


def _go_value(value: Any) -> Any:
    """gjson ``Value()``: objects become Go maps (json.Marshal sorts their keys), every number a
    float64."""
    if isinstance(value, dict):
        return {key: _go_value(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_go_value(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def _marshal_float(value: float) -> str:
    """encoding/json's float64: 'f' form, or 'e' form below 1e-6 and from 1e21, where a
    two-digit negative exponent loses its leading zero (``1e-07`` -> ``1e-7``)."""
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, _, exponent = repr(value).partition("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        if sign == "+" or len(digits) >= 2:
            digits = digits.rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return _format_float(value)


def _marshal(value: Any) -> str:
    """json.Marshal of the handler's ``[]interface{}`` of maps (keys already in sorted order)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_marshal(str(k))}:{_marshal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_marshal(item) for item in value) + "]"
    if isinstance(value, float):
        return _marshal_float(value)
    if isinstance(value, str):
        return go_json_bytes(value).decode()
    return json.dumps(value)


def _sjson_string(value: str) -> str:
    """sjson.Set of a string: written as is unless a byte needs escaping (a control character,
    a quote, a backslash, anything beyond ASCII); then json.Marshal writes it."""
    if any(ch < " " or ch > "\x7f" or ch in '"\\' for ch in value):
        return go_json_bytes(value).decode()
    return f'"{value}"'


def _render(out: dict[str, Any]) -> bytes:
    """The template's fields as sjson set them, ``choices`` from json.Marshal, ``usage`` raw."""
    fields = []
    for key, value in out.items():
        if key == "choices":
            text = _marshal(value)
        elif isinstance(value, str):
            text = _sjson_string(value)
        else:
            # usage is copied raw (SetRaw); the stand-in writes it compact.
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        fields.append(f'"{key}":{text}')
    return ("{" + ",".join(fields) + "}").encode()


def _head(chat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "", "object": "text_completion", "created": 0, "model": "", "choices": []}
    if "id" in chat:
        out["id"] = gjson_string(chat["id"])
    if "created" in chat:
        out["created"] = gjson_int(chat["created"])
    if "model" in chat:
        out["model"] = gjson_string(chat["model"])
    return out


def _choice_list(chat: dict[str, Any]) -> list[Any]:
    choices = chat.get("choices")
    return choices if isinstance(choices, list) else []


def _get(node: Any, key: str) -> tuple[bool, Any]:
    """gjson ``Get(key)`` on a value of any type: (exists, value)."""
    if isinstance(node, dict) and key in node:
        return True, node[key]
    return False, None


def completions_answer(chat_body: bytes) -> bytes:
    """openai_handlers.go:256-320 (the upstream's answer is relayed unchanged by the
    OpenAI-to-OpenAI translator before this)."""
    try:
        chat = json.loads(chat_body)
    except ValueError:
        chat = {}
    if not isinstance(chat, dict):
        chat = {}
    out = _head(chat)
    if "usage" in chat:
        out["usage"] = chat["usage"]
    choices = []
    for choice in _choice_list(chat):
        # json.Marshal of a map: keys in sorted order.
        item: dict[str, Any] = {}
        has_message, message = _get(choice, "message")
        has_delta, delta = _get(choice, "delta")
        source_ok, source = (has_message, message) if has_message else (has_delta, delta)
        has_finish, finish = _get(choice, "finish_reason")
        if has_finish:
            item["finish_reason"] = gjson_string(finish)
        item["index"] = gjson_int(_get(choice, "index")[1])
        has_logprobs, logprobs = _get(choice, "logprobs")
        if has_logprobs:
            item["logprobs"] = _go_value(logprobs)
        if source_ok:
            has_content, content = _get(source, "content")
            if has_content:
                item["text"] = gjson_string(content)
        choices.append(item)
    if choices:
        out["choices"] = choices
    return _render(out)


def completions_chunk(chunk: bytes) -> bytes | None:
    """openai_handlers.go:330-414: None for a chunk with no text and no finish reason."""
    try:
        chat = json.loads(chunk)
    except ValueError:
        return None
    if not isinstance(chat, dict):
        return None
    meaningful = False
    for choice in _choice_list(chat):
        has_delta, delta = _get(choice, "delta")
        if has_delta and gjson_string(_get(delta, "content")[1]) != "":
            meaningful = True
            break
        reason = gjson_string(_get(choice, "finish_reason")[1])
        if reason not in ("", "null"):
            meaningful = True
            break
    if not meaningful:
        return None
    out = _head(chat)
    choices = []
    for choice in _choice_list(chat):
        item: dict[str, Any] = {}
        has_finish, finish = _get(choice, "finish_reason")
        # A JSON null reads as "" here and so is written: only the text "null" is left out.
        if has_finish and gjson_string(finish) != "null":
            item["finish_reason"] = gjson_string(finish)
        item["index"] = gjson_int(_get(choice, "index")[1])
        has_logprobs, logprobs = _get(choice, "logprobs")
        if has_logprobs:
            item["logprobs"] = _go_value(logprobs)
        item["text"] = gjson_string(_get(_get(choice, "delta")[1], "content")[1])
        choices.append(item)
    if choices:
        out["choices"] = choices
    return _render(out)


_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Connection": "keep-alive",
                "Access-Control-Allow-Origin": "*"}


async def _stream(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    """openai_handlers.go:547-647 with ForwardStream (stream_forwarder.go:32-121): the SSE headers
    go out with the first chunk the executor yields, even one the conversion then drops; each
    kept chunk is one ``data:`` event; ``[DONE]`` when the upstream ends cleanly, the error
    body instead when it breaks."""
    from .legacy_server import _upstream_lines, error_body, write_error

    response = web.StreamResponse(status=200)
    try:
        async for line in _upstream_lines(upstream):
            if not line.startswith(b"data:"):
                continue
            # The OpenAI-to-OpenAI translator trims the payload and swallows [DONE]; an empty
            # payload is never put on the handler's channel (handlers.go:563).
            payload = line[5:].strip()
            if payload == b"[DONE]" or not payload:
                continue
            if not response.prepared:
                response.headers.update(_SSE_HEADERS)
                await response.prepare(request)
            converted = completions_chunk(payload)
            if converted is not None:
                await response.write(b"data: " + converted + b"\n\n")
    except aiohttp.ClientError as exc:
        text = "unexpected EOF" if isinstance(exc, aiohttp.ClientPayloadError) else str(exc)
        if not response.prepared:
            return write_error(500, text)
        await response.write(b"data: " + error_body(500, text) + b"\n\n")
        await response.write_eof()
        return response
    finally:
        upstream.release()
    if not response.prepared:
        response.headers.update(_SSE_HEADERS)
        await response.prepare(request)
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def completions(request: web.Request) -> web.StreamResponse:
    from .legacy_server import chat_upstream

    try:
        body = json.loads(await request.read())
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    # openai_handlers.go:167-168: only a JSON true streams.
    stream = body.get("stream") is True
    chat = chat_request_from_completions(body)
    answer = await chat_upstream(request, chat, chat["model"], stream)
    if isinstance(answer, web.Response):
        return answer
    if isinstance(answer, bytes):
        response = web.Response(body=completions_answer(answer))
        response.headers["Content-Type"] = "application/json"
        return response
    return await _stream(request, answer)
