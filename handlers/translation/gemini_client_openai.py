"""Gemini client, OpenAI-compatible upstream (legacy ``internal/translator/openai/gemini``).

* ``render_request``: the client's ``generateContent`` body -> a Chat Completions body.
* ``OpenAIChunksToGemini``: upstream ``chat.completion.chunk`` objects -> Gemini response chunks.
* ``render_response``: a whole ``chat.completion`` -> one Gemini response.

These work on the wire JSON directly rather than through ``gemini.parse_request``: the legacy file
reads other keys than the Gemini->Claude one (``inlineData``/``mimeType``, ``toolConfig``,
``systemInstruction`` or ``system_instruction``) and has per-chunk quirks (one output per delta,
finish chunks carrying the buffered tool calls) that the typed model would smooth away.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import orjson

from handlers.translation import finish_reasons
from handlers.translation.gemini_client_common import new_call_id, sampling_number
from handlers.translation.gemini_request import declaration_schema, thinking_config
from handlers.translation.gjson_values import int_of, text_of
from handlers.translation.model import FinishReason, Format
from handlers.translation.sse import json_text
from handlers.translation.thinking import budget_to_level

# --- client request -> OpenAI chat request ----------------------------------------------------


def _image_item(inline: Any) -> dict[str, Any]:
    inline = inline if isinstance(inline, dict) else {}
    mime = text_of(inline.get("mimeType")) or "application/octet-stream"
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{text_of(inline.get('data'))}"}}


def _generation_config(config: dict[str, Any], out: dict[str, Any]) -> None:
    if "temperature" in config:
        out["temperature"] = sampling_number(config["temperature"])
    if "maxOutputTokens" in config:
        out["max_tokens"] = int_of(config["maxOutputTokens"])
    if "topP" in config:
        out["top_p"] = sampling_number(config["topP"])
    if "topK" in config:
        out["top_k"] = int_of(config["topK"])
    stops = config.get("stopSequences")
    if isinstance(stops, list) and stops:
        out["stop"] = [text_of(s) for s in stops]
    if "candidateCount" in config:
        out["n"] = int_of(config["candidateCount"])
    thinking = thinking_config(config)
    if isinstance(thinking, dict):
        if "thinkingLevel" in thinking:
            effort = text_of(thinking["thinkingLevel"]).strip().lower()
            if effort:
                out["reasoning_effort"] = effort
        elif "thinkingBudget" in thinking:
            level = budget_to_level(int_of(thinking["thinkingBudget"]))
            if level is not None:
                out["reasoning_effort"] = level


def _system_message(system: Any) -> dict[str, Any] | None:
    parts = system.get("parts") if isinstance(system, dict) else None
    content: list[dict[str, Any]] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        if "text" in part:
            content.append({"type": "text", "text": text_of(part["text"])})
        if "inlineData" in part:
            content.append(_image_item(part["inlineData"]))
    return {"role": "system", "content": content} if content else None


class _CallIds:
    """Pairs each ``functionResponse`` with the id minted for its ``functionCall``.

    The legacy gives every response the id of the LAST call seen, so the first answer of a
    parallel pair points at the second call and the upstream rejects the conversation. Here a
    response takes the oldest unanswered call of the same name, then the oldest unanswered call,
    and only then the legacy's last id (a lone call behaves exactly as before).
    """

    __slots__ = ("_last", "_mint", "_pending")

    def __init__(self, mint: Callable[[], str]) -> None:
        self._mint = mint
        self._pending: list[tuple[str, str]] = []
        self._last = ""

    def call(self, name: str) -> str:
        call_id = self._mint()
        self._pending.append((call_id, name))
        self._last = call_id
        return call_id

    def answer(self, name: str) -> str:
        for position, (call_id, call_name) in enumerate(self._pending):
            if call_name == name:
                del self._pending[position]
                return call_id
        if self._pending:
            return self._pending.pop(0)[0]
        return self._last or self._mint()


def _tool_message(answer: dict[str, Any], ids: _CallIds) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "tool", "tool_call_id": "", "content": ""}
    if "response" in answer:
        response = answer["response"]
        # The content travels as the raw JSON text of the value (a string keeps its quotes).
        if isinstance(response, dict) and "content" in response:
            message["content"] = json_text(response["content"])
        else:
            message["content"] = json_text(response)
    message["tool_call_id"] = ids.answer(text_of(answer.get("name")))
    return message


def _content_message(content: dict[str, Any], out: list[dict[str, Any]], ids: _CallIds) -> None:
    role = text_of(content.get("role"))
    message: dict[str, Any] = {"role": "assistant" if role == "model" else role, "content": ""}
    texts: list[str] = []
    items: list[dict[str, Any]] = []
    only_text = True
    calls: list[dict[str, Any]] = []
    parts = content.get("parts")
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        if "text" in part:
            text = text_of(part["text"])
            texts.append(text)
            items.append({"type": "text", "text": text})
        if "inlineData" in part:
            only_text = False
            items.append(_image_item(part["inlineData"]))
        call = part.get("functionCall")
        if "functionCall" in part:
            call = call if isinstance(call, dict) else {}
            name = text_of(call.get("name"))
            arguments = json_text(call["args"]) if "args" in call else "{}"
            calls.append(
                {"id": ids.call(name), "type": "function", "function": {"name": name, "arguments": arguments}}
            )
        if "functionResponse" in part:
            answer = part["functionResponse"]
            # Tool messages go out as they are met, before the message that holds them.
            out.append(_tool_message(answer if isinstance(answer, dict) else {}, ids))
    if items:
        message["content"] = "".join(texts) if only_text else items
    if calls:
        message["tool_calls"] = calls
    out.append(message)


def _tools(tools: Any) -> list[dict[str, Any]] | None:
    rendered: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else []:
        declarations = tool.get("functionDeclarations") if isinstance(tool, dict) else None
        for declaration in declarations if isinstance(declarations, list) else []:
            declaration = declaration if isinstance(declaration, dict) else {}
            function: dict[str, Any] = {
                "name": text_of(declaration.get("name")),
                "description": text_of(declaration.get("description")),
            }
            # Copied: later body edits (thinking, payload rules) must not reach the client's body.
            has_schema, schema = declaration_schema(declaration)
            if has_schema:
                function["parameters"] = copy.deepcopy(schema)
            rendered.append({"type": "function", "function": function})
    return rendered if isinstance(tools, list) and rendered else None


_CHOICE_MODES = {"NONE": "none", "AUTO": "auto", "ANY": "required"}


def render_request(
    body: dict[str, Any], model: str, *, stream: bool, call_id: Callable[[], str] = new_call_id
) -> dict[str, Any]:
    """Gemini ``generateContent`` body -> Chat Completions body (``openai_gemini_request.go``)."""
    out: dict[str, Any] = {"model": model, "messages": []}
    if isinstance(body.get("generationConfig"), dict):
        _generation_config(body["generationConfig"], out)
    out["stream"] = stream
    messages: list[dict[str, Any]] = out["messages"]
    system = body["systemInstruction"] if "systemInstruction" in body else body.get("system_instruction")
    system_message = _system_message(system)
    if system_message is not None:
        messages.append(system_message)
    ids = _CallIds(call_id)
    contents = body.get("contents")
    for content in contents if isinstance(contents, list) else []:
        if isinstance(content, dict):
            _content_message(content, messages, ids)
    tools = _tools(body.get("tools"))
    if tools is not None:
        out["tools"] = tools
    tool_config = body.get("toolConfig")
    calling = tool_config.get("functionCallingConfig") if isinstance(tool_config, dict) else None
    # gjson String() of the mode: a non-string mode matches no case instead of failing the lookup.
    mode = text_of(calling.get("mode")) if isinstance(calling, dict) else ""
    if mode in _CHOICE_MODES:
        out["tool_choice"] = _CHOICE_MODES[mode]
    return out


# --- tool-call arguments -----------------------------------------------------------------------

_WHITESPACE = " \n\r\t"
_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _string_token(text: str, start: int) -> tuple[str, int]:
    """The JSON string token at ``start`` (quotes included) and the index after it; -1 if open."""
    escaped = False
    for at in range(start + 1, len(text)):
        char = text[at]
        if char == "\\" and not escaped:
            escaped = True
            continue
        if char == '"' and not escaped:
            return text[start : at + 1], at + 1
        escaped = False
    return text[start:], -1


def _token_text(token: str) -> str:
    try:
        value = orjson.loads(token)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, str):
        return value
    return token[1:-1] if len(token) >= 2 and token[0] == token[-1] == '"' else token


def _bracketed(text: str, start: int) -> tuple[str, int]:
    """The balanced ``{…}`` / ``[…]`` starting at ``start``, strings respected; -1 if unbalanced."""
    opener = text[start]
    closer = "}" if opener == "{" else "]"
    depth, in_string, escaped = 0, False, False
    for at in range(start, len(text)):
        char = text[at]
        if in_string:
            if char == "\\" and not escaped:
                escaped = True
                continue
            if char == '"' and not escaped:
                in_string = False
            else:
                escaped = False
            continue
        if char == '"':
            in_string = True
        elif char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return text[start : at + 1], at + 1
    return text[start:], -1


def _bare_value(token: str) -> Any:
    if token in ("true", "false"):
        return token == "true"
    if token == "null":
        return None
    if _INTEGER.fullmatch(token):
        return int(token)
    if _FLOAT.fullmatch(token):
        return float(token)
    return token


def _skip(text: str, at: int, extra: str = "") -> int:
    while at < len(text) and text[at] in _WHITESPACE + extra:
        at += 1
    return at


def tolerant_object(text: str) -> dict[str, Any]:
    """Best-effort object from streamed arguments with bareword values (``{"city": 北京}``).

    Keys must be quoted; a value is a JSON string, a balanced object/array, or a bare token up to
    the next comma (``true``/``false``/``null``/numbers keep their type, other words become
    strings). Parsing stops at the first piece it cannot read, keeping what came before.
    """
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end == -1 or start >= end:
        return {}
    body, out, at = text[start + 1 : end], {}, 0
    while at < len(body):
        at = _skip(body, at, ",")
        if at >= len(body):
            break
        if body[at] != '"':
            while at < len(body) and body[at] != ",":
                at += 1
            continue
        token, at = _string_token(body, at)
        if at == -1:
            break
        key = _token_text(token)
        at = _skip(body, at)
        if at >= len(body) or body[at] != ":":
            break
        at = _skip(body, at + 1)
        if at >= len(body):
            break
        if body[at] == '"':
            token, after = _string_token(body, at)
            if after == -1:
                out[key] = ""
                break
            out[key], at = _token_text(token), after
        elif body[at] in "{[":
            segment, after = _bracketed(body, at)
            if after == -1:
                break
            try:
                out[key] = orjson.loads(segment)
            except orjson.JSONDecodeError:
                out[key] = segment
            at = after
        else:
            stop = body.find(",", at)
            stop = len(body) if stop == -1 else stop
            out[key], at = _bare_value(body[at:stop].strip()), stop
        at = _skip(body, at)
        if at < len(body) and body[at] == ",":
            at += 1
    return out


def arguments_object(arguments: str) -> Any:
    """Tool-call argument text -> the ``functionCall.args`` object (``parseArgsToObjectRaw``).

    Valid JSON objects pass; anything else goes through ``tolerant_object``; ``{}`` when nothing
    could be read.
    """
    text = arguments.strip()
    if not text or text == "{}":
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        return value
    return tolerant_object(text)


# --- OpenAI chat answer -> Gemini client ------------------------------------------------------


def _reasoning_texts(node: Any) -> list[str]:
    # extractReasoningTexts: strings, arrays of them, objects with ``text``; other values carry none.
    if isinstance(node, list):
        return [text for item in node for text in _reasoning_texts(item)]
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict) and "text" in node:
        return [text_of(node["text"])]
    return []


def _usage_metadata(usage: Any) -> dict[str, Any]:
    usage = usage if isinstance(usage, dict) else {}
    out = {
        "promptTokenCount": int_of(usage.get("prompt_tokens")),
        "candidatesTokenCount": int_of(usage.get("completion_tokens")),
        "totalTokenCount": int_of(usage.get("total_tokens")),
    }
    reasoning = 0
    for details in ("completion_tokens_details", "output_tokens_details"):
        node = usage.get(details)
        if isinstance(node, dict) and "reasoning_tokens" in node:
            reasoning = int_of(node["reasoning_tokens"])
            break
    if reasoning > 0:
        out["thoughtsTokenCount"] = reasoning
    return out


def _gemini_finish(reason: Any) -> str:
    return finish_reasons.to_gemini(FinishReason(text_of(reason), Format.OPENAI))


class OpenAIChunksToGemini:
    """``chat.completion.chunk`` objects -> Gemini chunks (``ConvertOpenAIResponseToGemini``).

    Per choice, the first rule that applies wins: each non-empty reasoning text and the content
    become one chunk apiece; tool-call deltas are buffered silently; a non-null ``finish_reason``
    ends the candidate and flushes the buffered calls; otherwise a top-level ``usage`` gives
    ``usageMetadata``. A chunk whose ``choices`` is empty reports usage alone, without a
    ``candidates`` key (the legacy's ``"candidates": []`` makes the google-genai SDK's stream
    reader index an empty list). The legacy replays its buffered calls in Go map order; here they
    come out by tool index.
    """

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}

    def feed(self, chunk: Any) -> list[dict[str, Any]]:
        if not isinstance(chunk, dict) or not isinstance(chunk.get("choices"), list):
            return []
        choices: list[Any] = chunk["choices"]
        if not choices:
            if "usage" not in chunk:
                return []
            alone: dict[str, Any] = {"usageMetadata": _usage_metadata(chunk["usage"])}
            if "model" in chunk:
                alone["model"] = text_of(chunk["model"])
            return [alone]
        out: list[dict[str, Any]] = []
        for choice in choices:
            if isinstance(choice, dict):
                out.extend(self._choice(chunk, choice))
        return out

    def _template(self, chunk: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
        template: dict[str, Any] = {"candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0}]}
        if "model" in chunk:
            template["model"] = text_of(chunk["model"])
        return template

    def _choice(self, chunk: dict[str, Any], choice: dict[str, Any]) -> list[dict[str, Any]]:
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        outputs: list[dict[str, Any]] = []
        if "reasoning_content" in delta:
            for text in _reasoning_texts(delta["reasoning_content"]):
                if text:
                    outputs.append(self._template(chunk, [{"thought": True, "text": text}]))
        if "content" in delta and text_of(delta["content"]):
            outputs.append(self._template(chunk, [{"text": text_of(delta["content"])}]))
        if not outputs and isinstance(delta.get("tool_calls"), list):
            self._buffer(delta["tool_calls"])
        elif not outputs:
            # The legacy ends the candidate on a ``finish_reason`` key even when it is null (gjson
            # Exists), so OpenAI's opening role chunk told a Gemini client STOP before any text
            # (compatibility row 19q); only a real reason ends it here.
            if choice.get("finish_reason") is not None:
                return [self._finish(chunk, choice["finish_reason"])]
            if "usage" in chunk:
                template = self._template(chunk, [])
                template["usageMetadata"] = _usage_metadata(chunk["usage"])
                return [template]
            return []
        # Text or tool-call deltas in the chunk that also carries the finish_reason: the legacy
        # stops at its first matching rule and never sees that reason, so the text's candidate
        # never ends and buffered calls are never sent (row 19w); the reason ends it here.
        if choice.get("finish_reason") is not None:
            outputs.append(self._finish(chunk, choice["finish_reason"]))
        return outputs

    def _finish(self, chunk: dict[str, Any], reason: Any) -> dict[str, Any]:
        template = self._template(chunk, self._flush())
        template["candidates"][0]["finishReason"] = _gemini_finish(reason)
        return template

    def _buffer(self, calls: list[Any]) -> None:
        for call in calls:
            if not isinstance(call, dict):
                continue
            kind = text_of(call.get("type"))
            function = call.get("function")
            if (kind and kind != "function") or "function" not in call:
                continue
            function = function if isinstance(function, dict) else {}
            index = int_of(call.get("index"))
            name, arguments = text_of(function.get("name")), text_of(function.get("arguments"))
            entry = self._calls.setdefault(index, [name])
            if name:
                entry[0] = name
            if arguments:
                entry.append(arguments)

    def _flush(self) -> list[dict[str, Any]]:
        parts = [
            {"functionCall": {"name": entry[0], "args": arguments_object("".join(entry[1:]))}}
            for _, entry in sorted(self._calls.items())
        ]
        self._calls = {}
        return parts


def _set_part(parts: list[dict[str, Any]], index: int) -> dict[str, Any]:
    # sjson "parts.<n>.<key>" semantics: an existing element is updated in place, a new one appended.
    if index < len(parts):
        return parts[index]
    parts.append({})
    return parts[-1]


def render_response(body: Any) -> dict[str, Any]:
    """A whole ``chat.completion`` -> Gemini response (``ConvertOpenAIResponseToGeminiNonStream``).

    Every choice writes into candidate 0, as the legacy does; with several choices a later one
    overwrites the parts of the earlier ones position by position.
    """
    body = body if isinstance(body, dict) else {}
    candidate: dict[str, Any] = {"content": {"parts": [], "role": "model"}, "index": 0}
    out: dict[str, Any] = {"candidates": [candidate]}
    if "model" in body:
        out["model"] = text_of(body["model"])
    parts: list[dict[str, Any]] = candidate["content"]["parts"]
    for choice in body.get("choices") if isinstance(body.get("choices"), list) else []:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        at = 0
        if "reasoning_content" in message:
            for text in _reasoning_texts(message["reasoning_content"]):
                if text:
                    part = _set_part(parts, at)
                    part["thought"], part["text"] = True, text
                    at += 1
        if "content" in message and text_of(message["content"]):
            _set_part(parts, at)["text"] = text_of(message["content"])
            at += 1
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict) and call.get("type") == "function":
                function = call.get("function") if isinstance(call.get("function"), dict) else {}
                target = _set_part(parts, at).setdefault("functionCall", {})
                target["name"] = text_of(function.get("name"))
                target["args"] = arguments_object(text_of(function.get("arguments")))
                at += 1
        if "finish_reason" in choice:
            candidate["finishReason"] = _gemini_finish(choice["finish_reason"])
        candidate["index"] = int_of(choice.get("index"))
    if "usage" in body:
        out["usageMetadata"] = _usage_metadata(body["usage"])
    return out
