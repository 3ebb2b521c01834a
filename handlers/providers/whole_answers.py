"""A whole JSON answer from an upstream that was asked to stream, read as the events it stands for.

The Claude and Codex executors always ask for a stream when they fold one for a non-stream client
(claude_executor.go:97 ``stream := from != to``; codex_executor.go sets ``stream: true``). Some
upstreams behind a ``base-url`` (test fakes, third-party proxies) ignore that and answer 200 with
the whole ``message`` / ``response`` object as ``application/json``. The legacy's line readers find
no ``data:`` line in it and give an empty answer (Claude) or 408 (Codex fold); here the object
becomes the event sequence the upstream would have streamed for it, so every client protocol,
stream or not, gets the answer the equivalent stream gives (docs/compatibility.md row 4b).

Only objects of the upstream's own kind qualify; anything else (an error object, other JSON)
returns None and the body is read as the stream it claims to be, as before.
"""

from __future__ import annotations

from typing import Any

from handlers.translation.sse import dumps, encode_claude_event

Events = list[dict[str, Any]]


def sse_body(events: Events) -> bytes:
    """The events framed as the upstream frames them (``event:`` named after the JSON ``type``)."""
    return b"".join(encode_claude_event(str(e["type"]), e) for e in events)


# --- Claude Messages -----------------------------------------------------------------------------

_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


def claude_message_events(message: Any) -> Events | None:
    """A Claude ``message`` object as its Messages stream; None for anything else."""
    if not isinstance(message, dict) or message.get("type") != "message":
        return None
    content = message.get("content", [])
    if not isinstance(content, list):
        return None
    raw_usage = message.get("usage")
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    # The stream's start carries the input counts only; output is only known at its end.
    start_usage = {key: value for key, value in usage.items() if key != "output_tokens"}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    events: Events = [{"type": "message_start", "message": start}]
    index = 0
    for block in content:
        if not isinstance(block, dict):
            continue
        events.extend(_claude_block(index, block))
        index += 1
    # The whole usage, as Anthropic's own message_delta now reports cumulative counts: a chat
    # client, whose translator reads prompt tokens only from this event, keeps its input count.
    end_usage = usage or {"output_tokens": 0}
    events.append({"type": "message_delta",
                   "delta": {"stop_reason": message.get("stop_reason"),
                             "stop_sequence": message.get("stop_sequence")},
                   "usage": end_usage})
    events.append({"type": "message_stop"})
    return events


def _claude_block(index: int, block: dict[str, Any]) -> Events:
    kind = block.get("type")
    deltas: list[dict[str, Any]] = []
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        text = block.get("text")
        if isinstance(text, str) and text:
            deltas.append({"type": "text_delta", "text": text})
        citations = block.get("citations")
        if isinstance(citations, list):
            start["citations"] = []
            deltas.extend({"type": "citations_delta", "citation": c} for c in citations)
    elif kind in _TOOL_BLOCKS:
        start = {**block, "input": {}}
        deltas.append({"type": "input_json_delta", "partial_json": dumps(block.get("input", {})).decode()})
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": ""}
        thinking = block.get("thinking")
        if isinstance(thinking, str) and thinking:
            deltas.append({"type": "thinking_delta", "thinking": thinking})
        signature = block.get("signature")
        if isinstance(signature, str) and signature:
            deltas.append({"type": "signature_delta", "signature": signature})
    else:
        # Blocks that stream whole (redacted thinking, server tool results): start, then stop.
        start = block
    return [{"type": "content_block_start", "index": index, "content_block": start},
            *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
            {"type": "content_block_stop", "index": index}]


# --- Codex / OpenAI Responses --------------------------------------------------------------------

# The stream's closing event for each final status; any other status (queued, in_progress,
# cancelled) is no finished answer.
_CODEX_ENDS = {"completed": "response.completed", "incomplete": "response.incomplete",
               "failed": "response.failed"}


def codex_response_events(response: Any) -> Events | None:
    """A whole Responses ``response`` object (``"object": "response"``, or a bare one with a
    ``status``; either with an ``output`` list) as its stream; None for anything else."""
    if not isinstance(response, dict):
        return None
    output = response.get("output")
    if response.get("object") != "response" and "status" not in response:
        return None
    if not isinstance(output, list):
        return None
    status = response.get("status", "completed")
    end = _CODEX_ENDS.get(status) if isinstance(status, str) else None
    if end is None:
        return None
    events: Events = []

    def emit(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    opening = {**response, "status": "in_progress", "output": []}
    if "usage" in opening:
        opening["usage"] = None
    emit("response.created", response=opening)
    emit("response.in_progress", response=opening)
    for position, item in enumerate(output):
        if isinstance(item, dict):
            _codex_item(emit, position, item)
    emit(end, response=response)
    return events


def _codex_item(emit: Any, position: int, item: dict[str, Any]) -> None:
    kind = item.get("type")
    item_id = item.get("id", "")
    at = {"item_id": item_id, "output_index": position}
    if kind == "message":
        emit("response.output_item.added", output_index=position,
             item={**item, "status": "in_progress", "content": []})
        content = item.get("content")
        for part_index, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, dict):
                _codex_part(emit, {**at, "content_index": part_index}, part)
    elif kind == "function_call":
        arguments = item.get("arguments")
        arguments = arguments if isinstance(arguments, str) else ""
        emit("response.output_item.added", output_index=position,
             item={**item, "status": "in_progress", "arguments": ""})
        if arguments:
            emit("response.function_call_arguments.delta", **at, delta=arguments)
        emit("response.function_call_arguments.done", **at, arguments=arguments)
    elif kind == "reasoning":
        emit("response.output_item.added", output_index=position, item={**item, "summary": []})
        summary = item.get("summary")
        for summary_index, part in enumerate(summary if isinstance(summary, list) else []):
            if not isinstance(part, dict):
                continue
            where = {**at, "summary_index": summary_index}
            text = part.get("text")
            text = text if isinstance(text, str) else ""
            emit("response.reasoning_summary_part.added", **where, part={"type": "summary_text", "text": ""})
            if text:
                emit("response.reasoning_summary_text.delta", **where, delta=text)
            emit("response.reasoning_summary_text.done", **where, text=text)
            emit("response.reasoning_summary_part.done", **where, part=part)
    else:
        emit("response.output_item.added", output_index=position, item=item)
    emit("response.output_item.done", output_index=position, item=item)


def _codex_part(emit: Any, where: dict[str, Any], part: dict[str, Any]) -> None:
    kind = part.get("type")
    if kind in ("output_text", "refusal"):
        field = "text" if kind == "output_text" else "refusal"
        value = part.get(field)
        value = value if isinstance(value, str) else ""
        empty: dict[str, Any] = {"type": kind, field: ""}
        if kind == "output_text":
            empty["annotations"] = []
        emit("response.content_part.added", **where, part=empty)
        name = "response.output_text" if kind == "output_text" else "response.refusal"
        if value:
            emit(f"{name}.delta", **where, delta=value)
        emit(f"{name}.done", **where, **{field: value})
    else:
        emit("response.content_part.added", **where, part=part)
    emit("response.content_part.done", **where, part=part)
