"""Responses client -> OpenAI-compatible (Chat Completions) upstream (legacy ``openai/openai/responses``).

* ``render_request(body, model, stream=…)``: the Responses body -> a Chat Completions body. Also
  what ``/v1/chat/completions`` applies to a Responses-shaped body (``looks_like_responses``).
* ``ResponsesFromOpenAIChat``: upstream ``chat.completion.chunk`` payloads -> Responses stream
  frames, by way of ``OpenAIChatStreamParser`` and the shared ``ResponsesStreamRenderer`` (A3.2).
  The finish is held back until the stream ends so that a usage chunk sent after the
  ``finish_reason`` chunk (the usual OpenAI order) still reaches ``response.completed``.
* ``render_response(completion, body)``: a ``chat.completion`` -> the non-stream Responses object.

Rules read from the Go source (the reference does not tabulate this pair): text parts of a message
are joined with ``\\n`` into one string; images and other non-text parts are dropped; a run of
``function_call`` items becomes one assistant message with a tool call each (compatibility row
19u: the legacy sends one message per call, which OpenAI refuses); sampling fields
other than ``max_output_tokens`` are not forwarded; ``reasoning.effort`` becomes a lower-cased
``reasoning_effort``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from handlers.translation.gjson_values import int_of, text_of
from handlers.translation.model import Finish, StreamEnd, StreamEvent, ToolCallStart
from handlers.translation.openai_chat_response import OpenAIChatStreamParser, reasoning_texts
from handlers.translation.openai_responses import ResponsesFrame, ResponsesStreamRenderer, echo_fields

# --- request ---------------------------------------------------------------------------------


def looks_like_responses(body: dict[str, Any]) -> bool:
    """A chat-completions body written in the Responses shape (no ``messages``; ``input`` or
    ``instructions``), which the legacy chat handler converts before routing."""
    return "messages" not in body and ("input" in body or "instructions" in body)


def _go_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    if isinstance(value, int | float):
        return bool(value)
    return False


def _message(item: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": text_of(item.get("role")), "content": ""}
    content = item.get("content")
    if isinstance(content, list):
        texts = [
            text_of(part.get("text"))
            for part in content
            if isinstance(part, dict) and (text_of(part.get("type")) or "input_text") in ("input_text", "output_text")
        ]
        # Like the legacy, an empty text only joins when something came before it.
        joined = ""
        for text in texts:
            joined = joined + "\n" + text if joined else text
        if joined:
            message["content"] = joined
    elif isinstance(content, str):
        message["content"] = content
    return message


def _function_call(item: dict[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
    if "call_id" in item:
        call["id"] = text_of(item["call_id"])
    if "name" in item:
        call["function"]["name"] = text_of(item["name"])
    if "arguments" in item:
        call["function"]["arguments"] = text_of(item["arguments"])
    return {"role": "assistant", "tool_calls": [call]}


def _tool_output(item: dict[str, Any]) -> dict[str, Any]:
    message = {"role": "tool", "tool_call_id": "", "content": ""}
    if "call_id" in item:
        message["tool_call_id"] = text_of(item["call_id"])
    if "output" in item:
        message["content"] = text_of(item["output"])
    return message


def _is_function(tool: dict[str, Any]) -> bool:
    # Like the legacy, a tool without a type is taken for a function.
    return text_of(tool.get("type")) in ("", "function")


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
    """Function tools in the chat shape; every other tool type is left out.

    Deviation: the legacy passes built-in and grouping tools (``web_search``, ``namespace``,
    ``custom``, ...) through as they are. Chat Completions declares only ``function`` (and its
    own nested ``custom``) tools, so a strict upstream such as OpenAI answers 400 for the whole
    request. A ``namespace`` is not flattened into its functions: a call to one of them would
    have to come back naming the namespace, which the chat answer cannot say.
    """
    out: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, dict) or not _is_function(tool):
            continue
        function: dict[str, Any] = {"name": "", "description": "", "parameters": {}}
        if "name" in tool:
            function["name"] = text_of(tool["name"])
        if "description" in tool:
            function["description"] = text_of(tool["description"])
        if "parameters" in tool:
            function["parameters"] = tool["parameters"]
        out.append({"type": "function", "function": function})
    return out


def _function_choice(choice: dict[str, Any]) -> dict[str, Any]:
    if "function" in choice:
        return choice
    return {"type": "function", "function": {"name": text_of(choice.get("name"))}}


def _tool_choice(choice: Any) -> Any:
    """The chat form of a Responses ``tool_choice``; None when it must be left out.

    Strings pass as they are. A function choice takes the chat shape; ``allowed_tools`` keeps
    its function entries in the chat shape and is left out when none remain; a choice of any
    other tool type names a tool ``_tools`` dropped, so it is left out too (the upstream then
    chooses freely among the functions). Deviation: the legacy sends an object choice as its
    JSON text (a string), which upstreams reject.
    """
    if isinstance(choice, str):
        return choice
    if not isinstance(choice, dict):
        return text_of(choice)
    kind = text_of(choice.get("type"))
    if kind == "function":
        return _function_choice(choice)
    if kind == "allowed_tools":
        listed = choice.get("tools") if isinstance(choice.get("tools"), list) else []
        allowed = [_function_choice(tool) for tool in listed if isinstance(tool, dict) and _is_function(tool)]
        if not allowed:
            return None
        return {"type": "allowed_tools",
                "allowed_tools": {"mode": text_of(choice.get("mode")) or "auto", "tools": allowed}}
    return None


def render_request(body: dict[str, Any], model: str, *, stream: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "messages": [], "stream": stream}
    if "max_output_tokens" in body:
        out["max_tokens"] = int_of(body["max_output_tokens"])
    if "parallel_tool_calls" in body:
        out["parallel_tool_calls"] = _go_bool(body["parallel_tool_calls"])
    messages: list[dict[str, Any]] = out["messages"]
    if "instructions" in body:
        messages.append({"role": "system", "content": text_of(body["instructions"])})
    raw_input = body.get("input")
    if isinstance(raw_input, list):
        for item in raw_input:
            if not isinstance(item, dict):
                continue
            kind = text_of(item.get("type"))
            if not kind and text_of(item.get("role")):
                kind = "message"
            if kind in ("message", ""):
                messages.append(_message(item))
            elif kind == "function_call":
                call = _function_call(item)
                last = messages[-1] if messages else None
                if last is not None and last.keys() == {"role", "tool_calls"} and last["role"] == "assistant":
                    # Parallel calls (Codex CLI) share one assistant turn: OpenAI takes tool
                    # messages only after the message that made their calls.
                    last["tool_calls"] += call["tool_calls"]
                else:
                    messages.append(call)
            elif kind == "function_call_output":
                messages.append(_tool_output(item))
    elif isinstance(raw_input, str):
        messages.append({"role": "user", "content": raw_input})
    emptied = False
    if isinstance(body.get("tools"), list):
        tools = _tools(body["tools"])
        if tools:
            out["tools"] = tools
        # Every tool dropped: a choice would refer to tools the upstream never sees.
        emptied = not tools and bool(body["tools"])
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and "effort" in reasoning:
        effort = text_of(reasoning["effort"]).strip().lower()
        if effort:
            out["reasoning_effort"] = effort
    if "tool_choice" in body and not emptied:
        choice = _tool_choice(body["tool_choice"])
        if choice is not None:
            out["tool_choice"] = choice
    return out


# --- stream ----------------------------------------------------------------------------------


class ResponsesFromOpenAIChat:
    """Upstream chat chunks -> Responses frames (``(event name, payload)``, encode them with
    ``sse.encode_responses_event``). Call ``close`` at the end of the upstream stream."""

    __slots__ = ("_calls", "_finish", "_parser", "_renderer")

    def __init__(self, client_body: dict[str, Any], *, now: Callable[[], int] = lambda: int(time.time())) -> None:
        self._parser = OpenAIChatStreamParser()
        self._renderer = ResponsesStreamRenderer(client_body, now=now, openai_items=True)
        self._finish: Finish | None = None
        self._calls: set[int] = set()

    def feed_data(self, data: str) -> list[ResponsesFrame]:
        return self._route(self._parser.feed_data(data))

    def feed(self, chunk: dict[str, Any]) -> list[ResponsesFrame]:
        return self._route(self._parser.feed(chunk))

    def _route(self, events: list[StreamEvent]) -> list[ResponsesFrame]:
        frames: list[ResponsesFrame] = []
        for event in events:
            if isinstance(event, Finish):
                self._finish = event
            elif isinstance(event, StreamEnd):
                frames.extend(self.close())
            elif isinstance(event, ToolCallStart) and event.index in self._calls:
                # A later chunk of the same call that names its fields again (``"name": null``):
                # the legacy adds each call's item once (openai_openai-responses_response.go:298-325).
                continue
            else:
                if isinstance(event, ToolCallStart):
                    self._calls.add(event.index)
                # Usage reports are only stored by the renderer, so they may pass at any time.
                frames.extend(self._renderer.feed(event))
        return frames

    def close(self) -> list[ResponsesFrame]:
        finish, self._finish = self._finish, None
        return self._renderer.feed(finish if finish is not None else StreamEnd())


# --- non-stream ------------------------------------------------------------------------------

_response_counter = itertools.count(1)


def fallback_response_id() -> str:
    return f"resp_{time.time_ns():x}_{next(_response_counter)}"


def _usage(raw: dict[str, Any]) -> Any:
    if not any(key in raw for key in ("prompt_tokens", "completion_tokens", "total_tokens")):
        return raw
    out: dict[str, Any] = {"input_tokens": int_of(raw.get("prompt_tokens"))}
    prompt_details = raw.get("prompt_tokens_details")
    if isinstance(prompt_details, dict) and "cached_tokens" in prompt_details:
        out["input_tokens_details"] = {"cached_tokens": int_of(prompt_details["cached_tokens"])}
    out["output_tokens"] = int_of(raw.get("completion_tokens"))
    # The legacy looks for the Responses spelling only; chat upstreams use completion_tokens_details.
    for key in ("output_tokens_details", "completion_tokens_details"):
        details = raw.get(key)
        if isinstance(details, dict) and "reasoning_tokens" in details:
            out["output_tokens_details"] = {"reasoning_tokens": int_of(details["reasoning_tokens"])}
            break
    out["total_tokens"] = int_of(raw.get("total_tokens"))
    return out


def render_response(
    completion: dict[str, Any],
    client_body: dict[str, Any],
    *,
    now: Callable[[], int] = lambda: int(time.time()),
    response_id: Callable[[], str] = fallback_response_id,
) -> dict[str, Any]:
    """``chat.completion`` -> Responses object: reasoning, then per choice its message and calls."""
    response_key = text_of(completion.get("id")) or response_id()
    created = int_of(completion.get("created")) or now()
    out: dict[str, Any] = {
        "id": response_key,
        "object": "response",
        "created_at": created,
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        **echo_fields(client_body),
    }
    if "model" not in out and "model" in completion:
        out["model"] = text_of(completion["model"])

    output: list[dict[str, Any]] = []
    choices = completion.get("choices") if isinstance(completion.get("choices"), list) else []
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    first_message = first.get("message") if isinstance(first.get("message"), dict) else {}
    reasoning = "".join(reasoning_texts(first_message.get("reasoning_content")))
    if reasoning:
        summary = [{"type": "summary_text", "text": reasoning}]
        rid = response_key.removeprefix("resp_")
        output.append({"id": f"rs_{rid}", "type": "reasoning", "encrypted_content": "", "summary": summary})
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            continue
        message = choice["message"]
        text = text_of(message.get("content"))
        if text:
            part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
            item_id = f"msg_{response_key}_{int_of(choice.get('index'))}"
            item = {"id": item_id, "type": "message", "status": "completed", "content": [part]}
            output.append({**item, "role": "assistant"})
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if not isinstance(call, dict):
                continue
            function = call.get("function") if isinstance(call.get("function"), dict) else {}
            call_id = text_of(call.get("id"))
            output.append(
                {
                    "id": f"fc_{call_id}",
                    "type": "function_call",
                    "status": "completed",
                    "arguments": text_of(function.get("arguments")),
                    "call_id": call_id,
                    "name": text_of(function.get("name")),
                }
            )
    if output:
        out["output"] = output
    if isinstance(completion.get("usage"), dict):
        out["usage"] = _usage(completion["usage"])
    elif "usage" in completion:
        out["usage"] = completion["usage"]
    return out
