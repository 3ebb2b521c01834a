"""Gemini client, Codex upstream (legacy ``internal/translator/codex/gemini``).

* ``render_request``: the client's ``generateContent`` body -> a Codex Responses body.
* ``CodexEventsToGemini``: upstream Responses events -> Gemini chunks (stream).
* ``render_response``: the ``response.completed`` event -> one Gemini response (non-stream; Codex
  is always streamed upstream and the executor hands over that event).

Tool names longer than 64 bytes are shortened with the Codex rules of ``codex.short_name_map``
and restored in answers from the client's own declarations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from handlers.translation.codex import short_name_map, shorten_name
from handlers.translation.gemini_client_common import new_call_id, rfc3339
from handlers.translation.gemini_request import declaration_schema, system_instruction, thinking_config
from handlers.translation.gjson_values import int_of, text_of
from handlers.translation.sse import SSEParser, json_text, loads_upstream
from handlers.translation.thinking import budget_to_level

# --- client request -> Codex request ---------------------------------------------------------


def declared_names(body: dict[str, Any]) -> list[str]:
    """Function names of ``tools[].functionDeclarations[]`` (the only tool key this pair reads)."""
    names: list[str] = []
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        declarations = tool.get("functionDeclarations") if isinstance(tool, dict) else None
        for declaration in declarations if isinstance(declarations, list) else []:
            if isinstance(declaration, dict) and "name" in declaration:
                names.append(text_of(declaration["name"]))
    return names


def restore_names(body: dict[str, Any]) -> dict[str, str]:
    """Short name -> the client's declared name, for the answers."""
    return {short: original for original, short in short_name_map(declared_names(body)).items()}


def _lower_types(value: Any) -> Any:
    # util.Walk lower-cases every "type" key under tools; only string values are touched here (the
    # legacy would also stringify a non-string one, e.g. a property that is itself named "type").
    if isinstance(value, list):
        return [_lower_types(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: item.lower() if key == "type" and isinstance(item, str) else _lower_types(item)
        for key, item in value.items()
    }


def _parameters(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    cleaned = {key: item for key, item in schema.items() if key != "$schema"}
    cleaned["additionalProperties"] = False
    return cleaned


def _tools(body: dict[str, Any], short: dict[str, str]) -> list[dict[str, Any]]:
    rendered: list[dict[str, Any]] = []
    for tool in body["tools"]:
        declarations = tool.get("functionDeclarations") if isinstance(tool, dict) else None
        for declaration in declarations if isinstance(declarations, list) else []:
            declaration = declaration if isinstance(declaration, dict) else {}
            item: dict[str, Any] = {"type": "function"}
            if "name" in declaration:
                name = text_of(declaration["name"])
                item["name"] = short.get(name) or shorten_name(name)
            if "description" in declaration:
                item["description"] = text_of(declaration["description"])
            has_schema, schema = declaration_schema(declaration)
            if has_schema:
                item["parameters"] = _parameters(schema)
            item["strict"] = False
            rendered.append(item)
    return _lower_types(rendered)


def _effort(body: dict[str, Any]) -> str:
    thinking = thinking_config(body.get("generationConfig"))
    if isinstance(thinking, dict):
        if "thinkingLevel" in thinking:
            effort = text_of(thinking["thinkingLevel"]).strip().lower()
            if effort:
                return effort
        elif "thinkingBudget" in thinking:
            level = budget_to_level(int_of(thinking["thinkingBudget"]))
            if level is not None:
                return level
    return "medium"


def render_request(
    body: dict[str, Any], model: str, *, instructions: str = "", call_id: Callable[[], str] = new_call_id
) -> dict[str, Any]:
    """Gemini body -> Codex body (``codex_gemini_request.go``).

    ``instructions`` is what ``misc.CodexInstructionsForModel`` returns: ``""`` unless the
    operator turned the official Codex prompts on (they belong with the Codex executor).
    Each text part becomes its own message; calls get fresh ``call_`` ids that the following
    ``functionResponse`` parts consume in order (a response with none pending gets a new one).
    """
    short = short_name_map(declared_names(body))
    out: dict[str, Any] = {"model": model, "instructions": instructions, "input": []}
    items: list[dict[str, Any]] = out["input"]
    system = system_instruction(body)
    system_parts = system.get("parts") if isinstance(system, dict) else None
    if isinstance(system_parts, list):
        texts = [
            {"type": "input_text", "text": text_of(p["text"])}
            for p in system_parts
            if isinstance(p, dict) and "text" in p
        ]
        if texts:
            items.append({"type": "message", "role": "developer", "content": texts})
    pending: list[str] = []
    contents = body.get("contents")
    for content in contents if isinstance(contents, list) else []:
        if not isinstance(content, dict) or not isinstance(content.get("parts"), list):
            continue
        role = text_of(content.get("role"))
        role = "assistant" if role == "model" else role
        for part in content["parts"]:
            if not isinstance(part, dict):
                continue
            if "text" in part:
                kind = "output_text" if role == "assistant" else "input_text"
                items.append(
                    {"type": "message", "role": role, "content": [{"type": kind, "text": text_of(part["text"])}]}
                )
            elif "functionCall" in part:
                call = part["functionCall"] if isinstance(part["functionCall"], dict) else {}
                item: dict[str, Any] = {"type": "function_call"}
                if "name" in call:
                    name = text_of(call["name"])
                    item["name"] = short.get(name) or shorten_name(name)
                if "args" in call:
                    item["arguments"] = json_text(call["args"])
                item["call_id"] = call_id()
                pending.append(item["call_id"])
                items.append(item)
            elif "functionResponse" in part:
                answer = part["functionResponse"] if isinstance(part["functionResponse"], dict) else {}
                result: dict[str, Any] = {"type": "function_call_output"}
                response = answer.get("response")
                if isinstance(response, dict) and "result" in response:
                    result["output"] = text_of(response["result"])
                elif "response" in answer:
                    result["output"] = json_text(response)
                result["call_id"] = pending.pop(0) if pending else call_id()
                items.append(result)
    if isinstance(body.get("tools"), list):
        out["tools"] = _tools(body, short)
        out["tool_choice"] = "auto"
    out["parallel_tool_calls"] = True
    out["reasoning"] = {"effort": _effort(body), "summary": "auto"}
    out["stream"] = True
    out["store"] = False
    out["include"] = ["reasoning.encrypted_content"]
    return out


# --- Codex answer -> Gemini client -----------------------------------------------------------

# The legacy template's placeholder timestamp, left in every chunk whose event carries no
# ``response.created_at`` (text deltas, tool calls); reproduced because clients see it.
PLACEHOLDER_CREATE_TIME = "2025-08-15T02:52:03.884209Z"


def _call_part(item: dict[str, Any], restore: dict[str, str], *, args_first: bool) -> dict[str, Any]:
    name = text_of(item.get("name"))
    name = restore.get(name, name)
    args: Any = {}
    arguments = text_of(item.get("arguments"))
    if arguments:
        try:
            parsed = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            args = parsed
    call = {"args": args, "name": name} if args_first else {"name": name, "args": args}
    return {"functionCall": call}


class CodexEventsToGemini:
    """Responses events -> Gemini chunks (``ConvertCodexResponseToGemini``).

    ``response.created`` (model/id), reasoning-summary deltas (thought parts), text deltas and
    ``response.completed`` (usage, prompt + output as total) each give one chunk; every other event
    gives none. Finished function calls are held back, several merging into one chunk with
    ``finishReason: STOP``, and go out just before the next chunk. The legacy never forgets that
    held chunk and repeats it before every later chunk, which would hand the client the same call
    twice when text follows a call; here it goes out once.
    """

    __slots__ = ("_held", "_model", "_response_id", "_restore")

    def __init__(self, model: str, restore: dict[str, str]) -> None:
        self._model = model
        self._restore = restore
        self._response_id = ""
        self._held: dict[str, Any] | None = None

    def _template(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = payload.get("response") if isinstance(payload.get("response"), dict) else {}
        created = rfc3339(int_of(response["created_at"])) if "created_at" in response else PLACEHOLDER_CREATE_TIME
        return {
            "candidates": [{"content": {"role": "model", "parts": []}}],
            "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"},
            "modelVersion": self._model,
            "createTime": created,
            "responseId": self._response_id,
        }

    def feed(self, payload: Any) -> list[dict[str, Any]]:
        if not isinstance(payload, dict):
            return []
        kind = payload.get("type")
        if kind == "response.output_item.done":
            item = payload.get("item")
            if isinstance(item, dict) and item.get("type") == "function_call":
                held = self._held if self._held is not None else self._template(payload)
                candidate = held["candidates"][0]
                candidate["content"]["parts"].append(_call_part(item, self._restore, args_first=False))
                candidate["finishReason"] = "STOP"
                self._held = held
            return []
        chunk = self._template(payload)
        response = payload.get("response") if isinstance(payload.get("response"), dict) else {}
        parts: list[dict[str, Any]] = chunk["candidates"][0]["content"]["parts"]
        if kind == "response.created":
            chunk["modelVersion"] = text_of(response.get("model"))
            self._response_id = chunk["responseId"] = text_of(response.get("id"))
        elif kind == "response.reasoning_summary_text.delta":
            parts.append({"thought": True, "text": text_of(payload.get("delta"))})
        elif kind == "response.output_text.delta":
            parts.append({"text": text_of(payload.get("delta"))})
        elif kind == "response.completed":
            usage = response.get("usage") if isinstance(response.get("usage"), dict) else {}
            prompt, output = int_of(usage.get("input_tokens")), int_of(usage.get("output_tokens"))
            chunk["usageMetadata"].update(
                promptTokenCount=prompt, candidatesTokenCount=output, totalTokenCount=prompt + output
            )
        else:
            return []
        if self._held is None:
            return [chunk]
        held, self._held = self._held, None
        return [held, chunk]


def completed_event(upstream: bytes) -> dict[str, Any] | None:
    """The ``response.completed`` event from what the executor handed over.

    The Codex executor's non-stream call returns that event's JSON; a caller that kept the whole
    SSE body instead gets it found there. None when neither holds one.
    """
    try:
        doc = loads_upstream(upstream)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        return doc if doc.get("type") == "response.completed" else None
    parser = SSEParser()
    for event in [*parser.feed(upstream), *parser.finish()]:
        try:
            payload = loads_upstream(event.data)
        except orjson.JSONDecodeError:
            continue
        if isinstance(payload, dict) and payload.get("type") == "response.completed":
            return payload
    return None


def render_response(event: dict[str, Any], model: str, restore: dict[str, str]) -> dict[str, Any]:
    """``response.completed`` -> Gemini response (``ConvertCodexResponseToGeminiNonStream``).

    Reasoning items contribute their ``content`` (Codex puts the summary elsewhere, so a thought
    part appears only when an item carries ``content``); the finish reason is always ``STOP``.
    """
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": []}, "finishReason": "STOP"}
    out: dict[str, Any] = {
        "candidates": [candidate],
        "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"},
        "modelVersion": model,
        "createTime": "",
        "responseId": "",
    }
    response = event.get("response")
    if not isinstance(response, dict):
        return out
    if "id" in response:
        out["responseId"] = text_of(response["id"])
    if "created_at" in response:
        out["createTime"] = rfc3339(int_of(response["created_at"]))
    if "usage" in response:
        usage = response["usage"] if isinstance(response["usage"], dict) else {}
        prompt, output = int_of(usage.get("input_tokens")), int_of(usage.get("output_tokens"))
        out["usageMetadata"].update(
            promptTokenCount=prompt, candidatesTokenCount=output, totalTokenCount=prompt + output
        )
    parts: list[dict[str, Any]] = candidate["content"]["parts"]
    output_items = response.get("output")
    for item in output_items if isinstance(output_items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "reasoning" and "content" in item:
            parts.append({"text": text_of(item["content"]), "thought": True})
        elif kind == "message" and isinstance(item.get("content"), list):
            for entry in item["content"]:
                if isinstance(entry, dict) and entry.get("type") == "output_text" and "text" in entry:
                    parts.append({"text": text_of(entry["text"])})
        elif kind == "function_call":
            parts.append(_call_part(item, restore, args_first=True))
    return out
