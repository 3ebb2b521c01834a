"""What the legacy tokenizes when it counts tokens locally, and with which encoding.

OpenAI-compatible, Qwen and iFlow upstreams have no counting endpoint, nor does Codex; the
legacy counts those requests itself with tiktoken encodings (``token_helpers.go``,
``codex_executor.go``). It does not tokenize the JSON body: it collects the text-bearing fields
of the *translated* request into segments, each trimmed, and counts the segments joined by
newlines. This module reproduces the collection and the encoding choice; it does no I/O and
knows nothing of the tokenizer (``handlers/providers/tokenizers.py`` counts).

Where the legacy takes a value's raw JSON text (tool parameters, structured content), compact
JSON is used here: the translated body is a parsed object by now, so the client's original
whitespace is gone, and a count can differ from the legacy's by those whitespace tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.translation.gjson_values import text_of as _text
from handlers.translation.sse import json_text as _raw

O200K = "o200k_base"
CL100K = "cl100k_base"

# tiktoken-go v0.7.0 ``ForModel``: these model families use o200k_base, the older ones cl100k.
_OPENAI_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-5", O200K), ("gpt-4.1", O200K), ("gpt-4o", O200K), ("gpt-4", CL100K),
    ("gpt-3.5", CL100K), ("gpt-3", CL100K), ("o1", O200K), ("o3", O200K), ("o4", O200K),
)
_CODEX_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-5", O200K), ("gpt-4.1", O200K), ("gpt-4o", O200K), ("gpt-4", CL100K),
    ("gpt-3.5", CL100K), ("gpt-3", CL100K),
)


def _pick(model: str, prefixes: tuple[tuple[str, str], ...], default: str) -> str:
    name = model.strip().lower()
    if not name:
        return CL100K
    return next((encoding for prefix, encoding in prefixes if name.startswith(prefix)), default)


def openai_encoding(model: str) -> str:
    """``tokenizerForModel``: o200k_base for any model it does not know."""
    return _pick(model, _OPENAI_PREFIXES, O200K)


def codex_encoding(model: str) -> str:
    """``tokenizerForCodexModel``: cl100k_base for any model it does not know."""
    return _pick(model, _CODEX_PREFIXES, CL100K)


def _get(node: Any, key: str) -> Any:
    return node.get(key) if isinstance(node, Mapping) else None


class _Segments:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, value: Any) -> None:
        text = _text(value).strip()
        if text:
            self.items.append(text)


def _add_raw_if_present(seg: _Segments, node: Any, key: str) -> None:
    # ``.Exists()`` is true for an explicit null, whose Raw is the text "null".
    if isinstance(node, Mapping) and key in node:
        seg.add(_raw(node[key]))


# ---- OpenAI chat (token_helpers.go countOpenAIChatTokens) --------------------------------------


def openai_chat_text(body: Mapping[str, Any]) -> str:
    """The text the legacy counts for an OpenAI Chat Completions request."""
    seg = _Segments()
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            seg.add(_get(message, "role"))
            seg.add(_get(message, "name"))
            if isinstance(message, Mapping) and "content" in message:
                _content(message["content"], seg)
            calls = _get(message, "tool_calls")
            if isinstance(calls, list):
                for call in calls:
                    seg.add(_get(call, "id"))
                    seg.add(_get(call, "type"))
                    function = _get(call, "function")
                    if isinstance(function, Mapping):
                        seg.add(function.get("name"))
                        seg.add(function.get("description"))
                        seg.add(function.get("arguments"))
                        _add_raw_if_present(seg, function, "parameters")
            function_call = _get(message, "function_call")
            if function_call is not None:
                seg.add(_get(function_call, "name"))
                seg.add(_get(function_call, "arguments"))
    tools = body.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            _tool(tool, seg)
    elif tools is not None:
        _tool(tools, seg)
    functions = body.get("functions")
    if isinstance(functions, list):
        for function in functions:
            seg.add(_get(function, "name"))
            seg.add(_get(function, "description"))
            _add_raw_if_present(seg, function, "parameters")
    if "tool_choice" in body:
        choice = body["tool_choice"]
        seg.add(choice if isinstance(choice, str) else _raw(choice))
    if "response_format" in body:
        fmt = body["response_format"]
        seg.add(_get(fmt, "type"))
        seg.add(_get(fmt, "name"))
        _add_raw_if_present(seg, fmt, "json_schema")
        _add_raw_if_present(seg, fmt, "schema")
    seg.add(body.get("input"))
    seg.add(body.get("prompt"))
    return "\n".join(seg.items).strip()


def _content(content: Any, seg: _Segments) -> None:
    if isinstance(content, str):
        seg.add(content)
        return
    if isinstance(content, list):
        for part in content:
            kind = _text(_get(part, "type"))
            if kind in ("text", "input_text", "output_text"):
                seg.add(_get(part, "text"))
            elif kind == "image_url":
                seg.add(_get(_get(part, "image_url"), "url"))
            elif kind in ("input_audio", "output_audio", "audio"):
                seg.add(_get(part, "id"))
            elif kind == "tool_result":
                seg.add(_get(part, "name"))
                if isinstance(part, Mapping) and "content" in part:
                    _content(part["content"], seg)
            elif isinstance(part, list):
                _content(part, seg)
            else:
                seg.add(part)
        return
    if isinstance(content, Mapping):
        seg.add(_raw(content))


def _tool(tool: Any, seg: _Segments) -> None:
    if tool is None:
        return
    seg.add(_get(tool, "type"))
    seg.add(_get(tool, "name"))
    seg.add(_get(tool, "description"))
    function = _get(tool, "function")
    if isinstance(tool, Mapping) and "function" in tool:
        seg.add(_get(function, "name"))
        seg.add(_get(function, "description"))
        _add_raw_if_present(seg, function, "parameters")


# ---- Codex Responses (codex_executor.go countCodexInputTokens) ---------------------------------


def codex_input_text(body: Mapping[str, Any]) -> str:
    """The text the legacy counts for a Codex (Responses) request."""
    seg = _Segments()
    seg.add(body.get("instructions"))
    items = body.get("input")
    if isinstance(items, list):
        for item in items:
            kind = _text(_get(item, "type"))
            if kind == "message":
                content = _get(item, "content")
                if isinstance(content, list):
                    for part in content:
                        seg.add(_get(part, "text"))
            elif kind == "function_call":
                seg.add(_get(item, "name"))
                seg.add(_get(item, "arguments"))
            elif kind == "function_call_output":
                seg.add(_get(item, "output"))
            else:
                seg.add(_get(item, "text"))
    tools = body.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            seg.add(_get(tool, "name"))
            seg.add(_get(tool, "description"))
            if isinstance(tool, Mapping) and "parameters" in tool:
                params = tool["parameters"]
                seg.add(params if isinstance(params, str) else _raw(params))
    text = body.get("text")
    if isinstance(text, Mapping) and "format" in text:
        text_format = text["format"]
        seg.add(_get(text_format, "name"))
        if isinstance(text_format, Mapping) and "schema" in text_format:
            schema = text_format["schema"]
            seg.add(schema if isinstance(schema, str) else _raw(schema))
    return "\n".join(seg.items)


# ---- the answers the legacy builds around the number --------------------------------------------


def openai_usage(count: int) -> dict[str, Any]:
    """``buildOpenAIUsageJSON``: what the OpenAI-format executors hand the count translator."""
    return {"usage": {"prompt_tokens": count, "completion_tokens": 0, "total_tokens": count}}


def codex_usage(count: int) -> dict[str, Any]:
    return {"response": {"usage": {"input_tokens": count, "output_tokens": 0, "total_tokens": count}}}
